"""Every text decoder (a modular file with a TEXT declaration in tests/models/specs/) matches
transformers 5.23.0.

For each model, on tiny random checkpoints saved by transformers: logits within 1e-5 in fp32 for
every backend the model declares (against transformers' same backend for eager and sdpa where it
has it, else against its eager), with left padding and sequences longer than the sliding window;
in bfloat16, logits within the model's declared `bf16_atol` (or its per-backend one) and the same greedy tokens; identical
greedy tokens in fp32 for left-padded batches whose prompts exceed the window; our checkpoints
load in transformers; every declared task head and the causal LM loss (with the model's
`loss_config`) match. Cache vs no-cache needs no reference and runs for every model. A model whose
declaration has no transformers reference skips the parity tests with the declared reason.
Run: python -m pytest tests/models/test_text_family.py -q
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from tests.models.helpers import assert_close, decode_in_steps, padded_batch, reference_checkpoint, tiny_llama_kwargs
from tests.models.specs import TEXT, ModelSpec, declared_specs

transformers = pytest.importorskip("transformers")

SPECS = declared_specs(TEXT)
# the output fields a task head is compared on
HEAD_FIELDS = {"ForQuestionAnswering": ("start_logits", "end_logits")}


def parity_marks(spec: ModelSpec) -> list[pytest.MarkDecorator]:
    """Skip the parity tests of a model transformers does not have, with the declared reason."""
    return [] if spec.reference is not None else [pytest.mark.skip(reason=spec.no_reference)]


MODELS = [pytest.param(spec, id=spec.model, marks=parity_marks(spec)) for spec in SPECS]
BACKENDS = [
    pytest.param(spec, attn, id=f"{spec.model}-{attn}", marks=parity_marks(spec))
    for spec in SPECS
    for attn in spec.backends
]
HEADS = [
    pytest.param(spec, head, id=f"{spec.model}-{head}", marks=parity_marks(spec))
    for spec in SPECS
    for head in spec.heads
]


def tiny_kwargs(spec: ModelSpec, **overrides: Any) -> dict[str, Any]:
    """The model's tiny parity config: 3 layers (so window patterns repeat), its declared overrides."""
    return tiny_llama_kwargs(num_hidden_layers=3, **{**spec.config, **overrides})


def reference_backend(reference: Any, attn: str) -> str:
    """transformers' backend to compare our `attn` with: the same name for eager, and for sdpa
    where the reference model has sdpa; its eager (the reference math) otherwise: eager_chunked
    is ours alone, transformers' Gemma2 has no sdpa, and its flex_attention compiles."""
    if attn == "eager" or (attn == "sdpa" and getattr(reference, "_supports_sdpa", False)):
        return attn
    return "eager"


def load_pair(
    tmp_path: Path, spec: ModelSpec, attn: str, seed: int = 0, dtype: torch.dtype = torch.float32, **overrides: Any
) -> tuple[Any, Any]:
    """A random transformers causal LM saved by transformers, and it loaded by both, in `dtype`."""
    kwargs = tiny_kwargs(spec, **overrides)
    reference_checkpoint(tmp_path, spec.reference_name("ForCausalLM"), model_type=spec.model, seed=seed, **kwargs)
    reference = spec.theirs("ForCausalLM").from_pretrained(tmp_path / "ref", dtype=dtype).eval()
    reference.set_attn_implementation(reference_backend(reference, attn))
    ours = spec.ours("ForCausalLM").from_pretrained(tmp_path / "ref", dtype=dtype, attn_implementation=attn)
    return reference, ours


@pytest.mark.parametrize(("spec", "attn"), BACKENDS)
def test_logits_match_reference(tmp_path: Path, spec: ModelSpec, attn: str) -> None:
    reference, model = load_pair(tmp_path, spec, attn)
    input_ids, mask = padded_batch(99, [13, 8, 3])
    with torch.no_grad():
        expected = reference(input_ids=input_ids, attention_mask=mask).logits
        actual = model(input_ids=input_ids, attention_mask=mask).logits
    assert_close(actual[mask.bool()], expected[mask.bool()], what=f"{spec.model} logits ({attn})")


@pytest.mark.parametrize(("spec", "attn"), BACKENDS)
def test_bf16_matches_reference(tmp_path: Path, spec: ModelSpec, attn: str) -> None:
    """In bfloat16: logits within the declared tolerance, and the same greedy tokens."""
    reference, model = load_pair(tmp_path, spec, attn, dtype=torch.bfloat16)
    input_ids, mask = padded_batch(99, [13, 8, 3])
    with torch.no_grad():
        expected = reference(input_ids=input_ids, attention_mask=mask).logits
        actual = model(input_ids=input_ids, attention_mask=mask).logits
    assert actual.dtype == expected.dtype == torch.bfloat16
    atol = spec.bf16_atol_by_backend.get(attn, spec.bf16_atol)
    assert_close(actual[mask.bool()], expected[mask.bool()], atol=atol, what=f"{spec.model} bf16 logits ({attn})")
    input_ids, mask = padded_batch(99, [11, 6], seed=3)
    expected = reference.generate(input_ids, attention_mask=mask, max_new_tokens=20, do_sample=False, pad_token_id=0)
    assert model.generate(input_ids, attention_mask=mask, max_new_tokens=20).tolist() == expected.tolist()


