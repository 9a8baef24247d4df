"""Idefics2: a SigLIP vision encoder at native resolution, a Perceiver resampler that compresses
each image to `resampler_n_latents` tokens, and a text decoder (Mistral by default; any model_type
through the runtime's auto registry) whose `<image>` token embeddings are replaced by those tokens.
"""

import re
from itertools import accumulate
from typing import Any

import torch
from torch import nn

from generated.llama.modeling_llama import LlamaRMSNorm
from generated.siglip.configuration_siglip import SiglipVisionConfig
from generated.siglip.modeling_siglip import (
    SiglipPreTrainedModel,
    SiglipVisionEmbeddings,
    SiglipVisionModel,
    eager_attention_forward,
)
from runtime.activations import ACT2FN
from runtime.attention import get_attention_backend
from runtime.auto import AutoModel
from runtime.cache import Cache
from runtime.configuration_utils import PretrainedConfig
from runtime.generation import GenerationMixin
from runtime.image_loading import load_image
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
from runtime.losses import causal_lm_loss
from runtime.masks import create_bidirectional_mask
from runtime.outputs import BaseModelOutputWithPooling, ImageTextCausalLMOutputWithPast, ImageTextModelOutputWithPast
from runtime.processing_utils import ProcessorMixin, TrackedText, check_processor_options, checked_text
from runtime.tokenization_utils import Tokenizer


class Idefics2VisionConfig(SiglipVisionConfig):
    """The vision encoder: SigLIP without the pooling head."""

    model_type = "idefics2_vision"

    patch_size: int = 32
    initializer_range: float = 0.02
    vision_use_head = AttributeError()


class Idefics2PerceiverConfig(PretrainedConfig):
    """The resampler: `resampler_depth` blocks in which `resampler_n_latents` learned latents attend
    to the image features; `hidden_size` is the text model's (Idefics2Config keeps them equal)."""

    model_type = "idefics2_perceiver"

    hidden_act: str = "silu"
    hidden_size: int = 4096
    rms_norm_eps: float = 1e-6
    resampler_n_latents: int = 64
    resampler_depth: int = 3
    resampler_n_heads: int = 16
    resampler_head_dim: int = 96
    num_key_value_heads: int = 4
    attention_dropout: float = 0.0
    initializer_range: float = 0.02

    def validate(self) -> None:
        if self.resampler_n_heads % self.num_key_value_heads != 0:
            raise ValueError(
                f"resampler_n_heads={self.resampler_n_heads} is not a multiple of "
                f"num_key_value_heads={self.num_key_value_heads}"
            )


class Idefics2Config(PretrainedConfig):
    """Configuration of an Idefics2 model; the defaults describe idefics2-8b (text model: Mistral)."""

    model_type = "idefics2"
    sub_configs = {
        "vision_config": Idefics2VisionConfig,
        "perceiver_config": Idefics2PerceiverConfig,
        "text_config": "mistral",
    }
    sub_config_defaults = {
        "text_config": {"max_position_embeddings": 4096 * 8, "rms_norm_eps": 1e-5, "pad_token_id": 0}
    }

    use_cache: bool = True
    image_token_id: int = 32_001
    tie_word_embeddings: bool = False
    vision_config: PretrainedConfig | None = None
    perceiver_config: PretrainedConfig | None = None
    text_config: PretrainedConfig | None = None

    def derive(self) -> None:
        # the resampler works in the text model's width
        if self.perceiver_config.hidden_size != self.text_config.hidden_size:
            self.perceiver_config.hidden_size = self.text_config.hidden_size
            self.perceiver_config.rms_norm_eps = self.text_config.rms_norm_eps


class Idefics2VisionEmbeddings(SiglipVisionEmbeddings):
    """Patch embeddings for images of any size up to `image_size` (NaViT-style): each image's grid
    of real patches is spread over the whole position table by bucketing fractional coordinates."""

    def __init__(self, config: Idefics2VisionConfig) -> None:
        super().__init__(config)
        del self.position_ids

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

    def interpolate_pos_encoding(self, embeddings, height, width):
        raise AttributeError("Idefics2 maps patches to positions with bucket_position_ids")

    def forward(self, pixel_values: torch.Tensor, patch_attention_mask: torch.Tensor) -> torch.Tensor:
        embeddings = self.embed_patches(pixel_values)
        return embeddings + self.position_embedding(self.bucket_position_ids(patch_attention_mask))


