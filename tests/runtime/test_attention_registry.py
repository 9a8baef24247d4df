"""The attention registry: valid names resolve, unknown ones list the valid ones, flash-attn is
requested loudly, sdpa hands softcapping to the exact eager_chunked kernel and says so, and
flash-attn matches eager where a GPU is present.
Run: python -m pytest tests/runtime/test_attention_registry.py -q
"""

from __future__ import annotations

import types

import pytest
import torch

from runtime.attention import (
    check_attn_implementation,
    flash_attn_available,
    get_attention_backend,
    sdpa_attention_forward,
)
from runtime.chunked_attention import chunked_attention_forward


def test_unknown_backend_lists_valid_names() -> None:
    with pytest.raises(ValueError, match="valid names: eager, sdpa, eager_chunked, flex_attention, flash_attention_2"):
        check_attn_implementation("flesh")
    with pytest.raises(ValueError, match="valid names"):
        get_attention_backend("flesh", eager=lambda *a, **k: None)


def test_eager_resolves_to_the_model_files_function() -> None:
    def eager(*args: object, **kwargs: object) -> None:
        return None

    assert get_attention_backend("eager", eager) is eager
    assert check_attn_implementation(None) == "sdpa"


@pytest.mark.skipif(flash_attn_available(), reason="flash-attn is installed here")
def test_flash_without_package_says_how_to_install() -> None:
    with pytest.raises(ImportError, match="pip install flash-attn"):
        check_attn_implementation("flash_attention_2")


def test_sdpa_runs_softcapping_with_eager_chunked_and_warns() -> None:
    module = types.SimpleNamespace(num_key_value_groups=1, is_causal=True, training=False)
    q = torch.randn(1, 2, 3, 4, generator=torch.Generator().manual_seed(0))
    with pytest.warns(UserWarning, match="cannot apply attention logit softcapping.*'eager_chunked'"):
        output, _ = sdpa_attention_forward(module, q, q, q, None, scaling=1.0, softcap=30.0)
    expected, _ = chunked_attention_forward(module, q, q, q, None, scaling=1.0, softcap=30.0)
    assert torch.equal(output, expected)


def test_new_backends_resolve() -> None:
    assert get_attention_backend("eager_chunked", eager=print) is chunked_attention_forward
    assert check_attn_implementation("flex_attention") == "flex_attention"


@pytest.mark.skipif(not flash_attn_available(), reason="needs a CUDA GPU and the flash-attn package")
def test_flash_matches_sdpa_with_padding() -> None:
    from runtime.flash import flash_attention

    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 5, 4, 16, device="cuda", dtype=torch.float16) for _ in range(3))
    pad = torch.tensor([[1, 1, 1, 1, 1], [0, 0, 1, 1, 1]], device="cuda")
    out = flash_attention(q, k, v, pad, scaling=0.25)
    mask = torch.ones(5, 5, dtype=torch.bool, device="cuda").tril() & pad.bool()[:, None, :]
    ref = torch.nn.functional.scaled_dot_product_attention(
        q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_mask=mask[:, None], scale=0.25
    ).transpose(1, 2)
    valid = pad.bool()
    assert (out[valid] - ref[valid]).abs().max().item() < 2e-3
