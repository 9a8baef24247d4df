"""The generated Idefics2/Idefics3 image processors and processors behave exactly like their modular
definitions (the overlay oracle of tests/equivalence/overlay.py).

Hypothesis draws options (resize sizes, tile size, splitting, padding, rescale, normalize) and a
batch of random images (uint8 or float, HWC or CHW, one to three per sample, sizes from 1 to 48
pixels). The overlay's image processor and the generated one must give identical outputs
(torch.equal), or both raise the same error type; the processors (same tiny tokenizer) must give
identical `input_ids`, masks and pixels.
The LLaVA family likewise: LLaVA, LLaVA-NeXT (anyres grids drawn) and LLaVA-NeXT-Video image
processors, the LLaVA-NeXT-Video video processor, and the processors (both feature strategies,
`num_additional_image_tokens`, images and videos in one prompt).
Run: python -m pytest tests/equivalence/test_image_processors.py -q
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer as BackendTokenizer
from tokenizers import models, pre_tokenizers

from runtime.tokenization_utils import Tokenizer
from tests.equivalence.overlay import build_overlay

SETTINGS = settings(
    max_examples=8, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow]
)


@cache
def overlay(model: str) -> dict[str, object]:
    return build_overlay(model)


@st.composite
def image_batches(draw: st.DrawFn) -> list[list[np.ndarray]]:
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    samples = []
    for _ in range(draw(st.integers(1, 2))):
        sample = []
        for _ in range(draw(st.integers(1, 3))):
            height, width = draw(st.integers(1, 48)), draw(st.integers(5, 48))
            image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
            if draw(st.booleans()):
                image = (image / 255).astype(np.float32)
            sample.append(image.transpose(2, 0, 1) if draw(st.booleans()) else image)
        samples.append(sample)
    return samples


@st.composite
def options(draw: st.DrawFn, model: str) -> dict[str, Any]:
    drawn: dict[str, Any] = {
        "do_image_splitting": draw(st.booleans()),
        "do_pad": draw(st.booleans()),
        "do_rescale": draw(st.booleans()),
        "do_normalize": draw(st.booleans()),
    }
    longest = draw(st.integers(8, 64))
    if model == "idefics2":
        drawn["size"] = {"shortest_edge": draw(st.integers(1, longest)), "longest_edge": longest}
    else:
        drawn["size"] = {"longest_edge": longest}
        drawn["max_image_size"] = {"longest_edge": draw(st.integers(4, 32))}
    return drawn


def outcome(function: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return function(*args, **kwargs)
    except (ValueError, TypeError) as error:
        return type(error).__name__


def assert_same(actual: Any, expected: Any) -> None:
    if isinstance(expected, str):
        assert actual == expected
        return
    assert list(actual) == list(expected)
    for key, value in expected.items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(actual[key], value), key
        elif isinstance(value, list) and value and isinstance(value[0], list) and isinstance(value[0][0], np.ndarray):
            for row, expected_row in zip(actual[key], value, strict=True):
                for image, expected_image in zip(row, expected_row, strict=True):
                    np.testing.assert_array_equal(image, expected_image)
        else:
            assert actual[key] == value, key


@pytest.mark.parametrize("model", ["idefics2", "idefics3"])
def test_image_processor_matches_overlay(model: str) -> None:
    name = f"{model.capitalize()}ImageProcessor"
    generated = getattr(importlib.import_module(f"generated.{model}"), name)
    reference = overlay(model)[name]

    @SETTINGS
    @given(images=image_batches(), drawn=options(model))
    def check(images: list[list[np.ndarray]], drawn: dict[str, Any]) -> None:
        tensors = "pt" if drawn["do_pad"] else None
        expected = outcome(reference(**drawn), images, return_tensors=tensors)
        assert_same(outcome(generated(**drawn), images, return_tensors=tensors), expected)

    check()


def word_tokenizer(words: list[str], added: tuple[str, ...] = (), **special: str) -> Tokenizer:
    """Our tokenizer over `<unk>`, `<pad>` and `words` (one id each, in order), with `added` as added
    special tokens and `special` as its named special tokens."""
    vocab = {token: index for index, token in enumerate(["<unk>", "<pad>", *words])}
    backend = BackendTokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = Tokenizer(backend, pad_token="<pad>", unk_token="<unk>", **special)
    if added:
        tokenizer.add_special_tokens(list(added))
    return tokenizer


def tiny_tokenizer() -> Tokenizer:
    return word_tokenizer(["a", "cat", "<global-img>"])


@pytest.mark.parametrize("model", ["idefics2", "idefics3"])
def test_processor_matches_overlay(model: str) -> None:
    prefix = model.capitalize()
    generated = importlib.import_module(f"generated.{model}")
    namespace = overlay(model)

    @SETTINGS
    @given(images=image_batches(), drawn=options(model), seq_len=st.integers(1, 4))
    def check(images: list[list[np.ndarray]], drawn: dict[str, Any], seq_len: int) -> None:
        text = ["a<image> cat" + "<image>" * (len(sample) - 1) for sample in images]
        results = []
        for classes in (namespace, vars(generated)):
            image_processor = classes[f"{prefix}ImageProcessor"](**drawn)
            processor = classes[f"{prefix}Processor"](image_processor, tiny_tokenizer(), image_seq_len=seq_len)
            results.append(outcome(processor, images=images, text=text, padding=True, return_tensors="pt"))
        assert_same(results[1], results[0])

    check()


# ---- IDEFICS (v1): the image processor returns the pixels themselves; prompts interleave text and images ----


@st.composite
def idefics_options(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "image_size": draw(st.integers(1, 40)),
        "resample": draw(st.sampled_from([2, 3])),
        "do_rescale": draw(st.booleans()),
        "do_normalize": draw(st.booleans()),
    }


def idefics_tokenizer() -> Tokenizer:
    added = ("<s>", "</s>", "<fake_token_around_image>", "<image>", "<end_of_utterance>")
    return word_tokenizer(["<s>", "</s>", "a", "cat"], added, bos_token="<s>", eos_token="</s>")


def test_idefics_image_processor_matches_overlay() -> None:
    generated = importlib.import_module("generated.idefics").IdeficsImageProcessor
    reference = overlay("idefics")["IdeficsImageProcessor"]

    @SETTINGS
    @given(images=image_batches(), drawn=idefics_options())
    def check(images: list[list[np.ndarray]], drawn: dict[str, Any]) -> None:
        expected = outcome(reference(**drawn), images, return_tensors="pt")
        actual = outcome(generated(**drawn), images, return_tensors="pt")
        assert actual == expected if isinstance(expected, str) else torch.equal(actual, expected)

    check()


def test_idefics_processor_matches_overlay() -> None:
    generated = importlib.import_module("generated.idefics")
    namespace = overlay("idefics")

    @SETTINGS
    @given(images=image_batches(), drawn=idefics_options(), flags=st.tuples(st.booleans(), st.booleans()))
    def check(images: list[list[np.ndarray]], drawn: dict[str, Any], flags: tuple[bool, bool]) -> None:
        prompts = [["a", *sample, "cat", "a"] for sample in images] + [["a cat"]]
        options = {"add_end_of_utterance_token": flags[0], "add_eos_token": flags[1]}
        results = []
        for classes in (namespace, vars(generated)):
            processor = classes["IdeficsProcessor"](classes["IdeficsImageProcessor"](**drawn), idefics_tokenizer())
            results.append(outcome(processor, prompts, **options))
        assert_same(results[1], results[0])

    check()


# ---- the LLaVA family: CLIP-style processing, anyres tiles, video frames; prompts with <image> and <video> ----

LLAVA_PREFIXES = {"llava": "Llava", "llava_next": "LlavaNext", "llava_next_video": "LlavaNextVideo"}


@st.composite
def llava_options(draw: st.DrawFn, model: str) -> dict[str, Any]:
    crop = draw(st.integers(14, 32))
    drawn: dict[str, Any] = {
        "size": {"shortest_edge": draw(st.integers(8, 40))},
        "crop_size": {"height": crop, "width": crop},
        "do_pad": draw(st.booleans()),
        "do_rescale": draw(st.booleans()),
        "do_normalize": draw(st.booleans()),
    }
    if model != "llava":
        pinpoints = st.lists(st.tuples(st.integers(1, 3), st.integers(1, 3)), min_size=1, max_size=3)
        drawn["image_grid_pinpoints"] = [[rows * crop, columns * crop] for rows, columns in draw(pinpoints)]
    return drawn


def assert_same_llava(actual: Any, expected: Any) -> None:
    """`assert_same`, where a value may also be a flat list of arrays (LLaVA-NeXT's unpadded tiles)."""
    if isinstance(expected, str) or not any(
        isinstance(v, list) and v and isinstance(v[0], np.ndarray) for v in expected.values()
    ):
        assert_same(actual, expected)
        return
    assert list(actual) == list(expected)
    for key, value in expected.items():
        for mine, theirs in zip(actual[key], value, strict=True):
            np.testing.assert_array_equal(mine, theirs)


def uint8_batches(images: list[list[np.ndarray]]) -> list[list[np.ndarray]]:
    """LLaVA pads to a square of the 0..255 mean colour, which only uint8 images hold."""
    return [[(image * 255).astype(np.uint8) if image.dtype != np.uint8 else image for image in s] for s in images]


@pytest.mark.parametrize("model", list(LLAVA_PREFIXES))
def test_llava_image_processor_matches_overlay(model: str) -> None:
    name = f"{LLAVA_PREFIXES[model]}ImageProcessor"
    generated = getattr(importlib.import_module(f"generated.{model}"), name)
    reference = overlay(model)[name]

    @SETTINGS
    @given(images=image_batches(), drawn=llava_options(model))
    def check(images: list[list[np.ndarray]], drawn: dict[str, Any]) -> None:
        images = uint8_batches(images)
        tensors = "pt" if drawn["do_pad"] or model == "llava" else None
        expected = outcome(reference(**drawn), images, return_tensors=tensors)
        assert_same_llava(outcome(generated(**drawn), images, return_tensors=tensors), expected)

    check()


def test_llava_next_video_video_processor_matches_overlay() -> None:
    generated = importlib.import_module("generated.llava_next_video").LlavaNextVideoVideoProcessor
    reference = overlay("llava_next_video")["LlavaNextVideoVideoProcessor"]

    @SETTINGS
    @given(images=image_batches(), drawn=llava_options("llava"))
    def check(images: list[list[np.ndarray]], drawn: dict[str, Any]) -> None:
        del drawn["do_pad"]  # frames are not padded to squares
        videos = [[frame for frame in sample if frame.shape == sample[0].shape] for sample in images]
        expected = outcome(reference(**drawn), videos)
        actual = outcome(generated(**drawn), videos)
        if isinstance(expected, str):
            assert actual == expected
            return
        for mine, theirs in zip(actual["pixel_values_videos"], expected["pixel_values_videos"], strict=True):
            np.testing.assert_array_equal(mine, theirs)

    check()


def llava_tokenizer() -> Tokenizer:
    return word_tokenizer(["a", "cat", "<image>", "<video>"], ("<image>", "<video>"))


@pytest.mark.parametrize("model", list(LLAVA_PREFIXES))
def test_llava_processor_matches_overlay(model: str) -> None:
    prefix = LLAVA_PREFIXES[model]
    generated = importlib.import_module(f"generated.{model}")
    namespace = overlay(model)

    @SETTINGS
    @given(
        images=image_batches(),
        drawn=llava_options(model),
        strategy=st.sampled_from(["default", "full"]),
        extra=st.integers(0, 1),
    )
    def check(images: list[list[np.ndarray]], drawn: dict[str, Any], strategy: str, extra: int) -> None:
        images = uint8_batches(images)
        text = ["a<image> cat" + "<image>" * (len(sample) - 1) for sample in images]
        kwargs: dict[str, Any] = {"images": images, "text": text, "padding": True, "return_tensors": "pt"}
        if model == "llava_next_video":
            kwargs["text"] = [prompt + " <video>" for prompt in text]
            kwargs["videos"] = [[sample[0]] for sample in images]  # one-frame videos
        options = {"patch_size": 7, "vision_feature_select_strategy": strategy, "num_additional_image_tokens": extra}
        results = []
        for classes in (namespace, vars(generated)):
            image_processor = classes[f"{prefix}ImageProcessor"](**drawn)
            processor = classes[f"{prefix}Processor"](image_processor, llava_tokenizer(), **options)
            results.append(outcome(processor, **kwargs))
        assert_same(results[1], results[0])

    check()
