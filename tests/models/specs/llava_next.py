"""Test declaration of LLaVA-NeXT (modular/modular_llava_next.py): LLaVA over anyres tiles. Its
parity tests are in tests/models/test_llava_next.py; `image_grid_pinpoints` is drawn by the
equivalence test from the drawn tower's `image_size`."""

from tests.models.specs import VISION_LANGUAGE, ModelSpec

SPEC = ModelSpec(
    model="llava_next",
    prefix="LlavaNext",
    kind=VISION_LANGUAGE,
    reference="LlavaNext",
    switches={
        "text_config.model_type": ["llama", "mistral"],
        "vision_feature_layer": [-1, -2, [0, -1]],
        "multimodal_projector_bias": [True, False],
    },
)
