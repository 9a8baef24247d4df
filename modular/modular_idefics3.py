"""Idefics3: Idefics2 without the Perceiver resampler. The connector pixel-shuffles the vision
tokens (each scale_factor x scale_factor block of patches becomes one token, scale_factor**2 times
as wide) and projects them linearly into the text model (Llama by default).
"""

import math
import re
from typing import Any

import torch
from torch import nn

from generated.idefics2.configuration_idefics2 import Idefics2Config, Idefics2VisionConfig
from generated.idefics2.image_processing_idefics2 import Idefics2ImageProcessor, get_resize_output_image_size
from generated.idefics2.modeling_idefics2 import (
    Idefics2ForConditionalGeneration,
    Idefics2Model,
    Idefics2PreTrainedModel,
    Idefics2VisionTransformer,
)
from generated.idefics2.processing_idefics2 import Idefics2Processor
from runtime.image_loading import fetch_image
from runtime.image_processing_utils import BatchFeature, ImageArray, PILImageResampling, ProcessorError, resize_image
from runtime.processing_utils import TrackedText, check_image_tokens
from runtime.tokenization_utils import Tokenizer


class Idefics3VisionConfig(Idefics2VisionConfig):
    model_type = "idefics3_vision"

    hidden_size: int = 1152
    num_attention_heads: int = 16


class Idefics3Config(Idefics2Config):
    """Configuration of an Idefics3 model; the defaults describe Idefics3-8B-Llama3 (text model: Llama).

    The vision grid of each image must be square with a side divisible by `scale_factor`.
    """

    model_type = "idefics3"
    sub_configs = {"vision_config": Idefics3VisionConfig, "text_config": "llama"}
    sub_config_defaults = {"text_config": {"rms_norm_eps": 1e-5}}

    image_token_id: int = 128_257
    pad_token_id: int | None = 128_002
    scale_factor: int = 2
    perceiver_config = AttributeError()

    def derive(self) -> None:
        """Nothing derived: there is no resampler to size."""


