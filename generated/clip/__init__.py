# ----------------------------------------------------------------------------------------------------
# This file was generated from modular/modular_clip.py by the modular converter. Do not edit it by hand:
# edit modular/modular_clip.py instead, then regenerate with
#     python converter/run.py modular/modular_clip.py
# ----------------------------------------------------------------------------------------------------
"""The generated clip model: re-exports the public names of configuration_clip, modeling_clip."""

from .configuration_clip import CLIPConfig, CLIPTextConfig, CLIPVisionConfig
from .modeling_clip import (
    CLIPModel,
    CLIPPreTrainedModel,
    CLIPTextModel,
    CLIPTextModelWithProjection,
    CLIPTextTransformer,
    CLIPVisionModel,
    CLIPVisionModelWithProjection,
    CLIPVisionTransformer,
)

__all__ = [
    "CLIPConfig",
    "CLIPTextConfig",
    "CLIPVisionConfig",
    "CLIPPreTrainedModel",
    "CLIPVisionTransformer",
    "CLIPVisionModel",
    "CLIPTextTransformer",
    "CLIPTextModel",
    "CLIPModel",
    "CLIPVisionModelWithProjection",
    "CLIPTextModelWithProjection",
]
