# A hand-written stand-in for a generated base model (the input of this golden case).

"""Tiny: a two-layer toy transformer."""

import torch
from torch import nn

from runtime.activations import ACT2FN
from runtime.generation import GenerationMixin

from .configuration_tiny import TinyConfig

NORM_EPS = 1e-6


def rms(x: torch.Tensor, eps: float = NORM_EPS) -> torch.Tensor:
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)


class TinyNorm(nn.Module):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.weight * rms(x)


class TinyMLP(nn.Module):
    """Gated MLP."""

    def __init__(self, config: TinyConfig) -> None:
        super().__init__()
        self.gate = nn.Linear(config.hidden_size, 2 * config.hidden_size, bias=config.mlp_bias)
        self.down = nn.Linear(2 * config.hidden_size, config.hidden_size, bias=config.mlp_bias)
        self.act = ACT2FN["silu"]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(self.act(self.gate(x)))


class TinyAttention(nn.Module):
    def __init__(self, config: TinyConfig, layer_idx: int) -> None:
        super().__init__()
        self.layer_idx = layer_idx
        self.scaling = config.head_dim**-0.5
        self.qkv = nn.Linear(config.hidden_size, 3 * config.hidden_size)

    def attention_kwargs(self) -> dict:
        """Extra backend arguments for models that need them."""
        return {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        weights = torch.softmax(q @ k.transpose(-1, -2) * self.scaling, dim=-1)
        return weights @ v


class TinyDecoderLayer(nn.Module):
    def __init__(self, config: TinyConfig, layer_idx: int) -> None:
        super().__init__()
        self.norm = TinyNorm(config.hidden_size)
        self.attn = TinyAttention(config, layer_idx)
        self.mlp = TinyMLP(config)

    def forward(self, hidden_states: torch.Tensor, mask: torch.Tensor | None = None, **kwargs) -> torch.Tensor:
        hidden_states = hidden_states + self.attn(self.norm(hidden_states))
        return hidden_states + self.mlp(hidden_states)


class TinyModel(nn.Module):
    def __init__(self, config: TinyConfig) -> None:
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList([TinyDecoderLayer(config, i) for i in range(2)])
        self.dropout = nn.Dropout(0.1)
        self.norm = TinyNorm(config.hidden_size)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        hidden_states = self.embed(input_ids)
        for layer in self.layers:
            hidden_states = layer(hidden_states)
        return self.norm(hidden_states)


class TinyForCausalLM(nn.Module, GenerationMixin):
    def __init__(self, config: TinyConfig) -> None:
        super().__init__()
        self.model = TinyModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)

    def compute_logits(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.lm_head(hidden_states)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.compute_logits(self.model(input_ids))


__all__ = ["TinyModel", "TinyForCausalLM"]
