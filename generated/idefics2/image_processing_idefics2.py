# ----------------------------------------------------------------------------------------------------
# This file was generated from modular/modular_idefics2.py by the modular converter. Do not edit it by hand:
# edit modular/modular_idefics2.py instead, then regenerate with
#     python converter/run.py modular/modular_idefics2.py
# ----------------------------------------------------------------------------------------------------

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


class Idefics2ImageProcessor(BaseImageProcessor):
    """Split (optional: 4 crops + the whole image), resize, rescale, normalize, then pad the batch.

    Matches transformers 5.23.0 `Idefics2ImageProcessorPil` (its PIL backend) exactly. Output:
    `pixel_values` (samples, max images per sample, 3, H, W) and `pixel_attention_mask`
    (samples, max images, H, W), 1 on real pixels; missing images are zeros with an all-zero mask.
    """

    config_keys = (
        *("do_convert_rgb", "do_resize", "size", "resample", "do_rescale", "rescale_factor"),
        *("do_normalize", "image_mean", "image_std", "do_pad", "do_image_splitting"),
    )
    model_input_names = ["pixel_values", "pixel_attention_mask"]
    do_resize = True
    size = {"shortest_edge": 378, "longest_edge": 980}
    resample = PILImageResampling.BILINEAR
    do_normalize = True
    image_mean = IMAGENET_STANDARD_MEAN
    image_std = IMAGENET_STANDARD_STD
    do_pad = True
    do_image_splitting = False

    def resize(self, image: ImageArray, size: dict[str, int], resample: int) -> ImageArray:
        if size.get("shortest_edge") and size.get("longest_edge"):
            return resize_image(image, get_resize_output_image_size(*image.shape[-2:], size), resample)
        if size.get("height") and size.get("width"):
            return resize_image(image, (size["height"], size["width"]), resample)
        raise ProcessorError(f"size must hold 'shortest_edge' and 'longest_edge', or 'height' and 'width'; got {size}")

    def split_image(self, image: ImageArray) -> list[ImageArray]:
        """(C, H, W) -> its four quarters (row by row) and the whole image."""
        mid_height, mid_width = image.shape[-2] // 2, image.shape[-1] // 2
        top, bottom = image[:, :mid_height], image[:, mid_height:]
        return [top[..., :mid_width], top[..., mid_width:], bottom[..., :mid_width], bottom[..., mid_width:], image]

    def _preprocess(
        self,
        images: list[list[ImageArray]],
        *,
        do_image_splitting: bool,
        do_resize: bool,
        size: dict[str, int],
        resample: int,
        do_pad: bool,
        return_tensors: str | None = None,
        **options: Any,
    ) -> BatchFeature:
        if do_image_splitting:
            images = [[crop for image in sample for crop in self.split_image(image)] for sample in images]
        if do_resize:
            images = [[self.resize(image, size, resample) for image in sample] for sample in images]
        return self.pad_batch(self.rescale_and_normalize(images, **options), do_pad, return_tensors)

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


__all__ = ["Idefics2ImageProcessor"]
