"""Test declaration of SigLIP's vision encoder (modular/modular_siglip.py), the root of the vision
models. Its parity tests are in tests/models/test_vision_language.py."""

from tests.models.specs import VISION, ModelSpec

SPEC = ModelSpec(
    model="siglip",
    prefix="Siglip",
    kind=VISION,
    reference="Siglip",
    switches={"vision_use_head": [False, True]},
)
