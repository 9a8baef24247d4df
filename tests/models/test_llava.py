"""LLaVA (modular/modular_llava.py -> generated/llava) matches transformers 5.23.0.

On tiny checkpoints whose every weight transformers drew from N(0, 0.2) (fp32, CPU), with
left-padded prompts holding several images (input ids built as tensors, as many `<image>` tokens
as transformers' LlavaProcessor puts): logits and merged image tokens within 1e-5 with eager and
sdpa attention, for single and concatenated vision layers and both feature strategies (from the
config or from the call), with Llama, Mistral and Qwen2 text models; identical greedy tokens, with
the images encoded once; precomputed image features; the training loss; `inputs_embeds`;
checkpoints both ways (transformers' save_pretrained writes the older layout, `language_model.model.*`;
ours writes transformers' module names) and the oldest layout (`vision_tower.vision_model.*`).
Run: python -m pytest tests/models/test_llava.py -q
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from generated.llava import LlavaConfig, LlavaForConditionalGeneration, LlavaModel
from tests.models.helpers import assert_close
from tests.models.llava_family import (
    IMAGE_TOKEN,
    PAD,
    PATCH,
    TILE,
    left_padded,
    llava_image_tokens,
    loss_labels,
    real_logits,
    reference_pair,
    text_tokens,
    tiny_kwargs,
    transformers,
)


def image_batch(strategy: str = "default", seed: int = 0, tokens: int | None = None) -> dict[str, torch.Tensor]:
    """Two left-padded prompts: row 0 holds two images with text between them, row 1 one image;
    `tokens` per image (a CLIP tower's count by default)."""
    generator = torch.Generator().manual_seed(seed)
    image = [IMAGE_TOKEN] * (llava_image_tokens(strategy) if tokens is None else tokens)
    batch = left_padded([[*image, *text_tokens(2, generator), *image], image], generator)
    batch["pixel_values"] = torch.randn(3, 3, TILE, TILE, generator=generator)
    return batch


def compare(reference, ours, batch: dict[str, torch.Tensor], what: str, **options) -> None:
    with torch.no_grad():
        expected, actual = reference(**batch, **options), ours(**batch, **options)
    assert_close(real_logits(actual, batch), real_logits(expected, batch), what=f"{what} logits")
    assert_close(actual.image_hidden_states, expected.image_hidden_states, what=f"{what} image tokens")


@pytest.mark.parametrize("attn", ["eager", "sdpa"])
@pytest.mark.parametrize(
    ("layer", "strategy"), [(-2, "default"), ([-3, -1], "default"), (-1, "full"), ([0, -2], "full")]
)
def test_logits_match_reference(tmp_path: Path, attn: str, layer: int | list[int], strategy: str) -> None:
    options = {"vision_feature_layer": layer, "vision_feature_select_strategy": strategy}
    reference, ours = reference_pair(tmp_path, "llava", attn, **options)
    compare(reference, ours, image_batch(strategy), f"llava {attn} {layer} {strategy}")


@pytest.mark.parametrize("text_type", ["mistral", "qwen2"])
def test_other_text_models_match_reference(tmp_path: Path, text_type: str) -> None:
    reference, ours = reference_pair(tmp_path, "llava", "sdpa", text_type=text_type)
    assert type(ours.model.language_model).__name__.lower().startswith(text_type)
    compare(reference, ours, image_batch(), f"llava on {text_type}")


def test_call_options_override_the_config(tmp_path: Path) -> None:
    reference, ours = reference_pair(tmp_path, "llava", "eager")
    options = {"vision_feature_layer": [1, -1], "vision_feature_select_strategy": "full"}
    with pytest.raises(RuntimeError):  # the projector reads one layer: two do not fit, in either model
        reference(**image_batch("full"), **options)
    options["vision_feature_layer"] = -1
    compare(reference, ours, image_batch("full"), "llava, options from the call", **options)


def test_beam_search_with_several_returns_matches_reference(tmp_path: Path) -> None:
    """The images are encoded once, before beams and return sequences repeat the rows."""
    reference, ours = reference_pair(tmp_path, "llava", "sdpa", seed=1)
    batch = image_batch(seed=1)
    options = {"max_new_tokens": 4, "num_beams": 3, "num_return_sequences": 2}
    expected = reference.generate(**batch, **options, do_sample=False, pad_token_id=PAD)
    assert ours.generate(**batch, **options).tolist() == expected.tolist()


def test_greedy_generation_matches_reference(tmp_path: Path) -> None:
    reference, ours = reference_pair(tmp_path, "llava", "sdpa", seed=1)
    batch = image_batch(seed=1)
    expected = reference.generate(**batch, max_new_tokens=6, do_sample=False, pad_token_id=PAD)
    calls = []
    hook = ours.model.vision_tower.register_forward_hook(lambda *args: calls.append(1))
    actual = ours.generate(**batch, max_new_tokens=6)
    hook.remove()
    assert actual.tolist() == expected.tolist()
    assert len(calls) == 1, "the images are encoded once, at prefill"


def test_precomputed_image_features_match_reference(tmp_path: Path) -> None:
    """`get_image_features` run beforehand, its output passed as `mm_encoder_outputs`: the same
    features, logits and tokens as transformers, and as passing the pixels."""
    reference, ours = reference_pair(tmp_path, "llava", "sdpa", seed=2)
    batch = image_batch(seed=2)
    pixel_values = batch.pop("pixel_values")
    with torch.no_grad():
        expected, actual = reference.get_image_features(pixel_values), ours.get_image_features(pixel_values)
        assert len(actual.pooler_output) == len(expected.pooler_output) == 3
        for mine, theirs in zip(actual.pooler_output, expected.pooler_output, strict=True):
            assert_close(mine, theirs, what="one image's tokens")
        compare(reference, ours, batch, "llava, precomputed", mm_encoder_outputs={"image": actual})
        assert torch.equal(
            ours(**batch, mm_encoder_outputs={"image": actual}).logits, ours(**batch, pixel_values=pixel_values).logits
        )
        with pytest.raises(ValueError, match="both pixel values and mm_encoder_outputs"):
            ours(**batch, pixel_values=pixel_values, mm_encoder_outputs={"image": actual})
    tokens = ours.generate(**batch, mm_encoder_outputs={"image": actual}, max_new_tokens=6)
    assert tokens.tolist() == ours.generate(**batch, pixel_values=pixel_values, max_new_tokens=6).tolist()


def test_inputs_embeds_match_reference(tmp_path: Path) -> None:
    """Without input_ids, the `<image>` positions are found by their embedding."""
    reference, ours = reference_pair(tmp_path, "llava", "eager")
    batch = image_batch()
    input_ids = batch.pop("input_ids")
    with torch.no_grad():
        expected = reference(**batch, inputs_embeds=reference.get_input_embeddings()(input_ids))
        actual = ours(**batch, inputs_embeds=ours.get_input_embeddings()(input_ids))
    assert_close(real_logits(actual, batch), real_logits(expected, batch), what="logits from inputs_embeds")


def test_image_token_count_must_match_the_features(tmp_path: Path) -> None:
    _, ours = reference_pair(tmp_path, "llava", "eager")
    batch = image_batch()
    batch["input_ids"][0, -1] = IMAGE_TOKEN
    with pytest.raises(ValueError, match="do not match"):
        ours(**batch)


def test_loss_matches_reference(tmp_path: Path) -> None:
    reference, ours = reference_pair(tmp_path, "llava", "eager")
    batch = image_batch()
    labels = loss_labels(batch)
    expected, actual = reference(**batch, labels=labels).loss, ours(**batch, labels=labels).loss
    assert_close(actual, expected, what="llava loss")
    actual.backward()  # trainable end to end, the vision tower included
    assert ours.model.vision_tower.embeddings.patch_embedding.weight.grad is not None


def test_checkpoint_loads_in_transformers(tmp_path: Path) -> None:
    """Ours saves transformers' module names (`model.vision_tower.*`, ...); transformers loads them."""
    _, ours = reference_pair(tmp_path, "llava", "eager")
    ours.save_pretrained(tmp_path / "ours")
    keys = load_file(tmp_path / "ours" / "model.safetensors").keys()
    assert {key.split(".")[0] for key in keys} == {"model", "lm_head"}
    theirs = transformers.LlavaForConditionalGeneration.from_pretrained(tmp_path / "ours").eval()
    theirs.set_attn_implementation("eager")
    compare(theirs, ours, image_batch(), "llava saved by us, loaded by transformers")
    again = LlavaForConditionalGeneration.from_pretrained(tmp_path / "ours", attn_implementation="eager")
    compare(theirs, again, image_batch(), "llava saved and loaded by us")


def test_older_checkpoint_layouts_load(tmp_path: Path) -> None:
    """transformers 5.23's save_pretrained writes `language_model.model.*`, `language_model.lm_head.*`,
    `vision_tower.*`, `multi_modal_projector.*`; older Hub checkpoints keep the tower under
    `vision_tower.vision_model.*`. Both load (reference_pair loads the first)."""
    reference, _ = reference_pair(tmp_path, "llava", "eager")
    weights = load_file(tmp_path / "theirs" / "model.safetensors")
    assert "language_model.lm_head.weight" in weights and "vision_tower.pre_layrnorm.weight" in weights
    renamed = {key.replace("vision_tower.", "vision_tower.vision_model.", 1): value for key, value in weights.items()}
    save_file(renamed, tmp_path / "theirs" / "model.safetensors", metadata={"format": "pt"})
    ours = LlavaForConditionalGeneration.from_pretrained(tmp_path / "theirs", attn_implementation="eager")
    compare(reference, ours, image_batch(), "llava from vision_tower.vision_model.*")


def test_tied_embeddings_follow_the_text_config(tmp_path: Path) -> None:
    """As transformers: a text config that ties its embeddings ties the LLaVA head too."""
    text_config = {**tiny_kwargs("llava")["text_config"], "tie_word_embeddings": True}
    assert LlavaConfig(text_config=text_config).tie_word_embeddings
    reference, ours = reference_pair(tmp_path, "llava", "eager", text_config=text_config)
    assert ours.lm_head.weight is ours.model.language_model.embed_tokens.weight
    compare(reference, ours, image_batch(), "llava tied")


def test_config_round_trips_with_transformers(tmp_path: Path) -> None:
    """config.json written by transformers reads back field for field, aliases included."""
    config = transformers.LlavaConfig(**tiny_kwargs("llava", vision_feature_layer=[-3, -1]))
    config.save_pretrained(tmp_path)
    ours = LlavaConfig.from_pretrained(tmp_path)
    assert ours.image_token_id == ours.image_token_index == IMAGE_TOKEN
    assert ours.vision_feature_layer == [-3, -1] and ours.vision_config.model_type == "clip_vision_model"
    ours.save_pretrained(tmp_path / "ours")
    again = transformers.LlavaConfig.from_pretrained(tmp_path / "ours")
    assert again.to_dict()["vision_feature_layer"] == [-3, -1] and again.image_token_id == IMAGE_TOKEN


@pytest.mark.parametrize(("strategy", "layer"), [("default", -1), ("full", [-2, -1])])
def test_siglip_vision_tower_matches_reference(tmp_path: Path, strategy: str, layer: int | list[int]) -> None:
    """A SigLIP tower, reached through the auto registry by its model_type, as LLaVA-style
    checkpoints with SigLIP use it: the selected hidden states are SigLIP's."""
    vision = {"model_type": "siglip_vision_model", "hidden_size": 16, "intermediate_size": 32}
    vision |= {"num_hidden_layers": 2, "num_attention_heads": 2, "image_size": TILE, "patch_size": PATCH}
    options = {"vision_feature_select_strategy": strategy, "vision_feature_layer": layer}
    reference, ours = reference_pair(tmp_path, "llava", "eager", vision_config=vision, **options)
    assert type(ours.model.vision_tower).__name__ == "SiglipVisionModel"
    # no class token: every patch is a feature, and "default" drops the first patch as transformers does
    batch = image_batch(tokens=(TILE // PATCH) ** 2 - (strategy == "default"))
    real = batch["attention_mask"].bool()
    with torch.no_grad():
        assert_close(ours(**batch).logits[real], reference(**batch).logits[real], what=f"llava-siglip ({strategy})")


def test_base_model_loads_head_checkpoints_both_ways(tmp_path: Path) -> None:
    """LlavaModel reads a head checkpoint (transformers' layout, its head skipped), and what it
    saves loads in transformers' LlavaModel."""
    reference, ours = reference_pair(tmp_path, "llava", "eager")
    base = LlavaModel.from_pretrained(tmp_path / "theirs", attn_implementation="eager")
    base.save_pretrained(tmp_path / "base")
    theirs = transformers.LlavaModel.from_pretrained(tmp_path / "base").eval()
    theirs.set_attn_implementation("eager")
    batch = image_batch()
    real = batch["attention_mask"].bool()
    with torch.no_grad():
        expected = reference.model(**batch).last_hidden_state[real]
        assert_close(base(**batch).last_hidden_state[real], expected, what="base model from a head checkpoint")
        assert_close(theirs(**batch).last_hidden_state[real], expected, what="our base model in transformers")
