# ----------------------------------------------------------------------------------------------------
# This file was generated from modular/modular_idefics.py by the modular converter. Do not edit it by hand:
# edit modular/modular_idefics.py instead, then regenerate with
#     python converter/run.py modular/modular_idefics.py
# ----------------------------------------------------------------------------------------------------

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

import torch
from torch import nn

from runtime.activations import ACT2FN
from runtime.attention import get_attention_backend
from runtime.cache import Cache, DynamicCache
from runtime.generation import GenerationMixin
from runtime.losses import causal_lm_loss
from runtime.masks import create_causal_mask
from runtime.modeling_utils import PreTrainedModel
from runtime.outputs import (
    BaseModelOutput,
    BaseModelOutputWithPooling,
    ImageTextCausalLMOutputWithPast,
    ImageTextModelOutputWithPast,
    record_outputs,
)
from runtime.rope import compute_rope_parameters

from .configuration_idefics import IdeficsConfig, IdeficsVisionConfig


class IdeficsRMSNorm(nn.Module):
    """Root-mean-square norm, computed in float32 and scaled by a learned weight."""

    def __init__(self, hidden_size: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        input_dtype = hidden_states.dtype
        hidden_states = hidden_states.to(torch.float32)
        variance = hidden_states.pow(2).mean(-1, keepdim=True)
        hidden_states = hidden_states * torch.rsqrt(variance + self.variance_epsilon)
        return self.weight * hidden_states.to(input_dtype)

    def extra_repr(self) -> str:
        return f"{tuple(self.weight.shape)}, eps={self.variance_epsilon}"


def make_norm(config: IdeficsConfig, dim: int) -> nn.Module:
    """The norm of the decoder layers and of the final stack, over the last `dim` features.

    A model normalised by LayerNorm redefines this function alone (a redefined function replaces
    the base's everywhere), e.g. `return nn.LayerNorm(dim, eps=config.layer_norm_eps, bias=False)`.
    """
    return IdeficsRMSNorm(dim, eps=config.rms_norm_eps)


class IdeficsRotaryEmbedding(nn.Module):
    """cos/sin tables for rotary position embeddings, for the rope type in `config.rope_parameters`.

    The tables are (B, T, R) with R = head_dim * partial_rotary_factor rotated dimensions.
    Hooks: `angle_table` lays the R/2 angles out over the R dimensions as `rotate_half` pairs them
    (halves concatenated; interleaved rotary repeats each angle twice); `table_dtype` is the
    tables' dtype (the activations'; float32 for models that rotate in float32).
    """

    def __init__(self, config: IdeficsConfig) -> None:
        super().__init__()
        self.config = config
        self.rope_type = config.rope_parameters["rope_type"]
        self.max_seq_len_cached = config.max_position_embeddings
        self.original_max_seq_len = config.max_position_embeddings
        inv_freq, self.attention_scaling = compute_rope_parameters(config)
        self.inv_freq = nn.Buffer(inv_freq, persistent=False)
        self.original_inv_freq = nn.Buffer(inv_freq.clone(), persistent=False)

    def update_dynamic_frequencies(self, position_ids: torch.Tensor) -> None:
        """`dynamic` rope: recompute frequencies past the cached length, reset below the original."""
        seq_len = int(position_ids.max()) + 1
        if seq_len > self.max_seq_len_cached:
            inv_freq, self.attention_scaling = compute_rope_parameters(self.config, position_ids.device, seq_len)
            self.inv_freq = nn.Buffer(inv_freq, persistent=False)
            self.max_seq_len_cached = seq_len
        if seq_len < self.original_max_seq_len < self.max_seq_len_cached:
            self.inv_freq = nn.Buffer(self.original_inv_freq.to(position_ids.device), persistent=False)
            self.max_seq_len_cached = self.original_max_seq_len

    def update_longrope_frequencies(self, position_ids: torch.Tensor) -> None:
        """`longrope`: long factors once the sequence passes original_max_position_embeddings, short below."""
        seq_len = int(position_ids.max()) + 1
        if seq_len > self.config.rope_parameters["original_max_position_embeddings"]:
            inv_freq, _ = compute_rope_parameters(self.config, position_ids.device, seq_len)
        else:
            inv_freq = self.original_inv_freq.to(position_ids.device)
        self.inv_freq = nn.Buffer(inv_freq, persistent=False)

    def forward(self, x: torch.Tensor, position_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # no torch.no_grad() needed: integer positions and the inv_freq buffer never require grad
        if self.rope_type == "dynamic":
            self.update_dynamic_frequencies(position_ids)
        elif self.rope_type == "longrope":
            self.update_longrope_frequencies(position_ids)
        freqs = position_ids[..., None].float() * self.inv_freq.to(device=x.device, dtype=torch.float)  # (B, T, R/2)
        emb = self.angle_table(freqs)  # (B, T, R)
        cos, sin = emb.cos(), emb.sin()
        if self.attention_scaling != 1.0:  # yarn, longrope, ...: a scale of 1 would change no bit
            cos, sin = cos * self.attention_scaling, sin * self.attention_scaling
        dtype = self.table_dtype(x)
        return cos.to(dtype=dtype), sin.to(dtype=dtype)

    def angle_table(self, freqs: torch.Tensor) -> torch.Tensor:
        """(B, T, R/2) angles -> (B, T, R), one per rotated dimension, in the order `rotate_half`
        pairs dimensions: dimension i with i + R/2, so the halves are concatenated.

        Interleaved rotary (Cohere, GLM) pairs neighbours: `freqs.repeat_interleave(2, dim=-1)`,
        with a `rotate_half` that maps (x0, x1) to (-x1, x0).
        """
        return torch.cat((freqs, freqs), dim=-1)

    def table_dtype(self, x: torch.Tensor) -> torch.dtype:
        """dtype of the cos/sin tables: the activations' `x.dtype`. Models that rotate in float32
        (OLMo2) return `torch.float32`; `apply_rotary_pos_emb` casts the result back."""
        return x.dtype


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """Rotates half the hidden dims of the input: (x1, x2) -> (-x2, x1)."""
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2 :]
    return torch.cat((-x2, x1), dim=-1)


def apply_rotary_pos_emb(
    q: torch.Tensor, k: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, unsqueeze_dim: int = 1
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotate the first R dims of (B, H, T, D) queries and keys by the (B, T, R) cos/sin tables.

    The other D - R dims pass through unchanged (partial rotary, R = head_dim *
    partial_rotary_factor). Results keep q's and k's dtypes, whatever the tables' dtype.
    """
    cos = cos.unsqueeze(unsqueeze_dim)
    sin = sin.unsqueeze(unsqueeze_dim)
    rotary_dim = cos.shape[-1]
    if rotary_dim == q.shape[-1]:  # every dim rotates: no split and join (six ops fewer per layer and step)
        q_embed = (q * cos) + (rotate_half(q) * sin)
        k_embed = (k * cos) + (rotate_half(k) * sin)
        return q_embed.to(q.dtype), k_embed.to(k.dtype)
    q_rot, q_pass = q[..., :rotary_dim], q[..., rotary_dim:]
    k_rot, k_pass = k[..., :rotary_dim], k[..., rotary_dim:]
    q_embed = torch.cat([(q_rot * cos) + (rotate_half(q_rot) * sin), q_pass], dim=-1)
    k_embed = torch.cat([(k_rot * cos) + (rotate_half(k_rot) * sin), k_pass], dim=-1)
    return q_embed.to(q.dtype), k_embed.to(k.dtype)


class IdeficsMLP(nn.Module):
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
        hidden_states = self.down_proj(self.act_fn(self.gate_proj(x)) * self.up_proj(x))
        return nn.functional.dropout(hidden_states, p=self.config.dropout, training=self.training)


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


class IdeficsAttention(nn.Module):
    """Llama's attention as the decoder's self-attention (rotary, KV cache, one key/value head per
    query head); with `is_cross_attention`, text queries over image keys and values instead:
    `k_proj` and `v_proj` read the vision width, no rotary, no cache, and with
    `config.qk_layer_norms` an RMSNorm on each head's queries and keys. The output goes through
    the block's residual dropout (`config.dropout`), which transformers applies in the layer.
    """

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

    def project_qkv(self, hidden_states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, T, C) -> queries (B, T, H, D), keys and values (B, T, Hkv, D)."""
        hidden_shape = (*hidden_states.shape[:-1], -1, self.head_dim)
        query_states = self.q_proj(hidden_states).view(hidden_shape)
        key_states = self.k_proj(hidden_states).view(hidden_shape)
        value_states = self.v_proj(hidden_states).view(hidden_shape)
        return query_states, key_states, value_states

    def normalize_qk(self, query_states: torch.Tensor, key_states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """RMSNorm over each head of (B, T, H, D) queries and (B, S, H, D) keys, with qk_layer_norms."""
        if not self.qk_layer_norms:
            return query_states, key_states
        return self.q_layer_norm(query_states), self.k_layer_norm(key_states)

    def apply_rotary(
        self,
        query_states: torch.Tensor,
        key_states: torch.Tensor,
        position_embeddings: tuple[torch.Tensor, torch.Tensor],
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Rotate (B, H, T, D) queries and keys by the (cos, sin) tables of the rotary embedding."""
        cos, sin = position_embeddings
        return apply_rotary_pos_emb(query_states, key_states, cos, sin)

    def attention_kwargs(self) -> dict:
        """Extra backend arguments (softcapping, sliding window) for models that need them."""
        return {}

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
        input_shape = hidden_states.shape[:-1]

        query_states, key_states, value_states = self.project_qkv(hidden_states)
        query_states, key_states = self.normalize_qk(query_states, key_states)
        query_states = query_states.transpose(1, 2)  # (B, H, T, D)
        key_states = key_states.transpose(1, 2)  # (B, Hkv, T, D)
        value_states = value_states.transpose(1, 2)
        query_states, key_states = self.apply_rotary(query_states, key_states, position_embeddings)

        if past_key_values is not None:
            key_states, value_states = past_key_values.update(key_states, value_states, self.layer_idx)

        attention_interface = get_attention_backend(self.config._attn_implementation, eager_attention_forward)
        attn_output, attn_weights = attention_interface(
            self,
            query_states,
            key_states,
            value_states,
            attention_mask,
            scaling=self.scaling,
            dropout=0.0 if not self.training else self.attention_dropout,
            **self.attention_kwargs(),
        )

        attn_output = attn_output.reshape(*input_shape, -1).contiguous()  # (B, T, H * D)
        attn_output = self.o_proj(attn_output)
        return nn.functional.dropout(attn_output, p=self.config.dropout, training=self.training), attn_weights

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


class IdeficsDecoderLayer(nn.Module):
    """Llama's decoder layer, over IdeficsAttention and IdeficsMLP."""

    def __init__(self, config: IdeficsConfig, layer_idx: int) -> None:
        super().__init__()
        self.hidden_size = config.hidden_size
        self.attention_type = "full_attention"
        self.self_attn = IdeficsAttention(config=config, layer_idx=layer_idx)
        self.mlp = IdeficsMLP(config)
        self.input_layernorm = make_norm(config, config.hidden_size)
        self.post_attention_layernorm = make_norm(config, config.hidden_size)

    def attention_block(
        self,
        hidden_states: torch.Tensor,
        position_embeddings: tuple[torch.Tensor, torch.Tensor],
        attention_mask: torch.Tensor | None,
        past_key_values: Cache | None,
    ) -> torch.Tensor:
        """x + self_attn(input_layernorm(x)): (B, T, C) -> (B, T, C)."""
        residual = hidden_states
        hidden_states = self.input_layernorm(hidden_states)
        hidden_states, _ = self.self_attn(
            hidden_states,
            position_embeddings=position_embeddings,
            attention_mask=attention_mask,
            past_key_values=past_key_values,
        )
        return residual + hidden_states

    def feed_forward_block(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """x + mlp(post_attention_layernorm(x)): (B, T, C) -> (B, T, C)."""
        residual = hidden_states
        hidden_states = self.post_attention_layernorm(hidden_states)
        hidden_states = self.mlp(hidden_states)
        return residual + hidden_states

    def forward(
        self,
        hidden_states: torch.Tensor,
        position_embeddings: tuple[torch.Tensor, torch.Tensor],
        attention_mask: torch.Tensor | None = None,
        past_key_values: Cache | None = None,
    ) -> torch.Tensor:
        hidden_states = self.attention_block(hidden_states, position_embeddings, attention_mask, past_key_values)
        return self.feed_forward_block(hidden_states)


# The vision tower is CLIP's. Its classes are renamed CLIP -> IdeficsVision (the prefix of most
# classes built on CLIP's here), which keeps CLIP's attention and MLP apart from the decoder's
# IdeficsAttention and IdeficsMLP. Each __init__ below only re-annotates `config`: CLIP's
# annotations name CLIP's own configs, which the converter would copy in as
# IdeficsVisionVisionConfig and IdeficsVisionTextConfig.


class IdeficsVisionEmbeddings(nn.Module):
    """CLIP's class token, patches and learned positions. For other image sizes the position grid
    is resized as transformers' IDEFICS resizes it: by a scale factor (CLIP's code gives the
    target size instead, which samples the table at slightly different points)."""

    def __init__(self, config: IdeficsVisionConfig) -> None:
        super().__init__()
        self.config = config
        self.embed_dim = config.hidden_size
        self.image_size = config.image_size
        self.patch_size = config.patch_size
        self.class_embedding = nn.Parameter(torch.randn(self.embed_dim))
        self.patch_embedding = nn.Conv2d(
            in_channels=config.num_channels,
            out_channels=self.embed_dim,
            kernel_size=self.patch_size,
            stride=self.patch_size,
            bias=False,
        )
        self.num_patches = (self.image_size // self.patch_size) ** 2
        self.num_positions = self.num_patches + 1
        self.position_embedding = nn.Embedding(self.num_positions, self.embed_dim)
        self.position_ids = nn.Buffer(torch.arange(self.num_positions).expand((1, -1)), persistent=False)

    def embed_patches(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) pixels -> (B, H/P * W/P, D) patch embeddings, row by row."""
        patch_embeds = self.patch_embedding(pixel_values.to(dtype=self.patch_embedding.weight.dtype))
        return patch_embeds.flatten(2).transpose(1, 2)  # (B, D, H/P, W/P) -> (B, N, D)

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

    def forward(self, pixel_values: torch.Tensor, interpolate_pos_encoding: bool = False) -> torch.Tensor:
        batch_size, _, height, width = pixel_values.shape
        if not interpolate_pos_encoding and (height != self.image_size or width != self.image_size):
            raise ValueError(
                f"Input image size ({height}*{width}) doesn't match model ({self.image_size}*{self.image_size}); "
                "pass interpolate_pos_encoding=True for other sizes"
            )
        patch_embeds = self.embed_patches(pixel_values)
        class_embeds = self.class_embedding.expand(batch_size, 1, -1)
        embeddings = torch.cat([class_embeds, patch_embeds], dim=1)  # (B, 1 + N, D)
        if interpolate_pos_encoding:
            return embeddings + self.interpolate_pos_encoding(embeddings, height, width)
        return embeddings + self.position_embedding(self.position_ids)


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


def make_gate(config: IdeficsConfig) -> nn.Parameter:
    """One tanh gate of a gated cross-attention layer: (1,) for `alpha_type="float"`, (1, 1,
    hidden_size) for `"vector"`, initialised by `init_gate_`."""
    if config.alpha_type not in ("float", "vector"):
        raise ValueError(f"Unknown value for `alpha_type` ({config.alpha_type}); use 'float' or 'vector'")
    shape = (1,) if config.alpha_type == "float" else (1, 1, config.hidden_size)
    alpha = nn.Parameter(torch.empty(shape))
    init_gate_(alpha, config)
    return alpha


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


class IdeficsPreTrainedModel(PreTrainedModel):
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


class IdeficsVisionAttention(nn.Module):
    """CLIP's bidirectional self-attention (biased q, k, v and out projections)."""

    def __init__(self, config: IdeficsVisionConfig) -> None:
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


class IdeficsVisionMLP(nn.Module):
    """CLIP's fc2(act(fc1(x)))."""

    def __init__(self, config: IdeficsVisionConfig) -> None:
        super().__init__()
        self.config = config
        self.activation_fn = ACT2FN[config.hidden_act]
        self.fc1 = nn.Linear(config.hidden_size, config.intermediate_size)
        self.fc2 = nn.Linear(config.intermediate_size, config.hidden_size)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.activation_fn(self.fc1(hidden_states)))


class IdeficsVisionEncoderLayer(nn.Module):
    """CLIP's pre-norm encoder layer, over IdeficsVisionAttention and IdeficsVisionMLP."""

    def __init__(self, config: IdeficsVisionConfig) -> None:
        super().__init__()
        self.embed_dim = config.hidden_size
        self.self_attn = IdeficsVisionAttention(config)
        self.layer_norm1 = nn.LayerNorm(self.embed_dim, eps=config.layer_norm_eps)
        self.mlp = IdeficsVisionMLP(config)
        self.layer_norm2 = nn.LayerNorm(self.embed_dim, eps=config.layer_norm_eps)

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


class IdeficsVisionEncoder(nn.Module):
    """CLIP's stack of encoder layers."""

    def __init__(self, config: IdeficsVisionConfig) -> None:
        super().__init__()
        self.config = config
        self.layers = nn.ModuleList([IdeficsVisionEncoderLayer(config) for _ in range(config.num_hidden_layers)])

    def forward(
        self,
        inputs_embeds: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        output_hidden_states: bool = False,
        output_attentions: bool = False,
    ) -> BaseModelOutput:
        """hidden_states, when asked: (inputs_embeds, layer 1 output, ..., layer N output), as
        transformers returns them; attentions: one (B, H, T, T) tensor per layer."""
        if output_attentions and (self.config._attn_implementation or "sdpa") != "eager":
            raise ValueError(
                f"output_attentions=True needs attn_implementation='eager' "
                f"(got {self.config._attn_implementation!r}, which returns no attention weights)"
            )
        attention_modules = [layer.self_attn for layer in self.layers] if output_attentions else []
        hidden_states = inputs_embeds
        all_hidden_states = (hidden_states,) if output_hidden_states else None
        with record_outputs(attention_modules) as recorded:  # (attn_output, attn_weights) per layer
            for encoder_layer in self.layers:
                hidden_states = encoder_layer(hidden_states, attention_mask)
                if all_hidden_states is not None:
                    all_hidden_states += (hidden_states,)
        attentions = tuple(weights for _, weights in recorded) if output_attentions else None
        return BaseModelOutput(last_hidden_state=hidden_states, hidden_states=all_hidden_states, attentions=attentions)


class IdeficsVisionPreTrainedModel(IdeficsPreTrainedModel):
    """The vision tower's base, in place of CLIP's CLIPPreTrainedModel, whose weight init names
    CLIP's embeddings class (it would come in renamed IdeficsVisionVisionEmbeddings)."""

    config_class = IdeficsVisionConfig
    base_model_prefix = "vision_model"


class IdeficsVisionTransformer(IdeficsVisionPreTrainedModel):
    """CLIP's vision tower: embeddings, pre-LayerNorm, encoder. IDEFICS reads its
    `last_hidden_state`, every patch and the class token, not normalised by post_layernorm."""

    config_class = IdeficsVisionConfig
    # checkpoints of the full IdeficsVision model keep the vision tower under `vision_model.`
    base_model_prefix = "vision_model"

    def __init__(self, config: IdeficsVisionConfig) -> None:
        super().__init__(config)
        embed_dim = config.hidden_size
        self.embeddings = IdeficsVisionEmbeddings(config)  # IDEFICS's position interpolation
        self.pre_layrnorm = nn.LayerNorm(embed_dim, eps=config.layer_norm_eps)  # sic: transformers' name
        self.encoder = IdeficsVisionEncoder(config)
        self.post_layernorm = nn.LayerNorm(embed_dim, eps=config.layer_norm_eps)

    def get_input_embeddings(self) -> nn.Module:
        return self.embeddings.patch_embedding

    def pool(self, last_hidden_state: torch.Tensor) -> torch.Tensor:
        """(B, 1 + N, D) -> (B, D): the class token, normalised."""
        return self.post_layernorm(last_hidden_state[:, 0, :])

    def forward(
        self,
        pixel_values: torch.Tensor,
        interpolate_pos_encoding: bool = False,
        output_hidden_states: bool | None = None,
        output_attentions: bool | None = None,
        **kwargs,
    ) -> BaseModelOutputWithPooling:
        output_hidden_states = (
            self.config.output_hidden_states if output_hidden_states is None else output_hidden_states
        )
        output_attentions = self.config.output_attentions if output_attentions is None else output_attentions
        hidden_states = self.embeddings(pixel_values, interpolate_pos_encoding=interpolate_pos_encoding)
        hidden_states = self.pre_layrnorm(hidden_states)
        encoder_outputs = self.encoder(
            hidden_states, output_hidden_states=output_hidden_states, output_attentions=output_attentions
        )
        last_hidden_state = encoder_outputs.last_hidden_state
        return BaseModelOutputWithPooling(
            last_hidden_state=last_hidden_state,
            pooler_output=self.pool(last_hidden_state),
            hidden_states=encoder_outputs.hidden_states,
            attentions=encoder_outputs.attentions,
        )


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


def freeze_model(model: nn.Module, module_exceptions: list[str] | tuple[str, ...] = ()) -> nn.Module:
    """Turn requires_grad off in `model`, except in its modules of the types `module_exceptions`
    names ("LayerNorm", "Linear", "Embedding"). As in transformers, modules are visited parents
    first, so an exception's parameters end up trainable."""
    mapping = {"LayerNorm": nn.LayerNorm, "Linear": nn.Linear, "Embedding": nn.Embedding}
    exceptions = tuple(mapping[name] for name in module_exceptions)
    for module in model.modules():
        module.requires_grad_(isinstance(module, exceptions))
    return model


class IdeficsModel(IdeficsPreTrainedModel):
    """Decoupled embeddings, the vision tower (and resampler), and the decoder layers, with a gated
    cross-attention layer before every `cross_layer_interval`-th one.

    Images come as `pixel_values` (B, N, C, H, W), or already encoded: `image_encoder_embeddings`
    (B, N, S, Dv), the vision tower's output, or `perceiver_embeddings` (B, N, L, Dv), the
    resampler's. `image_attention_mask` (B, T, N) says which images each text token sees.
    """

    def __init__(self, config: IdeficsConfig) -> None:
        super().__init__(config)
        self.padding_idx = config.pad_token_id
        self.vocab_size = config.vocab_size
        self.embed_tokens = IdeficsDecoupledEmbedding(
            config.vocab_size,
            config.additional_vocab_size,
            config.hidden_size,
            partially_freeze=config.freeze_text_layers,
            padding_idx=self.padding_idx,
        )
        self.layers = nn.ModuleList(
            [IdeficsDecoderLayer(config, layer_idx) for layer_idx in range(config.num_hidden_layers)]
        )
        self.norm = make_norm(config, config.hidden_size)
        self.rotary_emb = IdeficsRotaryEmbedding(config=config)
        if config._attn_implementation == "flash_attention_2":
            raise ValueError("IDEFICS supports attn_implementation 'eager' and 'sdpa', not 'flash_attention_2'")
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

    def embed(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.embed_tokens(input_ids)

    def build_masks(
        self,
        inputs_embeds: torch.Tensor,
        attention_mask: torch.Tensor | None,
        past_key_values: Cache | None,
    ) -> dict[str, torch.Tensor | None]:
        """One attention mask per layer type (`decoder_layer.attention_type`)."""
        return {"full_attention": create_causal_mask(self.config, inputs_embeds, attention_mask, past_key_values)}

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


class IdeficsForVisionText2Text(IdeficsPreTrainedModel, GenerationMixin):
    """IdeficsModel with the decoupled LM head (base vocabulary, then the additional tokens).

    `generate` encodes the images once, at prefill, and hands the encoded states to every later
    step, whose new token sees the images the prompt's last token sees.
    """

    _tied_weights_keys = {"lm_head.weight": "model.embed_tokens.weight"}

    def __init__(self, config: IdeficsConfig) -> None:
        super().__init__(config)
        self.model = IdeficsModel(config)
        self.vocab_size = config.vocab_size
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

    def compute_logits(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.lm_head(hidden_states)

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


__all__ = ["IdeficsPreTrainedModel", "IdeficsModel", "IdeficsForVisionText2Text"]
