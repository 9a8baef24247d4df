# ----------------------------------------------------------------------------------------------------
# This file was generated from modular/modular_idefics.py by the modular converter. Do not edit it by hand:
# edit modular/modular_idefics.py instead, then regenerate with
#     python converter/run.py modular/modular_idefics.py
# ----------------------------------------------------------------------------------------------------
"""The generated idefics model: re-exports the public names of configuration_idefics, image_processing_idefics, processing_idefics, modeling_idefics."""

from .configuration_idefics import IdeficsConfig, IdeficsPerceiverConfig, IdeficsVisionConfig
from .image_processing_idefics import IdeficsImageProcessor
from .modeling_idefics import IdeficsForVisionText2Text, IdeficsModel, IdeficsPreTrainedModel
from .processing_idefics import IdeficsProcessor

__all__ = [
    "IdeficsConfig",
    "IdeficsPerceiverConfig",
    "IdeficsVisionConfig",
    "IdeficsImageProcessor",
    "IdeficsProcessor",
    "IdeficsPreTrainedModel",
    "IdeficsModel",
    "IdeficsForVisionText2Text",
]
