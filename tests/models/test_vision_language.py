"""SigLIP vision and the Idefics2-family models (every vision-language declaration in
tests/models/specs with `image_sizes`: Idefics2, Idefics3) match transformers 5.23.0.

On tiny random checkpoints (fp32, CPU): checkpoints load both ways (transformers' save_pretrained
-> ours, ours -> transformers); SigLIP vision outputs within 1e-5 for square and interpolated
image sizes. For the vision-language models, on left-padded prompts with several images per row
(padding images, and images padded to the batch's size with `pixel_attention_mask`): logits within
1e-5 with eager and sdpa attention, identical greedy tokens (the images are encoded once, at
prefill), the same with images encoded beforehand (`get_image_features`, then `mm_encoder_outputs`),
and the same training loss with pad and image positions labelled -100.
Run: python -m pytest tests/models/test_vision_language.py -q
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from generated.siglip import SiglipVisionModel
from runtime.auto import AutoModelForImageTextToText
from tests.models.helpers import assert_close
from tests.models.specs import VISION_LANGUAGE, ModelSpec, declared_specs

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


@pytest.mark.parametrize("attn", ["eager", "sdpa"])
def test_siglip_hidden_states_match_reference(tmp_path: Path, attn: str) -> None:
    """The embeddings and every layer's output (LLaVA selects `vision_feature_layer` from them)."""
    reference, model = siglip_pair(tmp_path, attn)
    pixel_values = torch.randn(2, 3, 20, 20, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        expected = reference(pixel_values, output_hidden_states=True).hidden_states
        actual = model(pixel_values, output_hidden_states=True).hidden_states
        assert model(pixel_values).hidden_states is None
    assert len(actual) == len(expected) == 3
    for index, (ours, theirs) in enumerate(zip(actual, expected, strict=True)):
        assert_close(ours, theirs, what=f"siglip hidden_states[{index}] ({attn})")


def test_siglip_checkpoint_loads_in_transformers(tmp_path: Path) -> None:
    _, model = siglip_pair(tmp_path, "eager")
    model.save_pretrained(tmp_path / "ours")
    theirs = transformers.SiglipVisionModel.from_pretrained(tmp_path / "ours").eval()
    pixel_values = torch.randn(1, 3, 20, 20, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        assert_close(model(pixel_values).pooler_output, theirs(pixel_values).pooler_output, what="siglip pooler")


TEXT = {
    "vocab_size": 99,
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 64,
    "pad_token_id": 0,
    "bos_token_id": 1,
    "eos_token_id": 2,
}
IMAGE_TOKEN = 98
# the Idefics2 family's declarations (tests/models/specs): the models this file compares
VLMS: dict[str, ModelSpec] = {spec.model: spec for spec in declared_specs(VISION_LANGUAGE) if spec.image_sizes}


def vlm_kwargs(model_type: str, **overrides: Any) -> dict[str, Any]:
    """The declared parity config: its sub-config overrides on top of TEXT and the tiny vision tower."""
    declared = dict(VLMS[model_type].config)
    kwargs = {
        **declared,
        "text_config": {**TEXT, **declared.get("text_config", {})},
        "vision_config": tiny_vision_kwargs(image_size=16, **declared.get("vision_config", {})),
    }
    if "perceiver_config" in declared:
        kwargs["perceiver_config"] = {"hidden_size": TEXT["hidden_size"], **declared["perceiver_config"]}
    return {**kwargs, **overrides}


def test_every_vision_language_model_has_parity_tests() -> None:
    """A vision-language declaration either gives the image sizes this file tests at or has its
    own parity file."""
    for spec in declared_specs(VISION_LANGUAGE):
        own = Path(__file__).with_name(f"test_{spec.model}.py")
        assert spec.image_sizes or own.is_file(), (
            f"{spec.model}: declare image_sizes in tests/models/specs/{spec.model}.py (Idefics2-style inputs) "
            f"or write {own.relative_to(Path(__file__).parents[2])}"
        )


def vlm_pair(tmp_path: Path, model_type: str, attn: str, seed: int = 0, **overrides: Any) -> tuple[Any, Any]:
    """A random transformers model (weights drawn with std 0.2 so greedy tokens are not ties),
    saved by transformers and loaded by us."""
    if VLMS[model_type].reference is None:
        pytest.skip(VLMS[model_type].no_reference)
    kwargs = vlm_kwargs(model_type, **overrides)
    torch.manual_seed(seed)
    config = transformers.AutoConfig.for_model(model_type, image_token_id=IMAGE_TOKEN, **kwargs)
    reference = transformers.AutoModelForImageTextToText.from_config(config).eval()
    with torch.no_grad():
        for parameter in reference.parameters():
            parameter.normal_(0.0, 0.2)
    reference.save_pretrained(tmp_path / "ref")
    reference.set_attn_implementation(attn)
    return reference, AutoModelForImageTextToText.from_pretrained(tmp_path / "ref", attn_implementation=attn)


def tokens_per_image(model: Any, height: int, width: int) -> int:
    """How many `<image>` tokens one height x width image fills: what the model's connector makes
    of it (Idefics2: its resampler's latents; Idefics3: the pixel-shuffled patches)."""
    with torch.no_grad():
        features = model.get_image_features(pixel_values=torch.ones(1, 1, 3, height, width))
    return features.pooler_output[0].shape[0]


def image_text_batch(model: Any, height: int = 16, width: int = 16) -> dict[str, torch.Tensor]:
    """Two left-padded prompts: row 0 holds two images (the second with real pixels only in its
    left half), row 1 one image and a padding image (all zeros)."""
    tokens = tokens_per_image(model, height, width)
    generator = torch.Generator().manual_seed(4)
    pixel_values = torch.randn(2, 2, 3, height, width, generator=generator)
    pixel_attention_mask = torch.ones(2, 2, height, width, dtype=torch.long)
    pixel_attention_mask[0, 1, :, width // 2 :] = 0
    pixel_values[1, 1] = 0.0
    pixel_attention_mask[1, 1] = 0
    pixel_values = pixel_values * pixel_attention_mask[:, :, None]
    input_ids = torch.randint(3, IMAGE_TOKEN, (2, 16), generator=generator)
    input_ids[0, 1 : 1 + tokens] = IMAGE_TOKEN
    input_ids[0, 8 : 8 + tokens] = IMAGE_TOKEN
    input_ids[1, 6 : 6 + tokens] = IMAGE_TOKEN
    attention_mask = torch.ones_like(input_ids)
    input_ids[1, :3], attention_mask[1, :3] = 0, 0
    return {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "pixel_values": pixel_values,
        "pixel_attention_mask": pixel_attention_mask,
    }


@pytest.mark.parametrize("attn", ["eager", "sdpa"])
@pytest.mark.parametrize("model_type", list(VLMS))
def test_vlm_logits_match_reference(tmp_path: Path, model_type: str, attn: str) -> None:
    reference, model = vlm_pair(tmp_path, model_type, attn)
    for height, width in VLMS[model_type].image_sizes:
        batch = image_text_batch(model, height, width)
        real = batch["attention_mask"].bool()
        with torch.no_grad():
            expected = reference(**batch)
            actual = model(**batch)
        what = f"{model_type} logits ({attn}, {height}x{width})"
        assert_close(actual.logits[real], expected.logits[real], what=what)
        assert_close(actual.image_hidden_states, expected.image_hidden_states, what=f"{model_type} image features")


@pytest.mark.parametrize("model_type", list(VLMS))
def test_vlm_greedy_generation_matches_reference(tmp_path: Path, model_type: str) -> None:
    reference, model = vlm_pair(tmp_path, model_type, "sdpa", seed=1)
    batch = image_text_batch(model)
    expected = reference.generate(**batch, max_new_tokens=8, do_sample=False, pad_token_id=0)
    actual = model.generate(**batch, max_new_tokens=8)
    assert actual.tolist() == expected.tolist()


@pytest.mark.parametrize("model_type", list(VLMS))
def test_vlm_precomputed_image_features_match_reference(tmp_path: Path, model_type: str) -> None:
    """Images encoded once with `get_image_features`, then passed as `mm_encoder_outputs` instead of
    pixels (to forward and to generate): the same features, logits and tokens as transformers, and
    as passing the pixels."""
    reference, model = vlm_pair(tmp_path, model_type, "sdpa", seed=1)
    batch = image_text_batch(model)
    pixels = {key: batch.pop(key) for key in ("pixel_values", "pixel_attention_mask")}
    real = batch["attention_mask"].bool()
    with torch.no_grad():
        expected, actual = reference.get_image_features(**pixels), model.get_image_features(**pixels)
        assert_close(actual.last_hidden_state, expected.last_hidden_state, what=f"{model_type} vision output")
        assert [tuple(f.shape) for f in actual.pooler_output] == [tuple(f.shape) for f in expected.pooler_output]
        for ours, theirs in zip(actual.pooler_output, expected.pooler_output, strict=True):
            assert_close(ours, theirs, what=f"{model_type} image tokens of one sample")
        precomputed = model(**batch, mm_encoder_outputs={"image": actual})
        assert_close(
            precomputed.logits[real],
            reference(**batch, mm_encoder_outputs={"image": expected}).logits[real],
            what=f"{model_type} logits from precomputed image features",
        )
        assert torch.equal(precomputed.logits, model(**batch, **pixels).logits)
        as_tensor = model(**batch, mm_encoder_outputs=torch.cat(actual.pooler_output))  # transformers' older form
        assert torch.equal(as_tensor.logits, precomputed.logits)
        with pytest.raises(ValueError, match="both pixel_values and mm_encoder_outputs"):
            model(**batch, **pixels, mm_encoder_outputs={"image": actual})
    expected_tokens = reference.generate(
        **batch, mm_encoder_outputs={"image": expected}, max_new_tokens=8, do_sample=False, pad_token_id=0
    )
    actual_tokens = model.generate(**batch, mm_encoder_outputs={"image": actual}, max_new_tokens=8)
    assert actual_tokens.tolist() == expected_tokens.tolist()
    assert actual_tokens.tolist() == model.generate(**batch, **pixels, max_new_tokens=8).tolist()


@pytest.mark.parametrize("model_type", list(VLMS))
def test_vlm_training_loss_matches_reference(tmp_path: Path, model_type: str) -> None:
    reference, model = vlm_pair(tmp_path, model_type, "eager")
    batch = image_text_batch(model)
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    labels = labels.masked_fill(labels == IMAGE_TOKEN, -100)
    labels[1, 3] = -100  # the first real token of the left-padded row is predicted from a padding position
    expected = reference(**batch, labels=labels).loss
    actual = model(**batch, labels=labels).loss
    assert_close(actual, expected, what=f"{model_type} loss")
    actual.backward()  # trainable end to end
    assert model.model.vision_model.embeddings.patch_embedding.weight.grad is not None


@pytest.mark.parametrize("model_type", list(VLMS))
def test_vlm_checkpoint_loads_in_transformers(tmp_path: Path, model_type: str) -> None:
    _, model = vlm_pair(tmp_path, model_type, "eager")
    model.save_pretrained(tmp_path / "ours")
    theirs = transformers.AutoModelForImageTextToText.from_pretrained(tmp_path / "ours").eval()
    theirs.set_attn_implementation("eager")
    batch = image_text_batch(model)
    real = batch["attention_mask"].bool()
    with torch.no_grad():
        assert_close(model(**batch).logits[real], theirs(**batch).logits[real], what=f"{model_type} logits")


@pytest.mark.parametrize("model_type", list(VLMS))
def test_vlm_tied_embeddings_follow_the_top_level_config(tmp_path: Path, model_type: str) -> None:
    text_config = {**vlm_kwargs(model_type)["text_config"], "tie_word_embeddings": False}
    reference, model = vlm_pair(tmp_path, model_type, "eager", tie_word_embeddings=True, text_config=text_config)
    assert model.lm_head.weight is model.model.text_model.embed_tokens.weight
    batch = image_text_batch(model)
    real = batch["attention_mask"].bool()
    with torch.no_grad():
        assert_close(model(**batch).logits[real], reference(**batch).logits[real], what=f"{model_type} tied logits")
