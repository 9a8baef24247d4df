"""Attention backends behind one calling contract.

Every backend is a function

    backend(module, query, key, value, attention_mask, *, scaling, dropout=0.0, **kwargs)
        -> (attn_output, attn_weights | None)

with `query` (B, H, Tq, D), `key`/`value` (B, Hkv, Tk, D), `attention_mask` a boolean tensor
broadcastable to (B, 1, Tq, Tk) where True means "may attend", or None for plain causal
attention without padding. `attn_output` is (B, Tq, H, D). `module.num_key_value_groups` tells
how many query heads share a key/value head.

The eager backend is written out in every generated model file as the readable reference; the
registry holds the others. `get_attention_backend(name, eager)` resolves a config's
`_attn_implementation`; an unknown name raises a `ValueError` listing the valid ones.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

AttentionBackend = Callable[..., tuple[torch.Tensor, torch.Tensor | None]]

FLASH_INSTALL_HINT = "pip install flash-attn --no-build-isolation (needs a CUDA GPU), or use 'sdpa' or 'eager'"


def sdpa_attention_forward(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    *,
    scaling: float,
    dropout: float = 0.0,
    softcap: float | None = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """torch's scaled_dot_product_attention; refuses what it cannot compute (softcapping)."""
    if softcap is not None:
        raise ValueError(
            "the 'sdpa' backend cannot apply attention logit softcapping; use attn_implementation='eager'"
        )
    groups = getattr(module, "num_key_value_groups", 1)
    q_len = query.shape[2]
    is_causal = attention_mask is None and q_len > 1 and getattr(module, "is_causal", True)
    attn_output = nn.functional.scaled_dot_product_attention(
        query,
        key,
        value,
        attn_mask=attention_mask,
        dropout_p=dropout,
        scale=scaling,
        is_causal=is_causal,
        enable_gqa=groups > 1,
    )
    return attn_output.transpose(1, 2).contiguous(), None


def flash_attention_forward(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    *,
    scaling: float,
    dropout: float = 0.0,
    softcap: float | None = None,
    sliding_window: int | None = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """flash-attn 2 on (B, T, H, D) tensors. Padded batches go through the varlen kernel."""
    from runtime.flash import flash_attention  # imported here: flash-attn is optional

    output = flash_attention(
        query.transpose(1, 2),
        key.transpose(1, 2),
        value.transpose(1, 2),
        attention_mask,
        scaling=scaling,
        dropout=dropout,
        softcap=softcap,
        sliding_window=sliding_window,
        causal=getattr(module, "is_causal", True),
    )
    return output, None


ATTENTION_BACKENDS: dict[str, AttentionBackend] = {
    "sdpa": sdpa_attention_forward,
    "flash_attention_2": flash_attention_forward,
}
VALID_NAMES = ("eager", *ATTENTION_BACKENDS)


def flash_attn_available() -> bool:
    return importlib.util.find_spec("flash_attn") is not None and torch.cuda.is_available()


def check_attn_implementation(name: str | None) -> str:
    """Return a valid backend name (None means "sdpa"), or raise saying what is valid and why."""
    name = name or "sdpa"
    if name not in VALID_NAMES:
        raise ValueError(f"unknown attn_implementation {name!r}; valid names: {', '.join(VALID_NAMES)}")
    if name == "flash_attention_2" and not flash_attn_available():
        raise ImportError(
            f"attn_implementation='flash_attention_2' needs the flash-attn package: {FLASH_INSTALL_HINT}"
        )
    return name


def get_attention_backend(name: str | None, eager: AttentionBackend) -> AttentionBackend:
    """The function for backend `name` (None: sdpa); `eager` is the model file's own eager attention."""
    name = name or "sdpa"
    if name == "eager":
        return eager
    try:
        return ATTENTION_BACKENDS[name]
    except KeyError:
        raise ValueError(f"unknown attn_implementation {name!r}; valid names: {', '.join(VALID_NAMES)}") from None
