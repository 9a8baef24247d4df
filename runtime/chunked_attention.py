"""The `eager_chunked` backend: eager attention's math, done in query chunks, without copies.

It computes what the eager attention written out in a model file computes, step for step
(scores = q @ k^T * scaling; optional softcap tanh(scores / cap) * cap; masked positions set
to the dtype's minimum; softmax in float32; @ v), so it is exact wherever eager is (Gemma2's
attention logit softcapping, which sdpa cannot express), and differs from it only by the
summation order of the matrix products (about 1e-6 in float32). It is faster because:

- queries are processed `CHUNK_ROWS` at a time, and each chunk reads only the keys its causal
  (and sliding-window) band can reach: about half the work of a causal prefill is skipped, and a
  sliding layer reads at most window + chunk keys per chunk;
- grouped key/value heads are not repeated: the queries of a group share one matrix product
  with their key head, (B, Hkv, G * C, D) @ (B, Hkv, D, K);
- scaling, softcapping and masking happen in place on one score buffer per chunk, and each
  chunk's output is written straight into the (B, Tq, H, D) result.

The contract is the registry's (runtime/attention.py). `attention_mask` None means plain causal
attention when `module.is_causal` (the queries being the last Tq of the Tk keys, as in
self-attention with a cache), else no mask. Without a mask the band is skipped only for causal
modules, and the window only when the caller passes `sliding_window`; with a mask, each chunk
reads the keys from the first to the last its mask shows (a static cache's buffer keeps keys at
its own slots); a query row that sees no key of its
band (a left-padding position) gets a uniform average instead of eager's average over all keys,
which no real position reads.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

CHUNK_ROWS = 128  # query rows per chunk: small enough to skip most masked blocks, large enough for fast matmuls


def key_band(q0: int, q1: int, offset: int, num_keys: int, causal: bool, window: int | None) -> tuple[int, int]:
    """[lo, hi) of the keys that query rows [q0, q1) may see; row i sits at position i + offset."""
    if not causal:
        return 0, num_keys
    hi = min(num_keys, q1 + offset)
    lo = max(0, q0 + offset - window + 1) if window is not None else 0
    return lo, hi


def band_mask(
    q0: int, q1: int, lo: int, hi: int, offset: int, window: int | None, device: torch.device
) -> torch.Tensor:
    """The (C, K) causal (and windowed) mask of one chunk, when the caller passed no mask."""
    q = torch.arange(q0 + offset, q1 + offset, device=device).view(-1, 1)
    k = torch.arange(lo, hi, device=device).view(1, -1)
    visible = k <= q
    if window is not None:
        visible &= q - k < window
    return visible


def mask_band(mask: torch.Tensor, num_keys: int) -> tuple[int, int]:
    """[lo, hi) of the keys some row of a chunk's (B, 1, C, K) mask shows: the keys a given mask
    lets through, wherever they sit (a static cache's buffer holds them at its own slots, not as
    the last keys); all keys while torch.compile traces (no shape may depend on values) or when
    the mask shows none."""
    if torch.compiler.is_compiling():
        return 0, num_keys
    visible = mask.reshape(-1, mask.shape[-1]).any(dim=0).nonzero()
    if visible.numel() == 0:
        return 0, num_keys
    return int(visible[0]), int(visible[-1]) + 1


def chunked_attention_forward(
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
    """Eager attention over (B, H, Tq, D) queries and (B, Hkv, Tk, D) keys; returns (B, Tq, H, D)."""
    batch, heads, q_len, head_dim = query.shape
    kv_heads, num_keys = key.shape[1], key.shape[2]
    groups = heads // kv_heads
    causal = bool(getattr(module, "is_causal", True))
    offset = num_keys - q_len
    output = query.new_empty(batch, q_len, heads, value.shape[-1])
    # views that put a group's heads next to each other: (B, Hkv, G, T, D)
    query_groups = query.view(batch, kv_heads, groups, q_len, head_dim)
    output_groups = output.view(batch, q_len, kv_heads, groups, -1).permute(0, 2, 3, 1, 4)
    for q0 in range(0, q_len, CHUNK_ROWS):
        q1 = min(q0 + CHUNK_ROWS, q_len)
        if attention_mask is not None:
            lo, hi = mask_band(attention_mask[:, :, q0:q1], num_keys)
            mask = attention_mask[:, :, q0:q1, lo:hi].unsqueeze(2)  # (B, 1, 1, C, K)
        else:
            lo, hi = key_band(q0, q1, offset, num_keys, causal, sliding_window)
            mask = band_mask(q0, q1, lo, hi, offset, sliding_window, query.device) if causal and q1 - q0 > 1 else None
        probs = chunk_probabilities(module, query_groups[:, :, :, q0:q1], key[:, :, lo:hi], mask, scaling, softcap)
        probs = nn.functional.dropout(probs, p=dropout, training=module.training)
        chunk = torch.matmul(probs.flatten(2, 3), value[:, :, lo:hi])  # (B, Hkv, G * C, D)
        output_groups[:, :, :, q0:q1] = chunk.view(batch, kv_heads, groups, q1 - q0, -1)
    return output, None


def chunk_probabilities(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    mask: torch.Tensor | None,
    scaling: float,
    softcap: float | None,
) -> torch.Tensor:
    """Softmax over keys of one chunk: query (B, Hkv, G, C, D), key (B, Hkv, K, D) -> (B, Hkv, G, C, K).

    The same operations as eager, in the same order, in place (out of place while autograd records,
    which needs tanh's output): each rounds as eager's does.
    """
    batch, kv_heads, groups, rows, head_dim = query.shape
    scores = torch.matmul(query.reshape(batch, kv_heads, groups * rows, head_dim), key.transpose(2, 3))
    scores = scores.view(batch, kv_heads, groups, rows, key.shape[2])
    if torch.is_grad_enabled() and (query.requires_grad or key.requires_grad):
        # autograd keeps tanh's output for the backward pass: the same operations, out of place
        scores = scores * scaling
        if softcap is not None:
            scores = torch.tanh(scores / softcap) * softcap
        if mask is not None:
            scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
        return nn.functional.softmax(scores, dim=-1, dtype=torch.float32).to(query.dtype)
    scores.mul_(scaling)
    if softcap is not None:
        scores.div_(softcap).tanh_().mul_(softcap)
    if mask is not None:
        scores.masked_fill_(~mask, torch.finfo(scores.dtype).min)
    return nn.functional.softmax(scores, dim=-1, dtype=torch.float32).to(query.dtype)
