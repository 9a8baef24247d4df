"""Proves the trace_dependencies pass: what the merged code uses is pulled from the base models,
renamed and transitively, with the imports it needs; modular definitions win everywhere; an
explicit import from a third model replaces the main base's definition; imports from models
vanish; definitions come before use in a stable order; nothing of the modular file is dropped;
two different definitions needed under one name are E206.

Run: python -m pytest tests/converter/test_trace.py -q
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from converter import ConversionError
from tests.converter.conftest import block, top_level_names

Inherit = Callable[..., dict[str, str]]
CONFIG = "generated/toy/configuration_toy.py"
MODELING = "generated/toy/modeling_toy.py"
TINY = {
    "configuration": """
        from runtime.configuration_utils import PretrainedConfig


        class TinyConfig(PretrainedConfig):
            model_type = "tiny"
            hidden_size: int = 8


        __all__ = ["TinyConfig"]
        """,
    "modeling": """
        import math

        import torch
        from torch import nn

        from runtime.activations import ACT2FN

        from .configuration_tiny import TinyConfig

        SCALE = 2.0


        def scaled(x):
            return x * SCALE


        def unused_helper():
            return math.pi


        class TinyNorm(nn.Module):
            def forward(self, x):
                return scaled(x)


        class TinyMLP(nn.Module):
            def __init__(self, config: TinyConfig) -> None:
                super().__init__()
                self.norm = TinyNorm()
                self.act = ACT2FN["silu"]

            def forward(self, x):
                return self.act(self.norm(x))


        class TinyModel(nn.Module):
            def __init__(self, config: TinyConfig) -> None:
                super().__init__()
                self.mlp = TinyMLP(config)

            def forward(self, x):
                return torch.relu(self.mlp(x))


        __all__ = ["TinyModel"]
        """,
}
OTHER = {
    "modeling": """
        SCALE = 3.0


        def scaled(x):
            # other's scale
            return x * SCALE * 10


        class OtherThing:
            size = SCALE
        """
}
BASES = {"tiny": TINY, "other": OTHER}
MODEL = "from generated.tiny.modeling_tiny import TinyModel\n\n\nclass ToyModel(TinyModel):\n    pass\n"


def test_used_helpers_constants_and_classes_are_pulled_transitively_with_their_imports(inherit: Inherit) -> None:
    text = inherit(MODEL, BASES)[MODELING]
    assert top_level_names(text) == ["scaled", "ToyNorm", "ToyMLP", "ToyModel"]
    assert "\nSCALE = 2.0\n" in text
    assert "import torch\nfrom torch import nn\n\nfrom runtime.activations import ACT2FN\n" in text
    assert "unused_helper" not in text and "import math" not in text


def test_a_modular_definition_wins_everywhere_inside_inherited_code(inherit: Inherit) -> None:
    text = inherit(MODEL + "\n\ndef scaled(x):\n    return x\n", BASES)[MODELING]
    assert top_level_names(text) == ["scaled", "ToyNorm", "ToyMLP", "ToyModel"]
    assert block(text, "scaled") == "def scaled(x):\n    return x\n"
    assert "SCALE" not in text


def test_an_explicitly_imported_third_model_helper_replaces_the_main_base_one(inherit: Inherit) -> None:
    text = inherit(MODEL.replace("\n\n\n", "\nfrom generated.other.modeling_other import scaled\n\n\n"), BASES)[
        MODELING
    ]
    assert block(text, "scaled") == "def scaled(x):\n    # toy's scale\n    return x * SCALE * 10\n"
    assert "\nSCALE = 3.0\n" in text


def test_imports_from_models_vanish_and_the_config_comes_from_the_sibling_file(inherit: Inherit) -> None:
    source = (
        "from generated.tiny.configuration_tiny import TinyConfig\n"
        + MODEL
        + "\n\nclass ToyConfig(TinyConfig):\n    pass\n"
    )
    outputs = inherit(source, BASES)
    assert "generated" not in outputs[MODELING].split("----\n", 2)[-1]
    assert "\nfrom .configuration_toy import ToyConfig\n" in outputs[MODELING]
    assert "class ToyConfig(PretrainedConfig):" in outputs[CONFIG]


def test_a_config_class_that_is_only_used_is_pulled_into_the_configuration_file(inherit: Inherit) -> None:
    outputs = inherit(MODEL, BASES)
    assert (
        block(outputs[CONFIG], "ToyConfig")
        == 'class ToyConfig(PretrainedConfig):\n    model_type = "toy"\n    hidden_size: int = 8\n'
    )


def test_definitions_keep_base_order_new_ones_follow_and_move_before_their_first_use(inherit: Inherit) -> None:
    source = """
from torch import nn

from generated.tiny.modeling_tiny import TinyModel, TinyNorm


def gate(x):
    return x


class ToyModel(TinyModel):
    def forward(self, x):
        out = super().forward(x)
        return gate(out)


class ToyExtra(nn.Module):
    pass


class ToyNorm(TinyNorm):
    pass
"""
    text = inherit(source, BASES)[MODELING]
    assert top_level_names(text) == ["scaled", "ToyNorm", "ToyMLP", "gate", "ToyModel", "ToyExtra"]


def test_module_level_code_no_class_uses_is_kept(inherit: Inherit) -> None:
    source = "import logging\n\n" + MODEL + "\n\nlogger = logging.getLogger(__name__)\n"
    text = inherit(source, BASES)[MODELING]
    assert "import logging\n" in text and "\nlogger = logging.getLogger(__name__)\n" in text


def test_all_lists_the_base_exports_present_then_new_public_classes(inherit: Inherit) -> None:
    text = inherit("from torch import nn\n\n" + MODEL + "\n\nclass ToyExtra(nn.Module):\n    pass\n", BASES)[MODELING]
    assert text.endswith('\n__all__ = ["ToyModel", "ToyExtra"]\n')


def test_two_different_definitions_needed_under_one_name_are_e206(inherit: Inherit) -> None:
    source = (
        MODEL + "from generated.other.modeling_other import OtherThing\n\n\ndef make():\n    return OtherThing()\n"
    )
    with pytest.raises(ConversionError) as caught:
        inherit(source, BASES)
    [diagnostic] = caught.value.diagnostics
    assert (diagnostic.line, diagnostic.code) == (9, "E206")
    assert diagnostic.message == (
        "SCALE is needed from both generated/tiny/modeling_tiny.py and generated/other/modeling_other.py, "
        "which define it differently"
    )


def test_a_base_class_listed_in_all_is_pulled_even_when_nothing_uses_it(inherit: Inherit) -> None:
    text = inherit(MODEL + '\n\n__all__ = ["ToyModel", "ToyNorm"]\n', BASES)[MODELING]
    assert "class ToyNorm(nn.Module):" in text
    assert '__all__ = ["ToyModel", "ToyNorm"]' in text


def test_all_listing_a_name_neither_the_modular_file_nor_its_base_defines_is_refused(inherit: Inherit) -> None:
    with pytest.raises(ConversionError) as caught:
        inherit(MODEL + '\n\n__all__ = ["ToyModel", "ToyMissing"]\n', BASES)
    assert [d.code for d in caught.value.diagnostics] == ["E040"]
