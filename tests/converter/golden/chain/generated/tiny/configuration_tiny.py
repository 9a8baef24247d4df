# ----------------------------------------------------------------------------------------------------
# This file was generated from modular/modular_tiny.py by the modular converter. Do not edit it by hand:
# edit modular/modular_tiny.py instead, then regenerate with
#     python converter/run.py modular/modular_tiny.py
# ----------------------------------------------------------------------------------------------------

from runtime.configuration_utils import PretrainedConfig


class TinyConfig(PretrainedConfig):
    """Configuration of a Tiny model."""

    model_type = "tiny"

    hidden_size: int = 8


__all__ = ["TinyConfig"]
