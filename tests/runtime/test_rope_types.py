"""Every rope type, with and without `partial_rotary_factor`, gives transformers 5.23.0's frequencies;
legacy config.json spellings (top-level `rope_scaling`/`rope_theta`/`partial_rotary_factor`,
Phi-3's `longrope`/`su` with a top-level `original_max_position_embeddings`) standardize to the
parameters transformers computes with.

Proves, against transformers (a test-only oracle) on configs built from the same dict:
- `compute_rope_parameters` equals `ROPE_INIT_FUNCTIONS[type]` (StableLM's default function for
  `default`, since Llama's ignores `partial_rotary_factor`) bit for bit, with the same attention
  scaling, for default, linear, dynamic, llama3, yarn and longrope, partial factor 1.0 and 0.5,
  at init and at sequence lengths on both sides of the trained length (longrope: short factors
  up to `original_max_position_embeddings`, long factors past it);
- the standardized `rope_parameters` equal the ones transformers computes with (it re-standardizes
  at compute time, when a top-level `original_max_position_embeddings` takes priority), and the
  legacy keys are not written back, as transformers does not write them;
- Phi-3 config.json files give Phi3Config's frequencies, and the old `su` name reads as longrope;
- missing longrope factors, factor lists of the wrong length and non-numeric legacy values raise
  `ValueError` naming the field;
- the Llama rotary module follows the sequence length per forward as transformers' does: dynamic
  today; longrope's short/long switch is an expected failure (strict) until the modular Llama
  rotary class has `update_longrope_frequencies`, after which the test runs as a normal one.
Run: python -m pytest tests/runtime/test_rope_types.py -q
"""

from __future__ import annotations

import copy
import warnings
from typing import Any

import pytest
import torch

from generated.llama import LlamaConfig
from generated.llama.modeling_llama import LlamaRotaryEmbedding
from runtime.rope import compute_rope_parameters

transformers = pytest.importorskip("transformers")

HEAD_DIM = 64  # large enough that yarn's ramp and llama3's bands cover several frequencies
ORIGINAL = 1024  # the trained context of the scaled types
MAX_POSITIONS = 4096
# seq_len None is init time; ORIGINAL is the last short length, ORIGINAL + 1 the first long one
SEQ_LENS = [None, 10, ORIGINAL, ORIGINAL + 1, 2 * MAX_POSITIONS]


def factors(count: int, start: float, step: float) -> list[float]:
    return [start + step * i for i in range(count)]


def rope_dict(rope_type: str, partial: float) -> dict[str, Any]:
    """A `rope_parameters` dict of `rope_type` whose factor lists fit rotary dim HEAD_DIM * partial."""
    pairs = int(HEAD_DIM * partial) // 2
    own: dict[str, dict[str, Any]] = {
        "default": {},
        "linear": {"factor": 2.0},
        "dynamic": {"factor": 2.0},
        "llama3": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0},
        "yarn": {"factor": 4.0, "beta_fast": 32.0, "beta_slow": 1.0},
        "longrope": {"short_factor": factors(pairs, 1.0, 0.05), "long_factor": factors(pairs, 1.5, 0.4)},
    }
    params = {"rope_type": rope_type, "rope_theta": 10000.0, "partial_rotary_factor": partial, **own[rope_type]}
    if rope_type in ("llama3", "yarn", "longrope"):
        params["original_max_position_embeddings"] = ORIGINAL
    return params


def config_kwargs(**overrides: Any) -> dict[str, Any]:
    """A small Llama config.json with head_dim HEAD_DIM; `overrides` replace or add keys."""
    kwargs: dict[str, Any] = {
        "vocab_size": 99,
        "hidden_size": 4 * HEAD_DIM,
        "intermediate_size": 64,
        "num_hidden_layers": 1,
        "num_attention_heads": 4,
        "max_position_embeddings": MAX_POSITIONS,
    }
    return {**kwargs, **overrides}


