"""Test declaration of LLaVA-NeXT-Video (modular/modular_llava_next_video.py): LLaVA-NeXT plus
pooled video frames. Its parity tests are in tests/models/test_llava_next_video.py."""

from tests.models.specs import VISION_LANGUAGE, ModelSpec

SPEC = ModelSpec(
    model="llava_next_video",
    prefix="LlavaNextVideo",
    kind=VISION_LANGUAGE,
    reference="LlavaNextVideo",
    switches={
        "text_config.model_type": ["llama", "qwen2"],
        "vision_feature_layer": [-1, -2],  # the conv pooler reads one layer's width
        "spatial_pool_mode": ["average", "max", "conv"],
        "spatial_pool_stride": [1, 2],
    },
)
