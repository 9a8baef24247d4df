"""Rotary parameters equal transformers' for every rope type; legacy config keys are read; the
config base validates loudly. Run: python -m pytest tests/runtime/test_rope_and_config.py -q
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from generated.llama import LlamaConfig
from runtime.rope import compute_rope_parameters
from tests.models.helpers import ROPE_VARIANTS, tiny_llama_kwargs

transformers = pytest.importorskip("transformers")


@pytest.mark.parametrize("rope", list(ROPE_VARIANTS))
def test_inverse_frequencies_match_transformers(rope: str) -> None:
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

    kwargs = tiny_llama_kwargs(rope_parameters=dict(ROPE_VARIANTS[rope]))
    ours = LlamaConfig(**kwargs)
    theirs = transformers.LlamaConfig(**kwargs)
    inv_freq, scaling = compute_rope_parameters(ours)
    if rope == "default":
        expected, expected_scaling = (
            transformers.models.llama.modeling_llama.LlamaRotaryEmbedding.compute_default_rope_parameters(theirs)
        )
    else:
        expected, expected_scaling = ROPE_INIT_FUNCTIONS[rope](theirs, None)
    assert torch.equal(inv_freq, expected) and scaling == pytest.approx(expected_scaling)


def test_legacy_rope_keys_are_folded_in() -> None:
    config = LlamaConfig(rope_theta=500000.0, rope_scaling={"type": "linear", "factor": 2.0})
    assert config.rope_parameters == {"rope_type": "linear", "rope_theta": 500000.0, "factor": 2.0}
    assert "rope_scaling" not in config.to_dict() and "rope_theta" not in config.to_dict()


def test_reads_transformers_config_json_and_keeps_unknown_keys(tmp_path: Path) -> None:
    theirs = transformers.LlamaConfig(**tiny_llama_kwargs())
    theirs.save_pretrained(tmp_path)
    data = json.loads((tmp_path / "config.json").read_text())
    data["some_future_field"] = [1, 2]
    (tmp_path / "config.json").write_text(json.dumps(data))
    ours = LlamaConfig.from_pretrained(tmp_path)
    assert ours.hidden_size == 32 and ours.num_key_value_heads == 2 and ours.head_dim == 8
    assert ours.some_future_field == [1, 2] and ours.to_dict()["some_future_field"] == [1, 2]
    ours.save_pretrained(tmp_path / "again")
    again = transformers.LlamaConfig.from_pretrained(tmp_path / "again")
    assert again.to_dict()["rope_parameters"] == theirs.to_dict()["rope_parameters"]
    assert again.hidden_size == 32 and again.tie_word_embeddings is False


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"hidden_size": "big"}, "hidden_size='big'"),
        ({"rms_norm_eps": None}, "rms_norm_eps=None"),
        ({"hidden_size": 30, "num_attention_heads": 4}, "hidden_size=30"),
        ({"num_attention_heads": 4, "num_key_value_heads": 3}, "num_key_value_heads=3"),
        ({"rope_parameters": {"rope_type": "warp"}}, "rope_type='warp'"),
        ({"rope_parameters": {"rope_type": "linear"}}, "factor"),
    ],
)
def test_invalid_values_name_the_field(kwargs: dict, needle: str) -> None:
    with pytest.raises(ValueError, match=needle.replace("(", r"\(").replace("[", r"\[")):
        LlamaConfig(**tiny_llama_kwargs(**kwargs))


def test_wrong_type_in_config_json_names_file_and_field(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama", "num_hidden_layers": 2.5}))
    with pytest.raises(ValueError, match=r"config.json.*num_hidden_layers=2.5"):
        LlamaConfig.from_pretrained(tmp_path)


class _ThetaByClass(LlamaConfig):
    default_theta = 500000.0


class _ThetaByField(LlamaConfig):
    rope_theta: float = 1000000.0


@pytest.mark.parametrize(
    ("config_class", "theta"), [(LlamaConfig, 10000.0), (_ThetaByClass, 500000.0), (_ThetaByField, 1e6)]
)
def test_rope_theta_defaults_per_class_as_transformers(config_class: type[LlamaConfig], theta: float) -> None:
    assert config_class().rope_parameters["rope_theta"] == theta
    assert config_class(rope_theta=5.0).rope_parameters["rope_theta"] == 5.0  # config.json's top-level key
    given = {"rope_type": "default", "rope_theta": 7.0}
    assert config_class(rope_parameters=given).rope_parameters["rope_theta"] == 7.0  # the dict's own


def test_a_default_theta_matches_transformers_cohere() -> None:
    class CohereLike(LlamaConfig):
        default_theta = transformers.CohereConfig.default_theta

    assert CohereLike().rope_parameters == transformers.CohereConfig().rope_parameters
