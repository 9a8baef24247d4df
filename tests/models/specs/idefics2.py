"""Test declaration of Idefics2 (modular/modular_idefics2.py): a SigLIP encoder, a Perceiver
resampler and a text model. Its parity tests are in tests/models/test_vision_language.py."""

from typing import Any

from hypothesis import strategies as st

from tests.models.specs import VISION_LANGUAGE, ModelSpec


@st.composite
def perceivers(draw: st.DrawFn) -> dict[str, Any]:
    """A tiny resampler; its hidden size follows the text model's."""
    kv_heads = draw(st.sampled_from([1, 2]))
    return {
        "resampler_n_latents": draw(st.integers(1, 3)),
        "resampler_depth": draw(st.integers(1, 2)),
        "resampler_n_heads": kv_heads * draw(st.sampled_from([1, 2])),
        "resampler_head_dim": draw(st.sampled_from([4, 8])),
        "num_key_value_heads": kv_heads,
    }


SPEC = ModelSpec(
    model="idefics2",
    prefix="Idefics2",
    kind=VISION_LANGUAGE,
    reference="Idefics2",
    config={
        "text_config": {"model_type": "mistral", "sliding_window": 7},
        "perceiver_config": {
            "resampler_n_latents": 3,
            "resampler_depth": 2,
            "resampler_n_heads": 4,
            "resampler_head_dim": 8,
            "num_key_value_heads": 2,
        },
    },
    image_sizes=((16, 16), (20, 12)),  # any grid of patches
    switches={
        "text_config.model_type": ["mistral"],
        "text_config.sliding_window": [None, 3, 6],
        "perceiver_config": perceivers(),
    },
)
