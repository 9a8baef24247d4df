# ----------------------------------------------------------------------------------------------------
# This file was generated from modular/modular_gemma2.py by the modular converter. Do not edit it by hand:
# edit modular/modular_gemma2.py instead, then regenerate with
#     python converter/run.py modular/modular_gemma2.py
# ----------------------------------------------------------------------------------------------------

from typing import ClassVar

from runtime.configuration_utils import PretrainedConfig
from runtime.rope import DEFAULT_THETA, standardize_rope_parameters


class Gemma2Config(PretrainedConfig):
    """Configuration of a Gemma2 model; the defaults describe Gemma2-2B.

    Layers alternate sliding-window (even indices) and global attention unless `layer_types`
    says otherwise. Softcapping of None turns it off.
    """

    model_type = "gemma2"
    default_theta: ClassVar[float] = DEFAULT_THETA

    vocab_size: int = 256000
    hidden_size: int = 2304
    intermediate_size: int = 9216
    num_hidden_layers: int = 26
    num_attention_heads: int = 8
    num_key_value_heads: int | None = 4
    head_dim: int | None = 256
    hidden_act: str = "gelu_pytorch_tanh"
    max_position_embeddings: int = 8192
    initializer_range: float = 0.02
    rms_norm_eps: float = 1e-6
    use_cache: bool = True
    pad_token_id: int | None = 0
    bos_token_id: int | None = 2
    eos_token_id: int | list[int] | None = 1
    pretraining_tp: int | None = 1
    tie_word_embeddings: bool = True
    rope_parameters: dict | None = None
    attention_bias: bool = False
    attention_dropout: float = 0.0
    mlp_bias: bool = False
    use_bidirectional_attention: bool | None = None
    hidden_activation: str = "gelu_pytorch_tanh"
    query_pre_attn_scalar: int = 256
    sliding_window: int | None = 4096
    layer_types: list[str] | None = None
    final_logit_softcapping: float | None = 30.0
    attn_logit_softcapping: float | None = 50.0

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
        if self.hidden_act == "gelu":
            # released Gemma2 configs say "gelu" but the models were trained with the tanh approximation
            self.hidden_act = "gelu_pytorch_tanh"
        # Gemma2 checkpoints name the MLP activation `hidden_activation`
        self.hidden_act = self.hidden_activation
        if self.layer_types is None:
            self.layer_types = [
                "sliding_attention" if (i + 1) % 2 else "full_attention" for i in range(self.num_hidden_layers)
            ]

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
        if self.use_bidirectional_attention:
            raise ValueError("use_bidirectional_attention=True is not supported; only causal attention is")


__all__ = ["Gemma2Config"]
