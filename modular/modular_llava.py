"""LLaVA: a vision tower (CLIP, or any vision model_type the runtime's auto registry knows), a
two-layer projector into the text width, and a text decoder (Llama by default; any model_type
through the auto registry) whose `<image>` token embeddings are replaced by the projected patch
features of the selected vision layer(s).

This is the root of the LLaVA family (LLaVA-NeXT, LLaVA-NeXT-Video build on it). LlavaModel is
split into small hooks so that a model built on it overrides the step that differs:

- `images_to_encode(pixel_values, image_sizes)`: the (N, C, H, W) images the tower reads
  (LLaVA-NeXT: the anyres tiles of every image, unstacked);
- `select_vision_features(hidden_states, layer, strategy)` and `encode_vision(pixels, layer,
  strategy)`: the tower's hidden states -> the features the projector reads;
- `image_tokens_per_image(features, image_sizes, strategy)`: projected features -> each image's
  tokens (LLaVA-NeXT: tiles unpadded and packed with `image_newline`);
- `image_tokens(...)`: pixels or `mm_encoder_outputs` -> the tokens to merge;
- `scatter_tokens(input_ids, inputs_embeds, features, token_id)`: the merge (image or video tokens);
- `feature_options(layer, strategy)`: the call's options, else the config's;
- `check_inputs(...)` and `decode(inputs_embeds, ..., merged)`: the start and the end of `forward`
  (the text model, and an output carrying the merged tokens), so that a model with more inputs
  (LLaVA-NeXT-Video's videos) writes only its middle;
- `LlavaForConditionalGeneration.lm_output(outputs, labels, logits_to_keep)`: logits, loss and
  everything else the model returned.

Parameter names and config.json fields match transformers 5.23.0: the model holds
`model.vision_tower.*`, `model.multi_modal_projector.*`, `model.language_model.*` and `lm_head`;
checkpoints in the older layout (`vision_tower.vision_model.*`, `language_model.model.*`,
`language_model.lm_head.*`, which transformers 5.23's save_pretrained still writes) load too.
"""

import re
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from runtime.activations import ACT2FN
from runtime.auto import AutoModel
from runtime.cache import Cache
from runtime.configuration_utils import PretrainedConfig
from runtime.generation import GenerationMixin
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
from runtime.losses import causal_lm_loss
from runtime.modeling_utils import PreTrainedModel
from runtime.outputs import BaseModelOutputWithPooling, ImageTextCausalLMOutputWithPast, ImageTextModelOutputWithPast
from runtime.processing_utils import (
    ProcessorMixin,
    TrackedText,
    check_image_tokens,
    check_processor_options,
    checked_text,
)
from runtime.tokenization_utils import Tokenizer


class LlavaConfig(PretrainedConfig):
    """Configuration of a LLaVA model; the defaults describe llava-1.5-7b (CLIP ViT-L/14 at 336
    pixels, Llama text model).

    `vision_config` and `text_config` are any model types the runtime's auto registry knows
    (`clip_vision_model`, `siglip_vision_model`; `llama`, `mistral`, `qwen2`, ...).
    `vision_feature_layer` picks the vision hidden state(s) the projector reads (an index into
    (embeddings, layer 1, ..., layer N), or a list of them, concatenated on the feature axis);
    `vision_feature_select_strategy` "default" drops the class token, "full" keeps it.
    `image_token_id` is another name for `image_token_index`.
    """

    model_type = "llava"
    attribute_map = {"image_token_id": "image_token_index"}
    sub_configs = {"vision_config": "clip_vision_model", "text_config": "llama"}
    sub_config_defaults = {
        "vision_config": {
            **{"intermediate_size": 4096, "hidden_size": 1024, "patch_size": 14, "image_size": 336},
            **{"num_hidden_layers": 24, "num_attention_heads": 16, "vocab_size": 32000, "projection_dim": 768},
        }
    }

    vision_config: PretrainedConfig | None = None
    text_config: PretrainedConfig | None = None
    image_token_index: int = 32000
    image_seq_length: int = 576
    projector_hidden_act: str = "gelu"
    vision_feature_select_strategy: str = "default"
    vision_feature_layer: int | list[int] = -2
    multimodal_projector_bias: bool = True
    tie_word_embeddings: bool = False

    def derive(self) -> None:
        # as transformers: older checkpoints say `tie_word_embeddings` in the text config only
        if not self.tie_word_embeddings and self.text_config.tie_word_embeddings:
            self.tie_word_embeddings = True

    def validate(self) -> None:
        if self.vision_feature_select_strategy not in ("default", "full"):
            raise ValueError(
                f"vision_feature_select_strategy={self.vision_feature_select_strategy!r} must be 'default' or 'full'"
            )
        if isinstance(self.vision_feature_layer, list) and not self.vision_feature_layer:
            raise ValueError("vision_feature_layer=[] names no vision layer")


