# ----------------------------------------------------------------------------------------------------
# This file was generated from modular/modular_llama.py by the modular converter. Do not edit it by hand:
# edit modular/modular_llama.py instead, then regenerate with
#     python converter/run.py modular/modular_llama.py
# ----------------------------------------------------------------------------------------------------

from typing import ClassVar

from runtime.configuration_utils import PretrainedConfig
from runtime.rope import DEFAULT_THETA, standardize_rope_parameters


class LlamaConfig(PretrainedConfig):
    """Configuration of a Llama model; the defaults describe Llama-2-7B.

    `head_dim` defaults to hidden_size // num_attention_heads and `num_key_value_heads` to
    num_attention_heads (plain multi-head attention). `rope_parameters` holds `rope_type` and
    `rope_theta` plus the keys of the rope type; legacy `rope_theta`/`rope_scaling` keys are read.
    Without a theta in config.json, `rope_theta` is `default_theta`, or the value of a `rope_theta`
    field where a model declares one (as transformers 5.23 reads them).
    """

    model_type = "llama"
    default_theta: ClassVar[float] = DEFAULT_THETA

    vocab_size: int = 32000
    hidden_size: int = 4096
    intermediate_size: int = 11008
    num_hidden_layers: int = 32
    num_attention_heads: int = 32
    num_key_value_heads: int | None = None
    head_dim: int | None = None
    hidden_act: str = "silu"
    max_position_embeddings: int = 2048
    initializer_range: float = 0.02
    rms_norm_eps: float = 1e-6
    use_cache: bool = True
    pad_token_id: int | None = None
    bos_token_id: int | None = 1
    eos_token_id: int | list[int] | None = 2
    pretraining_tp: int | None = 1
    tie_word_embeddings: bool = False
    rope_parameters: dict | None = None
    attention_bias: bool = False
    attention_dropout: float = 0.0
    mlp_bias: bool = False

    def derive(self) -> None:
        if self.head_dim is None:
            self.head_dim = self.hidden_size // self.num_attention_heads
        if self.num_key_value_heads is None:
            self.num_key_value_heads = self.num_attention_heads
        self.rope_parameters = standardize_rope_parameters(
            self.rope_parameters,
            self.extra_fields,
            self.max_position_embeddings,
            default_theta=getattr(self, "rope_theta", self.default_theta),
        )

    def validate(self) -> None:
        sizes = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads")
        for name in (*sizes, "num_key_value_heads", "head_dim"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name}={getattr(self, name)} must be positive")
        if self.hidden_size % self.num_attention_heads != 0:
            raise ValueError(
                f"hidden_size={self.hidden_size} is not a multiple of num_attention_heads={self.num_attention_heads}"
            )
        if self.num_attention_heads % self.num_key_value_heads != 0:
            raise ValueError(
                f"num_attention_heads={self.num_attention_heads} is not a multiple of "
                f"num_key_value_heads={self.num_key_value_heads}"
            )


__all__ = ["LlamaConfig"]
