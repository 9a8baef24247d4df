# ----------------------------------------------------------------------------------------------------
# This file was generated from modular/modular_toy.py by the modular converter. Do not edit it by hand:
# edit modular/modular_toy.py instead, then regenerate with
#     python converter/run.py modular/modular_toy.py
# ----------------------------------------------------------------------------------------------------

# Copyright 2025 the modular-models authors. Licensed under the Apache License, Version 2.0.

from runtime.configuration_utils import PretrainedConfig


class ToyConfig(PretrainedConfig):
    """Configuration of a Toy model."""

    model_type = "toy"

    vocab_size: int = 64
    hidden_size: int = 32
    num_attention_heads: int = 2
    head_dim: int | None = None
    mlp_bias: bool = False
    softcap: float | None = 30.0

    def derive(self) -> None:
        if self.head_dim is None:
            self.head_dim = self.hidden_size // self.num_attention_heads
        self.softcap = self.softcap or None


__all__ = ["ToyConfig"]
