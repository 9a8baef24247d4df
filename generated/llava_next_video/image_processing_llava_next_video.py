# ----------------------------------------------------------------------------------------------------
# This file was generated from modular/modular_llava_next_video.py by the modular converter. Do not edit it by hand:
# edit modular/modular_llava_next_video.py instead, then regenerate with
#     python converter/run.py modular/modular_llava_next_video.py
# ----------------------------------------------------------------------------------------------------

import math
from typing import Any

from runtime.image_processing_utils import (
    OPENAI_CLIP_MEAN,
    OPENAI_CLIP_STD,
    BaseImageProcessor,
    BatchFeature,
    ImageArray,
    PILImageResampling,
    ProcessorError,
    center_crop,
    normalize,
    pad_image,
    rescale,
    resize_image,
    stack_padded,
)


def get_resize_output_image_size(height: int, width: int, size: dict[str, int]) -> tuple[int, int]:
    """The (height, width) `size` asks for: `height` and `width` as given, or the shorter edge at
    `shortest_edge` with the aspect ratio kept and the longer edge truncated (transformers'
    `get_resize_output_image_size(..., default_to_square=False)`)."""
    if size.get("height") and size.get("width") and not size.get("shortest_edge"):
        return size["height"], size["width"]
    if not size.get("shortest_edge") or size.get("longest_edge"):
        raise ProcessorError(f"size must hold 'shortest_edge', or 'height' and 'width'; got {size}")
    short, long = (width, height) if width <= height else (height, width)
    new_short, new_long = size["shortest_edge"], int(size["shortest_edge"] * long / short)
    return (new_long, new_short) if width <= height else (new_short, new_long)


def transform_image(
    image: ImageArray,
    *,
    do_resize: bool,
    size: dict[str, int],
    resample: int,
    do_center_crop: bool,
    crop_size: dict[str, int],
    do_rescale: bool,
    rescale_factor: float,
    do_normalize: bool,
    image_mean: list[float],
    image_std: list[float],
    **options: Any,
) -> ImageArray:
    """One (C, H, W) image, anyres tile or video frame through CLIP's steps: resize, centre crop,
    rescale, normalise (transformers' PIL backend, step for step)."""
    if do_resize:
        image = resize_image(image, get_resize_output_image_size(*image.shape[-2:], size), resample)
    if do_center_crop:
        if not crop_size.get("height") or not crop_size.get("width"):
            raise ProcessorError(f"crop_size must hold 'height' and 'width'; got {crop_size}")
        image = center_crop(image, (crop_size["height"], crop_size["width"]))
    if do_rescale:
        image = rescale(image, rescale_factor)
    if do_normalize:
        image = normalize(image, image_mean, image_std)
    return image


def select_best_resolution(original_size: tuple[int, int], possible_resolutions: list) -> tuple[int, int]:
    """The (height, width) among `possible_resolutions` that keeps the most of the image once it is
    scaled to fit (aspect ratio kept), and wastes the least area among those."""
    original_height, original_width = original_size
    best_fit, max_effective, min_wasted = None, 0, float("inf")
    for height, width in possible_resolutions:
        scale = min(width / original_width, height / original_height)
        downscaled_width, downscaled_height = int(original_width * scale), int(original_height * scale)
        effective = min(downscaled_width * downscaled_height, original_width * original_height)
        wasted = width * height - effective
        if effective > max_effective or (effective == max_effective and wasted < min_wasted):
            best_fit, max_effective, min_wasted = (height, width), effective, wasted
    return best_fit


def get_patch_output_size(height: int, width: int, target_resolution: tuple[int, int]) -> tuple[int, int]:
    """The (height, width) an image takes inside `target_resolution` when scaled to fit it, aspect kept."""
    target_height, target_width = target_resolution
    scale_width, scale_height = target_width / width, target_height / height
    if scale_width < scale_height:
        return min(math.ceil(height * scale_width), target_height), target_width
    return target_height, min(math.ceil(width * scale_height), target_width)


class LlavaNextVideoImageProcessor(BaseImageProcessor):
    """LLaVA-NeXT's image processor, saved under transformers' name for it (the one its
    `LlavaNextVideoProcessor` loads)."""

    config_keys = (
        *("do_convert_rgb", "do_resize", "size", "resample", "do_center_crop", "crop_size", "do_rescale"),
        *("rescale_factor", "do_normalize", "image_mean", "image_std", "do_pad", "image_grid_pinpoints"),
    )
    do_resize = True
    size = {"shortest_edge": 224}
    resample = PILImageResampling.BICUBIC
    do_center_crop = True
    crop_size = {"height": 224, "width": 224}
    do_normalize = True
    image_mean = OPENAI_CLIP_MEAN
    image_std = OPENAI_CLIP_STD
    do_pad = True
    model_input_names = ["pixel_values", "image_sizes"]
    image_grid_pinpoints = [[336, 672], [672, 336], [672, 672], [1008, 336], [336, 1008]]

    def _preprocess(
        self,
        images: list[list[ImageArray]],
        *,
        image_grid_pinpoints: list[list[int]],
        size: dict[str, int],
        resample: int,
        do_pad: bool,
        return_tensors: str | None = None,
        **options: Any,
    ) -> BatchFeature:
        base_size = (size["height"], size["width"]) if size.get("height") and size.get("width") else None
        base_size = base_size or (size["shortest_edge"], size["shortest_edge"])
        tile = (options["crop_size"] or {}).get("height") or size.get("height") or size["shortest_edge"]
        flat = [image for sample in images for image in sample]
        pixel_values = [
            [
                transform_image(patch, size=size, resample=resample, **options)
                for patch in self.get_image_patches(image, image_grid_pinpoints, base_size, tile, resample)
            ]
            for image in flat
        ]
        most = max(len(patches) for patches in pixel_values)
        pixel_values = [stack_padded(patches, most if do_pad else len(patches)) for patches in pixel_values]
        data = {"pixel_values": pixel_values, "image_sizes": [image.shape[-2:] for image in flat]}
        return BatchFeature(data, tensor_type=return_tensors)

    def get_image_patches(
        self, image: ImageArray, grid_pinpoints: list[list[int]], size: tuple[int, int], tile: int, resample: int
    ) -> list[ImageArray]:
        """[the image resized to `size`, then the `tile` x `tile` tiles of the image fitted into its
        best grid resolution and centred on it (zero padding), row by row]."""
        best_resolution = select_best_resolution(image.shape[-2:], grid_pinpoints)
        resized = resize_image(image, get_patch_output_size(*image.shape[-2:], best_resolution), resample)
        height, width = get_patch_output_size(*resized.shape[-2:], best_resolution)  # again, as transformers
        top, bottom = divmod(best_resolution[0] - height, 2)
        left, right = divmod(best_resolution[1] - width, 2)
        padded = pad_image(resized, ((top, top + bottom), (left, left + right)))
        tiles = [
            padded[:, row : row + tile, column : column + tile]
            for row in range(0, padded.shape[-2], tile)
            for column in range(0, padded.shape[-1], tile)
        ]
        return [resize_image(image, size, resample), *tiles]

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "image_processor_type": "LlavaNextImageProcessor"}


__all__ = ["LlavaNextVideoImageProcessor"]
