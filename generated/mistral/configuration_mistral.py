# ----------------------------------------------------------------------------------------------------
# This file was generated from modular/modular_mistral.py by the modular converter. Do not edit it by hand:
# edit modular/modular_mistral.py instead, then regenerate with
#     python converter/run.py modular/modular_mistral.py
# ----------------------------------------------------------------------------------------------------

from typing import ClassVar

from runtime.configuration_utils import PretrainedConfig
from runtime.rope import DEFAULT_THETA, standardize_rope_parameters


class MistralConfig(PretrainedConfig):
    """Configuration of a Mistral model; the defaults describe Mistral-7B.

    Every layer attends to at most `sliding_window` positions (None: full attention).
    """

    model_type = "mistral"
    default_theta: ClassVar[float] = DEFAULT_THETA

    vocab_size: int = 32000
    hidden_size: int = 4096
    intermediate_size: int = 14336
    num_hidden_layers: int = 32
    num_attention_heads: int = 32
    num_key_value_heads: int | None = 8
    head_dim: int | None = None
    hidden_act: str = "silu"
    max_position_embeddings: int = 4096 * 32
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
    sliding_window: int | None = 4096

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


__all__ = ["MistralConfig"]
