"""Checks on image-processor options and on images, before anything is sized by them.

Options come from a checkpoint's preprocessor_config.json (or processor_config.json) or from a
call, images from a caller; both are untrusted. `check_image_options` refuses options of the
wrong type or out of range (an edge above `MAX_IMAGE_EDGE`, a tile grid of more than
`MAX_TILES_PER_SIDE` tiles per side, a zero `image_std`, an unknown resampling filter, ...);
`checked_image` refuses images without pixels, above a pixel limit, of the wrong rank or dtype, or
holding NaN or infinity. Both raise a `ProcessorError` (a ValueError) naming the file or argument
and the field:

    check_image_options({"size": {"longest_edge": 10**9}}, "ckpt/preprocessor_config.json")
    # ProcessorError: ckpt/preprocessor_config.json: size.longest_edge=1000000000 must be an integer between 1 and 8192
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import PIL.Image
import torch

from runtime.messages import described

MAX_IMAGE_EDGE = 8192  # pixels, any edge an option resizes to (transformers' Idefics3 caps images at 4096)
MAX_TILES_PER_SIDE = 64  # size / max_image_size: tiles a split image may have per side (Idefics3: 4)
SIZE_OPTIONS = ("size", "max_image_size")
SIZE_OPTIONS += ("crop_size",)  # LLaVA and CLIP: the centre crop's height and width
RESAMPLE_FILTERS = (0, 1, 2, 3, 4, 5)  # PILImageResampling: the filters transformers saves


class ProcessorError(ValueError):
    """A processor or image-processor option, config file or call argument that cannot be used;
    the message names the file or argument and the field."""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _size_problem(key: str, size: Any) -> str | None:
    if not isinstance(size, dict):
        return f"{key} must be a dict of edges (height, width, shortest_edge, longest_edge), got {type(size).__name__}"
    for edge, value in size.items():
        if value is not None and not (_is_int(value) and 1 <= value <= MAX_IMAGE_EDGE):
            return f"{key}.{edge}={described(value)} must be an integer between 1 and {MAX_IMAGE_EDGE}"
    if key == "max_image_size" and size.get("longest_edge") is None:
        return "max_image_size must hold 'longest_edge'"
    return None


def _option_problem(key: str, value: Any) -> str | None:
    """What is wrong with one image-processor option, or None."""
    if key.startswith(("do_", "return_")) and not isinstance(value, bool):
        return f"{key} must be true or false, got {described(value)}"
    if key in SIZE_OPTIONS:
        return _size_problem(key, value)
    if key == "rescale_factor" and not (_is_real(value) and value > 0):
        return f"rescale_factor must be a positive number, got {described(value)}"
    if key in ("image_mean", "image_std"):
        values = value if isinstance(value, (list, tuple)) else [value]
        if not 1 <= len(values) <= 4 or not all(_is_real(item) for item in values):
            return f"{key} must be a number or a list of 1 to 4 numbers"
        if key == "image_std" and any(item == 0 for item in values):
            return "image_std must not be zero (it divides)"
    if key == "resample" and not (_is_int(value) and value in RESAMPLE_FILTERS):
        return f"resample must be one of PIL's filters {list(RESAMPLE_FILTERS)}, got {described(value)}"
    if key == "image_grid_pinpoints":
        return _pinpoints_problem(value)
    return None


def _pinpoints_problem(pinpoints: Any) -> str | None:
    """LLaVA-NeXT's anyres grid: a non-empty list of [height, width] resolutions."""
    if not isinstance(pinpoints, (list, tuple)) or not pinpoints:
        return f"image_grid_pinpoints must be a non-empty list of [height, width] pairs, got {described(pinpoints)}"
    for pair in pinpoints:
        edges = pair if isinstance(pair, (list, tuple)) and len(pair) == 2 else [None]
        if not all(_is_int(edge) and 1 <= edge <= MAX_IMAGE_EDGE for edge in edges):
            return f"image_grid_pinpoints holds {described(pair)}, not [height, width] integers between 1 and {MAX_IMAGE_EDGE}"
    return None


def check_image_options(options: dict[str, Any], source: str) -> None:
    """`ProcessorError` naming `source` for an option of the wrong type or out of range, or a tile
    grid (`size` over `max_image_size`) of more than `MAX_TILES_PER_SIDE` tiles per side."""
    for key, value in options.items():
        if value is not None and (problem := _option_problem(key, value)):
            raise ProcessorError(f"{source}: {problem}")
    size, tile = options.get("size"), (options.get("max_image_size") or {}).get("longest_edge")
    if isinstance(size, dict) and _is_int(tile):
        largest = max((value for value in size.values() if _is_int(value)), default=0)
        if largest > MAX_TILES_PER_SIDE * tile:
            raise ProcessorError(
                f"{source}: size up to {largest} with max_image_size.longest_edge={tile} would split an image into "
                f"more than {MAX_TILES_PER_SIDE}x{MAX_TILES_PER_SIDE} tiles"
            )


def checked_image(image: Any, where: str, max_pixels: int) -> Any:
    """`image` (a tensor as a NumPy array) when it can be processed: a PIL image, or a 2-D or 3-D
    integer or float array, with pixels, at most `max_pixels` of them, and finite values;
    `ProcessorError` naming `where` (e.g. 'images[0][1]') otherwise."""
    if isinstance(image, torch.Tensor):
        if image.device.type == "meta" or image.layout != torch.strided:
            raise ProcessorError(f"{where}: a {image.device.type} {image.layout} tensor holds no readable pixels")
        image = image.detach().cpu()
        image = (image.float() if image.dtype == torch.bfloat16 else image).numpy()
    if isinstance(image, PIL.Image.Image):
        width, height = image.size
    else:
        if image.ndim not in (2, 3):
            raise ProcessorError(f"{where}: an image has 2 or 3 dimensions, got shape {image.shape}")
        if image.dtype.kind not in "uif":
            raise ProcessorError(f"{where}: pixels must be integers or floats, got dtype {image.dtype}")
        channels_first = image.ndim == 3 and image.shape[0] in (1, 3, 4)
        height, width = image.shape[-2:] if channels_first else image.shape[:2]
    if width <= 0 or height <= 0:
        raise ProcessorError(f"{where}: the image has no pixels ({width}x{height})")
    if width * height > max_pixels:
        raise ProcessorError(f"{where}: {width}x{height} pixels, more than the {max_pixels} accepted")
    if not isinstance(image, PIL.Image.Image) and image.dtype.kind == "f" and not np.isfinite(image).all():
        raise ProcessorError(f"{where}: the image holds NaN or infinite values")
    return image
