# ----------------------------------------------------------------------------------------------------
# This file was generated from modular/modular_apex.py by the modular converter. Do not edit it by hand:
# edit modular/modular_apex.py instead, then regenerate with
#     python converter/run.py modular/modular_apex.py
# ----------------------------------------------------------------------------------------------------

from runtime.configuration_utils import PretrainedConfig


class ApexConfig(PretrainedConfig):
    """Configuration of a Apex model."""

    model_type = "apex"

    hidden_size: int = 8
    scale: float = 2.0


__all__ = ["ApexConfig"]
