"""The generated Idefics2/Idefics3 image processors and processors behave exactly like their modular
definitions (the overlay oracle of tests/equivalence/overlay.py).

Hypothesis draws options (resize sizes, tile size, splitting, padding, rescale, normalize) and a
batch of random images (uint8 or float, HWC or CHW, one to three per sample, sizes from 1 to 48
pixels). The overlay's image processor and the generated one must give identical outputs
(torch.equal), or both raise the same error type; the processors (same tiny tokenizer) must give
identical `input_ids`, masks and pixels.
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


def tiny_tokenizer() -> Tokenizer:
    vocab = {token: index for index, token in enumerate(["<unk>", "<pad>", "a", "cat", "<global-img>"])}
    backend = BackendTokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    return Tokenizer(backend, pad_token="<pad>", unk_token="<unk>")


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
