"""Image processors: the base class, the batch output and the NumPy/PIL image operations.

A model's image processor (generated, e.g. `Idefics2ImageProcessor`) declares its defaults as class
attributes and lists them in `config_keys`; this base reads and writes them as the
`preprocessor_config.json` transformers writes, turns every input (PIL image, NumPy array, torch
tensor, or a string naming an image: a path, a URL, base64; one image, a list, or one list per
sample) into channels-first NumPy arrays, and calls the model's
`_preprocess(images, **options, return_tensors=...)` with the options resolved:

    processor = Idefics2ImageProcessor.from_pretrained("path/to/checkpoint")
    batch = processor(images=[[image_a, image_b], [image_c]], return_tensors="pt")
    batch["pixel_values"].shape  # (samples, max images per sample, 3, height, width)

Options and images are untrusted (a checkpoint's preprocessor_config.json, a caller's arrays):
options are checked when a processor is built or loaded and at every call, images before they are
converted (`runtime.image_checks`; the pixel limit is image loading's,
`MODULAR_MODELS_MAX_IMAGE_PIXELS`); a `ProcessorError` names the file or argument and the field.

The operations below reproduce transformers' PIL backend (`PilBackend`, `image_transforms`) step
for step, dtype for dtype, so outputs match it exactly: resizing goes through PIL on uint8 images,
rescaling computes in float64 and stores float32, normalisation works in float32.
"""

from __future__ import annotations

import copy
import enum
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import PIL.Image
import torch

from runtime.hub import read_json_file
from runtime.image_checks import ProcessorError, check_image_options, checked_image
from runtime.image_loading import ImageLoadLimits, fetch_images, is_valid_image

IMAGE_PROCESSOR_NAME = "preprocessor_config.json"
PROCESSOR_NAME = "processor_config.json"
IMAGENET_STANDARD_MEAN = (0.5, 0.5, 0.5)
IMAGENET_STANDARD_STD = (0.5, 0.5, 0.5)
OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)  # CLIP's pixel statistics (IDEFICS, LLaVA)
OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
ImageArray = np.ndarray  # one (C, H, W) image; model files name the type without importing NumPy


class PILImageResampling(enum.IntEnum):
    """PIL's resampling filters, by the numbers `preprocessor_config.json` stores."""

    NEAREST = 0
    LANCZOS = 1
    BILINEAR = 2
    BICUBIC = 3
    BOX = 4
    HAMMING = 5


class BatchFeature(dict):
    """Model inputs by name (`pixel_values`, `input_ids`, ...), readable as attributes.

    `tensor_type="pt"` turns arrays and (nested) lists into torch tensors; `.to(device)` moves
    every tensor and `.to(torch.bfloat16)` casts only floating tensors, so token ids stay int64.
    """

    def __init__(self, data: dict[str, Any] | None = None, tensor_type: str | None = None) -> None:
        super().__init__(data or {})
        self.convert_to_tensors(tensor_type)

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError as error:
            raise AttributeError(name) from error

    def convert_to_tensors(self, tensor_type: str | None) -> BatchFeature:
        if tensor_type is None:
            return self
        if tensor_type not in ("pt", "np"):
            raise ValueError(f"return_tensors={tensor_type!r} is not supported; use 'pt', 'np' or None")
        for key, value in self.items():
            self[key] = _as_tensor(value) if tensor_type == "pt" else np.asarray(value)
        return self

    def to(self, *args: Any, **kwargs: Any) -> BatchFeature:
        for key, value in self.items():
            if isinstance(value, torch.Tensor) and torch.is_floating_point(value):
                self[key] = value.to(*args, **kwargs)
            elif isinstance(value, torch.Tensor):
                device = kwargs.get("device", args[0] if args and not isinstance(args[0], torch.dtype) else None)
                self[key] = value.to(device=device) if device is not None else value
        return self


def _as_tensor(value: Any) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], torch.Tensor):
        return torch.stack(list(value))
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], (np.ndarray, list, tuple)):
        if isinstance(value[0], np.ndarray) or (value[0] and isinstance(value[0][0], np.ndarray)):
            value = np.array(value)
    return torch.from_numpy(value) if isinstance(value, np.ndarray) else torch.tensor(value)


