"""LLaVA-NeXT-Video: LLaVA-NeXT that also reads videos. Each frame goes through the vision tower
as an image would (no tiling), its patch features are pooled spatially (`LlavaNextVideoPooler`:
average, max or a strided convolution, `spatial_pool_stride`), projected, and written over the
`<video>` tokens; images and videos may share one prompt.

Built on LLaVA-NeXT: it adds the pooler, `get_video_features`, the video half of `forward` and
the video fields of the config and outputs.
"""

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from generated.llava_next.configuration_llava_next import LlavaNextConfig
from generated.llava_next.image_processing_llava_next import LlavaNextImageProcessor, transform_image
from generated.llava_next.modeling_llava_next import LlavaNextForConditionalGeneration, LlavaNextModel
from generated.llava_next.processing_llava_next import LlavaNextProcessor
from runtime.cache import Cache
from runtime.image_processing_utils import (
    OPENAI_CLIP_MEAN,
    OPENAI_CLIP_STD,
    BatchFeature,
    ImageArray,
    PILImageResampling,
    ProcessorError,
    stack_padded,
)
from runtime.outputs import BaseModelOutputWithPooling, ImageTextCausalLMOutputWithPast, ImageTextModelOutputWithPast
from runtime.processing_utils import check_image_tokens
from runtime.tokenization_utils import Tokenizer
from runtime.video_processing_utils import BaseVideoProcessor, VideoProcessorMixin


class LlavaNextVideoConfig(LlavaNextConfig):
    """LLaVA-NeXT's, plus the video token and the pooling of each frame's patch grid
    (`spatial_pool_mode` "average", "max" or "conv"; `spatial_pool_stride`)."""

    model_type = "llava_next_video"
    attribute_map = {"image_token_id": "image_token_index", "video_token_id": "video_token_index"}

    image_token_index: int = 32001
    video_token_index: int = 32000
    spatial_pool_mode: str = "average"
    spatial_pool_stride: int = 2
    video_seq_length: int = 288

    def derive(self) -> None:
        super().derive()
        # as transformers: older checkpoints say `tie_word_embeddings` in the text config only
        if not self.tie_word_embeddings and self.text_config.tie_word_embeddings:
            self.tie_word_embeddings = True

    def validate(self) -> None:
        super().validate()
        if self.spatial_pool_mode not in ("average", "max", "conv"):
            raise ValueError(f"spatial_pool_mode={self.spatial_pool_mode!r} must be 'average', 'max' or 'conv'")


@dataclass
class LlavaNextVideoModelOutputWithPast(ImageTextModelOutputWithPast):
    """Plus the merged video tokens, flattened to one dimension as transformers 5.23 returns them."""

    video_hidden_states: torch.Tensor | None = None


@dataclass
class LlavaNextVideoCausalLMOutputWithPast(ImageTextCausalLMOutputWithPast):
    """Plus the merged video tokens, flattened to one dimension as transformers 5.23 returns them."""

    video_hidden_states: torch.Tensor | None = None


class LlavaNextVideoPooler(nn.Module):
    """(frames, side * side, Dv) -> (frames, (side / stride)^2, Dv') pooled over the patch grid: an
    average, a max, or a strided convolution (`vision_resampler.pool.*`, Dv' = `spatial_pool_out_channels`)."""

    def __init__(self, config: LlavaNextVideoConfig) -> None:
        super().__init__()
        mode, stride = config.spatial_pool_mode, config.spatial_pool_stride
        hidden_size = config.vision_config.hidden_size
        if mode == "conv":
            out_channels = getattr(config, "spatial_pool_out_channels", hidden_size)
            self.pool = nn.Conv2d(hidden_size, out_channels, kernel_size=stride, stride=stride)
        else:  # the config checks the mode
            self.pool = {"average": nn.AvgPool2d, "max": nn.MaxPool2d}[mode](kernel_size=stride, stride=stride)

    def forward(self, image_features: torch.Tensor) -> torch.Tensor:
        batch_size, num_patches, dim = image_features.shape
        side = int(math.sqrt(num_patches))  # a square grid: the "default" strategy's patches
        spatial = image_features.view(batch_size, side, side, dim).permute(0, 3, 1, 2)  # (N, D, side, side)
        return self.pool(spatial).flatten(2).transpose(1, 2).contiguous()