def both(data: dict[str, Any]) -> tuple[LlamaConfig, Any]:
    """Our LlamaConfig and transformers' from the same config.json dict (each gets its own copy)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # transformers warns about Phi-3's style of longrope keys
        theirs = transformers.LlamaConfig(**copy.deepcopy(data))
    return LlamaConfig(**copy.deepcopy(data)), theirs


def reference_rope(config: Any, seq_len: int | None) -> tuple[torch.Tensor, float]:
    """transformers' frequencies for `config`: StableLM's default honours partial_rotary_factor."""
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS
    from transformers.models.stablelm.modeling_stablelm import StableLmRotaryEmbedding

    rope_type = config.rope_parameters["rope_type"]
    if rope_type == "default":
        return StableLmRotaryEmbedding.compute_default_rope_parameters(config)
    return ROPE_INIT_FUNCTIONS[rope_type](config, None, seq_len)


def assert_same_rope(ours: LlamaConfig, theirs: Any, seq_len: int | None) -> None:
    inv_freq, scaling = compute_rope_parameters(ours, None, seq_len)
    expected, expected_scaling = reference_rope(theirs, seq_len)
    rotary_dim = int(HEAD_DIM * ours.rope_parameters.get("partial_rotary_factor", 1.0))
    assert inv_freq.shape == (rotary_dim // 2,)
    assert torch.equal(inv_freq, expected), (inv_freq - expected).abs().max()
    assert scaling == pytest.approx(expected_scaling, rel=1e-12)


def standardized(theirs: Any) -> dict[str, Any]:
    """transformers' rope dict as it computes with it: re-standardized, without the stale `type`."""
    theirs.standardize_rope_params()
    return {key: value for key, value in theirs.rope_parameters.items() if key != "type"}


@pytest.mark.parametrize("seq_len", SEQ_LENS)
@pytest.mark.parametrize("partial", [1.0, 0.5])
@pytest.mark.parametrize("rope_type", ["default", "linear", "dynamic", "llama3", "yarn", "longrope"])
def test_frequencies_match_transformers(rope_type: str, partial: float, seq_len: int | None) -> None:
    ours, theirs = both(config_kwargs(rope_parameters=rope_dict(rope_type, partial)))
    assert_same_rope(ours, theirs, seq_len)


def test_longrope_uses_short_factors_up_to_the_trained_length_and_long_ones_past_it() -> None:
    params = rope_dict("longrope", 1.0)
    ours = LlamaConfig(**config_kwargs(rope_parameters=params))
    base, _ = compute_rope_parameters(LlamaConfig(**config_kwargs(rope_parameters=rope_dict("default", 1.0))))
    for seq_len, key in [(None, "short_factor"), (ORIGINAL, "short_factor"), (ORIGINAL + 1, "long_factor")]:
        inv_freq, scaling = compute_rope_parameters(ours, None, seq_len)
        torch.testing.assert_close(inv_freq, base / torch.tensor(params[key]))
        assert scaling == pytest.approx((1 + torch.log(torch.tensor(4.0)) / torch.log(torch.tensor(1024.0))) ** 0.5)


LEGACY = {
    "rope_scaling-linear": {"rope_theta": 500000.0, "rope_scaling": {"type": "linear", "factor": 2.0}},
    "rope_scaling-llama3": {
        "rope_theta": 500000.0,
        "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0},
    },
    "rope_scaling-wins-over-rope_parameters": {
        "rope_scaling": {"type": "linear", "factor": 3.0},
        "rope_parameters": {"rope_type": "dynamic", "factor": 2.0, "rope_theta": 10000.0},
    },
    "top-level-partial-glm": {"rope_theta": 10000.0, "partial_rotary_factor": 0.5},
    "top-level-partial-with-yarn": {
        "partial_rotary_factor": 0.5,
        "rope_scaling": {"type": "yarn", "factor": 4.0, "original_max_position_embeddings": ORIGINAL},
    },
    "partial-in-dict-wins": {
        "partial_rotary_factor": 0.25,
        "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": 0.5},
    },
    "phi3-128k-longrope": {
        "original_max_position_embeddings": ORIGINAL,
        "rope_theta": 10000.0,
        "rope_scaling": {"type": "longrope", "short_factor": factors(32, 1.0, 0.02), "long_factor": factors(32, 1, 1)},
    },
    "phi3-small-original-inside": {
        "rope_scaling": {
            "type": "longrope",
            "short_factor": factors(32, 1.0, 0.02),
            "long_factor": factors(32, 1.0, 1.0),
            "original_max_position_embeddings": 512,
        },
    },
    "top-level-original-wins": {
        "original_max_position_embeddings": ORIGINAL,
        "rope_parameters": {
            "rope_type": "longrope",
            "rope_theta": 10000.0,
            "short_factor": factors(32, 1.0, 0.02),
            "long_factor": factors(32, 1.0, 1.0),
            "original_max_position_embeddings": 512,
        },
    },
    "longrope-partial-and-attention-factor": {
        "partial_rotary_factor": 0.5,
        "original_max_position_embeddings": ORIGINAL,
        "rope_scaling": {
            "type": "longrope",
            "short_factor": factors(16, 1.0, 0.02),
            "long_factor": factors(16, 1.0, 1.0),
            "attention_factor": 1.25,
        },
    },
}


