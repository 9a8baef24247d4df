"""A tiny model built on `PreTrainedModel`, independent of any generated file.

It has one of each thing checkpoint code must handle: an embedding with a padding row, linear
layers with and without bias, an RMSNorm (`weight` starts at 1) and a zero-centred one (starts
at 0), a non-persistent buffer computed in `__init__`, and an `lm_head` tied to the embedding when
`tie_word_embeddings` is set. It imports only torch and `runtime`, so a subprocess that measures
memory can import it cheaply.
"""

from __future__ import annotations

import torch
from torch import nn

from runtime.configuration_utils import PretrainedConfig
from runtime.modeling_utils import PreTrainedModel


class ToyConfig(PretrainedConfig):
    model_type = "toy"
    vocab_size: int = 11
    hidden_size: int = 8
    num_layers: int = 1
    initializer_range: float = 0.02
    tie_word_embeddings: bool = False
    pad_token_id: int | None = 0


class ToyRMSNorm(nn.Module):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(size))

    def scale(self) -> torch.Tensor:
        return self.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * self.scale()


class ToyZeroCenteredRMSNorm(ToyRMSNorm):
    """Gemma-style: the stored weight is an offset from 1, so it starts at 0."""

    zero_centered = True

    def scale(self) -> torch.Tensor:
        return 1.0 + self.weight


class ToyPreTrainedModel(PreTrainedModel):
    config_class = ToyConfig
    base_model_prefix = "model"


class ToyModel(ToyPreTrainedModel):
    def __init__(self, config: ToyConfig) -> None:
        super().__init__(config)
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size, config.pad_token_id)
        self.layers = nn.ModuleList(
            [nn.Linear(config.hidden_size, config.hidden_size) for _ in range(config.num_layers)]
        )
        self.pre_norm = ToyZeroCenteredRMSNorm(config.hidden_size)
        self.norm = ToyRMSNorm(config.hidden_size)
        # computed, never saved: must come out of loading real (not meta) and intact
        self.register_buffer("position_scale", 1.0 + torch.arange(config.hidden_size) / 10, persistent=False)
        self.post_init()

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        hidden = self.pre_norm(self.embed_tokens(input_ids) * self.position_scale)  # (B, T, H)
        for layer in self.layers:
            hidden = hidden + torch.tanh(layer(hidden))
        return self.norm(hidden)


class ToyForCausalLM(ToyPreTrainedModel):
    _tied_weights_keys = {"lm_head.weight": "model.embed_tokens.weight"}

    def __init__(self, config: ToyConfig) -> None:
        super().__init__(config)
        self.model = ToyModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.lm_head(self.model(input_ids))  # (B, T, V)
