"""Gemma: Llama with embeddings scaled by sqrt(hidden_size), RMSNorm weights stored as
(scale - 1), a GeGLU MLP (tanh-approximated GELU) and tied input/output embeddings."""

import torch
from torch import nn

from generated.llama.configuration_llama import LlamaConfig
from generated.llama.modeling_llama import (
    LlamaAttention,
    LlamaDecoderLayer,
    LlamaForCausalLM,
    LlamaForSequenceClassification,
    LlamaForTokenClassification,
    LlamaModel,
    LlamaPreTrainedModel,
    LlamaRMSNorm,
)


class GemmaConfig(LlamaConfig):
    """Configuration of a Gemma model; the defaults describe Gemma-7B."""

    model_type = "gemma"

    vocab_size: int = 256000
    hidden_size: int = 3072
    intermediate_size: int = 24576
    num_hidden_layers: int = 28
    num_attention_heads: int = 16
    num_key_value_heads: int | None = 16
    head_dim: int | None = 256
    hidden_act: str = "gelu_pytorch_tanh"
    max_position_embeddings: int = 8192
    pad_token_id: int | None = 0
    eos_token_id: int | list[int] | None = 1
    bos_token_id: int | None = 2
    tie_word_embeddings: bool = True
    use_bidirectional_attention: bool | None = None

    def derive(self) -> None:
        super().derive()
        if self.hidden_act == "gelu":
            # released Gemma configs say "gelu" but the models were trained with the tanh approximation
            self.hidden_act = "gelu_pytorch_tanh"

    def validate(self) -> None:
        super().validate()
        if self.use_bidirectional_attention:
            raise ValueError("use_bidirectional_attention=True is not supported; only causal attention is")


class GemmaRMSNorm(LlamaRMSNorm):
    """RMSNorm whose weight stores (scale - 1): zeros mean the identity scale."""

    zero_centered = True

    def __init__(self, hidden_size: int, eps: float = 1e-6) -> None:
        super().__init__(hidden_size, eps)
        self.weight = nn.Parameter(torch.zeros(hidden_size))

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        output = hidden_states.float()
        output = output * torch.rsqrt(output.pow(2).mean(-1, keepdim=True) + self.variance_epsilon)
        output = output * (1.0 + self.weight.float())
        return output.type_as(hidden_states)


class GemmaAttention(LlamaAttention):
    pass


class GemmaDecoderLayer(LlamaDecoderLayer):
    pass


class GemmaPreTrainedModel(LlamaPreTrainedModel):
    pass


class GemmaModel(LlamaModel):
    def embed(self, input_ids: torch.Tensor) -> torch.Tensor:
        # the scale is rounded to float32, then to the weights' dtype, as in the reference
        normalizer = torch.tensor(self.config.hidden_size**0.5).to(self.embed_tokens.weight.dtype)
        return self.embed_tokens(input_ids) * normalizer


class GemmaForCausalLM(LlamaForCausalLM):
    pass


class GemmaForSequenceClassification(LlamaForSequenceClassification):
    pass


class GemmaForTokenClassification(LlamaForTokenClassification):
    pass