@pytest.mark.parametrize("legacy", list(LEGACY))
def test_legacy_spellings_standardize_as_in_transformers(legacy: str) -> None:
    ours, theirs = both(config_kwargs(**LEGACY[legacy]))
    assert ours.rope_parameters == standardized(theirs)
    written, theirs_written = ours.to_dict(), theirs.to_dict()
    for key in ("rope_scaling", "rope_theta", "partial_rotary_factor", "original_max_position_embeddings"):
        assert (key in written) == (key in theirs_written), key
    for seq_len in (None, ORIGINAL, ORIGINAL + 1):
        assert_same_rope(ours, theirs, seq_len)


def test_the_su_name_reads_as_longrope() -> None:
    # transformers 5.23's Phi3Config maps "su" only after filling original_max_position_embeddings,
    # and then refuses the config for lacking it: compare with the "longrope" spelling instead
    data = config_kwargs(**LEGACY["phi3-128k-longrope"])
    ours = LlamaConfig(**{**data, "rope_scaling": {**data["rope_scaling"], "type": "su"}})
    same, theirs = both(data)
    assert ours.rope_parameters == same.rope_parameters == standardized(theirs)


@pytest.mark.parametrize("legacy", ["phi3-128k-longrope", "phi3-small-original-inside", "top-level-original-wins"])
def test_phi3_config_json_gives_phi3_frequencies(legacy: str) -> None:
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

    data = config_kwargs(**LEGACY[legacy])
    ours = LlamaConfig(**data)
    original = ours.rope_parameters["original_max_position_embeddings"]
    # Phi3Config declares the top-level field (default 4096), which wins over the dict's value
    phi3 = transformers.Phi3Config(**{**data, "original_max_position_embeddings": original})
    for seq_len in (None, original, original + 1):
        inv_freq, scaling = compute_rope_parameters(ours, None, seq_len)
        expected, expected_scaling = ROPE_INIT_FUNCTIONS["longrope"](phi3, None, seq_len)
        assert torch.equal(inv_freq, expected) and scaling == pytest.approx(expected_scaling, rel=1e-12)


@pytest.mark.parametrize(
    ("rope_parameters", "needle"),
    [
        ({"rope_type": "su", "long_factor": [1.0] * 32}, "short_factor"),
        ({"rope_type": "longrope", "short_factor": [1.0] * 32}, "long_factor"),
    ],
)
def test_longrope_without_its_factors_names_them(rope_parameters: dict[str, Any], needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        LlamaConfig(**config_kwargs(rope_parameters=rope_parameters))


@pytest.mark.parametrize(
    ("legacy", "needle"),
    [
        ({"partial_rotary_factor": "half"}, "partial_rotary_factor"),
        ({"partial_rotary_factor": 0}, "partial_rotary_factor"),
        (
            {"original_max_position_embeddings": "4k", "rope_scaling": LEGACY["phi3-128k-longrope"]["rope_scaling"]},
            "original_max",
        ),
    ],
)
def test_a_bad_legacy_value_names_the_field(legacy: dict[str, Any], needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        LlamaConfig(**config_kwargs(**legacy))


def test_longrope_factors_of_the_wrong_length_name_the_field() -> None:
    params = {**rope_dict("longrope", 1.0), "long_factor": [1.0] * 7}
    config = LlamaConfig(**config_kwargs(rope_parameters=params))
    compute_rope_parameters(config, None, ORIGINAL)  # the short factors fit
    with pytest.raises(ValueError, match=r"long_factor.*32 numbers.*got 7"):
        compute_rope_parameters(config, None, ORIGINAL + 1)


@pytest.mark.parametrize(
    "rope_type",
    [
        "dynamic",
        pytest.param(
            "longrope",
            marks=pytest.mark.xfail(
                not hasattr(LlamaRotaryEmbedding, "update_longrope_frequencies"),
                reason="modular_llama's LlamaRotaryEmbedding.forward recomputes frequencies for `dynamic` only",
                strict=True,
            ),
        ),
    ],
)
def test_rotary_module_follows_the_sequence_length_like_transformers(rope_type: str) -> None:
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding as TheirRotary

    ours, theirs = both(config_kwargs(rope_parameters=rope_dict(rope_type, 1.0), max_position_embeddings=ORIGINAL))
    our_rotary, their_rotary = LlamaRotaryEmbedding(ours), TheirRotary(theirs)
    x = torch.zeros(1, 1, HEAD_DIM)
    # short, long, then short again: longrope goes back to its short factors, dynamic to its base
    for length in (16, ORIGINAL, ORIGINAL + 8, 3 * ORIGINAL, 16):
        position_ids = torch.arange(length)[None]
        for got, expected in zip(our_rotary(x, position_ids), their_rotary(x, position_ids), strict=True):
            assert torch.equal(got, expected), (rope_type, length)
