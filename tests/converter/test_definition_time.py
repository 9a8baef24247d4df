"""Proves the definition-time checks of the trace pass (converter/trace/definition_time.py): a value the
modular file redefines by assignment, read by inherited code when that code is defined (a class
body, a default argument, through a function called then), is E210; modular code reading at
definition time a name the file defines only further down is E211; reads at call time, modular
classes and functions (DESIGN rule 6) and annotations are not refused.

Run: python -m pytest tests/converter/test_definition_time.py -q
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from converter import ConversionError
from converter.diagnostics import Diagnostic
from tests.converter.conftest import block

Inherit = Callable[..., dict[str, str]]
MODELING = "generated/toy/modeling_toy.py"
BASE = "from generated.tiny.modeling_tiny import TinyModel, TinyNorm\n"
TINY = {
    "tiny": {
        "modeling": """
            from torch import nn

            WINDOW = 4
            SCALE = 2


            def act(x):
                return x


            class TinyNorm(nn.Module):
                limit = WINDOW * 10

                def forward(self, x, k=WINDOW):
                    return x * SCALE


            class TinyModel(TinyNorm):
                def forward(self, x):
                    return act(x) * SCALE


            __all__ = ["TinyModel", "TinyNorm"]
            """
    }
}


def refused(inherit: Inherit, source: str) -> Diagnostic:
    with pytest.raises(ConversionError) as caught:
        inherit(source, TINY)
    [diagnostic] = caught.value.diagnostics
    return diagnostic


def test_a_redefined_constant_read_by_an_inherited_class_body_and_default_is_e210(inherit: Inherit) -> None:
    diagnostic = refused(inherit, BASE + "\nWINDOW = 9\n\n\nclass ToyNorm(TinyNorm):\n    pass\n")
    assert (diagnostic.path, diagnostic.line, diagnostic.col, diagnostic.code) == (
        "modular/modular_toy.py",
        3,
        1,
        "E210",
    )
    assert diagnostic.message == (
        "WINDOW is redefined in this file, but inherited code reads it when it is defined "
        "(`limit = WINDOW * 10` in ToyNorm, the default of k in ToyNorm.forward, from generated/tiny/modeling_tiny.py): "
        "Python gives that code the base's WINDOW, the generated file would give it this one"
    )


def test_a_redefined_constant_read_by_a_pulled_base_class_is_e210(inherit: Inherit) -> None:
    diagnostic = refused(inherit, BASE + "\nWINDOW = 9\n\n\nclass ToyModel(TinyModel):\n    pass\n")
    assert (diagnostic.line, diagnostic.code) == (3, "E210")
    assert "(`limit = WINDOW * 10` in ToyNorm, the default of k in ToyNorm.forward, from " in diagnostic.message


def test_a_redefined_constant_converts_once_the_modular_class_overrides_its_readers(inherit: Inherit) -> None:
    source = BASE + (
        "\nWINDOW = 9\n\n\nclass ToyNorm(TinyNorm):\n    limit = WINDOW * 10\n\n"
        "    def forward(self, x, k=WINDOW):\n        return x\n"
    )
    text = inherit(source, TINY)[MODELING]
    assert "WINDOW = 9\n" in text
    assert "WINDOW = 4" not in text


def test_a_redefinition_read_only_at_call_time_converts(inherit: Inherit) -> None:
    text = inherit(
        BASE + "\nSCALE = 3\n\n\ndef act(x):\n    return -x\n\n\nclass ToyModel(TinyModel):\n    pass\n", TINY
    )
    assert "SCALE = 3\n" in text[MODELING]
    assert "return -x" in text[MODELING]


def test_a_modular_class_extending_the_base_class_of_its_name_reaches_inherited_class_statements(
    inherit: Inherit,
) -> None:
    """DESIGN rule 6: the base's `class TinyModel(TinyNorm)` inherits the modular ToyNorm."""
    source = BASE + "\n\nclass ToyNorm(TinyNorm):\n    limit = 1\n\n\nclass ToyModel(TinyModel):\n    pass\n"
    assert block(inherit(source, TINY)[MODELING], "ToyModel").startswith("class ToyModel(ToyNorm):\n")


