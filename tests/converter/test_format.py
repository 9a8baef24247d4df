"""Proves the format pass fails loudly: a ruff failure or output that does not parse is diagnostic
E090, never a silently unformatted file.

Run: python -m pytest tests/converter/test_format.py -q
"""

from __future__ import annotations

import shutil
from collections.abc import Callable

import pytest

import converter.write.format as format_pass
from converter import ConversionError

Convert = Callable[..., dict[str, str]]


def test_ruff_failure_is_e090(convert: Convert, monkeypatch: pytest.MonkeyPatch) -> None:
    false = shutil.which("false")
    assert false is not None
    monkeypatch.setattr(format_pass, "find_ruff", lambda: false)
    with pytest.raises(ConversionError) as caught:
        convert("class ToyModel:\n    pass\n")
    [diagnostic] = caught.value.diagnostics
    assert diagnostic.code == "E090"
    assert diagnostic.message.startswith("ruff check failed (exit 1)")


def test_formatted_text_that_does_not_parse_is_e090() -> None:
    diagnostic = format_pass.check_parses("generated/toy/modeling_toy.py", "class ToyModel(:\n    pass\n")
    assert diagnostic is not None
    assert (diagnostic.path, diagnostic.line, diagnostic.code) == ("generated/toy/modeling_toy.py", 1, "E090")


def test_output_using_a_name_nothing_defines_is_e091(convert: Convert) -> None:
    """The converter never hands back a file that fails when imported: a name the output uses but
    neither defines nor imports is E091 at its place in the generated file; `# noqa: F821` in the
    modular file (a name defined elsewhere on purpose) is respected."""
    with pytest.raises(ConversionError) as caught:
        convert("class ToyModel:\n    def forward(self, x):\n        return helper(x)\n")
    [diagnostic] = caught.value.diagnostics
    assert diagnostic.code == "E091" and diagnostic.path.endswith("modeling_toy.py")
    assert "Undefined name `helper`" in diagnostic.message
    outputs = convert("class ToyModel:\n    def forward(self, x):\n        return helper(x)  # noqa: F821\n")
    assert any("helper(x)  # noqa: F821" in text for text in outputs.values())
