# ----------------------------------------------------------------------------------------------------
# This file was generated from modular/modular_idefics3.py by the modular converter. Do not edit it by hand:
# edit modular/modular_idefics3.py instead, then regenerate with
#     python converter/run.py modular/modular_idefics3.py
# ----------------------------------------------------------------------------------------------------

"""Idefics3: Idefics2 without the Perceiver resampler. The connector pixel-shuffles the vision
tokens (each scale_factor x scale_factor block of patches becomes one token, scale_factor**2 times
as wide) and projects them linearly into the text model (Llama by default).
"""

import torch
from torch import nn

from runtime.activations import ACT2FN
from runtime.attention import get_attention_backend
from runtime.auto import AutoModel
from runtime.cache import Cache
from runtime.generation import GenerationMixin
from runtime.losses import causal_lm_loss
from runtime.masks import create_bidirectional_mask
from runtime.modeling_utils import PreTrainedModel
from runtime.outputs import BaseModelOutputWithPooling, ImageTextCausalLMOutputWithPast, ImageTextModelOutputWithPast

from .configuration_idefics3 import Idefics3Config, Idefics3VisionConfig


class Idefics3MLP(nn.Module):
    """fc2(act(fc1(x)))."""

    def __init__(self, config: Idefics3VisionConfig) -> None:
        super().__init__()
        self.config = config
        self.activation_fn = ACT2FN[config.hidden_act]
        self.fc1 = nn.Linear(config.hidden_size, config.intermediate_size)
        self.fc2 = nn.Linear(config.intermediate_size, config.hidden_size)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.activation_fn(self.fc1(hidden_states)))


def repeat_kv(hidden_states: torch.Tensor, n_rep: int) -> torch.Tensor:
    """(B, Hkv, T, D) -> (B, Hkv * n_rep, T, D): each key/value head serves n_rep query heads."""
    batch, num_key_value_heads, slen, head_dim = hidden_states.shape
    if n_rep == 1:
        return hidden_states
    hidden_states = hidden_states[:, :, None, :, :].expand(batch, num_key_value_heads, n_rep, slen, head_dim)
    return hidden_states.reshape(batch, num_key_value_heads * n_rep, slen, head_dim)


