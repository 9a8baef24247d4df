# ----------------------------------------------------------------------------------------------------
# This file was generated from modular/modular_clip.py by the modular converter. Do not edit it by hand:
# edit modular/modular_clip.py instead, then regenerate with
#     python converter/run.py modular/modular_clip.py
# ----------------------------------------------------------------------------------------------------

from runtime.configuration_utils import PretrainedConfig


class CLIPTextConfig(PretrainedConfig):
    """Configuration of CLIP's text encoder; the defaults describe clip-vit-base-patch32.

    Sequences of at most `max_position_embeddings` tokens attend causally; the output is pooled at
    the first `eos_token_id` of each row (see CLIPTextTransformer.pool for the legacy id 2).
    """

    model_type = "clip_text_model"

    vocab_size: int = 49408
    hidden_size: int = 512
    intermediate_size: int = 2048
    projection_dim: int = 512
    num_hidden_layers: int = 12
    num_attention_heads: int = 8
    max_position_embeddings: int = 77
    hidden_act: str = "quick_gelu"
    layer_norm_eps: float = 1e-5
    attention_dropout: float = 0.0
    initializer_range: float = 0.02
    initializer_factor: float = 1.0
    # transformers' defaults (they differ from CLIPTokenizer's pad token, see transformers#24773)
    pad_token_id: int | None = 1
    bos_token_id: int | None = 49406
    eos_token_id: int | list[int] | None = 49407

    def validate(self) -> None:
        sizes = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads")
        for name in (*sizes, "max_position_embeddings"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name}={getattr(self, name)} must be positive")
        if self.hidden_size % self.num_attention_heads != 0:
            raise ValueError(
                f"hidden_size={self.hidden_size} is not a multiple of num_attention_heads={self.num_attention_heads}"
            )


class CLIPVisionConfig(PretrainedConfig):
    """Configuration of CLIP's vision encoder; the defaults describe clip-vit-base-patch32.

    Images of `image_size` pixels square are cut into `patch_size` square patches, one token each,
    after one class token.
    """

    model_type = "clip_vision_model"

    hidden_size: int = 768
    intermediate_size: int = 3072
    projection_dim: int = 512
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    num_channels: int = 3
    image_size: int = 224
    patch_size: int = 32
    hidden_act: str = "quick_gelu"
    layer_norm_eps: float = 1e-5
    attention_dropout: float = 0.0
    initializer_range: float = 0.02
    initializer_factor: float = 1.0

    def validate(self) -> None:
        sizes = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "patch_size")
        for name in (*sizes, "image_size", "num_channels"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name}={getattr(self, name)} must be positive")
        if self.hidden_size % self.num_attention_heads != 0:
            raise ValueError(
                f"hidden_size={self.hidden_size} is not a multiple of num_attention_heads={self.num_attention_heads}"
            )


class CLIPConfig(PretrainedConfig):
    """Configuration of the dual encoder: a text and a vision config, and the shared projection.

    transformers' legacy `text_config_dict` / `vision_config_dict` keywords are not read.
    """

    model_type = "clip"
    sub_configs = {"text_config": CLIPTextConfig, "vision_config": CLIPVisionConfig}

    text_config: PretrainedConfig | None = None
    vision_config: PretrainedConfig | None = None
    projection_dim: int = 512
    logit_scale_init_value: float = 2.6592
    initializer_factor: float = 1.0

    def validate(self) -> None:
        if self.projection_dim <= 0:
            raise ValueError(f"projection_dim={self.projection_dim} must be positive")


__all__ = ["CLIPConfig", "CLIPTextConfig", "CLIPVisionConfig"]
