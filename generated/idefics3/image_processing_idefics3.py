# ----------------------------------------------------------------------------------------------------
# This file was generated from modular/modular_idefics3.py by the modular converter. Do not edit it by hand:
# edit modular/modular_idefics3.py instead, then regenerate with
#     python converter/run.py modular/modular_idefics3.py
# ----------------------------------------------------------------------------------------------------

import math
from typing import Any

from runtime.image_processing_utils import (
    IMAGENET_STANDARD_MEAN,
    IMAGENET_STANDARD_STD,
    BaseImageProcessor,
    BatchFeature,
    ImageArray,
    PILImageResampling,
    ProcessorError,
    normalize,
    pad_nested_images,
    rescale,
    resize_image,
)


def get_resize_output_image_size(height: int, width: int, size: dict[str, int]) -> tuple[int, int]:
    """Shrink the longest edge to `longest_edge` (aspect ratio kept), then raise each edge to `shortest_edge`."""
    aspect_ratio = width / height
    if width >= height and width > size["longest_edge"]:
        width = size["longest_edge"]
        height = int(width / aspect_ratio)
    elif height > width and height > size["longest_edge"]:
        height = size["longest_edge"]
        width = int(height * aspect_ratio)
    return max(height, size["shortest_edge"]), max(width, size["shortest_edge"])


MAX_IMAGE_SIZE = 4096  # 4k resolution as absolute maximum


def get_resize_output_size_for_longest_edge(height: int, width: int, longest_edge: int) -> tuple[int, int]:
    """Scale the longest edge to `longest_edge` (aspect ratio kept, the other edge rounded up to even),
    then shrink to fit within MAX_IMAGE_SIZE."""
    aspect_ratio = width / height
    if width >= height:
        width, height = longest_edge, int(longest_edge / aspect_ratio)
        height += height % 2
    else:
        height, width = longest_edge, int(longest_edge * aspect_ratio)
        width += width % 2
    bound = {"longest_edge": MAX_IMAGE_SIZE, "shortest_edge": 1}
    return get_resize_output_image_size(max(height, 1), max(width, 1), bound)


class Idefics3ImageProcessor(BaseImageProcessor):
    """Resize the longest edge to `size["longest_edge"]`, then (splitting) to multiples of
    `max_image_size` cut into a grid of tiles plus the whole image shrunk to one tile, or (not
    splitting) to one square tile; rescale, normalize, pad the batch. Matches transformers 5.23.0
    `Idefics3ImageProcessorPil` (its PIL backend) exactly; `return_row_col_info=True` adds each
    image's grid as `rows` and `cols`.
    """

    config_keys = (
        *("do_convert_rgb", "do_resize", "size", "resample", "do_rescale", "rescale_factor", "do_normalize"),
        *("image_mean", "image_std", "do_pad", "do_image_splitting", "max_image_size"),
    )
    model_input_names = ["pixel_values", "pixel_attention_mask"]
    do_resize = True
    size = {"longest_edge": 4 * 364}
    resample = PILImageResampling.LANCZOS
    do_normalize = True
    image_mean = IMAGENET_STANDARD_MEAN
    image_std = IMAGENET_STANDARD_STD
    do_pad = True
    do_image_splitting = True
    call_only_keys = ("return_row_col_info",)
    max_image_size = {"longest_edge": 364}
    return_row_col_info = False

    def resize(self, image: ImageArray, size: dict[str, int], resample: int) -> ImageArray:
        if size.get("longest_edge"):
            new_size = get_resize_output_size_for_longest_edge(*image.shape[-2:], size["longest_edge"])
            return resize_image(image, new_size, resample)
        if size.get("height") and size.get("width"):
            return resize_image(image, (size["height"], size["width"]), resample)
        raise ProcessorError(f"size must hold 'longest_edge', or 'height' and 'width'; got {size}")

    def split_image(self, image: ImageArray, tile: int, resample: int) -> tuple[list[ImageArray], int, int]:
        """(C, H, W) -> its tiles row by row and the whole image resized to one tile; and the grid's rows, cols.
        An image no larger than a tile stays whole, with a (0, 0) grid."""
        height, width = image.shape[-2:]
        if height <= tile and width <= tile:
            return [image], 0, 0
        rows, cols = (height - tile) // tile + 1, (width - tile) // tile + 1
        frames = [
            image[:, r * tile : (r + 1) * tile, c * tile : (c + 1) * tile] for r in range(rows) for c in range(cols)
        ]
        return [*frames, self.resize(image, {"height": tile, "width": tile}, resample)], rows, cols

    def _preprocess(
        self,
        images: list[list[ImageArray]],
        *,
        do_image_splitting: bool,
        do_resize: bool,
        size: dict[str, int],
        resample: int,
        max_image_size: dict[str, int],
        do_pad: bool,
        return_row_col_info: bool = False,
        return_tensors: str | None = None,
        **options: Any,
    ) -> BatchFeature:
        tile = max_image_size["longest_edge"]
        if do_resize:
            images = [[self.resize(image, size, resample) for image in sample] for sample in images]
        if do_image_splitting:
            images = [[self.resize_for_vision_encoder(image, tile, resample) for image in sample] for sample in images]
            splits = [[self.split_image(image, tile, resample) for image in sample] for sample in images]
            images = [[frame for frames, _, _ in sample for frame in frames] for sample in splits]
            rows = [[rows for _, rows, _ in sample] for sample in splits]
            cols = [[cols for _, _, cols in sample] for sample in splits]
        else:
            square = {"height": tile, "width": tile}
            images = [[self.resize(image, square, resample) for image in sample] for sample in images]
            rows = cols = [[0] * len(sample) for sample in images]
        encoding = self.pad_batch(self.rescale_and_normalize(images, **options), do_pad, return_tensors)
        if return_row_col_info:
            encoding["rows"], encoding["cols"] = rows, cols
        return encoding

    def rescale_and_normalize(
        self,
        images: list[list[ImageArray]],
        *,
        do_rescale: bool,
        rescale_factor: float,
        do_normalize: bool,
        image_mean: list[float],
        image_std: list[float],
        **options: Any,
    ) -> list[list[ImageArray]]:
        if do_rescale:
            images = [[rescale(image, rescale_factor) for image in sample] for sample in images]
        if do_normalize:
            images = [[normalize(image, image_mean, image_std) for image in sample] for sample in images]
        return images

    def pad_batch(self, images: list[list[ImageArray]], do_pad: bool, return_tensors: str | None) -> BatchFeature:
        """Pad each sample to the most images per sample and each image (bottom-right) to the largest H and W."""
        if not do_pad:
            return BatchFeature({"pixel_values": images}, tensor_type=return_tensors)
        pixel_values, pixel_attention_mask = pad_nested_images(images)
        data = {"pixel_values": pixel_values, "pixel_attention_mask": pixel_attention_mask}
        return BatchFeature(data, tensor_type=return_tensors)

    def resize_for_vision_encoder(self, image: ImageArray, tile: int, resample: int) -> ImageArray:
        """Round both edges up to multiples of `tile`, the longer one first (aspect ratio kept in between)."""
        height, width = image.shape[-2:]
        aspect_ratio = width / height
        if width >= height:
            width = math.ceil(width / tile) * tile
            height = math.ceil(int(width / aspect_ratio) / tile) * tile
        else:
            height = math.ceil(height / tile) * tile
            width = math.ceil(int(height * aspect_ratio) / tile) * tile
        return self.resize(image, {"height": height, "width": width}, resample)


__all__ = ["Idefics3ImageProcessor"]
