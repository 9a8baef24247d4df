"""Idefics2 and Idefics3 image processors and processors match transformers 5.23.0.

The reference is transformers' PIL backend (`Idefics2ImageProcessorPil`, `Idefics3ImageProcessorPil`;
the default torchvision ones need torchvision). A tiny WordLevel tokenizer is trained in the test with
the `tokenizers` library; the transformers processor is built from it, saved with `save_pretrained`,
and ours is loaded from that directory. On synthetic images (uint8 and float arrays, HWC and CHW,
PIL images of several modes, torch tensors; several sizes and aspect ratios; one, a list, and nested
per sample): `pixel_values` and `pixel_attention_mask` are identical, and so are `input_ids` and
`attention_mask`; the chat template reproduces the documented Idefics2 prompt.

`apply_chat_template(..., return_assistant_tokens_mask=True)` with a `{% generation %}` template
(a system turn, several assistant turns, images in the messages, batches of different lengths,
padding either side, tensors or lists) gives transformers' `input_ids`, pixels and
`assistant_masks`: for Idefics3 always, for Idefics2 where transformers 5.23.0 gets them right (no
image before an assistant turn; elsewhere its masks are shifted by the `<image>` expansion, ours
cover exactly the assistant turns' tokens). Images named by a path, an http URL (a local
`http.server` on 127.0.0.1), base64, a data URI or file://, in calls and in chat messages
(`image`, `url`, `path`, `base64` keys, OpenAI `image_url` blocks), give the features of the
PIL images and transformers' where it reads them; bad sources are clear errors.
Run: python -m pytest tests/models/test_idefics_processing.py -q
"""

from __future__ import annotations

import base64
import copy
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import PIL.Image
import pytest
import torch

from generated.idefics2 import Idefics2ImageProcessor, Idefics2Processor
from generated.idefics3 import Idefics3ImageProcessor, Idefics3Processor
from tests.http_server import serve_directory
from tests.models.helpers import reference_tokenizer_of

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


def reference_tokenizer() -> Any:
    return reference_tokenizer_of(CORPUS, SPECIAL_TOKENS)


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
        elif isinstance(value, np.ndarray):
            assert isinstance(actual[key], np.ndarray) and actual[key].dtype == value.dtype, key
            np.testing.assert_array_equal(actual[key], value, err_msg=key)
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


# ---- assistant masks: `{% generation %}` blocks through the processors ----

