# ----------------------------------------------------------------------------------------------------
# This file was generated from modular/modular_idefics2.py by the modular converter. Do not edit it by hand:
# edit modular/modular_idefics2.py instead, then regenerate with
#     python converter/run.py modular/modular_idefics2.py
# ----------------------------------------------------------------------------------------------------

from runtime.configuration_utils import PretrainedConfig


class Idefics2VisionConfig(PretrainedConfig):
    """The vision encoder: SigLIP without the pooling head."""

    model_type = "idefics2_vision"

    hidden_size: int = 768
    intermediate_size: int = 3072
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    num_channels: int = 3
    image_size: int = 224
    patch_size: int = 32
    hidden_act: str = "gelu_pytorch_tanh"
    layer_norm_eps: float = 1e-6
    attention_dropout: float = 0.0
    initializer_range: float = 0.02

    def validate(self) -> None:
        sizes = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "patch_size")
        for name in (*sizes, "image_size", "num_channels"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name}={getattr(self, name)} must be positive")
        if self.hidden_size % self.num_attention_heads != 0:
            raise ValueError(
                f"hidden_size={self.hidden_size} is not a multiple of num_attention_heads={self.num_attention_heads}"
            )


class Idefics2PerceiverConfig(PretrainedConfig):
    """The resampler: `resampler_depth` blocks in which `resampler_n_latents` learned latents attend
    to the image features; `hidden_size` is the text model's (Idefics2Config keeps them equal)."""

    model_type = "idefics2_perceiver"

    hidden_act: str = "silu"
    hidden_size: int = 4096
    rms_norm_eps: float = 1e-6
    resampler_n_latents: int = 64
    resampler_depth: int = 3
    resampler_n_heads: int = 16
    resampler_head_dim: int = 96
    num_key_value_heads: int = 4
    attention_dropout: float = 0.0
    initializer_range: float = 0.02

    def validate(self) -> None:
        if self.resampler_n_heads % self.num_key_value_heads != 0:
            raise ValueError(
                f"resampler_n_heads={self.resampler_n_heads} is not a multiple of "
                f"num_key_value_heads={self.num_key_value_heads}"
            )


class Idefics2Config(PretrainedConfig):
    """Configuration of an Idefics2 model; the defaults describe idefics2-8b (text model: Mistral)."""

    model_type = "idefics2"
    sub_configs = {
        "vision_config": Idefics2VisionConfig,
        "perceiver_config": Idefics2PerceiverConfig,
        "text_config": "mistral",
    }
    sub_config_defaults = {
        "text_config": {"max_position_embeddings": 4096 * 8, "rms_norm_eps": 1e-5, "pad_token_id": 0}
    }

    use_cache: bool = True
    image_token_id: int = 32_001
    tie_word_embeddings: bool = False
    vision_config: PretrainedConfig | None = None
    perceiver_config: PretrainedConfig | None = None
    text_config: PretrainedConfig | None = None

    def derive(self) -> None:
        # the resampler works in the text model's width
        if self.perceiver_config.hidden_size != self.text_config.hidden_size:
            self.perceiver_config.hidden_size = self.text_config.hidden_size
            self.perceiver_config.rms_norm_eps = self.text_config.rms_norm_eps


__all__ = ["Idefics2Config", "Idefics2PerceiverConfig", "Idefics2VisionConfig"]