@dataclass
class LlavaModelOutputWithPast(ImageTextModelOutputWithPast):
    """LlavaModel's output: the text model's, plus the merged image tokens (tokens, D)."""


@dataclass
class LlavaCausalLMOutputWithPast(ImageTextCausalLMOutputWithPast):
    """LlavaForConditionalGeneration's output: the causal LM's, plus the merged image tokens (tokens, D)."""


class LlavaMultiModalProjector(nn.Module):
    """Vision features (of every selected layer, concatenated) -> the text width: linear, act, linear."""

    def __init__(self, config: LlavaConfig) -> None:
        super().__init__()
        layers = 1 if isinstance(config.vision_feature_layer, int) else len(config.vision_feature_layer)
        text_size, bias = config.text_config.hidden_size, config.multimodal_projector_bias
        self.linear_1 = nn.Linear(config.vision_config.hidden_size * layers, text_size, bias=bias)
        self.act = ACT2FN[config.projector_hidden_act]
        self.linear_2 = nn.Linear(text_size, text_size, bias=bias)

    def forward(self, image_features: torch.Tensor) -> torch.Tensor:
        return self.linear_2(self.act(self.linear_1(image_features)))


class LlavaPreTrainedModel(PreTrainedModel):
    config_class = LlavaConfig
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


class LlavaModel(LlavaPreTrainedModel):
    """Vision tower, projector and text model: the image tokens replace the `<image>` embeddings.

    Hooks for models built on it: `images_to_encode` (the pixels the tower reads),
    `select_vision_features` (hidden states -> features), `image_tokens_per_image` (projected
    features -> each image's tokens), `image_tokens` (pixels or precomputed outputs -> the tokens
    to merge) and `scatter_tokens` (the merge).
    """

    # a head checkpoint in the older layout holds its head as `language_model.lm_head.*`
    _keys_to_ignore_on_load_unexpected = [r"^language_model\.lm_head\."]

    def __init__(self, config: LlavaConfig) -> None:
        super().__init__(config)
        self.vision_tower = AutoModel.from_config(config.vision_config)
        self.multi_modal_projector = LlavaMultiModalProjector(config)
        self.language_model = AutoModel.from_config(config.text_config)

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

    def images_to_encode(self, pixel_values: torch.Tensor, image_sizes: torch.Tensor | None) -> torch.Tensor:
        """The (N, C, H, W) images the tower reads: LLaVA's pixel_values as they are."""
        if pixel_values.ndim != 4:
            raise ValueError(f"pixel_values must be (images, channels, height, width): {tuple(pixel_values.shape)}")
        return pixel_values

    def image_tokens_per_image(
        self, image_features: torch.Tensor, image_sizes: torch.Tensor | None, strategy: str
    ) -> list[torch.Tensor]:
        """(N, P, D) projected features -> one (P, D) tensor of tokens per image."""
        if image_sizes is not None:  # transformers splits by image_sizes for Pixtral towers only
            raise ValueError("image_sizes is not supported by LLaVA's vision towers (CLIP, SigLIP)")
        return list(image_features)

    def get_image_features(
        self,
        pixel_values: torch.Tensor,
        vision_feature_layer: int | list[int] | None = None,
        vision_feature_select_strategy: str | None = None,
        image_sizes: torch.Tensor | list | None = None,
        **kwargs,
    ) -> BaseModelOutputWithPooling:
        """The vision tower's output (every hidden state), whose `pooler_output` holds each image's
        projected tokens: a list of (tokens, D) tensors, as transformers returns it."""
        layer, strategy = self.feature_options(vision_feature_layer, vision_feature_select_strategy)
        outputs, features = self.encode_vision(self.images_to_encode(pixel_values, image_sizes), layer, strategy)
        features = self.multi_modal_projector(features)  # (N, P, D)
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
    ) -> LlavaModelOutputWithPast:
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
    ) -> LlavaModelOutputWithPast:
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
        return LlavaModelOutputWithPast(
            last_hidden_state=outputs.last_hidden_state,
            past_key_values=outputs.past_key_values,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
            **merged,
        )


