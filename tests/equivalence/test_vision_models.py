"""The generated vision models (SigLIP, Idefics2, Idefics3) behave exactly like their modular
definitions (the overlay oracle of tests/equivalence/overlay.py).

Hypothesis draws tiny valid configs (hidden size, heads, layers, image and patch sizes, pooling
head; for the vision-language models also the perceiver, pixel-shuffle scale and text backbone)
and inputs (image sizes, padded pixels, images per sample). For each draw the overlay model and
the generated model must have identical state_dict keys and shapes, and with the same weights give
bit-identical outputs (torch.equal, CPU fp32).
Run: python -m pytest tests/equivalence/test_vision_models.py -q
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.equivalence.overlay import build_overlay

EXAMPLES = 6
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@cache
def overlay(model: str) -> dict[str, object]:
    return build_overlay(model)


def build_pair(model: str, config_name: str, model_name: str, kwargs: dict[str, Any]) -> tuple[Any, Any]:
    """The overlay model and the generated one, with the same weights, in eval mode."""
    generated = importlib.import_module(f"generated.{model}")
    namespace = overlay(model)
    torch.manual_seed(0)
    reference = namespace[model_name](namespace[config_name](**kwargs))
    ours = getattr(generated, model_name)(getattr(generated, config_name)(**kwargs))
    expected_shapes = {name: tuple(t.shape) for name, t in reference.state_dict().items()}
    assert {name: tuple(t.shape) for name, t in ours.state_dict().items()} == expected_shapes
    ours.load_state_dict(reference.state_dict())
    return reference.eval(), ours.eval()


@st.composite
def vision_configs(draw: st.DrawFn) -> dict[str, Any]:
    heads = draw(st.sampled_from([1, 2, 4]))
    patch_size = draw(st.sampled_from([2, 3, 4]))
    return {
        "hidden_size": heads * draw(st.sampled_from([4, 8])),
        "intermediate_size": draw(st.integers(4, 24)),
        "num_hidden_layers": draw(st.integers(1, 2)),
        "num_attention_heads": heads,
        "patch_size": patch_size,
        "image_size": patch_size * draw(st.integers(2, 4)),
        "attn_implementation": draw(st.sampled_from(["eager", "sdpa"])),
    }


@SETTINGS
@given(data=st.data())
def test_siglip_vision_model_equals_overlay(data: st.DataObject) -> None:
    kwargs = {**data.draw(vision_configs()), "vision_use_head": data.draw(st.booleans())}
    reference, ours = build_pair("siglip", "SiglipVisionConfig", "SiglipVisionModel", kwargs)
    interpolate = data.draw(st.booleans())
    side = kwargs["image_size"] // kwargs["patch_size"]
    rows, cols = (data.draw(st.integers(2, 5)), data.draw(st.integers(2, 5))) if interpolate else (side, side)
    generator = torch.Generator().manual_seed(data.draw(st.integers(0, 2**16)))
    pixel_values = torch.randn(2, 3, rows * kwargs["patch_size"], cols * kwargs["patch_size"], generator=generator)
    with torch.no_grad():
        expected = reference(pixel_values, interpolate_pos_encoding=interpolate)
        actual = ours(pixel_values, interpolate_pos_encoding=interpolate)
    assert torch.equal(actual.last_hidden_state, expected.last_hidden_state)
    assert (actual.pooler_output is None) == (expected.pooler_output is None)
    if expected.pooler_output is not None:
        assert torch.equal(actual.pooler_output, expected.pooler_output)


@pytest.mark.parametrize("model", ["siglip"])
def test_vision_model_exports(model: str) -> None:
    generated = importlib.import_module(f"generated.{model}")
    assert all(name in overlay(model) for name in generated.__all__)
