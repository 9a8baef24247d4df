"""Gemma2: Gemma with alternating sliding-window and global layers, softcapped attention logits
and final logits, `query_pre_attn_scalar` attention scaling, and extra norms around the MLP.

Softcapping (tanh(scores / cap) * cap before masking) is something sdpa cannot compute. Gemma2
models default to "eager_chunked", the runtime's exact kernel for it (the eager math below, in
query chunks that skip masked key blocks); "eager" and "flex_attention" work too, and "sdpa"
runs softcapped layers with "eager_chunked" and says so once.
"""

import torch
from torch import nn

from generated.gemma.configuration_gemma import GemmaConfig
from generated.gemma.modeling_gemma import (
    GemmaAttention,
    GemmaDecoderLayer,
    GemmaForCausalLM,
    GemmaForSequenceClassification,
    GemmaForTokenClassification,
    GemmaModel,
    GemmaPreTrainedModel,
    GemmaRMSNorm,
    repeat_kv,
)
from runtime.masks import create_layer_type_masks


class Gemma2Config(GemmaConfig):
    """Configuration of a Gemma2 model; the defaults describe Gemma2-2B.

    Layers alternate sliding-window (even indices) and global attention unless `layer_types`
    says otherwise. Softcapping of None turns it off.
    """

    model_type = "gemma2"

    hidden_size: int = 2304
    intermediate_size: int = 9216
    num_hidden_layers: int = 26
    num_attention_heads: int = 8
    num_key_value_heads: int | None = 4
    hidden_activation: str = "gelu_pytorch_tanh"
    query_pre_attn_scalar: int = 256
    sliding_window: int | None = 4096
    layer_types: list[str] | None = None
    final_logit_softcapping: float | None = 30.0
    attn_logit_softcapping: float | None = 50.0

    def derive(self) -> None:
        super().derive()
        # Gemma2 checkpoints name the MLP activation `hidden_activation`
        self.hidden_act = self.hidden_activation
        if self.layer_types is None:
            self.layer_types = [
                "sliding_attention" if (i + 1) % 2 else "full_attention" for i in range(self.num_hidden_layers)
            ]


class Gemma2RMSNorm(GemmaRMSNorm):
    pass


def eager_attention_forward(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    *,
    scaling: float,
    dropout: float = 0.0,
    softcap: float | None = None,
    **kwargs,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The reference attention with logits softcapped to (-softcap, softcap) before masking."""
    key_states = repeat_kv(key, module.num_key_value_groups)
    value_states = repeat_kv(value, module.num_key_value_groups)

    attn_weights = torch.matmul(query, key_states.transpose(2, 3)) * scaling  # (B, H, Tq, Tk)
    if softcap is not None:
        attn_weights = torch.tanh(attn_weights / softcap) * softcap
    if attention_mask is not None:
        attn_weights = attn_weights.masked_fill(~attention_mask, torch.finfo(attn_weights.dtype).min)

    attn_weights = nn.functional.softmax(attn_weights, dim=-1, dtype=torch.float32).to(query.dtype)
    attn_weights = nn.functional.dropout(attn_weights, p=dropout, training=module.training)
    attn_output = torch.matmul(attn_weights, value_states)
    attn_output = attn_output.transpose(1, 2).contiguous()  # (B, Tq, H, D)
    return attn_output, attn_weights


class Gemma2Attention(GemmaAttention):
    def __init__(self, config: Gemma2Config, layer_idx: int) -> None:
        super().__init__(config, layer_idx)
        self.scaling = config.query_pre_attn_scalar**-0.5
        self.attn_logit_softcapping = config.attn_logit_softcapping
        self.sliding_window = config.sliding_window if config.layer_types[layer_idx] == "sliding_attention" else None

    def attention_kwargs(self) -> dict:
        return {"softcap": self.attn_logit_softcapping, "sliding_window": self.sliding_window}


class Gemma2DecoderLayer(GemmaDecoderLayer):
    """Norms on both sides of the attention and of the MLP."""

    def __init__(self, config: Gemma2Config, layer_idx: int) -> None:
        super().__init__(config, layer_idx)
        self.attention_type = config.layer_types[layer_idx]
        self.pre_feedforward_layernorm = Gemma2RMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.post_feedforward_layernorm = Gemma2RMSNorm(config.hidden_size, eps=config.rms_norm_eps)

    def attention_block(self, hidden_states, position_embeddings, attention_mask, past_key_values):
        residual = hidden_states
        hidden_states = self.input_layernorm(hidden_states)
        hidden_states, _ = self.self_attn(
            hidden_states,
            position_embeddings=position_embeddings,
            attention_mask=attention_mask,
            past_key_values=past_key_values,
        )
        hidden_states = self.post_attention_layernorm(hidden_states)
        return residual + hidden_states

    def feed_forward_block(self, hidden_states: torch.Tensor) -> torch.Tensor:
        residual = hidden_states
        hidden_states = self.pre_feedforward_layernorm(hidden_states)
        hidden_states = self.mlp(hidden_states)
        hidden_states = self.post_feedforward_layernorm(hidden_states)
        return residual + hidden_states


class Gemma2PreTrainedModel(GemmaPreTrainedModel):
    # sdpa cannot softcap; the chunked eager kernel is exact and was the fastest exact backend on
    # CPU (utils/benchmark_models.py --models gemma2)
    default_attn_implementation = "eager_chunked"


class Gemma2Model(GemmaModel):
    def build_masks(self, inputs_embeds, attention_mask, past_key_values):
        """A causal mask for full-attention layers, a windowed one for sliding layers."""
        return create_layer_type_masks(self.config, inputs_embeds, attention_mask, past_key_values)


class Gemma2ForCausalLM(GemmaForCausalLM):
    def compute_logits(self, hidden_states: torch.Tensor) -> torch.Tensor:
        logits = self.lm_head(hidden_states)
        if self.config.final_logit_softcapping is not None:
            cap = self.config.final_logit_softcapping
            logits = torch.tanh(logits / cap) * cap
        return logits


class Gemma2ForSequenceClassification(GemmaForSequenceClassification):
    pass


class Gemma2ForTokenClassification(GemmaForTokenClassification):
    pass
