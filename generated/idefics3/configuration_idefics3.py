# ----------------------------------------------------------------------------------------------------
# This file was generated from modular/modular_idefics3.py by the modular converter. Do not edit it by hand:
# edit modular/modular_idefics3.py instead, then regenerate with
#     python converter/run.py modular/modular_idefics3.py
# ----------------------------------------------------------------------------------------------------

from runtime.configuration_utils import PretrainedConfig


class Idefics3VisionConfig(PretrainedConfig):
    """The vision encoder: SigLIP without the pooling head."""

    model_type = "idefics3_vision"

    hidden_size: int = 1152
    intermediate_size: int = 3072
    num_hidden_layers: int = 12
    num_attention_heads: int = 16
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


class Idefics3Config(PretrainedConfig):
    """Configuration of an Idefics3 model; the defaults describe Idefics3-8B-Llama3 (text model: Llama).

    The vision grid of each image must be square with a side divisible by `scale_factor`.
    """

    model_type = "idefics3"
    sub_configs = {"vision_config": Idefics3VisionConfig, "text_config": "llama"}
    sub_config_defaults = {"text_config": {"rms_norm_eps": 1e-5}}

    use_cache: bool = True
    image_token_id: int = 128_257
    tie_word_embeddings: bool = False
    vision_config: PretrainedConfig | None = None
    text_config: PretrainedConfig | None = None
    pad_token_id: int | None = 128_002
    scale_factor: int = 2

    def derive(self) -> None:
        """Nothing derived: there is no resampler to size."""


__all__ = ["Idefics3Config", "Idefics3VisionConfig"]