class Idefics2PreTrainedModel(SiglipPreTrainedModel):
    config_class = Idefics2Config
    base_model_prefix = "model"


class Idefics2VisionTransformer(SiglipVisionModel):
    """The encoder over a batch of images padded to one size; `patch_attention_mask` (B, H/P, W/P)
    marks the real patches, and padding patches are hidden from attention."""

    config_class = Idefics2VisionConfig

    def build_head(self, config: Idefics2VisionConfig) -> None:
        return None  # the connector reads every patch

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


class Idefics2RMSNorm(LlamaRMSNorm):
    pass


class Idefics2GatedMLP(nn.Module):
    """down(act(gate(x)) * up(x)), between any sizes: the modality projection and the resampler MLP."""

    def __init__(self, hidden_size: int, intermediate_size: int, output_size: int, hidden_act: str) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(hidden_size, intermediate_size, bias=False)
        self.up_proj = nn.Linear(hidden_size, intermediate_size, bias=False)
        self.down_proj = nn.Linear(intermediate_size, output_size, bias=False)
        self.act_fn = ACT2FN[hidden_act]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(self.act_fn(self.gate_proj(x)) * self.up_proj(x))


class Idefics2PerceiverAttention(nn.Module):
    """The latents attend to [image features; latents], with grouped key/value heads."""

    def __init__(self, config: Idefics2PerceiverConfig) -> None:
        super().__init__()
        self.config = config
        self.head_dim = config.resampler_head_dim
        self.num_key_value_groups = config.resampler_n_heads // config.num_key_value_heads
        self.scaling = self.head_dim**-0.5
        self.attention_dropout = config.attention_dropout
        self.is_causal = False
        kv_size = config.num_key_value_heads * self.head_dim
        self.q_proj = nn.Linear(config.hidden_size, config.resampler_n_heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(config.hidden_size, kv_size, bias=False)
        self.v_proj = nn.Linear(config.hidden_size, kv_size, bias=False)
        self.o_proj = nn.Linear(config.resampler_n_heads * self.head_dim, config.hidden_size, bias=False)

    def forward(
        self, latents: torch.Tensor, context: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        batch_size, n_latents, _ = latents.shape
        hidden_states = torch.cat([context, latents], dim=-2)  # (B, T + L, D)
        kv_shape = (batch_size, hidden_states.shape[1], -1, self.head_dim)
        queries = self.q_proj(latents).view(batch_size, n_latents, -1, self.head_dim).transpose(1, 2)  # (B, H, L, d)
        keys = self.k_proj(hidden_states).view(kv_shape).transpose(1, 2)  # (B, Hkv, T + L, d)
        values = self.v_proj(hidden_states).view(kv_shape).transpose(1, 2)

        attention_interface = get_attention_backend(self.config._attn_implementation, eager_attention_forward)
        attn_output, attn_weights = attention_interface(
            self,
            queries,
            keys,
            values,
            attention_mask,
            scaling=self.scaling,
            dropout=0.0 if not self.training else self.attention_dropout,
        )
        attn_output = attn_output.reshape(batch_size, n_latents, -1)  # (B, L, H * d)
        return self.o_proj(attn_output), attn_weights


class Idefics2PerceiverLayer(nn.Module):
    """Pre-norm residual block: the latents cross-attend to the context, then an MLP."""

    def __init__(self, config: Idefics2PerceiverConfig) -> None:
        super().__init__()
        self.input_latents_norm = Idefics2RMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.input_context_norm = Idefics2RMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.self_attn = Idefics2PerceiverAttention(config)
        self.post_attention_layernorm = Idefics2RMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.mlp = Idefics2GatedMLP(config.hidden_size, config.hidden_size * 4, config.hidden_size, config.hidden_act)

    def forward(
        self, latents: torch.Tensor, context: torch.Tensor, attention_mask: torch.Tensor | None
    ) -> torch.Tensor:
        context = self.input_context_norm(context)
        attn_output, _ = self.self_attn(self.input_latents_norm(latents), context, attention_mask)
        latents = latents + attn_output
        return latents + self.mlp(self.post_attention_layernorm(latents))


class Idefics2PerceiverResampler(nn.Module):
    """Compresses each image's (T, D) features to (resampler_n_latents, D)."""

    def __init__(self, config: Idefics2PerceiverConfig) -> None:
        super().__init__()
        self.config = config
        self.latents = nn.Parameter(torch.ones(config.resampler_n_latents, config.hidden_size))
        self.layers = nn.ModuleList([Idefics2PerceiverLayer(config) for _ in range(config.resampler_depth)])
        self.norm = Idefics2RMSNorm(config.hidden_size, eps=config.rms_norm_eps)

    def forward(self, context: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        latents = self.latents.unsqueeze(0).expand(context.shape[0], -1, -1)  # (N, L, D)
        # keys are [context; latents]: the latents are never padding
        attention_mask = torch.cat([attention_mask, attention_mask.new_ones(latents.shape[:2])], dim=-1)
        attention_mask = create_bidirectional_mask(self.config, latents, attention_mask)
        for layer in self.layers:
            latents = layer(latents, context, attention_mask)
        return self.norm(latents)


class Idefics2Connector(nn.Module):
    """Vision features -> text width (gated MLP) -> resampled to a fixed number of tokens per image."""

    def __init__(self, config: Idefics2Config) -> None:
        super().__init__()
        text = config.text_config
        self.modality_projection = Idefics2GatedMLP(
            config.vision_config.hidden_size, text.intermediate_size, text.hidden_size, text.hidden_act
        )
        self.perceiver_resampler = Idefics2PerceiverResampler(config.perceiver_config)

    def forward(self, image_hidden_states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.perceiver_resampler(self.modality_projection(image_hidden_states), attention_mask)


class Idefics2Model(Idefics2PreTrainedModel):
    """Vision encoder, connector and text model: the image tokens replace the `<image>` embeddings."""

    def __init__(self, config: Idefics2Config) -> None:
        super().__init__(config)
        self.vision_model = Idefics2VisionTransformer(config.vision_config)
        self.connector = Idefics2Connector(config)
        self.text_model = AutoModel.from_config(config.text_config)
        self.image_token_id = config.image_token_id

    def get_input_embeddings(self) -> nn.Module:
        return self.text_model.get_input_embeddings()

    def patch_mask_from_pixels(self, pixel_attention_mask: torch.Tensor) -> torch.Tensor:
        """(N, H, W) pixel mask -> (N, H/P, W/P) patch mask: a patch is real when all its pixels are."""
        patch_size = self.config.vision_config.patch_size
        subgrid = pixel_attention_mask.unfold(1, patch_size, patch_size).unfold(2, patch_size, patch_size)
        return subgrid.sum(dim=(-1, -2)) == patch_size * patch_size

    def connect(self, image_hidden_states: torch.Tensor, patch_attention_mask: torch.Tensor) -> torch.Tensor:
        return self.connector(image_hidden_states, patch_attention_mask.view(image_hidden_states.shape[0], -1))

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


class Idefics2ForConditionalGeneration(Idefics2PreTrainedModel, GenerationMixin):
    """Idefics2Model with a language-modelling head."""

    _tied_weights_keys = {"lm_head.weight": "model.text_model.embed_tokens.weight"}

    def __init__(self, config: Idefics2Config) -> None:
        super().__init__(config)
        self.model = Idefics2Model(config)
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


class Idefics2Processor(ProcessorMixin):
    """Images through `Idefics2ImageProcessor`; each `<image>` in the text becomes
    `<fake_token_around_image>` + `image_seq_len` x `<image>` + `<fake_token_around_image>` (five
    such groups when images are split), then the tokenizer. Matches transformers 5.23.0
    `Idefics2Processor` (`input_ids`, `attention_mask`, `pixel_values`, `pixel_attention_mask`).
    """

    image_processor_class = Idefics2ImageProcessor
    processor_keys = ("image_seq_len",)
    images_kwargs: dict[str, Any] = {}  # options this processor always passes to its image processor

    def __init__(
        self,
        image_processor: Idefics2ImageProcessor,
        tokenizer: Tokenizer,
        image_seq_len: int = 64,
        chat_template: str | None = None,
    ) -> None:
        super().__init__(image_processor, tokenizer, chat_template)
        self.fake_image_token = "<fake_token_around_image>"
        self.image_token = "<image>"
        self.end_of_utterance_token = "<end_of_utterance>"
        tokenizer.add_special_tokens([self.fake_image_token, self.image_token, self.end_of_utterance_token])
        self.image_token_id = tokenizer.convert_tokens_to_ids(self.image_token)
        check_processor_options({"image_seq_len": image_seq_len}, type(self).__name__)
        self.image_seq_len = image_seq_len

    def __call__(
        self,
        images: Any = None,
        text: str | list[str] | None = None,
        image_seq_len: int | None = None,
        return_tensors: str | None = None,
        **kwargs: Any,
    ) -> BatchFeature:
        """Image options (`do_image_splitting`, ...) go to the image processor, the rest (`padding`,
        `padding_side`, ...) to the tokenizer. Images: one, a flat list (cut by each prompt's
        `<image>` count) or one list per prompt; each a PIL image, an array, a tensor, or a string
        naming one (a path, an http(s) or file:// URL, base64)."""
        if text is None and images is None:
            raise ProcessorError("You must provide either `text` or `images`.")
        images_kwargs, text_kwargs = self.split_kwargs(kwargs)
        text = checked_text(text)  # None or a non-empty list of strings
        image_seq_len = image_seq_len or self.image_seq_len
        check_processor_options({"image_seq_len": image_seq_len}, type(self).__name__)
        inputs, image_inputs = {}, None
        if images is not None:
            counts = [sample.count(self.image_token) for sample in text] if text is not None else None
            images = [[self.load_image(image) for image in sample] for sample in self.group_images(images, counts)]
            image_inputs = self.image_processor(images, **{**self.images_kwargs, **images_kwargs})
        if text is not None:
            prompts = self.expand_prompts(text, image_inputs, image_seq_len)
            inputs.update(self.tokenize_prompts(prompts, **text_kwargs))
        if image_inputs is not None:
            names = self.image_processor.model_input_names
            inputs.update({key: value for key, value in image_inputs.items() if key in names})
        return BatchFeature(inputs, tensor_type=return_tensors)

    def group_images(self, images: Any, counts: list[int] | None) -> list[list[Any]]:
        """One list of images per prompt; `counts` are the prompts' `<image>` counts (None without text)."""
        if not isinstance(images, (list, tuple)):
            images = [[images]]
        elif images and not isinstance(images[0], (list, tuple)):
            if counts is not None and sum(counts) != len(images):
                raise ProcessorError(
                    f"The total number of {self.image_token} tokens in the prompts should be the same as the number "
                    f"of images passed. Found {sum(counts)} {self.image_token} tokens and {len(images)} images."
                )
            bounds = [0, *accumulate(counts)] if counts is not None else [0, len(images)]
            images = [list(images[start:end]) for start, end in zip(bounds, bounds[1:], strict=False)]
        if counts is not None and [len(sample) for sample in images] != counts:
            raise ProcessorError(
                f"The number of images in the text {counts} and images {[len(s) for s in images]} differ."
            )
        return images

    def load_image(self, image: Any) -> Any:
        return load_image(image)

    def expand_prompts(
        self, text: list[str], image_inputs: BatchFeature | None, image_seq_len: int
    ) -> list[TrackedText]:
        fake, image = self.fake_image_token, self.image_token
        image_str = f"{fake}{image * image_seq_len}{fake}"
        if self.image_processor.do_image_splitting:
            image_str = image_str * 5  # 4 crops + the whole image
        closing_fake = re.compile(rf"{re.escape(fake)}(?=[^\s<])")
        # adjacent images share one fake token; a word right after an image starts after a space
        return [
            TrackedText(sample)
            .sub(re.escape(image), image_str)
            .sub(re.escape(fake + fake), fake)
            .sub(closing_fake, f"{fake} ")
            for sample in text
        ]


__all__ = [
    "Idefics2Config",
    "Idefics2PerceiverConfig",
    "Idefics2VisionConfig",
    "Idefics2PreTrainedModel",
    "Idefics2Model",
    "Idefics2ForConditionalGeneration",
    "Idefics2ImageProcessor",
    "Idefics2Processor",
]