# The Idefics2 template with each assistant turn inside a generation block.
GENERATION_TEMPLATE = (
    "{% for message in messages %}{{ message['role'].capitalize() + ': ' }}"
    "{% if message['role'] == 'assistant' %}{% generation %}"
    "{% for line in message['content'] %}{{ line['text'] }}{% endfor %}<end_of_utterance>{% endgeneration %}\n"
    "{% else %}{% for line in message['content'] %}{% if line['type'] == 'text' %}{{ line['text'] }}"
    "{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}<end_of_utterance>\n{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)


def text(words: str) -> dict[str, str]:
    return {"type": "text", "text": words}


def image_block(image: Any) -> dict[str, Any]:
    return {"type": "image", "image": image}


def chats(images: list[Any]) -> dict[str, list[dict[str, Any]]]:
    """A system turn, images before and between assistant turns ("long", "short"), or only after the
    last one ("late")."""
    return {
        "long": [
            {"role": "system", "content": [text("a red cat")]},
            {"role": "user", "content": [image_block(images[0]), text("What is the difference?")]},
            {"role": "assistant", "content": [text("a red cat and a blue dog.")]},
            {"role": "user", "content": [text("What is"), image_block(images[1]), image_block(images[2])]},
            {"role": "assistant", "content": [text("a blue dog.")]},
        ],
        "short": [
            {"role": "user", "content": [text("a cat"), image_block(images[3])]},
            {"role": "assistant", "content": [text("a red cat.")]},
        ],
        "late": [
            {"role": "system", "content": [text("a red cat")]},
            {"role": "user", "content": [text("What is the difference?")]},
            {"role": "assistant", "content": [text("a red cat and a blue dog.")]},
            {"role": "user", "content": [text("a cat")]},
            {"role": "assistant", "content": [text("a blue dog.")]},
            {"role": "user", "content": [image_block(images[4]), text("What is it?"), image_block(images[5])]},
        ],
    }


def apply_with_masks(processor: Any, conversation: Any, **kwargs: Any) -> Any:
    kwargs = copy.deepcopy(kwargs)  # transformers writes its own options into the caller's processor_kwargs
    return processor.apply_chat_template(
        conversation,
        chat_template=GENERATION_TEMPLATE,
        tokenize=True,
        return_dict=True,
        return_assistant_tokens_mask=True,
        **kwargs,
    )


MASK_CALLS = [
    {"batch": ["long"]},
    {"batch": ["long", "short"], "processor_kwargs": {"padding": True}},
    {
        "batch": ["short", "long"],
        "processor_kwargs": {"padding": True, "padding_side": "left"},
        "return_tensors": "pt",
    },
    {"batch": ["late", "short"], "processor_kwargs": {"padding": True}, "return_tensors": "pt"},
    {"batch": "late"},  # one conversation, not a batch
    {"batch": ["late", "long"], "padding": True, "add_generation_prompt": True},  # padding as a legacy keyword
]


@pytest.mark.parametrize("call", MASK_CALLS)
@pytest.mark.parametrize("options", [{}, {"do_image_splitting": False}])
def test_idefics3_assistant_masks_match_reference(tmp_path: Path, call: dict[str, Any], options: dict) -> None:
    ours, reference = processor_pair(tmp_path, "idefics3", **options)
    conversations, kwargs = chats(pil_images(seed=6)), dict(call)
    batch = kwargs.pop("batch")
    conversation = conversations[batch] if isinstance(batch, str) else [conversations[name] for name in batch]
    expected = apply_with_masks(reference, conversation, **{"return_tensors": "auto", **kwargs})
    assert_same_features(apply_with_masks(ours, conversation, **kwargs), expected)
    assert any(sum(row) for row in expected["assistant_masks"])


@pytest.mark.parametrize("options", [{}, {"do_image_splitting": True}])
def test_idefics2_assistant_masks_match_reference_where_it_is_right(tmp_path: Path, options: dict) -> None:
    """transformers 5.23.0's Idefics2Processor does not report how it expanded `<image>`, so its
    masks are right only where no image comes before an assistant turn; there they must agree."""
    ours, reference = processor_pair(tmp_path, "idefics2", **options)
    conversations = chats(pil_images(seed=7))
    for conversation, kwargs in (
        (conversations["late"], {}),
        ([conversations["late"], conversations["late"][:3]], {"processor_kwargs": {"padding": True}}),
        ([conversations["late"][:3], conversations["late"]], {"padding": True, "return_tensors": "pt"}),
    ):
        expected = apply_with_masks(reference, conversation, **{"return_tensors": "auto", **kwargs})
        assert_same_features(apply_with_masks(ours, conversation, **kwargs), expected)


@pytest.mark.parametrize("model", ["idefics2", "idefics3"])
@pytest.mark.parametrize("options", [{}, {"do_image_splitting": True}])
def test_masked_tokens_are_the_assistant_turns(tmp_path: Path, model: str, options: dict) -> None:
    """With images before the assistant turns (adjacent ones too, split or not), the masked tokens
    are exactly the tokens of the assistant turns' text, as transformers' tokenizer encodes them."""
    from transformers.utils.chat_template_utils import render_jinja_template

    ours, reference = processor_pair(tmp_path, model, **options)
    conversations = chats(pil_images(seed=8))
    batch = [conversations["long"], conversations["short"]]
    out = apply_with_masks(ours, batch, processor_kwargs={"padding": True, "padding_side": "left"})
    prompts, spans = render_jinja_template(batch, chat_template=GENERATION_TEMPLATE, return_assistant_tokens_mask=True)
    for ids, mask, prompt, prompt_spans in zip(out["input_ids"], out["assistant_masks"], prompts, spans, strict=True):
        masked = [index for index, flag in zip(ids, mask, strict=True) if flag]
        pieces = [prompt[start:end] for start, end in prompt_spans]
        assert masked == sum(
            (reference.tokenizer(piece, add_special_tokens=False)["input_ids"] for piece in pieces), []
        )
    if model == "idefics2":  # what transformers 5.23.0 gives instead: masks shifted by the image expansion
        expected = apply_with_masks(reference, batch, processor_kwargs={"padding": True, "padding_side": "left"})
        assert expected["input_ids"] == out["input_ids"] and expected["assistant_masks"] != out["assistant_masks"]


@pytest.mark.parametrize("model", ["idefics2", "idefics3"])
def test_template_without_generation_block_warns_and_masks_nothing(tmp_path: Path, model: str) -> None:
    ours, reference = processor_pair(tmp_path, model)
    conversation = chats(pil_images(seed=9))["short"]
    with pytest.warns(UserWarning, match="does not contain `{% generation %}`"):
        actual = ours.apply_chat_template(
            conversation, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
        )
    expected = reference.apply_chat_template(
        conversation, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    assert_same_features(actual, expected)
    assert not any(any(row) for row in actual["assistant_masks"])


# ---- images as paths, URLs and base64, in calls and in chat messages ----


@pytest.fixture
def image_sources(tmp_path: Path) -> Iterator[dict[str, list[Any]]]:
    """An RGB PNG, a JPEG and an RGBA PNG in tmp_path, named every way transformers' `load_image`
    reads (and file://), the http ones served from 127.0.0.1; "pil" holds the files opened with PIL."""
    rng = np.random.default_rng(10)
    names = ["cat.png", "dog.jpg", "alpha.png"]
    PIL.Image.fromarray(rng.integers(0, 256, (40, 70, 3), dtype=np.uint8)).save(tmp_path / names[0])
    PIL.Image.fromarray(rng.integers(0, 256, (64, 30, 3), dtype=np.uint8)).save(tmp_path / names[1])
    PIL.Image.fromarray(rng.integers(0, 256, (30, 20, 4), dtype=np.uint8), mode="RGBA").save(tmp_path / names[2])
    encoded = [base64.b64encode((tmp_path / name).read_bytes()).decode() for name in names]
    media = ["image/png", "image/jpeg", "image/png"]
    with serve_directory(tmp_path) as base_url:
        yield {
            "path": [str(tmp_path / name) for name in names],
            "http": [f"{base_url}/{name}" for name in names],
            "base64": encoded,
            "data": [f"data:{kind};base64,{data}" for kind, data in zip(media, encoded, strict=True)],
            "file": [(tmp_path / name).as_uri() for name in names],
            "pil": [PIL.Image.open(tmp_path / name) for name in names],
        }


SOURCE_KINDS = ["path", "http", "base64", "data", "file"]


@pytest.mark.parametrize("model", ["idefics2", "idefics3"])
def test_image_sources_give_the_pil_images_features(tmp_path: Path, image_sources: dict, model: str) -> None:
    """One image, a flat list and one list per prompt, named every way: the same features as the
    PIL images, and as transformers where it reads that source in that layout (it reads no file://
    URL; its Idefics2Processor takes strings only in per-prompt lists, and URLs in any layout)."""
    ours, reference = processor_pair(tmp_path / "processors", model)
    prompts = ["User:<image>What is it?", "User: a cat<image>"]
    for kind in SOURCE_KINDS:
        first, second = image_sources[kind][:2]  # RGB: loading one gives the PIL image's pixels
        pil_first, pil_second = image_sources["pil"][:2]
        for images, pil, prompt in (
            (first, pil_first, prompts[0]),
            ([first, second], [pil_first, pil_second], prompts),
            ([[first], [second]], [[pil_first], [pil_second]], prompts),
        ):
            kwargs = {"text": prompt, "padding": True, "return_tensors": "pt"}
            actual = ours(images=images, **kwargs)
            assert_same_features(actual, ours(images=pil, **kwargs))
            nested = isinstance(images, list) and isinstance(images[0], list)
            if kind != "file" and (model == "idefics3" or nested or kind == "http"):
                assert_same_features(actual, reference(images=images, **kwargs))


@pytest.mark.parametrize("kind", ["path", "http", "base64"])
def test_image_processors_read_image_sources_as_reference(image_sources: dict, kind: str) -> None:
    """transformers' image processors read strings too (an RGBA file loses its alpha, as `load_image` drops it)."""
    png, jpeg, rgba = image_sources[kind]
    pairs = [
        (Idefics2ImageProcessor(**IDEFICS2_OPTIONS[1]), Idefics2ImageProcessorPil(**IDEFICS2_OPTIONS[1])),
        (Idefics3ImageProcessor(**IDEFICS3_OPTIONS[0]), Idefics3ImageProcessorPil(**IDEFICS3_OPTIONS[0])),
    ]
    for ours, reference in pairs:
        for images in (png, [png, rgba], [[png, jpeg], [rgba]]):
            assert_same_features(ours(images, return_tensors="pt"), reference(images, return_tensors="pt"))


@pytest.mark.parametrize("model", ["idefics2", "idefics3"])
def test_chat_messages_name_images_every_way(tmp_path: Path, image_sources: dict, model: str) -> None:
    """Image blocks with an `image`, `url`, `path` or `base64` key, and OpenAI's `image_url` blocks:
    the same features as transformers' `apply_chat_template(tokenize=True)` (batched, padded)."""
    ours, reference = processor_pair(tmp_path / "processors", model)
    png, jpeg, _ = image_sources["pil"]
    blocks = [
        {"type": "image", "image": png},
        {"type": "image", "url": image_sources["http"][1]},
        {"type": "image", "path": image_sources["path"][0]},
        {"type": "image", "base64": image_sources["base64"][1]},
        {"type": "image", "url": image_sources["data"][0]},
        {"type": "image_url", "image_url": {"url": image_sources["http"][0]}},
    ]
    batch = [
        [{"role": "user", "content": [blocks[0], text("What is the difference?"), blocks[1], blocks[2]]}],
        [{"role": "user", "content": [text("a red cat"), *blocks[3:]]}],
    ]
    kwargs = {"tokenize": True, "return_dict": True, "add_generation_prompt": True, "return_tensors": "pt"}
    kwargs["processor_kwargs"] = {"padding": True}
    assert_same_features(ours.apply_chat_template(batch, **kwargs), reference.apply_chat_template(batch, **kwargs))
    paths = [[{"role": "user", "content": [{"type": "image", "path": image_sources["path"][1]}, text("a cat")]}]]
    pil = [[{"role": "user", "content": [image_block(jpeg), text("a cat")]}]]
    assert_same_features(ours.apply_chat_template(paths, **kwargs), ours.apply_chat_template(pil, **kwargs))


@pytest.mark.parametrize("model", ["idefics2", "idefics3"])
def test_bad_image_sources_are_clear_errors(tmp_path: Path, model: str) -> None:
    ours, reference = processor_pair(tmp_path / "processors", model)
    PIL.Image.new("RGB", (8, 8)).save(tmp_path / "cat.png")
    text_with_image = "User:<image>What is it?"
    for processor in (ours, reference):  # a pathlib.Path is not read by transformers either
        with pytest.raises(TypeError):
            processor(images=[[tmp_path / "cat.png"]], text=text_with_image)
    with pytest.raises(ValueError, match="missing.png"):
        ours(images=str(tmp_path / "missing.png"), text=text_with_image)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}/cat.png"
    with pytest.raises(OSError, match=url):
        ours(images=url, text=text_with_image)
    conversation = [{"role": "user", "content": [{"type": "image", "url": url}, text("What is it?")]}]
    with pytest.raises(OSError, match=url):
        ours.apply_chat_template(conversation, chat_template=IDEFICS2_CHAT_TEMPLATE, tokenize=True)
