"""The generated vision models (a modular file with a VISION or VISION_LANGUAGE declaration in
tests/models/specs/: SigLIP, Idefics2, Idefics3) behave exactly like their modular definitions (the
overlay oracle of tests/equivalence/overlay.py).

Hypothesis draws tiny valid configs (hidden size, heads, layers, image and patch sizes; for the
vision-language models also the text backbone's sizes) plus each model's declared switches
(SigLIP's pooling head; Idefics2's perceiver and text backbone; Idefics3's pixel-shuffle scale),
and inputs (image sizes, padded pixels, images per sample). For each draw the overlay model and the
generated model must have identical state_dict keys and shapes, and with the same weights give
bit-identical outputs (torch.equal, CPU fp32).
Run: python -m pytest tests/equivalence/test_vision_models.py -q
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.equivalence.overlay import build_overlay
from tests.models.specs import CROSS_ATTENTION_VLM, VISION, VISION_LANGUAGE, ModelSpec, declared_specs, set_dotted

VISION_SPECS = [pytest.param(spec, id=spec.model) for spec in declared_specs(VISION)]
VLM_SPECS = [pytest.param(spec, id=spec.model) for spec in declared_specs(VISION_LANGUAGE) if spec.image_sizes]
EXAMPLES = 6
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@cache
def overlay(model: str) -> dict[str, object]:
    return build_overlay(model)


def build_pair(model: str, config_name: str, model_name: str, kwargs: dict[str, Any]) -> tuple[Any, Any]:
    """The overlay model and the generated one, with the same weights, in eval mode."""
    generated = importlib.import_module(f"generated.{model}")
    namespace = overlay(model)
    torch.manual_seed(0)
    reference = namespace[model_name](namespace[config_name](**kwargs))
    ours = getattr(generated, model_name)(getattr(generated, config_name)(**kwargs))
    expected_shapes = {name: tuple(t.shape) for name, t in reference.state_dict().items()}
    assert {name: tuple(t.shape) for name, t in ours.state_dict().items()} == expected_shapes
    ours.load_state_dict(reference.state_dict())
    return reference.eval(), ours.eval()


@st.composite
def vision_configs(draw: st.DrawFn) -> dict[str, Any]:
    heads = draw(st.sampled_from([1, 2, 4]))
    patch_size = draw(st.sampled_from([2, 3, 4]))
    return {
        "hidden_size": heads * draw(st.sampled_from([4, 8])),
        "intermediate_size": draw(st.integers(4, 24)),
        "num_hidden_layers": draw(st.integers(1, 2)),
        "num_attention_heads": heads,
        "patch_size": patch_size,
        "image_size": patch_size * draw(st.integers(2, 4)),
        "attn_implementation": draw(st.sampled_from(["eager", "sdpa"])),
    }


@pytest.mark.parametrize("spec", VISION_SPECS)
@SETTINGS
@given(data=st.data())
def test_vision_model_equals_overlay(spec: ModelSpec, data: st.DataObject) -> None:
    kwargs = data.draw(vision_configs())
    for name, value in spec.draw_switches(data.draw).items():
        set_dotted(kwargs, name, value)
    reference, ours = build_pair(spec.model, spec.class_name("VisionConfig"), spec.class_name("VisionModel"), kwargs)
    interpolate = data.draw(st.booleans())
    side = kwargs["image_size"] // kwargs["patch_size"]
    rows, cols = (data.draw(st.integers(2, 5)), data.draw(st.integers(2, 5))) if interpolate else (side, side)
    generator = torch.Generator().manual_seed(data.draw(st.integers(0, 2**16)))
    pixel_values = torch.randn(2, 3, rows * kwargs["patch_size"], cols * kwargs["patch_size"], generator=generator)
    with torch.no_grad():
        expected = reference(pixel_values, interpolate_pos_encoding=interpolate)
        actual = ours(pixel_values, interpolate_pos_encoding=interpolate)
    assert torch.equal(actual.last_hidden_state, expected.last_hidden_state)
    assert (actual.pooler_output is None) == (expected.pooler_output is None)
    if expected.pooler_output is not None:
        assert torch.equal(actual.pooler_output, expected.pooler_output)


@st.composite
def vlm_configs(draw: st.DrawFn, spec: ModelSpec) -> dict[str, Any]:
    """Config kwargs of a tiny vision-language model, then its declared switches; the image token
    is the last in the vocabulary."""
    kv_heads = draw(st.sampled_from([1, 2]))
    heads = kv_heads * draw(st.sampled_from([1, 2]))
    vocab = draw(st.integers(12, 40))
    text = {
        "vocab_size": vocab,
        "hidden_size": heads * draw(st.sampled_from([4, 8])),
        "intermediate_size": draw(st.integers(4, 24)),
        "num_hidden_layers": draw(st.integers(1, 2)),
        "num_attention_heads": heads,
        "num_key_value_heads": kv_heads,
        "max_position_embeddings": 64,
        "pad_token_id": 0,
    }
    kwargs = {
        "text_config": text,
        "vision_config": data_vision(draw),
        "image_token_id": vocab - 1,
        "tie_word_embeddings": draw(st.booleans()),
        "attn_implementation": draw(st.sampled_from(spec.backends)),
    }
    for name, value in spec.draw_switches(draw).items():
        set_dotted(kwargs, name, value)
    return kwargs


def data_vision(draw: st.DrawFn) -> dict[str, Any]:
    kwargs = draw(vision_configs())
    del kwargs["attn_implementation"]  # set once for the whole model
    return kwargs


def tokens_per_image(model: torch.nn.Module, patch_size: int, grid: int) -> int:
    """How many text positions one image of grid x grid patches fills, asked of the model itself
    (Idefics2: the resampler's latents; Idefics3: the pixel-shuffled patches)."""
    pixel_values = torch.ones(1, 1, 3, grid * patch_size, grid * patch_size)
    with torch.no_grad():
        return model.get_image_features(pixel_values).pooler_output[0].shape[0]


@st.composite
def vlm_inputs(draw: st.DrawFn, model: torch.nn.Module, kwargs: dict[str, Any]) -> dict[str, torch.Tensor]:
    """Left-padded prompts with 1-2 images per row; images are padded to one square grid of
    patches (pixel_attention_mask), and a row with fewer images gets an all-zero padding image.
    The grid is a multiple of the pixel-shuffle `scale_factor` where the model has one."""
    patch_size = kwargs["vision_config"]["patch_size"]
    grid = kwargs.get("scale_factor", 1) * draw(st.integers(1, 3))  # patches per side of the padded images
    per_image = tokens_per_image(model, patch_size, grid)
    images = draw(st.lists(st.integers(1, 2), min_size=1, max_size=2))  # real images per row
    generator = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
    pixels = grid * patch_size
    pixel_values = torch.zeros(len(images), max(images), 3, pixels, pixels)
    pixel_attention_mask = torch.zeros(len(images), max(images), pixels, pixels, dtype=torch.long)
    vocab, image_token = kwargs["text_config"]["vocab_size"], kwargs["image_token_id"]
    rows = []
    for row, count in enumerate(images):
        tokens = []
        for index in range(count):
            height = patch_size * draw(st.integers(1, grid))
            width = patch_size * draw(st.integers(1, grid))
            pixel_values[row, index, :, :height, :width] = torch.randn(3, height, width, generator=generator)
            pixel_attention_mask[row, index, :height, :width] = 1
            tokens += torch.randint(1, image_token, (draw(st.integers(0, 2)),), generator=generator).tolist()
            tokens += [image_token] * per_image
        rows.append(tokens + torch.randint(1, vocab - 1, (draw(st.integers(1, 3)),), generator=generator).tolist())
    width = max(len(tokens) for tokens in rows)
    input_ids = torch.zeros(len(rows), width, dtype=torch.long)
    attention_mask = torch.zeros(len(rows), width, dtype=torch.long)
    for row, tokens in enumerate(rows):
        input_ids[row, width - len(tokens) :] = torch.tensor(tokens)
        attention_mask[row, width - len(tokens) :] = 1
    return {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "pixel_values": pixel_values,
        "pixel_attention_mask": pixel_attention_mask,
    }


@pytest.mark.parametrize("spec", VLM_SPECS)
@SETTINGS
@given(data=st.data())
def test_vision_language_model_equals_overlay(spec: ModelSpec, data: st.DataObject) -> None:
    kwargs = data.draw(vlm_configs(spec))
    main = spec.class_name("ForConditionalGeneration")
    reference, ours = build_pair(spec.model, spec.class_name("Config"), main, kwargs)
    batch = data.draw(vlm_inputs(ours, kwargs))
    with torch.no_grad():
        expected, actual = reference(**batch), ours(**batch)
    assert torch.equal(actual.logits, expected.logits)
    assert torch.equal(actual.image_hidden_states, expected.image_hidden_states)
    assert torch.equal(ours.generate(**batch, max_new_tokens=3), reference.generate(**batch, max_new_tokens=3))


# ---- the LLaVA family (vision-language declarations without `image_sizes`): whole tower-sized
# images (LLaVA), anyres tiles with `image_sizes` (LLaVA-NeXT), and videos (LLaVA-NeXT-Video) ----

LLAVA_SPECS = [pytest.param(spec, id=spec.model) for spec in declared_specs(VISION_LANGUAGE) if not spec.image_sizes]


@st.composite
def llava_configs(draw: st.DrawFn, spec: ModelSpec) -> dict[str, Any]:
    """vlm_configs with room for long runs of image tokens, anyres pinpoints of 1-2 tiles a side
    where the config has them, and the video token (below the image token) where it has one."""
    kwargs = draw(vlm_configs(spec))
    kwargs["text_config"]["max_position_embeddings"] = 512
    fields = spec.ours("Config")._fields
    if "image_grid_pinpoints" in fields:
        tile = kwargs["vision_config"]["image_size"]
        kwargs["image_grid_pinpoints"] = [[tile, 2 * tile], [2 * tile, tile], [2 * tile, 2 * tile]]
    if "video_token_index" in fields:
        kwargs["video_token_id"] = kwargs["image_token_id"] - 1
    return kwargs


@st.composite
def llava_inputs(draw: st.DrawFn, model: torch.nn.Module, kwargs: dict[str, Any]) -> dict[str, torch.Tensor]:
    """1-2 left-padded prompts with 0-2 images each (any size, for anyres) and, where the model reads
    videos, 0-1 video each (1-2 frames); each image's and video's token count is asked of the model."""
    generator = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
    tile, image_token = kwargs["vision_config"]["image_size"], kwargs["image_token_id"]
    images = draw(st.lists(st.integers(0, 2), min_size=1, max_size=2))  # images per row
    videos = [draw(st.integers(0, 1)) if "video_token_id" in kwargs else 0 for _ in images]
    images[0] = max(images[0], 1 - videos[0])  # something to look at
    batch, image_runs, video_runs = {}, [], []
    if sum(images):
        batch["pixel_values"] = torch.randn(sum(images), 3, tile, tile, generator=generator)
        if "image_grid_pinpoints" in kwargs:
            sizes = [[draw(st.integers(1, 3 * tile)), draw(st.integers(1, 3 * tile))] for _ in range(sum(images))]
            tiles = max(model.model.tiles_per_image(sizes))
            batch["pixel_values"] = torch.randn(len(sizes), tiles, 3, tile, tile, generator=generator)
            batch["image_sizes"] = torch.tensor(sizes)
        with torch.no_grad():
            image_runs = [len(tokens) for tokens in model.get_image_features(**batch).pooler_output]
    if sum(videos):
        frames = draw(st.integers(1, 2))
        batch["pixel_values_videos"] = torch.randn(sum(videos), frames, 3, tile, tile, generator=generator)
        with torch.no_grad():
            video_runs = [model.get_video_features(batch["pixel_values_videos"]).pooler_output.shape[1]] * sum(videos)
    rows = []
    for count, has_video in zip(images, videos, strict=True):
        tokens = []
        for _ in range(count):
            tokens += torch.randint(1, image_token - 1, (draw(st.integers(0, 2)),), generator=generator).tolist()
            tokens += [image_token] * image_runs.pop(0)
        if has_video:
            tokens += [kwargs["video_token_id"]] * video_runs.pop(0)
        tail = torch.randint(1, image_token - 1, (draw(st.integers(1, 3)),), generator=generator).tolist()
        rows.append(tokens + tail)
    width = max(len(tokens) for tokens in rows)
    batch["input_ids"] = torch.zeros(len(rows), width, dtype=torch.long)
    batch["attention_mask"] = torch.zeros(len(rows), width, dtype=torch.long)
    for row, tokens in enumerate(rows):
        batch["input_ids"][row, width - len(tokens) :] = torch.tensor(tokens)
        batch["attention_mask"][row, width - len(tokens) :] = 1
    return batch


@pytest.mark.parametrize("spec", LLAVA_SPECS)
@SETTINGS
@given(data=st.data())
def test_llava_family_model_equals_overlay(spec: ModelSpec, data: st.DataObject) -> None:
    kwargs = data.draw(llava_configs(spec))
    main = spec.class_name("ForConditionalGeneration")
    reference, ours = build_pair(spec.model, spec.class_name("Config"), main, kwargs)
    batch = data.draw(llava_inputs(ours, kwargs))
    with torch.no_grad():
        expected, actual = reference(**batch), ours(**batch)
    assert torch.equal(actual.logits, expected.logits)
    for name in ("image_hidden_states", "video_hidden_states"):
        theirs, mine = getattr(expected, name, None), getattr(actual, name, None)
        assert (mine is None) == (theirs is None) and (theirs is None or torch.equal(mine, theirs)), name
    assert torch.equal(ours.generate(**batch, max_new_tokens=3), reference.generate(**batch, max_new_tokens=3))


# ---- cross-attention vision-language models (IDEFICS): images reach the text through gated
# cross-attention layers; `image_attention_mask` (B, T, N) says which images each token sees ----

XATTN_SPECS = [pytest.param(spec, id=spec.model) for spec in declared_specs(CROSS_ATTENTION_VLM)]


@st.composite
def xattn_configs(draw: st.DrawFn, spec: ModelSpec) -> dict[str, Any]:
    """Config kwargs of a tiny IDEFICS-style model, then its declared switches; the decoder has
    a whole number of cross-attention intervals."""
    heads = draw(st.sampled_from([1, 2, 4]))
    kwargs = {
        "vocab_size": draw(st.integers(12, 40)),
        "hidden_size": heads * draw(st.sampled_from([4, 8])),
        "intermediate_size": draw(st.integers(4, 24)),
        "num_attention_heads": heads,
        "max_position_embeddings": 64,
        "pad_token_id": 0,
        "vision_config": data_vision(draw),
        "tie_word_embeddings": draw(st.booleans()),
        "attn_implementation": draw(st.sampled_from(spec.backends)),
    }
    for name, value in spec.draw_switches(draw).items():
        set_dotted(kwargs, name, value)
    kwargs["num_hidden_layers"] = kwargs.get("cross_layer_interval", 1) * draw(st.integers(1, 2))
    return kwargs


@st.composite
def xattn_inputs(draw: st.DrawFn, kwargs: dict[str, Any]) -> dict[str, torch.Tensor]:
    """Left-padded prompts (new tokens included), 1-2 images per row, and a random
    `image_attention_mask`, so some tokens see no image."""
    batch, num_images, length = draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(2, 6))
    generator = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
    vocab = kwargs["vocab_size"] + kwargs.get("additional_vocab_size", 0)
    input_ids = torch.randint(1, vocab, (batch, length), generator=generator)
    attention_mask = torch.ones(batch, length, dtype=torch.long)
    padding = draw(st.integers(0, length - 1))
    input_ids[-1, :padding], attention_mask[-1, :padding] = 0, 0
    side = kwargs["vision_config"]["image_size"]
    return {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "pixel_values": torch.randn(batch, num_images, 3, side, side, generator=generator),
        "image_attention_mask": torch.randint(0, 2, (batch, length, num_images), generator=generator),
    }


@pytest.mark.parametrize("spec", XATTN_SPECS)
@SETTINGS
@given(data=st.data())
def test_cross_attention_model_equals_overlay(spec: ModelSpec, data: st.DataObject) -> None:
    kwargs = data.draw(xattn_configs(spec))
    main = spec.class_name(spec.main_class)
    reference, ours = build_pair(spec.model, spec.class_name("Config"), main, kwargs)
    with torch.no_grad():  # open the gates, which start closed and would hide the cross-attention
        for name, parameter in reference.named_parameters():
            if "alpha" in name:
                parameter.normal_(0.0, 1.0)
    ours.load_state_dict(reference.state_dict())
    batch = data.draw(xattn_inputs(kwargs))
    with torch.no_grad():
        expected, actual = reference(**batch), ours(**batch)
    assert torch.equal(actual.logits, expected.logits)
    assert torch.equal(actual.image_hidden_states, expected.image_hidden_states)
    assert torch.equal(ours.generate(**batch, max_new_tokens=3), reference.generate(**batch, max_new_tokens=3))
