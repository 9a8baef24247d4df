# ----------------------------------------------------------------------------------------------------
# This file was generated from modular/modular_llava_next_video.py by the modular converter. Do not edit it by hand:
# edit modular/modular_llava_next_video.py instead, then regenerate with
#     python converter/run.py modular/modular_llava_next_video.py
# ----------------------------------------------------------------------------------------------------

from runtime.configuration_utils import PretrainedConfig


class LlavaNextVideoConfig(PretrainedConfig):
    """LLaVA-NeXT's, plus the video token and the pooling of each frame's patch grid
    (`spatial_pool_mode` "average", "max" or "conv"; `spatial_pool_stride`)."""

    model_type = "llava_next_video"
    attribute_map = {"image_token_id": "image_token_index", "video_token_id": "video_token_index"}
    sub_configs = {"vision_config": "clip_vision_model", "text_config": "llama"}
    sub_config_defaults = {
        "vision_config": {
            **{"intermediate_size": 4096, "hidden_size": 1024, "patch_size": 14, "image_size": 336},
            **{"num_hidden_layers": 24, "num_attention_heads": 16, "vocab_size": 32000, "projection_dim": 768},
        }
    }

    vision_config: PretrainedConfig | None = None
    text_config: PretrainedConfig | None = None
    image_token_index: int = 32001
    image_seq_length: int = 576
    projector_hidden_act: str = "gelu"
    vision_feature_select_strategy: str = "default"
    vision_feature_layer: int | list[int] = -2
    multimodal_projector_bias: bool = True
    tie_word_embeddings: bool = False

    image_grid_pinpoints: list | None = None
    video_token_index: int = 32000
    spatial_pool_mode: str = "average"
    spatial_pool_stride: int = 2
    video_seq_length: int = 288

    def derive(self) -> None:
        if self.image_grid_pinpoints is None:
            self.image_grid_pinpoints = [[336, 672], [672, 336], [672, 672], [1008, 336], [336, 1008]]
        # as transformers: older checkpoints say `tie_word_embeddings` in the text config only
        if not self.tie_word_embeddings and self.text_config.tie_word_embeddings:
            self.tie_word_embeddings = True

    def validate(self) -> None:
        if self.vision_feature_select_strategy not in ("default", "full"):
            raise ValueError(
                f"vision_feature_select_strategy={self.vision_feature_select_strategy!r} must be 'default' or 'full'"
            )
        if isinstance(self.vision_feature_layer, list) and not self.vision_feature_layer:
            raise ValueError("vision_feature_layer=[] names no vision layer")
        if self.spatial_pool_mode not in ("average", "max", "conv"):
            raise ValueError(f"spatial_pool_mode={self.spatial_pool_mode!r} must be 'average', 'max' or 'conv'")


__all__ = ["LlavaNextVideoConfig"]
