# ----------------------------------------------------------------------------------------------------
# This file was generated from modular/modular_mixtral.py by the modular converter. Do not edit it by hand:
# edit modular/modular_mixtral.py instead, then regenerate with
#     python converter/run.py modular/modular_mixtral.py
# ----------------------------------------------------------------------------------------------------
"""The generated mixtral model: re-exports the public names of configuration_mixtral, modeling_mixtral."""

from .configuration_mixtral import MixtralConfig
from .modeling_mixtral import (
    MixtralExpert,
    MixtralForCausalLM,
    MixtralForQuestionAnswering,
    MixtralForSequenceClassification,
    MixtralForTokenClassification,
    MixtralModel,
    MixtralPreTrainedModel,
    MixtralSparseMoeBlock,
)

__all__ = [
    "MixtralConfig",
    "MixtralPreTrainedModel",
    "MixtralModel",
    "MixtralForCausalLM",
    "MixtralForSequenceClassification",
    "MixtralForTokenClassification",
    "MixtralForQuestionAnswering",
    "MixtralExpert",
    "MixtralSparseMoeBlock",
]
