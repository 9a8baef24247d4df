"""LLaVA, LLaVA-NeXT and LLaVA-NeXT-Video image processors, video processor and processors match
transformers 5.23.0.

The image references are transformers' PIL backends (`LlavaImageProcessorPil`, CLIP's with
`do_pad=False`, and `LlavaNextImageProcessorPil`; the default torchvision ones need torchvision).
transformers' `LlavaNextVideoVideoProcessor` runs only on torchvision, which cannot be installed
here: its documented per-frame steps (resize, centre crop, rescale, normalise) are checked frame by
frame against `LlavaImageProcessorPil`, and the reference `LlavaNextVideoProcessor` is given a video
processor that runs those steps, so its own prompt expansion, tokenization and output layout are
what ours is compared with. A tiny WordLevel tokenizer is trained in the test with the `tokenizers`
library; the reference processors are built on it, saved with `save_pretrained`, and ours are loaded
from those directories.

Checked: `pixel_values`, `image_sizes`, `pixel_values_videos`, `input_ids` and `attention_mask`
identical for images of several sizes, aspect ratios and types (one, a list, one list per prompt),
batches, padding sides, videos of 1 to 4 frames in every input form, prompts mixing images and
videos, both feature strategies and `num_additional_image_tokens`; the configs saved
(`preprocessor_config.json`, `processor_config.json`, `video_preprocessor_config.json`) hold
transformers' fields and values and load both ways; chat templates with image and video blocks;
decoding; clear errors for placeholder and media counts that differ.
Run: python -m pytest tests/models/test_llava_processing.py -q
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import PIL.Image
import pytest
import torch

from generated.llava import LlavaImageProcessor, LlavaProcessor
from generated.llava_next import LlavaNextImageProcessor, LlavaNextProcessor
from generated.llava_next_video import (
    LlavaNextVideoImageProcessor,
    LlavaNextVideoProcessor,
    LlavaNextVideoVideoProcessor,
)
from runtime.image_checks import ProcessorError
from tests.models.helpers import reference_tokenizer_of

transformers = pytest.importorskip("transformers")
from transformers.models.llava.image_processing_pil_llava import LlavaImageProcessorPil  # noqa: E402
from transformers.models.llava_next.image_processing_pil_llava_next import LlavaNextImageProcessorPil  # noqa: E402
from transformers.models.llava_next_video.video_processing_llava_next_video import (  # noqa: E402
    LlavaNextVideoVideoProcessor as ReferenceVideoProcessor,
)
from transformers.video_utils import make_batched_videos  # noqa: E402

SPECIAL_TOKENS = ["<unk>", "<s>", "</s>", "<pad>", "<image>", "<video>"]
CORPUS = ["USER: What is in this video and this image? ASSISTANT: a red cat and a blue dog."]
# LLaVA-NeXT-Video's template layout (llava-hf), image and video blocks rendered where they stand
CHAT_TEMPLATE = (
    "{% for message in messages %}{{ message['role'].upper() + ':' }}"
    "{% for content in message['content'] %}{% if content['type'] == 'image' %}{{ ' <image>' }}"
    "{% elif content['type'] == 'video' %}{{ ' <video>' }}{% else %}{{ ' ' + content['text'] }}{% endif %}"
    "{% endfor %}{{ '\n' }}{% endfor %}{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"
)
SMALL = {"size": {"shortest_edge": 28}, "crop_size": {"height": 28, "width": 28}}  # 2 x 2 patches of 14
PINPOINTS = [[28, 56], [56, 28], [56, 56], [84, 28], [28, 84]]


def reference_tokenizer() -> Any:
    return reference_tokenizer_of(CORPUS, SPECIAL_TOKENS)


def random_images(seed: int) -> list[Any]:
    """Several sizes, aspect ratios (1:4 to 3:1), layouts and types: HWC and CHW uint8, float in
    [0, 1], PIL RGB/L/RGBA, a tensor."""
    rng = np.random.default_rng(seed)
    return [
        rng.integers(0, 256, (37, 53, 3), dtype=np.uint8),
        rng.integers(0, 256, (3, 71, 29), dtype=np.uint8),
        rng.random((45, 45, 3), dtype=np.float32),
        PIL.Image.fromarray(rng.integers(0, 256, (90, 31, 3), dtype=np.uint8)),
        PIL.Image.fromarray(rng.integers(0, 256, (20, 64), dtype=np.uint8), mode="L"),
        PIL.Image.fromarray(rng.integers(0, 256, (50, 40, 4), dtype=np.uint8), mode="RGBA"),
        torch.from_numpy(rng.integers(0, 256, (3, 12, 48), dtype=np.uint8)),
    ]


def random_video(seed: int, frames: int, height: int = 30, width: int = 44) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (frames, height, width, 3), dtype=np.uint8)


def assert_same_features(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    assert list(actual) == list(expected), f"keys {list(actual)} vs {list(expected)}"
    for key, value in expected.items():
        if isinstance(value, torch.Tensor):
            assert actual[key].dtype == value.dtype, f"{key}: dtype {actual[key].dtype} vs {value.dtype}"
            assert actual[key].shape == value.shape, f"{key}: shape {tuple(actual[key].shape)} vs {tuple(value.shape)}"
            assert torch.equal(actual[key], value), f"{key}: max |diff| {(actual[key] - value).abs().max()}"
        elif isinstance(value, list) and value and isinstance(value[0], np.ndarray):
            assert len(actual[key]) == len(value), key
            for mine, theirs in zip(actual[key], value, strict=True):
                assert mine.dtype == theirs.dtype, key
                np.testing.assert_array_equal(mine, theirs, err_msg=key)
        else:
            assert [tuple(item) for item in actual[key]] == [tuple(item) for item in value], key


def layouts(images: list[Any]) -> list[Any]:
    """One image, a flat list, and one list per sample."""
    return [images[0], images[:4], [images[:3], images[3:4], images[4:]]]


# ---- image processors ----

LLAVA_OPTIONS = [
    {"size": {"shortest_edge": 20}, "crop_size": {"height": 16, "width": 18}},
    {"size": {"shortest_edge": 20}, "crop_size": {"height": 30, "width": 18}},  # crop beyond the image: padded
    {"size": {"shortest_edge": 24}, "do_pad": True},  # pad to a square of the mean colour first
    {"size": {"height": 24, "width": 40}, "crop_size": {"height": 20, "width": 20}, "do_normalize": False},
    {"do_center_crop": False, "size": {"shortest_edge": 16}, "do_rescale": False},
    {},  # CLIP's defaults: 224
]


@pytest.mark.parametrize("options", LLAVA_OPTIONS)
def test_llava_image_processor_matches_reference(options: dict[str, Any]) -> None:
    ours, reference = LlavaImageProcessor(**options), LlavaImageProcessorPil(**options)
    images = random_images(seed=0)
    if options.get("do_pad"):  # transformers pads float images with the 0..255 mean colour too: uint8 only
        images = [image for image in images if not (isinstance(image, np.ndarray) and image.dtype != np.uint8)]
    tensors = None if options.get("do_center_crop") is False else "pt"  # uncropped sizes differ: lists
    for batch in layouts(images):
        assert_same_features(ours(batch, return_tensors=tensors), reference(batch, return_tensors=tensors))


NEXT_OPTIONS = [
    {**SMALL, "image_grid_pinpoints": PINPOINTS},
    {**SMALL, "image_grid_pinpoints": [[28, 56], [84, 28]]},  # tile counts differ: padded to the most
    {**SMALL, "image_grid_pinpoints": [[28, 56], [84, 28]], "do_pad": False},
    {
        "size": {"height": 24, "width": 24},
        "crop_size": {"height": 24, "width": 24},
        "image_grid_pinpoints": [[24, 48]],
    },
    {"size": {"shortest_edge": 20}, "crop_size": {"height": 14, "width": 14}, "image_grid_pinpoints": [[28, 28]]},
]


@pytest.mark.parametrize("options", NEXT_OPTIONS)
def test_llava_next_image_processor_matches_reference(options: dict[str, Any]) -> None:
    ours, reference = LlavaNextImageProcessor(**options), LlavaNextImageProcessorPil(**options)
    tensors = "pt" if options.get("do_pad", True) else None
    for batch in layouts(random_images(seed=1)):
        assert_same_features(ours(batch, return_tensors=tensors), reference(batch, return_tensors=tensors))


def test_llava_next_image_processor_defaults_match_reference() -> None:
    """The checkpoint defaults: 224 tiles on the 336..1008 grid."""
    images = random_images(seed=2)[:3]
    assert_same_features(
        LlavaNextImageProcessor()(images, return_tensors="pt"),
        LlavaNextImageProcessorPil()(images, return_tensors="pt"),
    )


def frames_of(video: Any) -> list[Any]:
    return [video] if isinstance(video, PIL.Image.Image) else list(video)


VIDEO_OPTIONS = [SMALL, {"size": {"shortest_edge": 20}, "crop_size": {"height": 16, "width": 24}}, {}]


@pytest.mark.parametrize("options", VIDEO_OPTIONS)
def test_video_processor_matches_pil_image_path_frame_by_frame(options: dict[str, Any]) -> None:
    """Every input form transformers accepts; each frame as `LlavaImageProcessorPil` processes it."""
    frame_processor = LlavaImageProcessorPil(**options)
    video = random_video(seed=3, frames=3)
    pil_frames = [PIL.Image.fromarray(frame) for frame in video]
    forms = {
        "4-D HWC array": (video, [video]),
        "4-D CHW tensor": (torch.from_numpy(video).permute(0, 3, 1, 2), [video]),
        "list of PIL frames": (pil_frames, [video]),
        "list of arrays": (list(video), [video]),
        "batch of videos": ([video, video[::-1]], [video, video[::-1]]),
        "batch of PIL frame lists": ([pil_frames, pil_frames[:1]], [video, video[:1]]),
        "5-D array": (np.stack([video, video[::-1]]), [video, video[::-1]]),
        "one frame": (video[0], [video[:1]]),
    }
    processor = LlavaNextVideoVideoProcessor(**options)
    for name, (given, expected_videos) in forms.items():
        out = processor(given)["pixel_values_videos"]
        assert len(out) == len(expected_videos), name
        for frames, expected in zip(out, expected_videos, strict=True):
            reference = frame_processor(list(expected), return_tensors="np")["pixel_values"]
            assert frames.dtype == reference.dtype and frames.shape == reference.shape, name
            np.testing.assert_array_equal(frames, reference, err_msg=name)


def test_video_processor_defaults_and_config_match_reference(tmp_path: Path) -> None:
    """Defaults, `video_preprocessor_config.json` both ways, and the batch as one tensor."""
    ReferenceVideoProcessor(size={"shortest_edge": 20}).save_pretrained(tmp_path / "ref")
    loaded = LlavaNextVideoVideoProcessor.from_pretrained(tmp_path / "ref")
    assert loaded.size == {"shortest_edge": 20} and loaded.resample == PIL.Image.Resampling.BICUBIC
    loaded.save_pretrained(tmp_path / "ours")
    name = "video_preprocessor_config.json"
    assert json.loads((tmp_path / "ours" / name).read_text()) == json.loads((tmp_path / "ref" / name).read_text())
    ReferenceVideoProcessor().save_pretrained(tmp_path / "default_ref")
    LlavaNextVideoVideoProcessor().save_pretrained(tmp_path / "default_ours")
    expected = json.loads((tmp_path / "default_ref" / name).read_text())
    assert json.loads((tmp_path / "default_ours" / name).read_text()) == expected
    batch = LlavaNextVideoVideoProcessor(**SMALL)([random_video(4, 2), random_video(5, 2)], return_tensors="pt")
    assert batch["pixel_values_videos"].shape == (2, 2, 3, 28, 28)
    with pytest.raises(ProcessorError, match="do_sample_frames"):
        LlavaNextVideoVideoProcessor(do_sample_frames=True)(random_video(4, 2))


@pytest.mark.parametrize(
    ("ours_class", "reference_class", "options"),
    [
        (LlavaImageProcessor, LlavaImageProcessorPil, {"do_pad": True, "crop_size": {"height": 20, "width": 20}}),
        (LlavaNextImageProcessor, LlavaNextImageProcessorPil, {"image_grid_pinpoints": PINPOINTS}),
    ],
)
def test_image_processor_config_round_trips(
    tmp_path: Path, ours_class: Any, reference_class: Any, options: dict
) -> None:
    reference_class(**options).save_pretrained(tmp_path / "ref")
    loaded = ours_class.from_pretrained(tmp_path / "ref")
    loaded.save_pretrained(tmp_path / "ours")
    name = "preprocessor_config.json"
    assert json.loads((tmp_path / "ours" / name).read_text()) == json.loads((tmp_path / "ref" / name).read_text())
    reloaded = reference_class.from_pretrained(tmp_path / "ours")
    assert {key: getattr(reloaded, key) for key in options} == options


def test_clip_preprocessor_config_of_llava_checkpoints_loads() -> None:
    """llava-hf checkpoints ship CLIP's image processor config: same steps, `do_pad` off."""
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    config = CLIPImageProcessorPil(size={"shortest_edge": 20}, crop_size={"height": 18, "width": 18}).to_dict()
    ours = LlavaImageProcessor.from_dict(config)
    images = random_images(seed=6)
    expected = CLIPImageProcessorPil(size={"shortest_edge": 20}, crop_size={"height": 18, "width": 18})(
        images, return_tensors="pt"
    )
    assert_same_features(ours(images, return_tensors="pt"), expected)


