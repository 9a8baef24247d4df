"""Toy: Tiny with a scaled block and a different `double`."""

from generated.tiny.configuration_tiny import TinyConfig
from generated.tiny.modeling_tiny import TinyBlock, TinyModel


class ToyConfig(TinyConfig):
    scale: float = 0.5


def double(x):
    return x + x


class ToyBlock(TinyBlock):
    def __init__(self, config: ToyConfig) -> None:
        super().__init__(config)
        self.scale = config.scale

    def forward(self, x):
        out = super().forward(x)
        return out * self.scale


class ToyModel(TinyModel):
    pass
