# A hand-written stand-in for a generated base model (the input of this golden case).

from runtime.configuration_utils import PretrainedConfig


class TinyConfig(PretrainedConfig):
    """Configuration of a Tiny model."""

    model_type = "tiny"

    vocab_size: int = 64
    hidden_size: int = 16
    num_attention_heads: int = 2
    head_dim: int | None = None
    mlp_bias: bool = False
    attention_dropout: float = 0.0  # read by no code: the field ToyConfig removes

    def derive(self) -> None:
        if self.head_dim is None:
            self.head_dim = self.hidden_size // self.num_attention_heads


__all__ = ["TinyConfig"]
