"""Activation functions by the names config.json files use (`hidden_act`).

    ACT2FN["silu"](x)  # same as torch.nn.functional.silu(x)

An unknown name raises `KeyError` listing the valid ones.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn


def gelu_tanh(x: torch.Tensor) -> torch.Tensor:
    """GELU with the tanh approximation (`gelu_pytorch_tanh`, `gelu_new`)."""
    return nn.functional.gelu(x, approximate="tanh")


def gelu_fast(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * x * (1.0 + torch.tanh(x * 0.7978845608 * (1.0 + 0.044715 * x * x)))


def quick_gelu(x: torch.Tensor) -> torch.Tensor:
    return x * torch.sigmoid(1.702 * x)


def relu2(x: torch.Tensor) -> torch.Tensor:
    return torch.square(nn.functional.relu(x))


def gelu_new(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class _ActivationTable(dict):
    """A dict of activations whose missing-key error lists the valid names."""

    def __missing__(self, name: str) -> Callable[[torch.Tensor], torch.Tensor]:
        valid = ", ".join(sorted(self))
        raise KeyError(f"unknown activation {name!r}; valid names: {valid}")


ACT2FN: dict[str, Callable[[torch.Tensor], torch.Tensor]] = _ActivationTable(
    {
        "gelu": nn.functional.gelu,
        "gelu_pytorch_tanh": gelu_tanh,
        "gelu_new": gelu_new,
        "gelu_fast": gelu_fast,
        "quick_gelu": quick_gelu,
        "relu": nn.functional.relu,
        "relu2": relu2,
        "sigmoid": torch.sigmoid,
        "silu": nn.functional.silu,
        "swish": nn.functional.silu,
        "tanh": torch.tanh,
    }
)
