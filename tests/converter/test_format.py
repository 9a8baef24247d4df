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
    """The converter never hands back a file that uses a name it neither defines nor imports: E091 at
    its place in the generated file, saying when the read fails (on import, or when the function
    holding it runs); `# noqa: F821` in the modular file (a name defined elsewhere on purpose) is respected."""
    with pytest.raises(ConversionError) as caught:
        convert("class ToyModel:\n    def forward(self, x):\n        return helper(x)\n")
    [diagnostic] = caught.value.diagnostics
    assert diagnostic.code == "E091" and diagnostic.path.endswith("modeling_toy.py")
    assert "would fail when `ToyModel.forward` runs: Undefined name `helper`" in diagnostic.message
    with pytest.raises(ConversionError) as caught:
        convert("class ToyModel:\n    size = helper(3)\n")
    [diagnostic] = caught.value.diagnostics
    assert "would fail when imported: Undefined name `helper`" in diagnostic.message
    outputs = convert("class ToyModel:\n    def forward(self, x):\n        return helper(x)  # noqa: F821\n")
    assert any("helper(x)  # noqa: F821" in text for text in outputs.values())


def test_e091_says_when_the_undefined_read_runs() -> None:
    """Reads at module or class level, in defaults and decorators run on import; a function's body
    (nested ones by their dotted name) and a lambda's body run when called."""
    text = (
        "A = helper(1)\n\n\nclass ToyModel:\n    size = other\n\n    def forward(self, x, y=default):\n"
        "        return helper(x)\n\n    @deco\n    def g(self):\n        f = lambda: missing\n\n"
        "        def inner():\n            return deep\n\n        return f\n\n\ndef top(): return quick\n"
    )
    lines = text.splitlines()
    expected = {
        ("helper", 1): "when imported",
        ("other", 5): "when imported",
        ("default", 7): "when imported",
        ("helper", 8): "when `ToyModel.forward` runs",
        ("deco", 10): "when imported",
        ("missing", 12): "when a lambda runs",
        ("deep", 15): "when `ToyModel.g.inner` runs",
        ("quick", 20): "when `top` runs",
    }
    for (name, line), when in expected.items():
        assert format_pass.failing_when(text, line, lines[line - 1].index(name) + 1) == when, name
    assert format_pass.failing_when("def broken(:\n", 1, 1) == "when imported"
