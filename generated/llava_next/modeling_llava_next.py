# ----------------------------------------------------------------------------------------------------
# This file was generated from modular/modular_llava_next.py by the modular converter. Do not edit it by hand:
# edit modular/modular_llava_next.py instead, then regenerate with
#     python converter/run.py modular/modular_llava_next.py
# ----------------------------------------------------------------------------------------------------

"""LLaVA-NeXT: LLaVA at any resolution. Each image is tiled at the best of `image_grid_pinpoints`
plus a base tile (the whole image resized); the tiles' features are laid out as one grid, unpadded
and packed with a learned `image_newline` after each row. `image_sizes` give each image's tiles.
Built on LLaVA: it overrides the hooks `images_to_encode` and `image_tokens_per_image`.
"""

import math
from dataclasses import dataclass

import torch
from torch import nn

from runtime.activations import ACT2FN
from runtime.auto import AutoModel
from runtime.cache import Cache
from runtime.generation import GenerationMixin
from runtime.losses import causal_lm_loss
from runtime.modeling_utils import PreTrainedModel
from runtime.outputs import BaseModelOutputWithPooling, ImageTextCausalLMOutputWithPast, ImageTextModelOutputWithPast

from .configuration_llava_next import LlavaNextConfig
from .image_processing_llava_next import select_best_resolution


@dataclass
class LlavaNextModelOutputWithPast(ImageTextModelOutputWithPast):
    """LlavaNextModel's output: the text model's, plus the merged image tokens (tokens, D)."""


@dataclass
class LlavaNextCausalLMOutputWithPast(ImageTextCausalLMOutputWithPast):
    """LlavaNextForConditionalGeneration's output: the causal LM's, plus the merged image tokens (tokens, D)."""


class LlavaNextMultiModalProjector(nn.Module):
    """Vision features (of every selected layer, concatenated) -> the text width: linear, act, linear."""

    def __init__(self, config: LlavaNextConfig) -> None:
        super().__init__()
        layers = 1 if isinstance(config.vision_feature_layer, int) else len(config.vision_feature_layer)
        text_size, bias = config.text_config.hidden_size, config.multimodal_projector_bias
        self.linear_1 = nn.Linear(config.vision_config.hidden_size * layers, text_size, bias=bias)
        self.act = ACT2FN[config.projector_hidden_act]
        self.linear_2 = nn.Linear(text_size, text_size, bias=bias)

    def forward(self, image_features: torch.Tensor) -> torch.Tensor:
        return self.linear_2(self.act(self.linear_1(image_features)))


class LlavaNextPreTrainedModel(PreTrainedModel):
    config_class = LlavaNextConfig
    base_model_prefix = "model"
    # The layouts older Hub checkpoints use, and the one transformers 5.23's save_pretrained still
    # writes (its conversion mapping, read side): the tower under `vision_tower.vision_model.`,
    # the text model under `language_model.model.` and the head under `language_model.lm_head.`.
    # `vision_tower.*` and `multi_modal_projector.*` need no entry: they load through the prefix.
    _checkpoint_layouts = {
        r"(?:model\.)?vision_tower\.vision_model\.(.*)": (r"model.vision_tower.\1",),
        r"language_model\.model\.(.*)": (r"model.language_model.\1",),
        r"language_model\.lm_head\.(.*)": (r"lm_head.\1",),
    }


def as_pair(size: torch.Tensor | list | tuple) -> tuple[int, int]:
    """An image size (height, width) given as a tensor row, an array, a list or a tuple."""
    return tuple(int(side) for side in (size.tolist() if hasattr(size, "tolist") else size))


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


