"""Proves the merge_classes pass at class level: a modular subclass of a base-model class becomes
the base class (renamed) with methods, attributes and the docstring overridden in place, new ones
added, `AttributeError` removals, the base's bases (their MRO check: test_mro.py), and the errors
E201, E202, E204, E205, E212 (model and runtime parents), E216.

Run: python -m pytest tests/converter/test_merge.py -q
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from converter import ConversionError
from tests.converter.conftest import block, dedent

Inherit = Callable[..., dict[str, str]]
CONFIG = "generated/toy/configuration_toy.py"
MODELING = "generated/toy/modeling_toy.py"
IMPORTS = """
from generated.tiny.configuration_tiny import TinyConfig
from generated.tiny.modeling_tiny import TinyMLP, TinyModel
"""
TINY = {
    "tiny": {
        "configuration": '''
            from runtime.configuration_utils import PretrainedConfig


            class TinyConfig(PretrainedConfig):
                """Configuration of a Tiny model."""

                model_type = "tiny"

                hidden_size: int = 8
                mlp_bias: bool = False

                def derive(self) -> None:
                    self.head_dim = self.hidden_size // 2


            __all__ = ["TinyConfig"]
            ''',
        "modeling": '''
            from torch import nn

            from .configuration_tiny import TinyConfig


            class TinyMLP(nn.Module):
                """Tiny's MLP."""

                def __init__(self, config: TinyConfig) -> None:
                    super().__init__()
                    self.up = nn.Linear(config.hidden_size, config.hidden_size, bias=config.mlp_bias)

                def forward(self, x):
                    return self.up(x)

                def extra_repr(self) -> str:
                    return "tiny"


            class TinyModel(nn.Module):
                def __init__(self, config: TinyConfig) -> None:
                    super().__init__()
                    self.mlp = TinyMLP(config)


            __all__ = ["TinyModel"]
            ''',
    }
}


def test_an_empty_subclass_is_the_whole_base_class_renamed(inherit: Inherit) -> None:
    outputs = inherit(IMPORTS + "\n\nclass ToyMLP(TinyMLP):\n    pass\n", TINY)
    assert block(outputs[MODELING], "ToyMLP") == dedent(
        '''
        class ToyMLP(nn.Module):
            """Toy's MLP."""

            def __init__(self, config: ToyConfig) -> None:
                super().__init__()
                self.up = nn.Linear(config.hidden_size, config.hidden_size, bias=config.mlp_bias)

            def forward(self, x):
                return self.up(x)

            def extra_repr(self) -> str:
                return "toy"
        '''
    )


def test_a_method_replaces_the_base_method_in_place_and_new_methods_are_appended(inherit: Inherit) -> None:
    source = (
        IMPORTS
        + """

class ToyMLP(TinyMLP):
    def describe(self) -> str:
        return "new"

    def forward(self, x):
        return self.up(x) * 2
"""
    )
    text = inherit(source, TINY)[MODELING]
    assert block(text, "ToyMLP").endswith(
        "    def forward(self, x):\n        return self.up(x) * 2\n\n"
        '    def extra_repr(self) -> str:\n        return "toy"\n\n'
        '    def describe(self) -> str:\n        return "new"\n'
    )
    assert block(text, "ToyMLP").count("def __init__") == 1


def test_attributes_override_in_place_and_new_ones_follow_the_base_attributes(inherit: Inherit) -> None:
    source = (
        IMPORTS
        + '''

class ToyConfig(TinyConfig):
    """Configuration of a Toy model."""

    model_type = "toy"
    sliding_window: int | None = 4096
    hidden_size = 16
