"""Tiny: the root of the chain tiny -> toy -> apex, converted in one run."""

from torch import nn

from runtime.configuration_utils import PretrainedConfig


class TinyConfig(PretrainedConfig):
    """Configuration of a Tiny model."""

    model_type = "tiny"

    hidden_size: int = 8


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


__all__ = ["TinyConfig", "TinyModel"]
