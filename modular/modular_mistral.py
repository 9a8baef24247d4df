"""Mistral: Llama with sliding-window attention and no projection biases."""

from generated.llama.configuration_llama import LlamaConfig
from generated.llama.modeling_llama import (
    LlamaAttention,
    LlamaDecoderLayer,
    LlamaForCausalLM,
    LlamaForQuestionAnswering,
    LlamaForSequenceClassification,
    LlamaForTokenClassification,
    LlamaModel,
    LlamaPreTrainedModel,
)
from runtime.masks import create_causal_mask


class MistralConfig(LlamaConfig):
    """Configuration of a Mistral model; the defaults describe Mistral-7B.

    Every layer attends to at most `sliding_window` positions (None: full attention).
    """

    model_type = "mistral"

    intermediate_size: int = 14336
    num_key_value_heads: int | None = 8
    max_position_embeddings: int = 4096 * 32
    sliding_window: int | None = 4096


class MistralAttention(LlamaAttention):
    def attention_kwargs(self) -> dict:
        return {"sliding_window": self.config.sliding_window}


class MistralDecoderLayer(LlamaDecoderLayer):
    pass


class MistralPreTrainedModel(LlamaPreTrainedModel):
    pass


class MistralModel(LlamaModel):
    def build_masks(self, inputs_embeds, attention_mask, past_key_values):
        """Every layer uses the same mask, limited to the sliding window when there is one."""
        mask = create_causal_mask(
            self.config, inputs_embeds, attention_mask, past_key_values, sliding_window_size=self.config.sliding_window
        )
        return {"full_attention": mask}


class MistralForCausalLM(LlamaForCausalLM):
    pass


class MistralForSequenceClassification(LlamaForSequenceClassification):
    pass


class MistralForTokenClassification(LlamaForTokenClassification):
    pass


class MistralForQuestionAnswering(LlamaForQuestionAnswering):
    base_model_prefix = "model"
