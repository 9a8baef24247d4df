# ----------------------------------------------------------------------------------------------------
# This file was generated from modular/modular_llama.py by the modular converter. Do not edit it by hand:
# edit modular/modular_llama.py instead, then regenerate with
#     python converter/run.py modular/modular_llama.py
# ----------------------------------------------------------------------------------------------------
"""The generated llama model: re-exports the public names of configuration_llama, modeling_llama."""

from .configuration_llama import LlamaConfig
from .modeling_llama import (
    LlamaForCausalLM,
    LlamaForQuestionAnswering,
    LlamaForSequenceClassification,
    LlamaForTokenClassification,
    LlamaModel,
    LlamaPreTrainedModel,
)

__all__ = [
    "LlamaConfig",
    "LlamaPreTrainedModel",
    "LlamaModel",
    "LlamaForCausalLM",
    "LlamaForSequenceClassification",
    "LlamaForTokenClassification",
    "LlamaForQuestionAnswering",
]
