"""Idefics2 and Idefics3 image processors and processors match transformers 5.23.0.

The reference is transformers' PIL backend (`Idefics2ImageProcessorPil`, `Idefics3ImageProcessorPil`;
the default torchvision ones need torchvision). A tiny WordLevel tokenizer is trained in the test with
the `tokenizers` library; the transformers processor is built from it, saved with `save_pretrained`,
and ours is loaded from that directory. On synthetic images (uint8 and float arrays, HWC and CHW,
PIL images of several modes, torch tensors; several sizes and aspect ratios; one, a list, and nested
per sample): `pixel_values` and `pixel_attention_mask` are identical, and so are `input_ids` and
`attention_mask`; the chat template reproduces the documented Idefics2 prompt.
Run: python -m pytest tests/models/test_idefics_processing.py -q
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import PIL.Image
import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers, trainers

from generated.idefics2 import Idefics2ImageProcessor, Idefics2Processor
from generated.idefics3 import Idefics3ImageProcessor, Idefics3Processor

transformers = pytest.importorskip("transformers")
from transformers.models.idefics2.image_processing_pil_idefics2 import Idefics2ImageProcessorPil  # noqa: E402
from transformers.models.idefics3.image_processing_pil_idefics3 import Idefics3ImageProcessorPil  # noqa: E402

# The Idefics2 chat template (HuggingFaceM4/idefics2-8b), as the transformers docs show it.
IDEFICS2_CHAT_TEMPLATE = (
    "{% for message in messages %}{{message['role'].capitalize()}}"
    "{% if message['content'][0]['type'] == 'image' %}{{':'}}{% else %}{{': '}}{% endif %}"
    "{% for line in message['content'] %}{% if line['type'] == 'text' %}{{line['text']}}"
    "{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}<end_of_utterance>\n{% endfor %}"
    "{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)
SPECIAL_TOKENS = [
    *("<unk>", "<s>", "</s>", "<pad>", "<fake_token_around_image>", "<image>", "<end_of_utterance>", "<global-img>"),
    *(f"<row_{i}_col_{j}>" for i in range(1, 7) for j in range(1, 7)),
]
CORPUS = ["User: What is the difference between these two images? Assistant: a red cat and a blue dog."]
TWO_IMAGES = [
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "What’s the difference between these two images?"},
            {"type": "image"},
            {"type": "image"},
        ],
    }
]


def tiny_tokenizer() -> Tokenizer:
    tokenizer = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.train_from_iterator(CORPUS, trainer=trainers.WordLevelTrainer(special_tokens=SPECIAL_TOKENS))
    return tokenizer


def reference_tokenizer() -> Any:
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=tiny_tokenizer(), bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>"
    )


def random_images(seed: int) -> list[Any]:
    """Images of several sizes, layouts and types: HWC and CHW uint8, float in [0, 1], PIL RGB/L/RGBA, tensors."""
    rng = np.random.default_rng(seed)
    hwc = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    chw = rng.integers(0, 256, (3, 71, 29), dtype=np.uint8)
    floats = rng.random((45, 45, 3), dtype=np.float32)
    rgb = PIL.Image.fromarray(rng.integers(0, 256, (90, 31, 3), dtype=np.uint8))
    gray = PIL.Image.fromarray(rng.integers(0, 256, (20, 64), dtype=np.uint8), mode="L")
    rgba = PIL.Image.fromarray(rng.integers(0, 256, (50, 40, 4), dtype=np.uint8), mode="RGBA")
    tensor = torch.from_numpy(rng.integers(0, 256, (3, 33, 66), dtype=np.uint8))
    return [hwc, chw, floats, rgb, gray, rgba, tensor]


def pil_images(seed: int) -> list[PIL.Image.Image]:
    return [image if isinstance(image, PIL.Image.Image) else to_pil(image) for image in random_images(seed)]


def to_pil(image: Any) -> PIL.Image.Image:
    array = np.asarray(image)
    array = np.moveaxis(array, 0, -1) if array.shape[0] == 3 else array
    return PIL.Image.fromarray((array * 255).astype(np.uint8) if array.dtype != np.uint8 else array)


def assert_same_features(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    assert list(actual) == list(expected), f"keys {list(actual)} vs {list(expected)}"
    for key, value in expected.items():
        if isinstance(value, torch.Tensor):
            assert actual[key].dtype == value.dtype, f"{key}: dtype {actual[key].dtype} vs {value.dtype}"
            assert actual[key].shape == value.shape, f"{key}: shape {tuple(actual[key].shape)} vs {tuple(value.shape)}"
            assert torch.equal(actual[key], value), f"{key}: max |diff| {(actual[key] - value).abs().max()}"
        else:
            assert actual[key] == value, key


IDEFICS2_OPTIONS = [
    {"size": {"shortest_edge": 30, "longest_edge": 60}},
    {"size": {"shortest_edge": 30, "longest_edge": 60}, "do_image_splitting": True},
    {"size": {"height": 24, "width": 40}, "do_normalize": False},
    {"do_image_splitting": True},  # the checkpoint's defaults: 378..980
]
IDEFICS3_OPTIONS = [
    {"size": {"longest_edge": 96}, "max_image_size": {"longest_edge": 32}},
    {"size": {"longest_edge": 64}, "max_image_size": {"longest_edge": 48}, "do_image_splitting": False},
    {"size": {"longest_edge": 40}, "max_image_size": {"longest_edge": 40}, "do_rescale": False},
    {},  # the checkpoint's defaults: 1456, tiles of 364
]


def layouts(images: list[Any]) -> list[Any]:
    """One image, a flat list (one sample) and one list per sample (ragged)."""
    return [images[0], images[3:5], [images[:3], images[3:4], images[4:]]]


@pytest.mark.parametrize("options", IDEFICS2_OPTIONS)
def test_idefics2_image_processor_matches_reference(options: dict[str, Any]) -> None:
    ours, reference = Idefics2ImageProcessor(**options), Idefics2ImageProcessorPil(**options)
    for images in layouts(random_images(seed=0)):
        assert_same_features(ours(images, return_tensors="pt"), reference(images, return_tensors="pt"))


@pytest.mark.parametrize("options", IDEFICS3_OPTIONS)
def test_idefics3_image_processor_matches_reference(options: dict[str, Any]) -> None:
    ours, reference = Idefics3ImageProcessor(**options), Idefics3ImageProcessorPil(**options)
    for images in layouts(random_images(seed=1)):
        expected = reference(images, return_tensors="pt", return_row_col_info=True)
        assert_same_features(ours(images, return_tensors="pt", return_row_col_info=True), expected)


def test_image_processor_without_padding_gives_lists() -> None:
    images = random_images(seed=2)[:2]
    ours = Idefics2ImageProcessor(do_pad=False, size={"shortest_edge": 20, "longest_edge": 40})(images)
    expected = Idefics2ImageProcessorPil(do_pad=False, size={"shortest_edge": 20, "longest_edge": 40})(images)
    for sample, reference_sample in zip(ours["pixel_values"], expected["pixel_values"], strict=True):
        for image, reference_image in zip(sample, reference_sample, strict=True):
            np.testing.assert_array_equal(image, reference_image)


def test_image_processor_round_trips_its_config(tmp_path: Path) -> None:
    Idefics3ImageProcessorPil(max_image_size={"longest_edge": 32}).save_pretrained(tmp_path / "ref")
    loaded = Idefics3ImageProcessor.from_pretrained(tmp_path / "ref")
    assert loaded.max_image_size == {"longest_edge": 32} and loaded.resample == PIL.Image.Resampling.LANCZOS
    loaded.save_pretrained(tmp_path / "ours")
    reloaded = Idefics3ImageProcessorPil.from_pretrained(tmp_path / "ours")
    assert reloaded.max_image_size == {"longest_edge": 32}


def processor_pair(tmp_path: Path, model: str, **options: Any) -> tuple[Any, Any]:
    """(ours loaded from the reference's save_pretrained directory, the reference)."""
    if model == "idefics2":
        image_processor = Idefics2ImageProcessorPil(size={"shortest_edge": 30, "longest_edge": 60}, **options)
        reference = transformers.Idefics2Processor(image_processor, reference_tokenizer(), image_seq_len=3)
        ours_class = Idefics2Processor
    else:
        image_processor = Idefics3ImageProcessorPil(
            size={"longest_edge": 96}, max_image_size={"longest_edge": 32}, **options
        )
        reference = transformers.Idefics3Processor(image_processor, reference_tokenizer(), image_seq_len=2)
        ours_class = Idefics3Processor
    reference.chat_template = IDEFICS2_CHAT_TEMPLATE
    reference.save_pretrained(tmp_path / model)
    return ours_class.from_pretrained(tmp_path / model), reference


@pytest.mark.parametrize(
    ("model", "options"),
    [
        ("idefics2", {}),
        ("idefics2", {"do_image_splitting": True}),
        ("idefics3", {}),
        ("idefics3", {"do_image_splitting": False}),
    ],
)
def test_processor_matches_reference(tmp_path: Path, model: str, options: dict[str, Any]) -> None:
    ours, reference = processor_pair(tmp_path, model, **options)
    images = pil_images(seed=3)  # transformers' Idefics2Processor takes PIL images (or URLs) only
    prompts = ["User: What is<image> the difference?<image>", "a red<image><image>cat", "no image at all"]
    per_sample = [images[:2], images[2:4], []]
    for padding_side in ("left", "right"):
        kwargs = {"padding": True, "padding_side": padding_side, "return_tensors": "pt"}
        assert_same_features(
            ours(images=per_sample, text=prompts, **kwargs), reference(images=per_sample, text=prompts, **kwargs)
        )
    flat = {"images": images[:4], "text": prompts, "padding": True, "return_tensors": "pt"}
    assert_same_features(ours(**flat), reference(**flat))
    one = {"images": images[5], "text": "User:<image>What is it?", "return_tensors": "pt"}
    assert_same_features(ours(**one), reference(**one))
    text_only = {"text": ["a red cat", "dog"], "padding": True}
    assert_same_features(ours(**text_only), reference(**text_only))
    if model == "idefics2":  # Idefics2 expands <image> in text without images; Idefics3 refuses
        text_only = {"text": ["a red<image>cat", "dog"], "padding": True}
        assert_same_features(ours(**text_only), reference(**text_only))
    else:
        with pytest.raises(ValueError, match="no images were passed"):
            ours(text="a red<image>cat")


@pytest.mark.parametrize("model", ["idefics2", "idefics3"])
def test_chat_template_reproduces_documented_prompt(tmp_path: Path, model: str) -> None:
    ours, reference = processor_pair(tmp_path, model)
    prompt = ours.apply_chat_template(TWO_IMAGES, add_generation_prompt=True)
    expected = "User: What’s the difference between these two images?<image><image><end_of_utterance>\nAssistant:"
    assert prompt == expected
    assert prompt == reference.apply_chat_template(TWO_IMAGES, add_generation_prompt=True)
    assert ours.apply_chat_template([TWO_IMAGES, TWO_IMAGES]) == reference.apply_chat_template(
        [TWO_IMAGES, TWO_IMAGES]
    )


def test_decode_and_round_trip(tmp_path: Path) -> None:
    ours, reference = processor_pair(tmp_path, "idefics2")
    ids = ours(text=["User:<image>a red cat<end_of_utterance>"], images=pil_images(seed=4)[:1])["input_ids"]
    for skip in (False, True):
        assert ours.batch_decode(ids, skip_special_tokens=skip) == reference.batch_decode(
            ids, skip_special_tokens=skip
        )
    ours.save_pretrained(tmp_path / "ours")
    again = transformers.AutoProcessor.from_pretrained(tmp_path / "ours")
    assert again.image_seq_len == 3 and again.chat_template == IDEFICS2_CHAT_TEMPLATE
    reloaded = Idefics2Processor.from_pretrained(tmp_path / "ours")
    prompts = {"text": "User:<image>a cat", "images": pil_images(seed=5)[:1], "return_tensors": "pt"}
    assert_same_features(reloaded(**prompts), ours(**prompts))


def test_processor_loads_the_older_hub_layout(tmp_path: Path) -> None:
    """idefics2-8b's layout: preprocessor_config.json, processor_config.json without the image
    processor, the chat template inside tokenizer_config.json."""
    Idefics2ImageProcessorPil(do_image_splitting=True).save_pretrained(tmp_path)
    tokenizer = reference_tokenizer()
    tokenizer.chat_template = IDEFICS2_CHAT_TEMPLATE
    tokenizer.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "tokenizer_config.json").read_text())
    config["chat_template"] = IDEFICS2_CHAT_TEMPLATE
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(config))
    (tmp_path / "chat_template.jinja").unlink(missing_ok=True)
    (tmp_path / "processor_config.json").write_text(
        json.dumps({"image_seq_len": 5, "processor_class": "Idefics2Processor"})
    )
    processor = Idefics2Processor.from_pretrained(tmp_path)
    assert processor.image_seq_len == 5 and processor.image_processor.do_image_splitting
    assert processor.apply_chat_template(TWO_IMAGES, add_generation_prompt=True).endswith("Assistant:")