'''
    )
    assert block(inherit(source, TINY)[CONFIG], "ToyConfig") == dedent(
        '''
        class ToyConfig(PretrainedConfig):
            """Configuration of a Toy model."""

            model_type = "toy"

            hidden_size: int = 16
            mlp_bias: bool = False
            sliding_window: int | None = 4096

            def derive(self) -> None:
                self.head_dim = self.hidden_size // 2
        '''
    )


def test_attribute_error_removes_an_inherited_field(inherit: Inherit) -> None:
    source = IMPORTS + "\n\nclass ToyConfig(TinyConfig):\n    mlp_bias = AttributeError()\n"
    text = block(inherit(source, TINY)[CONFIG], "ToyConfig")
    assert "mlp_bias" not in text
    assert "    hidden_size: int = 8\n\n    def derive" in text


def test_removing_an_attribute_the_base_lacks_is_e202(inherit: Inherit) -> None:
    with pytest.raises(ConversionError) as caught:
        inherit(IMPORTS + "\n\nclass ToyConfig(TinyConfig):\n    mlp_biass = AttributeError()\n", TINY)
    [diagnostic] = caught.value.diagnostics
    assert (diagnostic.line, diagnostic.col, diagnostic.code) == (7, 5, "E202")
    assert diagnostic.message == "ToyConfig removes mlp_biass, but TinyConfig has no attribute mlp_biass"


def test_a_property_named_like_an_inherited_field_is_e218(inherit: Inherit) -> None:
    source = "\n\nclass ToyConfig(TinyConfig):\n    @property\n    def mlp_bias(self) -> bool:\n        return True\n"
    with pytest.raises(ConversionError) as caught:
        inherit(IMPORTS + source, TINY)
    [diagnostic] = caught.value.diagnostics
    assert (diagnostic.line, diagnostic.col, diagnostic.code) == (8, 5, "E218")
    assert diagnostic.message == (
        "ToyConfig.mlp_bias is a method named like the field 'mlp_bias: bool = False' of TinyConfig, "
        "which Python keeps declared beside it"
    )


REMOVES_MLP_BIAS = IMPORTS + "\n\nclass ToyConfig(TinyConfig):\n    mlp_bias = AttributeError()\n"


@pytest.mark.parametrize(
    "tail", ["self.up = nn.Linear(config.hidden_size, 1, bias=False)", "del self.up"], ids=["replaced", "deleted"]
)
def test_an_init_tail_dropping_a_base_read_of_a_removed_field_is_e216(inherit: Inherit, tail: str) -> None:
    """Python runs the base statement (and raises AttributeError) before the tail; the merged
    __init__ would not run it, so the converter refuses instead of making the model work."""
    source = REMOVES_MLP_BIAS + (
        "\n\nclass ToyMLP(TinyMLP):\n    def __init__(self, config):\n        super().__init__(config)\n"
        f"        {tail}\n"
    )
    with pytest.raises(ConversionError) as caught:
        inherit("from torch import nn\n" + source, TINY)
    [diagnostic] = caught.value.diagnostics
    assert (diagnostic.line, diagnostic.col, diagnostic.code) == (14, 9, "E216")
    assert "reads config.mlp_bias: this file removes mlp_bias" in diagnostic.message
    assert diagnostic.fix.startswith("override __init__ without super().__init__()")


def test_removing_a_field_the_runtime_base_declares_too_is_e212(inherit: Inherit, tmp_path: Path) -> None:
    """The generated class's base is the runtime's PretrainedConfig: dropping the field would
    expose the runtime's declaration, where the overlay's class has none (the runtime refuses)."""
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    (runtime / "configuration_utils.py").write_text("class PretrainedConfig:\n    mlp_bias: bool = True\n")
    with pytest.raises(ConversionError) as caught:
        inherit(REMOVES_MLP_BIAS, TINY)
    [diagnostic] = caught.value.diagnostics
    assert (diagnostic.line, diagnostic.col, diagnostic.code) == (7, 5, "E212")
    assert diagnostic.message.startswith(
        "ToyConfig removes mlp_bias, but PretrainedConfig, a parent class of TinyConfig"
    )


def test_an_init_without_super_may_drop_a_removed_field(inherit: Inherit) -> None:
    source = (
        "from torch import nn\n"
        + REMOVES_MLP_BIAS
        + (
            "\n\nclass ToyMLP(TinyMLP):\n    def __init__(self, config):\n        nn.Module.__init__(self)\n"
            "        self.up = nn.Linear(config.hidden_size, 1, bias=False)\n"
        )
    )
    outputs = inherit(source, TINY)
    assert "mlp_bias" not in outputs[CONFIG] and "mlp_bias" not in outputs[MODELING]


def test_a_method_that_only_raises_attribute_error_removes_the_inherited_method(inherit: Inherit) -> None:
    source = IMPORTS + "\n\nclass ToyMLP(TinyMLP):\n    def extra_repr(self):\n        raise AttributeError()\n"
    assert "extra_repr" not in inherit(source, TINY)[MODELING]


def test_the_base_bases_replace_the_model_base_and_other_bases_stay(inherit: Inherit, tmp_path: Path) -> None:
    # runtime/generation.py tells the MRO check (converter/merge/classes/mro.py) that GenerationMixin is no nn.Module
    (tmp_path / "runtime").mkdir()
    (tmp_path / "runtime" / "generation.py").write_text("class GenerationMixin:\n    pass\n", encoding="utf-8")
    source = (
        IMPORTS
        + "from runtime.generation import GenerationMixin\n\n\nclass ToyModel(TinyModel, GenerationMixin):\n    pass\n"
    )
    text = inherit(source, TINY)[MODELING]
    assert "class ToyModel(nn.Module, GenerationMixin):" in text
    assert "from runtime.generation import GenerationMixin" in text


def test_a_class_with_two_model_bases_is_e201(inherit: Inherit) -> None:
    with pytest.raises(ConversionError) as caught:
        inherit(IMPORTS + "\n\nclass ToyModel(TinyModel, TinyMLP):\n    pass\n", TINY)
    [diagnostic] = caught.value.diagnostics
    assert (diagnostic.line, diagnostic.col, diagnostic.code) == (6, 27, "E201")
    assert diagnostic.message == "ToyModel has two model bases, TinyModel and TinyMLP"


def test_a_base_name_renamed_onto_a_redefined_class_is_e205(inherit: Inherit) -> None:
    source = (
        IMPORTS
        + """

class ToyMLP(TinyMLP):
    pass


class ToyModel(TinyModel):
    def make(self, config: TinyConfig):
        return TinyMLP(config)
"""
    )
    with pytest.raises(ConversionError) as caught:
        inherit(source, TINY)
    [diagnostic] = caught.value.diagnostics
    assert (diagnostic.line, diagnostic.col, diagnostic.code) == (12, 16, "E205")
    assert diagnostic.fix == "write ToyMLP to use the class defined here"


def test_an_explicit_call_to_a_shadowed_base_method_is_e204(inherit: Inherit) -> None:
    source = (
        IMPORTS + "\n\nclass ToyMLP(TinyMLP):\n    def forward(self, x):\n        return TinyMLP.forward(self, x)\n"
    )
    with pytest.raises(ConversionError) as caught:
        inherit(source, TINY)
    [diagnostic] = caught.value.diagnostics
    assert diagnostic.code == "E204"
    assert diagnostic.message == "TinyMLP.forward(self, ...) would call ToyMLP.forward itself in the generated file"


def test_base_names_in_modular_code_become_the_renamed_names(inherit: Inherit) -> None:
    source = IMPORTS + "\n\ndef make_mlp(config: TinyConfig) -> TinyMLP:\n    return TinyMLP(config)\n"
    text = inherit(source, TINY)[MODELING]
    assert block(text, "make_mlp") == "def make_mlp(config: ToyConfig) -> ToyMLP:\n    return ToyMLP(config)\n"
    assert "class ToyMLP(nn.Module):" in text


def test_an_explicit_call_to_a_runtime_base_stays_a_call(inherit: Inherit) -> None:
    source = (
        IMPORTS + "\n\nclass ToyMLP(TinyMLP):\n    def __init__(self, config):\n        nn.Module.__init__(self)\n"
    )
    text = block(inherit("from torch import nn\n" + source, TINY)[MODELING], "ToyMLP")
    assert "    def __init__(self, config):\n        nn.Module.__init__(self)\n" in text


def test_a_class_defined_twice_in_an_inheriting_file_is_e010(inherit: Inherit) -> None:
    with pytest.raises(ConversionError) as caught:
        inherit(IMPORTS + "\n\nclass ToyMLP(TinyMLP):\n    pass\n\n\nclass ToyMLP(TinyMLP):\n    pass\n", TINY)
    [diagnostic] = caught.value.diagnostics
    assert (diagnostic.line, diagnostic.col, diagnostic.code) == (10, 1, "E010")


def test_a_one_line_class_body_is_merged_and_located_like_any_other(inherit: Inherit) -> None:
    with pytest.raises(ConversionError) as caught:
        inherit(IMPORTS + "\n\nclass ToyConfig(TinyConfig): nope = AttributeError()\n", TINY)
    [diagnostic] = caught.value.diagnostics
    assert (diagnostic.line, diagnostic.col, diagnostic.code) == (6, 30, "E202")


def test_a_decorated_base_class_is_e209(inherit: Inherit) -> None:
    decorated = {"tiny": {"modeling": "import functools\n\n\n@functools.total_ordering\nclass TinyKey:\n    pass\n"}}
    with pytest.raises(ConversionError) as caught:
        inherit("from generated.tiny.modeling_tiny import TinyKey\n\n\nclass ToyKey(TinyKey):\n    pass\n", decorated)
    [diagnostic] = caught.value.diagnostics
    assert (diagnostic.line, diagnostic.col, diagnostic.code) == (4, 14, "E209")


def test_a_decorated_method_that_raises_attribute_error_is_kept_not_a_removal(inherit: Inherit) -> None:
    base = {
        "tiny": {
            "modeling": "from torch import nn\n\n\nclass TinyNorm(nn.Module):\n    @property\n    def size(self):\n        return 1\n"
        }
    }
    source = (
        "from generated.tiny.modeling_tiny import TinyNorm\n\n\nclass ToyNorm(TinyNorm):\n"
        "    @property\n    def size(self):\n        raise AttributeError('no size')\n"
    )
    text = inherit(source, base)["generated/toy/modeling_toy.py"]
    assert '    @property\n    def size(self):\n        raise AttributeError("no size")\n' in text


def test_a_base_dunder_method_called_without_the_instance_is_e214(inherit: Inherit) -> None:
    base = {
        "tiny": {
            "modeling": "from torch import nn\n\n\nclass TinyNorm(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        }
    }
    header = (
        "from torch import nn\n\nfrom generated.tiny.modeling_tiny import TinyNorm\n\n\nclass ToyNorm(TinyNorm):\n"
    )
    with pytest.raises(ConversionError) as caught:
        inherit(header + "    def __init__(self):\n        nn.Module.__init__()\n", base)
    [diagnostic] = caught.value.diagnostics
    assert (diagnostic.line, diagnostic.col, diagnostic.code) == (8, 9, "E214")
    assert diagnostic.message == "nn.Module.__init__() passes no instance: Python raises TypeError (missing 'self')"
    text = inherit(header + "    def __init__(self):\n        nn.Module.__init__(self)\n", base)[
        "generated/toy/modeling_toy.py"
    ]
    assert "        nn.Module.__init__(self)\n" in text


CHAIN = {
    "tiny": {
        "modeling": """
            from torch import nn


            class TinyBlock(nn.Module):
                scale = 1

                def extra(self):
                    return 1


            class TinyLayer(TinyBlock):
                scale = 2

                def extra(self):
                    return 2

                def own(self):
                    return 3
            """
    }
}


@pytest.mark.parametrize(
    ("member", "position"),
    [("scale = AttributeError()", (5, 5)), ("def extra(self):\n        raise AttributeError", (5, 5))],
)
def test_removing_a_member_a_parent_class_of_the_base_defines_too_is_e212(
    inherit: Inherit, member: str, position: tuple[int, int]
) -> None:
    """Dropping it from the merged body would expose ToyBlock's member instead of removing it."""
    source = f"from generated.tiny.modeling_tiny import TinyLayer\n\n\nclass ToyLayer(TinyLayer):\n    {member}\n"
    with pytest.raises(ConversionError) as caught:
        inherit(source, CHAIN)
    [diagnostic] = caught.value.diagnostics
    name = "scale" if "scale" in member else "extra"
    assert (diagnostic.line, diagnostic.col, diagnostic.code) == (*position, "E212")
    assert diagnostic.message == (
        f"ToyLayer removes {name}, but ToyBlock, a parent class of TinyLayer, defines {name} too: "
        f"the generated ToyLayer would inherit ToyBlock.{name} instead of having no {name}"
    )
    assert diagnostic.fix == (
        f"override {name} in ToyLayer with what it should do, or delete these lines to keep TinyLayer.{name}"
    )


def test_removing_a_member_only_the_base_class_defines_still_removes_it(inherit: Inherit) -> None:
    source = "from generated.tiny.modeling_tiny import TinyLayer\n\n\nclass ToyLayer(TinyLayer):\n    def own(self):\n        raise AttributeError\n"
    text = block(inherit(source, CHAIN)[MODELING], "ToyLayer")
    assert "own" not in text
    assert text.startswith("class ToyLayer(ToyBlock):\n")
