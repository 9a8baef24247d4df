"""converter/read/parse.py: statement starts read off CPython's parser, and the positions of one statement
printed alone, equal libcst's PositionProvider.

Run: python -m pytest tests/converter/test_parse_positions.py -q
"""

from __future__ import annotations

import threading
from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, PositionProvider

from converter.read.parse import LazyPositions, StatementPositions, parse_both, statement_starts, unvalidated
from converter.syntax.names import child_nodes
from tests.converter.conftest import REPO_ROOT

SOURCES = [
    '"""Doc."""\nimport os; import sys  # two\n\n\n@decorator\n@other(1)\nclass A:\n    pass\n',
    'x = "é"; y = "ü"; z = 1\n\n# comment\n\nasync def f():\n    await g()\n',
    "if True:\n    a = 1\nelse:\n    a = 2\r\nb = '\\d'; c = 3\r\n",
    "x = 1;\ny = 2\n",
    "from a import (\n    b,\n    c as d,\n)\nimport é.f as g, h\n",
    # blocks: classes, decorated and async functions, if/elif/else, loops with else, try, with, suites
    (
        "class A(B):\n    # c\n    x = 1\n\n    @d\n    def f(self, a,\n          b):\n        y = g(\n            a,\n"
        "        )  # t\n        if a: return 1; pass\n        elif b:\n            pass\n        else:\n"
        "            z = 's\\\n  t' \\\n      + 'u'\n        return y\n\n    async def h(self):\n"
        "        async with a as b, c:\n            async for x in y:\n                await x\n"
        "            else:\n                pass\n"
    ),
    (
        "try:\n    import x\nexcept (A, B) as e:\n    raise\nexcept C:\n    pass\nelse:\n    y = 1\n"
        "finally:\n    z = 2\nwhile a:\n  for i in b:\n        c\n  else: d; e\nif x:\n    pass\nelif y:\n"
        "    from . import (\n        q,\n    )\nelif z:\n    pass\ntry:\n    pass\nexcept* E:\n    pass\n"
    ),
]


@pytest.mark.parametrize("source", SOURCES)
def test_statement_starts_match_position_provider(source: str) -> None:
    module = cst.parse_module(source)
    positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    starts = statement_starts(source, module)
    nodes = [node for node in all_nodes(module) if isinstance(node, (cst.BaseStatement, cst.BaseSmallStatement))]
    nodes += [alias for small in nodes if isinstance(small, (cst.Import, cst.ImportFrom)) for alias in small.names]
    assert len(starts) == len({id(node) for node in nodes})  # every statement, at any depth
    for node in nodes:
        start = positions[node].start
        assert starts[id(node)] == (start.line, start.column)


def all_nodes(*roots: cst.CSTNode) -> list[cst.CSTNode]:
    found, stack = [], list(roots)
    while stack:
        node = stack.pop()
        found.append(node)
        stack += child_nodes(node)
    return found


@pytest.mark.parametrize("source", [*SOURCES, "# head\n\nx = (\n    1,\n)\n\n\ndef f():\n    return x  # c\n# foot\n"])
def test_statement_positions_match_position_provider(source: str) -> None:
    module = cst.parse_module(source)
    positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    alone = StatementPositions(module)
    in_statements = all_nodes(*module.body)
    for node in in_statements:
        assert alone.position(node) == (None if "\r" in source else positions[node])
    with_starts = StatementPositions(module, None if "\r" in source else statement_starts(source, module))
    for node in in_statements:
        assert with_starts.position(node) == (None if "\r" in source else positions[node])
    for node in [module, *all_nodes(*module.header, *module.footer)]:
        assert alone.position(node) is None


@pytest.mark.parametrize(
    "path", [*sorted((REPO_ROOT / "modular").glob("modular_*.py"))[:3], REPO_ROOT / "converter" / "read" / "parse.py"]
)  # (the upstream corpus's 326 modular files, 2 million nodes, were checked so once)
def test_statement_positions_from_statement_starts_match_position_provider(path: Path) -> None:
    """Given the statements' starts in the source, the lines before a statement are not counted."""
    source = path.read_text(encoding="utf-8")
    module = cst.parse_module(source)
    positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    alone = StatementPositions(module, statement_starts(source, module))
    assert "first_lines" not in alone.__dict__
    for node in all_nodes(*module.body):
        assert alone.position(node) == positions[node]
    assert "first_lines" not in alone.__dict__


def test_a_node_shared_by_two_nested_lines_is_left_to_its_statement() -> None:
    source = "class A:\n    def f(self):\n        x = 1\n\n        y = 2\n"
    module = cst.parse_module(source)
    method = module.body[0].body.body[0]
    first, second = method.body.body
    shared_value = second.body[0].value
    shared = first.with_changes(body=[first.body[0].with_changes(value=shared_value)])
    method = method.with_changes(body=method.body.with_changes(body=[shared, second]))
    changed = module.with_changes(
        body=[module.body[0].with_changes(body=module.body[0].body.with_changes(body=[method]))]
    )
    positions = MetadataWrapper(changed, unsafe_skip_copy=True).resolve(PositionProvider)
    nested = StatementPositions(changed, statement_starts(changed.code, changed))
    assert nested.lines[id(shared_value)] is None  # in two lines: the statement is printed instead
    assert all(nested.position(node) in (None, positions[node]) for node in all_nodes(*changed.body))
    assert nested.position(shared_value) == positions[shared_value]


def test_statement_positions_leave_header_footer_and_shared_nodes_to_the_provider() -> None:
    module = cst.parse_module("# head\n\nx = 1\ny = 2\n# foot\n")
    alone = StatementPositions(module)
    assert alone.position(module.header[0]) is None
    assert alone.position(module.footer[0]) is None
    assert alone.position(module.body[1]) is not None
    with pytest.raises(KeyError):
        alone.position(cst.Name("z"))
    shared = module.with_changes(body=[module.body[0], module.body[0]])
    assert StatementPositions(shared).position(shared.body[0]) is None


def test_lazy_positions_equal_resolved_ones() -> None:
    source = SOURCES[0] + SOURCES[1]
    module = cst.parse_module(source)
    lazy = LazyPositions(MetadataWrapper(module, unsafe_skip_copy=True), source)
    positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    nodes = all_nodes(module)
    assert all(lazy[node] == positions[node] for node in nodes if node is not module)
    assert "resolved" not in lazy.__dict__
    assert cst.Name("z") not in lazy


def test_the_parse_skips_validation_only_for_its_own_nodes() -> None:
    source = (REPO_ROOT / "converter" / "read" / "parse.py").read_text(encoding="utf-8")
    module, _ = parse_both(source, "parse.py")
    assert module.deep_equals(cst.parse_module(source)) and module.code == source
    with pytest.raises(cst.CSTValidationError):
        cst.Name("")  # a node a pass builds is still checked, before and after a parse
    checked = []
    with unvalidated():
        cst.Name("x")
        thread = threading.Thread(target=lambda: checked.append(pytest.raises(cst.CSTValidationError, cst.Name, "")))
        thread.start()
        thread.join()
        cst.Name("")  # this thread, inside the block: not checked
    assert len(checked) == 1  # another thread meanwhile: checked
