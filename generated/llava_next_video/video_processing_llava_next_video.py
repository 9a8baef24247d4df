# ----------------------------------------------------------------------------------------------------
# This file was generated from modular/modular_llava_next_video.py by the modular converter. Do not edit it by hand:
# edit modular/modular_llava_next_video.py instead, then regenerate with
#     python converter/run.py modular/modular_llava_next_video.py
# ----------------------------------------------------------------------------------------------------

from typing import Any

from runtime.image_processing_utils import (
    OPENAI_CLIP_MEAN,
    OPENAI_CLIP_STD,
    BatchFeature,
    ImageArray,
    PILImageResampling,
    ProcessorError,
    stack_padded,
)
from runtime.video_processing_utils import BaseVideoProcessor

from .image_processing_llava_next_video import transform_image


class LlavaNextVideoVideoProcessor(BaseVideoProcessor):
    """Each frame through CLIP's steps; `pixel_values_videos`, (frames, 3, H, W) per video. The options,
    defaults and saved config of transformers 5.23.0's (torchvision) `LlavaNextVideoVideoProcessor`;
    the pixels of its PIL image path (`LlavaImageProcessorPil`). No frame sampling: pass the frames.
    """

    config_keys = (
        *("do_convert_rgb", "do_resize", "size", "resample", "do_center_crop", "crop_size", "do_rescale"),
        *("rescale_factor", "do_normalize", "image_mean", "image_std", "do_sample_frames", "return_metadata"),
    )
    do_resize = True
    size = {"shortest_edge": 224}
    resample = PILImageResampling.BICUBIC
    do_center_crop = True
    crop_size = {"height": 224, "width": 224}
    do_normalize = True
    image_mean = OPENAI_CLIP_MEAN
    image_std = OPENAI_CLIP_STD
    do_sample_frames = False
    return_metadata = False

    def _preprocess(
        self,
        videos: list[list[ImageArray]],
        *,
        do_sample_frames: bool,
        return_metadata: bool,
        return_tensors: str | None = None,
        **options: Any,
    ) -> BatchFeature:
        if do_sample_frames or return_metadata:
            raise ProcessorError(f"{type(self).__name__} supports neither do_sample_frames nor return_metadata")
        pixel_values_videos = [
            stack_padded([transform_image(frame, **options) for frame in video], len(video)) for video in videos
        ]
        return BatchFeature({"pixel_values_videos": pixel_values_videos}, tensor_type=return_tensors)


__all__ = ["LlavaNextVideoVideoProcessor"]
