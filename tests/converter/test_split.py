"""Proves the split pass: classes go to configuration_/modeling_ by kind, helpers follow the classes
that use them (transitively), unused statements stay in the modeling file, source order is kept.

Run: python -m pytest tests/converter/test_split.py -q
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable

from tests.converter.conftest import header

Convert = Callable[..., dict[str, str]]
CONFIG = "generated/toy/configuration_toy.py"
MODELING = "generated/toy/modeling_toy.py"


def test_config_class_and_model_class_go_to_separate_files(convert: Convert) -> None:
    outputs = convert(
        """
        from torch import nn

        from runtime.configuration_utils import PretrainedConfig


        class ToyConfig(PretrainedConfig):
            hidden_size: int = 8


        class ToyModel(nn.Module):
            def __init__(self, config: ToyConfig) -> None:
                super().__init__()
                self.proj = nn.Linear(config.hidden_size, config.hidden_size)
        """
    )
    assert sorted(outputs) == ["generated/toy/__init__.py", CONFIG, MODELING]
    assert outputs[CONFIG] == header("toy") + textwrap.dedent(
        """
        from runtime.configuration_utils import PretrainedConfig


        class ToyConfig(PretrainedConfig):
            hidden_size: int = 8


        __all__ = ["ToyConfig"]
        """
    )
    assert outputs[MODELING] == header("toy") + textwrap.dedent(
        """
        from torch import nn

        from .configuration_toy import ToyConfig


        class ToyModel(nn.Module):
            def __init__(self, config: ToyConfig) -> None:
                super().__init__()
                self.proj = nn.Linear(config.hidden_size, config.hidden_size)


        __all__ = ["ToyModel"]
        """
    )


def test_class_inheriting_from_a_local_config_is_a_config(convert: Convert) -> None:
    outputs = convert(
        """
        class ToyConfig:
            pass


        class ToyVisionSettings(ToyConfig):
            pass


        class ToyModel:
            pass
        """
    )
    assert "class ToyVisionSettings(ToyConfig):" in outputs[CONFIG]
    assert "ToyVisionSettings" not in outputs[MODELING]


def test_helpers_used_only_by_modeling_classes_go_to_modeling_transitively(convert: Convert) -> None:
    outputs = convert(
        """
        class ToyConfig:
            pass


        def inner(x):
            return x


        def outer(x):
            return inner(x)


        class ToyModel:
            def forward(self, x):
                return outer(x)
        """
    )
    assert "def inner" in outputs[MODELING] and "def outer" in outputs[MODELING]
    assert "def inner" not in outputs[CONFIG] and "def outer" not in outputs[CONFIG]


def test_helper_used_by_config_and_model_lives_in_config_and_is_imported(convert: Convert) -> None:
    outputs = convert(
        """
        DEFAULT_THETA = 10000.0


        class ToyConfig:
            rope_theta: float = DEFAULT_THETA


        class ToyModel:
            theta = DEFAULT_THETA
        """
    )
    assert "DEFAULT_THETA = 10000.0" in outputs[CONFIG]
    assert "DEFAULT_THETA = 10000.0" not in outputs[MODELING]
    assert "from .configuration_toy import DEFAULT_THETA\n" in outputs[MODELING]


def test_unused_module_level_statement_is_kept_in_modeling(convert: Convert) -> None:
    outputs = convert(
        """
        import logging

        logger = logging.getLogger(__name__)


        class ToyConfig:
            pass


        class ToyModel:
            pass
        """
    )
    assert "import logging\n" in outputs[MODELING]
    assert "logger = logging.getLogger(__name__)" in outputs[MODELING]
    assert "logger" not in outputs[CONFIG]


def test_definitions_keep_source_order(convert: Convert) -> None:
    outputs = convert(
        """
        class ToyZeta:
            pass


        def helper():
            return ToyZeta()


        class ToyAlpha:
            value = helper()
        """
    )
    text = outputs[MODELING]
    assert text.index("class ToyZeta") < text.index("def helper") < text.index("class ToyAlpha")
    assert CONFIG not in outputs


def test_the_model_prefix_takes_no_part_in_a_class_kind(convert: Convert) -> None:
    """In toy_video, ToyVideoProcessor is the model's processor and ToyVideoVideoProcessor its video
    processor: the suffix is read after the model's own prefix."""
    outputs = convert(
        """
        class ToyVideoVideoProcessor:
            pass


        class ToyVideoProcessor:
            video_processor_class = ToyVideoVideoProcessor


        class ToyVideoModel:
            pass
        """,
        model="toy_video",
    )
    assert "class ToyVideoVideoProcessor:" in outputs["generated/toy_video/video_processing_toy_video.py"]
    assert "class ToyVideoProcessor:" in outputs["generated/toy_video/processing_toy_video.py"]
    assert "class ToyVideoModel:" in outputs["generated/toy_video/modeling_toy_video.py"]
