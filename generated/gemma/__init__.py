# ----------------------------------------------------------------------------------------------------
# This file was generated from modular/modular_gemma.py by the modular converter. Do not edit it by hand:
# edit modular/modular_gemma.py instead, then regenerate with
#     python converter/run.py modular/modular_gemma.py
# ----------------------------------------------------------------------------------------------------
"""The generated gemma model: re-exports the public names of configuration_gemma, modeling_gemma."""

from .configuration_gemma import GemmaConfig
from .modeling_gemma import (
    GemmaForCausalLM,
    GemmaForSequenceClassification,
    GemmaForTokenClassification,
    GemmaModel,
    GemmaPreTrainedModel,
)

__all__ = [
    "GemmaConfig",
    "GemmaPreTrainedModel",
    "GemmaModel",
    "GemmaForCausalLM",
    "GemmaForSequenceClassification",
    "GemmaForTokenClassification",
]
