"""Llama-only parity with transformers 5.23.0 (the test-only oracle), on tiny random checkpoints.

What every text model shares (default rope, bf16, cache, task heads, loss, our checkpoints in
transformers) is in test_text_family.py, Llama included. Here: logits within 1e-5 (fp32) for eager
and sdpa over GQA/MHA, every rope type, tied and untied embeddings; greedy tokens with llama3 rope;
generation stopping at an end-of-sequence token; a tied checkpoint of ours loads in transformers;
eager and sdpa agree.
Run: python -m pytest tests/models/test_llama.py -q
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from generated.llama import LlamaForCausalLM
from tests.models.helpers import ROPE_VARIANTS, assert_close, padded_batch, reference_checkpoint, tiny_llama_kwargs

transformers = pytest.importorskip("transformers")

CASES = [
    pytest.param(dict(num_key_value_heads=kv, tie_word_embeddings=tied), rope, id=f"kv{kv}-{rope}-tied{int(tied)}")
    for kv in (1, 4)
    for rope in ROPE_VARIANTS
    for tied in (False, True)
    if kv == 1 or rope in ("default", "llama3")
]


@pytest.mark.parametrize("attn", ["eager", "sdpa"])
@pytest.mark.parametrize(("overrides", "rope"), CASES)
def test_logits_match_reference(tmp_path: Path, overrides: dict, rope: str, attn: str) -> None:
    kwargs = tiny_llama_kwargs(rope_parameters=dict(ROPE_VARIANTS[rope]), **overrides)
    reference = reference_checkpoint(tmp_path, "LlamaForCausalLM", model_type="llama", **kwargs)
    reference.set_attn_implementation(attn)
    ours = LlamaForCausalLM.from_pretrained(tmp_path / "ref", attn_implementation=attn)
    # 40 tokens > max_position_embeddings (32), so dynamic rope rescales
    input_ids, mask = padded_batch(kwargs["vocab_size"], [40, 27])
    with torch.no_grad():
        expected = reference(input_ids=input_ids, attention_mask=mask).logits
        actual = ours(input_ids=input_ids, attention_mask=mask).logits
    real = mask.bool()  # left-padding positions have no defined output
    assert_close(actual[real], expected[real], what=f"logits ({attn})")


@pytest.mark.parametrize("attn", ["eager", "sdpa"])
def test_greedy_generation_with_llama3_rope_matches_reference(tmp_path: Path, attn: str) -> None:
    kwargs = tiny_llama_kwargs(rope_parameters=dict(ROPE_VARIANTS["llama3"]), max_position_embeddings=64)
    reference = reference_checkpoint(tmp_path, "LlamaForCausalLM", model_type="llama", seed=1, **kwargs)
    reference.set_attn_implementation(attn)
    ours = LlamaForCausalLM.from_pretrained(tmp_path / "ref", attn_implementation=attn)
    input_ids, mask = padded_batch(kwargs["vocab_size"], [9, 4], seed=3)
    expected = reference.generate(input_ids, attention_mask=mask, max_new_tokens=20, do_sample=False, pad_token_id=0)
    actual = ours.generate(input_ids, attention_mask=mask, max_new_tokens=20)
    assert actual.tolist() == expected.tolist()


def test_generation_stops_at_eos_and_pads_finished_rows(tmp_path: Path) -> None:
    kwargs = tiny_llama_kwargs()
    reference = reference_checkpoint(tmp_path, "LlamaForCausalLM", model_type="llama", seed=2, **kwargs)
    ours = LlamaForCausalLM.from_pretrained(tmp_path / "ref")
    input_ids, mask = padded_batch(kwargs["vocab_size"], [6, 3], seed=5)
    free = ours.generate(input_ids, attention_mask=mask, max_new_tokens=10, eos_token_id=[])
    eos = int(free[0, 6 + 2])  # pretend the third generated token of row 0 is the end of sequence
    expected = reference.generate(input_ids, attention_mask=mask, max_new_tokens=10, eos_token_id=eos, pad_token_id=0)
    actual = ours.generate(input_ids, attention_mask=mask, max_new_tokens=10, eos_token_id=eos, pad_token_id=0)
    assert actual.tolist() == expected.tolist()


def test_tied_checkpoint_loads_in_transformers(tmp_path: Path) -> None:
    kwargs = tiny_llama_kwargs(tie_word_embeddings=True)
    reference_checkpoint(tmp_path, "LlamaForCausalLM", model_type="llama", **kwargs)
    ours = LlamaForCausalLM.from_pretrained(tmp_path / "ref")
    ours.save_pretrained(tmp_path / "ours")
    theirs = transformers.LlamaForCausalLM.from_pretrained(tmp_path / "ours").eval()
    input_ids, mask = padded_batch(kwargs["vocab_size"], [12, 7])
    with torch.no_grad():
        assert_close(
            ours(input_ids, attention_mask=mask).logits[mask.bool()],
            theirs(input_ids, attention_mask=mask).logits[mask.bool()],
            what="logits",
        )


def test_eager_matches_sdpa(tmp_path: Path) -> None:
    reference_checkpoint(tmp_path, "LlamaForCausalLM", model_type="llama", **tiny_llama_kwargs())
    eager = LlamaForCausalLM.from_pretrained(tmp_path / "ref", attn_implementation="eager")
    sdpa = LlamaForCausalLM.from_pretrained(tmp_path / "ref", attn_implementation="sdpa")
    input_ids, mask = padded_batch(99, [15, 9, 1], seed=11)
    with torch.no_grad():
        assert_close(
            eager(input_ids, attention_mask=mask).logits[mask.bool()],
            sdpa(input_ids, attention_mask=mask).logits[mask.bool()],
            what="eager vs sdpa",
        )
