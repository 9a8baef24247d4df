"""CLIP (generated/clip) matches transformers 5.23.0 and loads its checkpoints.

On tiny random checkpoints (fp32, CPU), with eager and sdpa attention: CLIPVisionModel's
last_hidden_state, pooler_output and every hidden state within 1e-5, for the trained image size and
for interpolated position tables (other and non-square sizes), and its attention weights (eager);
CLIPTextModel on right-padded input_ids (pooled at the eos token, and at the largest id for legacy
configs with eos_token_id 2); CLIPModel's logits and contrastive loss; both projection models.
Checkpoints load both ways (transformers' save_pretrained -> ours, ours -> transformers), a full
CLIP checkpoint loads into the vision model (its `vision_model.` prefix), and runtime.auto resolves
CLIP's three model types. The generated CLIPModel equals its modular definition bit for bit (the
overlay oracle; tests/equivalence/test_vision_models.py reaches only the vision model).
Run: python -m pytest tests/models/test_clip.py -q
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from generated.clip import (
    CLIPConfig,
    CLIPModel,
    CLIPTextConfig,
    CLIPTextModel,
    CLIPTextModelWithProjection,
    CLIPVisionModel,
    CLIPVisionModelWithProjection,
)
from runtime.auto import AutoConfig, AutoModel
from tests.equivalence.overlay import build_overlay
from tests.models.helpers import assert_close
from tests.models.test_vision_language import tiny_vision_kwargs

transformers = pytest.importorskip("transformers")

BACKENDS = ["eager", "sdpa"]
EOS, BOS, PAD = 29, 28, 1
# right-padded rows (CLIP's tokenizer pads on the right), each with one eos token
INPUT_IDS = torch.tensor([[BOS, 5, 6, 7, EOS, PAD, PAD], [BOS, 3, 4, 5, 8, 9, EOS]])
ATTENTION_MASK = torch.tensor([[1, 1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1, 1]])


def vision_kwargs(**overrides: Any) -> dict[str, Any]:
    """The tiny vision tower of the SigLIP tests (hidden 32, 2 layers, 4 heads, 5x5 patches of 4
    pixels), with a projection of 12."""
    return tiny_vision_kwargs(**{"projection_dim": 12, **overrides})


def text_kwargs(**overrides: Any) -> dict[str, Any]:
    """A tiny text tower: vocab 30 (eos 29), hidden 32, 2 layers, 4 heads, 12 positions."""
    kwargs: dict[str, Any] = {
        "vocab_size": 30,
        "hidden_size": 32,
        "intermediate_size": 37,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "max_position_embeddings": 12,
        "projection_dim": 12,
        "eos_token_id": EOS,
        "bos_token_id": BOS,
        "pad_token_id": PAD,
    }
    return kwargs | overrides


def pair(tmp_path: Path, name: str, config: Any, ours: type, attn: str) -> tuple[Any, Any]:
    """transformers' model `name` on seeded random weights, and ours loaded from its checkpoint."""
    torch.manual_seed(0)
    reference = getattr(transformers, name)(config).eval()
    reference.save_pretrained(tmp_path / "ref")
    reference.set_attn_implementation(attn)
    return reference, ours.from_pretrained(tmp_path / "ref", attn_implementation=attn)


def vision_pair(tmp_path: Path, attn: str) -> tuple[Any, Any]:
    config = transformers.CLIPVisionConfig(**vision_kwargs())
    return pair(tmp_path, "CLIPVisionModel", config, CLIPVisionModel, attn)


def clip_config() -> Any:
    return transformers.CLIPConfig(text_config=text_kwargs(), vision_config=vision_kwargs(), projection_dim=12)


