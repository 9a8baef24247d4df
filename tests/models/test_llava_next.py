"""LLaVA-NeXT (modular/modular_llava_next.py -> generated/llava_next) matches transformers 5.23.0.

On tiny checkpoints whose every weight transformers drew from N(0, 0.2) (fp32, CPU), images of
several sizes and aspect ratios (1 to 6 tiles of a 16-pixel tower, pinpoints up to 48 pixels),
several per prompt, left-padded, with as many `<image>` tokens as transformers' LlavaNextProcessor
puts (its formula, in tests/models/llava_family.py): logits and merged image tokens within 1e-5
with eager and sdpa attention, single and concatenated vision layers; per-image packed tokens
(`get_image_features`, `pack_image_features`); identical greedy tokens; precomputed features;
tiles given unstacked (4-D); the loss; checkpoints both ways; the anyres helpers
(select_best_resolution, get_anyres_image_grid_shape, image_size_to_num_patches, unpad_image)
against transformers' own on many sizes.
Run: python -m pytest tests/models/test_llava_next.py -q
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from generated.llava_next import LlavaNextConfig, LlavaNextForConditionalGeneration
from generated.llava_next import modeling_llava_next as ours_module
from tests.models.helpers import assert_close
from tests.models.llava_family import (
    IMAGE_TOKEN,
    PAD,
    PINPOINTS,
    TILE,
    left_padded,
    loss_labels,
    next_image_tokens,
    next_pixels,
    real_logits,
    reference_pair,
    text_tokens,
    tiny_kwargs,
    transformers,
)

SIZE_SETS = [
    [(20, 40), (40, 12), (30, 30)],  # wide, tall, square
    [(16, 48), (33, 17), (9, 50)],  # the widest pinpoint, odd sizes, unpadding rows
]


def image_batch(sizes: list[tuple[int, int]], seed: int = 0) -> dict[str, torch.Tensor]:
    """Two left-padded prompts: row 0 holds the first two images with text between, row 1 the rest."""
    generator = torch.Generator().manual_seed(seed)
    images = [[IMAGE_TOKEN] * next_image_tokens(height, width) for height, width in sizes]
    rows = [[*images[0], *text_tokens(2, generator), *images[1]], [token for image in images[2:] for token in image]]
    return {**left_padded(rows, generator), **next_pixels(sizes, generator)}


def compare(reference, ours, batch: dict[str, torch.Tensor], what: str, **options) -> None:
    with torch.no_grad():
        expected, actual = reference(**batch, **options), ours(**batch, **options)
    assert_close(real_logits(actual, batch), real_logits(expected, batch), what=f"{what} logits")
    assert_close(actual.image_hidden_states, expected.image_hidden_states, what=f"{what} image tokens")


@pytest.mark.parametrize("attn", ["eager", "sdpa"])
@pytest.mark.parametrize("layer", [-2, [-3, -1]])
def test_logits_match_reference(tmp_path: Path, attn: str, layer: int | list[int]) -> None:
    reference, ours = reference_pair(tmp_path, "llava_next", attn, vision_feature_layer=layer)
    for sizes in SIZE_SETS:
        compare(reference, ours, image_batch(sizes), f"llava_next {attn} {layer} {sizes}")


def test_unstacked_tiles_match_reference(tmp_path: Path) -> None:
    """pixel_values as (all real tiles, C, H, W) give what the padded (N, tiles, C, H, W) give."""
    reference, ours = reference_pair(tmp_path, "llava_next", "eager")
    batch = image_batch(SIZE_SETS[0])
    unstacked = ours.model.images_to_encode(batch["pixel_values"], batch["image_sizes"])
    assert unstacked.shape[0] == sum(ours.model.tiles_per_image(batch["image_sizes"]))
    compare(reference, ours, {**batch, "pixel_values": unstacked}, "llava_next unstacked tiles")


def test_image_features_match_reference(tmp_path: Path) -> None:
    """`get_image_features` (image_sizes second, as transformers) and `pack_image_features`: each
    image's packed tokens and their counts."""
    reference, ours = reference_pair(tmp_path, "llava_next", "eager")
    batch = image_batch(SIZE_SETS[1])
    pixels, sizes = batch["pixel_values"], batch["image_sizes"]
    with torch.no_grad():
        expected, actual = reference.get_image_features(pixels, sizes), ours.get_image_features(pixels, sizes)
        for mine, theirs, (height, width) in zip(
            actual.pooler_output, expected.pooler_output, sizes.tolist(), strict=True
        ):
            assert mine.shape[0] == next_image_tokens(height, width)
            assert_close(mine, theirs, what=f"tokens of a {height}x{width} image")
        tiles = [torch.randn(count, 16, 32) for count in ours.model.tiles_per_image(sizes)]
        for newline in (None, ours.model.image_newline):
            packed, lens = ours.pack_image_features(tiles, sizes, "default", image_newline=newline)
            packed_ref, lens_ref = reference.pack_image_features(tiles, sizes, "default", image_newline=newline)
            assert lens.tolist() == lens_ref.tolist()
            for mine, theirs in zip(packed, packed_ref, strict=True):
                assert torch.equal(mine, theirs)


def test_beam_search_with_several_returns_matches_reference(tmp_path: Path) -> None:
    """Beams and return sequences repeat the rows after the images (and videos) are encoded."""
    reference, ours = reference_pair(tmp_path, "llava_next", "sdpa", seed=1)
    batch = image_batch(SIZE_SETS[0], seed=1)
    options = {"max_new_tokens": 4, "num_beams": 3, "num_return_sequences": 2}
    expected = reference.generate(**batch, **options, do_sample=False, pad_token_id=PAD)
    assert ours.generate(**batch, **options).tolist() == expected.tolist()


