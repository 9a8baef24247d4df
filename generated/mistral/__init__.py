# ----------------------------------------------------------------------------------------------------
# This file was generated from modular/modular_mistral.py by the modular converter. Do not edit it by hand:
# edit modular/modular_mistral.py instead, then regenerate with
#     python converter/run.py modular/modular_mistral.py
# ----------------------------------------------------------------------------------------------------
"""The generated mistral model: re-exports the public names of configuration_mistral, modeling_mistral."""

from .configuration_mistral import MistralConfig
from .modeling_mistral import (
    MistralForCausalLM,
    MistralForQuestionAnswering,
    MistralForSequenceClassification,
    MistralForTokenClassification,
    MistralModel,
    MistralPreTrainedModel,
)

__all__ = [
    "MistralConfig",
    "MistralPreTrainedModel",
    "MistralModel",
    "MistralForCausalLM",
    "MistralForSequenceClassification",
    "MistralForTokenClassification",
    "MistralForQuestionAnswering",
]
