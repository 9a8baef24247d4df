"""converter/read/gather.py: `check_definitions` (what resolve_bases runs on a modular file) refuses
exactly what `gather_definitions` refuses, with the same diagnostics, also where `__all__` is bound
in ways only the scope analysis sees.

Run: python -m pytest tests/converter/test_gather_checks.py -q
"""

from __future__ import annotations

from pathlib import Path

import pytest

from converter.diagnostics import ConversionError, Diagnostic
from converter.read.gather import check_definitions, gather_definitions
from converter.read.parse import parse_modular
from tests.converter.conftest import write_modular

SOURCES = {
    "fine": 'class ToyModel:\n    pass\n\n\n__all__ = ["ToyModel"]\n',
    "twice": "class ToyModel:\n    pass\n\n\ndef helper():\n    pass\n\n\nclass ToyModel:\n    x = 1\n",
    "overload": (
        "from typing import overload\n\n\n@overload\ndef f(x: int) -> int: ...\n\n\n"
        "@overload\ndef f(x: str) -> str: ...\n\n\ndef f(x):\n    return x\n"
    ),
    "not literal": 'class ToyModel:\n    pass\n\n\n__all__ = [name for name in ("ToyModel",)]\n',
    "all twice": '__all__ = ["A"]\n__all__ = ["B"]\n',
    "all in if": 'class A:\n    pass\n\n\nif True:\n    __all__ = ["A"]\n',
    "all in for": 'for __all__ in [["A"]]:\n    pass\n__all__ = ["A"]\n',
    "all global": 'def f():\n    global __all__\n    __all__ = ["A"]\n\n\n__all__ = ["A"]\n',
    "all import": 'from other import names as __all__\n__all__ = ["A"]\n',
    "all augmented": '__all__ = ["A"]\n__all__ += ["B"]\n',
    "all read only": '__all__ = ["A"]\n\n\ndef f():\n    return __all__\n',
}


def outcome(check: object, path: Path, repo: Path) -> tuple[Diagnostic, ...]:
    try:
        check(parse_modular(path, repo))  # type: ignore[operator]
    except ConversionError as error:
        return tuple(error.diagnostics)
    return ()


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_check_definitions_refuses_what_gather_refuses(tmp_path: Path, name: str) -> None:
    path = write_modular(tmp_path, SOURCES[name])
    expected = outcome(gather_definitions, path, tmp_path)
    assert outcome(check_definitions, path, tmp_path) == expected
    assert bool(expected) == (name not in ("fine", "overload", "all read only")), expected
