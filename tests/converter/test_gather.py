"""Proves the gather pass and diagnostics on their own: which module-level names each top-level
statement binds and uses (through scopes, string annotations, decorators and defaults), and the
`path:line:col: CODE message` + caret + fix format.

Run: python -m pytest tests/converter/test_gather.py -q
"""

from __future__ import annotations

from pathlib import Path

from converter.diagnostics import Diagnostic, format_diagnostic
from converter.read.gather import DefinitionKind, gather_definitions
from converter.read.parse import parse_modular
from tests.converter.conftest import write_modular

SOURCE = '''
"""Docstring."""
import os.path
from torch import nn as torch_nn

SCALE = 2


def scaled(x, factor=SCALE):
    return x * factor


@torch_nn.no_grad
def uses_forward_ref(x: "ToyModel") -> None:
    os.path.join(x)


class ToyModel(torch_nn.Module):
    def forward(self, x):
        SCALE = 3  # a local, not the module constant
        return scaled(x) + SCALE
'''


def test_gather_records_bindings_uses_kinds_and_positions(tmp_path: Path) -> None:
    parsed = parse_modular(write_modular(tmp_path, SOURCE), tmp_path)
    rows = [(d.kind, d.name, d.defines, d.uses, d.bases, d.line) for d in gather_definitions(parsed).definitions]
    assert rows == [
        (DefinitionKind.DOCSTRING, "", (), (), (), 2),
        (DefinitionKind.IMPORT, "os", ("os",), (), (), 3),
        (DefinitionKind.IMPORT, "torch_nn", ("torch_nn",), (), (), 4),
        (DefinitionKind.ASSIGNMENT, "SCALE", ("SCALE",), (), (), 6),
        (DefinitionKind.FUNCTION, "scaled", ("scaled",), ("SCALE",), (), 9),
        (DefinitionKind.FUNCTION, "uses_forward_ref", ("uses_forward_ref",), ("ToyModel", "os", "torch_nn"), (), 14),
        (DefinitionKind.CLASS, "ToyModel", ("ToyModel",), ("scaled", "torch_nn"), ("torch_nn.Module",), 18),
    ]


def test_diagnostic_prints_position_code_caret_and_fix() -> None:
    diagnostic = Diagnostic(
        "modular/modular_toy.py", 3, 9, "E010", "ToyMLP is defined twice", "rename one", "class ToyMLP:"
    )
    assert format_diagnostic(diagnostic).splitlines() == [
        "modular/modular_toy.py:3:9: E010 ToyMLP is defined twice",
        "    class ToyMLP:",
        "            ^",
        "fix: rename one",
    ]
