# ----------------------------------------------------------------------------------------------------
# This file was generated from modular/modular_qwen2.py by the modular converter. Do not edit it by hand:
# edit modular/modular_qwen2.py instead, then regenerate with
#     python converter/run.py modular/modular_qwen2.py
# ----------------------------------------------------------------------------------------------------
"""The generated qwen2 model: re-exports the public names of configuration_qwen2, modeling_qwen2."""

from .configuration_qwen2 import Qwen2Config
from .modeling_qwen2 import (
    Qwen2ForCausalLM,
    Qwen2ForQuestionAnswering,
    Qwen2ForSequenceClassification,
    Qwen2ForTokenClassification,
    Qwen2Model,
    Qwen2PreTrainedModel,
)

__all__ = [
    "Qwen2Config",
    "Qwen2PreTrainedModel",
    "Qwen2Model",
    "Qwen2ForCausalLM",
    "Qwen2ForSequenceClassification",
    "Qwen2ForTokenClassification",
    "Qwen2ForQuestionAnswering",
]
