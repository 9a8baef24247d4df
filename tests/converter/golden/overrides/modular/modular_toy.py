# Copyright 2025 the modular-models authors. Licensed under the Apache License, Version 2.0.
"""Toy: Tiny with a wider config, softcapped logits, a scaled attention and extra norms.

The golden case for inheritance: config fields overridden, added and removed, `__init__` tails
merged in place, a helper overridden, a hook replaced, a `**super_kwargs` forward, `del`, and a
`super()` call whose result is post-processed.
"""

import torch
from torch import nn

from generated.tiny.configuration_tiny import TinyConfig
from generated.tiny.modeling_tiny import (
    TinyAttention,
    TinyDecoderLayer,
    TinyForCausalLM,
    TinyMLP,
    TinyModel,
    TinyNorm,
)


class ToyConfig(TinyConfig):
    """Configuration of a Toy model."""

    model_type = "toy"

    hidden_size = 32
    softcap: float | None = 30.0
    attention_dropout = AttributeError()

    def derive(self) -> None:
        super().derive()
        self.softcap = self.softcap or None


def rms(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    # float32 for the statistics, as the checkpoints were trained
    return (x.float() * torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + eps)).type_as(x)


class ToyMLP(TinyMLP):
    def __init__(self, config: ToyConfig) -> None:
        super().__init__(config)
        self.gate = nn.Linear(config.hidden_size, 2 * config.hidden_size, bias=False)
        self.down = nn.Linear(2 * config.hidden_size, config.hidden_size, bias=False)


class ToyAttention(TinyAttention):
    def __init__(self, config: ToyConfig, layer_idx: int) -> None:
        super().__init__(config, layer_idx)
        self.scaling = 1.0
        self.softcap = config.softcap

    def attention_kwargs(self) -> dict:
        return {"softcap": self.softcap}


class ToyDecoderLayer(TinyDecoderLayer):
    def __init__(self, config: ToyConfig, layer_idx: int) -> None:
        super().__init__(config, layer_idx)
        self.post_norm = TinyNorm(config.hidden_size)

    def forward(self, *, residual_scale: float = 1.0, **super_kwargs) -> torch.Tensor:
        hidden_states = super().forward(**super_kwargs)
        return self.post_norm(hidden_states) * residual_scale


class ToyModel(TinyModel):
    def __init__(self, config: ToyConfig) -> None:
        super().__init__(config)
        del self.dropout


class ToyForCausalLM(TinyForCausalLM):
    def compute_logits(self, hidden_states: torch.Tensor) -> torch.Tensor:
        logits = super().compute_logits(hidden_states)
        if self.model.config.softcap is not None:
            logits = torch.tanh(logits / self.model.config.softcap) * self.model.config.softcap
        return logits
