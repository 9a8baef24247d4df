"""The exact softcapping backends against eager attention's math, kernel by kernel.

`eager_chunked` (runtime/chunked_attention.py) and `flex_attention` (runtime/flex.py, uncompiled
here: tests/conftest.py) must give eager's output within 1e-5 at every query that sees a key,
with softcapping on and off, grouped key/value heads, causal, sliding-window and left-padding
masks (as runtime/masks.py builds them, or None for plain causal attention), prefill longer than
several chunks and windows, and decode (one query over a long key cache). `padding_bounds`
says the same as the padding predicate, or declines a mask with holes.
Run: python -m pytest tests/runtime/test_softcap_attention.py -q
"""

from __future__ import annotations

import types

import pytest
import torch

import runtime.chunked_attention as chunked
from generated.gemma2.modeling_gemma2 import eager_attention_forward
from runtime.flex import flex_attention_forward, flex_block_mask, padding_bounds
from runtime.masks import and_masks, build_attention_mask, causal, padding, sliding_window
from tests.models.helpers import assert_close

# (batch, query length, key length, sliding window, left padding of the last row, softcap)
CASES = [
    pytest.param(2, 40, 40, None, 5, 2.0, id="prefill-causal-padded"),
    pytest.param(2, 40, 40, 7, 5, 2.0, id="prefill-window-padded"),
    pytest.param(1, 40, 40, None, 0, None, id="prefill-no-softcap"),
    pytest.param(2, 1, 70, None, 5, 2.0, id="decode-long-cache"),
    pytest.param(2, 1, 7, 8, 3, 50.0, id="decode-sliding-cache"),
    pytest.param(2, 6, 30, 9, 4, 1.5, id="prefill-after-past"),
]


def module(training: bool = False) -> types.SimpleNamespace:
    return types.SimpleNamespace(num_key_value_groups=2, is_causal=True, training=training)


