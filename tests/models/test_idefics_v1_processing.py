"""The IDEFICS (v1) image processor and processor match transformers 5.23.0.

The reference is transformers' `IdeficsProcessor` with its PIL image processor
(`IdeficsImageProcessorPil`; the default one needs torchvision). A tiny WordLevel tokenizer is
trained in the test with the `tokenizers` library; the transformers processor is built from it and
saved with `save_pretrained`, and ours is loaded from that directory. On the model card's prompt
shapes (one sample; a batch of samples of different lengths and image counts, with a text-only
sample; consecutive images; images as PIL images, arrays, tensors, a local path and a URL served
from 127.0.0.1) `input_ids`, `attention_mask`, `pixel_values` and `image_attention_mask` are
identical, with `add_end_of_utterance_token` and `add_eos_token` on and off, padding either side
or to `max_length`, and truncation that cuts images off. Ours is called as the model card calls
it, `processor(prompts)`; transformers 5.23.0 fails on that call (UnboundLocalError), so the
reference gets `text=prompts`. The image processor alone matches
transformers' on several options and layouts, configs round-trip both ways (and the idefics-9b
Hub layout, preprocessor_config.json without processor_config.json, loads), the vectorised
`image_attention_mask` equals transformers' loops on random ids, and unsupported options are
clear errors.
Run: python -m pytest tests/models/test_idefics_v1_processing.py -q
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import PIL.Image
import pytest
import torch

from generated.idefics import IdeficsImageProcessor, IdeficsProcessor
from generated.idefics.processing_idefics import image_attention_mask
from runtime.image_processing_utils import ProcessorError
from tests.http_server import serve_directory
from tests.models.helpers import reference_tokenizer_of

transformers = pytest.importorskip("transformers")
from transformers.models.idefics import processing_idefics as reference_processing  # noqa: E402
from transformers.models.idefics.image_processing_pil_idefics import IdeficsImageProcessorPil  # noqa: E402

SPECIAL_TOKENS = ["<unk>", "<s>", "</s>", "<pad>", "<fake_token_around_image>", "<image>", "<end_of_utterance>"]
CORPUS = ["In this picture from Asterix and Obelix, we can see User: Describe this image. Assistant: two kittens"]
CARD_PROMPT = "In this picture from Asterix and Obelix, we can see"


def reference_tokenizer() -> Any:
    return reference_tokenizer_of(CORPUS, SPECIAL_TOKENS)


def random_images(seed: int) -> list[Any]:
    """PIL RGB, L and RGBA images, HWC uint8 and float arrays, a CHW uint8 tensor; several sizes."""
    rng = np.random.default_rng(seed)
    rgb = PIL.Image.fromarray(rng.integers(0, 256, (40, 70, 3), dtype=np.uint8))
    gray = PIL.Image.fromarray(rng.integers(0, 256, (20, 64), dtype=np.uint8), mode="L")
    rgba = PIL.Image.fromarray(rng.integers(0, 256, (50, 40, 4), dtype=np.uint8), mode="RGBA")
    hwc = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    floats = rng.random((45, 45, 3), dtype=np.float32)
    tensor = torch.from_numpy(rng.integers(0, 256, (3, 33, 66), dtype=np.uint8))
    return [rgb, gray, rgba, hwc, floats, tensor]


def assert_same_features(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    assert list(actual) == list(expected), f"keys {list(actual)} vs {list(expected)}"
    for key, value in expected.items():
        assert actual[key].dtype == value.dtype, f"{key}: dtype {actual[key].dtype} vs {value.dtype}"
        assert actual[key].shape == value.shape, f"{key}: shape {tuple(actual[key].shape)} vs {tuple(value.shape)}"
        assert torch.equal(actual[key], value), f"{key}: max |diff| {(actual[key].double() - value).abs().max()}"


@pytest.fixture
def processors(tmp_path: Path) -> tuple[IdeficsProcessor, Any]:
    """(ours loaded from the reference's save_pretrained directory, the reference)."""
    reference = transformers.IdeficsProcessor(IdeficsImageProcessorPil(image_size=30), reference_tokenizer())
    reference.save_pretrained(tmp_path / "reference")
    return IdeficsProcessor.from_pretrained(tmp_path / "reference"), reference


@pytest.fixture
def image_files(tmp_path: Path) -> Iterator[dict[str, list[Any]]]:
    """Two PNGs as local paths, as URLs served from 127.0.0.1, and opened with PIL."""
    rng = np.random.default_rng(7)
    names = ["idefix.png", "obelix.png"]
    for name, shape in zip(names, [(48, 80, 3), (64, 30, 3)], strict=True):
        PIL.Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(tmp_path / name)
    with serve_directory(tmp_path) as base_url:
        yield {
            "path": [str(tmp_path / name) for name in names],
            "http": [f"{base_url}/{name}" for name in names],
            "pil": [PIL.Image.open(tmp_path / name).convert("RGB") for name in names],
        }


# ---- the image processor ----

IMAGE_OPTIONS = [
    {},  # the checkpoints' defaults: 224 x 224
    {"image_size": 30},
    {"size": {"height": 24, "width": 40}, "resample": PIL.Image.Resampling.BILINEAR},
    {"image_size": 16, "do_normalize": False},
    {"image_size": 20, "do_rescale": False, "do_normalize": False},
]


@pytest.mark.parametrize("options", IMAGE_OPTIONS)
def test_image_processor_matches_reference(options: dict[str, Any]) -> None:
    ours, reference = IdeficsImageProcessor(**options), IdeficsImageProcessorPil(**options)
    images = random_images(seed=0)
    for layout in (images[0], images, [images[:2], images[2:]]):
        expected = reference(layout, return_tensors="pt")
        actual = ours(layout, return_tensors="pt")
        assert actual.dtype == expected.dtype and torch.equal(actual, expected)
        assert ours.image_size == reference.image_size


def test_image_processor_without_tensors_gives_arrays() -> None:
    images = random_images(seed=1)[:3]
    ours, reference = IdeficsImageProcessor(image_size=12), IdeficsImageProcessorPil(image_size=12)
    for actual, expected in zip(ours(images), reference(images), strict=True):
        np.testing.assert_array_equal(actual, expected)
    np.testing.assert_array_equal(ours(images, return_tensors="np"), reference(images, return_tensors="np"))


def test_image_processor_call_options_as_reference() -> None:
    """`size` resizes at a call; `image_size` and `image_num_channels` at a call change nothing, as in transformers."""
    images = random_images(seed=2)[:2]
    ours, reference = IdeficsImageProcessor(image_size=30), IdeficsImageProcessorPil(image_size=30)
    for call in ({"size": {"height": 20, "width": 25}}, {"image_size": 20}, {"image_num_channels": 1}):
        expected = reference(images, return_tensors="pt", **call)
        assert torch.equal(ours(images, return_tensors="pt", **call), expected)


def test_image_processor_config_round_trips(tmp_path: Path) -> None:
    IdeficsImageProcessorPil(image_size=48, do_normalize=False).save_pretrained(tmp_path / "reference")
    ours = IdeficsImageProcessor.from_pretrained(tmp_path / "reference")
    assert ours.image_size == 48 and ours.size == {"height": 48, "width": 48} and not ours.do_normalize
    ours.save_pretrained(tmp_path / "ours")
    written = json.loads((tmp_path / "ours" / "preprocessor_config.json").read_text())
    assert written == json.loads((tmp_path / "reference" / "preprocessor_config.json").read_text())
    again = IdeficsImageProcessorPil.from_pretrained(tmp_path / "ours")
    assert again.image_size == 48 and not again.do_normalize
    defaults = [json.loads(json.dumps(cls().to_dict())) for cls in (IdeficsImageProcessor, IdeficsImageProcessorPil)]
    assert defaults[0] == defaults[1]  # same defaults, CLIP's mean and std


def test_image_size_in_a_config_wins_over_size() -> None:
    config = {"image_size": 12, "size": {"height": 30, "width": 30}}
    ours, reference = IdeficsImageProcessor.from_dict(config), IdeficsImageProcessorPil.from_dict(config)
    assert ours.size == {"height": 12, "width": 12} and ours.image_size == reference.image_size == 12


def test_image_processor_refuses_what_it_does_not_do() -> None:
    with pytest.raises(ProcessorError, match="transform"):
        IdeficsImageProcessor()(random_images(seed=3)[0], transform=lambda image: image)
    with pytest.raises(ProcessorError, match="'height' and 'width'"):
        IdeficsImageProcessor(size={"shortest_edge": 30})


# ---- the processor ----


def card_prompts(images: list[Any]) -> list[list[Any]]:
    """The model card's shapes: an image then a text; a dialogue with two images in a row and
    texts in a row; text only; two images last (PIL RGB and L, uint8 and float arrays, a tensor)."""
    return [
        [images[0], CARD_PROMPT],
        ["User:", images[1], images[3], "Describe this image.", "Assistant:"],
        ["User: Describe this image. Assistant:"],
        ["User:", "two kittens", images[4], images[5]],
    ]


@pytest.mark.parametrize("add_end_of_utterance_token", [None, False, True])
@pytest.mark.parametrize("add_eos_token", [False, True])
def test_processor_matches_reference_on_card_prompts(
    processors: tuple[IdeficsProcessor, Any], add_end_of_utterance_token: bool | None, add_eos_token: bool
) -> None:
    ours, reference = processors
    prompts = card_prompts(random_images(seed=4))
    kwargs = {"add_end_of_utterance_token": add_end_of_utterance_token, "add_eos_token": add_eos_token}
    assert_same_features(ours(prompts, **kwargs), reference(text=prompts, **kwargs))
    expected = reference(text=prompts[0], return_tensors="pt", **kwargs)
    assert_same_features(ours(prompts[0], return_tensors="pt", **kwargs), expected)


@pytest.mark.parametrize(
    "options",
    [
        {"padding_side": "left"},
        {"padding": "max_length", "max_length": 24},
        {"padding": "max_length", "max_length": 9, "truncation": True},
        {"truncation": True, "max_length": 6},  # the second sample's second image is cut off
        {"truncation": True, "max_length": 3},  # every image is cut off
        {"padding": True, "size": {"height": 20, "width": 20}, "image_size": 20, "do_normalize": False},
    ],
)
def test_processor_options_match_reference(processors: tuple[IdeficsProcessor, Any], options: dict) -> None:
    ours, reference = processors
    prompts = card_prompts(random_images(seed=5))
    if "size" in options:  # text-only samples get zeros of the image processor's size: no text-only sample
        prompts = [prompts[0], prompts[1]]
    assert_same_features(ours(prompts, **options), reference(text=prompts, **options))


def test_text_only_batch_matches_reference(processors: tuple[IdeficsProcessor, Any]) -> None:
    ours, reference = processors
    prompts = [["User:", "Describe this image."], ["two kittens"]]
    assert_same_features(ours(prompts), reference(text=prompts))
    assert ours(prompts)["image_attention_mask"].dtype == torch.bool


def test_images_with_text_pair_as_reference(processors: tuple[IdeficsProcessor, Any]) -> None:
    """`images=` with `text=`: one image per text ([image, text]) or one list per text ([text, *images])."""
    ours, reference = processors
    images = random_images(seed=6)
    for call in (
        {"images": images[0], "text": CARD_PROMPT},
        {"images": images[:2], "text": [CARD_PROMPT, "Assistant:"]},
        {"images": [images[:2], images[2:3]], "text": [CARD_PROMPT, "Assistant:"]},
    ):
        assert_same_features(ours(**call), reference(**call))


def test_image_sources_as_reference(processors: tuple[IdeficsProcessor, Any], image_files: dict) -> None:
    """A URL (local http server) as transformers reads it; a local path (which transformers reads
    as text) gives the features of the PIL image; so does a file:// URL."""
    ours, reference = processors
    pil, urls, paths = image_files["pil"], image_files["http"], image_files["path"]
    by_url = [[urls[0], CARD_PROMPT], ["User:", urls[1], "Describe this image."]]
    assert_same_features(ours(by_url), reference(text=by_url))
    by_pil = [[pil[0], CARD_PROMPT], ["User:", pil[1], "Describe this image."]]
    expected = reference(text=by_pil)
    by_path = [[paths[0], CARD_PROMPT], ["User:", paths[1], "Describe this image."]]
    assert_same_features(ours(by_path), expected)
    by_file_url = [[Path(paths[0]).as_uri(), CARD_PROMPT], ["User:", Path(paths[1]).as_uri(), "Describe this image."]]
    assert_same_features(ours(by_file_url), expected)


def test_a_string_prompt_is_one_text(processors: tuple[IdeficsProcessor, Any]) -> None:
    """transformers would read a bare string as a sample of one-character texts (dropping its spaces)."""
    ours, reference = processors
    assert_same_features(ours(CARD_PROMPT), reference(text=[[CARD_PROMPT]]))


def test_image_attention_mask_equals_reference_loops() -> None:
    """The vectorised mask equals transformers' m4 loops on random ids rich in images and EOS tokens."""
    tokenizer = reference_tokenizer()
    image_id, eos_id = tokenizer.convert_tokens_to_ids("<image>"), tokenizer.eos_token_id
    generator = torch.Generator().manual_seed(0)
    for num_images in (1, 2, 4):
        ids = torch.randint(0, 12, (6, 17), generator=generator)  # ids 0..11 hold <image> (5) and </s> (2)
        incremental, _ = reference_processing.image_attention_mask_for_packed_input_ids(ids, tokenizer, "pt")
        expected = reference_processing.incremental_to_binary_attention_mask(incremental, "pt", num_images)
        actual = image_attention_mask(ids, image_id, eos_id, num_images)
        assert actual.dtype == expected.dtype and torch.equal(actual, expected)


def test_processor_round_trips_both_ways(processors: tuple[IdeficsProcessor, Any], tmp_path: Path) -> None:
    ours, reference = processors
    ours.save_pretrained(tmp_path / "ours")
    written = json.loads((tmp_path / "ours" / "processor_config.json").read_text())
    assert written == json.loads((tmp_path / "reference" / "processor_config.json").read_text())
    again = transformers.AutoProcessor.from_pretrained(tmp_path / "ours")
    assert type(again).__name__ == "IdeficsProcessor"
    reloaded = IdeficsProcessor.from_pretrained(tmp_path / "ours")
    prompts = card_prompts(random_images(seed=8))
    expected = reference(text=prompts)
    assert_same_features(reloaded(prompts), expected)
    pil_again = transformers.IdeficsProcessor(
        IdeficsImageProcessorPil.from_pretrained(tmp_path / "ours"),
        transformers.AutoTokenizer.from_pretrained(tmp_path / "ours"),
    )
    assert_same_features(pil_again(text=prompts), expected)


def test_decode_as_reference(processors: tuple[IdeficsProcessor, Any]) -> None:
    ours, reference = processors
    ids = ours(card_prompts(random_images(seed=9)), add_end_of_utterance_token=True)["input_ids"]
    for skip in (False, True):
        assert ours.batch_decode(ids, skip_special_tokens=skip) == reference.batch_decode(
            ids, skip_special_tokens=skip
        )
        assert ours.decode(ids[1], skip_special_tokens=skip) == reference.decode(ids[1], skip_special_tokens=skip)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ({"return_tensors": "np"}, "torch tensors only"),
        ({"pad_to_multiple_of": 8}, "unsupported options \\['pad_to_multiple_of'\\]"),
        ({"return_attention_mask": False}, "unsupported options"),
        ({"transform": print}, "transform"),
        ({"padding": False}, "pad them"),
    ],
)
def test_unsupported_options_are_clear_errors(
    processors: tuple[IdeficsProcessor, Any], call: dict[str, Any], message: str
) -> None:
    ours, _ = processors
    with pytest.raises(ProcessorError, match=message):
        ours(card_prompts(random_images(seed=10)), **call)


