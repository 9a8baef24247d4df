# ----------------------------------------------------------------------------------------------------
# This file was generated from modular/modular_llava_next.py by the modular converter. Do not edit it by hand:
# edit modular/modular_llava_next.py instead, then regenerate with
#     python converter/run.py modular/modular_llava_next.py
# ----------------------------------------------------------------------------------------------------

from runtime.configuration_utils import PretrainedConfig


class LlavaNextConfig(PretrainedConfig):
    """LLaVA's, plus `image_grid_pinpoints`: the (height, width) resolutions images are tiled at."""

    model_type = "llava_next"
    attribute_map = {"image_token_id": "image_token_index"}
    sub_configs = {"vision_config": "clip_vision_model", "text_config": "llama"}
    sub_config_defaults = {
        "vision_config": {
            **{"intermediate_size": 4096, "hidden_size": 1024, "patch_size": 14, "image_size": 336},
            **{"num_hidden_layers": 24, "num_attention_heads": 16, "vocab_size": 32000, "projection_dim": 768},
        }
    }

    vision_config: PretrainedConfig | None = None
    text_config: PretrainedConfig | None = None
    image_token_index: int = 32000
    image_seq_length: int = 576
    projector_hidden_act: str = "gelu"
    vision_feature_select_strategy: str = "default"
    vision_feature_layer: int | list[int] = -2
    multimodal_projector_bias: bool = True
    tie_word_embeddings: bool = False

    image_grid_pinpoints: list | None = None

    def derive(self) -> None:  # as transformers, unlike LLaVA: no tie_word_embeddings from text_config
        if self.image_grid_pinpoints is None:
            self.image_grid_pinpoints = [[336, 672], [672, 336], [672, 672], [1008, 336], [336, 1008]]

    def validate(self) -> None:
        if self.vision_feature_select_strategy not in ("default", "full"):
            raise ValueError(
                f"vision_feature_select_strategy={self.vision_feature_select_strategy!r} must be 'default' or 'full'"
            )
        if isinstance(self.vision_feature_layer, list) and not self.vision_feature_layer:
            raise ValueError("vision_feature_layer=[] names no vision layer")


__all__ = ["LlavaNextConfig"]
