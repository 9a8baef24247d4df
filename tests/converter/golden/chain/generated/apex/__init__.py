# ----------------------------------------------------------------------------------------------------
# This file was generated from modular/modular_apex.py by the modular converter. Do not edit it by hand:
# edit modular/modular_apex.py instead, then regenerate with
#     python converter/run.py modular/modular_apex.py
# ----------------------------------------------------------------------------------------------------
"""The generated apex model: re-exports the public names of configuration_apex, modeling_apex."""

from .configuration_apex import ApexConfig
from .modeling_apex import ApexModel

__all__ = ["ApexConfig", "ApexModel"]