class LlavaForConditionalGeneration(LlavaPreTrainedModel, GenerationMixin):
    """LlavaModel with a language-modelling head."""

    _tied_weights_keys = {"lm_head.weight": "model.language_model.embed_tokens.weight"}

    def __init__(self, config: LlavaConfig) -> None:
        super().__init__(config)
        self.model = LlavaModel(config)
        self.lm_head = nn.Linear(config.text_config.hidden_size, config.text_config.vocab_size, bias=False)

    def get_input_embeddings(self) -> nn.Module:
        return self.model.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.model.set_input_embeddings(value)

    def get_image_features(self, pixel_values: torch.Tensor, *args, **kwargs) -> BaseModelOutputWithPooling:
        """LlavaModel.get_image_features, with the same arguments."""
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
    ) -> LlavaCausalLMOutputWithPast:
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
        self, outputs: LlavaModelOutputWithPast, labels: torch.Tensor | None, logits_to_keep: int
    ) -> LlavaCausalLMOutputWithPast:
        """The model's output -> the logits of its last `logits_to_keep` positions (generation
        keeps 1; 0 keeps all), the loss when `labels` are given, and everything else the model
        returned (cache, hidden states, the merged image tokens; video tokens in LLaVA-NeXT-Video)."""
        logits = self.lm_head(outputs.last_hidden_state[:, -logits_to_keep:, :])
        vocab_size = self.config.text_config.vocab_size
        loss = causal_lm_loss(logits, labels, vocab_size) if labels is not None else None
        merged = {name: value for name, value in vars(outputs).items() if name != "last_hidden_state"}
        return LlavaCausalLMOutputWithPast(loss=loss, logits=logits, **merged)


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


