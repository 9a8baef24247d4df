"""Proves the imports pass: each file keeps only the imports it uses (deduplicated, sorted by ruff),
imports config names from its sibling file, and refuses imports it cannot carry over.

Run: python -m pytest tests/converter/test_imports.py -q
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable

import pytest

from converter import ConversionError
from tests.converter.conftest import header

Convert = Callable[..., dict[str, str]]
CONFIG = "generated/toy/configuration_toy.py"
MODELING = "generated/toy/modeling_toy.py"


def test_imports_are_pruned_per_file_and_sorted(convert: Convert) -> None:
    outputs = convert(
        """
        from runtime.rope import compute_rope, standardize_rope
        import torch
        import math
        from runtime.configuration_utils import PretrainedConfig


        class ToyConfig(PretrainedConfig):
            def derive(self):
                self.rope = standardize_rope(self.rope)


        class ToyModel:
            def forward(self, x):
                return torch.tanh(x) * compute_rope(self)
        """
    )
    assert outputs[CONFIG] == header("toy") + textwrap.dedent(
        """
        from runtime.configuration_utils import PretrainedConfig
        from runtime.rope import standardize_rope


        class ToyConfig(PretrainedConfig):
            def derive(self):
                self.rope = standardize_rope(self.rope)


        __all__ = ["ToyConfig"]
        """
    )
    assert outputs[MODELING] == header("toy") + textwrap.dedent(
        """
        import torch

        from runtime.rope import compute_rope


        class ToyModel:
            def forward(self, x):
                return torch.tanh(x) * compute_rope(self)


        __all__ = ["ToyModel"]
        """
    )


def test_repeated_imports_are_merged(convert: Convert) -> None:
    outputs = convert(
        """
        import torch
        from torch import nn
        import torch
        from torch import nn, Tensor


        class ToyModel(nn.Module):
            def forward(self, x: Tensor) -> Tensor:
                return torch.relu(x)
        """
    )
    assert "import torch\nfrom torch import Tensor, nn\n\n\n" in outputs[MODELING]
    assert outputs[MODELING].count("import torch\n") == 1


def test_string_annotation_imports_the_sibling_config(convert: Convert) -> None:
    outputs = convert(
        """
        class ToyConfig:
            pass


        class ToyModel:
            def __init__(self, config: "ToyConfig") -> None:
                self.config = config
        """
    )
    assert "from .configuration_toy import ToyConfig\n" in outputs[MODELING]


def test_local_variable_shadowing_an_import_is_not_a_use(convert: Convert) -> None:
    outputs = convert(
        """
        import math


        class ToyModel:
            def forward(self, x):
                math = x * 2
                return math
        """
    )
    assert "import math" not in outputs[MODELING]


def test_future_import_is_kept_in_every_file(convert: Convert) -> None:
    outputs = convert(
        """
        from __future__ import annotations


        class ToyConfig:
            pass


        class ToyModel:
            pass
        """
    )
    assert "from __future__ import annotations\n" in outputs[CONFIG]
    assert "from __future__ import annotations\n" in outputs[MODELING]


@pytest.mark.parametrize(
    ("statement", "code"),
    [
        ("from torch.nn import *", "E030"),
        ("from .modeling_utils import PreTrainedModel", "E031"),
        ("from modular.modular_llama import LlamaMLP", "E032"),
    ],
)
def test_imports_that_cannot_be_carried_over_are_refused(convert: Convert, statement: str, code: str) -> None:
    with pytest.raises(ConversionError) as caught:
        convert(f"import torch\n{statement}\n\n\nclass ToyModel:\n    pass\n")
    [diagnostic] = caught.value.diagnostics
    assert (diagnostic.path, diagnostic.line, diagnostic.col, diagnostic.code) == (
        "modular/modular_toy.py",
        2,
        1,
        code,
    )


def test_config_class_using_a_model_class_is_refused(convert: Convert) -> None:
    with pytest.raises(ConversionError) as caught:
        convert(
            """
            class ToyModel:
                pass


            class ToyConfig:
                model_class = ToyModel
            """
        )
    [diagnostic] = caught.value.diagnostics
    assert (diagnostic.line, diagnostic.col, diagnostic.code) == (6, 1, "E020")
    assert "ToyConfig goes to configuration_toy.py but uses ToyModel" in diagnostic.message
