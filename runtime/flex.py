"""The `flex_attention` backend: torch.nn.attention.flex_attention with a score modifier.

Softcapping becomes a `score_mod` (tanh(score / cap) * cap, applied to the scaled scores before
masking, as eager does) and the causal, sliding-window and padding rules of runtime/masks.py
become the `mask_mod` of a `BlockMask`, so blocks that no query can see are skipped.

On CPU (torch 2.13), measured:
- without torch.compile, flex_attention runs torch's reference implementation: it materialises
  the full score matrix, warns, is exactly eager's result, and is slower than eager;
- compiled (MODULAR_MODELS_FLEX_COMPILE=1), it is a fused kernel, within about 1e-5 of eager in
  float32 in most runs but not all (see flex_compile_enabled), and the first call of each new
  shape class compiles for 10-40 s on two cores (a prefill, the first decode steps, a key length
  crossing a 128-token block), and building a BlockMask costs milliseconds per forward. torch
  compiles a function at most 8 times per process, then runs it uncompiled: every layer kind and
  step therefore gets a mask_mod of the same code (flex_block_mask; a tiny padded Gemma2's
  prefill and 8 greedy steps, then the same unpadded, compiled 3 times instead of 8).
  runtime/chunked_attention.py is as fast or faster on CPU with no compilation, so it is
  Gemma2's default; flex is there for long-running processes and GPUs.
The backend runs the uncompiled reference implementation (exact) unless
MODULAR_MODELS_FLEX_COMPILE=1: the compiled kernel is not reliable yet (flex_compile_enabled).
Inside a model compiled as a whole, flex_attention is called directly and compiled with it.
Dropout is refused: flex_attention has none.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.nn.attention.flex_attention import BlockMask, create_block_mask, flex_attention

from runtime.masks import MaskPredicate, and_masks, causal, padding, sliding_window

# the BlockMask fields with a batch dimension
BLOCK_MASK_TENSORS = (
    "kv_num_blocks",
    "kv_indices",
    "full_kv_num_blocks",
    "full_kv_indices",
    "q_num_blocks",
    "q_indices",
    "full_q_num_blocks",
    "full_q_indices",
)
_compiled_flex: Callable[..., torch.Tensor] | None = None


def flex_compile_enabled() -> bool:
    """Compiled only on request (MODULAR_MODELS_FLEX_COMPILE=1): on CPU with torch 2.13 the compiled
    kernel gave a wrong result (max error 1.8 against eager) in about half of repeated runs of the
    same padded sliding-window prefill, depending on what inductor's on-disk cache held."""
    return os.environ.get("MODULAR_MODELS_FLEX_COMPILE", "0") == "1"


def flex_function() -> Callable[..., torch.Tensor]:
    """flex_attention compiled once per process, or as it is (see the module docstring)."""
    global _compiled_flex
    if torch.compiler.is_compiling() or not flex_compile_enabled():
        return flex_attention
    if _compiled_flex is None:
        _compiled_flex = torch.compile(flex_attention)
    return _compiled_flex


def flex_block_mask(
    window: int | None,
    padding_mask: torch.Tensor | None,
    q_offset: int,
    kv_offset: int,
    q_len: int,
    kv_len: int,
    batch_size: int,
    device: torch.device,
) -> BlockMask:
    """runtime.masks.create_causal_mask's mask for this backend, as a BlockMask: queries at
    positions q_offset + i see keys at kv_offset + j that are not later, within `window` if
    given, and not padding in the (B, T) `padding_mask` if given.

    Every layer kind and step gets a mask_mod of the same code, reading its window, offsets and
    padding bounds from tensors: a compiled kernel is then reused instead of recompiled per kind
    and step (torch compiles a function at most 8 times, torch._dynamo.config.recompile_limit,
    then runs it uncompiled). A padding mask with holes inside a row is read as a whole instead,
    which compiles only while lengths do not vary (padding_bounds).
    """
    bounds = padding_bounds(padding_mask) if padding_mask is not None else None
    if padding_mask is not None and bounds is None:
        predicates = [causal()] + ([sliding_window(window)] if window is not None else []) + [padding(padding_mask)]
        return block_mask_from_predicate(
            and_masks(*predicates), q_offset, kv_offset, q_len, kv_len, batch_size, device
        )
    if bounds is None:  # no padding: every key from 0 to the last is real
        bounds = (
            torch.zeros(batch_size, dtype=torch.long, device=device),
            torch.full((batch_size,), kv_offset + kv_len, device=device),
        )
    start, end = bounds
    static_batch(start, end)
    q_start, kv_start = torch.tensor(q_offset, device=device), torch.tensor(kv_offset, device=device)
    reach = torch.tensor(window if window is not None else q_offset + q_len + 1, device=device)

    def mask_mod(b: torch.Tensor, h: torch.Tensor, q_idx: torch.Tensor, kv_idx: torch.Tensor) -> torch.Tensor:
        q, k = q_idx + q_start, kv_idx + kv_start
        return (k <= q) & (q - k < reach) & (k >= start[b]) & (k < end[b])

    return create_block_mask(mask_mod, batch_size, None, q_len, kv_len, device=device)


