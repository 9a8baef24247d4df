"""flash-attn 2 wrapper used by the `flash_attention_2` backend (imported only when selected).

Inputs are (B, T, H, D). With flash-attn, the mask the model builds is not a (B, 1, Tq, Tk)
tensor but the (B, Tk) key-padding mask (see `runtime.masks.create_causal_mask`), or None when no
row is padded. Padded batches are packed (padding removed) and run through the varlen kernel;
causal masking is bottom-right aligned, which is what a cached decode step needs.
"""

from __future__ import annotations

import torch


def _pack(x: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, int]:
    """(B, T, H, D) and a (B, T) bool mask -> (tokens, H, D), cumulative lengths, longest row."""
    lengths = valid.sum(dim=-1, dtype=torch.int32)
    cu_seqlens = torch.nn.functional.pad(torch.cumsum(lengths, dim=0, dtype=torch.int32), (1, 0))
    return x[valid], cu_seqlens, int(lengths.max())


def flash_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    key_padding_mask: torch.Tensor | None,
    *,
    scaling: float,
    dropout: float = 0.0,
    softcap: float | None = None,
    sliding_window: int | None = None,
    causal: bool = True,
) -> torch.Tensor:
    """Attention over (B, T, H, D) tensors; returns (B, Tq, H, D). GQA is native to flash-attn."""
    from flash_attn import flash_attn_func, flash_attn_varlen_func

    options = dict(
        dropout_p=dropout,
        softmax_scale=scaling,
        causal=causal,
        window_size=(sliding_window - 1, 0) if sliding_window is not None else (-1, -1),
        softcap=softcap or 0.0,
    )
    if key_padding_mask is None:
        return flash_attn_func(query, key, value, **options)
    key_valid = key_padding_mask.bool()
    query_valid = key_valid[:, -query.shape[1] :]
    q, cu_q, max_q = _pack(query, query_valid)
    k, cu_k, max_k = _pack(key, key_valid)
    v, _, _ = _pack(value, key_valid)
    packed = flash_attn_varlen_func(q, k, v, cu_q, cu_k, max_q, max_k, **options)
    output = query.new_zeros(query.shape[:3] + (value.shape[-1],))
    output[query_valid] = packed
    return output