def pixels(height: int = 20, width: int = 20, batch: int = 2, seed: int = 1) -> torch.Tensor:
    return torch.randn(batch, 3, height, width, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("attn", BACKENDS)
@pytest.mark.parametrize(("height", "width"), [(20, 20), (28, 28), (24, 16)])
def test_vision_matches_reference(tmp_path: Path, attn: str, height: int, width: int) -> None:
    reference, model = vision_pair(tmp_path, attn)
    interpolate = (height, width) != (20, 20)
    with torch.no_grad():
        expected = reference(pixels(height, width), interpolate_pos_encoding=interpolate, output_hidden_states=True)
        actual = model(pixels(height, width), interpolate_pos_encoding=interpolate, output_hidden_states=True)
    assert_close(actual.last_hidden_state, expected.last_hidden_state, what=f"last_hidden_state ({attn})")
    assert_close(actual.pooler_output, expected.pooler_output, what=f"pooler_output ({attn})")
    assert len(actual.hidden_states) == len(expected.hidden_states) == 3  # embeddings + 2 layers
    for index, (ours, theirs) in enumerate(zip(actual.hidden_states, expected.hidden_states, strict=True)):
        assert_close(ours, theirs, what=f"hidden_states[{index}] ({attn})")


def test_vision_attentions_match_reference(tmp_path: Path) -> None:
    reference, model = vision_pair(tmp_path, "eager")
    with torch.no_grad():
        expected = reference(pixels(), output_attentions=True).attentions
        actual = model(pixels(), output_attentions=True).attentions
    assert len(actual) == len(expected) == 2
    for index, (ours, theirs) in enumerate(zip(actual, expected, strict=True)):
        assert_close(ours, theirs, what=f"attentions[{index}]")


def test_output_attentions_needs_eager(tmp_path: Path) -> None:
    """sdpa computes no weights: asking for them fails loudly (transformers warns, returns ())."""
    _, model = vision_pair(tmp_path, "sdpa")
    with pytest.raises(ValueError, match="eager"):
        model(pixels(), output_attentions=True)


def test_vision_refuses_other_sizes_without_interpolation(tmp_path: Path) -> None:
    _, model = vision_pair(tmp_path, "eager")
    with pytest.raises(ValueError, match="interpolate_pos_encoding"):
        model(pixels(24, 24))


def test_vision_checkpoint_loads_in_transformers(tmp_path: Path) -> None:
    _, model = vision_pair(tmp_path, "eager")
    model.save_pretrained(tmp_path / "ours")
    theirs = transformers.CLIPVisionModel.from_pretrained(tmp_path / "ours").eval()
    with torch.no_grad():
        assert_close(model(pixels()).pooler_output, theirs(pixels()).pooler_output, what="pooler_output")


def test_vision_model_loads_a_full_clip_checkpoint(tmp_path: Path) -> None:
    """A CLIPModel checkpoint keeps the tower under `vision_model.`; the text tower is skipped."""
    reference, _ = pair(tmp_path, "CLIPModel", clip_config(), CLIPModel, "eager")
    model = CLIPVisionModel.from_pretrained(
        tmp_path / "ref", config=CLIPConfig.from_pretrained(tmp_path / "ref").vision_config
    )
    with torch.no_grad():
        expected = reference.vision_model(pixels()).pooler_output
        assert_close(model(pixels()).pooler_output, expected, what="pooler_output")


def test_auto_resolves_clip_model_types(tmp_path: Path) -> None:
    vision_pair(tmp_path, "eager")
    assert type(AutoModel.from_pretrained(tmp_path / "ref")) is CLIPVisionModel
    assert type(AutoConfig.for_model("clip_text_model")) is CLIPTextConfig
    assert AutoModel.model_class("clip") is CLIPModel


@pytest.mark.parametrize("attn", BACKENDS)
@pytest.mark.parametrize("eos_token_id", [EOS, 2])
def test_text_matches_reference(tmp_path: Path, attn: str, eos_token_id: int) -> None:
    """eos_token_id 2 is the legacy setting under which the row's largest id (EOS here) is pooled."""
    config = transformers.CLIPTextConfig(**text_kwargs(eos_token_id=eos_token_id))
    reference, model = pair(tmp_path, "CLIPTextModel", config, CLIPTextModel, attn)
    with torch.no_grad():
        expected = reference(INPUT_IDS, attention_mask=ATTENTION_MASK, output_hidden_states=True)
        actual = model(INPUT_IDS, attention_mask=ATTENTION_MASK, output_hidden_states=True)
    assert_close(actual.last_hidden_state, expected.last_hidden_state, what=f"last_hidden_state ({attn})")
    assert_close(actual.pooler_output, expected.pooler_output, what=f"pooler_output ({attn})")
    for index, (ours, theirs) in enumerate(zip(actual.hidden_states, expected.hidden_states, strict=True)):
        assert_close(ours, theirs, what=f"hidden_states[{index}] ({attn})")


@pytest.mark.parametrize("attn", BACKENDS)
def test_clip_model_matches_reference(tmp_path: Path, attn: str) -> None:
    reference, model = pair(tmp_path, "CLIPModel", clip_config(), CLIPModel, attn)
    batch = {"input_ids": INPUT_IDS, "attention_mask": ATTENTION_MASK, "pixel_values": pixels(), "return_loss": True}
    with torch.no_grad():
        expected, actual = reference(**batch), model(**batch)
    # logits are cosine similarities times exp(logit_scale) ~ 14.3, so 1e-5 on the embeddings
    assert_close(actual.text_embeds, expected.text_embeds, what=f"text_embeds ({attn})")
    assert_close(actual.image_embeds, expected.image_embeds, what=f"image_embeds ({attn})")
    assert_close(actual.logits_per_image, expected.logits_per_image, atol=2e-5, what=f"logits_per_image ({attn})")
    assert_close(actual.logits_per_text, expected.logits_per_text, atol=2e-5, what=f"logits_per_text ({attn})")
    assert_close(actual.loss, expected.loss, what=f"loss ({attn})")


def test_clip_checkpoint_loads_in_transformers(tmp_path: Path) -> None:
    _, model = pair(tmp_path, "CLIPModel", clip_config(), CLIPModel, "eager")
    model.save_pretrained(tmp_path / "ours")
    theirs = transformers.CLIPModel.from_pretrained(tmp_path / "ours").eval()
    batch = {"input_ids": INPUT_IDS, "attention_mask": ATTENTION_MASK, "pixel_values": pixels()}
    with torch.no_grad():
        assert_close(model(**batch).logits_per_image, theirs(**batch).logits_per_image, what="logits_per_image")


def test_projection_models_match_reference(tmp_path: Path) -> None:
    vision = transformers.CLIPVisionConfig(**vision_kwargs())
    reference, model = pair(
        tmp_path / "v", "CLIPVisionModelWithProjection", vision, CLIPVisionModelWithProjection, "eager"
    )
    with torch.no_grad():
        assert_close(model(pixels()).image_embeds, reference(pixels()).image_embeds, what="image_embeds")
    text = transformers.CLIPTextConfig(**text_kwargs())
    reference, model = pair(tmp_path / "t", "CLIPTextModelWithProjection", text, CLIPTextModelWithProjection, "eager")
    with torch.no_grad():
        expected = reference(INPUT_IDS, attention_mask=ATTENTION_MASK).text_embeds
        assert_close(model(INPUT_IDS, attention_mask=ATTENTION_MASK).text_embeds, expected, what="text_embeds")


@pytest.mark.parametrize("attn", BACKENDS)
def test_clip_model_equals_overlay(attn: str) -> None:
    namespace = build_overlay("clip")
    kwargs = {"text_config": text_kwargs(), "vision_config": vision_kwargs(), "projection_dim": 12}
    torch.manual_seed(0)
    reference = namespace["CLIPModel"](namespace["CLIPConfig"](**kwargs, attn_implementation=attn)).eval()
    model = CLIPModel(CLIPModel.config_class(**kwargs, attn_implementation=attn)).eval()
    model.load_state_dict(reference.state_dict())
    batch = {"input_ids": INPUT_IDS, "attention_mask": ATTENTION_MASK, "pixel_values": pixels(), "return_loss": True}
    with torch.no_grad():
        expected, actual = reference(**batch), model(**batch)
    assert torch.equal(actual.logits_per_text, expected.logits_per_text)
    assert torch.equal(actual.text_model_output.last_hidden_state, expected.text_model_output.last_hidden_state)
    assert torch.equal(actual.loss, expected.loss)