# ---- inputs: any image -> channels-first NumPy ----


def make_nested_list_of_images(images: Any) -> list[list[Any]]:
    """One list of images per sample: an image -> [[image]], a list -> [list], lists stay as they are.

    A 4-D array or tensor counts as a list of 3-D images. `ProcessorError` when there is no image
    at all, or something other than an image where one belongs (saying where).
    """
    if isinstance(images, (list, tuple)) and images and all(isinstance(sample, (list, tuple)) for sample in images):
        if all(all(is_valid_image(image) for image in sample) for sample in images):
            return _nonempty([list(sample) for sample in images])
    if isinstance(images, (list, tuple)) and images and all(is_valid_image(image) for image in images):
        if isinstance(images[0], PIL.Image.Image) or images[0].ndim == 3:
            return [list(images)]
        if images[0].ndim == 4:
            return _nonempty([list(batch) for batch in images])
    if is_valid_image(images):
        return [[images]] if isinstance(images, PIL.Image.Image) or images.ndim == 3 else _nonempty([list(images)])
    raise ProcessorError(
        f"images must be an image, a list of images, or one list of images per sample; {_misplaced(images)}"
    )


def _nonempty(samples: list[list[Any]]) -> list[list[Any]]:
    if not any(samples):
        raise ProcessorError("images holds no image")
    return samples


def _misplaced(images: Any) -> str:
    """Where the first thing that is not an image (or a list of them) sits, in words."""
    if not isinstance(images, (list, tuple)):
        return f"got type {type(images).__name__}"
    if not images:
        return "got an empty list"
    for i, sample in enumerate(images):
        for j, image in enumerate(sample if isinstance(sample, (list, tuple)) else [sample]):
            if not is_valid_image(image):
                where = f"images[{i}][{j}]" if isinstance(sample, (list, tuple)) else f"images[{i}]"
                return f"{where} has type {type(image).__name__}"
    return "it mixes single images and lists of them"


def channels_last(image: np.ndarray) -> bool:
    """Whether a 3-D array is (H, W, C): its last axis holds 1, 3 or 4 channels and its first does not."""
    if image.ndim != 3:
        raise ProcessorError(f"Unsupported number of image dimensions: {image.ndim}")
    if image.shape[0] not in (1, 3, 4) and image.shape[-1] not in (1, 3, 4):
        raise ProcessorError(f"cannot tell the channel axis of an image of shape {image.shape}")
    return image.shape[0] not in (1, 3, 4)


def to_channels_first(image: Any, do_convert_rgb: bool = True) -> np.ndarray:
    """PIL image, array or tensor -> (C, H, W) NumPy array, three channels when `do_convert_rgb`."""
    if isinstance(image, torch.Tensor):
        image = image.numpy()
    if isinstance(image, PIL.Image.Image):
        image = np.array(convert_pil_to_rgb(image) if do_convert_rgb else image)
        return image[None] if image.ndim == 2 else np.moveaxis(image, -1, 0)
    if image.ndim == 2:
        return image[None]
    if channels_last(image):
        image = np.moveaxis(image, -1, 0)
    return convert_array_to_rgb(image) if do_convert_rgb else image


def convert_pil_to_rgb(image: PIL.Image.Image) -> PIL.Image.Image:
    """RGB, compositing any transparency onto white."""
    if "A" in image.getbands() or image.info.get("transparency") is not None:
        image = image.convert("RGBA")
        background = PIL.Image.new("RGBA", image.size, (255, 255, 255, 255))
        return PIL.Image.alpha_composite(background, image).convert("RGB")
    return image.convert("RGB")


