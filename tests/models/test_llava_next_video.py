"""LLaVA-NeXT-Video (modular/modular_llava_next_video.py -> generated/llava_next_video) matches
transformers 5.23.0.

On tiny checkpoints whose every weight transformers drew from N(0, 0.2) (fp32, CPU), left-padded
prompts mixing an anyres image and a video, and video-only prompts, videos of 1 to 3 frames, with
as many `<image>` / `<video>` tokens as transformers' processor puts (tests/models/llava_family.py):
logits, merged image tokens and video tokens within 1e-5 with eager and sdpa attention, for each
pooling mode (average, max, conv) and strides 1 and 2; `get_video_features`; identical greedy
tokens; precomputed image and video features; the loss; checkpoints both ways (the conv pooler's
weights included); the config's aliases and defaults.
Run: python -m pytest tests/models/test_llava_next_video.py -q
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from generated.llava_next_video import LlavaNextVideoConfig, LlavaNextVideoForConditionalGeneration
from tests.models.helpers import assert_close
from tests.models.llava_family import (
    IMAGE_TOKEN,
    PAD,
    TILE,
    VIDEO_TOKEN,
    left_padded,
    loss_labels,
    next_image_tokens,
    next_pixels,
    real_logits,
    reference_pair,
    text_tokens,
    tiny_kwargs,
    transformers,
    video_tokens,
)

IMAGE_SIZE = (20, 40)  # one wide image: 3 tiles


def mixed_batch(frames: int, stride: int = 2, seed: int = 0) -> dict[str, torch.Tensor]:
    """Two left-padded prompts: row 0 an image then a video, row 1 a video alone; both videos have
    `frames` frames."""
    generator = torch.Generator().manual_seed(seed)
    image = [IMAGE_TOKEN] * next_image_tokens(*IMAGE_SIZE)
    video = [VIDEO_TOKEN] * video_tokens(frames, stride)
    batch = left_padded([[*image, *text_tokens(2, generator), *video], video], generator)
    batch.update(next_pixels([IMAGE_SIZE], generator))
    batch["pixel_values_videos"] = torch.randn(2, frames, 3, TILE, TILE, generator=generator)
    return batch


def compare(reference, ours, batch: dict[str, torch.Tensor], what: str, **options) -> None:
    with torch.no_grad():
        expected, actual = reference(**batch, **options), ours(**batch, **options)
    assert_close(real_logits(actual, batch), real_logits(expected, batch), what=f"{what} logits")
    for name in ("image_hidden_states", "video_hidden_states"):
        if getattr(expected, name) is None:
            assert getattr(actual, name) is None, f"{what}: {name} should be None"
        else:
            assert_close(getattr(actual, name), getattr(expected, name), what=f"{what} {name}")


@pytest.mark.parametrize("attn", ["eager", "sdpa"])
@pytest.mark.parametrize("mode", ["average", "max", "conv"])
def test_logits_match_reference(tmp_path: Path, attn: str, mode: str) -> None:
    reference, ours = reference_pair(tmp_path, "llava_next_video", attn, spatial_pool_mode=mode)
    for frames in (1, 3):
        compare(reference, ours, mixed_batch(frames), f"llava_next_video {attn} {mode} {frames} frames")


def test_stride_one_and_layer_list_match_reference(tmp_path: Path) -> None:
    """(The conv pooler reads one layer's width, in transformers too: not combined with a list.)"""
    options = {"spatial_pool_stride": 1, "vision_feature_layer": [-3, -1], "spatial_pool_mode": "max"}
    reference, ours = reference_pair(tmp_path, "llava_next_video", "eager", **options)
    compare(reference, ours, mixed_batch(2, stride=1), "llava_next_video stride 1")


def test_videos_alone_and_images_alone_match_reference(tmp_path: Path) -> None:
    reference, ours = reference_pair(tmp_path, "llava_next_video", "sdpa")
    batch = mixed_batch(2)
    videos_only = {key: value for key, value in batch.items() if key not in ("pixel_values", "image_sizes")}
    videos_only["input_ids"] = videos_only["input_ids"].masked_fill(videos_only["input_ids"] == IMAGE_TOKEN, 5)
    compare(reference, ours, videos_only, "llava_next_video, videos only")
    images_only = {key: value for key, value in batch.items() if key != "pixel_values_videos"}
    images_only["input_ids"] = images_only["input_ids"].masked_fill(images_only["input_ids"] == VIDEO_TOKEN, 5)
    compare(reference, ours, images_only, "llava_next_video, images only")


def test_video_features_match_reference(tmp_path: Path) -> None:
    reference, ours = reference_pair(tmp_path, "llava_next_video", "eager")
    videos = mixed_batch(3)["pixel_values_videos"]
    with torch.no_grad():
        expected, actual = reference.get_video_features(videos), ours.get_video_features(videos)
    assert actual.pooler_output.shape == (2, video_tokens(3), 32)
    assert_close(actual.pooler_output, expected.pooler_output, what="video tokens")


def test_beam_search_with_several_returns_matches_reference(tmp_path: Path) -> None:
    """Beams and return sequences repeat the rows after the images (and videos) are encoded."""
    reference, ours = reference_pair(tmp_path, "llava_next_video", "sdpa", seed=1)
    batch = mixed_batch(2, seed=1)
    options = {"max_new_tokens": 4, "num_beams": 3, "num_return_sequences": 2}
    expected = reference.generate(**batch, **options, do_sample=False, pad_token_id=PAD)
    assert ours.generate(**batch, **options).tolist() == expected.tolist()


def test_greedy_generation_matches_reference(tmp_path: Path) -> None:
    reference, ours = reference_pair(tmp_path, "llava_next_video", "sdpa", seed=1)
    batch = mixed_batch(2, seed=1)
    expected = reference.generate(**batch, max_new_tokens=6, do_sample=False, pad_token_id=PAD)
    calls = []
    hook = ours.model.vision_tower.register_forward_hook(lambda *args: calls.append(1))
    assert ours.generate(**batch, max_new_tokens=6).tolist() == expected.tolist()
    hook.remove()
    assert len(calls) == 2, "images and videos are encoded once each, at prefill"


def test_precomputed_features_match_reference(tmp_path: Path) -> None:
    reference, ours = reference_pair(tmp_path, "llava_next_video", "sdpa", seed=2)
    batch = mixed_batch(2, seed=2)
    pixels = {key: batch.pop(key) for key in ("pixel_values", "image_sizes", "pixel_values_videos")}
    with torch.no_grad():
        image = ours.get_image_features(pixels["pixel_values"], pixels["image_sizes"])
        video = ours.get_video_features(pixels["pixel_values_videos"])
        encoded = {"image": image, "video": video}
        compare(reference, ours, batch, "llava_next_video precomputed", mm_encoder_outputs=encoded)
        assert torch.equal(ours(**batch, mm_encoder_outputs=encoded).logits, ours(**batch, **pixels).logits)
        with pytest.raises(ValueError, match="both pixel values and mm_encoder_outputs"):
            ours(**batch, pixel_values_videos=pixels["pixel_values_videos"], mm_encoder_outputs={"image": image})
    tokens = ours.generate(**batch, mm_encoder_outputs=encoded, max_new_tokens=6)
    assert tokens.tolist() == ours.generate(**batch, **pixels, max_new_tokens=6).tolist()


def test_loss_matches_reference(tmp_path: Path) -> None:
    reference, ours = reference_pair(tmp_path, "llava_next_video", "eager", spatial_pool_mode="conv")
    batch = mixed_batch(2)
    labels = loss_labels(batch)
    expected, actual = reference(**batch, labels=labels), ours(**batch, labels=labels)
    assert_close(actual.loss, expected.loss, what="llava_next_video loss")
    assert_close(actual.video_hidden_states, expected.video_hidden_states, what="video tokens with labels")
    actual.loss.backward()
    assert ours.model.vision_resampler.pool.weight.grad is not None


def test_checkpoints_load_both_ways(tmp_path: Path) -> None:
    reference, ours = reference_pair(tmp_path, "llava_next_video", "eager", spatial_pool_mode="conv")
    # transformers 5.23 writes the older layout, except for the pooler (`model.vision_resampler.*`)
    written = load_file(tmp_path / "theirs" / "model.safetensors")
    assert "image_newline" in written and "model.vision_resampler.pool.weight" in written
    ours.save_pretrained(tmp_path / "ours")
    theirs = transformers.LlavaNextVideoForConditionalGeneration.from_pretrained(tmp_path / "ours").eval()
    theirs.set_attn_implementation("eager")
    compare(theirs, ours, mixed_batch(3), "llava_next_video saved by us, loaded by transformers")
    again = LlavaNextVideoForConditionalGeneration.from_pretrained(tmp_path / "ours", attn_implementation="eager")
    compare(reference, again, mixed_batch(3), "llava_next_video saved and loaded by us")


def test_config_matches_transformers(tmp_path: Path) -> None:
    """Token defaults, the video alias, tie_word_embeddings taken from the text config (as in
    transformers' LlavaNextVideoConfig, unlike its LlavaNextConfig), and a bad pooling mode refused."""
    defaults, reference = LlavaNextVideoConfig(), transformers.LlavaNextVideoConfig()
    for name in ("image_token_id", "video_token_id", "spatial_pool_mode", "spatial_pool_stride", "video_seq_length"):
        assert getattr(defaults, name) == getattr(reference, name), name
    text_config = {**tiny_kwargs("llava_next_video")["text_config"], "tie_word_embeddings": True}
    assert LlavaNextVideoConfig(text_config=text_config).tie_word_embeddings
    transformers.LlavaNextVideoConfig(**tiny_kwargs("llava_next_video")).save_pretrained(tmp_path)
    assert LlavaNextVideoConfig.from_pretrained(tmp_path).video_token_id == VIDEO_TOKEN
    with pytest.raises(ValueError, match="spatial_pool_mode"):
        LlavaNextVideoConfig(spatial_pool_mode="median")
