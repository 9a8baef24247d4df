# ----------------------------------------------------------------------------------------------------
# This file was generated from modular/modular_toy.py by the modular converter. Do not edit it by hand:
# edit modular/modular_toy.py instead, then regenerate with
#     python converter/run.py modular/modular_toy.py
# ----------------------------------------------------------------------------------------------------
"""The generated toy model: re-exports the public names of configuration_toy, modeling_toy."""

from .configuration_toy import ToyConfig
from .modeling_toy import ToyForCausalLM, ToyModel

__all__ = ["ToyConfig", "ToyModel", "ToyForCausalLM"]