def convert_array_to_rgb(image: np.ndarray) -> np.ndarray:
    """(C, H, W) with 1, 3 or 4 channels -> 3 channels; alpha is composited onto white."""
    if image.shape[0] == 1:
        return np.repeat(image, 3, axis=0)
    if image.shape[0] != 4:
        return image
    image = np.moveaxis(image, 0, -1)
    if np.issubdtype(image.dtype, np.floating) and (image.min() < 0.0 or image.max() > 1.0):
        raise ProcessorError(f"an RGBA float image must lie in [0, 1], got [{image.min()}, {image.max()}]")
    white = 255 if np.issubdtype(image.dtype, np.integer) else 1.0
    alpha = image[..., 3:4] / white
    composite = alpha * image[..., :3] + (1 - alpha) * white
    rgb = np.round(composite).astype(image.dtype) if white == 255 else composite.astype(image.dtype)
    return np.moveaxis(rgb, -1, 0)


# ---- operations on one (C, H, W) array ----


def _needs_rescale_for_pil(image: np.ndarray) -> bool:
    """PIL stores uint8: float images in [0, 1] are scaled to [0, 255] first (and back after)."""
    if image.dtype == np.uint8:
        return False
    if np.allclose(image, image.astype(int)):
        if np.all(image >= 0) and np.all(image <= 255):
            return False
        raise ProcessorError(f"cannot resize an image with values outside [0, 255]: [{image.min()}, {image.max()}]")
    if np.all(image >= 0) and np.all(image <= 1):
        return True
    raise ProcessorError(f"cannot resize a float image with values outside [0, 1]: [{image.min()}, {image.max()}]")


def resize_image(
    image: np.ndarray, size: tuple[int, int], resample: int = PIL.Image.Resampling.BILINEAR
) -> np.ndarray:
    """(C, H, W) -> (C, height, width) through PIL, as transformers' PIL backend resizes."""
    height, width = size
    rescaled = _needs_rescale_for_pil(image)
    hwc = np.moveaxis(image, 0, -1)
    hwc = hwc[..., 0] if hwc.shape[-1] == 1 else hwc
    if rescaled:
        hwc = rescale(hwc, 255)
    pil = PIL.Image.fromarray(hwc.astype(np.uint8))
    out = np.array(pil.resize((width, height), resample=resample))
    out = out[..., None] if out.ndim == 2 else out
    out = np.moveaxis(out, -1, 0)
    return rescale(out, 1 / 255) if rescaled else out


def rescale(image: np.ndarray, scale: float) -> np.ndarray:
    """image * scale, computed in float64 and stored as float32."""
    return (image.astype(np.float64) * scale).astype(np.float32)


