"""Every generated model behaves exactly like its modular definition (the overlay oracle).

For each modular model, hypothesis draws tiny valid configs (layers, heads, key/value heads,
head_dim, vocab, rope type, sliding window, softcapping, tied embeddings) and inputs (batch,
lengths, left padding). For each draw the overlay model (tests/equivalence/overlay.py, built
without the converter) and the generated model must have identical state_dict keys and shapes,
and with the same weights give bit-identical logits (torch.equal, CPU fp32) for a full forward
and for cached step-by-step decoding.
Run: python -m pytest tests/equivalence -q
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.equivalence.overlay import MODULAR_DIR, build_overlay, camel_prefix
from tests.models.helpers import ROPE_VARIANTS, decode_in_steps

# the decoder-only text models (vision-language models have their own file, test_vision_models.py)
MODELS = sorted(
    path.stem.removeprefix("modular_")
    for path in MODULAR_DIR.glob("modular_*.py")
    if "ForCausalLM(" in path.read_text()
)
EXAMPLES = 8


@cache
def overlay(model: str) -> dict[str, object]:
    return build_overlay(model)


@st.composite
def configs(draw: st.DrawFn, model: str) -> dict[str, Any]:
    """Config kwargs valid for every model; fields a model does not declare are kept as extras."""
    kv_heads = draw(st.sampled_from([1, 2]))
    heads = kv_heads * draw(st.sampled_from([1, 2]))
    head_dim = draw(st.sampled_from([4, 8]))
    rope = dict(ROPE_VARIANTS[draw(st.sampled_from(sorted(ROPE_VARIANTS)))])
    window = draw(st.integers(2, 6))
    return {
        "vocab_size": draw(st.integers(8, 40)),
        "hidden_size": heads * head_dim,
        "intermediate_size": draw(st.integers(4, 24)),
        "num_hidden_layers": draw(st.integers(1, 3)),
        "num_attention_heads": heads,
        "num_key_value_heads": kv_heads,
        "head_dim": head_dim,
        "max_position_embeddings": 16,
        "rope_parameters": rope,
        "tie_word_embeddings": draw(st.booleans()),
        "sliding_window": window,
        "use_sliding_window": True,
        "max_window_layers": draw(st.integers(0, 2)),
        "query_pre_attn_scalar": draw(st.integers(4, 16)),
        "attn_logit_softcapping": draw(st.sampled_from([None, 1.5, 20.0])),
        "final_logit_softcapping": draw(st.sampled_from([None, 2.5])),
        "initializer_range": 0.5,
        "pad_token_id": 0,
    }


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


def build_pair(model: str, kwargs: dict[str, Any], attn: str) -> tuple[torch.nn.Module, torch.nn.Module]:
    prefix = camel_prefix(model)
    generated = importlib.import_module(f"generated.{model}")
    namespace = overlay(model)
    config_class = getattr(generated, f"{prefix}Config")
    kwargs = {key: value for key, value in kwargs.items() if key in config_class._fields}
    torch.manual_seed(0)
    reference = namespace[f"{prefix}ForCausalLM"](namespace[f"{prefix}Config"](attn_implementation=attn, **kwargs))
    ours = getattr(generated, f"{prefix}ForCausalLM")(config_class(attn_implementation=attn, **kwargs))
    expected_shapes = {name: tuple(t.shape) for name, t in reference.state_dict().items()}
    assert {name: tuple(t.shape) for name, t in ours.state_dict().items()} == expected_shapes
    ours.load_state_dict(reference.state_dict())
    return reference.eval(), ours.eval()


def decode_steps(model: torch.nn.Module, input_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Logits of a prefill of half the prompt, then one cached step per remaining token."""
    return decode_in_steps(model, input_ids, mask, split=max(1, input_ids.shape[1] // 2))


@pytest.mark.parametrize("model", MODELS)
@settings(
    max_examples=EXAMPLES, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(data=st.data())
def test_generated_model_equals_overlay(model: str, data: st.DataObject) -> None:
    kwargs = data.draw(configs(model))
    attn = data.draw(
        st.sampled_from(
            ["eager", "sdpa"] if kwargs["attn_logit_softcapping"] is None or model != "gemma2" else ["eager"]
        )
    )
    reference, ours = build_pair(model, kwargs, attn)
    input_ids, mask = data.draw(batches(kwargs["vocab_size"]))
    with torch.no_grad():
        assert torch.equal(
            ours(input_ids, attention_mask=mask).logits, reference(input_ids, attention_mask=mask).logits
        )
        assert torch.equal(decode_steps(ours, input_ids, mask), decode_steps(reference, input_ids, mask))