# ---- processors ----


class FrameByFrameVideoProcessor:
    """transformers' documented video steps through its PIL image path, for the reference
    `LlavaNextVideoProcessor` (its own video processor needs torchvision): each video of
    `make_batched_videos` as `LlavaImageProcessorPil` processes its frames."""

    def __init__(self, **options: Any) -> None:
        self.frames = LlavaImageProcessorPil(**options)

    def __call__(self, videos: Any, **kwargs: Any) -> Any:
        batch = [
            self.frames(list(video), return_tensors="np")["pixel_values"] for video in make_batched_videos(videos)
        ]
        return transformers.BatchFeature({"pixel_values_videos": batch}, tensor_type=kwargs.get("return_tensors"))


def without_class_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """transformers checks sub-processor classes through its video processor registry, which is
    unavailable without torchvision: skip that check."""
    monkeypatch.setattr(transformers.ProcessorMixin, "check_argument_for_proper_class", lambda *args: None)


def reference_processor(model: str, monkeypatch: pytest.MonkeyPatch, **options: Any) -> Any:
    kwargs = {"tokenizer": reference_tokenizer(), "patch_size": 14, **options}
    if model == "llava":
        return transformers.LlavaProcessor(image_processor=LlavaImageProcessorPil(**SMALL), **kwargs)
    image_processor = LlavaNextImageProcessorPil(**SMALL, image_grid_pinpoints=PINPOINTS)
    if model == "llava_next":
        return transformers.LlavaNextProcessor(image_processor=image_processor, **kwargs)
    without_class_checks(monkeypatch)
    return transformers.LlavaNextVideoProcessor(
        video_processor=ReferenceVideoProcessor(**SMALL), image_processor=image_processor, **kwargs
    )


