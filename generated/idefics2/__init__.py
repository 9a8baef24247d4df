# ----------------------------------------------------------------------------------------------------
# This file was generated from modular/modular_idefics2.py by the modular converter. Do not edit it by hand:
# edit modular/modular_idefics2.py instead, then regenerate with
#     python converter/run.py modular/modular_idefics2.py
# ----------------------------------------------------------------------------------------------------
"""The generated idefics2 model: re-exports the public names of configuration_idefics2, image_processing_idefics2, processing_idefics2, modeling_idefics2."""

from .configuration_idefics2 import Idefics2Config, Idefics2PerceiverConfig, Idefics2VisionConfig
from .image_processing_idefics2 import Idefics2ImageProcessor
from .modeling_idefics2 import Idefics2ForConditionalGeneration, Idefics2Model, Idefics2PreTrainedModel
from .processing_idefics2 import Idefics2Processor

__all__ = [
    "Idefics2Config",
    "Idefics2PerceiverConfig",
    "Idefics2VisionConfig",
    "Idefics2ImageProcessor",
    "Idefics2Processor",
    "Idefics2PreTrainedModel",
    "Idefics2Model",
    "Idefics2ForConditionalGeneration",
]