class LlavaNextVideoModel(LlavaNextModel):
    """LLaVA-NeXT plus videos: frames through the tower, pooled, projected, over the `<video>` tokens."""

    def __init__(self, config: LlavaNextVideoConfig) -> None:
        super().__init__(config)
        self.vision_resampler = LlavaNextVideoPooler(config)

    def get_video_features(
        self,
        pixel_values_videos: torch.Tensor,
        vision_feature_layer: int | list[int] | None = None,
        vision_feature_select_strategy: str | None = None,
        **kwargs,
    ) -> BaseModelOutputWithPooling:
        """(B, frames, C, H, W) -> the tower's output over every frame, whose `pooler_output` is
        (B, frames * pooled tokens per frame, D): each video's tokens."""
        layer, strategy = self.feature_options(vision_feature_layer, vision_feature_select_strategy)
        batch_size, frames = pixel_values_videos.shape[:2]
        outputs, features = self.encode_vision(pixel_values_videos.flatten(0, 1), layer, strategy)
        features = self.multi_modal_projector(self.vision_resampler(features))  # pooled, then projected
        outputs.pooler_output = features.unflatten(0, (batch_size, frames)).flatten(1, 2)
        return outputs

    def video_tokens(
        self,
        pixel_values_videos: torch.Tensor | None,
        mm_encoder_outputs: dict[str, BaseModelOutputWithPooling],
        vision_feature_layer: int | list[int] | None,
        vision_feature_select_strategy: str | None,
    ) -> torch.Tensor | None:
        """The video tokens to merge, from the pixels or from `mm_encoder_outputs["video"]`; None
        without videos. As transformers 5.23, each video's (tokens, D) is flattened, so the result
        (and `video_hidden_states`) is one-dimensional; the merge reads it in the same order."""
        if mm_encoder_outputs.get("video") is None and pixel_values_videos is not None:
            options = {"vision_feature_layer": vision_feature_layer}
            options["vision_feature_select_strategy"] = vision_feature_select_strategy
            mm_encoder_outputs["video"] = self.get_video_features(pixel_values_videos, **options)
        if mm_encoder_outputs.get("video") is None:
            return None
        return torch.cat([features.flatten(0, 1) for features in mm_encoder_outputs["video"].pooler_output], dim=0)

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        pixel_values: torch.Tensor | None = None,
        pixel_values_videos: torch.Tensor | None = None,
        image_sizes: torch.Tensor | list | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        past_key_values: Cache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        vision_feature_layer: int | list[int] | None = None,
        vision_feature_select_strategy: str | None = None,
        use_cache: bool | None = None,
        mm_encoder_outputs: dict[str, BaseModelOutputWithPooling] | None = None,
        **kwargs,
    ) -> LlavaNextVideoModelOutputWithPast:
        pixels_given = pixel_values is not None or pixel_values_videos is not None
        self.check_inputs(input_ids, inputs_embeds, pixels_given, mm_encoder_outputs)
        if inputs_embeds is None:
            inputs_embeds = self.get_input_embeddings()(input_ids)
        # prefill only (generate passes the pixels once): later steps read them from the cache
        mm_encoder_outputs = dict(mm_encoder_outputs or {})
        options = (vision_feature_layer, vision_feature_select_strategy)
        image_features = self.image_tokens(pixel_values, image_sizes, mm_encoder_outputs, *options)
        inputs_embeds = self.scatter_tokens(input_ids, inputs_embeds, image_features, self.config.image_token_id)
        video_features = self.video_tokens(pixel_values_videos, mm_encoder_outputs, *options)
        inputs_embeds = self.scatter_tokens(input_ids, inputs_embeds, video_features, self.config.video_token_id)
        merged = {"image_hidden_states": image_features, "video_hidden_states": video_features}
        return self.decode(inputs_embeds, attention_mask, position_ids, past_key_values, use_cache, merged, **kwargs)


