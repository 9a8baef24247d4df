"""Every generated text decoder behaves exactly like its modular definition (the overlay oracle).

The models are the modular files with a TEXT declaration (tests/models/specs/). For each,
hypothesis draws tiny valid configs (layers, heads, key/value heads, head_dim, vocab, tied
embeddings, one of the model's declared rope types, and its declared switches: Gemma2's
softcapping, Qwen2's window layers, Mixtral's experts, ...), one of its declared backends, and
inputs (batch, lengths, left padding). For each draw the overlay model (tests/equivalence/overlay.py,
built without the converter) and the generated model must have identical state_dict keys and
shapes, and with the same weights give bit-identical outputs (torch.equal, CPU fp32: logits, loss
and every other tensor the model returns, such as router logits) for a full forward with labels,
and bit-identical logits for cached step-by-step decoding.
Run: python -m pytest tests/equivalence/test_models.py -q
"""

from __future__ import annotations

import dataclasses
import importlib
from functools import cache
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.equivalence.overlay import build_overlay
from tests.models.helpers import decode_in_steps, rope_parameters
from tests.models.specs import TEXT, ModelSpec, declared_specs, set_dotted

SPECS = declared_specs(TEXT)
EXAMPLES = 8


@cache
def overlay(model: str) -> dict[str, object]:
    return build_overlay(model)


@st.composite
def configs(draw: st.DrawFn, spec: ModelSpec) -> dict[str, Any]:
    """Config kwargs every text model reads, then the model's declared switches."""
    kv_heads = draw(st.sampled_from([1, 2]))
    heads = kv_heads * draw(st.sampled_from([1, 2]))
    head_dim = draw(st.sampled_from([4, 8]))
    kwargs = {
        "vocab_size": draw(st.integers(8, 40)),
        "hidden_size": heads * head_dim,
        "intermediate_size": draw(st.integers(4, 24)),
        "num_hidden_layers": draw(st.integers(1, 3)),
        "num_attention_heads": heads,
        "num_key_value_heads": kv_heads,
        "head_dim": head_dim,
        "max_position_embeddings": 16,
        "rope_parameters": rope_parameters(draw(st.sampled_from(spec.rope_types)), head_dim),
        "tie_word_embeddings": draw(st.booleans()),
        "initializer_range": 0.5,
        "pad_token_id": 0,
    }
    for name, value in spec.draw_switches(draw).items():
        set_dotted(kwargs, name, value)
    return kwargs


@st.composite
def batches(draw: st.DrawFn, vocab_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = draw(st.lists(st.integers(1, 9), min_size=1, max_size=3))
    width = max(lengths)
    seed = draw(st.integers(0, 2**16))
    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(1, vocab_size, (len(lengths), width), generator=generator)
    mask = torch.zeros(len(lengths), width, dtype=torch.long)
    for row, length in enumerate(lengths):
        mask[row, width - length :] = 1
    return input_ids.masked_fill(mask == 0, 0), mask


def build_pair(spec: ModelSpec, kwargs: dict[str, Any], attn: str) -> tuple[torch.nn.Module, torch.nn.Module]:
    """The overlay causal LM and the generated one, with the same weights, in eval mode."""
    generated = importlib.import_module(f"generated.{spec.model}")
    namespace = overlay(spec.model)
    config, model = spec.class_name("Config"), spec.class_name("ForCausalLM")
    torch.manual_seed(0)
    reference = namespace[model](namespace[config](attn_implementation=attn, **kwargs))
    ours = getattr(generated, model)(getattr(generated, config)(attn_implementation=attn, **kwargs))
    expected_shapes = {name: tuple(t.shape) for name, t in reference.state_dict().items()}
    assert {name: tuple(t.shape) for name, t in ours.state_dict().items()} == expected_shapes
    ours.load_state_dict(reference.state_dict())
    return reference.eval(), ours.eval()


def identical(mine: torch.Tensor, theirs: torch.Tensor) -> bool:
    """Bit-identical, NaN included (the loss of a one-token prompt has no label to predict: NaN)."""
    same_kind = mine.shape == theirs.shape and mine.dtype == theirs.dtype
    return same_kind and torch.allclose(mine, theirs, rtol=0.0, atol=0.0, equal_nan=True)


def assert_outputs_equal(actual: Any, expected: Any) -> None:
    """Every tensor field of two model outputs (and tensors in tuple fields) is bit-identical."""
    for field in dataclasses.fields(expected):
        mine, theirs = getattr(actual, field.name), getattr(expected, field.name)
        if isinstance(theirs, torch.Tensor):
            assert identical(mine, theirs), f"{field.name} differs"
        elif isinstance(theirs, (tuple, list)) and all(isinstance(t, torch.Tensor) for t in theirs):
            assert len(mine) == len(theirs), f"{field.name}: {len(mine)} tensors vs {len(theirs)}"
            assert all(identical(m, t) for m, t in zip(mine, theirs, strict=True)), f"{field.name} differs"
        elif theirs is None:
            assert mine is None, f"{field.name}: the overlay returns None"


def decode_steps(model: torch.nn.Module, input_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Logits of a prefill of half the prompt, then one cached step per remaining token."""
    return decode_in_steps(model, input_ids, mask, split=max(1, input_ids.shape[1] // 2))


@pytest.mark.parametrize("spec", [pytest.param(spec, id=spec.model) for spec in SPECS])
@settings(
    max_examples=EXAMPLES, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(data=st.data())
def test_generated_model_equals_overlay(spec: ModelSpec, data: st.DataObject) -> None:
    kwargs = data.draw(configs(spec))
    reference, ours = build_pair(spec, kwargs, data.draw(st.sampled_from(spec.backends)))
    input_ids, mask = data.draw(batches(kwargs["vocab_size"]))
    labels = input_ids.masked_fill(mask == 0, -100)
    with torch.no_grad():
        assert_outputs_equal(
            ours(input_ids, attention_mask=mask, labels=labels),
            reference(input_ids, attention_mask=mask, labels=labels),
        )
        assert torch.equal(decode_steps(ours, input_ids, mask), decode_steps(reference, input_ids, mask))
