"""converter/parse.py: statement starts read off CPython's parser equal libcst's PositionProvider.

Run: python -m pytest tests/converter/test_parse_positions.py -q
"""

from __future__ import annotations

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, PositionProvider

from converter.parse import statement_starts

SOURCES = [
    '"""Doc."""\nimport os; import sys  # two\n\n\n@decorator\n@other(1)\nclass A:\n    pass\n',
    'x = "é"; y = "ü"; z = 1\n\n# comment\n\nasync def f():\n    await g()\n',
    "if True:\n    a = 1\nelse:\n    a = 2\r\nb = '\\d'; c = 3\r\n",
    "x = 1;\ny = 2\n",
    "from a import (\n    b,\n    c as d,\n)\nimport é.f as g, h\n",
]


@pytest.mark.parametrize("source", SOURCES)
def test_statement_starts_match_position_provider(source: str) -> None:
    module = cst.parse_module(source)
    positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    starts = statement_starts(source, module)
    nodes = [*module.body]
    nodes += [small for s in module.body if isinstance(s, cst.SimpleStatementLine) for small in s.body]
    nodes += [alias for small in nodes if isinstance(small, (cst.Import, cst.ImportFrom)) for alias in small.names]
    assert len(starts) == len({id(node) for node in nodes})
    for node in nodes:
        start = positions[node].start
        assert starts[id(node)] == (start.line, start.column)