def test_bad_prompts_are_clear_errors(processors: tuple[IdeficsProcessor, Any]) -> None:
    ours, _ = processors
    with pytest.raises(ProcessorError, match="either `text` or `images`"):
        ours()
    with pytest.raises(ProcessorError, match="one list of texts and images per sample"):
        ours([["User:", CARD_PROMPT], "Assistant:"])
    with pytest.raises(ProcessorError, match="number of text prompts"):
        ours(images=random_images(seed=11)[:2], text=CARD_PROMPT)


def test_processor_loads_the_hub_layout(tmp_path: Path) -> None:
    """idefics-9b's layout: preprocessor_config.json with the fields it holds, no processor_config.json,
    `additional_special_tokens` in tokenizer_config.json (which transformers 5.23.0 does not read as
    'trained with <end_of_utterance>': the default stays off in both)."""
    reference_tokenizer().save_pretrained(tmp_path)
    config = json.loads((tmp_path / "tokenizer_config.json").read_text())
    config["additional_special_tokens"] = ["<fake_token_around_image>", "<image>", "<end_of_utterance>"]
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(config))
    preprocessor = {"image_size": 24, "image_num_channels": 3, "image_processor_type": "IdeficsImageProcessor"}
    preprocessor |= {"image_mean": [0.48145466, 0.4578275, 0.40821073], "processor_class": "IdeficsProcessor"}
    preprocessor |= {"image_std": [0.26862954, 0.26130258, 0.27577711]}
    (tmp_path / "preprocessor_config.json").write_text(json.dumps(preprocessor))
    ours = IdeficsProcessor.from_pretrained(tmp_path)
    reference = transformers.IdeficsProcessor(
        IdeficsImageProcessorPil.from_pretrained(tmp_path), transformers.AutoTokenizer.from_pretrained(tmp_path)
    )
    assert ours.image_processor.size == {"height": 24, "width": 24}
    prompts = card_prompts(random_images(seed=12))
    assert_same_features(ours(prompts), reference(text=prompts))