class LlavaNextVideoForConditionalGeneration(LlavaNextForConditionalGeneration):
    def get_video_features(self, pixel_values_videos: torch.Tensor, *args, **kwargs) -> BaseModelOutputWithPooling:
        """LlavaNextVideoModel.get_video_features, with the same arguments."""
        return self.model.get_video_features(pixel_values_videos, *args, **kwargs)

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        pixel_values: torch.Tensor | None = None,
        pixel_values_videos: torch.Tensor | None = None,
        image_sizes: torch.Tensor | list | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        past_key_values: Cache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        vision_feature_layer: int | list[int] | None = None,
        vision_feature_select_strategy: str | None = None,
        labels: torch.Tensor | None = None,
        use_cache: bool | None = None,
        logits_to_keep: int = 0,
        mm_encoder_outputs: dict[str, BaseModelOutputWithPooling] | None = None,
        **kwargs,
    ) -> LlavaNextVideoCausalLMOutputWithPast:
        """LLaVA-NeXT's, plus `pixel_values_videos` (B, frames, C, H, W); the output carries
        `video_hidden_states` too."""
        outputs = self.model(
            input_ids=input_ids,
            pixel_values=pixel_values,
            pixel_values_videos=pixel_values_videos,
            image_sizes=image_sizes,
            attention_mask=attention_mask,
            position_ids=position_ids,
            past_key_values=past_key_values,
            inputs_embeds=inputs_embeds,
            vision_feature_layer=vision_feature_layer,
            vision_feature_select_strategy=vision_feature_select_strategy,
            use_cache=use_cache,
            mm_encoder_outputs=mm_encoder_outputs,
            **kwargs,
        )
        return self.lm_output(outputs, labels, logits_to_keep)


class LlavaNextVideoImageProcessor(LlavaNextImageProcessor):
    """LLaVA-NeXT's image processor, saved under transformers' name for it (the one its
    `LlavaNextVideoProcessor` loads)."""

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "image_processor_type": "LlavaNextImageProcessor"}


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


class LlavaNextVideoProcessor(VideoProcessorMixin, LlavaNextProcessor):
    """LLaVA-NeXT's processor plus videos (`LlavaNextVideoVideoProcessor`): each `<video>` becomes
    frames x (patches of a frame // 4) `<video>` tokens; images and videos may share a prompt.
    Returns tensors unless told otherwise. Matches transformers 5.23.0 `LlavaNextVideoProcessor`;
    build it by keyword (transformers' positional order starts with the video processor).
    """

    image_processor_class = LlavaNextVideoImageProcessor
    video_processor_class = LlavaNextVideoVideoProcessor
    processor_keys = (
        *("image_token", "num_additional_image_tokens", "patch_size", "video_token"),
        "vision_feature_select_strategy",
    )
    images_kwargs: dict[str, Any] = {}  # no forced do_pad: the image processor's own (True) applies
    return_tensors = "pt"

    def __init__(
        self,
        image_processor: LlavaNextVideoImageProcessor,
        tokenizer: Tokenizer,
        patch_size: int | None = None,
        vision_feature_select_strategy: str | None = None,
        chat_template: str | None = None,
        image_token: str = "<image>",
        num_additional_image_tokens: int = 0,
        video_processor: LlavaNextVideoVideoProcessor | None = None,
        video_token: str = "<video>",
    ) -> None:
        super().__init__(
            image_processor,
            tokenizer,
            patch_size,
            vision_feature_select_strategy,
            chat_template,
            image_token,
            num_additional_image_tokens,
        )
        self.video_processor = video_processor or LlavaNextVideoVideoProcessor()
        self.video_token = video_token
        self.video_token_id = self.tokenizer.convert_tokens_to_ids(video_token)

    def process_media(
        self, images: Any, videos: Any, kwargs: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, tuple[str, list[str]]], dict[str, Any]]:
        videos_kwargs, kwargs = self.split_video_kwargs(kwargs)
        images_kwargs, text_kwargs = self.split_kwargs(kwargs)
        features, image_expansions = self.process_images(images, images_kwargs)
        video_expansions = []
        if videos is not None:
            pixel_values_videos = self.video_processor(videos, **videos_kwargs)["pixel_values_videos"]
            features = {**features, "pixel_values_videos": pixel_values_videos}
            for video in pixel_values_videos:
                count = self.num_video_tokens(video)
                check_image_tokens(count, type(self).__name__)
                video_expansions.append(self.video_token * count)
        replacements = {self.image_token: ("images", image_expansions), self.video_token: ("videos", video_expansions)}
        return features, replacements, text_kwargs

    def num_video_tokens(self, video: ImageArray) -> int:
        """Tokens of a (frames, C, H, W) video: per frame, its patches pooled 2 x 2. transformers
        divides by 4 whatever the model's `spatial_pool_stride`; so does this, for parity."""
        patch_size = self.checked_patch_size()
        height, width = video.shape[-2:]
        return (height // patch_size) * (width // patch_size) // 4 * video.shape[0]
