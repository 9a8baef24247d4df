# ----------------------------------------------------------------------------------------------------
# This file was generated from modular/modular_tiny.py by the modular converter. Do not edit it by hand:
# edit modular/modular_tiny.py instead, then regenerate with
#     python converter/run.py modular/modular_tiny.py
# ----------------------------------------------------------------------------------------------------
"""The generated tiny model: re-exports the public names of configuration_tiny, modeling_tiny."""

from .configuration_tiny import TinyConfig
from .modeling_tiny import TinyModel

__all__ = ["TinyConfig", "TinyModel"]
