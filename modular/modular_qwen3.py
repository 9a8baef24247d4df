"""Qwen3: Qwen2 with an RMSNorm on every query and key head before rotary, query/key/value biases
only when `attention_bias` is set (off by default) and `head_dim` 128 by default.

Sliding-window layers are chosen as in Qwen2 (`layer_types`, `use_sliding_window`,
`max_window_layers`).
"""

import torch

from generated.qwen2.configuration_qwen2 import Qwen2Config
from generated.qwen2.modeling_qwen2 import (
    Qwen2Attention,
    Qwen2DecoderLayer,
    Qwen2ForCausalLM,
    Qwen2ForQuestionAnswering,
    Qwen2ForSequenceClassification,
    Qwen2ForTokenClassification,
    Qwen2Model,
    Qwen2PreTrainedModel,
    Qwen2RMSNorm,
)


class Qwen3Config(Qwen2Config):
    """Configuration of a Qwen3 model; the defaults are transformers' (Qwen2-7B sizes, head_dim 128)."""

    model_type = "qwen3"

    head_dim: int | None = 128


class Qwen3RMSNorm(Qwen2RMSNorm):
    pass


class Qwen3Attention(Qwen2Attention):
    """Qwen2's attention with queries and keys RMS-normalised over each head's dimensions."""

    def __init__(self, config: Qwen3Config, layer_idx: int) -> None:
        super().__init__(config, layer_idx)
        self.q_norm = Qwen3RMSNorm(self.head_dim, eps=config.rms_norm_eps)
        self.k_norm = Qwen3RMSNorm(self.head_dim, eps=config.rms_norm_eps)

    def qkv_bias(self, config: Qwen3Config) -> bool:
        return config.attention_bias  # off by default, unlike Qwen2's

    def normalize_qk(self, query_states: torch.Tensor, key_states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """RMSNorm over head_dim of (B, T, H, D) queries and (B, T, Hkv, D) keys."""
        return self.q_norm(query_states), self.k_norm(key_states)


class Qwen3DecoderLayer(Qwen2DecoderLayer):
    pass


class Qwen3PreTrainedModel(Qwen2PreTrainedModel):
    pass


class Qwen3Model(Qwen2Model):
    pass


class Qwen3ForCausalLM(Qwen2ForCausalLM):
    pass


class Qwen3ForSequenceClassification(Qwen2ForSequenceClassification):
    pass


class Qwen3ForTokenClassification(Qwen2ForTokenClassification):
    pass


class Qwen3ForQuestionAnswering(Qwen2ForQuestionAnswering):
    pass
