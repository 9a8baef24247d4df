# ----------------------------------------------------------------------------------------------------
# This file was generated from modular/modular_llava.py by the modular converter. Do not edit it by hand:
# edit modular/modular_llava.py instead, then regenerate with
#     python converter/run.py modular/modular_llava.py
# ----------------------------------------------------------------------------------------------------
"""The generated llava model: re-exports the public names of configuration_llava, image_processing_llava, processing_llava, modeling_llava."""

from .configuration_llava import LlavaConfig
from .image_processing_llava import LlavaImageProcessor
from .modeling_llava import (
    LlavaCausalLMOutputWithPast,
    LlavaForConditionalGeneration,
    LlavaModel,
    LlavaModelOutputWithPast,
    LlavaMultiModalProjector,
    LlavaPreTrainedModel,
)
from .processing_llava import LlavaProcessor

__all__ = [
    "LlavaConfig",
    "LlavaImageProcessor",
    "LlavaProcessor",
    "LlavaModelOutputWithPast",
    "LlavaCausalLMOutputWithPast",
    "LlavaMultiModalProjector",
    "LlavaPreTrainedModel",
    "LlavaModel",
    "LlavaForConditionalGeneration",
]
