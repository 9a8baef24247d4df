# ----------------------------------------------------------------------------------------------------
# This file was generated from modular/modular_siglip.py by the modular converter. Do not edit it by hand:
# edit modular/modular_siglip.py instead, then regenerate with
#     python converter/run.py modular/modular_siglip.py
# ----------------------------------------------------------------------------------------------------

from runtime.configuration_utils import PretrainedConfig


class SiglipVisionConfig(PretrainedConfig):
    """Configuration of a SigLIP vision encoder; the defaults describe siglip-base-patch16-224.

    Images of `image_size` pixels square are cut into `patch_size` square patches, one token each.
    `vision_use_head` adds the attention-pooling head that produces `pooler_output`.
    """

    model_type = "siglip_vision_model"

    hidden_size: int = 768
    intermediate_size: int = 3072
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    num_channels: int = 3
    image_size: int = 224
    patch_size: int = 16
    hidden_act: str = "gelu_pytorch_tanh"
    layer_norm_eps: float = 1e-6
    attention_dropout: float = 0.0
    vision_use_head: bool = True

    def validate(self) -> None:
        sizes = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "patch_size")
        for name in (*sizes, "image_size", "num_channels"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name}={getattr(self, name)} must be positive")
        if self.hidden_size % self.num_attention_heads != 0:
            raise ValueError(
                f"hidden_size={self.hidden_size} is not a multiple of num_attention_heads={self.num_attention_heads}"
            )


__all__ = ["SiglipVisionConfig"]