def normalize(image: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """(image - mean) / std per channel of a (C, H, W) array, in the image's float dtype (float32 otherwise)."""
    if not np.issubdtype(image.dtype, np.floating):
        image = image.astype(np.float32)
    channels = image.shape[0]
    for name, values in (("image_mean", mean), ("image_std", std)):
        if isinstance(values, Sequence) and len(values) not in (1, channels):
            raise ProcessorError(f"{name} has {len(values)} values for an image of {channels} channels")
    mean = np.array(mean if isinstance(mean, Sequence) else [mean] * channels, dtype=image.dtype)
    std = np.array(std if isinstance(std, Sequence) else [std] * channels, dtype=image.dtype)
    return ((image.T - mean) / std).T


def pad_nested_images(images: list[list[np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """One list of (C, H, W) images per sample -> (samples, max images, C, H, W) and the
    (samples, max images, H, W) mask of real pixels: images padded bottom-right to the largest H and
    W, samples padded with all-zero images (all-zero masks) to the most images. The stacking follows
    transformers (a list of arrays through `np.array`), so dtypes match it too."""
    max_images = max(len(sample) for sample in images)
    height = max(image.shape[-2] for sample in images for image in sample)
    width = max(image.shape[-1] for sample in images for image in sample)
    channels = next(image.shape[0] for sample in images for image in sample)
    pixel_values = [[np.zeros((channels, height, width), dtype=np.float32)] * max_images for _ in images]
    masks = [[np.zeros((height, width), dtype=np.int64)] * max_images for _ in images]
    for i, sample in enumerate(images):
        for j, image in enumerate(sample):
            pixel_values[i][j], masks[i][j] = pad_bottom_right(image, (height, width))
    return np.array(pixel_values), np.array(masks)


def pad_bottom_right(image: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Zero-pad (C, H, W) at the bottom and right to `size`; also the (height, width) int64 mask of real pixels."""
    height, width = image.shape[-2:]
    if size[0] < height or size[1] < width:
        raise ProcessorError(f"cannot pad an image of size {(height, width)} to the smaller size {size}")
    mask = np.zeros(size, dtype=np.int64)
    mask[:height, :width] = 1
    if (height, width) != tuple(size):
        image = np.pad(image, ((0, 0), (0, size[0] - height), (0, size[1] - width)), mode="constant")
    return image, mask


def center_crop(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The centred (C, height, width) window of a (C, H, W) image; where the image is smaller than
    `size` it is first zero-padded around its centre (transformers' `image_transforms.center_crop`)."""
    orig_height, orig_width = image.shape[-2:]
    crop_height, crop_width = int(size[0]), int(size[1])
    top, left = (orig_height - crop_height) // 2, (orig_width - crop_width) // 2
    if top >= 0 and left >= 0:
        return image[..., top : top + crop_height, left : left + crop_width]
    new_height, new_width = max(crop_height, orig_height), max(crop_width, orig_width)
    padded = np.zeros_like(image, shape=(*image.shape[:-2], new_height, new_width))
    top_pad, left_pad = -(-(new_height - orig_height) // 2), -(-(new_width - orig_width) // 2)  # ceil
    padded[..., top_pad : top_pad + orig_height, left_pad : left_pad + orig_width] = image
    top, left = top + top_pad, left + left_pad
    rows = slice(max(0, top), min(new_height, top + crop_height))
    return padded[..., rows, max(0, left) : min(new_width, left + crop_width)]


def pad_image(
    image: np.ndarray, padding: tuple[tuple[int, int], tuple[int, int]], fill: float | Sequence[float] = 0
) -> np.ndarray:
    """(C, H, W) padded by ((top, bottom), (left, right)) pixels, dtype kept; the new pixels hold
    `fill`, one number or one per channel (padding a LLaVA image to a square of its mean colour)."""
    (top, bottom), (left, right) = padding
    channels, height, width = image.shape
    fill = list(fill) if isinstance(fill, Sequence) else [fill] * channels
    if len(fill) != channels:
        raise ProcessorError(f"a fill of {len(fill)} values for an image of {channels} channels")
    padded = np.zeros((channels, top + height + bottom, left + width + right), dtype=image.dtype)
    for channel, value in enumerate(fill):
        padded[channel] = value
    padded[:, top : top + height, left : left + width] = image
    return padded


def stack_padded(arrays: Sequence[np.ndarray], length: int) -> np.ndarray:
    """Same-shape arrays stacked on a new first axis, then zero arrays appended up to `length`
    (dtype kept): the patches of one image padded to the batch's largest patch count."""
    stacked = np.array(arrays)
    return np.pad(stacked, ((0, length - len(arrays)),) + ((0, 0),) * (stacked.ndim - 1), mode="constant")


# ---- the base class ----


class BaseImageProcessor:
    """Options as class attributes named in `config_keys`; `__init__(**options)` overrides them per instance."""

    config_keys: ClassVar[tuple[str, ...]] = ("do_convert_rgb", "do_rescale", "rescale_factor")
    call_only_keys: ClassVar[tuple[str, ...]] = ()  # options a call may pass that are never saved
    model_input_names: ClassVar[list[str]] = ["pixel_values"]
    do_convert_rgb: bool = True
    do_rescale: bool = True
    rescale_factor: float = 1 / 255

    def __init__(self, **options: Any) -> None:
        unknown = sorted(set(options) - set(self.config_keys))
        if unknown:
            raise ProcessorError(
                f"{type(self).__name__} got unknown options {_listed(unknown)}; valid: {list(self.config_keys)}"
            )
        for key in self.config_keys:
            value = options.get(key)
            setattr(self, key, copy.deepcopy(getattr(type(self), key) if value is None else value))
        check_image_options({key: getattr(self, key) for key in self.config_keys}, f"{type(self).__name__}(...)")

    def __call__(self, images: Any, **kwargs: Any) -> BatchFeature:
        return self.preprocess(images, **kwargs)

    def preprocess(self, images: Any, return_tensors: str | None = None, **kwargs: Any) -> BatchFeature:
        """Images as one list per sample of (C, H, W) arrays, then the model's `_preprocess` with every option."""
        keys = (*self.config_keys, *self.call_only_keys)
        unknown = sorted(set(kwargs) - set(keys))
        if unknown:
            raise ProcessorError(f"{type(self).__name__} got unknown options {_listed(unknown)}; valid: {list(keys)}")
        options = {key: getattr(self, key) if kwargs.get(key) is None else kwargs[key] for key in keys}
        check_image_options(options, f"{type(self).__name__} options")
        nested = make_nested_list_of_images(fetch_images(images))
        max_pixels = ImageLoadLimits.from_env().max_pixels
        rgb = options["do_convert_rgb"]
        arrays = [
            [
                to_channels_first(checked_image(image, f"images[{i}][{j}]", max_pixels), rgb)
                for j, image in enumerate(sample)
            ]
            for i, sample in enumerate(nested)
        ]
        return self._preprocess(arrays, return_tensors=return_tensors, **options)

    def _preprocess(self, images: list[list[np.ndarray]], **options: Any) -> BatchFeature:
        raise NotImplementedError(f"{type(self).__name__} must define _preprocess")

    # ---- preprocessor_config.json ----

    def to_dict(self) -> dict[str, Any]:
        config = {key: copy.deepcopy(getattr(self, key)) for key in self.config_keys}
        for key, value in config.items():
            if isinstance(value, tuple):
                config[key] = list(value)
        return {**config, "image_processor_type": type(self).__name__}

    @classmethod
    def from_dict(cls, config: dict[str, Any], source: str = "image processor config") -> BaseImageProcessor:
        """Keys this class does not know (`processor_class`, ...) are ignored, as transformers does;
        the others are checked (`check_image_options`), errors naming `source`."""
        if not isinstance(config, dict):
            raise ProcessorError(f"{source} must be a JSON object, got {type(config).__name__}")
        options = {key: value for key, value in config.items() if key in cls.config_keys}
        defaults = {key: getattr(cls, key) for key in cls.config_keys}
        given = {key: value for key, value in options.items() if value is not None}
        check_image_options({**defaults, **given}, source)  # here, to name the file
        return cls(**options)

    def save_pretrained(self, save_directory: str | os.PathLike) -> None:
        Path(save_directory).mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"
        (Path(save_directory) / IMAGE_PROCESSOR_NAME).write_text(text, encoding="utf-8")

    @classmethod
    def from_pretrained(cls, path_or_repo_id: str | os.PathLike, **hub_kwargs: Any) -> BaseImageProcessor:
        """From `preprocessor_config.json`, else the `image_processor` entry of `processor_config.json`
        (where transformers 5 writes it when saving a whole processor)."""
        config = read_json_file(path_or_repo_id, IMAGE_PROCESSOR_NAME, error=ProcessorError, **hub_kwargs)
        if config is not None:
            return cls.from_dict(config, str(Path(str(path_or_repo_id), IMAGE_PROCESSOR_NAME)))
        config = read_json_file(path_or_repo_id, PROCESSOR_NAME, error=ProcessorError, **hub_kwargs) or {}
        if "image_processor" not in config:
            raise FileNotFoundError(f"{path_or_repo_id} has no {IMAGE_PROCESSOR_NAME} nor an image processor entry")
        return cls.from_dict(
            config["image_processor"], f"{Path(str(path_or_repo_id), PROCESSOR_NAME)}: image_processor"
        )


def _listed(names: list[str], shown: int = 10) -> str:
    more = f" ... and {len(names) - shown} more" if len(names) > shown else ""
    return f"{[name[:40] for name in names[:shown]]}{more}"
