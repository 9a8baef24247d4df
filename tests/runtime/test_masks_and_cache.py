"""Masks and caches: predicates compose, padding rows never produce NaN, caches keep what a
later query can see. Run: python -m pytest tests/runtime/test_masks_and_cache.py -q
"""

from __future__ import annotations

import types

import torch

from runtime.cache import DynamicCache, DynamicLayer, SlidingWindowLayer
from runtime.masks import and_masks, build_attention_mask, causal, create_causal_mask, padding, sliding_window


def test_causal_mask_is_lower_triangular() -> None:
    mask = build_attention_mask(causal(), torch.arange(4), torch.arange(4))
    assert torch.equal(mask[0, 0], torch.ones(4, 4, dtype=torch.bool).tril())


def test_sliding_window_limits_lookback() -> None:
    mask = build_attention_mask(and_masks(causal(), sliding_window(2)), torch.arange(4), torch.arange(4))
    expected = torch.tensor([[1, 0, 0, 0], [1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1]], dtype=torch.bool)
    assert torch.equal(mask[0, 0], expected)


def test_padding_hides_keys_and_opens_fully_masked_rows() -> None:
    pad = torch.tensor([[0, 1, 1]])
    mask = build_attention_mask(and_masks(causal(), padding(pad)), torch.arange(3), torch.arange(3), batch_size=1)
    # row 0 is a padding query: nothing visible, so it is opened to every key instead of NaN
    expected = torch.tensor([[1, 1, 1], [0, 1, 0], [0, 1, 1]], dtype=torch.bool)
    assert torch.equal(mask[0, 0], expected)


def _config(implementation: str) -> types.SimpleNamespace:
    return types.SimpleNamespace(_attn_implementation=implementation)


def test_create_causal_mask_skips_plain_causal_for_sdpa_only() -> None:
    embeds = torch.zeros(2, 5, 8)
    assert create_causal_mask(_config("sdpa"), embeds, torch.ones(2, 5), None) is None
    eager = create_causal_mask(_config("eager"), embeds, torch.ones(2, 5), None)
    assert eager is not None and eager.shape == (2, 1, 5, 5)


def test_create_causal_mask_offsets_queries_by_the_cache() -> None:
    cache = DynamicCache()
    cache.update(torch.zeros(1, 1, 3, 4), torch.zeros(1, 1, 3, 4), 0)
    mask = create_causal_mask(_config("sdpa"), torch.zeros(1, 2, 8), None, cache)
    assert mask.shape == (1, 1, 2, 5)
    assert mask[0, 0].tolist() == [[True] * 4 + [False], [True] * 5]


def test_dynamic_layer_grows_in_place_and_returns_everything() -> None:
    layer = DynamicLayer(reserve=2)
    chunks = [torch.randn(1, 2, n, 4) for n in (1, 3, 1, 5)]
    for chunk in chunks:
        keys, values = layer.update(chunk, chunk * 2)
    assert torch.equal(keys, torch.cat(chunks, dim=2)) and torch.equal(values, 2 * torch.cat(chunks, dim=2))
    assert layer.seen == 10 and layer.get_mask_sizes(1) == (11, 0)


def test_sliding_window_layer_keeps_window_minus_one() -> None:
    layer = SlidingWindowLayer(window=3)
    states = torch.arange(6.0).view(1, 1, 6, 1)
    keys, _ = layer.update(states[:, :, :4], states[:, :, :4])
    assert keys.shape[2] == 4  # the prefill step sees all of its own tokens
    assert layer.get_mask_sizes(1) == (3, 2)  # 2 kept + 1 new, the first at absolute position 2
    keys, _ = layer.update(states[:, :, 4:5], states[:, :, 4:5])
    assert keys.flatten().tolist() == [2.0, 3.0, 4.0]


def test_dynamic_cache_mixes_layer_kinds_from_layer_types() -> None:
    config = types.SimpleNamespace(
        num_hidden_layers=3, sliding_window=4, layer_types=["sliding_attention", "full_attention", "sliding_attention"]
    )
    config.get_text_config = lambda: config
    cache = DynamicCache(config)
    assert [type(layer).__name__ for layer in cache.layers] == [
        "SlidingWindowLayer",
        "DynamicLayer",
        "SlidingWindowLayer",
    ]
