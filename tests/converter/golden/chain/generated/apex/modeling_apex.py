# ----------------------------------------------------------------------------------------------------
# This file was generated from modular/modular_apex.py by the modular converter. Do not edit it by hand:
# edit modular/modular_apex.py instead, then regenerate with
#     python converter/run.py modular/modular_apex.py
# ----------------------------------------------------------------------------------------------------

"""Apex: Toy with Tiny's `double` again; it sorts before its bases, which this run converts first."""

from torch import nn

from .configuration_apex import ApexConfig


def double(x):
    return x * 2


class ApexBlock(nn.Module):
    def __init__(self, config: ApexConfig) -> None:
        super().__init__()
        self.proj = nn.Linear(config.hidden_size, config.hidden_size)
        self.scale = config.scale

    def forward(self, x):
        out = double(self.proj(x))
        return out * self.scale


class ApexModel(nn.Module):
    def __init__(self, config: ApexConfig) -> None:
        super().__init__()
        self.block = ApexBlock(config)

    def forward(self, x):
        return self.block(x)


__all__ = ["ApexModel"]
