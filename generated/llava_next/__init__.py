# ----------------------------------------------------------------------------------------------------
# This file was generated from modular/modular_llava_next.py by the modular converter. Do not edit it by hand:
# edit modular/modular_llava_next.py instead, then regenerate with
#     python converter/run.py modular/modular_llava_next.py
# ----------------------------------------------------------------------------------------------------
"""The generated llava_next model: re-exports the public names of configuration_llava_next, image_processing_llava_next, processing_llava_next, modeling_llava_next."""

from .configuration_llava_next import LlavaNextConfig
from .image_processing_llava_next import LlavaNextImageProcessor
from .modeling_llava_next import (
    LlavaNextCausalLMOutputWithPast,
    LlavaNextForConditionalGeneration,
    LlavaNextModel,
    LlavaNextModelOutputWithPast,
    LlavaNextMultiModalProjector,
    LlavaNextPreTrainedModel,
)
from .processing_llava_next import LlavaNextProcessor

__all__ = [
    "LlavaNextConfig",
    "LlavaNextImageProcessor",
    "LlavaNextProcessor",
    "LlavaNextModelOutputWithPast",
    "LlavaNextCausalLMOutputWithPast",
    "LlavaNextMultiModalProjector",
    "LlavaNextPreTrainedModel",
    "LlavaNextModel",
    "LlavaNextForConditionalGeneration",
]
