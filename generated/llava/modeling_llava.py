# ----------------------------------------------------------------------------------------------------
# This file was generated from modular/modular_llava.py by the modular converter. Do not edit it by hand:
# edit modular/modular_llava.py instead, then regenerate with
#     python converter/run.py modular/modular_llava.py
# ----------------------------------------------------------------------------------------------------

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

from .configuration_llava import LlavaConfig


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


__all__ = [
    "LlavaModelOutputWithPast",
    "LlavaCausalLMOutputWithPast",
    "LlavaMultiModalProjector",
    "LlavaPreTrainedModel",
    "LlavaModel",
    "LlavaForConditionalGeneration",
]