OURS = {"llava": LlavaProcessor, "llava_next": LlavaNextProcessor, "llava_next_video": LlavaNextVideoProcessor}


def processor_pair(tmp_path: Path, model: str, monkeypatch: pytest.MonkeyPatch, **options: Any) -> tuple[Any, Any]:
    """(ours loaded from the reference's save_pretrained directory, the reference ready to call)."""
    reference = reference_processor(model, monkeypatch, **options)
    reference.chat_template = CHAT_TEMPLATE
    reference.save_pretrained(tmp_path / model)
    if model == "llava_next_video":
        reference.video_processor = FrameByFrameVideoProcessor(**SMALL)
    return OURS[model].from_pretrained(tmp_path / model), reference


STRATEGIES = [
    {"vision_feature_select_strategy": "default"},
    {"vision_feature_select_strategy": "full"},
    {"vision_feature_select_strategy": "default", "num_additional_image_tokens": 1},  # CLIP's CLS counted
]
PROMPTS = ["USER: What is<image> in this image?<image>", "a red<image><image>cat", "no image at all"]


@pytest.mark.parametrize("model", ["llava", "llava_next", "llava_next_video"])
@pytest.mark.parametrize("options", STRATEGIES)
def test_processor_matches_reference_on_images(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model: str, options: dict[str, Any]
) -> None:
    ours, reference = processor_pair(tmp_path, model, monkeypatch, **options)
    images = random_images(seed=7)
    per_sample = [images[:2], images[2:4], []]
    for padding_side in ("left", "right"):
        kwargs = {"padding": True, "padding_side": padding_side, "return_tensors": "pt"}
        assert_same_features(
            ours(images=per_sample, text=PROMPTS, **kwargs), reference(images=per_sample, text=PROMPTS, **kwargs)
        )
    flat = {"images": images[3:7], "text": PROMPTS, "padding": True, "return_tensors": "pt"}
    assert_same_features(ours(**flat), reference(**flat))
    one = {"images": images[5], "text": "USER:<image>What is it?", "return_tensors": "pt"}
    assert_same_features(ours(**one), reference(**one))
    assert_same_features(
        ours(images=images[:2], return_tensors="pt"), reference(images=images[:2], return_tensors="pt")
    )
    text_only = {"text": ["a red cat", "dog"], "padding": True}
    assert_same_features(ours(**text_only), reference(**text_only))