def test_greedy_generation_matches_reference(tmp_path: Path) -> None:
    reference, ours = reference_pair(tmp_path, "llava_next", "sdpa", seed=1)
    batch = image_batch(SIZE_SETS[0], seed=1)
    expected = reference.generate(**batch, max_new_tokens=6, do_sample=False, pad_token_id=PAD)
    assert ours.generate(**batch, max_new_tokens=6).tolist() == expected.tolist()


def test_precomputed_image_features_match_reference(tmp_path: Path) -> None:
    reference, ours = reference_pair(tmp_path, "llava_next", "sdpa", seed=2)
    batch = image_batch(SIZE_SETS[0], seed=2)
    pixels = {key: batch.pop(key) for key in ("pixel_values", "image_sizes")}
    with torch.no_grad():
        expected, actual = reference.get_image_features(**pixels), ours.get_image_features(**pixels)
        compare(reference, ours, batch, "llava_next precomputed", mm_encoder_outputs={"image": actual})
        from_pixels = ours(**batch, **pixels).logits
        assert torch.equal(ours(**batch, mm_encoder_outputs={"image": expected}).logits, from_pixels)
    tokens = ours.generate(**batch, mm_encoder_outputs={"image": actual}, max_new_tokens=6)
    assert tokens.tolist() == ours.generate(**batch, **pixels, max_new_tokens=6).tolist()


def test_missing_image_sizes_is_refused(tmp_path: Path) -> None:
    _, ours = reference_pair(tmp_path, "llava_next", "eager")
    batch = image_batch(SIZE_SETS[0])
    del batch["image_sizes"]
    with pytest.raises(ValueError, match="image_sizes"):
        ours(**batch)


def test_loss_matches_reference(tmp_path: Path) -> None:
    reference, ours = reference_pair(tmp_path, "llava_next", "eager")
    batch = image_batch(SIZE_SETS[0])
    labels = loss_labels(batch)
    expected, actual = reference(**batch, labels=labels).loss, ours(**batch, labels=labels).loss
    assert_close(actual, expected, what="llava_next loss")
    actual.backward()
    assert ours.model.image_newline.grad is not None


def test_checkpoints_load_both_ways(tmp_path: Path) -> None:
    """transformers writes `image_newline` at the top level (its older layout); ours writes
    `model.image_newline`; each loads the other's."""
    reference, ours = reference_pair(tmp_path, "llava_next", "eager")
    assert "image_newline" in load_file(tmp_path / "theirs" / "model.safetensors")
    ours.save_pretrained(tmp_path / "ours")
    assert "model.image_newline" in load_file(tmp_path / "ours" / "model.safetensors")
    theirs = transformers.LlavaNextForConditionalGeneration.from_pretrained(tmp_path / "ours").eval()
    theirs.set_attn_implementation("eager")
    compare(theirs, ours, image_batch(SIZE_SETS[1]), "llava_next saved by us, loaded by transformers")
    again = LlavaNextForConditionalGeneration.from_pretrained(tmp_path / "ours", attn_implementation="eager")
    compare(reference, again, image_batch(SIZE_SETS[1]), "llava_next saved and loaded by us")


def test_config_matches_transformers(tmp_path: Path) -> None:
    """Default pinpoints; unlike LLaVA, transformers' LlavaNextConfig keeps tie_word_embeddings
    False when only the text config ties (matched)."""
    assert LlavaNextConfig().image_grid_pinpoints == transformers.LlavaNextConfig().image_grid_pinpoints
    text_config = {**tiny_kwargs("llava_next")["text_config"], "tie_word_embeddings": True}
    assert not LlavaNextConfig(text_config=text_config).tie_word_embeddings
    assert not transformers.LlavaNextConfig(text_config=text_config).tie_word_embeddings
    transformers.LlavaNextConfig(**tiny_kwargs("llava_next")).save_pretrained(tmp_path)
    assert LlavaNextConfig.from_pretrained(tmp_path).image_grid_pinpoints == PINPOINTS


def test_anyres_helpers_match_transformers() -> None:
    from transformers.image_processing_utils import select_best_resolution
    from transformers.models.llava_next import modeling_llava_next as theirs

    pinpoints = [[336, 672], [672, 336], [672, 672], [1008, 336], [336, 1008]]
    sizes = [(h, w) for h in (1, 7, 100, 336, 500, 999, 2000) for w in (1, 13, 336, 640, 1500)]
    for height, width in sizes:
        assert ours_module.select_best_resolution((height, width), pinpoints) == select_best_resolution(
            (height, width), pinpoints
        )
        for size in ((height, width), torch.tensor([height, width])):
            assert ours_module.get_anyres_image_grid_shape(size, pinpoints, 336) == theirs.get_anyres_image_grid_shape(
                size, pinpoints, 336
            )
            assert ours_module.image_size_to_num_patches(size, pinpoints, 336) == theirs.image_size_to_num_patches(
                size, pinpoints, 336
            )
        features = torch.randn(2, 24, 48)
        assert torch.equal(
            ours_module.unpad_image(features, torch.tensor([height, width])),
            theirs.unpad_image(features, torch.tensor([height, width])),
        )
    assert TILE * 3 == max(max(pair) for pair in PINPOINTS)
