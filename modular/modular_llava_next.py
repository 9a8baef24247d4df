"""LLaVA-NeXT: LLaVA at any resolution. Each image is tiled at the best of `image_grid_pinpoints`
plus a base tile (the whole image resized); the tiles' features are laid out as one grid, unpadded
and packed with a learned `image_newline` after each row. `image_sizes` give each image's tiles.
Built on LLaVA: it overrides the hooks `images_to_encode` and `image_tokens_per_image`.
"""

import math
from typing import Any

import torch
from torch import nn

from generated.llava.configuration_llava import LlavaConfig
from generated.llava.image_processing_llava import LlavaImageProcessor, transform_image
from generated.llava.modeling_llava import LlavaForConditionalGeneration, LlavaModel
from generated.llava.processing_llava import LlavaProcessor
from runtime.image_processing_utils import (
    BatchFeature,
    ImageArray,
    pad_image,
    resize_image,
    stack_padded,
)
from runtime.outputs import BaseModelOutputWithPooling


class LlavaNextConfig(LlavaConfig):
    """LLaVA's, plus `image_grid_pinpoints`: the (height, width) resolutions images are tiled at."""

    model_type = "llava_next"

    image_grid_pinpoints: list | None = None

    def derive(self) -> None:  # as transformers, unlike LLaVA: no tie_word_embeddings from text_config
        if self.image_grid_pinpoints is None:
            self.image_grid_pinpoints = [[336, 672], [672, 336], [672, 672], [1008, 336], [336, 1008]]


def as_pair(size: torch.Tensor | list | tuple) -> tuple[int, int]:
    """An image size (height, width) given as a tensor row, an array, a list or a tuple."""
    return tuple(int(side) for side in (size.tolist() if hasattr(size, "tolist") else size))


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


def get_anyres_image_grid_shape(image_size, grid_pinpoints: list, patch_size: int) -> tuple[int, int]:
    """(rows, columns) of tiles of side `patch_size` for an image of size (height, width)."""
    height, width = select_best_resolution(as_pair(image_size), grid_pinpoints)
    return height // patch_size, width // patch_size


def image_size_to_num_patches(image_size, grid_pinpoints: list, patch_size: int) -> int:
    """How many tiles of side `patch_size` an image of size (height, width) gives, base tile included."""
    height, width = select_best_resolution(as_pair(image_size), grid_pinpoints)
    return math.ceil(height / patch_size) * math.ceil(width / patch_size) + 1


def unpad_image(tensor: torch.Tensor, original_size) -> torch.Tensor:
    """(C, H, W) features of an image resized into (H, W) and padded evenly on its short side ->
    the features without the padding rows or columns (original_size: the image's (height, width))."""
    original_height, original_width = as_pair(original_size)
    current_height, current_width = tensor.shape[1:]
    if original_width / original_height > current_width / current_height:  # padded above and below
        padding = (current_height - int(round(original_height * (current_width / original_width), 7))) // 2
        return tensor[:, padding : current_height - padding, :]
    padding = (current_width - int(round(original_width * (current_height / original_height), 7))) // 2
    return tensor[:, :, padding : current_width - padding]


class LlavaNextModel(LlavaModel):
    """LLaVA over anyres tiles; `image_newline` (text width) ends each row of an image's tile grid."""

    def __init__(self, config: LlavaNextConfig) -> None:
        super().__init__(config)
        embed_std = 1 / math.sqrt(config.text_config.hidden_size)
        self.image_newline = nn.Parameter(torch.randn(config.text_config.hidden_size) * embed_std)

    def tiles_per_image(self, image_sizes: torch.Tensor | list) -> list[int]:
        tile, pinpoints = self.config.vision_config.image_size, self.config.image_grid_pinpoints
        return [image_size_to_num_patches(size, pinpoints, tile) for size in image_sizes]

    def images_to_encode(self, pixel_values: torch.Tensor, image_sizes: torch.Tensor | list | None) -> torch.Tensor:
        """(N, max tiles, C, H, W) tiles padded per image, or (tiles, C, H, W) -> the real tiles, stacked."""
        if image_sizes is None or pixel_values.ndim not in (4, 5):
            raise ValueError("LLaVA-NeXT takes image_sizes (N, 2) and pixel_values of 4 or 5 dimensions")
        if pixel_values.ndim == 5:
            counts = self.tiles_per_image(image_sizes)
            return torch.cat([tiles[:count] for tiles, count in zip(pixel_values, counts, strict=True)], dim=0)
        return pixel_values

    def image_tokens_per_image(self, image_features: torch.Tensor, image_sizes, strategy: str) -> list[torch.Tensor]:
        """(tiles, P, D) projected features of every image -> each image's packed tokens."""
        per_image = torch.split(image_features, self.tiles_per_image(image_sizes), dim=0)
        return self.pack_image_features(per_image, image_sizes, strategy, image_newline=self.image_newline)[0]

    def pack_image_features(
        self,
        image_features: list[torch.Tensor],
        image_sizes: torch.Tensor | list,
        vision_feature_select_strategy: str,
        image_newline: torch.Tensor | None = None,
    ) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Each image's (tiles, P, D) features -> its (tokens, D) tokens, and the (N,) token counts."""
        pairs = zip(image_features, image_sizes, strict=True)
        packed = [self.pack_one_image(features, size, image_newline) for features, size in pairs]
        return packed, torch.tensor([len(tokens) for tokens in packed], dtype=torch.long, device=packed[0].device)

    def pack_one_image(self, features: torch.Tensor, image_size, image_newline: torch.Tensor | None) -> torch.Tensor:
        """(1 + tiles, P, D) -> the base tile's P tokens, then the tile grid unpadded, row by row,
        each row ending with `image_newline`. A lone base tile gets one `image_newline` after it."""
        if features.shape[0] == 1:  # the base tile alone
            newline = [] if image_newline is None else [image_newline[None].to(features)]
            return torch.cat((features[0], *newline), dim=0)
        vision = self.config.vision_config
        side = vision.image_size // vision.patch_size  # patches per tile side
        rows, cols = get_anyres_image_grid_shape(image_size, self.config.image_grid_pinpoints, vision.image_size)
        grid = features[1:].view(rows, cols, side, side, -1).permute(4, 0, 2, 1, 3)  # (D, rows, side, cols, side)
        grid = unpad_image(grid.flatten(1, 2).flatten(2, 3), image_size)  # (D, height, width), padding cut
        if image_newline is not None:
            newline = image_newline[:, None, None].expand(*grid.shape[:-1], 1).to(grid.device, grid.dtype)
            grid = torch.cat((grid, newline), dim=-1)  # (D, height, width + 1)
        return torch.cat((features[0], grid.flatten(1, 2).transpose(0, 1)), dim=0)

    def get_image_features(
        self,
        pixel_values: torch.Tensor,
        image_sizes: torch.Tensor | list,
        vision_feature_layer: int | list[int] | None = None,
        vision_feature_select_strategy: str | None = None,
        **kwargs,
    ) -> BaseModelOutputWithPooling:
        """LLaVA's, with `image_sizes` second as transformers orders them; `pooler_output`: each image's packed tokens."""
        layer, strategy = self.feature_options(vision_feature_layer, vision_feature_select_strategy)
        outputs, features = self.encode_vision(self.images_to_encode(pixel_values, image_sizes), layer, strategy)
        features = self.multi_modal_projector(features)  # (tiles, P, D)
        outputs.pooler_output = self.image_tokens_per_image(features, image_sizes, strategy)
        return outputs


