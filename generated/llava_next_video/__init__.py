# ----------------------------------------------------------------------------------------------------
# This file was generated from modular/modular_llava_next_video.py by the modular converter. Do not edit it by hand:
# edit modular/modular_llava_next_video.py instead, then regenerate with
#     python converter/run.py modular/modular_llava_next_video.py
# ----------------------------------------------------------------------------------------------------
"""The generated llava_next_video model: re-exports the public names of configuration_llava_next_video, image_processing_llava_next_video, video_processing_llava_next_video, processing_llava_next_video, modeling_llava_next_video."""

from .configuration_llava_next_video import LlavaNextVideoConfig
from .image_processing_llava_next_video import LlavaNextVideoImageProcessor
from .modeling_llava_next_video import (
    LlavaNextVideoCausalLMOutputWithPast,
    LlavaNextVideoForConditionalGeneration,
    LlavaNextVideoModel,
    LlavaNextVideoModelOutputWithPast,
    LlavaNextVideoMultiModalProjector,
    LlavaNextVideoPooler,
    LlavaNextVideoPreTrainedModel,
)
from .processing_llava_next_video import LlavaNextVideoProcessor
from .video_processing_llava_next_video import LlavaNextVideoVideoProcessor

__all__ = [
    "LlavaNextVideoConfig",
    "LlavaNextVideoImageProcessor",
    "LlavaNextVideoVideoProcessor",
    "LlavaNextVideoProcessor",
    "LlavaNextVideoModelOutputWithPast",
    "LlavaNextVideoCausalLMOutputWithPast",
    "LlavaNextVideoMultiModalProjector",
    "LlavaNextVideoPreTrainedModel",
    "LlavaNextVideoModel",
    "LlavaNextVideoForConditionalGeneration",
    "LlavaNextVideoPooler",
]