VIDEO_PROMPTS = ["USER: <video> What is in this video and this image? <image>", "<image> a red <video> cat"]


@pytest.mark.parametrize("frames", [1, 2, 4])
@pytest.mark.parametrize("options", STRATEGIES[:2])
def test_video_processor_matches_reference_on_images_and_videos(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, frames: int, options: dict[str, Any]
) -> None:
    ours, reference = processor_pair(tmp_path, "llava_next_video", monkeypatch, **options)
    images = random_images(seed=8)[:2]
    videos = [random_video(seed=9, frames=frames), random_video(seed=10, frames=frames, height=50, width=20)]
    for padding_side in ("left", "right"):
        kwargs = {"images": images, "videos": videos, "text": VIDEO_PROMPTS, "padding": True}
        assert_same_features(ours(**kwargs, padding_side=padding_side), reference(**kwargs, padding_side=padding_side))
    pil_video = [PIL.Image.fromarray(frame) for frame in videos[0]]  # one video as a list of PIL frames
    one = {"videos": pil_video, "text": "USER: <video> Why is it funny? ASSISTANT:"}
    assert_same_features(ours(**one), reference(**one))
    only_videos = {"videos": torch.from_numpy(videos[1])}
    assert_same_features(ours(**only_videos), reference(**only_videos))