def eager_attention_forward(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    *,
    scaling: float,
    dropout: float = 0.0,
    **kwargs,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The reference attention: softmax(q k^T * scaling, masked) v. Returns (B, T, H, D) and weights."""
    key_states = repeat_kv(key, module.num_key_value_groups)
    value_states = repeat_kv(value, module.num_key_value_groups)

    attn_weights = torch.matmul(query, key_states.transpose(2, 3)) * scaling  # (B, H, Tq, Tk)
    if attention_mask is not None:
        attn_weights = attn_weights.masked_fill(~attention_mask, torch.finfo(attn_weights.dtype).min)

    attn_weights = nn.functional.softmax(attn_weights, dim=-1, dtype=torch.float32).to(query.dtype)
    attn_weights = nn.functional.dropout(attn_weights, p=dropout, training=module.training)
    attn_output = torch.matmul(attn_weights, value_states)
    attn_output = attn_output.transpose(1, 2).contiguous()  # (B, Tq, H, D)
    return attn_output, attn_weights


class Idefics3Attention(nn.Module):
    """Bidirectional multi-head self-attention with biased projections."""

    def __init__(self, config: Idefics3VisionConfig) -> None:
        super().__init__()
        self.config = config
        self.embed_dim = config.hidden_size
        self.num_heads = config.num_attention_heads
        self.head_dim = self.embed_dim // self.num_heads
        self.num_key_value_groups = 1  # one key/value head per query head
        self.scale = self.head_dim**-0.5
        self.dropout = config.attention_dropout
        self.is_causal = False

        self.k_proj = nn.Linear(self.embed_dim, self.embed_dim)
        self.v_proj = nn.Linear(self.embed_dim, self.embed_dim)
        self.q_proj = nn.Linear(self.embed_dim, self.embed_dim)
        self.out_proj = nn.Linear(self.embed_dim, self.embed_dim)

    def forward(
        self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None = None, **kwargs
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        input_shape = hidden_states.shape[:-1]
        hidden_shape = (*input_shape, -1, self.head_dim)

        queries = self.q_proj(hidden_states).view(hidden_shape).transpose(1, 2)  # (B, H, T, D)
        keys = self.k_proj(hidden_states).view(hidden_shape).transpose(1, 2)
        values = self.v_proj(hidden_states).view(hidden_shape).transpose(1, 2)

        attention_interface = get_attention_backend(self.config._attn_implementation, eager_attention_forward)
        attn_output, attn_weights = attention_interface(
            self,
            queries,
            keys,
            values,
            attention_mask,
            scaling=self.scale,
            dropout=0.0 if not self.training else self.dropout,
        )

        attn_output = attn_output.reshape(*input_shape, -1).contiguous()  # (B, T, H * D)
        attn_output = self.out_proj(attn_output)
        return attn_output, attn_weights


class Idefics3PreTrainedModel(PreTrainedModel):
    config_class = Idefics3Config
    base_model_prefix = "model"


class Idefics3VisionEmbeddings(nn.Module):
    """Patch embeddings for images of any size up to `image_size` (NaViT-style): each image's grid
    of real patches is spread over the whole position table by bucketing fractional coordinates."""

    def __init__(self, config: Idefics3VisionConfig) -> None:
        super().__init__()
        self.config = config
        self.embed_dim = config.hidden_size
        self.image_size = config.image_size
        self.patch_size = config.patch_size
        self.patch_embedding = nn.Conv2d(
            in_channels=config.num_channels,
            out_channels=self.embed_dim,
            kernel_size=self.patch_size,
            stride=self.patch_size,
            padding="valid",
        )
        self.num_patches_per_side = self.image_size // self.patch_size
        self.num_patches = self.num_patches_per_side**2
        self.num_positions = self.num_patches
        self.position_embedding = nn.Embedding(self.num_positions, self.embed_dim)

    def embed_patches(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) pixels -> (B, H/P * W/P, D) patch embeddings, row by row."""
        pixel_values = pixel_values.to(dtype=self.patch_embedding.weight.dtype)
        patch_embeds = self.patch_embedding(pixel_values)  # (B, D, H/P, W/P)
        return patch_embeds.flatten(2).transpose(1, 2)

    def forward(self, pixel_values: torch.Tensor, patch_attention_mask: torch.Tensor) -> torch.Tensor:
        embeddings = self.embed_patches(pixel_values)
        return embeddings + self.position_embedding(self.bucket_position_ids(patch_attention_mask))

    def bucket_position_ids(self, patch_attention_mask: torch.Tensor) -> torch.Tensor:
        """(B, h, w) mask of real patches -> (B, h * w) position ids; padding patches get 0."""
        batch_size, max_patches_h, max_patches_w = patch_attention_mask.shape
        device = patch_attention_mask.device
        side = self.num_patches_per_side
        boundaries = torch.arange(1 / side, 1.0, 1 / side, device=device)
        step_h = 1.0 / patch_attention_mask[:, :, 0].sum(dim=1)  # (B,) one over the real rows
        step_w = 1.0 / patch_attention_mask[:, 0, :].sum(dim=1)
        coords_h = torch.arange(max_patches_h, device=device, dtype=torch.float32)[None, :] * step_h[:, None]
        coords_w = torch.arange(max_patches_w, device=device, dtype=torch.float32)[None, :] * step_w[:, None]
        bucket_h = torch.bucketize(torch.clamp(coords_h, max=1.0 - 1e-6), boundaries, right=True)  # (B, h)
        bucket_w = torch.bucketize(torch.clamp(coords_w, max=1.0 - 1e-6), boundaries, right=True)  # (B, w)
        position_ids = (bucket_h[:, :, None] * side + bucket_w[:, None, :]).reshape(batch_size, -1)
        return torch.where(patch_attention_mask.view(batch_size, -1), position_ids, 0)


class Idefics3EncoderLayer(nn.Module):
    """Pre-norm residual block: self-attention, then the MLP."""

    def __init__(self, config: Idefics3VisionConfig) -> None:
        super().__init__()
        self.embed_dim = config.hidden_size
        self.layer_norm1 = nn.LayerNorm(self.embed_dim, eps=config.layer_norm_eps)
        self.self_attn = Idefics3Attention(config)
        self.layer_norm2 = nn.LayerNorm(self.embed_dim, eps=config.layer_norm_eps)
        self.mlp = Idefics3MLP(config)

    def attention_block(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
        residual = hidden_states
        hidden_states = self.layer_norm1(hidden_states)
        hidden_states, _ = self.self_attn(hidden_states, attention_mask=attention_mask)
        return residual + hidden_states

    def feed_forward_block(self, hidden_states: torch.Tensor) -> torch.Tensor:
        residual = hidden_states
        hidden_states = self.layer_norm2(hidden_states)
        hidden_states = self.mlp(hidden_states)
        return residual + hidden_states

    def forward(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        hidden_states = self.attention_block(hidden_states, attention_mask)
        return self.feed_forward_block(hidden_states)


class Idefics3Encoder(nn.Module):
    """The stack of encoder layers."""

    def __init__(self, config: Idefics3VisionConfig) -> None:
        super().__init__()
        self.config = config
        self.layers = nn.ModuleList([Idefics3EncoderLayer(config) for _ in range(config.num_hidden_layers)])

    def forward(self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        hidden_states = inputs_embeds
        for encoder_layer in self.layers:
            hidden_states = encoder_layer(hidden_states, attention_mask)
        return hidden_states


class Idefics3VisionTransformer(Idefics3PreTrainedModel):
    """The encoder over a batch of images padded to one size; `patch_attention_mask` (B, H/P, W/P)
    marks the real patches, and padding patches are hidden from attention."""

    config_class = Idefics3VisionConfig

    def __init__(self, config: Idefics3VisionConfig) -> None:
        super().__init__(config)
        self.embeddings = Idefics3VisionEmbeddings(config)
        self.encoder = Idefics3Encoder(config)
        self.post_layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.head = self.build_head(config)

    def build_head(self, config: Idefics3VisionConfig) -> None:
        return None  # the connector reads every patch

    def get_input_embeddings(self) -> nn.Module:
        return self.embeddings.patch_embedding

    def forward(
        self, pixel_values: torch.Tensor, patch_attention_mask: torch.Tensor | None = None, **kwargs
    ) -> BaseModelOutputWithPooling:
        batch_size, _, height, width = pixel_values.shape
        if patch_attention_mask is None:
            patches = (batch_size, height // self.config.patch_size, width // self.config.patch_size)
            patch_attention_mask = torch.ones(patches, dtype=torch.bool, device=pixel_values.device)
        hidden_states = self.embeddings(pixel_values, patch_attention_mask)
        mask = create_bidirectional_mask(self.config, hidden_states, patch_attention_mask.view(batch_size, -1))
        hidden_states = self.encoder(hidden_states, attention_mask=mask)
        return BaseModelOutputWithPooling(last_hidden_state=self.post_layernorm(hidden_states))


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


class Idefics3Model(Idefics3PreTrainedModel):
    """Vision encoder, connector and text model: the image tokens replace the `<image>` embeddings."""

    def __init__(self, config: Idefics3Config) -> None:
        super().__init__(config)
        self.vision_model = Idefics3VisionTransformer(config.vision_config)
        self.connector = Idefics3Connector(config)
        self.text_model = AutoModel.from_config(config.text_config)
        self.image_token_id = config.image_token_id

    def get_input_embeddings(self) -> nn.Module:
        return self.text_model.get_input_embeddings()

    def patch_mask_from_pixels(self, pixel_attention_mask: torch.Tensor) -> torch.Tensor:
        """(N, H, W) pixel mask -> (N, H/P, W/P) patch mask: a patch is real when any of its pixels is."""
        patch_size = self.config.vision_config.patch_size
        subgrid = pixel_attention_mask.unfold(1, patch_size, patch_size).unfold(2, patch_size, patch_size)
        return subgrid.sum(dim=(-1, -2)) > 0

    def connect(self, image_hidden_states: torch.Tensor, patch_attention_mask: torch.Tensor) -> torch.Tensor:
        return self.connector(image_hidden_states)

    def check_pixel_inputs(self, pixel_values: torch.Tensor, pixel_attention_mask: torch.Tensor | None) -> None:
        """Refuse pixels the vision tower cannot read, naming the input, before any reshape fails."""
        channels = self.config.vision_config.num_channels
        if not isinstance(pixel_values, torch.Tensor) or pixel_values.ndim != 5 or pixel_values.shape[2] != channels:
            got = tuple(pixel_values.shape) if isinstance(pixel_values, torch.Tensor) else type(pixel_values).__name__
            raise ValueError(f"pixel_values must be (batch, images, {channels}, height, width), got {got}")
        expected = (*pixel_values.shape[:2], *pixel_values.shape[3:])
        mask_shape = tuple(getattr(pixel_attention_mask, "shape", ()))
        if pixel_attention_mask is not None and mask_shape != expected:
            raise ValueError(
                f"pixel_attention_mask must be (batch, images, height, width) = {expected}, got {mask_shape}"
            )

    def get_image_features(
        self, pixel_values: torch.Tensor, pixel_attention_mask: torch.Tensor | None = None, **kwargs
    ) -> BaseModelOutputWithPooling:
        """(B, I, C, H, W) pixels, all-zero images being padding -> the vision tower's output over the
        real images, whose `pooler_output` holds each sample's image tokens, (tokens, D)."""
        self.check_pixel_inputs(pixel_values, pixel_attention_mask)
        batch_size, num_images = pixel_values.shape[:2]
        pixel_values = pixel_values.to(dtype=self.dtype).flatten(0, 1)  # (B * I, C, H, W)
        real_images = (pixel_values != 0.0).flatten(1).any(dim=-1)
        if not bool(real_images.any()):
            raise ValueError("pixel_values: every image is padding (all zeros); pass no pixel_values instead")
        images_per_sample = real_images.view(batch_size, num_images).sum(dim=1)
        pixel_values = pixel_values[real_images].contiguous()
        if pixel_attention_mask is None:
            pixel_attention_mask = torch.ones_like(pixel_values[:, 0], dtype=torch.bool)
        else:
            pixel_attention_mask = pixel_attention_mask.flatten(0, 1)[real_images]
        patch_attention_mask = self.patch_mask_from_pixels(pixel_attention_mask)
        image_outputs = self.vision_model(pixel_values, patch_attention_mask)
        image_features = self.connect(image_outputs.last_hidden_state, patch_attention_mask)  # (N, tokens, D)
        per_sample = image_features.split(images_per_sample.tolist())
        image_outputs.pooler_output = [features.reshape(-1, features.shape[-1]) for features in per_sample]
        return image_outputs

    def image_hidden_states_of(
        self,
        pixel_values: torch.Tensor | None,
        pixel_attention_mask: torch.Tensor | None,
        mm_encoder_outputs: dict[str, BaseModelOutputWithPooling] | torch.Tensor | None,
    ) -> torch.Tensor | None:
        """The image tokens, from the pixels or from `get_image_features` run beforehand, passed as
        `mm_encoder_outputs={"image": output}` (or, deprecated in transformers, the tokens themselves)."""
        if pixel_values is not None and mm_encoder_outputs is not None:
            raise ValueError("You cannot specify both pixel_values and mm_encoder_outputs at the same time")
        if pixel_values is not None:
            image_hidden_states = self.get_image_features(pixel_values, pixel_attention_mask).pooler_output
        elif isinstance(mm_encoder_outputs, dict) and mm_encoder_outputs.get("image") is not None:
            image_hidden_states = mm_encoder_outputs["image"].pooler_output
        else:
            image_hidden_states = mm_encoder_outputs if isinstance(mm_encoder_outputs, torch.Tensor) else None
        if isinstance(image_hidden_states, (list, tuple)):
            image_hidden_states = torch.cat(image_hidden_states, dim=0)
        return image_hidden_states.to(dtype=self.dtype) if image_hidden_states is not None else None

    def inputs_merger(
        self, input_ids: torch.Tensor | None, inputs_embeds: torch.Tensor, image_hidden_states: torch.Tensor
    ) -> torch.Tensor:
        """Write the image tokens, in order, over the embeddings of the `<image>` tokens."""
        if input_ids is None:
            image_token = torch.tensor(self.image_token_id, device=inputs_embeds.device)
            image_positions = (inputs_embeds == self.get_input_embeddings()(image_token)).all(-1)
        else:
            image_positions = input_ids == self.image_token_id
        if int(image_positions.sum()) * inputs_embeds.shape[-1] != image_hidden_states.numel():
            raise ValueError(
                f"{int(image_positions.sum())} image tokens in the text but {image_hidden_states.shape[0]} image features"
            )
        image_hidden_states = image_hidden_states.to(inputs_embeds.device, inputs_embeds.dtype)
        return inputs_embeds.masked_scatter(image_positions.unsqueeze(-1), image_hidden_states)

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        past_key_values: Cache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        pixel_values: torch.Tensor | None = None,
        pixel_attention_mask: torch.Tensor | None = None,
        mm_encoder_outputs: dict[str, BaseModelOutputWithPooling] | torch.Tensor | None = None,
        use_cache: bool | None = None,
        **kwargs,
    ) -> ImageTextModelOutputWithPast:
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("pass exactly one of input_ids or inputs_embeds")
        if inputs_embeds is None:
            inputs_embeds = self.get_input_embeddings()(input_ids)
        # prefill only: later steps read the image tokens from the cache
        image_hidden_states = self.image_hidden_states_of(pixel_values, pixel_attention_mask, mm_encoder_outputs)
        if image_hidden_states is not None:
            image_hidden_states = image_hidden_states.to(inputs_embeds.device)
            inputs_embeds = self.inputs_merger(input_ids, inputs_embeds, image_hidden_states)
        outputs = self.text_model(
            inputs_embeds=inputs_embeds,
            attention_mask=attention_mask,
            position_ids=position_ids,
            past_key_values=past_key_values,
            use_cache=use_cache,
            **kwargs,
        )
        return ImageTextModelOutputWithPast(
            last_hidden_state=outputs.last_hidden_state,
            past_key_values=outputs.past_key_values,
            hidden_states=outputs.hidden_states,
            image_hidden_states=image_hidden_states,
        )


class Idefics3ForConditionalGeneration(Idefics3PreTrainedModel, GenerationMixin):
    """Idefics3Model with a language-modelling head."""

    _tied_weights_keys = {"lm_head.weight": "model.text_model.embed_tokens.weight"}

    def __init__(self, config: Idefics3Config) -> None:
        super().__init__(config)
        self.model = Idefics3Model(config)
        self.image_token_id = config.image_token_id
        self.vocab_size = config.text_config.vocab_size
        self.lm_head = nn.Linear(config.text_config.hidden_size, self.vocab_size, bias=False)

    def get_input_embeddings(self) -> nn.Module:
        return self.model.get_input_embeddings()

    def get_image_features(
        self, pixel_values: torch.Tensor, pixel_attention_mask: torch.Tensor | None = None, **kwargs
    ) -> BaseModelOutputWithPooling:
        return self.model.get_image_features(pixel_values, pixel_attention_mask, **kwargs)

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        past_key_values: Cache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        pixel_values: torch.Tensor | None = None,
        pixel_attention_mask: torch.Tensor | None = None,
        mm_encoder_outputs: dict[str, BaseModelOutputWithPooling] | torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        use_cache: bool | None = None,
        logits_to_keep: int = 0,
        **kwargs,
    ) -> ImageTextCausalLMOutputWithPast:
        outputs = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            past_key_values=past_key_values,
            inputs_embeds=inputs_embeds,
            pixel_values=pixel_values,
            pixel_attention_mask=pixel_attention_mask,
            mm_encoder_outputs=mm_encoder_outputs,
            use_cache=use_cache,
            **kwargs,
        )
        # only the last `logits_to_keep` positions need logits (generation keeps 1)
        logits = self.lm_head(outputs.last_hidden_state[:, -logits_to_keep:, :])
        loss = causal_lm_loss(logits, labels, self.vocab_size) if labels is not None else None
        return ImageTextCausalLMOutputWithPast(
            loss=loss,
            logits=logits,
            past_key_values=outputs.past_key_values,
            hidden_states=outputs.hidden_states,
            image_hidden_states=outputs.image_hidden_states,
        )


__all__ = ["Idefics3PreTrainedModel", "Idefics3Model", "Idefics3ForConditionalGeneration", "Idefics3VisionTransformer"]
