"""Idefics3: Idefics2 without the Perceiver resampler. The connector pixel-shuffles the vision
tokens (each scale_factor x scale_factor block of patches becomes one token, scale_factor**2 times
as wide) and projects them linearly into the text model (Llama by default).
"""

import torch
from torch import nn

from generated.idefics2.configuration_idefics2 import Idefics2Config, Idefics2VisionConfig
from generated.idefics2.modeling_idefics2 import (
    Idefics2ForConditionalGeneration,
    Idefics2Model,
    Idefics2PreTrainedModel,
    Idefics2VisionTransformer,
)


class Idefics3VisionConfig(Idefics2VisionConfig):
    model_type = "idefics3_vision"

    hidden_size: int = 1152
    num_attention_heads: int = 16


class Idefics3Config(Idefics2Config):
    """Configuration of an Idefics3 model; the defaults describe Idefics3-8B-Llama3 (text model: Llama).

    The vision grid of each image must be square with a side divisible by `scale_factor`.
    """

    model_type = "idefics3"
    sub_configs = {"vision_config": Idefics3VisionConfig, "text_config": "llama"}
    sub_config_defaults = {"text_config": {"rms_norm_eps": 1e-5}}

    image_token_id: int = 128_257
    pad_token_id: int | None = 128_002
    scale_factor: int = 2
    perceiver_config = AttributeError()

    def derive(self) -> None:
        """Nothing derived: there is no resampler to size."""


class Idefics3SimpleMLP(nn.Module):
    def __init__(self, config: Idefics3Config) -> None:
        super().__init__()
        input_size = config.vision_config.hidden_size * config.scale_factor**2
        self.proj = nn.Linear(input_size, config.text_config.hidden_size, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


class Idefics3Connector(nn.Module):
    """Pixel shuffle, then a linear projection to the text width."""

    def __init__(self, config: Idefics3Config) -> None:
        super().__init__()
        self.scale_factor = config.scale_factor
        self.modality_projection = Idefics3SimpleMLP(config)

    def pixel_shuffle(self, x: torch.Tensor, scale_factor: int = 2) -> torch.Tensor:
        """(N, S, D) tokens of a square grid -> (N, S / scale_factor**2, D * scale_factor**2)."""
        bsz, seq, embed_dim = x.size()
        height = width = int(seq**0.5)
        x = x.view(bsz, height, width // scale_factor, embed_dim * scale_factor)  # merge columns
        x = x.permute(0, 2, 1, 3)
        x = x.reshape(bsz, width // scale_factor, height // scale_factor, embed_dim * scale_factor**2)  # merge rows
        x = x.permute(0, 2, 1, 3)
        return x.reshape(bsz, seq // scale_factor**2, embed_dim * scale_factor**2)

    def forward(self, image_hidden_states: torch.Tensor) -> torch.Tensor:
        return self.modality_projection(self.pixel_shuffle(image_hidden_states, self.scale_factor))


class Idefics3PreTrainedModel(Idefics2PreTrainedModel):
    pass


class Idefics3VisionTransformer(Idefics2VisionTransformer):
    pass


class Idefics3Model(Idefics2Model):
    def patch_mask_from_pixels(self, pixel_attention_mask: torch.Tensor) -> torch.Tensor:
        """(N, H, W) pixel mask -> (N, H/P, W/P) patch mask: a patch is real when any of its pixels is."""
        patch_size = self.config.vision_config.patch_size
        subgrid = pixel_attention_mask.unfold(1, patch_size, patch_size).unfold(2, patch_size, patch_size)
        return subgrid.sum(dim=(-1, -2)) > 0

    def connect(self, image_hidden_states: torch.Tensor, patch_attention_mask: torch.Tensor) -> torch.Tensor:
        return self.connector(image_hidden_states)


class Idefics3ForConditionalGeneration(Idefics2ForConditionalGeneration):
    pass


__all__ = [
    "Idefics3Config",
    "Idefics3VisionConfig",
    "Idefics3PreTrainedModel",
    "Idefics3Model",
    "Idefics3ForConditionalGeneration",
    "Idefics3VisionTransformer",
]


# ---- Image processing and processing ----
