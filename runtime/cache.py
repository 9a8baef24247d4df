"""Key/value caches: one small object per layer behind a common interface.

    cache = DynamicCache(config)
    keys, values = cache.update(key_states, value_states, layer_idx)   # (B, Hkv, T_all, D)

`DynamicLayer` keeps every token, in a buffer that grows by doubling so a decode step appends in
place instead of re-concatenating the whole history. `SlidingWindowLayer` keeps only the last
`window - 1` tokens, which is all a later query can see. `DynamicCache` builds one layer object
per decoder layer from the config (`layer_types` and `sliding_window`), so models that mix
sliding and global layers get the right kind for each.

`StaticCache` is the compiled decode path's: every layer is one zeroed (B, Hkv, max_cache_len, D)
buffer written in place at the step's slots, and attention always reads the whole buffer, the
unwritten and out-of-window slots hidden by the mask (runtime/masks.py builds it from the
cache's `cache_position`). Shapes never change from one token to the next, so a compiled step
is traced once and reused. Whoever drives it (generate) calls `begin_step(T)` before each
forward: the Python-int bookkeeping stays outside the compiled step, which sees only tensors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from runtime.configuration_utils import PretrainedConfig


class DynamicLayer:
    """Every past token of one layer, stored in a (B, Hkv, capacity, D) buffer."""

    def __init__(self, reserve: int = 0) -> None:
        self.keys: torch.Tensor | None = None
        self.values: torch.Tensor | None = None
        self.length = 0  # tokens stored
        self.seen = 0  # tokens ever added
        self.reserve = reserve

    def _grow(self, key_states: torch.Tensor, value_states: torch.Tensor, needed: int) -> None:
        capacity = max(needed, self.reserve, 2 * (self.keys.shape[2] if self.keys is not None else 0))
        batch, heads, _, _ = key_states.shape
        keys = key_states.new_empty(batch, heads, capacity, key_states.shape[-1])
        values = value_states.new_empty(batch, heads, capacity, value_states.shape[-1])
        if self.keys is not None:
            keys[:, :, : self.length] = self.keys[:, :, : self.length]
            values[:, :, : self.length] = self.values[:, :, : self.length]
        self.keys, self.values = keys, values

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Append (B, Hkv, T, D) states; return all stored states including them."""
        new = key_states.shape[2]
        if self.keys is None or self.length + new > self.keys.shape[2]:
            self._grow(key_states, value_states, self.length + new)
        self.keys[:, :, self.length : self.length + new] = key_states
        self.values[:, :, self.length : self.length + new] = value_states
        self.length += new
        self.seen += new
        return self.keys[:, :, : self.length], self.values[:, :, : self.length]

    def get_mask_sizes(self, q_len: int) -> tuple[int, int]:
        """(number of keys the next step attends over, absolute position of the first one)."""
        return self.length + q_len, self.seen - self.length

    def reorder(self, beam_idx: torch.Tensor) -> None:
        if self.keys is not None:
            self.keys = self.keys.index_select(0, beam_idx)
            self.values = self.values.index_select(0, beam_idx)


class SlidingWindowLayer(DynamicLayer):
    """Keeps the last `window - 1` tokens: a query sees at most `window` positions, itself included."""

    def __init__(self, window: int, reserve: int = 0) -> None:
        super().__init__(reserve=reserve)
        self.window = window

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.keys is None:
            keys, values = key_states, value_states
        else:
            keys = torch.cat([self.keys, key_states], dim=2)
            values = torch.cat([self.values, value_states], dim=2)
        keep = self.window - 1
        start = max(keys.shape[2] - keep, 0)
        self.keys, self.values = keys[:, :, start:], values[:, :, start:]
        self.seen += key_states.shape[2]
        self.length = self.keys.shape[2]
        return keys, values


class Cache:
    """A list of per-layer caches; the interface models and masks use."""

    def __init__(self, layers: list[DynamicLayer]) -> None:
        self.layers = layers

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, layer_idx: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return self.layers[layer_idx].update(key_states, value_states)

    def get_seq_length(self, layer_idx: int = 0) -> int:
        """Tokens processed so far (not the number stored, which a sliding window caps)."""
        return self.layers[layer_idx].seen if self.layers else 0

    def get_mask_sizes(self, q_len: int, layer_idx: int = 0) -> tuple[int, int]:
        return self.layers[layer_idx].get_mask_sizes(q_len)

    def reorder_cache(self, beam_idx: torch.Tensor) -> None:
        for layer in self.layers:
            layer.reorder(beam_idx)

    def __len__(self) -> int:
        return len(self.layers)


