"""Test declaration of LLaVA (modular/modular_llava.py): a CLIP vision tower, a two-layer projector
and a text model reached by model_type. Its parity tests are in tests/models/test_llava.py."""

from tests.models.specs import VISION_LANGUAGE, ModelSpec

SPEC = ModelSpec(
    model="llava",
    prefix="Llava",
    kind=VISION_LANGUAGE,
    reference="Llava",
    switches={
        "text_config.model_type": ["llama", "mistral", "qwen2"],
        "vision_feature_layer": [-1, -2, 0, [0, -1]],
        "vision_feature_select_strategy": ["default", "full"],
        "multimodal_projector_bias": [True, False],
        "projector_hidden_act": ["gelu", "silu"],
    },
)
