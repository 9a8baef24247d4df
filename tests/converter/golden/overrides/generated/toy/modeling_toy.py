# ----------------------------------------------------------------------------------------------------
# This file was generated from modular/modular_toy.py by the modular converter. Do not edit it by hand:
# edit modular/modular_toy.py instead, then regenerate with
#     python converter/run.py modular/modular_toy.py
# ----------------------------------------------------------------------------------------------------

# Copyright 2025 the modular-models authors. Licensed under the Apache License, Version 2.0.

"""Toy: Tiny with a wider config, softcapped logits, a scaled attention and extra norms.

The golden case for inheritance: config fields overridden, added and removed, `__init__` tails
merged in place, a helper overridden, a hook replaced, a `**super_kwargs` forward, `del`, and a
`super()` call whose result is post-processed.
"""

import torch
from torch import nn

from runtime.activations import ACT2FN
from runtime.generation import GenerationMixin

from .configuration_toy import ToyConfig


def rms(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    # float32 for the statistics, as the checkpoints were trained
    return (x.float() * torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + eps)).type_as(x)


class ToyNorm(nn.Module):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.weight * rms(x)


class ToyMLP(nn.Module):
    """Gated MLP."""

    def __init__(self, config: ToyConfig) -> None:
        super().__init__()
        self.gate = nn.Linear(config.hidden_size, 2 * config.hidden_size, bias=False)
        self.down = nn.Linear(2 * config.hidden_size, config.hidden_size, bias=False)
        self.act = ACT2FN["silu"]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(self.act(self.gate(x)))


class ToyAttention(nn.Module):
    def __init__(self, config: ToyConfig, layer_idx: int) -> None:
        super().__init__()
        self.layer_idx = layer_idx
        self.scaling = 1.0
        self.qkv = nn.Linear(config.hidden_size, 3 * config.hidden_size)
        self.softcap = config.softcap

    def attention_kwargs(self) -> dict:
        return {"softcap": self.softcap}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        weights = torch.softmax(q @ k.transpose(-1, -2) * self.scaling, dim=-1)
        return weights @ v


class ToyDecoderLayer(nn.Module):
    def __init__(self, config: ToyConfig, layer_idx: int) -> None:
        super().__init__()
        self.norm = ToyNorm(config.hidden_size)
        self.attn = ToyAttention(config, layer_idx)
        self.mlp = ToyMLP(config)
        self.post_norm = ToyNorm(config.hidden_size)

    def forward(
        self, hidden_states: torch.Tensor, mask: torch.Tensor | None = None, *, residual_scale: float = 1.0, **kwargs
    ) -> torch.Tensor:
        hidden_states = hidden_states + self.attn(self.norm(hidden_states))
        hidden_states = hidden_states + self.mlp(hidden_states)
        return self.post_norm(hidden_states) * residual_scale


class ToyModel(nn.Module):
    def __init__(self, config: ToyConfig) -> None:
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList([ToyDecoderLayer(config, i) for i in range(2)])
        self.norm = ToyNorm(config.hidden_size)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        hidden_states = self.embed(input_ids)
        for layer in self.layers:
            hidden_states = layer(hidden_states)
        return self.norm(hidden_states)


class ToyForCausalLM(nn.Module, GenerationMixin):
    def __init__(self, config: ToyConfig) -> None:
        super().__init__()
        self.model = ToyModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)

    def compute_logits(self, hidden_states: torch.Tensor) -> torch.Tensor:
        logits = self.lm_head(hidden_states)
        if self.model.config.softcap is not None:
            logits = torch.tanh(logits / self.model.config.softcap) * self.model.config.softcap
        return logits

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.compute_logits(self.model(input_ids))


__all__ = ["ToyModel", "ToyForCausalLM"]
