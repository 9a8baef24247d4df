# ----------------------------------------------------------------------------------------------------
# This file was generated from modular/modular_tiny.py by the modular converter. Do not edit it by hand:
# edit modular/modular_tiny.py instead, then regenerate with
#     python converter/run.py modular/modular_tiny.py
# ----------------------------------------------------------------------------------------------------

"""Tiny: the root of the chain tiny -> toy -> apex, converted in one run."""

from torch import nn

from .configuration_tiny import TinyConfig


def double(x):
    return x * 2


class TinyBlock(nn.Module):
    def __init__(self, config: TinyConfig) -> None:
        super().__init__()
        self.proj = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, x):
        return double(self.proj(x))


class TinyModel(nn.Module):
    def __init__(self, config: TinyConfig) -> None:
        super().__init__()
        self.block = TinyBlock(config)

    def forward(self, x):
        return self.block(x)


__all__ = ["TinyModel"]
