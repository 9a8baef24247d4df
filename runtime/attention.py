"""Attention backends behind one calling contract.

Every backend is a function

    backend(module, query, key, value, attention_mask, *, scaling, dropout=0.0, **kwargs)
        -> (attn_output, attn_weights | None)

with `query` (B, H, Tq, D), `key`/`value` (B, Hkv, Tk, D), `attention_mask` a boolean tensor
broadcastable to (B, 1, Tq, Tk) where True means "may attend", or None for plain causal
attention without padding (for `flex_attention`, runtime/masks.py gives a BlockMask of the same
predicates instead of the boolean tensor). `attn_output` is (B, Tq, H, D). `module.num_key_value_groups` tells
how many query heads share a key/value head.

The eager backend is written out in every generated model file as the readable reference; the
registry holds the others:

- `sdpa`: torch's scaled_dot_product_attention. It cannot softcap attention logits (Gemma2), so a
  call with `softcap` runs `eager_chunked` instead, exact, and warns once that it did;
- `eager_chunked`: eager's math in query chunks, skipping masked key blocks, without repeating
  key/value heads (runtime/chunked_attention.py); exact, with softcapping;
- `flex_attention`: torch's flex_attention with softcapping as a score modifier and the masks as
  a BlockMask, compiled (runtime/flex.py); within ~1e-5 of eager;
- `flash_attention_2`: flash-attn on a CUDA GPU (runtime/flash.py).

`get_attention_backend(name, eager)` resolves a config's `_attn_implementation`; an unknown name
raises a `ValueError` listing the valid ones.
"""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from runtime.chunked_attention import chunked_attention_forward

AttentionBackend = Callable[..., tuple[torch.Tensor, torch.Tensor | None]]

SDPA_SOFTCAP_FALLBACK = (
    "attn_implementation='sdpa' cannot apply attention logit softcapping: softcapped layers run the exact "
    "'eager_chunked' kernel instead (the same results as 'eager'). Choose attn_implementation='eager_chunked' "
    "(the default for softcapped models) or 'flex_attention' to silence this warning"
)
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
    """torch's scaled_dot_product_attention; softcapped attention, which sdpa cannot compute, runs
    the exact `eager_chunked` kernel instead (with a warning, once per calling line)."""
    if softcap is not None:
        warnings.warn(SDPA_SOFTCAP_FALLBACK, UserWarning, stacklevel=2)
        return chunked_attention_forward(
            module, query, key, value, attention_mask, scaling=scaling, dropout=dropout, softcap=softcap, **kwargs
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


def flex_attention_forward(module: nn.Module, *args: Any, **kwargs: Any) -> tuple[torch.Tensor, None]:
    """torch's flex_attention (runtime/flex.py, imported only when selected)."""
    from runtime.flex import flex_attention_forward as forward

    return forward(module, *args, **kwargs)


ATTENTION_BACKENDS: dict[str, AttentionBackend] = {
    "sdpa": sdpa_attention_forward,
    "eager_chunked": chunked_attention_forward,
    "flex_attention": flex_attention_forward,
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
