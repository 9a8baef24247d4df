"""IDEFICS v1 (generated/idefics) matches transformers 5.23.0 `IdeficsForVisionText2Text`.

On tiny random checkpoints (fp32, CPU) whose every weight is drawn again with std 0.2 after
transformers builds them (the tanh gates start at zero and would hide the cross-attention):
- logits within 1e-5 at every real (unpadded) position, with one and with two images per sample,
  an `image_attention_mask` under which some tokens see no image, the resampler on and off, the
  cross-attention qk layer norms on and off, eager and sdpa attention;
- the same with images passed already encoded (`image_encoder_embeddings`, `perceiver_embeddings`),
  with images of another size (`interpolate_pos_encoding`), with added tokens
  (`additional_vocab_size`, tied embeddings) and with a cross-attention layer every other layer;
- the hidden states (`output_hidden_states=True`) match;
- a token that sees no image is untouched by the images;
- greedy generation with images gives transformers' tokens (images encoded once, at prefill);
- checkpoints load both ways, and our config.json holds only fields transformers knows;
- the loss with labels matches;
- the freeze options freeze the same parameters (requires_grad per name) as transformers.
Run: python -m pytest tests/models/test_idefics.py -q
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from generated.idefics import IdeficsConfig, IdeficsForVisionText2Text
from runtime.configuration_utils import PretrainedConfig
from tests.models.helpers import assert_close

transformers = pytest.importorskip("transformers")

VOCAB = 99
IMAGE_SIZE = 16


def tiny_kwargs(**overrides: Any) -> dict[str, Any]:
    """A tiny IDEFICS: decoder hidden 32 (2 layers, 4 heads), vision tower 24 wide (2 layers,
    16-pixel images of 4-pixel patches), resampler of 3 latents."""
    kwargs: dict[str, Any] = {
        "vocab_size": VOCAB,
        "hidden_size": 32,
        "intermediate_size": 37,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "max_position_embeddings": 64,
        "pad_token_id": 0,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "vision_config": {
            "embed_dim": 24,
            "image_size": IMAGE_SIZE,
            "intermediate_size": 30,
            "patch_size": 4,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
        },
        "perceiver_config": {
            "resampler_n_latents": 3,
            "resampler_depth": 2,
            "resampler_n_heads": 2,
            "resampler_head_dim": 6,
        },
    }
    kwargs.update(overrides)
    return kwargs


def pair(tmp_path: Path, attn: str = "sdpa", seed: int = 0, **overrides: Any) -> tuple[Any, IdeficsForVisionText2Text]:
    """transformers' model with every weight drawn again (std 0.2), saved by transformers and
    loaded by us; both in eval mode with attention backend `attn`."""
    torch.manual_seed(seed)
    reference = transformers.IdeficsForVisionText2Text(transformers.IdeficsConfig(**tiny_kwargs(**overrides)))
    with torch.no_grad():
        for parameter in reference.parameters():
            parameter.normal_(0.0, 0.2)
    reference.save_pretrained(tmp_path / "ref")
    reference.set_attn_implementation(attn)
    ours = IdeficsForVisionText2Text.from_pretrained(tmp_path / "ref", attn_implementation=attn)
    return reference.eval(), ours


def image_text_batch(num_images: int = 2, image_size: int = IMAGE_SIZE, vocab: int = VOCAB) -> dict[str, torch.Tensor]:
    """Two prompts of 10 tokens, the second left-padded by 3. Tokens before a sample's first
    image see no image; after it they see it, and after the second image both."""
    generator = torch.Generator().manual_seed(4)
    input_ids = torch.randint(3, vocab, (2, 10), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    input_ids[1, :3], attention_mask[1, :3] = 0, 0
    image_attention_mask = torch.zeros(2, 10, num_images, dtype=torch.long)
    image_attention_mask[0, 2:, 0] = 1
    image_attention_mask[1, 5:, 0] = 1
    if num_images == 2:
        image_attention_mask[0, 6:, 1] = 1
    return {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "pixel_values": torch.randn(2, num_images, 3, image_size, image_size, generator=generator),
        "image_attention_mask": image_attention_mask,
    }


def assert_same_logits(ours: Any, reference: Any, batch: dict[str, torch.Tensor], what: str, **kwargs: Any) -> None:
    real = batch["attention_mask"].bool()
    with torch.no_grad():
        actual, expected = ours(**batch, **kwargs), reference(**batch, **kwargs)
    assert_close(actual.logits[real], expected.logits[real], what=f"logits ({what})")
    assert_close(actual.image_hidden_states, expected.image_hidden_states, what=f"image states ({what})")


@pytest.mark.parametrize("attn", ["eager", "sdpa"])
@pytest.mark.parametrize("use_resampler", [False, True])
@pytest.mark.parametrize("qk_layer_norms", [False, True])
def test_logits_match_reference(tmp_path: Path, attn: str, use_resampler: bool, qk_layer_norms: bool) -> None:
    reference, ours = pair(tmp_path, attn, use_resampler=use_resampler, qk_layer_norms=qk_layer_norms)
    for num_images in (1, 2):
        what = f"{attn}, resampler {use_resampler}, qk norms {qk_layer_norms}, {num_images} images"
        assert_same_logits(ours, reference, image_text_batch(num_images), what)


def test_perceiver_qk_norms_vector_gates_and_cross_layer_interval_match_reference(tmp_path: Path) -> None:
    perceiver = {**tiny_kwargs()["perceiver_config"], "qk_layer_norms_perceiver": True}
    overrides = {"use_resampler": True, "perceiver_config": perceiver, "alpha_type": "vector"}
    reference, ours = pair(tmp_path, "eager", num_hidden_layers=4, cross_layer_interval=2, **overrides)
    assert len(ours.model.gated_cross_attn_layers) == 2
    assert_same_logits(ours, reference, image_text_batch(), "every other layer, vector gates")


@pytest.mark.parametrize("use_resampler", [False, True])
def test_precomputed_image_inputs_match_reference(tmp_path: Path, use_resampler: bool) -> None:
    """The vision tower's output as `image_encoder_embeddings`, and with the resampler its output
    as `perceiver_embeddings`, instead of pixels: transformers' logits, and ours from pixels."""
    reference, ours = pair(tmp_path, use_resampler=use_resampler)
    batch = image_text_batch()
    pixel_values = batch.pop("pixel_values")
    with torch.no_grad():
        from_pixels = ours(**batch, pixel_values=pixel_values).logits
        vision = ours.model.vision_model(pixel_values.flatten(0, 1)).last_hidden_state
        encoded = {"image_encoder_embeddings": vision.view(2, 2, *vision.shape[1:])}
        if use_resampler:
            latents = ours.model.perceiver_resampler(vision)
            encoded = {"perceiver_embeddings": latents.view(2, 2, *latents.shape[1:])}
        assert_close(ours(**batch, **encoded).logits, from_pixels, what="logits from encoded images")
    assert_same_logits(ours, reference, batch, f"encoded images, resampler {use_resampler}", **encoded)


