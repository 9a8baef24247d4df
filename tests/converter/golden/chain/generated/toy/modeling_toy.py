# ----------------------------------------------------------------------------------------------------
# This file was generated from modular/modular_toy.py by the modular converter. Do not edit it by hand:
# edit modular/modular_toy.py instead, then regenerate with
#     python converter/run.py modular/modular_toy.py
# ----------------------------------------------------------------------------------------------------

"""Toy: Tiny with a scaled block and a different `double`."""

from torch import nn

from .configuration_toy import ToyConfig


def double(x):
    return x + x


class ToyBlock(nn.Module):
    def __init__(self, config: ToyConfig) -> None:
        super().__init__()
        self.proj = nn.Linear(config.hidden_size, config.hidden_size)
        self.scale = config.scale

    def forward(self, x):
        out = double(self.proj(x))
        return out * self.scale


class ToyModel(nn.Module):
    def __init__(self, config: ToyConfig) -> None:
        super().__init__()
        self.block = ToyBlock(config)

    def forward(self, x):
        return self.block(x)


__all__ = ["ToyModel"]
