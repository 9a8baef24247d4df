"""Attention masks built from small predicates.

A predicate answers "may query position q attend to key position k?" for broadcast index
tensors; predicates combine with `and_masks`. `build_attention_mask` evaluates one over the
absolute positions of a step and returns a boolean mask (B, 1, Tq, Tk), True = attend:

    mask = build_attention_mask(and_masks(causal(), sliding_window(4096)), q_positions, kv_positions)

`create_causal_mask` is what models call: it reads the 2D padding mask, the cache and the
backend, and returns None when the backend can apply plain causal attention by itself (for
flex_attention, a BlockMask of the same rules: runtime/flex.py). A padding
mask of the wrong shape raises `GenerationError` naming `attention_mask`, not an index error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch

from runtime.generation import GenerationError

if TYPE_CHECKING:
    from torch.nn.attention.flex_attention import BlockMask

    from runtime.cache import Cache
    from runtime.configuration_utils import PretrainedConfig

# (batch index (B,1,1), query positions (1,Tq,1), key positions (1,1,Tk)) -> bool tensor
MaskPredicate = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def causal() -> MaskPredicate:
    """A query sees keys at its own position and before."""
    return lambda b, q, k: k <= q


def sliding_window(window: int) -> MaskPredicate:
    """A query sees only the `window` most recent positions, itself included."""
    return lambda b, q, k: q - k < window


def padding(mask_2d: torch.Tensor) -> MaskPredicate:
    """Keys whose entry in the (B, T) padding mask is 0 are hidden from every query."""
    valid = mask_2d.bool()
    return lambda b, q, k: valid[b, k]


def and_masks(*predicates: MaskPredicate) -> MaskPredicate:
    def combined(b: torch.Tensor, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        result = predicates[0](b, q, k)
        for predicate in predicates[1:]:
            result = result & predicate(b, q, k)
        return result

    return combined


def build_attention_mask(
    predicate: MaskPredicate, q_positions: torch.Tensor, kv_positions: torch.Tensor, batch_size: int = 1
) -> torch.Tensor:
    """Evaluate `predicate` into a (B, 1, Tq, Tk) boolean mask.

    A query row with no visible key (a left-padding position) is opened to every key: its output
    is never used, and an all-False row would make softmax produce NaN that then leaks through
    the next layer's values.
    """
    b = torch.arange(batch_size, device=q_positions.device).view(-1, 1, 1)
    mask = predicate(b, q_positions.view(1, -1, 1), kv_positions.view(1, 1, -1))
    mask = mask.expand(batch_size, q_positions.numel(), kv_positions.numel())
    mask = mask | ~mask.any(dim=-1, keepdim=True)
    return mask.unsqueeze(1)


def check_padding_mask(attention_mask: object, batch_size: int, length: int) -> None:
    """A model step's `attention_mask` must be None or a (batch_size, >= length) tensor: one entry per
    cached and new token (longer is allowed, as transformers allows; the tail is unused). Raises
    `GenerationError` naming it instead of an index error deep in mask building (on a GPU, a
    device-side assert)."""
    if attention_mask is None:
        return
    if not isinstance(attention_mask, torch.Tensor):
        raise GenerationError(f"attention_mask must be a tensor, got {type(attention_mask).__name__}")
    shape = tuple(attention_mask.shape)
    if len(shape) != 2 or shape[0] != batch_size or shape[1] < length:
        raise GenerationError(
            f"attention_mask must be a 2-D padding mask of shape ({batch_size}, {length}): one entry per "
            f"cached and new token; got {shape}"
        )


def create_causal_mask(
    config: PretrainedConfig,
    inputs_embeds: torch.Tensor,
    attention_mask: torch.Tensor | None,
    past_key_values: Cache | None,
    sliding_window_size: int | None = None,
    layer_idx: int = 0,
) -> torch.Tensor | BlockMask | None:
    """The mask for one forward step: causal, optional sliding window, optional padding.

    `attention_mask` is the (B, past + T) padding mask of 1s and 0s. Returns None when the
    backend is not eager and the step is plain causal attention (no padding, no window cut, and
    either no past or a single query), so sdpa and flash-attn can use their causal kernels
    (flex_attention: only for a single query). For flex_attention the mask is a BlockMask of
    the same rules, in which a query that sees no key outputs zeros.
    """
    if getattr(past_key_values, "is_static", False):
        return static_cache_mask(config, inputs_embeds, attention_mask, past_key_values, sliding_window_size)
    batch_size, q_len = inputs_embeds.shape[:2]
    past_len = past_key_values.get_seq_length(layer_idx) if past_key_values is not None else 0
    kv_len, kv_offset = (past_len + q_len, 0)
    if past_key_values is not None:
        kv_len, kv_offset = past_key_values.get_mask_sizes(q_len, layer_idx)
    check_padding_mask(attention_mask, batch_size, kv_offset + kv_len)
    has_padding = attention_mask is not None and not bool(attention_mask.all())
    window_cuts = sliding_window_size is not None and past_len + q_len > sliding_window_size
    plain = not has_padding and not window_cuts and (past_len == 0 or q_len == 1)
    backend = config._attn_implementation or "sdpa"
    if plain and backend != "eager" and (backend != "flex_attention" or q_len == 1):
        return None
    if backend == "flash_attention_2":
        # flash-attn takes the key-padding mask and applies causality and the window itself
        return attention_mask[:, kv_offset : kv_offset + kv_len].bool() if has_padding else None
    device = inputs_embeds.device
    padding_mask = attention_mask.to(device) if has_padding else None
    if backend == "flex_attention":  # one BlockMask per step and layer kind, not one per layer
        from runtime.flex import flex_block_mask  # flex is imported only when selected

        window = sliding_window_size
        return flex_block_mask(window, padding_mask, past_len, kv_offset, q_len, kv_len, batch_size, device)
    predicates = [causal()]
    if sliding_window_size is not None:
        predicates.append(sliding_window(sliding_window_size))
    if padding_mask is not None:
        predicates.append(padding(padding_mask))
    q_positions = torch.arange(past_len, past_len + q_len, device=device)
    kv_positions = torch.arange(kv_offset, kv_offset + kv_len, device=device)
    return build_attention_mask(and_masks(*predicates), q_positions, kv_positions, batch_size)


def static_cache_mask(
    config: PretrainedConfig,
    inputs_embeds: torch.Tensor,
    attention_mask: torch.Tensor | None,
    cache: Cache,
    sliding_window_size: int | None = None,
) -> torch.Tensor:
    """The mask of a step over a `StaticCache`'s whole buffer (B, 1, T, max_cache_len): causal by
    the slots the step writes (`cache.cache_position`), so unwritten slots are hidden too, within
    the window, and hiding padding where `attention_mask` (B, >= max_cache_len) is 0. Tensors only,
    with no branch on their values: a compiled step traces it once for every token."""
    if config._attn_implementation == "flash_attention_2":
        raise ValueError("a static cache needs attn_implementation 'sdpa' or 'eager', not 'flash_attention_2'")
    batch_size = inputs_embeds.shape[0]
    check_padding_mask(attention_mask, batch_size, cache.max_cache_len)
    predicates = [causal()]
    if sliding_window_size is not None:
        predicates.append(sliding_window(sliding_window_size))
    if attention_mask is not None:
        predicates.append(padding(attention_mask.to(inputs_embeds.device)))
    return build_attention_mask(and_masks(*predicates), cache.cache_position, cache.kv_positions, batch_size)


def create_layer_type_masks(
    config: PretrainedConfig,
    inputs_embeds: torch.Tensor,
    attention_mask: torch.Tensor | None,
    past_key_values: Cache | None,
) -> dict[str, torch.Tensor | BlockMask | None]:
    """One mask per kind in `config.layer_types`: causal for `full_attention`, causal within
    `config.sliding_window` for `sliding_attention`. Cache sizes are read from the first layer
    of each kind, since sliding layers store fewer keys than global ones."""
    masks: dict[str, torch.Tensor | BlockMask | None] = {}
    for layer_type in dict.fromkeys(config.layer_types):
        window = config.sliding_window if layer_type == "sliding_attention" else None
        layer_idx = config.layer_types.index(layer_type)
        masks[layer_type] = create_causal_mask(
            config, inputs_embeds, attention_mask, past_key_values, sliding_window_size=window, layer_idx=layer_idx
        )
    return masks


def create_bidirectional_mask(
    config: PretrainedConfig, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor | None
) -> torch.Tensor | None:
    """The mask for full (non-causal) attention, as vision encoders and resamplers use.

    `attention_mask` is the (B, Tk) padding mask of the keys, 1 = real. Returns None when no key
    is padding (every backend then attends to all keys), the 2D mask itself for flash-attn, else a
    boolean (B, 1, Tq, Tk) mask for the Tq = inputs_embeds.shape[1] queries.
    """
    if attention_mask is None or bool(attention_mask.all()):
        return None
    if config._attn_implementation == "flash_attention_2":
        return attention_mask.bool()
    batch_size, q_len = inputs_embeds.shape[:2]
    return attention_mask.bool()[:, None, None, :].expand(batch_size, 1, q_len, attention_mask.shape[-1])
