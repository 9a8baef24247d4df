"""The static cache and the compiled decode path give what the default path gives.

On tiny random models built from each text decoder's test declaration (tests/models/specs/),
no checkpoint, no network, no transformers:
- `cache_implementation="static"` (uncompiled): the same greedy tokens and logits within 1e-5
  as the default dynamic cache, for every text decoder, with a left-padded batch whose rows
  outgrow the sliding window (Mistral, Gemma2) so the static mask's window and padding count;
  beam search and sampling run on it too;
- `compile=True`: the same greedy tokens and logits within 1e-5 as the default path, for Llama
  (sdpa) and Gemma2 (eager: softcapping, alternating sliding layers), the compiled step reused
  by another model of the same shapes (its own weights) and a deep copy; skipped, with torch's reason, where torch.compile cannot build code
  (inductor needs a C++ compiler on a CPU);
- the StaticCache itself: slots move on per step, the mask hides unwritten slots, a full cache
  and a bad `compile` value are refused by name.
Run: python -m pytest tests/runtime/test_generation_compile.py -q
"""

from __future__ import annotations

import copy
import functools
from typing import Any

import pytest
import torch
from torch._dynamo.utils import counters

from runtime.cache import StaticCache
from runtime.generation_config import GenerationError
from runtime.masks import create_causal_mask
from tests.models.helpers import assert_close, padded_batch, tiny_llama_kwargs
from tests.models.specs import TEXT, ModelSpec, declared_specs, spec_of

SPECS = declared_specs(TEXT)
GREEDY = {"max_new_tokens": 10, "eos_token_id": [], "return_dict_in_generate": True, "output_logits": True}


def tiny_model(spec: ModelSpec, attn: str | None = None, seed: int = 0) -> Any:
    torch.manual_seed(seed)
    config = spec.ours("Config")(**tiny_llama_kwargs(num_hidden_layers=3, **spec.config))
    if attn is not None:
        config._attn_implementation = attn
    return spec.ours("ForCausalLM")(config).eval()


def assert_same_generation(actual: Any, expected: Any, what: str) -> None:
    assert actual.sequences.tolist() == expected.sequences.tolist(), what
    for step, (ours, theirs) in enumerate(zip(actual.logits, expected.logits, strict=True)):
        assert_close(ours, theirs, atol=1e-5, what=f"{what} logits at step {step}")


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.model)
def test_static_cache_matches_the_dynamic_cache(spec: ModelSpec) -> None:
    model = tiny_model(spec)
    input_ids, mask = padded_batch(99, [9, 4, 1])  # 9 + 10 tokens outgrow a window of 5
    expected = model.generate(input_ids, attention_mask=mask, **GREEDY)
    actual = model.generate(input_ids, attention_mask=mask, cache_implementation="static", **GREEDY)
    assert_same_generation(actual, expected, f"{spec.model} static cache")


def test_static_cache_runs_beam_search_and_sampling() -> None:
    model = tiny_model(spec_of("llama"))
    input_ids, mask = padded_batch(99, [6, 3])
    beams = {"num_beams": 3, "max_new_tokens": 6, "eos_token_id": []}
    expected = model.generate(input_ids, attention_mask=mask, **beams)
    assert model.generate(input_ids, attention_mask=mask, cache_implementation="static", **beams).tolist() == (
        expected.tolist()
    )
    sampled = model.generate(
        input_ids, attention_mask=mask, do_sample=True, max_new_tokens=6, eos_token_id=[],
        cache_implementation="static", generator=torch.Generator().manual_seed(0),
    )  # fmt: skip
    assert sampled.shape == (2, 12)


@functools.cache
def compile_unavailable() -> str | None:
    """Why torch.compile cannot build code here, or None when it can."""
    try:
        torch.compile(lambda x: x.sin() + 1)(torch.ones(3))
    except Exception as error:  # the backend's own failure (no C++ compiler, no Triton, ...)
        return f"torch.compile cannot build code here: {type(error).__name__}: {str(error)[:200]}"
    return None


@pytest.mark.parametrize(("model_name", "attn"), [("llama", "sdpa"), ("gemma2", "eager")])
def test_compiled_decode_matches_the_default_path(model_name: str, attn: str) -> None:
    reason = compile_unavailable()
    if reason is not None:
        pytest.skip(reason)
    model = tiny_model(spec_of(model_name), attn)
    input_ids, mask = padded_batch(99, [9, 4, 1])
    expected = model.generate(input_ids, attention_mask=mask, **GREEDY)
    actual = model.generate(input_ids, attention_mask=mask, compile=True, **GREEDY)
    assert_same_generation(actual, expected, f"{model_name} compiled")
    graphs = counters["stats"]["unique_graphs"]
    twin = tiny_model(spec_of(model_name), attn, seed=1)  # another instance, other weights, same shapes
    again = twin.generate(input_ids, attention_mask=mask, compile=True, **GREEDY)
    assert counters["stats"]["unique_graphs"] == graphs  # the compiled step is reused, not traced again
    assert_same_generation(again, twin.generate(input_ids, attention_mask=mask, **GREEDY), f"{model_name} twin")
    copied = copy.deepcopy(model)
    with torch.no_grad():
        for parameter in copied.parameters():
            parameter.mul_(0.5)
    halved = copied.generate(input_ids, attention_mask=mask, compile=True, **GREEDY)
    assert_same_generation(halved, copied.generate(input_ids, attention_mask=mask, **GREEDY), "a deep copy")


def test_static_cache_moves_its_slots_and_masks_unwritten_ones() -> None:
    config = spec_of("llama").ours("Config")(**tiny_llama_kwargs())
    cache = StaticCache(config, max_cache_len=8)
    states = torch.randn(1, 2, 3, 4)
    cache.begin_step(3)
    keys, _ = cache.update(states, states, 0)
    assert keys.shape == (1, 2, 8, 4) and torch.equal(keys[:, :, :3], states) and not keys[:, :, 3:].any()
    cache.begin_step(1)
    cache.begin_step(1)  # no forward in between: the slot still moves on
    assert cache.cache_position.tolist() == [4] and cache.get_seq_length() == 5
    config._attn_implementation = "sdpa"
    mask = create_causal_mask(config, torch.zeros(1, 1, 8), torch.tensor([[0, 1, 1, 1, 1, 1, 1, 1]]), cache)
    assert mask[0, 0, 0].tolist() == [False, True, True, True, True, False, False, False]
    with pytest.raises(ValueError, match="holds 8 tokens; 5 are written and the step adds 4"):
        cache.begin_step(4)


def test_compile_must_be_a_bool() -> None:
    model = tiny_model(spec_of("llama"))
    with pytest.raises(GenerationError, match="compile must be True or False, got 'yes'"):
        model.generate(torch.tensor([[5, 6]]), compile="yes")
