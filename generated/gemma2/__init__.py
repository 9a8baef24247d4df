# ----------------------------------------------------------------------------------------------------
# This file was generated from modular/modular_gemma2.py by the modular converter. Do not edit it by hand:
# edit modular/modular_gemma2.py instead, then regenerate with
#     python converter/run.py modular/modular_gemma2.py
# ----------------------------------------------------------------------------------------------------
"""The generated gemma2 model: re-exports the public names of configuration_gemma2, modeling_gemma2."""

from .configuration_gemma2 import Gemma2Config
from .modeling_gemma2 import (
    Gemma2ForCausalLM,
    Gemma2ForSequenceClassification,
    Gemma2ForTokenClassification,
    Gemma2Model,
    Gemma2PreTrainedModel,
)

__all__ = [
    "Gemma2Config",
    "Gemma2PreTrainedModel",
    "Gemma2Model",
    "Gemma2ForCausalLM",
    "Gemma2ForSequenceClassification",
    "Gemma2ForTokenClassification",
]
