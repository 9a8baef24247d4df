"""Mistral, Qwen2, Gemma and Gemma2 (each a short modular file over Llama) match transformers 5.23.0.

For each model, on tiny random checkpoints saved by transformers: logits within 1e-5 (fp32) for
every backend the model supports, with left padding and sequences longer than the sliding
window; identical greedy tokens for left-padded batches whose prompts exceed the window; cache
vs no-cache; our checkpoints load in transformers. Gemma2's softcapping refuses sdpa loudly.
Run: python -m pytest tests/models/test_text_family.py -q
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
import torch

from tests.models.helpers import assert_close, decode_in_steps, padded_batch, reference_checkpoint, tiny_llama_kwargs

transformers = pytest.importorskip("transformers")

# model_type -> (class prefix, config overrides, backends)
MODELS: dict[str, tuple[str, dict[str, Any], tuple[str, ...]]] = {
    "mistral": ("Mistral", {"sliding_window": 5}, ("eager", "sdpa")),
    "qwen2": ("Qwen2", {"use_sliding_window": True, "sliding_window": 5, "max_window_layers": 1}, ("eager", "sdpa")),
    "gemma": ("Gemma", {"head_dim": 16}, ("eager", "sdpa")),
    "gemma2": (
        "Gemma2",
        {
            "sliding_window": 5,
            "head_dim": 8,
            "query_pre_attn_scalar": 12,
            "attn_logit_softcapping": 2.0,
            "final_logit_softcapping": 3.0,
        },
        ("eager",),
    ),
}
CASES = [pytest.param(model, attn, id=f"{model}-{attn}") for model, spec in MODELS.items() for attn in spec[2]]


def kwargs_for(model_type: str) -> dict[str, Any]:
    return tiny_llama_kwargs(num_hidden_layers=3, **MODELS[model_type][1])


def ours(model_type: str, suffix: str) -> type:
    module = importlib.import_module(f"generated.{model_type}")
    return getattr(module, MODELS[model_type][0] + suffix)


def load_pair(tmp_path: Path, model_type: str, attn: str, seed: int = 0) -> tuple[Any, Any]:
    name = MODELS[model_type][0] + "ForCausalLM"
    reference = reference_checkpoint(tmp_path, name, model_type=model_type, seed=seed, **kwargs_for(model_type))
    reference.set_attn_implementation(attn)
    return reference, ours(model_type, "ForCausalLM").from_pretrained(tmp_path / "ref", attn_implementation=attn)


@pytest.mark.parametrize(("model_type", "attn"), CASES)
def test_logits_match_reference(tmp_path: Path, model_type: str, attn: str) -> None:
    reference, model = load_pair(tmp_path, model_type, attn)
    input_ids, mask = padded_batch(99, [13, 8, 3])
    with torch.no_grad():
        expected = reference(input_ids=input_ids, attention_mask=mask).logits
        actual = model(input_ids=input_ids, attention_mask=mask).logits
    assert_close(actual[mask.bool()], expected[mask.bool()], what=f"{model_type} logits ({attn})")


@pytest.mark.parametrize(("model_type", "attn"), CASES)
def test_greedy_generation_matches_reference(tmp_path: Path, model_type: str, attn: str) -> None:
    reference, model = load_pair(tmp_path, model_type, attn, seed=1)
    input_ids, mask = padded_batch(99, [11, 6], seed=3)  # both longer than the window of 5
    expected = reference.generate(input_ids, attention_mask=mask, max_new_tokens=20, do_sample=False, pad_token_id=0)
    actual = model.generate(input_ids, attention_mask=mask, max_new_tokens=20)
    assert actual.tolist() == expected.tolist()


@pytest.mark.parametrize("model_type", list(MODELS))
def test_cache_matches_no_cache(tmp_path: Path, model_type: str) -> None:
    _, model = load_pair(tmp_path, model_type, MODELS[model_type][2][-1])
    input_ids, mask = padded_batch(99, [12, 7], seed=7)
    with torch.no_grad():
        full = model(input_ids, attention_mask=mask, use_cache=False).logits
        incremental = decode_in_steps(model, input_ids, mask, split=6)
    assert_close(incremental[mask.bool()], full[mask.bool()], atol=5e-5, what=f"{model_type} cached logits")


@pytest.mark.parametrize("model_type", list(MODELS))
def test_our_checkpoint_loads_in_transformers(tmp_path: Path, model_type: str) -> None:
    attn = MODELS[model_type][2][0]
    _, model = load_pair(tmp_path, model_type, attn)
    model.save_pretrained(tmp_path / "ours")
    theirs = getattr(transformers, MODELS[model_type][0] + "ForCausalLM").from_pretrained(tmp_path / "ours").eval()
    theirs.set_attn_implementation(attn)
    input_ids, mask = padded_batch(99, [9, 4], seed=5)
    with torch.no_grad():
        assert_close(
            model(input_ids, attention_mask=mask).logits[mask.bool()],
            theirs(input_ids, attention_mask=mask).logits[mask.bool()],
            what=f"{model_type} logits",
        )


def test_gemma2_defaults_to_eager_and_refuses_sdpa_with_softcapping(tmp_path: Path) -> None:
    reference_checkpoint(tmp_path, "Gemma2ForCausalLM", model_type="gemma2", **kwargs_for("gemma2"))
    model_class = ours("gemma2", "ForCausalLM")
    assert model_class.from_pretrained(tmp_path / "ref").config._attn_implementation == "eager"
    sdpa = model_class.from_pretrained(tmp_path / "ref", attn_implementation="sdpa")
    with pytest.raises(ValueError, match="softcapping"):
        sdpa(torch.tensor([[3, 4, 5]]))


@pytest.mark.parametrize("model_type", list(MODELS))
def test_sequence_classification_head_matches_reference(tmp_path: Path, model_type: str) -> None:
    name = MODELS[model_type][0] + "ForSequenceClassification"
    reference = reference_checkpoint(tmp_path, name, model_type=model_type, num_labels=3, **kwargs_for(model_type))
    reference.set_attn_implementation("eager")
    model = ours(model_type, "ForSequenceClassification").from_pretrained(
        tmp_path / "ref", attn_implementation="eager"
    )
    input_ids, mask = padded_batch(99, [8, 5], seed=13)
    with torch.no_grad():
        assert_close(
            model(input_ids, attention_mask=mask).logits,
            reference(input_ids, attention_mask=mask).logits,
            what=f"{model_type} classifier logits",
        )
