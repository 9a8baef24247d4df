# ----------------------------------------------------------------------------------------------------
# This file was generated from modular/modular_siglip.py by the modular converter. Do not edit it by hand:
# edit modular/modular_siglip.py instead, then regenerate with
#     python converter/run.py modular/modular_siglip.py
# ----------------------------------------------------------------------------------------------------

"""SigLIP vision: a vision transformer over non-overlapping patches, with learned position
embeddings, pre-norm encoder layers (LayerNorm, multi-head attention, GELU MLP), a final LayerNorm
and an optional attention-pooling head.

This is a root architecture: it inherits from no other model. Its pieces are small methods
(`embed_patches`, `position_embeddings`, `attention_block`, `feed_forward_block`, `build_head`,
...) so that models built on it (Idefics2's native-resolution encoder) override the piece that
differs. Parameter names and config.json fields match the Hugging Face checkpoints.
"""

import torch
from torch import nn

from runtime.activations import ACT2FN
from runtime.attention import get_attention_backend
from runtime.modeling_utils import PreTrainedModel
from runtime.outputs import BaseModelOutputWithPooling, record_outputs

from .configuration_siglip import SiglipVisionConfig


class SiglipMLP(nn.Module):
    """fc2(act(fc1(x)))."""

    def __init__(self, config: SiglipVisionConfig) -> None:
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


class SiglipAttention(nn.Module):
    """Bidirectional multi-head self-attention with biased projections."""

    def __init__(self, config: SiglipVisionConfig) -> None:
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


class SiglipPreTrainedModel(PreTrainedModel):
    config_class = SiglipVisionConfig
    # checkpoints of the full SigLIP model keep the vision tower under `vision_model.`
    base_model_prefix = "vision_model"


class SiglipVisionEmbeddings(nn.Module):
    """Patch embeddings (a strided convolution) plus one learned position embedding per patch."""

    def __init__(self, config: SiglipVisionConfig) -> None:
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
        self.position_ids = nn.Buffer(torch.arange(self.num_positions).expand((1, -1)), persistent=False)

    def embed_patches(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) pixels -> (B, H/P * W/P, D) patch embeddings, row by row."""
        pixel_values = pixel_values.to(dtype=self.patch_embedding.weight.dtype)
        patch_embeds = self.patch_embedding(pixel_values)  # (B, D, H/P, W/P)
        return patch_embeds.flatten(2).transpose(1, 2)

    def interpolate_pos_encoding(self, embeddings: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """The (1, N, D) position table resized bicubically to a grid of height/P x width/P patches."""
        num_positions = self.position_embedding.weight.shape[0]
        if embeddings.shape[1] == num_positions and height == width:
            return self.position_embedding(self.position_ids)
        dim = embeddings.shape[-1]
        side = int(num_positions**0.5)
        patch_pos_embed = self.position_embedding.weight.reshape(1, side, side, dim).permute(0, 3, 1, 2)
        patch_pos_embed = nn.functional.interpolate(
            patch_pos_embed,
            size=(height // self.patch_size, width // self.patch_size),
            mode="bicubic",
            align_corners=False,
        )  # (1, D, H/P, W/P)
        return patch_pos_embed.permute(0, 2, 3, 1).view(1, -1, dim)

    def forward(self, pixel_values: torch.Tensor, interpolate_pos_encoding: bool = False) -> torch.Tensor:
        _, _, height, width = pixel_values.shape
        embeddings = self.embed_patches(pixel_values)
        if interpolate_pos_encoding:
            return embeddings + self.interpolate_pos_encoding(embeddings, height, width)
        return embeddings + self.position_embedding(self.position_ids)


class SiglipEncoderLayer(nn.Module):
    """Pre-norm residual block: self-attention, then the MLP."""

    def __init__(self, config: SiglipVisionConfig) -> None:
        super().__init__()
        self.embed_dim = config.hidden_size
        self.layer_norm1 = nn.LayerNorm(self.embed_dim, eps=config.layer_norm_eps)
        self.self_attn = SiglipAttention(config)
        self.layer_norm2 = nn.LayerNorm(self.embed_dim, eps=config.layer_norm_eps)
        self.mlp = SiglipMLP(config)

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


class SiglipEncoder(nn.Module):
    """The stack of encoder layers."""

    def __init__(self, config: SiglipVisionConfig) -> None:
        super().__init__()
        self.config = config
        self.layers = nn.ModuleList([SiglipEncoderLayer(config) for _ in range(config.num_hidden_layers)])

    def forward(self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        hidden_states = inputs_embeds
        for encoder_layer in self.layers:
            hidden_states = encoder_layer(hidden_states, attention_mask)
        return hidden_states


class SiglipMultiheadAttentionPoolingHead(nn.Module):
    """Attention pooling: a learned probe attends over all patches, then a residual MLP."""

    def __init__(self, config: SiglipVisionConfig) -> None:
        super().__init__()
        self.probe = nn.Parameter(torch.randn(1, 1, config.hidden_size))
        self.attention = nn.MultiheadAttention(config.hidden_size, config.num_attention_heads, batch_first=True)
        self.layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.mlp = SiglipMLP(config)

    def forward(self, hidden_state: torch.Tensor) -> torch.Tensor:
        probe = self.probe.repeat(hidden_state.shape[0], 1, 1)  # (B, 1, D)
        hidden_state = self.attention(probe, hidden_state, hidden_state)[0]
        residual = hidden_state
        hidden_state = self.layernorm(hidden_state)
        hidden_state = residual + self.mlp(hidden_state)
        return hidden_state[:, 0]


class SiglipVisionModel(SiglipPreTrainedModel):
    """The vision encoder: embeddings, encoder layers, final LayerNorm, optional pooling head."""

    def __init__(self, config: SiglipVisionConfig) -> None:
        super().__init__(config)
        self.embeddings = SiglipVisionEmbeddings(config)
        self.encoder = SiglipEncoder(config)
        self.post_layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.head = self.build_head(config)

    def build_head(self, config: SiglipVisionConfig) -> nn.Module | None:
        return SiglipMultiheadAttentionPoolingHead(config) if config.vision_use_head else None

    def get_input_embeddings(self) -> nn.Module:
        return self.embeddings.patch_embedding

    def forward(
        self,
        pixel_values: torch.Tensor,
        interpolate_pos_encoding: bool = False,
        output_hidden_states: bool | None = None,
        **kwargs,
    ) -> BaseModelOutputWithPooling:
        """With `output_hidden_states` (the config's by default), `hidden_states` holds the
        embeddings and each layer's output, before post_layernorm, as transformers returns them."""
        if output_hidden_states is None:
            output_hidden_states = self.config.output_hidden_states
        embeddings = self.embeddings(pixel_values, interpolate_pos_encoding=interpolate_pos_encoding)
        with record_outputs(self.encoder.layers if output_hidden_states else []) as layer_outputs:
            hidden_states = self.encoder(embeddings)
        last_hidden_state = self.post_layernorm(hidden_states)
        pooler_output = self.head(last_hidden_state) if self.head is not None else None
        return BaseModelOutputWithPooling(
            last_hidden_state=last_hidden_state,
            pooler_output=pooler_output,
            hidden_states=(embeddings, *layer_outputs) if output_hidden_states else None,
        )


__all__ = ["SiglipPreTrainedModel", "SiglipVisionModel"]