class LlavaNextModel(LlavaNextPreTrainedModel):
    """LLaVA over anyres tiles; `image_newline` (text width) ends each row of an image's tile grid."""

    # a head checkpoint in the older layout holds its head as `language_model.lm_head.*`
    _keys_to_ignore_on_load_unexpected = [r"^language_model\.lm_head\."]

    def __init__(self, config: LlavaNextConfig) -> None:
        super().__init__(config)
        self.vision_tower = AutoModel.from_config(config.vision_config)
        self.multi_modal_projector = LlavaNextMultiModalProjector(config)
        self.language_model = AutoModel.from_config(config.text_config)
        embed_std = 1 / math.sqrt(config.text_config.hidden_size)
        self.image_newline = nn.Parameter(torch.randn(config.text_config.hidden_size) * embed_std)

    def get_input_embeddings(self) -> nn.Module:
        return self.language_model.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.language_model.set_input_embeddings(value)

    def feature_options(
        self, vision_feature_layer: int | list[int] | None, vision_feature_select_strategy: str | None
    ) -> tuple[int | list[int], str]:
        """The call's layer(s) and strategy, the config's where the call gives none."""
        layer = self.config.vision_feature_layer if vision_feature_layer is None else vision_feature_layer
        strategy = vision_feature_select_strategy or self.config.vision_feature_select_strategy
        if strategy not in ("default", "full"):
            raise ValueError(f"vision_feature_select_strategy={strategy!r} must be 'default' or 'full'")
        return layer, strategy

    def select_vision_features(
        self, hidden_states: tuple[torch.Tensor, ...], vision_feature_layer: int | list[int], strategy: str
    ) -> torch.Tensor:
        """(embeddings, layer 1, ..., layer N) of (N, 1 + P, Dv) -> (N, P, Dv * layers): the selected
        layer(s), concatenated; "default" drops the class token (transformers drops it from each
        layer before concatenating, which gives the same tensor)."""
        if isinstance(vision_feature_layer, int):
            selected = hidden_states[vision_feature_layer]
        else:
            selected = torch.cat([hidden_states[index] for index in vision_feature_layer], dim=-1)
        return selected[:, 1:] if strategy == "default" else selected

    def encode_vision(
        self, pixel_values: torch.Tensor, vision_feature_layer: int | list[int], strategy: str
    ) -> tuple[BaseModelOutputWithPooling, torch.Tensor]:
        """(N, C, H, W) pixels -> the tower's output and the selected (N, P, Dv * layers) features."""
        outputs = self.vision_tower(pixel_values, output_hidden_states=True)
        if outputs.hidden_states is None:
            raise ValueError(
                f"the vision tower {type(self.vision_tower).__name__} returns no hidden_states, "
                "which vision_feature_layer selects from"
            )
        return outputs, self.select_vision_features(outputs.hidden_states, vision_feature_layer, strategy)

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

    def image_tokens(
        self,
        pixel_values: torch.Tensor | None,
        image_sizes: torch.Tensor | list | None,
        mm_encoder_outputs: dict[str, BaseModelOutputWithPooling],
        vision_feature_layer: int | list[int] | None,
        vision_feature_select_strategy: str | None,
    ) -> torch.Tensor | None:
        """The (tokens, D) image tokens to merge, from the pixels, or from `get_image_features` run
        beforehand and passed as `mm_encoder_outputs={"image": output}`; None without images."""
        if mm_encoder_outputs.get("image") is None and pixel_values is not None and pixel_values.shape[0] > 0:
            mm_encoder_outputs["image"] = self.get_image_features(
                pixel_values,
                vision_feature_layer=vision_feature_layer,
                vision_feature_select_strategy=vision_feature_select_strategy,
                image_sizes=image_sizes,
            )
        if mm_encoder_outputs.get("image") is None:
            return None
        return torch.cat(list(mm_encoder_outputs["image"].pooler_output), dim=0)

    def check_inputs(
        self,
        input_ids: torch.Tensor | None,
        inputs_embeds: torch.Tensor | None,
        pixels_given: bool,
        mm_encoder_outputs: dict | None,
    ) -> None:
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("You must specify exactly one of input_ids or inputs_embeds")
        if pixels_given and mm_encoder_outputs is not None:
            raise ValueError("You cannot specify both pixel values and mm_encoder_outputs at the same time")

    def scatter_tokens(
        self, input_ids: torch.Tensor | None, inputs_embeds: torch.Tensor, features: torch.Tensor | None, token_id: int
    ) -> torch.Tensor:
        """Write `features` (tokens, D), in order, over the embeddings of the `token_id` tokens
        (found in `input_ids`, or by their embedding when only `inputs_embeds` is given);
        `inputs_embeds` as they are when `features` is None."""
        if features is None:
            return inputs_embeds
        if input_ids is None:
            token = torch.tensor(token_id, dtype=torch.long, device=inputs_embeds.device)
            positions = (inputs_embeds == self.get_input_embeddings()(token)).all(-1)
        else:
            positions = input_ids == token_id
        if int(positions.sum()) * inputs_embeds.shape[-1] != features.numel():
            raise ValueError(
                f"Features and placeholder tokens do not match: {int(positions.sum())} tokens of id {token_id}, "
                f"features of shape {tuple(features.shape)}"
            )
        features = features.to(inputs_embeds.device, inputs_embeds.dtype)
        return inputs_embeds.masked_scatter(positions.unsqueeze(-1).to(inputs_embeds.device), features)

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        pixel_values: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        past_key_values: Cache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        vision_feature_layer: int | list[int] | None = None,
        vision_feature_select_strategy: str | None = None,
        image_sizes: torch.Tensor | list | None = None,
        mm_encoder_outputs: dict[str, BaseModelOutputWithPooling] | None = None,
        use_cache: bool | None = None,
        **kwargs,
    ) -> LlavaNextModelOutputWithPast:
        self.check_inputs(input_ids, inputs_embeds, pixel_values is not None, mm_encoder_outputs)
        if inputs_embeds is None:
            inputs_embeds = self.get_input_embeddings()(input_ids)
        # prefill only (generate passes the pixels once): later steps read the images from the cache
        mm_encoder_outputs = dict(mm_encoder_outputs or {})
        options = (vision_feature_layer, vision_feature_select_strategy)
        image_features = self.image_tokens(pixel_values, image_sizes, mm_encoder_outputs, *options)
        inputs_embeds = self.scatter_tokens(input_ids, inputs_embeds, image_features, self.config.image_token_id)
        merged = {"image_hidden_states": image_features}
        return self.decode(inputs_embeds, attention_mask, position_ids, past_key_values, use_cache, merged, **kwargs)

    def decode(
        self,
        inputs_embeds: torch.Tensor,
        attention_mask: torch.Tensor | None,
        position_ids: torch.Tensor | None,
        past_key_values: Cache | None,
        use_cache: bool | None,
        merged: dict[str, torch.Tensor | None],
        **kwargs,
    ) -> LlavaNextModelOutputWithPast:
        """The text model over the merged embeddings; the output also carries `merged`, the tokens
        written over the placeholders (`image_hidden_states`, and `video_hidden_states` in LLaVA-NeXT-Video)."""
        outputs = self.language_model(
            inputs_embeds=inputs_embeds,
            attention_mask=attention_mask,
            position_ids=position_ids,
            past_key_values=past_key_values,
            use_cache=use_cache,
            **kwargs,
        )
        return LlavaNextModelOutputWithPast(
            last_hidden_state=outputs.last_hidden_state,
            past_key_values=outputs.past_key_values,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
            **merged,
        )

    def tiles_per_image(self, image_sizes: torch.Tensor | list) -> list[int]:
        tile, pinpoints = self.config.vision_config.image_size, self.config.image_grid_pinpoints
        return [image_size_to_num_patches(size, pinpoints, tile) for size in image_sizes]

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


