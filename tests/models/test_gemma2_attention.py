"""Gemma2's softcapped attention in every backend, at lengths past the chunks and the window.

tests/models/test_text_family.py already compares each declared backend (eager, eager_chunked,
sdpa, flex_attention) with transformers' eager on short left-padded prompts longer than the
window. Here, on a tiny Gemma2 with a window of 5 and prompts of up to 300 tokens (three query
chunks of eager_chunked, sixty windows): logits within 1e-5 of transformers' eager and of our
eager, identical greedy tokens, cached decoding (one query over a long key cache) equal to a
full forward; the default backend is eager_chunked, and sdpa runs it with a warning. The flex
tests use torch's uncompiled flex_attention (tests/conftest.py): the compiled kernel is opt-in
and not tested here (runtime/flex.py).
Run: python -m pytest tests/models/test_gemma2_attention.py -q
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
import torch

from tests.models.helpers import assert_close, decode_in_steps, padded_batch, reference_checkpoint, tiny_llama_kwargs
from tests.models.specs import spec_of

transformers = pytest.importorskip("transformers")

SPEC = spec_of("gemma2")
EXACT = ("eager", "eager_chunked", "sdpa", "flex_attention")
LONG = [300, 170]  # left-padded: the second row starts after 130 padding tokens


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random transformers Gemma2 (3 layers: sliding, global, sliding; window 5, softcap 2)."""
    path = tmp_path_factory.mktemp("gemma2")
    kwargs = tiny_llama_kwargs(num_hidden_layers=3, max_position_embeddings=512, **SPEC.config)
    reference_checkpoint(path, "Gemma2ForCausalLM", model_type="gemma2", seed=4, **kwargs)
    return path / "ref"


def ours(checkpoint: Path, attn: str | None) -> Any:
    kwargs = {} if attn is None else {"attn_implementation": attn}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # sdpa's "runs eager_chunked" notice
        return SPEC.ours("ForCausalLM").from_pretrained(checkpoint, **kwargs)


def logits(model: Any, input_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return model(input_ids, attention_mask=mask, use_cache=False).logits


def test_default_is_eager_chunked_and_sdpa_runs_it(checkpoint: Path) -> None:
    assert ours(checkpoint, None).config._attn_implementation == "eager_chunked"
    sdpa, chunked = ours(checkpoint, "sdpa"), ours(checkpoint, "eager_chunked")
    input_ids, mask = padded_batch(99, [9, 4])
    with torch.no_grad(), pytest.warns(UserWarning, match="cannot apply attention logit softcapping.*eager_chunked"):
        actual = sdpa(input_ids, attention_mask=mask, use_cache=False).logits
    assert torch.equal(actual, logits(chunked, input_ids, mask))


@pytest.mark.parametrize("attn", EXACT)
def test_long_padded_logits_match_transformers_and_our_eager(checkpoint: Path, attn: str) -> None:
    input_ids, mask = padded_batch(99, LONG, seed=2)
    reference = transformers.Gemma2ForCausalLM.from_pretrained(checkpoint).eval()
    reference.set_attn_implementation("eager")
    with torch.no_grad():
        expected = reference(input_ids, attention_mask=mask).logits
    actual = logits(ours(checkpoint, attn), input_ids, mask)
    real = mask.bool()
    assert_close(actual[real], expected[real], what=f"gemma2 {attn} logits vs transformers")
    eager = logits(ours(checkpoint, "eager"), input_ids, mask)
    assert_close(actual[real], eager[real], what=f"gemma2 {attn} logits vs our eager")


@pytest.mark.parametrize("attn", EXACT)
def test_cached_decoding_matches_full_forward(checkpoint: Path, attn: str) -> None:
    """A cached prefill of 140 tokens, then one query at a time over the long cache."""
    model = ours(checkpoint, attn)
    input_ids, mask = padded_batch(99, [150, 60], seed=5)
    full = logits(model, input_ids, mask)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        incremental = decode_in_steps(model, input_ids, mask, split=140)
    real = mask.bool()
    assert_close(incremental[real], full[real], atol=5e-5, what=f"gemma2 {attn} cached logits")


@pytest.mark.parametrize("attn", ["eager_chunked", "sdpa"])
def test_long_prompt_greedy_tokens_match_transformers(checkpoint: Path, attn: str) -> None:
    input_ids, mask = padded_batch(99, [150, 90], seed=6)
    reference = transformers.Gemma2ForCausalLM.from_pretrained(checkpoint).eval()
    reference.set_attn_implementation("eager")
    expected = reference.generate(input_ids, attention_mask=mask, max_new_tokens=10, do_sample=False, pad_token_id=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        actual = ours(checkpoint, attn).generate(input_ids, attention_mask=mask, max_new_tokens=10)
    assert actual.tolist() == expected.tolist()