def test_processors_refuse_placeholder_and_media_counts_that_differ(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ours, _ = processor_pair(tmp_path, "llava_next_video", monkeypatch, vision_feature_select_strategy="default")
    images = random_images(seed=11)[:2]
    with pytest.raises(ProcessorError, match="Found total 1 <image> tokens and 2 images"):
        ours(images=images, text="a<image>cat")
    with pytest.raises(ProcessorError, match="Found 1 <video> tokens in the text but no videos were passed"):
        ours(text="a<video>cat")
    with pytest.raises(ProcessorError, match="Found total 0 <video> tokens and 1 videos"):
        ours(videos=random_video(seed=12, frames=2), text="a cat")
    with pytest.raises(ProcessorError, match="Mismatch in <image> token count"):
        ours(images=images[:1], text="a cat <image>", truncation=True, max_length=4)
    with pytest.raises(ProcessorError, match="patch_size"):
        LlavaProcessor(LlavaImageProcessor(**SMALL), ours.tokenizer)(images=images[:1], text="<image>")
    with pytest.raises(ProcessorError, match="vision_feature_select_strategy"):
        LlavaProcessor(LlavaImageProcessor(), ours.tokenizer, patch_size=14, vision_feature_select_strategy="cls")
    with pytest.raises(ProcessorError, match="image_grid_pinpoints holds \\[0, 28\\]"):
        LlavaNextImageProcessor(image_grid_pinpoints=[[28, 56], [0, 28]])
    with pytest.raises(ProcessorError, match="crop_size.height=0 must be an integer"):
        LlavaImageProcessor()(images, crop_size={"height": 0, "width": 5})


@pytest.mark.parametrize("model", ["llava", "llava_next", "llava_next_video"])
def test_processor_configs_match_reference_and_load_both_ways(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model: str
) -> None:
    """processor_config.json as transformers writes it (sub-processors included); ours reload, and
    transformers' AutoProcessor reads ours where it can run (the video processor needs torchvision)."""
    options = {"vision_feature_select_strategy": "default", "num_additional_image_tokens": 1}
    ours, reference = processor_pair(tmp_path, model, monkeypatch, **options)
    ours.save_pretrained(tmp_path / "ours")
    config = json.loads((tmp_path / "ours" / "processor_config.json").read_text())
    assert config == json.loads((tmp_path / model / "processor_config.json").read_text())
    assert (tmp_path / "ours" / "chat_template.jinja").read_text() == CHAT_TEMPLATE
    reloaded = OURS[model].from_pretrained(tmp_path / "ours")
    call = {"images": random_images(seed=13)[:1], "text": "USER:<image>a cat", "return_tensors": "pt"}
    assert_same_features(reloaded(**call), ours(**call))
    if model != "llava_next_video":
        again = transformers.AutoProcessor.from_pretrained(tmp_path / "ours")
        assert type(again).__name__ == type(ours).__name__ and again.num_additional_image_tokens == 1
        assert_same_features(again(**call), ours(**call))


@pytest.mark.parametrize("model", ["llava", "llava_next_video"])
def test_chat_template_with_image_and_video_blocks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model: str
) -> None:
    ours, reference = processor_pair(tmp_path, model, monkeypatch, vision_feature_select_strategy="default")
    image = random_images(seed=14)[3]
    content = [{"type": "text", "text": "What is in"}, {"type": "image", "image": image}]
    if model == "llava_next_video":
        content.append({"type": "video", "video": list(random_video(seed=15, frames=2))})
    conversation = [{"role": "user", "content": content}]
    prompt = ours.apply_chat_template(conversation, add_generation_prompt=True)
    expected = "USER: What is in <image>" + (" <video>" if model == "llava_next_video" else "") + "\nASSISTANT:"
    assert prompt == expected == reference.apply_chat_template(conversation, add_generation_prompt=True)
    tokenized = ours.apply_chat_template(conversation, add_generation_prompt=True, tokenize=True, return_dict=True)
    videos = [content[2]["video"]] if model == "llava_next_video" else None
    direct = ours(text=[prompt], images=[image], videos=videos, return_tensors="pt" if videos else None)
    assert_same_features(tokenized, direct)


