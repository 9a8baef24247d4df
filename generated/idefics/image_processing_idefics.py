# ----------------------------------------------------------------------------------------------------
# This file was generated from modular/modular_idefics.py by the modular converter. Do not edit it by hand:
# edit modular/modular_idefics.py instead, then regenerate with
#     python converter/run.py modular/modular_idefics.py
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
    normalize,
    rescale,
    resize_image,
)


class IdeficsImageProcessor(BaseImageProcessor):
    """Convert to RGB, resize to `size` (`image_size` x `image_size`, bicubic), rescale to [0, 1]
    and normalise with CLIP's mean and std. Matches transformers 5.23.0 `IdeficsImageProcessorPil`:
    its options, its preprocessor_config.json fields and its output, which is the pixel values
    themselves (not a dict), every image of every sample in one flat batch: an (images, 3, H, W)
    tensor with `return_tensors="pt"`, else a list of (3, H, W) arrays.

    `image_size` given when building sets `size` to that square, and `image_size` always reads
    `size["height"]` back; given at a call, `image_size` and `image_num_channels` change nothing,
    as in transformers (`size` resizes). transformers' training-time `transform` is not supported.
    """

    config_keys = (
        *("do_convert_rgb", "do_resize", "size", "resample", "do_rescale", "rescale_factor"),
        *("do_normalize", "image_mean", "image_std", "image_size", "image_num_channels"),
    )
    model_input_names = ["pixel_values"]
    do_resize = True
    size = {"height": 224, "width": 224}
    resample = PILImageResampling.BICUBIC
    do_normalize = True
    image_mean = OPENAI_CLIP_MEAN
    image_std = OPENAI_CLIP_STD
    image_size = 224
    image_num_channels = 3

    def __init__(self, **options: Any) -> None:
        image_size = options.pop("image_size", None)
        if image_size is not None:
            options["size"] = {"height": image_size, "width": image_size}
        super().__init__(**options)
        self.check_size(self.size)
        self.image_size = self.size["height"]

    def check_size(self, size: dict[str, int]) -> None:
        if size.get("height") is None or size.get("width") is None:
            raise ProcessorError(f"{type(self).__name__}: size must hold 'height' and 'width', got {size}")

    def preprocess(self, images: Any, return_tensors: str | None = None, **kwargs: Any) -> Any:
        """The pixel values of `images` (one, a list, or one list per sample), as transformers returns them."""
        return super().preprocess(images, return_tensors=return_tensors, **kwargs)["pixel_values"]

    def _preprocess(
        self,
        images: list[list[ImageArray]],
        *,
        do_resize: bool,
        size: dict[str, int],
        resample: int,
        do_rescale: bool,
        rescale_factor: float,
        do_normalize: bool,
        image_mean: list[float],
        image_std: list[float],
        return_tensors: str | None = None,
        **options: Any,
    ) -> BatchFeature:
        flat = [image for sample in images for image in sample]  # samples are not kept apart
        if do_resize:
            self.check_size(size)
            flat = [resize_image(image, (size["height"], size["width"]), resample) for image in flat]
        if do_rescale:
            flat = [rescale(image, rescale_factor) for image in flat]
        if do_normalize:
            flat = [normalize(image, image_mean, image_std) for image in flat]
        return BatchFeature({"pixel_values": flat}, tensor_type=return_tensors)


__all__ = ["IdeficsImageProcessor"]
