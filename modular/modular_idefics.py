"""IDEFICS (v1): a Flamingo-style model. A CLIP vision encoder and a Llama decoder, bridged by a
Perceiver resampler and gated cross-attention layers every `cross_layer_interval` decoder layers.

The vision tower is CLIP's (modular_clip.py) and the decoder layers are Llama's (modular_llama.py);
this file is the root of the gated cross-attention family, and its own pieces are small methods a
model built on it overrides:

- `IdeficsModel.encode_images`: pixels (or the vision tower's or the resampler's output) to the
  (B, N, L, D) image states; `IdeficsModel.cross_attention_masks`: `image_attention_mask` to the
  cross-attention mask and the gate of tokens that see no image;
- `IdeficsAttention.cross_attend` and `.normalize_qk`: text queries over image keys and values,
  with the optional per-head RMSNorm on queries and keys;
- `IdeficsGatedCrossAttentionLayer`, gated by `make_gate` / `init_gate_` (tanh of zeros at init);
- `IdeficsPerceiverResampler`, `IdeficsDecoupledEmbedding`, `IdeficsDecoupledLinear`;
- `IdeficsModel.freeze_text_layers` / `.freeze_vision_layers` (`freeze_model`), applied at build;
- `IdeficsForVisionText2Text.prepare_inputs_for_generation`: images encoded once, at prefill.

Parameter names and config.json fields match the Hugging Face checkpoints (transformers 5.23.0).
The processor and image processor follow the model, in their own section.
"""

import math
import os
from typing import Any
from urllib.parse import urlparse

import torch
from torch import nn

from generated.clip.modeling_clip import (
    CLIPMLP,
    CLIPAttention,
    CLIPEncoder,
    CLIPEncoderLayer,
    CLIPVisionEmbeddings,
    CLIPVisionTransformer,
)
from generated.llama.configuration_llama import LlamaConfig
from generated.llama.modeling_llama import (
    LlamaAttention,
    LlamaDecoderLayer,
    LlamaForCausalLM,
    LlamaMLP,
    LlamaModel,
    LlamaPreTrainedModel,
    eager_attention_forward,
    make_norm,
)
from runtime.activations import ACT2FN
from runtime.attention import get_attention_backend
from runtime.cache import Cache, DynamicCache
from runtime.configuration_utils import PretrainedConfig
from runtime.image_loading import load_image
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
from runtime.losses import causal_lm_loss
from runtime.outputs import ImageTextCausalLMOutputWithPast, ImageTextModelOutputWithPast
from runtime.processing_utils import ProcessorMixin
from runtime.rope import standardize_rope_parameters
from runtime.tokenization_utils import Tokenizer


class IdeficsVisionConfig(PretrainedConfig):
    """The vision tower: CLIP's vision transformer; the defaults are transformers' (idefics-9b
    and -80b use CLIP ViT-H/14: 1280 wide, 32 layers, 224-pixel images).

    config.json names the width `embed_dim`; `hidden_size` is another name for it, so CLIP's
    modules read it unchanged.
    """

    model_type = "idefics_vision"
    attribute_map = {"hidden_size": "embed_dim"}

    embed_dim: int = 768
    image_size: int = 224
    intermediate_size: int = 5120
    patch_size: int = 14
    num_hidden_layers: int = 32
    num_attention_heads: int = 16
    num_channels: int = 3
    hidden_act: str = "gelu"
    layer_norm_eps: float = 1e-5
    attention_dropout: float = 0.0
    initializer_range: float = 0.02
    initializer_factor: float = 1.0

    def validate(self) -> None:
        sizes = ("embed_dim", "intermediate_size", "num_hidden_layers", "num_attention_heads", "patch_size")
        for name in (*sizes, "image_size", "num_channels"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name}={getattr(self, name)} must be positive")
        if self.embed_dim % self.num_attention_heads != 0:
            raise ValueError(
                f"embed_dim={self.embed_dim} is not a multiple of num_attention_heads={self.num_attention_heads}"
            )


class IdeficsPerceiverConfig(PretrainedConfig):
    """The Perceiver resampler: `resampler_depth` blocks in which `resampler_n_latents` learned
    latents attend to each image's features; it works in the vision width. The model reads
    `IdeficsConfig.use_resampler`, not this config's (transformers keeps both)."""

    model_type = "idefics_perciever"  # sic: transformers' spelling, written in config.json

    use_resampler: bool = False
    resampler_n_latents: int = 64
    resampler_depth: int = 6
    resampler_n_heads: int = 16
    resampler_head_dim: int = 96
    qk_layer_norms_perceiver: bool = False

    def validate(self) -> None:
        for name in ("resampler_n_latents", "resampler_depth", "resampler_n_heads", "resampler_head_dim"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name}={getattr(self, name)} must be positive")


class IdeficsConfig(LlamaConfig):
    """Configuration of an IDEFICS model: a Llama decoder (its fields at the top level, as
    transformers has them), a CLIP vision tower (`vision_config`), an optional Perceiver resampler
    (`use_resampler`, `perceiver_config`) and a gated cross-attention layer before every
    `cross_layer_interval`-th decoder layer; the defaults describe idefics-9b's text side.

    - `additional_vocab_size` new tokens get their own, always trainable, embedding rows and
      output features (IdeficsDecoupledEmbedding, IdeficsDecoupledLinear).
    - The tanh gates `alpha_cross_attn` and `alpha_dense` are one number (`alpha_type="float"`) or
      one per feature (`"vector"`), initialised by `alpha_initializer`: "zeros", "ones", or
      "normal" (also "gaussian", "random") with std `alphas_initializer_range`.
    - `qk_layer_norms`: RMSNorm on each head's queries and keys in the cross-attention.
    - `freeze_text_layers` (decoder layers and final norm, and the base vocabulary's embeddings),
      `freeze_vision_layers`, `freeze_lm_head`: turn off requires_grad when the model is built;
      the `*_module_exceptions` lists ("LayerNorm", "Linear", "Embedding") keep those module
      types trainable. As in transformers, loading a checkpoint makes every parameter trainable
      again; `model.model.freeze_relevant_params()` applies the options then.
    """

    model_type = "idefics"
    sub_configs = {"vision_config": IdeficsVisionConfig, "perceiver_config": IdeficsPerceiverConfig}

    # IDEFICS's decoder has one key/value head per query head and no biases: none of these
    # Llama fields is in its config.json
    num_key_value_heads = AttributeError()
    head_dim = AttributeError()
    pretraining_tp = AttributeError()
    attention_bias = AttributeError()
    attention_dropout = AttributeError()
    mlp_bias = AttributeError()

    pad_token_id: int | None = 0
    additional_vocab_size: int = 0
    dropout: float = 0.0
    alpha_initializer: str = "zeros"
    alphas_initializer_range: float = 0.0
    alpha_type: str = "float"
    cross_layer_interval: int = 1
    qk_layer_norms: bool = False
    freeze_text_layers: bool = True
    freeze_text_module_exceptions: list | tuple = ()
    freeze_lm_head: bool = False
    freeze_vision_layers: bool = True
    freeze_vision_module_exceptions: list | tuple = ()
    use_resampler: bool = False
    vision_config: PretrainedConfig | None = None
    perceiver_config: PretrainedConfig | None = None

    def derive(self) -> None:
        self.rope_parameters = standardize_rope_parameters(
            self.rope_parameters,
            self.extra_fields,
            self.max_position_embeddings,
            default_theta=getattr(self, "rope_theta", self.default_theta),
        )

    def validate(self) -> None:
        sizes = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads")
        for name in (*sizes, "cross_layer_interval"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name}={getattr(self, name)} must be positive")
        if self.additional_vocab_size < 0:
            raise ValueError(f"additional_vocab_size={self.additional_vocab_size} must not be negative")
        if self.hidden_size % self.num_attention_heads != 0:
            raise ValueError(
                f"hidden_size={self.hidden_size} is not a multiple of num_attention_heads={self.num_attention_heads}"
            )
        # transformers builds num_hidden_layers // cross_layer_interval cross-attention layers but
        # runs one before every cross_layer_interval-th decoder layer: an index error otherwise
        if self.num_hidden_layers % self.cross_layer_interval != 0:
            raise ValueError(
                f"num_hidden_layers={self.num_hidden_layers} is not a multiple of "
                f"cross_layer_interval={self.cross_layer_interval}"
            )


