"""Qwen2: Mistral with query/key/value biases and sliding-window attention on chosen layers only.

`layer_types` names each layer's attention (`full_attention` or `sliding_attention`); by default
layers from `max_window_layers` on slide when `use_sliding_window` is set.
"""

from generated.mistral.configuration_mistral import MistralConfig
from generated.mistral.modeling_mistral import (
    MistralAttention,
    MistralDecoderLayer,
    MistralForCausalLM,
    MistralForQuestionAnswering,
    MistralForSequenceClassification,
    MistralForTokenClassification,
    MistralModel,
    MistralPreTrainedModel,
)
from runtime.masks import create_layer_type_masks


class Qwen2Config(MistralConfig):
    """Configuration of a Qwen2 model; the defaults describe Qwen2-7B."""

    model_type = "qwen2"

    vocab_size: int = 151936
    intermediate_size: int = 22016
    num_key_value_heads: int | None = 32
    max_position_embeddings: int = 32768
    bos_token_id: int | None = None
    eos_token_id: int | list[int] | None = None
    use_sliding_window: bool = False
    max_window_layers: int = 28
    layer_types: list[str] | None = None

    def derive(self) -> None:
        super().derive()
        self.sliding_window = self.sliding_window if self.use_sliding_window else None
        if self.layer_types is None:
            self.layer_types = [
                "sliding_attention"
                if self.sliding_window is not None and i >= self.max_window_layers
                else "full_attention"
                for i in range(self.num_hidden_layers)
            ]


class Qwen2Attention(MistralAttention):
    def __init__(self, config: Qwen2Config, layer_idx: int) -> None:
        super().__init__(config, layer_idx)
        self.sliding_window = config.sliding_window if config.layer_types[layer_idx] == "sliding_attention" else None

    def qkv_bias(self, config: Qwen2Config) -> bool:
        return True  # Qwen2's query, key and value projections always have biases

    def attention_kwargs(self) -> dict:
        return {"sliding_window": self.sliding_window}


class Qwen2DecoderLayer(MistralDecoderLayer):
    def __init__(self, config: Qwen2Config, layer_idx: int) -> None:
        super().__init__(config, layer_idx)
        self.attention_type = config.layer_types[layer_idx]


class Qwen2PreTrainedModel(MistralPreTrainedModel):
    pass


class Qwen2Model(MistralModel):
    def build_masks(self, inputs_embeds, attention_mask, past_key_values):
        """A causal mask for full-attention layers, a windowed one for sliding layers."""
        return create_layer_type_masks(self.config, inputs_embeds, attention_mask, past_key_values)


class Qwen2ForCausalLM(MistralForCausalLM):
    pass


class Qwen2ForSequenceClassification(MistralForSequenceClassification):
    pass


class Qwen2ForTokenClassification(MistralForTokenClassification):
    pass


class Qwen2ForQuestionAnswering(MistralForQuestionAnswering):
    base_model_prefix = "transformer"
