"""Shared pieces of the LLaVA-family parity tests (tests/models/test_llava.py, test_llava_next.py,
test_llava_next_video.py): tiny configs, reference checkpoints with perturbed weights, and inputs
built directly as tensors, with as many `<image>` / `<video>` tokens as transformers' processors
put in a prompt (their formulas, written out here, independent of our models)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch

from tests.models.specs import spec_of

transformers = pytest.importorskip("transformers")

VOCAB, IMAGE_TOKEN, VIDEO_TOKEN, PAD = 100, 98, 97, 0
TILE, PATCH = 16, 4  # the vision tower's image_size and patch_size: 4 x 4 patches per tile
PINPOINTS = [[16, 32], [32, 16], [32, 32], [48, 16], [16, 48]]  # (height, width), multiples of TILE
TEXT_CONFIGS: dict[str, dict[str, Any]] = {
    "llama": {},
    "mistral": {},
    "qwen2": {},
}


def tiny_kwargs(model: str, text_type: str = "llama", **overrides: Any) -> dict[str, Any]:
    """Config keywords of a tiny `model` (llava, llava_next, llava_next_video): a 3-layer CLIP tower
    on 16-pixel tiles, a 2-layer text model; `overrides` win."""
    text = {
        "model_type": text_type,
        **{"vocab_size": VOCAB, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2},
        **{"num_attention_heads": 4, "num_key_value_heads": 2, "pad_token_id": PAD, "max_position_embeddings": 512},
        **TEXT_CONFIGS[text_type],
    }
    vision = {
        "model_type": "clip_vision_model",
        **{"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 3, "num_attention_heads": 2},
        **{"image_size": TILE, "patch_size": PATCH, "projection_dim": 8},
    }
    kwargs: dict[str, Any] = {"text_config": text, "vision_config": vision, "image_token_index": IMAGE_TOKEN}
    if model != "llava":
        kwargs["image_grid_pinpoints"] = PINPOINTS
    if model == "llava_next_video":
        kwargs["video_token_index"] = VIDEO_TOKEN
    return {**kwargs, **overrides}


def reference_pair(tmp_path: Path, model: str, attn: str, seed: int = 0, **kwargs: Any) -> tuple[Any, Any]:
    """A transformers model on `tiny_kwargs(model, **kwargs)` with every parameter redrawn from
    N(0, 0.2) (so greedy tokens are not ties), saved by transformers' save_pretrained, and ours
    loaded from that directory; both in eval mode with backend `attn`."""
    spec = spec_of(model)
    text_type = kwargs.pop("text_type", "llama")
    config_kwargs = tiny_kwargs(model, text_type, **kwargs)
    torch.manual_seed(seed)
    config = getattr(transformers, spec.reference_name("Config"))(**config_kwargs)
    reference = spec.theirs("ForConditionalGeneration")(config).eval()
    with torch.no_grad():
        for parameter in reference.parameters():
            parameter.normal_(0.0, 0.2)
    reference.save_pretrained(tmp_path / "theirs")
    reference.set_attn_implementation(attn)
    ours = spec.ours("ForConditionalGeneration").from_pretrained(tmp_path / "theirs", attn_implementation=attn)
    return reference, ours


def llava_image_tokens(strategy: str = "default") -> int:
    """transformers' LlavaProcessor: (H / P) * (W / P) + 1 (CLS), minus 1 with the "default" strategy."""
    return (TILE // PATCH) ** 2 + (0 if strategy == "default" else 1)


def next_image_tokens(height: int, width: int) -> int:
    """transformers' LlavaNextProcessor._get_number_of_features for an image of height x width
    (num_additional_image_tokens=1, "default" strategy): the base tile, the unpadded grid of
    patches, and one newline per grid row."""
    from transformers.image_processing_utils import select_best_resolution

    best_height, best_width = select_best_resolution([height, width], PINPOINTS)
    side = TILE // PATCH
    current_height, current_width = side * (best_height // TILE), side * (best_width // TILE)
    if width / height > current_width / current_height:
        new_height = int(round(height * (current_width / width), 7))
        current_height -= (current_height - new_height) // 2 * 2
    else:
        new_width = int(round(width * (current_height / height), 7))
        current_width -= (current_width - new_width) // 2 * 2
    return current_height * current_width + current_height + side * side


def next_tiles(height: int, width: int) -> int:
    """How many tiles transformers' LLaVA-NeXT image processor makes: the grid plus the base tile."""
    from transformers.image_processing_utils import select_best_resolution

    best_height, best_width = select_best_resolution([height, width], PINPOINTS)
    return math.ceil(best_height / TILE) * math.ceil(best_width / TILE) + 1


def video_tokens(frames: int, stride: int = 2) -> int:
    """transformers' LlavaNextVideoProcessor (for stride 2: patches // 4 per frame), any stride."""
    return ((TILE // PATCH) // stride) ** 2 * frames


def left_padded(rows: list[list[int]], generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Token rows, each with two random text tokens before its placeholders and after them, left-padded."""
    rows = [[*text_tokens(2, generator), *row, *text_tokens(3, generator)] for row in rows]
    width = max(len(row) for row in rows)
    input_ids = torch.full((len(rows), width), PAD, dtype=torch.long)
    attention_mask = torch.zeros(len(rows), width, dtype=torch.long)
    for index, row in enumerate(rows):
        input_ids[index, width - len(row) :] = torch.tensor(row)
        attention_mask[index, width - len(row) :] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask}


def text_tokens(count: int, generator: torch.Generator) -> list[int]:
    """`count` random ordinary tokens (no pad, image or video token)."""
    return torch.randint(1, VIDEO_TOKEN, (count,), generator=generator).tolist()


def next_pixels(sizes: list[tuple[int, int]], generator: torch.Generator) -> dict[str, torch.Tensor]:
    """LLaVA-NeXT image inputs for images of `sizes` (height, width): (N, max tiles, 3, TILE, TILE)
    tiles, zero-padded per image as transformers' image processor pads them, and `image_sizes`."""
    tiles = [next_tiles(height, width) for height, width in sizes]
    pixel_values = torch.zeros(len(sizes), max(tiles), 3, TILE, TILE)
    for index, count in enumerate(tiles):
        pixel_values[index, :count] = torch.randn(count, 3, TILE, TILE, generator=generator)
    return {"pixel_values": pixel_values, "image_sizes": torch.tensor(sizes)}


def real_logits(outputs: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The logits at the non-padding positions."""
    return outputs.logits[batch["attention_mask"].bool()]


def loss_labels(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The input ids as labels, with padding, image and video positions set to -100, and each row's
    first real token too: a left-padded row would predict it from a padding position, whose
    logits (attending to nothing) are not compared."""
    mask = batch["attention_mask"]
    labels = batch["input_ids"].masked_fill(mask == 0, -100)
    labels[torch.arange(len(labels)), mask.argmax(dim=1)] = -100
    return labels.masked_fill((labels == IMAGE_TOKEN) | (labels == VIDEO_TOKEN), -100)