def block_mask_from_predicate(
    predicate: MaskPredicate,
    q_offset: int,
    kv_offset: int,
    q_len: int,
    kv_len: int,
    batch_size: int | None,
    device: torch.device,
) -> BlockMask:
    """A BlockMask of any runtime.masks predicate, for queries at positions q_offset + i and keys
    at kv_offset + j (offsets as tensors: no recompilation per decode step)."""
    q_start = torch.tensor(q_offset, device=device)
    kv_start = torch.tensor(kv_offset, device=device)

    def mask_mod(b: torch.Tensor, h: torch.Tensor, q_idx: torch.Tensor, kv_idx: torch.Tensor) -> torch.Tensor:
        return predicate(b, q_idx + q_start, kv_idx + kv_start)

    return create_block_mask(mask_mod, batch_size, None, q_len, kv_len, device=device)


def padding_bounds(mask_2d: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The (B, T) padding mask as bounds (start, end), each (B,), when each row's 1s are one run
    (left or right padding): keys at [start[b], end[b]) are real. None when a row has holes.

    Reading (B,) bounds instead of the (B, T) mask matters when compiled: torch 2.13 generates
    CPU code that does not compile (C++ error) for a mask reading a tensor whose key-length
    dimension varies between calls, that is, from the second decode step on.
    """
    valid = mask_2d.bool()
    positions = torch.arange(valid.shape[-1], device=valid.device)
    start = valid.int().argmax(dim=-1)  # the first 1; 0 for a row of 0s, whose run is then empty
    end = start + valid.sum(dim=-1)
    if not bool((((positions >= start[:, None]) & (positions < end[:, None])) == valid).all()):
        return None
    return start, end


def static_batch(*tensors: torch.Tensor | None) -> None:
    """Keep the batch dimension out of torch.compile's dynamic shapes: with a dynamic batch,
    torch 2.13 generates CPU flex code that does not compile. A new batch size recompiles."""
    for tensor in tensors:
        if tensor is not None:
            torch._dynamo.mark_static(tensor, 0)


def dense_block_mask(attention_mask: torch.Tensor) -> BlockMask:
    """A BlockMask reading a boolean (B, 1, Tq, Tk) mask (what the bidirectional masks give)."""
    mask = attention_mask[:, 0]
    batch_size, q_len, kv_len = mask.shape
    return create_block_mask(
        lambda b, h, q, k: mask[b, q, k], batch_size, None, q_len, kv_len, device=attention_mask.device
    )


def flex_attention_forward(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: BlockMask | torch.Tensor | None,
    *,
    scaling: float,
    dropout: float = 0.0,
    softcap: float | None = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """flex_attention over (B, H, Tq, D) queries; returns (B, Tq, H, D).

    `attention_mask` is a BlockMask (what runtime/masks.py builds for this backend), a boolean
    mask, or None: causal when `module.is_causal` and Tq > 1, else no mask.
    """
    if dropout > 0.0:
        raise ValueError(
            "flex_attention has no attention dropout; call model.eval() or use attn_implementation='eager'"
        )
    q_len, kv_len = query.shape[2], key.shape[2]
    block_mask = attention_mask
    if isinstance(attention_mask, torch.Tensor):
        block_mask = dense_block_mask(attention_mask)
    elif attention_mask is None and q_len > 1 and getattr(module, "is_causal", True):
        block_mask = flex_block_mask(None, None, kv_len - q_len, 0, q_len, kv_len, query.shape[0], query.device)

    if flex_compile_enabled():
        # cache buffers and transposed projections have varying strides: each would recompile
        query, key, value = query.contiguous(), key.contiguous(), value.contiguous()
        static_batch(query, key, value)
        if isinstance(block_mask, BlockMask):
            static_batch(*(getattr(block_mask, name) for name in BLOCK_MASK_TENSORS))
    score_mod = None
    if softcap is not None:

        def score_mod(score, b, h, q_idx, kv_idx):  # noqa: ANN001, ANN202 (flex's signature)
            return torch.tanh(score / softcap) * softcap

    output = flex_function()(
        query,
        key,
        value,
        score_mod=score_mod,
        block_mask=block_mask,
        scale=scaling,
        enable_gqa=query.shape[1] != key.shape[1],
    )
    return output.transpose(1, 2).contiguous(), None
