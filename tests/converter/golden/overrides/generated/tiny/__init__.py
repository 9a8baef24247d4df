"""A hand-written stand-in for a generated base model (the input of this golden case)."""

from .configuration_tiny import TinyConfig
from .modeling_tiny import TinyForCausalLM, TinyModel

__all__ = ["TinyConfig", "TinyModel", "TinyForCausalLM"]