# The vision tower is CLIP's. Its classes are renamed CLIP -> IdeficsVision (the prefix of most
# classes built on CLIP's here), which keeps CLIP's attention and MLP apart from the decoder's
# IdeficsAttention and IdeficsMLP. Each __init__ below only re-annotates `config`: CLIP's
# annotations name CLIP's own configs, which the converter would copy in as
# IdeficsVisionVisionConfig and IdeficsVisionTextConfig.


class IdeficsVisionEmbeddings(CLIPVisionEmbeddings):
    """CLIP's class token, patches and learned positions. For other image sizes the position grid
    is resized as transformers' IDEFICS resizes it: by a scale factor (CLIP's code gives the
    target size instead, which samples the table at slightly different points)."""

    def __init__(self, config: IdeficsVisionConfig) -> None:
        super().__init__(config)

    def interpolate_pos_encoding(self, embeddings: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """The (1, 1 + N, D) position table for `embeddings` (B, 1 + N, D) of a height x width image."""
        pos_embed = self.position_embedding(self.position_ids)  # (1, 1 + N0, D)
        num_positions = pos_embed.shape[1] - 1
        if embeddings.shape[1] - 1 == num_positions and height == width:
            return pos_embed
        dim = embeddings.shape[-1]
        side = math.sqrt(num_positions)
        # transformers adds 0.1 so that the scale factor does not round the grid down
        rows, cols = height // self.patch_size + 0.1, width // self.patch_size + 0.1
        patch_pos_embed = pos_embed[:, 1:].reshape(1, int(side), int(side), dim).permute(0, 3, 1, 2)
        upcast = patch_pos_embed.dtype == torch.bfloat16  # bicubic has no bfloat16 kernel
        patch_pos_embed = nn.functional.interpolate(
            patch_pos_embed.float() if upcast else patch_pos_embed,
            scale_factor=(rows / side, cols / side),
            mode="bicubic",
            align_corners=False,
        ).to(pos_embed.dtype)  # (1, D, rows, cols)
        if tuple(patch_pos_embed.shape[-2:]) != (int(rows), int(cols)):
            raise ValueError(
                f"Number of patches for images ({int(rows), int(cols)}) don't match the shape of position "
                f"embedding ({tuple(patch_pos_embed.shape[-2:])})"
            )
        patch_pos_embed = patch_pos_embed.permute(0, 2, 3, 1).view(1, -1, dim)
        return torch.cat((pos_embed[:, :1], patch_pos_embed), dim=1)


class IdeficsVisionAttention(CLIPAttention):
    """CLIP's bidirectional self-attention (biased q, k, v and out projections)."""

    def __init__(self, config: IdeficsVisionConfig) -> None:
        super().__init__(config)


class IdeficsVisionMLP(CLIPMLP):
    """CLIP's fc2(act(fc1(x)))."""

    def __init__(self, config: IdeficsVisionConfig) -> None:
        super().__init__(config)


class IdeficsVisionEncoderLayer(CLIPEncoderLayer):
    """CLIP's pre-norm encoder layer, over IdeficsVisionAttention and IdeficsVisionMLP."""

    def __init__(self, config: IdeficsVisionConfig) -> None:
        super().__init__(config)


class IdeficsVisionEncoder(CLIPEncoder):
    """CLIP's stack of encoder layers."""

    def __init__(self, config: IdeficsVisionConfig) -> None:
        super().__init__(config)


def make_gate(config: IdeficsConfig) -> nn.Parameter:
    """One tanh gate of a gated cross-attention layer: (1,) for `alpha_type="float"`, (1, 1,
    hidden_size) for `"vector"`, initialised by `init_gate_`."""
    if config.alpha_type not in ("float", "vector"):
        raise ValueError(f"Unknown value for `alpha_type` ({config.alpha_type}); use 'float' or 'vector'")
    shape = (1,) if config.alpha_type == "float" else (1, 1, config.hidden_size)
    alpha = nn.Parameter(torch.empty(shape))
    init_gate_(alpha, config)
    return alpha


@torch.no_grad()
def init_gate_(alpha: torch.Tensor, config: IdeficsConfig) -> None:
    """Fill a gate by `alpha_initializer`: zeros (the gates start closed), ones, or a normal draw."""
    if config.alpha_initializer == "zeros":
        alpha.zero_()
    elif config.alpha_initializer == "ones":
        alpha.fill_(1.0)
    elif config.alpha_initializer in ("normal", "gaussian", "random"):
        alpha.normal_(0.0, config.alphas_initializer_range)
    else:
        raise ValueError(
            f"Unknown alpha_initializer {config.alpha_initializer!r}; use 'zeros', 'ones' or 'normal' "
            "('gaussian' and 'random' are the same)"
        )


class IdeficsMLP(LlamaMLP):
    """Llama's gated MLP without biases (IDEFICS configs have no `mlp_bias`). Its output goes
    through the block's residual dropout (`config.dropout`), which transformers applies in the
    layer around it."""

    def __init__(self, config: IdeficsConfig) -> None:
        nn.Module.__init__(self)
        self.config = config
        self.gate_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.up_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.down_proj = nn.Linear(config.intermediate_size, config.hidden_size, bias=False)
        self.act_fn = ACT2FN[config.hidden_act]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden_states = super().forward(x)
        return nn.functional.dropout(hidden_states, p=self.config.dropout, training=self.training)


class IdeficsAttention(LlamaAttention):
    """Llama's attention as the decoder's self-attention (rotary, KV cache, one key/value head per
    query head); with `is_cross_attention`, text queries over image keys and values instead:
    `k_proj` and `v_proj` read the vision width, no rotary, no cache, and with
    `config.qk_layer_norms` an RMSNorm on each head's queries and keys. The output goes through
    the block's residual dropout (`config.dropout`), which transformers applies in the layer.
    """

    qkv_bias = AttributeError()  # IDEFICS has no biases: the hook's attention_bias field is gone

    def __init__(self, config: IdeficsConfig, layer_idx: int, is_cross_attention: bool = False) -> None:
        nn.Module.__init__(self)  # Llama's reads head and bias fields IDEFICS configs do not have
        self.config = config
        self.layer_idx = layer_idx
        self.is_cross_attention = is_cross_attention
        self.head_dim = config.hidden_size // config.num_attention_heads
        self.num_key_value_groups = 1
        self.scaling = self.head_dim**-0.5
        self.attention_dropout = config.dropout
        self.is_causal = not is_cross_attention

        width = config.num_attention_heads * self.head_dim
        kv_input_size = config.vision_config.embed_dim if is_cross_attention else config.hidden_size
        self.q_proj = nn.Linear(config.hidden_size, width, bias=False)
        self.k_proj = nn.Linear(kv_input_size, width, bias=False)
        self.v_proj = nn.Linear(kv_input_size, width, bias=False)
        self.o_proj = nn.Linear(width, config.hidden_size, bias=False)
        self.qk_layer_norms = is_cross_attention and config.qk_layer_norms
        if self.qk_layer_norms:
            self.q_layer_norm = make_norm(config, self.head_dim)
            self.k_layer_norm = make_norm(config, self.head_dim)

    def normalize_qk(self, query_states: torch.Tensor, key_states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """RMSNorm over each head of (B, T, H, D) queries and (B, S, H, D) keys, with qk_layer_norms."""
        if not self.qk_layer_norms:
            return query_states, key_states
        return self.q_layer_norm(query_states), self.k_layer_norm(key_states)

    def cross_attend(
        self, hidden_states: torch.Tensor, key_value_states: torch.Tensor, attention_mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(B, T, C) text queries over (B, S, Dv) image states; `attention_mask` (B, 1, T, S)."""
        input_shape = hidden_states.shape[:-1]
        query_states = self.q_proj(hidden_states).view(*input_shape, -1, self.head_dim)  # (B, T, H, D)
        kv_shape = (*key_value_states.shape[:-1], -1, self.head_dim)
        key_states = self.k_proj(key_value_states).view(kv_shape)  # (B, S, H, D)
        value_states = self.v_proj(key_value_states).view(kv_shape)
        query_states, key_states = self.normalize_qk(query_states, key_states)

        attention_interface = get_attention_backend(self.config._attn_implementation, eager_attention_forward)
        attn_output, attn_weights = attention_interface(
            self,
            query_states.transpose(1, 2),
            key_states.transpose(1, 2),
            value_states.transpose(1, 2),
            attention_mask,
            scaling=self.scaling,
            dropout=0.0 if not self.training else self.attention_dropout,
        )
        attn_output = self.o_proj(attn_output.reshape(*input_shape, -1).contiguous())  # (B, T, C)
        return nn.functional.dropout(attn_output, p=self.config.dropout, training=self.training), attn_weights

    def forward(
        self,
        hidden_states: torch.Tensor,
        position_embeddings: tuple[torch.Tensor, torch.Tensor] | None = None,
        attention_mask: torch.Tensor | None = None,
        past_key_values: Cache | None = None,
        key_value_states: torch.Tensor | None = None,
        **kwargs,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        if key_value_states is not None:
            return self.cross_attend(hidden_states, key_value_states, attention_mask)
        attn_output, attn_weights = super().forward(
            hidden_states,
            position_embeddings=position_embeddings,
            attention_mask=attention_mask,
            past_key_values=past_key_values,
        )
        return nn.functional.dropout(attn_output, p=self.config.dropout, training=self.training), attn_weights


class IdeficsDecoderLayer(LlamaDecoderLayer):
    """Llama's decoder layer, over IdeficsAttention and IdeficsMLP."""


class IdeficsGatedCrossAttentionLayer(nn.Module):
    """Flamingo's gated cross-attention block, inserted before a decoder layer: the text attends
    to the image states, then an MLP, each residual scaled by tanh of its gate (`alpha_cross_attn`,
    `alpha_dense`; zero at init, so a fresh layer is the identity). A token that sees no image
    gets no cross-attention output at all."""

    def __init__(self, config: IdeficsConfig, layer_idx: int) -> None:
        super().__init__()
        self.hidden_size = config.hidden_size
        self.cross_attn = IdeficsAttention(config, layer_idx, is_cross_attention=True)
        self.mlp = IdeficsMLP(config)
        self.input_layernorm = make_norm(config, config.hidden_size)
        self.post_attention_layernorm = make_norm(config, config.hidden_size)
        self.act_cross_attn = nn.Tanh()
        self.act_dense = nn.Tanh()
        self.alpha_cross_attn = make_gate(config)
        self.alpha_dense = make_gate(config)

    def forward(
        self,
        hidden_states: torch.Tensor,
        image_hidden_states: torch.Tensor,
        image_attention_mask: torch.Tensor,
        cross_attention_gate: torch.Tensor,
    ) -> torch.Tensor:
        """(B, T, C) text, (B, S, Dv) image states, (B, 1, T, S) mask, (B, T) gate -> (B, T, C).

        `cross_attention_gate` is True where a token sees at least one image."""
        # gated cross-attention block
        residual = hidden_states
        hidden_states, _ = self.cross_attn(
            self.input_layernorm(hidden_states),
            attention_mask=image_attention_mask,
            key_value_states=image_hidden_states,
        )
        hidden_states = hidden_states.masked_fill(~cross_attention_gate[:, :, None], 0.0)
        hidden_states = residual + self.act_cross_attn(self.alpha_cross_attn) * hidden_states
        # gated feed-forward block
        residual = hidden_states
        hidden_states = self.mlp(self.post_attention_layernorm(hidden_states))
        return residual + self.act_dense(self.alpha_dense) * hidden_states


class IdeficsDecoupledEmbedding(nn.Embedding):
    """An embedding split in two parameters: `weight`, the `num_embeddings` rows of the base
    vocabulary (frozen when `partially_freeze`), and `additional_embedding`, the
    `num_additional_embeddings` rows of the new tokens (always trainable), which ids >=
    num_embeddings read. Without new tokens it is a plain embedding."""

    def __init__(
        self,
        num_embeddings: int,
        num_additional_embeddings: int,
        embedding_dim: int,
        partially_freeze: bool = False,
        padding_idx: int | None = None,
    ) -> None:
        super().__init__(num_embeddings, embedding_dim, padding_idx=padding_idx)
        self.num_additional_embeddings = num_additional_embeddings
        self.partially_freeze = partially_freeze
        if partially_freeze:
            self.weight.requires_grad_(False)
        if num_additional_embeddings > 0:
            self.additional_embedding = nn.Embedding(num_additional_embeddings, embedding_dim)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        if self.num_additional_embeddings == 0:
            return nn.functional.embedding(input_ids, self.weight)
        additional = input_ids >= self.num_embeddings
        embeddings = nn.functional.embedding(input_ids.masked_fill(additional, 0), self.weight)  # (B, T, D)
        embeddings[additional] = self.additional_embedding(input_ids[additional] - self.num_embeddings)
        return embeddings

    def extra_repr(self) -> str:
        return (
            f"num_embeddings={self.num_embeddings}, num_additional_embeddings={self.num_additional_embeddings}, "
            f"embedding_dim={self.embedding_dim}, partially_freeze={self.partially_freeze}"
        )


class IdeficsDecoupledLinear(nn.Linear):
    """A linear layer whose `out_features` outputs (`weight`, `bias`; frozen when
    `partially_freeze`) are followed by `out_additional_features` outputs of `additional_fc`
    (always trainable): the LM head over the base and the new tokens."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        out_additional_features: int = 0,
        bias: bool = True,
        partially_freeze: bool = True,
    ) -> None:
        super().__init__(in_features, out_features, bias)
        self.out_additional_features = out_additional_features
        self.partially_freeze = partially_freeze
        if partially_freeze:
            self.weight.requires_grad_(False)
            if bias:
                self.bias.requires_grad_(False)
        if out_additional_features > 0:
            self.additional_fc = nn.Linear(in_features, out_additional_features, bias)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        output = super().forward(input)
        if self.out_additional_features > 0:
            output = torch.cat((output, self.additional_fc(input)), -1)
        return output

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"out_additional_features={self.out_additional_features}, bias={self.bias is not None}, "
            f"partially_freeze={self.partially_freeze}"
        )


class IdeficsPerceiverAttention(nn.Module):
    """The latents attend to [context; latents] (Flamingo's resampler), after a LayerNorm on each,
    with `qk_layer_norms_perceiver` a LayerNorm on each head's queries and keys."""

    def __init__(self, config: IdeficsConfig) -> None:
        super().__init__()
        perceiver, embed_dim = config.perceiver_config, config.vision_config.embed_dim
        self.config = config
        self.num_heads = perceiver.resampler_n_heads
        self.head_dim = perceiver.resampler_head_dim
        self.num_key_value_groups = 1
        self.scaling = self.head_dim**-0.5
        self.is_causal = False
        self.qk_layer_norms = perceiver.qk_layer_norms_perceiver
        self.context_layer_norm = nn.LayerNorm(embed_dim)
        self.latents_layer_norm = nn.LayerNorm(embed_dim)
        if self.qk_layer_norms:
            self.q_layer_norm = nn.LayerNorm(self.head_dim)
            self.k_layer_norm = nn.LayerNorm(self.head_dim)
        inner_size = self.num_heads * self.head_dim
        self.q_proj = nn.Linear(embed_dim, inner_size, bias=False)
        self.k_proj = nn.Linear(embed_dim, inner_size, bias=False)
        self.v_proj = nn.Linear(embed_dim, inner_size, bias=False)
        self.output_proj = nn.Linear(inner_size, embed_dim, bias=False)

    def forward(self, context: torch.Tensor, latents: torch.Tensor) -> torch.Tensor:
        """(B, S, D) context and (B, L, D) latents -> (B, L, D)."""
        context = self.context_layer_norm(context)
        latents = self.latents_layer_norm(latents)
        batch_size = context.shape[0]
        heads = (batch_size, -1, self.num_heads, self.head_dim)
        keys_input = torch.cat([context, latents], dim=-2)  # (B, S + L, D)
        queries = self.q_proj(latents).view(heads).transpose(1, 2)  # (B, H, L, d)
        keys = self.k_proj(keys_input).view(heads).transpose(1, 2)  # (B, H, S + L, d)
        values = self.v_proj(keys_input).view(heads).transpose(1, 2)
        if self.qk_layer_norms:
            queries, keys = self.q_layer_norm(queries), self.k_layer_norm(keys)

        attention_interface = get_attention_backend(self.config._attn_implementation, eager_attention_forward)
        attn_output, _ = attention_interface(self, queries, keys, values, None, scaling=self.scaling)
        return self.output_proj(attn_output.reshape(batch_size, -1, self.num_heads * self.head_dim))


class IdeficsPerceiverMLP(nn.Module):
    """LayerNorm, then c_proj(relu(fc(x))) without biases, 4x the vision width inside."""

    def __init__(self, config: IdeficsConfig) -> None:
        super().__init__()
        embed_dim = config.vision_config.embed_dim
        self.ln = nn.LayerNorm(embed_dim)
        self.fc = nn.Linear(embed_dim, 4 * embed_dim, bias=False)
        self.act = nn.ReLU()
        self.c_proj = nn.Linear(4 * embed_dim, embed_dim, bias=False)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.c_proj(self.act(self.fc(self.ln(hidden_states))))


class IdeficsPerceiverResampler(nn.Module):
    """Compresses each image's (S, D) vision states to (resampler_n_latents, D): learned latents
    through `resampler_depth` residual blocks of [attention, MLP], then a LayerNorm."""

    def __init__(self, config: IdeficsConfig) -> None:
        super().__init__()
        perceiver, embed_dim = config.perceiver_config, config.vision_config.embed_dim
        self.latents = nn.Parameter(torch.randn(perceiver.resampler_n_latents, embed_dim))
        self.blocks = nn.ModuleList(
            [
                nn.ModuleList([IdeficsPerceiverAttention(config), IdeficsPerceiverMLP(config)])
                for _ in range(perceiver.resampler_depth)
            ]
        )
        self.layer_norm = nn.LayerNorm(embed_dim)

    def forward(self, context: torch.Tensor) -> torch.Tensor:
        """(N, S, D) vision states of N images -> (N, L, D)."""
        latents = self.latents.expand(context.shape[0], -1, -1)
        for attention, mlp in self.blocks:
            latents = attention(context, latents) + latents
            latents = mlp(latents) + latents
        return self.layer_norm(latents)


class IdeficsPreTrainedModel(LlamaPreTrainedModel):
    config_class = IdeficsConfig
    base_model_prefix = "model"

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        """The runtime's defaults, plus the class token, the gates (by `alpha_initializer`) and the
        resampler's latents, as transformers initialises them."""
        super()._init_weights(module)
        if isinstance(module, IdeficsVisionEmbeddings):
            module.class_embedding.normal_()
        elif isinstance(module, IdeficsGatedCrossAttentionLayer):
            init_gate_(module.alpha_cross_attn, self.config)
            init_gate_(module.alpha_dense, self.config)
        elif isinstance(module, IdeficsPerceiverResampler):
            module.latents.normal_()


class IdeficsVisionPreTrainedModel(IdeficsPreTrainedModel):
    """The vision tower's base, in place of CLIP's CLIPPreTrainedModel, whose weight init names
    CLIP's embeddings class (it would come in renamed IdeficsVisionVisionEmbeddings)."""

    config_class = IdeficsVisionConfig
    base_model_prefix = "vision_model"


class IdeficsVisionTransformer(CLIPVisionTransformer):
    """CLIP's vision tower: embeddings, pre-LayerNorm, encoder. IDEFICS reads its
    `last_hidden_state`, every patch and the class token, not normalised by post_layernorm."""

    config_class = IdeficsVisionConfig

    def __init__(self, config: IdeficsVisionConfig) -> None:
        super().__init__(config)
        self.embeddings = IdeficsVisionEmbeddings(config)  # IDEFICS's position interpolation


def freeze_model(model: nn.Module, module_exceptions: list[str] | tuple[str, ...] = ()) -> nn.Module:
    """Turn requires_grad off in `model`, except in its modules of the types `module_exceptions`
    names ("LayerNorm", "Linear", "Embedding"). As in transformers, modules are visited parents
    first, so an exception's parameters end up trainable."""
    mapping = {"LayerNorm": nn.LayerNorm, "Linear": nn.Linear, "Embedding": nn.Embedding}
    exceptions = tuple(mapping[name] for name in module_exceptions)
    for module in model.modules():
        module.requires_grad_(isinstance(module, exceptions))
    return model


class IdeficsModel(LlamaModel):
    """Decoupled embeddings, the vision tower (and resampler), and the decoder layers, with a gated
    cross-attention layer before every `cross_layer_interval`-th one.

    Images come as `pixel_values` (B, N, C, H, W), or already encoded: `image_encoder_embeddings`
    (B, N, S, Dv), the vision tower's output, or `perceiver_embeddings` (B, N, L, Dv), the
    resampler's. `image_attention_mask` (B, T, N) says which images each text token sees.
    """

    def __init__(self, config: IdeficsConfig) -> None:
        super().__init__(config)
        if config._attn_implementation == "flash_attention_2":
            raise ValueError("IDEFICS supports attn_implementation 'eager' and 'sdpa', not 'flash_attention_2'")
        self.embed_tokens = IdeficsDecoupledEmbedding(
            config.vocab_size,
            config.additional_vocab_size,
            config.hidden_size,
            partially_freeze=config.freeze_text_layers,
            padding_idx=self.padding_idx,
        )
        config.vision_config._attn_implementation = config._attn_implementation
        self.vision_model = IdeficsVisionTransformer(config.vision_config)
        if config.use_resampler:
            self.perceiver_resampler = IdeficsPerceiverResampler(config)
        self.cross_layer_interval = config.cross_layer_interval
        num_cross_layers = config.num_hidden_layers // config.cross_layer_interval
        self.gated_cross_attn_layers = nn.ModuleList(
            [IdeficsGatedCrossAttentionLayer(config, layer_idx) for layer_idx in range(num_cross_layers)]
        )
        self.freeze_relevant_params(config)

    def freeze_relevant_params(self, config: IdeficsConfig | None = None) -> None:
        """Apply the config's freeze_text_layers and freeze_vision_layers (with their exceptions)."""
        config = self.config if config is None else config
        if config.freeze_text_layers:
            self.freeze_text_layers(config.freeze_text_module_exceptions)
        if config.freeze_vision_layers:
            self.freeze_vision_layers(config.freeze_vision_module_exceptions)

    def freeze_text_layers(self, module_exceptions: list[str] | tuple[str, ...] = ()) -> None:
        """Freeze the decoder layers and the final norm (not the gated cross-attention layers)."""
        for module in (self.layers, self.norm):
            freeze_model(module, module_exceptions)

    def freeze_vision_layers(self, module_exceptions: list[str] | tuple[str, ...] = ()) -> None:
        freeze_model(self.vision_model, module_exceptions)

    def encode_images(
        self,
        pixel_values: torch.Tensor | None = None,
        image_encoder_embeddings: torch.Tensor | None = None,
        perceiver_embeddings: torch.Tensor | None = None,
        interpolate_pos_encoding: bool = False,
    ) -> torch.Tensor:
        """The (B, N, L, Dv) states the cross-attention layers read, from exactly one of the three
        image inputs: through the vision tower, then the resampler when `use_resampler`."""
        if sum(x is not None for x in (pixel_values, image_encoder_embeddings, perceiver_embeddings)) != 1:
            raise ValueError(
                "Exactly 1 of pixel_values, image_encoder_embeddings or perceiver_embeddings has to be not-None."
            )
        if perceiver_embeddings is not None:
            if not self.config.use_resampler:
                raise ValueError("If `perceiver_embeddings` are passed, use_resampler should be True")
            return perceiver_embeddings
        if pixel_values is not None:
            batch_size, num_images = pixel_values.shape[:2]
            pixel_values = pixel_values.to(dtype=self.dtype).flatten(0, 1)  # (B * N, C, H, W)
            image_states = self.vision_model(pixel_values, interpolate_pos_encoding=interpolate_pos_encoding)
            image_states = image_states.last_hidden_state  # (B * N, S, Dv)
        else:
            batch_size, num_images = image_encoder_embeddings.shape[:2]
            image_states = image_encoder_embeddings.to(dtype=self.dtype).flatten(0, 1)
        if self.config.use_resampler:
            image_states = self.perceiver_resampler(image_states)  # (B * N, L, Dv)
        return image_states.view(batch_size, num_images, *image_states.shape[1:])

    def cross_attention_masks(
        self, image_attention_mask: torch.Tensor | None, inputs_embeds: torch.Tensor, image_hidden_states: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T, N) images each token sees -> the (B, 1, T, N * L) mask over image states and the
        (B, T) gate, True where a token sees at least one image. Without a mask every token sees
        every image (transformers requires one)."""
        batch_size, num_images, image_seq_len = image_hidden_states.shape[:3]
        if image_attention_mask is None:
            image_attention_mask = inputs_embeds.new_ones(batch_size, inputs_embeds.shape[1], num_images)
        mask = image_attention_mask.to(inputs_embeds.device).bool().repeat_interleave(image_seq_len, dim=-1)
        gate = mask.any(dim=-1)
        # a token that sees no image attends to all of them: its output is gated to zero anyway, and
        # a row with nothing to attend to would make softmax produce NaN
        mask = mask | ~gate[:, :, None]
        return mask[:, None], gate

    def default_position_ids(
        self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor | None, past_key_values: Cache | None
    ) -> torch.Tensor:
        """From the padding mask as transformers' IDEFICS counts them (cumsum - 1, padding at 1),
        else counted on from the cache length."""
        seq_length = inputs_embeds.shape[1]
        if attention_mask is not None:
            position_ids = attention_mask.long().cumsum(-1) - 1
            return position_ids.masked_fill(attention_mask == 0, 1)[:, -seq_length:]
        past_seen_tokens = past_key_values.get_seq_length() if past_key_values is not None else 0
        return (torch.arange(seq_length, device=inputs_embeds.device) + past_seen_tokens).unsqueeze(0)

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        past_key_values: Cache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        pixel_values: torch.Tensor | None = None,
        image_encoder_embeddings: torch.Tensor | None = None,
        perceiver_embeddings: torch.Tensor | None = None,
        image_attention_mask: torch.Tensor | None = None,
        use_cache: bool | None = None,
        interpolate_pos_encoding: bool = False,
        output_hidden_states: bool = False,
        **kwargs,
    ) -> ImageTextModelOutputWithPast:
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("pass exactly one of input_ids or inputs_embeds")
        if inputs_embeds is None:
            inputs_embeds = self.embed(input_ids)
        use_cache = self.config.use_cache if use_cache is None else use_cache
        if use_cache and past_key_values is None:
            past_key_values = DynamicCache(self.config)
        if position_ids is None:
            position_ids = self.default_position_ids(inputs_embeds, attention_mask, past_key_values)

        image_hidden_states = self.encode_images(
            pixel_values, image_encoder_embeddings, perceiver_embeddings, interpolate_pos_encoding
        ).to(inputs_embeds.device)
        image_mask, cross_attention_gate = self.cross_attention_masks(
            image_attention_mask, inputs_embeds, image_hidden_states
        )
        image_states = image_hidden_states.flatten(1, 2)  # (B, N * L, Dv): every image's states in a row
        masks = self.build_masks(inputs_embeds, attention_mask, past_key_values)
        position_embeddings = self.rotary_emb(inputs_embeds, position_ids)

        hidden_states, all_hidden_states = self.run_layers(
            inputs_embeds,
            (image_states, image_mask, cross_attention_gate),
            position_embeddings,
            masks,
            past_key_values,
            output_hidden_states,
        )
        return ImageTextModelOutputWithPast(
            last_hidden_state=hidden_states,
            past_key_values=past_key_values if use_cache else None,
            hidden_states=all_hidden_states,
            image_hidden_states=image_hidden_states,
        )

    def run_layers(
        self,
        hidden_states: torch.Tensor,
        cross_attention_inputs: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
        position_embeddings: tuple[torch.Tensor, torch.Tensor],
        masks: dict[str, torch.Tensor | None],
        past_key_values: Cache | None,
        output_hidden_states: bool,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...] | None]:
        """The decoder layers, each `cross_layer_interval`-th one after a gated cross-attention
        layer (which reads `cross_attention_inputs`: image states, mask, gate), then the final norm.

        The hidden states, when asked, are transformers': the first decoder layer's input (after
        its cross-attention layer), every decoder layer's output, the last one normalised."""
        all_hidden_states = None
        for idx, decoder_layer in enumerate(self.layers):
            if idx % self.cross_layer_interval == 0:
                cross_layer = self.gated_cross_attn_layers[idx // self.cross_layer_interval]
                hidden_states = cross_layer(hidden_states, *cross_attention_inputs)
            if output_hidden_states and all_hidden_states is None:
                all_hidden_states = (hidden_states,)
            hidden_states = decoder_layer(
                hidden_states,
                position_embeddings=position_embeddings,
                attention_mask=masks[decoder_layer.attention_type],
                past_key_values=past_key_values,
            )
            if all_hidden_states is not None:
                all_hidden_states += (hidden_states,)
        hidden_states = self.norm(hidden_states)
        if all_hidden_states is not None:
            all_hidden_states = all_hidden_states[:-1] + (hidden_states,)
        return hidden_states, all_hidden_states


class IdeficsForVisionText2Text(LlamaForCausalLM):
    """IdeficsModel with the decoupled LM head (base vocabulary, then the additional tokens).

    `generate` encodes the images once, at prefill, and hands the encoded states to every later
    step, whose new token sees the images the prompt's last token sees.
    """

    def __init__(self, config: IdeficsConfig) -> None:
        super().__init__(config)
        self.lm_head = IdeficsDecoupledLinear(
            config.hidden_size,
            config.vocab_size,
            config.additional_vocab_size,
            bias=False,
            partially_freeze=config.freeze_lm_head,
        )
        if config.additional_vocab_size > 0:  # with tied embeddings, the new tokens' rows are tied too
            self._tied_weights_keys = {
                **self._tied_weights_keys,
                "lm_head.additional_fc.weight": "model.embed_tokens.additional_embedding.weight",
            }

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        past_key_values: Cache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        pixel_values: torch.Tensor | None = None,
        image_encoder_embeddings: torch.Tensor | None = None,
        perceiver_embeddings: torch.Tensor | None = None,
        image_attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        use_cache: bool | None = None,
        interpolate_pos_encoding: bool = False,
        output_hidden_states: bool = False,
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
            image_encoder_embeddings=image_encoder_embeddings,
            perceiver_embeddings=perceiver_embeddings,
            image_attention_mask=image_attention_mask,
            use_cache=use_cache,
            interpolate_pos_encoding=interpolate_pos_encoding,
            output_hidden_states=output_hidden_states,
        )
        # only the last `logits_to_keep` positions need logits (generation keeps 1)
        logits = self.compute_logits(outputs.last_hidden_state[:, -logits_to_keep:, :])
        loss = None
        if labels is not None:
            # over config.vocab_size, as transformers: with additional tokens the logits are wider
            # and this fails there too
            loss = causal_lm_loss(logits, labels, self.config.vocab_size)
        return ImageTextCausalLMOutputWithPast(
            loss=loss,
            logits=logits,
            past_key_values=outputs.past_key_values,
            hidden_states=outputs.hidden_states,
            image_hidden_states=outputs.image_hidden_states,
        )

    def prepare_inputs_for_generation(
        self,
        input_ids: torch.Tensor,
        past_key_values: Cache | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        is_first_iteration: bool = False,
        **model_kwargs,
    ) -> dict:
        """The images are encoded at the first step and kept on the cache, the one object generate
        keeps across steps (transformers keeps them in its model_kwargs); every step reads them
        as image_encoder_embeddings, or perceiver_embeddings with the resampler. After the prompt,
        the new token's `image_attention_mask` row is the prompt's last one, as transformers'
        `_update_model_kwargs_for_generation` extends it."""
        image_attention_mask = model_kwargs.pop("image_attention_mask", None)
        image_inputs = ("pixel_values", "image_encoder_embeddings", "perceiver_embeddings", "interpolate_pos_encoding")
        images = {name: model_kwargs.pop(name) for name in image_inputs if name in model_kwargs}
        inputs = super().prepare_inputs_for_generation(
            input_ids,
            past_key_values=past_key_values,
            attention_mask=attention_mask,
            position_ids=position_ids,
            is_first_iteration=is_first_iteration,
            **model_kwargs,
        )
        if is_first_iteration:
            past_key_values.image_hidden_states = self.model.encode_images(**images)
        elif image_attention_mask is not None:
            image_attention_mask = image_attention_mask[:, -1:]
        inputs["image_attention_mask"] = image_attention_mask
        name = "perceiver_embeddings" if self.config.use_resampler else "image_encoder_embeddings"
        inputs[name] = past_key_values.image_hidden_states
        return inputs


def is_url(string: str) -> bool:
    """Whether `string` is a URL and nothing else, by transformers' rule: no space, a scheme and a
    host (`https://host/a.png`; `file:///a.png` and `data:` URIs have no host)."""
    if " " in string:
        return False
    parsed = urlparse(string)
    return bool(parsed.scheme and parsed.netloc)


def image_attention_mask(
    input_ids: torch.Tensor, image_token_id: int | None, eos_token_id: int | None, num_images: int
) -> torch.Tensor:
    """(B, T) ids -> (B, T, num_images) int64, 1 where text token t cross-attends to image i.

    As transformers builds it (m4's `image_attention_mask_for_packed_input_ids`, then
    `incremental_to_binary_attention_mask`): a token sees only the latest image at or before it
    (an `<image>` token sees its own image), images counted from 0 per row; tokens before the
    first image see none, and so do tokens after an end-of-sequence token until the next image
    (packed documents). An image numbered `num_images` or more (a literal `<image>` in the text)
    is seen by no token. Padding is not special: pad tokens after an image see it.
    """
    positions = torch.arange(input_ids.shape[1]).expand_as(input_ids)
    is_image = input_ids == image_token_id
    latest = is_image.cumsum(dim=1) - 1  # (B, T) the latest image at or before t, -1 before the first
    if eos_token_id is not None:
        no_position = torch.full_like(input_ids[:, :1], -1)
        last_image_at = torch.where(is_image, positions, -1).cummax(dim=1).values
        last_eos_at = torch.where(input_ids == eos_token_id, positions, -1).cummax(dim=1).values
        last_eos_before = torch.cat([no_position, last_eos_at[:, :-1]], dim=1)  # strictly before t
        latest = latest.masked_fill(last_eos_before > last_image_at, -1)
    return (latest[..., None] == torch.arange(num_images)).long()


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


class IdeficsProcessor(ProcessorMixin):
    """Prompts interleaving text and images -> `input_ids`, `attention_mask`, `pixel_values`
    (samples, images, 3, H, W) and `image_attention_mask` (samples, tokens, images), torch tensors,
    as transformers 5.23.0 `IdeficsProcessor` builds them:

        processor(prompts)      # prompts = [[image, "In this picture we can see"], ["User:", url, "Hi"]]
        processor(prompts[0])   # one sample

    Each sample starts with the BOS token; an image becomes `<fake_token_around_image><image>
    <fake_token_around_image>` (after another image, `<image><fake_token_around_image>`: the two
    share a fake token), and texts are stripped of spaces at both ends and go in verbatim, with
    `<end_of_utterance>` between two texts in a row when `add_end_of_utterance_token`. An image is
    anything but a string (a PIL image, an array, a tensor), or a string that is a URL (loaded by
    the runtime's `load_image`, within its limits); beyond transformers, also a `file://` URL or
    the path of an existing file (transformers reads those as text). Samples are padded to the
    longest (`padding`, `padding_side`, `truncation`, `max_length` go to the tokenizer) and to the
    most images; pixels of images whose `<image>` token was truncated away are zeros.
    """

    image_processor_class = IdeficsImageProcessor
    text_options = ("padding", "truncation", "max_length", "padding_side", "add_special_tokens")

    def __init__(
        self,
        image_processor: IdeficsImageProcessor,
        tokenizer: Tokenizer,
        image_size: int = 224,
        add_end_of_utterance_token: bool | None = None,
        chat_template: str | None = None,
    ) -> None:
        # transformers 5.23.0 takes `image_size` and `add_end_of_utterance_token` here and uses
        # neither (the image processor sizes images, each call decides on <end_of_utterance>)
        super().__init__(image_processor, tokenizer, chat_template)
        self.fake_image_token = "<fake_token_around_image>"
        self.image_token = "<image>"
        self.end_of_utterance_token = "<end_of_utterance>"
        self.image_token_id = tokenizer.convert_tokens_to_ids(self.image_token)
        # transformers looks for <end_of_utterance> under a special_tokens_map key its 5.x
        # tokenizers never fill (nor ours): the default of add_end_of_utterance_token is off
        trained_with = tokenizer.special_tokens_map.get("additional_special_tokens", [])
        self.tokenizer_was_trained_with_end_of_utterance_token = self.end_of_utterance_token in trained_with

    def __call__(
        self,
        images: Any = None,
        text: Any = None,
        add_eos_token: bool = False,
        add_end_of_utterance_token: bool | None = None,
        return_tensors: str | None = "pt",
        **kwargs: Any,
    ) -> BatchFeature:
        """`images` alone are the prompts (the model card's `processor(prompts)`, which transformers
        5.23.0 fails on); `text` alone too; both: one image, or one list of images, per text.
        Options: the image processor's (`size`, `do_normalize`, ...) and `text_options`."""
        if return_tensors not in ("pt", None):
            raise ProcessorError(
                f"{type(self).__name__} returns torch tensors only, got return_tensors={return_tensors!r}"
            )
        samples = self.samples_of(images, text)
        images_kwargs, text_kwargs = self.split_kwargs(kwargs)
        self.check_text_options(text_kwargs)
        if add_end_of_utterance_token is None:
            add_end_of_utterance_token = self.tokenizer_was_trained_with_end_of_utterance_token
        prompts, sample_images = [], []
        for sample in samples:
            prompt, images_of_sample = self.expand_sample(sample, add_eos_token, add_end_of_utterance_token)
            prompts.append(prompt)
            sample_images.append(self.pixels_of(images_of_sample, images_kwargs))
        encoding = self.tokenizer(prompts, **{"add_special_tokens": False, "padding": "longest", **text_kwargs})
        input_ids, attention_mask = self.stacked(encoding["input_ids"]), self.stacked(encoding["attention_mask"])
        num_images = max(1, *(len(pixels) for pixels in sample_images))
        pixel_values = torch.stack(
            [self.padded_pixels(ids, pixels, num_images) for ids, pixels in zip(input_ids, sample_images, strict=True)]
        )
        if any(len(pixels) for pixels in sample_images):
            image_mask = image_attention_mask(input_ids, self.image_token_id, self.tokenizer.eos_token_id, num_images)
        else:  # text only: no token sees an image (transformers' dtype: bool)
            image_mask = torch.zeros(*input_ids.shape, 1, dtype=torch.bool)
        data = {"input_ids": input_ids, "attention_mask": attention_mask, "pixel_values": pixel_values}
        return BatchFeature({**data, "image_attention_mask": image_mask})

    def samples_of(self, images: Any, text: Any) -> list[list[Any]]:
        """The samples, each a list of texts and images."""
        if images is None and text is None:
            raise ProcessorError("You need to specify either `text` or `images` and `text`.")
        if images is not None and text is not None:
            prompts = self.paired(images, text)
        else:
            prompts = images if text is None else text
        if isinstance(prompts, str):
            prompts = [prompts]  # transformers would read a string as a sample of one-character texts
        if not isinstance(prompts, (list, tuple)) or not prompts:
            raise ProcessorError(
                f"prompts must be a non-empty list (of lists) of texts and images, got {prompts!r:.80}"
            )
        if not any(isinstance(item, (list, tuple)) for item in prompts):
            return [list(prompts)]  # one sample
        if not all(isinstance(sample, (list, tuple)) for sample in prompts):
            raise ProcessorError("a batch of prompts must hold one list of texts and images per sample")
        return [list(sample) for sample in prompts]

    def paired(self, images: Any, text: Any) -> list[list[Any]]:
        """transformers' image-text-to-text pairing: [image, text] per sample, or [text, *images]
        when `images` holds one list per text."""
        images = list(images) if isinstance(images, (list, tuple)) else [images]
        text = [text] if isinstance(text, str) else text
        if not isinstance(text, (list, tuple)) or len(text) != len(images) or not images:
            raise ProcessorError(
                "When providing both images and text arguments, the number of text prompts should be the same as "
                "the number of images. If you want to have several images per prompt, images should be nested as "
                "such: images=[[img1, img2], [img3, img4], ...] for text=[prompt1, prompt2, ...]."
            )
        if not all(isinstance(sample, str) for sample in text):
            raise ProcessorError("When using the image-text-to-text behavior, the prompts should only contain text.")
        if isinstance(images[0], (list, tuple)):
            return [[sample, *sample_images] for sample_images, sample in zip(images, text, strict=True)]
        return [[image, sample] for image, sample in zip(images, text, strict=True)]

    def check_text_options(self, text_kwargs: dict[str, Any]) -> None:
        unknown = sorted(set(text_kwargs) - set(self.text_options))
        if unknown:
            image_options = [*self.image_processor.config_keys, *self.image_processor.call_only_keys]
            raise ProcessorError(
                f"{type(self).__name__} got unsupported options {[name[:40] for name in unknown[:10]]}; image options: "
                f"{image_options}, text options: {list(self.text_options)}, and add_eos_token, "
                "add_end_of_utterance_token, return_tensors='pt'"
            )

    def expand_sample(
        self, sample: list[Any], add_eos_token: bool, add_end_of_utterance_token: bool
    ) -> tuple[str, list[Any]]:
        """(the sample's prompt text, its images in order)."""
        fake, image_token = self.fake_image_token, self.image_token
        prompt, images, last_was_image = self.tokenizer.bos_token or "", [], False
        for index, item in enumerate(sample):
            last_was_text = index > 0 and not last_was_image
            image = self.image_of(item)
            if image is None:
                if add_end_of_utterance_token and last_was_text:
                    prompt += self.end_of_utterance_token
                prompt += item.strip(" ")
            else:
                prompt += f"{image_token}{fake}" if last_was_image else f"{fake}{image_token}{fake}"
                images.append(image)
            last_was_image = image is not None
        if add_eos_token:
            if self.tokenizer.eos_token is None:
                raise ProcessorError("add_eos_token=True needs a tokenizer with an eos_token")
            prompt += self.tokenizer.eos_token
        return prompt, images

    def image_of(self, item: Any) -> Any:
        """The image `item` stands for, or None when it is a text."""
        if not isinstance(item, str):
            return item
        source = item.strip(" ")
        if is_url(source) or source.startswith("file://") or os.path.isfile(source):
            return load_image(source)
        return None

    def pixels_of(self, images: list[Any], images_kwargs: dict[str, Any]) -> torch.Tensor | list[Any]:
        """(images, 3, H, W) pixels of one sample's images ([] without images)."""
        return self.image_processor(images, return_tensors="pt", **images_kwargs) if images else []

    def stacked(self, rows: list[list[int]]) -> torch.Tensor:
        if len({len(row) for row in rows}) > 1:
            raise ProcessorError(
                f"the prompts have {sorted({len(row) for row in rows})} tokens; pad them (padding=True, the default)"
            )
        return torch.tensor(rows, dtype=torch.long)

    def padded_pixels(
        self, input_ids: torch.Tensor, pixels: torch.Tensor | list[Any], num_images: int
    ) -> torch.Tensor:
        """(num_images, C, H, W): the sample's images that still have an `<image>` token after
        truncation, then zeros (C, H, W from the image processor's defaults when none is left)."""
        kept = pixels[: min(int((input_ids == self.image_token_id).sum()), num_images)]
        if len(kept) == 0:
            size = self.image_processor.image_size
            return torch.zeros(num_images, self.image_processor.image_num_channels, size, size)
        padded = torch.zeros(num_images, *kept.shape[1:])
        padded[: len(kept)] = kept
        return padded

    @property
    def model_input_names(self) -> list[str]:
        return ["input_ids", "attention_mask", "pixel_values", "image_attention_mask"]


__all__ = [
    "IdeficsConfig",
    "IdeficsPerceiverConfig",
    "IdeficsVisionConfig",
    "IdeficsPreTrainedModel",
    "IdeficsModel",
    "IdeficsForVisionText2Text",
    "IdeficsImageProcessor",
    "IdeficsProcessor",
]