class Idefics3SimpleMLP(nn.Module):
    def __init__(self, config: Idefics3Config) -> None:
        super().__init__()
        input_size = config.vision_config.hidden_size * config.scale_factor**2
        self.proj = nn.Linear(input_size, config.text_config.hidden_size, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


class Idefics3Connector(nn.Module):
    """Pixel shuffle, then a linear projection to the text width."""

    def __init__(self, config: Idefics3Config) -> None:
        super().__init__()
        self.scale_factor = config.scale_factor
        self.modality_projection = Idefics3SimpleMLP(config)

    def pixel_shuffle(self, x: torch.Tensor, scale_factor: int = 2) -> torch.Tensor:
        """(N, S, D) tokens of a square grid -> (N, S / scale_factor**2, D * scale_factor**2)."""
        bsz, seq, embed_dim = x.size()
        height = width = int(seq**0.5)
        x = x.view(bsz, height, width // scale_factor, embed_dim * scale_factor)  # merge columns
        x = x.permute(0, 2, 1, 3)
        x = x.reshape(bsz, width // scale_factor, height // scale_factor, embed_dim * scale_factor**2)  # merge rows
        x = x.permute(0, 2, 1, 3)
        return x.reshape(bsz, seq // scale_factor**2, embed_dim * scale_factor**2)

    def forward(self, image_hidden_states: torch.Tensor) -> torch.Tensor:
        return self.modality_projection(self.pixel_shuffle(image_hidden_states, self.scale_factor))


class Idefics3PreTrainedModel(Idefics2PreTrainedModel):
    pass


class Idefics3VisionTransformer(Idefics2VisionTransformer):
    pass


class Idefics3Model(Idefics2Model):
    def patch_mask_from_pixels(self, pixel_attention_mask: torch.Tensor) -> torch.Tensor:
        """(N, H, W) pixel mask -> (N, H/P, W/P) patch mask: a patch is real when any of its pixels is."""
        patch_size = self.config.vision_config.patch_size
        subgrid = pixel_attention_mask.unfold(1, patch_size, patch_size).unfold(2, patch_size, patch_size)
        return subgrid.sum(dim=(-1, -2)) > 0

    def connect(self, image_hidden_states: torch.Tensor, patch_attention_mask: torch.Tensor) -> torch.Tensor:
        return self.connector(image_hidden_states)


class Idefics3ForConditionalGeneration(Idefics2ForConditionalGeneration):
    pass


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


class Idefics3ImageProcessor(Idefics2ImageProcessor):
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
    call_only_keys = ("return_row_col_info",)
    size = {"longest_edge": 4 * 364}
    max_image_size = {"longest_edge": 364}
    resample = PILImageResampling.LANCZOS
    do_image_splitting = True
    return_row_col_info = False

    def resize(self, image: ImageArray, size: dict[str, int], resample: int) -> ImageArray:
        if size.get("longest_edge"):
            new_size = get_resize_output_size_for_longest_edge(*image.shape[-2:], size["longest_edge"])
            return resize_image(image, new_size, resample)
        if size.get("height") and size.get("width"):
            return resize_image(image, (size["height"], size["width"]), resample)
        raise ProcessorError(f"size must hold 'longest_edge', or 'height' and 'width'; got {size}")

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


class Idefics3Processor(Idefics2Processor):
    """Images through `Idefics3ImageProcessor`; each `<image>` becomes one group per tile
    (`<fake_token_around_image><row_r_col_c>` + `image_seq_len` x `<image>`, a newline after each
    row) and then the whole image (`<fake_token_around_image><global-img>` + `image_seq_len` x
    `<image>` + `<fake_token_around_image>`). Matches transformers 5.23.0 `Idefics3Processor`.
    Text holding `<image>` needs images.
    """

    image_processor_class = Idefics3ImageProcessor
    images_kwargs = {"return_row_col_info": True}

    def __init__(
        self,
        image_processor: Idefics3ImageProcessor,
        tokenizer: Tokenizer,
        image_seq_len: int = 169,
        chat_template: str | None = None,
    ) -> None:
        super().__init__(image_processor, tokenizer, image_seq_len, chat_template)
        self.global_image_tag = "<global-img>"

    def load_image(self, image: Any) -> Any:
        return fetch_image(image)

    def expand_prompts(
        self, text: list[str], image_inputs: BatchFeature | None, image_seq_len: int
    ) -> list[TrackedText]:
        if image_inputs is None:
            if any(self.image_token in sample for sample in text):
                count = sum(sample.count(self.image_token) for sample in text)
                raise ProcessorError(f"Found {count} {self.image_token} tokens in the text but no images were passed.")
            return [TrackedText(sample) for sample in text]
        grids = list(zip(sum(image_inputs["rows"], []), sum(image_inputs["cols"], []), strict=True))
        for rows, cols in grids:  # before any prompt is built: tiles times tokens can be large
            check_image_tokens((rows * cols + 1) * image_seq_len, type(self).__name__)
        replacements = iter([self.image_prompt(rows, cols, image_seq_len) for rows, cols in grids])
        image_token = re.escape(self.image_token)
        return [TrackedText(sample).sub(image_token, lambda _: next(replacements)) for sample in text]

    def image_prompt(self, rows: int, cols: int, image_seq_len: int) -> str:
        fake, image_tokens = self.fake_image_token, self.image_token * image_seq_len
        whole = f"{fake}{self.global_image_tag}{image_tokens}{fake}"
        if rows == 0 and cols == 0:
            return whole
        grid = "".join(
            "".join(f"{fake}<row_{r + 1}_col_{c + 1}>{image_tokens}" for c in range(cols)) + "\n" for r in range(rows)
        )
        return f"{grid}\n{whole}"


__all__ = [
    "Idefics3Config",
    "Idefics3VisionConfig",
    "Idefics3PreTrainedModel",
    "Idefics3Model",
    "Idefics3ForConditionalGeneration",
    "Idefics3VisionTransformer",
    "Idefics3ImageProcessor",
    "Idefics3Processor",
]
