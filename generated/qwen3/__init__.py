# ----------------------------------------------------------------------------------------------------
# This file was generated from modular/modular_qwen3.py by the modular converter. Do not edit it by hand:
# edit modular/modular_qwen3.py instead, then regenerate with
#     python converter/run.py modular/modular_qwen3.py
# ----------------------------------------------------------------------------------------------------
"""The generated qwen3 model: re-exports the public names of configuration_qwen3, modeling_qwen3."""

from .configuration_qwen3 import Qwen3Config
from .modeling_qwen3 import (
    Qwen3ForCausalLM,
    Qwen3ForQuestionAnswering,
    Qwen3ForSequenceClassification,
    Qwen3ForTokenClassification,
    Qwen3Model,
    Qwen3PreTrainedModel,
)

__all__ = [
    "Qwen3Config",
    "Qwen3PreTrainedModel",
    "Qwen3Model",
    "Qwen3ForCausalLM",
    "Qwen3ForSequenceClassification",
    "Qwen3ForTokenClassification",
    "Qwen3ForQuestionAnswering",
]