class StaticLayer:
    """One layer's keys and values in a fixed (B, Hkv, max_cache_len, D) buffer, allocated (zeroed:
    masked slots must hold finite numbers, or 0 * NaN would reach the output) at the first update."""

    def __init__(self, max_cache_len: int) -> None:
        self.max_cache_len = max_cache_len
        self.keys: torch.Tensor | None = None
        self.values: torch.Tensor | None = None

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, cache_position: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Write (B, Hkv, T, D) states at slots `cache_position` (T,); return the whole buffers."""
        if self.keys is None:
            batch, heads, _, _ = key_states.shape
            self.keys = key_states.new_zeros(batch, heads, self.max_cache_len, key_states.shape[-1])
            self.values = value_states.new_zeros(batch, heads, self.max_cache_len, value_states.shape[-1])
        self.keys.index_copy_(2, cache_position, key_states)
        self.values.index_copy_(2, cache_position, value_states)
        return self.keys, self.values

    def reorder(self, beam_idx: torch.Tensor) -> None:
        if self.keys is not None:
            self.keys.copy_(self.keys.index_select(0, beam_idx))  # in place: the buffers stay the same tensors
            self.values.copy_(self.values.index_select(0, beam_idx))


def _layer_types(config: PretrainedConfig) -> list[str]:
    num_layers = config.num_hidden_layers
    layer_types = getattr(config, "layer_types", None)
    if layer_types is not None:
        return list(layer_types)[:num_layers]
    if getattr(config, "sliding_window", None) is not None:
        return ["sliding_attention"] * num_layers
    return ["full_attention"] * num_layers


class DynamicCache(Cache):
    """One layer cache per decoder layer: sliding-window layers where the config says so.

    `reserve` pre-sizes full-attention buffers to avoid early regrowth. It is allocated at the first
    update whatever is then stored, so keep it modest (generate reserves at most 256 new tokens):
    the buffers double as they fill, so memory follows the tokens actually stored.
    """

    def __init__(self, config: PretrainedConfig | None = None, reserve: int = 0) -> None:
        layers: list[DynamicLayer] = []
        if config is not None:
            config = config.get_text_config()
            for layer_type in _layer_types(config):
                if layer_type == "sliding_attention":
                    layers.append(SlidingWindowLayer(config.sliding_window))
                else:
                    layers.append(DynamicLayer(reserve=reserve))
        super().__init__(layers)

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, layer_idx: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        while len(self.layers) <= layer_idx:  # built without a config: grow on first use
            self.layers.append(DynamicLayer())
        return self.layers[layer_idx].update(key_states, value_states)


class StaticCache(Cache):
    """Fixed-size buffers for `max_cache_len` tokens in every layer, sliding-window layers included
    (the mask applies the window), so every step has the same shapes (see the module docstring).

        cache = StaticCache(config, max_cache_len=256)
        cache.begin_step(prompt_len)   # before each forward: the slots its T new tokens fill
    """

    is_static = True

    def __init__(self, config: PretrainedConfig, max_cache_len: int) -> None:
        config = config.get_text_config()
        super().__init__([StaticLayer(max_cache_len) for _ in _layer_types(config)])
        self.max_cache_len = max_cache_len
        # tokens written, the current step's counted from its begin_step on; a compiled step never reads it
        self.seen = 0
        self.cache_position: torch.Tensor | None = None  # (T,) slots of the current step
        self.kv_positions: torch.Tensor | None = None  # (max_cache_len,) = arange, for the mask

    def begin_step(self, new_tokens: int, device: torch.device | str = "cpu") -> None:
        """Point the next forward at the `new_tokens` slots after those written; raise when full."""
        if self.seen + new_tokens > self.max_cache_len:
            raise ValueError(
                f"the static cache holds {self.max_cache_len} tokens; {self.seen} are written and the step adds "
                f"{new_tokens}"
            )
        if self.kv_positions is None:
            self.kv_positions = torch.arange(self.max_cache_len, device=device)
        if self.cache_position is None or len(self.cache_position) != new_tokens:
            self.cache_position = self.kv_positions[self.seen : self.seen + new_tokens].clone()
        else:
            self.cache_position.add_(len(self.cache_position))  # the same tensor, moved on: no new graph input
        self.seen += new_tokens

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, layer_idx: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if self.cache_position is None:
            raise ValueError("call StaticCache.begin_step(new_tokens) before each forward that uses the cache")
        return self.layers[layer_idx].update(key_states, value_states, self.cache_position)

    def get_seq_length(self, layer_idx: int = 0) -> int:
        return self.seen

    def get_mask_sizes(self, q_len: int, layer_idx: int = 0) -> tuple[int, int]:
        return self.max_cache_len, 0
