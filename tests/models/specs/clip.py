"""Test declaration of CLIP (modular/modular_clip.py), the root of IDEFICS's and LLaVA's vision
towers. Declared as a vision encoder (CLIPVisionModel); its parity tests, text tower and dual
encoder included, are in tests/models/test_clip.py."""

from tests.models.specs import VISION, ModelSpec

SPEC = ModelSpec(
    model="clip",
    prefix="CLIP",
    kind=VISION,
    reference="CLIP",
    switches={"hidden_act": ["quick_gelu", "gelu"], "layer_norm_eps": [1e-5, 1e-6]},
)