def test_interpolated_image_size_matches_reference(tmp_path: Path) -> None:
    """24-pixel images for a tower trained on 16: positions resized as transformers' IDEFICS does."""
    reference, ours = pair(tmp_path)
    batch = image_text_batch(image_size=24)
    assert_same_logits(ours, reference, batch, "24-pixel images", interpolate_pos_encoding=True)


def test_additional_tokens_and_tied_embeddings_match_reference(tmp_path: Path) -> None:
    """Ids past the base vocabulary read the decoupled embedding's new rows, and the LM head's
    additional features are tied to them."""
    reference, ours = pair(tmp_path, additional_vocab_size=3, tie_word_embeddings=True)
    assert ours.lm_head.additional_fc.weight is ours.model.embed_tokens.additional_embedding.weight
    batch = image_text_batch()
    batch["input_ids"][0, 2:4] = torch.tensor([VOCAB, VOCAB + 2])
    assert_same_logits(ours, reference, batch, "added tokens")


def test_hidden_states_match_reference(tmp_path: Path) -> None:
    """`output_hidden_states=True`: the first decoder layer's input, then every layer's output."""
    reference, ours = pair(tmp_path, num_hidden_layers=3)
    batch = image_text_batch()
    real = batch["attention_mask"].bool()
    with torch.no_grad():
        actual = ours(**batch, output_hidden_states=True).hidden_states
        expected = reference(**batch, output_hidden_states=True).hidden_states
    assert len(actual) == len(expected) == 4
    for index, (mine, theirs) in enumerate(zip(actual, expected, strict=True)):
        assert_close(mine[real], theirs[real], what=f"hidden states {index}")


def test_tokens_that_see_no_image_ignore_the_images(tmp_path: Path) -> None:
    _, ours = pair(tmp_path)
    batch = image_text_batch()
    sees_an_image = batch["image_attention_mask"].bool().any(-1)
    with torch.no_grad():
        logits = ours(**batch).logits
        batch["pixel_values"] = torch.randn_like(batch["pixel_values"])
        other_images = ours(**batch).logits
    blind = ~sees_an_image & batch["attention_mask"].bool()
    assert torch.equal(logits[blind], other_images[blind])
    assert not torch.allclose(logits[sees_an_image], other_images[sees_an_image])


