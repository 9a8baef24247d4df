# ----------------------------------------------------------------------------------------------------
# This file was generated from modular/modular_llava.py by the modular converter. Do not edit it by hand:
# edit modular/modular_llava.py instead, then regenerate with
#     python converter/run.py modular/modular_llava.py
# ----------------------------------------------------------------------------------------------------

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


class LlavaImageProcessor(BaseImageProcessor):
    """CLIP's preprocessing, which LLaVA checkpoints ship: (optionally) pad to a square of the mean
    colour, resize the shorter edge, centre crop, rescale, normalise, in RGB.

    Matches transformers 5.23.0 `LlavaImageProcessorPil` exactly (and `CLIPImageProcessorPil`, its
    `do_pad=False` case, the `preprocessor_config.json` of llava-hf checkpoints). Output:
    `pixel_values`, one (3, crop height, crop width) image per input image, every sample's images
    in order: (images, 3, H, W) as tensors.
    """

    config_keys = (
        *("do_convert_rgb", "do_resize", "size", "resample", "do_center_crop", "crop_size", "do_rescale"),
        *("rescale_factor", "do_normalize", "image_mean", "image_std", "do_pad"),
    )
    do_resize = True
    size = {"shortest_edge": 224}
    resample = PILImageResampling.BICUBIC
    do_center_crop = True
    crop_size = {"height": 224, "width": 224}
    do_normalize = True
    image_mean = OPENAI_CLIP_MEAN
    image_std = OPENAI_CLIP_STD
    do_pad = False

    def pad_to_square(self, image: ImageArray, background_color: int | tuple[int, ...]) -> ImageArray:
        """(C, H, W) centred on a square canvas of its longer edge, filled with `background_color`."""
        height, width = image.shape[-2:]
        side, start = max(height, width), abs(height - width) // 2
        rows = (start, side - height - start) if width > height else (0, 0)
        columns = (start, side - width - start) if height > width else (0, 0)
        return pad_image(image, (rows, columns), background_color) if height != width else image

    def _preprocess(
        self,
        images: list[list[ImageArray]],
        *,
        do_pad: bool,
        image_mean: list[float],
        return_tensors: str | None = None,
        **options: Any,
    ) -> BatchFeature:
        flat = [image for sample in images for image in sample]
        if do_pad:  # the mean colour in 0..255, whatever the image's range (as transformers does)
            background = tuple(int(value * 255) for value in image_mean) if image_mean else 0
            flat = [self.pad_to_square(image, background) for image in flat]
        pixel_values = [transform_image(image, image_mean=image_mean, **options) for image in flat]
        return BatchFeature({"pixel_values": pixel_values}, tensor_type=return_tensors)


__all__ = ["LlavaImageProcessor"]
