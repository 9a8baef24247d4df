# ----------------------------------------------------------------------------------------------------
# This file was generated from modular/modular_toy.py by the modular converter. Do not edit it by hand:
# edit modular/modular_toy.py instead, then regenerate with
#     python converter/run.py modular/modular_toy.py
# ----------------------------------------------------------------------------------------------------

from runtime.configuration_utils import PretrainedConfig


class ToyConfig(PretrainedConfig):
    """Configuration of a Toy model."""

    model_type = "toy"

    hidden_size: int = 8
    scale: float = 0.5


__all__ = ["ToyConfig"]
