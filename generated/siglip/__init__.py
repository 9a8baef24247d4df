# ----------------------------------------------------------------------------------------------------
# This file was generated from modular/modular_siglip.py by the modular converter. Do not edit it by hand:
# edit modular/modular_siglip.py instead, then regenerate with
#     python converter/run.py modular/modular_siglip.py
# ----------------------------------------------------------------------------------------------------
"""The generated siglip model: re-exports the public names of configuration_siglip, modeling_siglip."""

from .configuration_siglip import SiglipVisionConfig
from .modeling_siglip import SiglipPreTrainedModel, SiglipVisionModel

__all__ = ["SiglipVisionConfig", "SiglipPreTrainedModel", "SiglipVisionModel"]