class LlavaNextForConditionalGeneration(LlavaForConditionalGeneration):
    def pack_image_features(self, *args, **kwargs) -> tuple[list[torch.Tensor], torch.Tensor]:
        """LlavaNextModel.pack_image_features, with the same arguments."""
        return self.model.pack_image_features(*args, **kwargs)


def get_patch_output_size(height: int, width: int, target_resolution: tuple[int, int]) -> tuple[int, int]:
    """The (height, width) an image takes inside `target_resolution` when scaled to fit it, aspect kept."""
    target_height, target_width = target_resolution
    scale_width, scale_height = target_width / width, target_height / height
    if scale_width < scale_height:
        return min(math.ceil(height * scale_width), target_height), target_width
    return target_height, min(math.ceil(width * scale_height), target_width)


class LlavaNextImageProcessor(LlavaImageProcessor):
    """Anyres: the image resized to `size`, then the `crop_size` tiles of it fitted (aspect kept) and
    centred in the best of `image_grid_pinpoints`; each through CLIP's steps. Matches transformers
    5.23.0 `LlavaNextImageProcessorPil`. Output: `pixel_values`, (tiles, 3, H, W) per image, zero
    tiles appended up to the batch's most with `do_pad`; `image_sizes`, each image's (height, width).
    """

    config_keys = (
        *("do_convert_rgb", "do_resize", "size", "resample", "do_center_crop", "crop_size", "do_rescale"),
        *("rescale_factor", "do_normalize", "image_mean", "image_std", "do_pad", "image_grid_pinpoints"),
    )
    model_input_names = ["pixel_values", "image_sizes"]
    do_pad = True
    image_grid_pinpoints = [[336, 672], [672, 336], [672, 672], [1008, 336], [336, 1008]]
    pad_to_square = AttributeError()  # do_pad pads the batch's tile counts here, not images to squares

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


class LlavaNextProcessor(LlavaProcessor):
    """Each `<image>` becomes the tokens LLaVA-NeXT packs for it: the base tile's patches (plus
    `num_additional_image_tokens`), the grid's without the resize padding, one newline per row;
    less one with the "default" strategy. Matches transformers 5.23.0 `LlavaNextProcessor`.
    """

    images_kwargs: dict[str, Any] = {"do_pad": True}

    def num_image_tokens(self, image_inputs: BatchFeature, index: int) -> int:
        orig_height, orig_width = image_inputs["image_sizes"][index]
        height, width = image_inputs["pixel_values"][0][0].shape[-2:]
        count = self.number_of_features(int(orig_height), int(orig_width), height, width)
        return count - 1 if self.vision_feature_select_strategy == "default" else count

    def number_of_features(self, orig_height: int, orig_width: int, height: int, width: int) -> int:
        """Tokens of an image of (orig_height, orig_width) whose tiles are (height, width). The grid is
        the image processor's own `image_grid_pinpoints`, not a call's override (as transformers)."""
        patch_size = self.checked_patch_size()
        best_height, best_width = select_best_resolution(
            [orig_height, orig_width], self.image_processor.image_grid_pinpoints
        )
        scale_height, scale_width = best_height // height, best_width // width
        patches_height, patches_width = height // patch_size, width // patch_size
        unpadded, newlines = self.unpadded_features(
            orig_height, orig_width, patches_height * scale_height, patches_width * scale_width
        )
        return unpadded + newlines + patches_height * patches_width + self.num_additional_image_tokens

    def unpadded_features(self, height: int, width: int, current_height: int, current_width: int) -> tuple[int, int]:
        """(grid features once the rows or columns of resize padding are cut off, newline features)."""
        if width / height > current_width / current_height:
            new_height = int(round(height * (current_width / width), 7))
            current_height -= (current_height - new_height) // 2 * 2
        else:
            new_width = int(round(width * (current_height / height), 7))
            current_width -= (current_width - new_width) // 2 * 2
        return current_height * current_width, current_height