def inputs(batch: int, q_len: int, kv_len: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    query = torch.randn(batch, 4, q_len, 8, generator=generator)
    key = 3 * torch.randn(batch, 2, kv_len, 8, generator=generator)  # large scores: the softcap bites
    value = torch.randn(batch, 2, kv_len, 8, generator=generator)
    return query, key, value


def mask_2d(batch: int, kv_len: int, pad: int) -> torch.Tensor:
    mask = torch.ones(batch, kv_len, dtype=torch.long)
    mask[-1, :pad] = 0
    return mask


def dense_mask(batch: int, q_len: int, kv_len: int, window: int | None, pad: int) -> torch.Tensor:
    predicates = [causal()] + ([sliding_window(window)] if window else []) + [padding(mask_2d(batch, kv_len, pad))]
    positions = torch.arange(kv_len)
    return build_attention_mask(and_masks(*predicates), positions[kv_len - q_len :], positions, batch)


def seen_rows(batch: int, q_len: int, kv_len: int, pad: int) -> torch.Tensor:
    """(B, Tq) True where the query is a real token (padding queries' outputs are unused)."""
    return mask_2d(batch, kv_len, pad)[:, kv_len - q_len :].bool()


@pytest.fixture(params=[128, 16], ids=["chunk-128", "chunk-16"])
def chunk_rows(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """Small chunks run the multi-chunk paths (band skipping) on small inputs."""
    monkeypatch.setattr(chunked, "CHUNK_ROWS", request.param)
    return request.param


@pytest.mark.parametrize(("batch", "q_len", "kv_len", "window", "pad", "softcap"), CASES)
def test_chunked_matches_eager(chunk_rows: int, batch, q_len, kv_len, window, pad, softcap) -> None:  # noqa: ANN001
    query, key, value = inputs(batch, q_len, kv_len)
    mask = dense_mask(batch, q_len, kv_len, window, pad)
    expected, _ = eager_attention_forward(module(), query, key, value, mask, scaling=0.3, softcap=softcap)
    actual, weights = chunked.chunked_attention_forward(
        module(), query, key, value, mask, scaling=0.3, softcap=softcap, sliding_window=window
    )
    rows = seen_rows(batch, q_len, kv_len, pad)
    assert weights is None
    assert_close(actual[rows], expected[rows], what="eager_chunked output")


@pytest.mark.parametrize("window", [None, 6])
def test_chunked_without_mask_is_causal(chunk_rows: int, window: int | None) -> None:
    """None is plain causal attention (what masks.py passes non-eager backends), windowed if asked."""
    query, key, value = inputs(1, 40, 40)
    mask = dense_mask(1, 40, 40, window, 0)
    expected, _ = eager_attention_forward(module(), query, key, value, mask, scaling=0.3, softcap=2.0)
    actual, _ = chunked.chunked_attention_forward(
        module(), query, key, value, None, scaling=0.3, softcap=2.0, sliding_window=window
    )
    assert_close(actual, expected, what="eager_chunked causal output")


def test_chunked_bidirectional_module_sees_every_key() -> None:
    query, key, value = inputs(2, 5, 9)
    bidirectional = types.SimpleNamespace(num_key_value_groups=2, is_causal=False, training=False)
    expected, _ = eager_attention_forward(bidirectional, query, key, value, None, scaling=0.3, softcap=2.0)
    actual, _ = chunked.chunked_attention_forward(bidirectional, query, key, value, None, scaling=0.3, softcap=2.0)
    assert_close(actual, expected, what="eager_chunked bidirectional output")


def test_chunked_bf16_rounds_as_eager() -> None:
    query, key, value = (t.bfloat16() for t in inputs(2, 20, 20))
    mask = dense_mask(2, 20, 20, 6, 3)
    expected, _ = eager_attention_forward(module(), query, key, value, mask, scaling=0.3, softcap=2.0)
    actual, _ = chunked.chunked_attention_forward(
        module(), query, key, value, mask, scaling=0.3, softcap=2.0, sliding_window=6
    )
    rows = seen_rows(2, 20, 20, 3)
    assert actual.dtype == torch.bfloat16
    assert_close(actual[rows], expected[rows], atol=1e-2, what="eager_chunked bf16 output")


def test_chunked_applies_dropout_in_training() -> None:
    query, key, value = inputs(1, 4, 4)
    output, _ = chunked.chunked_attention_forward(
        module(training=True), query, key, value, None, scaling=0.3, dropout=1.0
    )
    assert torch.equal(output, torch.zeros_like(output))


@pytest.mark.parametrize(("batch", "q_len", "kv_len", "window", "pad", "softcap"), CASES)
@pytest.mark.parametrize("holes", [False, True], ids=["padding-run", "padding-with-holes"])
def test_flex_matches_eager(batch, q_len, kv_len, window, pad, softcap, holes) -> None:  # noqa: ANN001
    """With the BlockMask masks.py builds for flex (positions offset by the cache; padding as
    bounds, or read whole when a row has holes), and with a dense boolean mask."""
    query, key, value = inputs(batch, q_len, kv_len)
    padding_mask = mask_2d(batch, kv_len, pad)
    if holes:
        padding_mask[0, kv_len // 3] = 0  # a hidden key in the middle of the first row
    predicates = [causal()] + ([sliding_window(window)] if window else []) + [padding(padding_mask)]
    positions = torch.arange(kv_len)
    mask = build_attention_mask(and_masks(*predicates), positions[kv_len - q_len :], positions, batch)
    expected, _ = eager_attention_forward(module(), query, key, value, mask, scaling=0.3, softcap=softcap)
    block_mask = flex_block_mask(window, padding_mask, kv_len - q_len, 0, q_len, kv_len, batch, torch.device("cpu"))
    rows = seen_rows(batch, q_len, kv_len, pad)
    for attention_mask in (block_mask, mask):
        actual, _ = flex_attention_forward(module(), query, key, value, attention_mask, scaling=0.3, softcap=softcap)
        assert_close(actual[rows], expected[rows], what="flex_attention output")


def test_flex_without_mask_is_causal() -> None:
    query, key, value = inputs(1, 12, 12)
    expected, _ = eager_attention_forward(
        module(), query, key, value, dense_mask(1, 12, 12, None, 0), scaling=0.3, softcap=2.0
    )
    actual, _ = flex_attention_forward(module(), query, key, value, None, scaling=0.3, softcap=2.0)
    assert_close(actual, expected, what="flex_attention causal output")


def test_flex_refuses_dropout() -> None:
    query, key, value = inputs(1, 3, 3)
    with pytest.raises(ValueError, match="dropout"):
        flex_attention_forward(module(training=True), query, key, value, None, scaling=0.3, dropout=0.1)


@pytest.mark.parametrize(
    "rows",
    [[[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]], [[1, 1, 1, 0, 0], [0, 1, 1, 1, 0]], [[0, 0, 0, 0, 0], [0, 0, 0, 0, 1]]],
    ids=["left", "right-and-both", "empty-row"],
)
def test_padding_bounds_equal_the_padding_predicate(rows: list[list[int]]) -> None:
    mask = torch.tensor(rows)
    start, end = padding_bounds(mask)
    keys = torch.arange(5)
    assert torch.equal((keys >= start[:, None]) & (keys < end[:, None]), mask.bool())


def test_padding_bounds_decline_holes() -> None:
    assert padding_bounds(torch.tensor([[1, 0, 1], [1, 1, 1]])) is None


def test_chunked_reads_the_keys_its_mask_shows_wherever_they_sit(chunk_rows: int) -> None:
    """A static cache's buffer: 64 slots, 20 written, the step's queries at positions 15-19 (not the
    last slots), a sliding window of 6; the chunks read the keys the mask shows, not the last ones."""
    batch, q_len, slots = 2, 5, 64
    query, key, value = inputs(batch, q_len, slots)
    padding_rows = torch.ones(batch, slots, dtype=torch.long)
    padding_rows[-1, :3] = 0
    predicates = [causal(), sliding_window(6), padding(padding_rows)]
    mask = build_attention_mask(and_masks(*predicates), torch.arange(15, 20), torch.arange(slots), batch)
    expected, _ = eager_attention_forward(module(), query, key, value, mask, scaling=0.3, softcap=2.0)
    actual, _ = chunked.chunked_attention_forward(
        module(), query, key, value, mask, scaling=0.3, softcap=2.0, sliding_window=6
    )
    assert_close(actual, expected, what="eager_chunked output over a static cache's buffer")