def test_decode_matches_reference(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ours, reference = processor_pair(tmp_path, "llava", monkeypatch, vision_feature_select_strategy="full")
    ids = ours(text=["USER:<image>a red cat</s>"], images=random_images(seed=16)[:1])["input_ids"]
    for skip in (False, True):
        assert ours.batch_decode(ids, skip_special_tokens=skip) == reference.batch_decode(
            ids, skip_special_tokens=skip
        )
        assert ours.decode(ids[0], skip_special_tokens=skip) == reference.decode(ids[0], skip_special_tokens=skip)


def test_llava_next_video_image_processor_saves_under_transformers_name(tmp_path: Path) -> None:
    LlavaNextVideoImageProcessor(image_grid_pinpoints=PINPOINTS).save_pretrained(tmp_path)
    config = json.loads((tmp_path / "preprocessor_config.json").read_text())
    assert config["image_processor_type"] == "LlavaNextImageProcessor"
    assert LlavaNextImageProcessorPil.from_pretrained(tmp_path).image_grid_pinpoints == PINPOINTS


GENERATION_TEMPLATE = (
    "{% for message in messages %}{{ message['role'].upper() + ':' }}"
    "{% if message['role'] == 'assistant' %}{% generation %}{% for content in message['content'] %}"
    "{{ ' ' + content['text'] }}{% endfor %}{% endgeneration %}{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'video' %}{{ ' <video>' }}{% elif content['type'] == 'image' %}{{ ' <image>' }}"
    "{% else %}{{ ' ' + content['text'] }}{% endif %}{% endfor %}{% endif %}{{ '\n' }}{% endfor %}"
)


def test_assistant_masks_cover_the_assistant_turn_after_a_video(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ours, _ = processor_pair(tmp_path, "llava_next_video", monkeypatch, vision_feature_select_strategy="default")
    conversation = [
        {"role": "user", "content": [{"type": "video", "video": list(random_video(seed=17, frames=2))}]},
        {"role": "assistant", "content": [{"type": "text", "text": "a red cat"}]},
    ]
    out = ours.apply_chat_template(
        conversation,
        chat_template=GENERATION_TEMPLATE,
        tokenize=True,
        return_dict=True,
        return_assistant_tokens_mask=True,
    )
    masked = [token for token, mask in zip(out["input_ids"][0], out["assistant_masks"][0], strict=True) if mask]
    assert ours.decode(masked) == "a red cat"
    assert out["input_ids"][0].count(ours.video_token_id) == 2  # 2 frames x (2 x 2 patches // 4)


def test_video_frames_named_by_paths_give_the_frames_features(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ours, _ = processor_pair(tmp_path, "llava_next_video", monkeypatch, vision_feature_select_strategy="full")
    video = random_video(seed=18, frames=3)
    paths = []
    for index, frame in enumerate(video):
        paths.append(str(tmp_path / f"frame{index}.png"))
        PIL.Image.fromarray(frame).save(paths[-1])
    text = "USER: <video> a cat"
    assert_same_features(ours(videos=[paths], text=text), ours(videos=[list(video)], text=text))
