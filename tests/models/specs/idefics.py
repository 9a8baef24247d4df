"""Test declaration of IDEFICS v1 (modular/modular_idefics.py): a CLIP vision tower, an optional
Perceiver resampler and gated cross-attention layers into a Llama decoder. Its parity tests are in
tests/models/test_idefics.py; its equivalence test in tests/equivalence/test_vision_models.py."""

from typing import Any

from hypothesis import strategies as st

from tests.models.specs import CROSS_ATTENTION_VLM, ModelSpec


@st.composite
def perceivers(draw: st.DrawFn) -> dict[str, Any]:
    """A tiny resampler (it works in the vision width, whatever its heads)."""
    return {
        "resampler_n_latents": draw(st.integers(1, 3)),
        "resampler_depth": draw(st.integers(1, 2)),
        "resampler_n_heads": draw(st.sampled_from([1, 2])),
        "resampler_head_dim": draw(st.sampled_from([4, 6])),
        "qk_layer_norms_perceiver": draw(st.booleans()),
    }


SPEC = ModelSpec(
    model="idefics",
    prefix="Idefics",
    kind=CROSS_ATTENTION_VLM,
    reference="Idefics",
    switches={
        "use_resampler": [False, True],
        "qk_layer_norms": [False, True],
        "cross_layer_interval": [1, 2],
        "alpha_type": ["float", "vector"],
        "additional_vocab_size": [0, 3],
        "perceiver_config": perceivers(),
    },
)