@pytest.mark.parametrize("use_resampler", [False, True])
def test_greedy_generation_matches_reference(tmp_path: Path, use_resampler: bool) -> None:
    reference, ours = pair(tmp_path, seed=1, use_resampler=use_resampler)
    batch = image_text_batch()
    expected = reference.generate(**batch, max_new_tokens=5, do_sample=False)
    assert ours.generate(**batch, max_new_tokens=5).tolist() == expected.tolist()


@pytest.mark.parametrize("use_resampler", [False, True])
def test_beam_search_with_several_returns_matches_reference(tmp_path: Path, use_resampler: bool) -> None:
    """Beams and return sequences repeat every row: its image states and image_attention_mask too."""
    reference, ours = pair(tmp_path, seed=1, use_resampler=use_resampler)
    batch = image_text_batch()
    options = {"max_new_tokens": 4, "num_beams": 3, "num_return_sequences": 2}
    expected = reference.generate(**batch, **options, do_sample=False)
    assert ours.generate(**batch, **options).tolist() == expected.tolist()


def test_generation_from_encoded_images_matches_reference(tmp_path: Path) -> None:
    reference, ours = pair(tmp_path, seed=1)
    batch = image_text_batch()
    with torch.no_grad():
        vision = ours.model.vision_model(batch.pop("pixel_values").flatten(0, 1)).last_hidden_state
    batch["image_encoder_embeddings"] = vision.view(2, 2, *vision.shape[1:])
    expected = reference.generate(**batch, max_new_tokens=5, do_sample=False)
    assert ours.generate(**batch, max_new_tokens=5).tolist() == expected.tolist()


def test_our_checkpoint_loads_in_transformers(tmp_path: Path) -> None:
    _, ours = pair(tmp_path, use_resampler=True, qk_layer_norms=True)
    ours.save_pretrained(tmp_path / "ours")
    theirs = transformers.IdeficsForVisionText2Text.from_pretrained(tmp_path / "ours").eval()
    assert_same_logits(ours, theirs, image_text_batch(), "our checkpoint in transformers")


def test_config_json_holds_only_transformers_fields(tmp_path: Path) -> None:
    """Every field of ours, at the top and in the sub-configs, is one of transformers' (the fields
    the runtime writes for every config, such as token ids and labels, aside)."""
    IdeficsConfig(**tiny_kwargs()).save_pretrained(tmp_path)
    ours = json.loads((tmp_path / "config.json").read_text())
    theirs = transformers.IdeficsConfig(**tiny_kwargs()).to_dict()
    common = set(PretrainedConfig.__annotations__)
    for name in ("vision_config", "perceiver_config"):
        extra = set(ours[name]) - set(theirs[name]) - common
        assert not extra, f"{name}: fields transformers does not have: {sorted(extra)}"
        assert ours[name]["model_type"] == theirs[name]["model_type"]
    extra = set(ours) - set(theirs) - common
    assert not extra, f"fields transformers does not have: {sorted(extra)}"
    assert ours["model_type"] == theirs["model_type"] == "idefics"


def test_loss_matches_reference(tmp_path: Path) -> None:
    reference, ours = pair(tmp_path)
    batch = image_text_batch()
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    # the first real token of the padded row is predicted from a padding position, whose logits
    # depend on how each implementation masks rows of padding
    labels[1, 3] = -100
    with torch.no_grad():
        expected, actual = reference(**batch, labels=labels).loss, ours(**batch, labels=labels).loss
    assert_close(actual, expected, what="loss")


FREEZE_OPTIONS = [
    {},  # transformers' defaults: text and vision layers frozen
    {"freeze_text_layers": False, "freeze_vision_layers": False},
    {"freeze_lm_head": True, "additional_vocab_size": 3},
    {"freeze_text_module_exceptions": ["Linear"], "freeze_vision_module_exceptions": ["LayerNorm", "Embedding"]},
    {"use_resampler": True, "tie_word_embeddings": True, "additional_vocab_size": 2, "freeze_lm_head": True},
]


@pytest.mark.parametrize("options", FREEZE_OPTIONS, ids=lambda options: ",".join(options) or "defaults")
def test_freeze_options_match_reference(options: dict[str, Any]) -> None:
    """requires_grad of every parameter, by name, of freshly built models."""
    reference = transformers.IdeficsForVisionText2Text(transformers.IdeficsConfig(**tiny_kwargs(**options)))
    ours = IdeficsForVisionText2Text(IdeficsConfig(**tiny_kwargs(**options)))
    expected = {name: parameter.requires_grad for name, parameter in reference.named_parameters()}
    assert {name: parameter.requires_grad for name, parameter in ours.named_parameters()} == expected