class LlavaNextForConditionalGeneration(LlavaNextPreTrainedModel, GenerationMixin):
    """LlavaNextModel with a language-modelling head."""

    _tied_weights_keys = {"lm_head.weight": "model.language_model.embed_tokens.weight"}

    def __init__(self, config: LlavaNextConfig) -> None:
        super().__init__(config)
        self.model = LlavaNextModel(config)
        self.lm_head = nn.Linear(config.text_config.hidden_size, config.text_config.vocab_size, bias=False)

    def get_input_embeddings(self) -> nn.Module:
        return self.model.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.model.set_input_embeddings(value)

    def get_image_features(self, pixel_values: torch.Tensor, *args, **kwargs) -> BaseModelOutputWithPooling:
        """LlavaNextModel.get_image_features, with the same arguments."""
        return self.model.get_image_features(pixel_values, *args, **kwargs)

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        pixel_values: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        past_key_values: Cache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        vision_feature_layer: int | list[int] | None = None,
        vision_feature_select_strategy: str | None = None,
        labels: torch.Tensor | None = None,
        use_cache: bool | None = None,
        logits_to_keep: int = 0,
        image_sizes: torch.Tensor | list | None = None,
        mm_encoder_outputs: dict[str, BaseModelOutputWithPooling] | None = None,
        **kwargs,
    ) -> LlavaNextCausalLMOutputWithPast:
        outputs = self.model(
            input_ids=input_ids,
            pixel_values=pixel_values,
            attention_mask=attention_mask,
            position_ids=position_ids,
            past_key_values=past_key_values,
            inputs_embeds=inputs_embeds,
            vision_feature_layer=vision_feature_layer,
            vision_feature_select_strategy=vision_feature_select_strategy,
            image_sizes=image_sizes,
            mm_encoder_outputs=mm_encoder_outputs,
            use_cache=use_cache,
            **kwargs,
        )
        return self.lm_output(outputs, labels, logits_to_keep)

    def lm_output(
        self, outputs: LlavaNextModelOutputWithPast, labels: torch.Tensor | None, logits_to_keep: int
    ) -> LlavaNextCausalLMOutputWithPast:
        """The model's output -> the logits of its last `logits_to_keep` positions (generation
        keeps 1; 0 keeps all), the loss when `labels` are given, and everything else the model
        returned (cache, hidden states, the merged image tokens; video tokens in LLaVA-NeXT-Video)."""
        logits = self.lm_head(outputs.last_hidden_state[:, -logits_to_keep:, :])
        vocab_size = self.config.text_config.vocab_size
        loss = causal_lm_loss(logits, labels, vocab_size) if labels is not None else None
        merged = {name: value for name, value in vars(outputs).items() if name != "last_hidden_state"}
        return LlavaNextCausalLMOutputWithPast(loss=loss, logits=logits, **merged)

    def pack_image_features(self, *args, **kwargs) -> tuple[list[torch.Tensor], torch.Tensor]:
        """LlavaNextModel.pack_image_features, with the same arguments."""
        return self.model.pack_image_features(*args, **kwargs)


__all__ = [
    "LlavaNextModelOutputWithPast",
    "LlavaNextCausalLMOutputWithPast",
    "LlavaNextMultiModalProjector",
    "LlavaNextPreTrainedModel",
    "LlavaNextModel",
    "LlavaNextForConditionalGeneration",
]