@pytest.mark.parametrize(("spec", "attn"), BACKENDS)
def test_greedy_generation_matches_reference(tmp_path: Path, spec: ModelSpec, attn: str) -> None:
    reference, model = load_pair(tmp_path, spec, attn, seed=1)
    input_ids, mask = padded_batch(99, [11, 6], seed=3)  # both longer than the windows of 5
    expected = reference.generate(input_ids, attention_mask=mask, max_new_tokens=20, do_sample=False, pad_token_id=0)
    actual = model.generate(input_ids, attention_mask=mask, max_new_tokens=20)
    assert actual.tolist() == expected.tolist()


@pytest.mark.parametrize("spec", [pytest.param(spec, id=spec.model) for spec in SPECS])
def test_cache_matches_no_cache(spec: ModelSpec) -> None:
    """Our model alone (no reference needed): cached step-by-step logits equal a full forward's."""
    torch.manual_seed(0)
    config = spec.ours("Config")(attn_implementation=spec.backends[-1], **tiny_kwargs(spec))
    model = spec.ours("ForCausalLM")(config).eval()
    input_ids, mask = padded_batch(99, [12, 7], seed=7)
    with torch.no_grad():
        full = model(input_ids, attention_mask=mask, use_cache=False).logits
        incremental = decode_in_steps(model, input_ids, mask, split=6)
    assert_close(incremental[mask.bool()], full[mask.bool()], atol=5e-5, what=f"{spec.model} cached logits")


@pytest.mark.parametrize("spec", MODELS)
def test_our_checkpoint_loads_in_transformers(tmp_path: Path, spec: ModelSpec) -> None:
    attn = spec.backends[0]
    _, model = load_pair(tmp_path, spec, attn)
    model.save_pretrained(tmp_path / "ours")
    theirs = spec.theirs("ForCausalLM").from_pretrained(tmp_path / "ours").eval()
    theirs.set_attn_implementation(attn)
    input_ids, mask = padded_batch(99, [9, 4], seed=5)
    with torch.no_grad():
        assert_close(
            model(input_ids, attention_mask=mask).logits[mask.bool()],
            theirs(input_ids, attention_mask=mask).logits[mask.bool()],
            what=f"{spec.model} logits",
        )


@pytest.mark.parametrize(("spec", "head"), HEADS)
def test_task_head_matches_reference(tmp_path: Path, spec: ModelSpec, head: str) -> None:
    kwargs = tiny_kwargs(spec, num_labels=3)
    reference = reference_checkpoint(tmp_path, spec.reference_name(head), model_type=spec.model, **kwargs)
    reference.set_attn_implementation("eager")
    model = spec.ours(head).from_pretrained(tmp_path / "ref", attn_implementation="eager")
    input_ids, mask = padded_batch(99, [8, 5], seed=13)
    with torch.no_grad():
        expected, actual = reference(input_ids, attention_mask=mask), model(input_ids, attention_mask=mask)
    for field in HEAD_FIELDS.get(head, ("logits",)):
        mine, theirs = getattr(actual, field), getattr(expected, field)
        if theirs.shape[:2] == mask.shape:  # per-token outputs are defined at real tokens only
            mine, theirs = mine[mask.bool()], theirs[mask.bool()]
        assert_close(mine, theirs, what=f"{spec.class_name(head)}.{field}")


@pytest.mark.parametrize("spec", MODELS)
def test_causal_lm_loss_matches_reference(tmp_path: Path, spec: ModelSpec) -> None:
    """The loss, and the auxiliary loss where the reference returns one (Mixtral's load balancing)."""
    reference, model = load_pair(tmp_path, spec, spec.backends[0], **spec.loss_config)
    input_ids, mask = padded_batch(99, [10, 6], seed=17)
    # right padding: with left padding the first real label is predicted from a padding position,
    # whose output is undefined in both implementations
    input_ids, mask = input_ids.flip(-1), mask.flip(-1)
    labels = input_ids.masked_fill(mask == 0, -100)
    with torch.no_grad():
        expected = reference(input_ids, attention_mask=mask, labels=labels)
        actual = model(input_ids, attention_mask=mask, labels=labels)
    assert_close(actual.loss, expected.loss, what=f"{spec.model} loss")
    if getattr(expected, "aux_loss", None) is not None:
        assert_close(actual.aux_loss, expected.aux_loss, what=f"{spec.model} aux_loss")