class LlavaProcessor(ProcessorMixin):
    """Images through `LlavaImageProcessor`; each `<image>` of the text becomes as many `<image>`
    tokens as the vision tower gives features for that image, then the tokenizer.

    The count is transformers': (height // patch_size) * (width // patch_size) patches of the
    processed image, plus `num_additional_image_tokens` (1 for CLIP's CLS token when the
    checkpoint says so), minus 1 when `vision_feature_select_strategy` is "default" (the model
    drops the CLS feature). Matches transformers 5.23.0 `LlavaProcessor` (`input_ids`,
    `attention_mask`, `pixel_values`); chat templates take `{"type": "image"}` blocks.
    """

    image_processor_class = LlavaImageProcessor
    processor_keys = ("image_token", "num_additional_image_tokens", "patch_size", "vision_feature_select_strategy")
    images_kwargs: dict[str, Any] = {}  # options this processor always passes to its image processor
    return_tensors: str | None = None  # the output's tensor type when a call names none

    def __init__(
        self,
        image_processor: LlavaImageProcessor,
        tokenizer: Tokenizer,
        patch_size: int | None = None,
        vision_feature_select_strategy: str | None = None,
        chat_template: str | None = None,
        image_token: str = "<image>",
        num_additional_image_tokens: int = 0,
    ) -> None:
        super().__init__(image_processor, tokenizer, chat_template)
        options = {"patch_size": patch_size, "num_additional_image_tokens": num_additional_image_tokens}
        check_processor_options(options, type(self).__name__)
        if vision_feature_select_strategy not in (None, "default", "full"):
            raise ProcessorError(
                f"{type(self).__name__}: vision_feature_select_strategy must be 'default' or 'full', "
                f"got {vision_feature_select_strategy!r}"
            )
        self.patch_size = patch_size
        self.num_additional_image_tokens = num_additional_image_tokens
        self.vision_feature_select_strategy = vision_feature_select_strategy
        self.image_token = image_token
        self.image_token_id = tokenizer.convert_tokens_to_ids(image_token)

    def __call__(
        self,
        images: Any = None,
        text: str | list[str] | None = None,
        videos: Any = None,
        return_tensors: str | None = None,
        **kwargs: Any,
    ) -> BatchFeature:
        """Image options (`size`, `do_pad`, ...) go to the image processor, the rest (`padding`,
        `padding_side`, ...) to the tokenizer. Images: one, a list, or one list per prompt (all
        taken in order: the i-th `<image>` of the batch is the i-th image); each a PIL image, an
        array, a tensor, or a string naming one (a path, an http(s) or file:// URL, base64)."""
        if images is None and text is None and videos is None:
            raise ProcessorError(f"You need to provide at least one input to call {type(self).__name__}")
        text = checked_text(text)  # None or a non-empty list of strings
        # a call for assistant masks (tracked prompts) is converted by its caller, the runtime
        tensors = return_tensors or (None if kwargs.get("return_tracked_prompts") else self.return_tensors)
        features, replacements, text_kwargs = self.process_media(images, videos, kwargs)
        inputs = {}
        if text is not None:
            prompts = self.expand_prompts(text, replacements)
            inputs.update(self.tokenize_prompts(prompts, **text_kwargs))
            self.check_placeholders_kept(prompts, inputs["input_ids"], list(replacements))
        inputs.update(features)
        return BatchFeature(inputs, tensor_type=tensors)

    def process_media(
        self, images: Any, videos: Any, kwargs: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, tuple[str, list[str]]], dict[str, Any]]:
        """(model inputs of the media, {placeholder token: (media name, one expansion per item)},
        the tokenizer's options). LLaVA has no video processor: `videos` are ignored, as in transformers."""
        images_kwargs, text_kwargs = self.split_kwargs(kwargs)
        features, expansions = self.process_images(images, images_kwargs)
        return features, {self.image_token: ("images", expansions)}, text_kwargs

    def process_images(self, images: Any, images_kwargs: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """(the image processor's model inputs, each image's `<image>` expansion, in order)."""
        if images is None:
            return {}, []
        image_inputs = self.image_processor(images, **{**self.images_kwargs, **images_kwargs})
        expansions = []
        for index in range(len(image_inputs["pixel_values"])):
            count = self.num_image_tokens(image_inputs, index)
            check_image_tokens(count, type(self).__name__)
            expansions.append(self.image_token * count)
        names = self.image_processor.model_input_names
        return {key: value for key, value in image_inputs.items() if key in names}, expansions

    def check_placeholders_kept(
        self, prompts: list[TrackedText], input_ids: list[list[int]], tokens: list[str]
    ) -> None:
        """`ProcessorError` when tokenizing lost placeholder tokens (truncation), as transformers checks."""
        for token in tokens:
            token_id = self.tokenizer.convert_tokens_to_ids(token)
            ids_count = [list(row).count(token_id) for row in input_ids]
            text_count = [prompt.text.count(token) for prompt in prompts]
            if ids_count != text_count:
                raise ProcessorError(
                    f"Mismatch in {token} token count between text and input_ids: got ids={ids_count} and "
                    f"text={text_count}; disable truncation or raise max_length"
                )

    def checked_patch_size(self) -> int:
        if self.patch_size is None:
            raise ProcessorError(f"{type(self).__name__} needs patch_size (the vision tower's) to count image tokens")
        return self.patch_size

    def num_image_tokens(self, image_inputs: BatchFeature, index: int) -> int:
        """Features of image `index`: its patches, plus `num_additional_image_tokens`, less the CLS
        feature the "default" strategy drops."""
        patch_size = self.checked_patch_size()
        height, width = image_inputs["pixel_values"][index].shape[-2:]
        count = (height // patch_size) * (width // patch_size) + self.num_additional_image_tokens
        return count - 1 if self.vision_feature_select_strategy == "default" else count

    def expand_prompts(self, text: list[str], replacements: dict[str, tuple[str, list[str]]]) -> list[TrackedText]:
        """Each placeholder token of the batch, in order, replaced by the next expansion of its media;
        `ProcessorError` when the prompts hold more or fewer placeholders than there are media."""
        prompts = [TrackedText(sample) for sample in text]
        for token, (media, expansions) in replacements.items():
            found = sum(sample.count(token) for sample in text)
            if found and not expansions:
                raise ProcessorError(f"Found {found} {token} tokens in the text but no {media} were passed.")
            if expansions and found != len(expansions):
                raise ProcessorError(
                    f"The total number of {token} tokens in the prompts should be the same as the number of "
                    f"{media} passed. Found total {found} {token} tokens and {len(expansions)} {media}."
                )
            queue = iter(expansions)
            prompts = [prompt.sub(re.escape(token), lambda _, queue=queue: next(queue)) for prompt in prompts]
        return prompts


__all__ = [
    "LlavaConfig",
    "LlavaImageProcessor",
    "LlavaProcessor",
    "LlavaModelOutputWithPast",
    "LlavaCausalLMOutputWithPast",
    "LlavaMultiModalProjector",
    "LlavaPreTrainedModel",
    "LlavaModel",
    "LlavaForConditionalGeneration",
]
