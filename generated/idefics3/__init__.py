# ----------------------------------------------------------------------------------------------------
# This file was generated from modular/modular_idefics3.py by the modular converter. Do not edit it by hand:
# edit modular/modular_idefics3.py instead, then regenerate with
#     python converter/run.py modular/modular_idefics3.py
# ----------------------------------------------------------------------------------------------------
"""The generated idefics3 model: re-exports the public names of configuration_idefics3, image_processing_idefics3, processing_idefics3, modeling_idefics3."""

from .configuration_idefics3 import Idefics3Config, Idefics3VisionConfig
from .image_processing_idefics3 import Idefics3ImageProcessor
from .modeling_idefics3 import (
    Idefics3ForConditionalGeneration,
    Idefics3Model,
    Idefics3PreTrainedModel,
    Idefics3VisionTransformer,
)
from .processing_idefics3 import Idefics3Processor

__all__ = [
    "Idefics3Config",
    "Idefics3VisionConfig",
    "Idefics3ImageProcessor",
    "Idefics3Processor",
    "Idefics3PreTrainedModel",
    "Idefics3Model",
    "Idefics3ForConditionalGeneration",
    "Idefics3VisionTransformer",
]