def test_a_redefined_class_or_function_read_at_definition_time_by_inherited_code_converts(inherit: Inherit) -> None:
    """DESIGN rule 6 for classes and functions, extending the base one or not: the base's
    `class TinyModel(TinyNorm)` inherits the modular ToyNorm; a decorator gets the modular function."""
    decorated = {
        "tiny": {
            "modeling": """
                from torch import nn


                def registered(cls):
                    return cls


                class TinyNorm(nn.Module):
                    pass


                @registered
                class TinyModel(TinyNorm):
                    pass
                """
        }
    }
    source = (
        "from torch import nn\n\nfrom generated.tiny.modeling_tiny import TinyModel\n\n\n"
        "def registered(cls):\n    cls.marked = True\n    return cls\n\n\n"
        "class ToyNorm(nn.Module):\n    pass\n\n\ndef build():\n    return ToyModel()\n"
    )
    text = inherit(source, decorated)[MODELING]
    assert block(text, "ToyModel") == "@registered\nclass ToyModel(ToyNorm):\n    pass\n"
    assert "cls.marked = True" in block(text, "registered")


@pytest.mark.parametrize(
    ("statement", "where", "position"),
    [
        ("class ToyNorm(TinyNorm):\n    limit = SCALE * 2\n", "`limit = SCALE * 2` in ToyNorm, line 4", (5, 13)),
        ("def scaled(x, k=SCALE):\n    return x * k\n", "the default of k in scaled, line 4", (4, 17)),
    ],
)
def test_a_definition_time_read_of_a_name_the_file_defines_further_down_is_e211(
    inherit: Inherit, statement: str, where: str, position: tuple[int, int]
) -> None:
    diagnostic = refused(inherit, BASE + "\n\n" + statement + "\n\nSCALE = 3\n")
    assert (diagnostic.line, diagnostic.col, diagnostic.code) == (*position, "E211")
    assert diagnostic.message == (
        f"SCALE is read at definition time ({where}), but this file defines SCALE only at line 8: "
        "Python reads the base's SCALE there (or fails), the generated file would move this file's SCALE up"
    )
    assert diagnostic.fix == "move the definition of SCALE above line 4"


def test_a_definition_time_read_after_the_modular_definition_converts(inherit: Inherit) -> None:
    source = BASE + "\nSCALE = 3\n\n\nclass ToyNorm(TinyNorm):\n    limit = SCALE * 2\n"
    assert "limit = SCALE * 2" in block(inherit(source, TINY)[MODELING], "ToyNorm")


def test_annotations_and_function_bodies_do_not_count_as_definition_time_reads(inherit: Inherit) -> None:
    source = (
        BASE + "\n\ndef make(x: Later) -> Later:\n    return Later(SCALE)\n\n\nclass Later:\n    pass\n\n\nSCALE = 3\n"
    )
    text = inherit(source, TINY)[MODELING]
    assert "class Later:" in text


def test_a_function_called_at_definition_time_reads_its_globals_then(inherit: Inherit) -> None:
    """`limit = act(SCALE)` runs act when the class is defined; act reads OFFSET then (E211 through act)."""
    source = (
        BASE
        + "\n\ndef act(x):\n    return x + OFFSET\n\n\nclass ToyNorm(TinyNorm):\n    limit = act(1)\n\n\nOFFSET = 3\n"
    )
    diagnostic = refused(inherit, source)
    assert (diagnostic.line, diagnostic.col, diagnostic.code) == (9, 13, "E211")
    assert diagnostic.message.startswith(
        "OFFSET is read at definition time (`limit = act(1)` in ToyNorm, through act, line 8), "
    )
