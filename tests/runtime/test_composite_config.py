"""Composite configs (a vision-language model's `text_config`, `vision_config`, ...) and the
bidirectional mask: sub-configs build from dicts, defaults or instances, round-trip through
config.json, and share the attention backend chosen for the whole model.
Run: python -m pytest tests/runtime/test_composite_config.py -q
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import torch

from runtime.configuration_utils import PretrainedConfig
from runtime.masks import create_bidirectional_mask


class TinyVisionConfig(PretrainedConfig):
    model_type = "tiny_vision"
    hidden_size: int = 8


class TinyCompositeConfig(PretrainedConfig):
    model_type = "tiny_composite"
    sub_configs: ClassVar[dict] = {"vision_config": TinyVisionConfig, "text_config": "llama"}
    sub_config_defaults: ClassVar[dict] = {"text_config": {"hidden_size": 16, "num_attention_heads": 2}}
    vision_config: PretrainedConfig | None = None
    text_config: PretrainedConfig | None = None


def test_sub_configs_build_from_defaults_dicts_and_instances() -> None:
    config = TinyCompositeConfig()
    assert isinstance(config.vision_config, TinyVisionConfig)
    assert config.text_config.model_type == "llama" and config.text_config.hidden_size == 16
    config = TinyCompositeConfig(
        vision_config={"model_type": "ignored", "hidden_size": 4},
        text_config={"model_type": "mistral", "hidden_size": 8, "num_attention_heads": 2, "num_key_value_heads": 1},
    )
    assert config.vision_config.hidden_size == 4
    assert config.text_config.model_type == "mistral"
    vision = TinyVisionConfig(hidden_size=2)
    assert TinyCompositeConfig(vision_config=vision).vision_config is vision


def test_composite_config_round_trips(tmp_path: Path) -> None:
    config = TinyCompositeConfig(vision_config={"hidden_size": 4})
    config.save_pretrained(tmp_path)
    loaded = TinyCompositeConfig.from_pretrained(tmp_path)
    assert loaded == config
    assert loaded.to_dict()["vision_config"]["model_type"] == "tiny_vision"


def test_attention_backend_reaches_sub_configs() -> None:
    config = TinyCompositeConfig(attn_implementation="eager")
    assert config.vision_config._attn_implementation == "eager"
    assert config.text_config._attn_implementation == "eager"
    config.set_attn_implementation("sdpa")
    assert config.text_config._attn_implementation == "sdpa"
    assert TinyCompositeConfig().vision_config._attn_implementation is None  # each model's own default


def test_bidirectional_mask_hides_padded_keys_only() -> None:
    config = TinyVisionConfig(attn_implementation="sdpa")
    embeds = torch.zeros(2, 3, 8)
    assert create_bidirectional_mask(config, embeds, torch.ones(2, 5)) is None
    padding = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    mask = create_bidirectional_mask(config, embeds, padding)
    assert mask.shape == (2, 1, 3, 5)
    assert mask[0, 0].tolist() == [[True, True, True, False, False]] * 3
    assert bool(mask[1].all())
