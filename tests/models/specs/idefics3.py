"""Test declaration of Idefics3 (modular/modular_idefics3.py): Idefics2 with a pixel-shuffle
connector. Its parity tests are in tests/models/test_vision_language.py."""

from tests.models.specs import VISION_LANGUAGE, ModelSpec

SPEC = ModelSpec(
    model="idefics3",
    prefix="Idefics3",
    kind=VISION_LANGUAGE,
    reference="Idefics3",
    config={"text_config": {"model_type": "llama"}, "scale_factor": 2},
    image_sizes=((16, 16), (8, 8)),  # square grids of patches, divisible by scale_factor
    switches={"text_config.model_type": ["llama"], "scale_factor": [1, 2]},
)
