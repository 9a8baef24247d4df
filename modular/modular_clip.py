"""CLIP: a vision transformer (class token, patch convolution, learned positions, pre-LayerNorm)
and a causal text transformer over the same encoder layers, each pooled to one vector, projected
into one space and compared by cosine similarity.

This is a root architecture: it inherits from no other model. Its pieces are small methods so that
models built on it (IDEFICS's vision tower, LLaVA's vision tower through runtime.auto) override the
piece that differs:

- `CLIPVisionEmbeddings.embed_patches`, `.interpolate_pos_encoding`: pixels to patches, and the
  position table for other image sizes;
- `CLIPEncoderLayer.attention_block` / `.feed_forward_block`: the two pre-norm residual blocks;
- `CLIPVisionTransformer.pool`, `CLIPTextTransformer.pool`: last hidden state to one vector;
- `CLIPTextTransformer.build_attention_mask`: the causal (and padding) mask of the text tower.

The attention, MLP, encoder layer and encoder serve both towers: they take either tower's config,
annotated `PretrainedConfig` so that a model built on one tower does not pull in the other's config.

Parameter names (`pre_layrnorm` included, as transformers spells it) and config.json fields match
the Hugging Face checkpoints. As in transformers 5.23, CLIPVisionModel and CLIPTextModel hold their
modules directly (`embeddings.*`, `encoder.*`); checkpoints that keep them under `vision_model.` or
`text_model.` (a full CLIP checkpoint) load through `base_model_prefix`.
"""

from dataclasses import dataclass

import torch
from torch import nn

from runtime.activations import ACT2FN
from runtime.attention import get_attention_backend
from runtime.configuration_utils import PretrainedConfig
from runtime.masks import create_causal_mask
from runtime.modeling_utils import PreTrainedModel
from runtime.outputs import BaseModelOutput, BaseModelOutputWithPooling, ModelOutput, record_outputs


class CLIPTextConfig(PretrainedConfig):
    """Configuration of CLIP's text encoder; the defaults describe clip-vit-base-patch32.

    Sequences of at most `max_position_embeddings` tokens attend causally; the output is pooled at
    the first `eos_token_id` of each row (see CLIPTextTransformer.pool for the legacy id 2).
    """

    model_type = "clip_text_model"

    vocab_size: int = 49408
    hidden_size: int = 512
    intermediate_size: int = 2048
    projection_dim: int = 512
    num_hidden_layers: int = 12
    num_attention_heads: int = 8
    max_position_embeddings: int = 77
    hidden_act: str = "quick_gelu"
    layer_norm_eps: float = 1e-5
    attention_dropout: float = 0.0
    initializer_range: float = 0.02
    initializer_factor: float = 1.0
    # transformers' defaults (they differ from CLIPTokenizer's pad token, see transformers#24773)
    pad_token_id: int | None = 1
    bos_token_id: int | None = 49406
    eos_token_id: int | list[int] | None = 49407

    def validate(self) -> None:
        sizes = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads")
        for name in (*sizes, "max_position_embeddings"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name}={getattr(self, name)} must be positive")
        if self.hidden_size % self.num_attention_heads != 0:
            raise ValueError(
                f"hidden_size={self.hidden_size} is not a multiple of num_attention_heads={self.num_attention_heads}"
            )


class CLIPVisionConfig(PretrainedConfig):
    """Configuration of CLIP's vision encoder; the defaults describe clip-vit-base-patch32.

    Images of `image_size` pixels square are cut into `patch_size` square patches, one token each,
    after one class token.
    """

    model_type = "clip_vision_model"

    hidden_size: int = 768
    intermediate_size: int = 3072
    projection_dim: int = 512
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    num_channels: int = 3
    image_size: int = 224
    patch_size: int = 32
    hidden_act: str = "quick_gelu"
    layer_norm_eps: float = 1e-5
    attention_dropout: float = 0.0
    initializer_range: float = 0.02
    initializer_factor: float = 1.0

    def validate(self) -> None:
        sizes = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "patch_size")
        for name in (*sizes, "image_size", "num_channels"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name}={getattr(self, name)} must be positive")
        if self.hidden_size % self.num_attention_heads != 0:
            raise ValueError(
                f"hidden_size={self.hidden_size} is not a multiple of num_attention_heads={self.num_attention_heads}"
            )


class CLIPConfig(PretrainedConfig):
    """Configuration of the dual encoder: a text and a vision config, and the shared projection.

    transformers' legacy `text_config_dict` / `vision_config_dict` keywords are not read.
    """

    model_type = "clip"
    sub_configs = {"text_config": CLIPTextConfig, "vision_config": CLIPVisionConfig}

    text_config: PretrainedConfig | None = None
    vision_config: PretrainedConfig | None = None
    projection_dim: int = 512
    logit_scale_init_value: float = 2.6592
    initializer_factor: float = 1.0

    def validate(self) -> None:
        if self.projection_dim <= 0:
            raise ValueError(f"projection_dim={self.projection_dim} must be positive")


@dataclass
class CLIPOutput(ModelOutput):
    """CLIPModel's output: (images, texts) and (texts, images) similarity logits, the normalised
    embeddings, and each tower's own output."""

    loss: torch.Tensor | None = None
    logits_per_image: torch.Tensor | None = None
    logits_per_text: torch.Tensor | None = None
    text_embeds: torch.Tensor | None = None
    image_embeds: torch.Tensor | None = None
    text_model_output: BaseModelOutputWithPooling | None = None
    vision_model_output: BaseModelOutputWithPooling | None = None


@dataclass
class CLIPVisionModelOutput(ModelOutput):
    image_embeds: torch.Tensor | None = None
    last_hidden_state: torch.Tensor | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None
    attentions: tuple[torch.Tensor, ...] | None = None


@dataclass
class CLIPTextModelOutput(ModelOutput):
    text_embeds: torch.Tensor | None = None
    last_hidden_state: torch.Tensor | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None
    attentions: tuple[torch.Tensor, ...] | None = None


class CLIPVisionEmbeddings(nn.Module):
    """A learned class token, then one token per patch (a bias-free strided convolution), plus one
    learned position embedding per token (class token first)."""

    def __init__(self, config: CLIPVisionConfig) -> None:
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
        """The (1, 1 + N, D) position table for `embeddings` (B, 1 + N, D) of a height x width image:
        the class position as is, the patch positions resized bicubically to height/P x width/P.

        The table itself when the image has the trained size (N positions, square)."""
        num_patches = embeddings.shape[1] - 1
        position_embedding = self.position_embedding.weight.unsqueeze(0)
        num_positions = position_embedding.shape[1] - 1
        if num_patches == num_positions and height == width:
            return self.position_embedding(self.position_ids)
        class_pos_embed = position_embedding[:, :1]
        dim = embeddings.shape[-1]
        side = int(num_positions**0.5)
        patch_pos_embed = position_embedding[:, 1:].reshape(1, side, side, dim).permute(0, 3, 1, 2)
        patch_pos_embed = nn.functional.interpolate(
            patch_pos_embed,
            size=(height // self.patch_size, width // self.patch_size),
            mode="bicubic",
            align_corners=False,
        )  # (1, D, H/P, W/P)
        patch_pos_embed = patch_pos_embed.permute(0, 2, 3, 1).view(1, -1, dim)
        return torch.cat((class_pos_embed, patch_pos_embed), dim=1)

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


class CLIPTextEmbeddings(nn.Module):
    """Token embeddings plus learned absolute position embeddings."""

    def __init__(self, config: CLIPTextConfig) -> None:
        super().__init__()
        embed_dim = config.hidden_size
        self.token_embedding = nn.Embedding(config.vocab_size, embed_dim)
        self.position_embedding = nn.Embedding(config.max_position_embeddings, embed_dim)
        self.position_ids = nn.Buffer(torch.arange(config.max_position_embeddings).expand((1, -1)), persistent=False)

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
    ) -> torch.Tensor:
        seq_length = input_ids.shape[-1] if input_ids is not None else inputs_embeds.shape[-2]
        max_positions = self.position_embedding.weight.shape[0]
        if seq_length > max_positions:
            raise ValueError(f"sequence length {seq_length} is longer than max_position_embeddings={max_positions}")
        if position_ids is None:
            position_ids = self.position_ids[:, :seq_length]
        if inputs_embeds is None:
            inputs_embeds = self.token_embedding(input_ids)
        return inputs_embeds + self.position_embedding(position_ids)


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
    """The reference attention: softmax(q k^T * scaling, masked) v, one key/value head per query
    head. `attention_mask` is boolean, True = attend. Returns (B, T, H, D) and the weights."""
    attn_weights = torch.matmul(query, key.transpose(-1, -2)) * scaling  # (B, H, Tq, Tk)
    if attention_mask is not None:
        attn_weights = attn_weights.masked_fill(~attention_mask, torch.finfo(attn_weights.dtype).min)
    attn_weights = nn.functional.softmax(attn_weights, dim=-1, dtype=torch.float32).to(query.dtype)
    attn_weights = nn.functional.dropout(attn_weights, p=dropout, training=module.training)
    attn_output = torch.matmul(attn_weights, value)
    attn_output = attn_output.transpose(1, 2).contiguous()  # (B, Tq, H, D)
    return attn_output, attn_weights


class CLIPAttention(nn.Module):
    """Multi-head self-attention with biased projections; bidirectional unless `is_causal` is set
    (the text tower sets it, so sdpa and flash-attn use their causal kernels without a mask)."""

    def __init__(self, config: PretrainedConfig) -> None:
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


class CLIPMLP(nn.Module):
    """fc2(act(fc1(x))); CLIP's activation is quick_gelu."""

    def __init__(self, config: PretrainedConfig) -> None:
        super().__init__()
        self.config = config
        self.activation_fn = ACT2FN[config.hidden_act]
        self.fc1 = nn.Linear(config.hidden_size, config.intermediate_size)
        self.fc2 = nn.Linear(config.intermediate_size, config.hidden_size)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.activation_fn(self.fc1(hidden_states)))


class CLIPEncoderLayer(nn.Module):
    """Pre-norm residual block: self-attention, then the MLP."""

    def __init__(self, config: PretrainedConfig) -> None:
        super().__init__()
        self.embed_dim = config.hidden_size
        self.self_attn = CLIPAttention(config)
        self.layer_norm1 = nn.LayerNorm(self.embed_dim, eps=config.layer_norm_eps)
        self.mlp = CLIPMLP(config)
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


class CLIPEncoder(nn.Module):
    """The stack of encoder layers; optionally returns every layer's input and output, and every
    layer's attention weights (eager attention only)."""

    def __init__(self, config: PretrainedConfig) -> None:
        super().__init__()
        self.config = config
        self.layers = nn.ModuleList([CLIPEncoderLayer(config) for _ in range(config.num_hidden_layers)])

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


class CLIPPreTrainedModel(PreTrainedModel):
    config_class = CLIPConfig
    base_model_prefix = "clip"

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        """The runtime's defaults (linears, embeddings, norms), plus CLIP's class token and patch
        convolution, which the defaults do not cover."""
        super()._init_weights(module)
        if isinstance(module, CLIPVisionEmbeddings):
            factor = module.config.initializer_factor
            module.class_embedding.normal_(0.0, module.embed_dim**-0.5 * factor)
            module.patch_embedding.weight.normal_(0.0, module.config.initializer_range * factor)


class CLIPVisionTransformer(CLIPPreTrainedModel):
    """The vision tower: embeddings, pre-LayerNorm, encoder; the pooled output is the class token
    after post_layernorm (last_hidden_state itself is not normalised)."""

    config_class = CLIPVisionConfig
    # checkpoints of the full CLIP model keep the vision tower under `vision_model.`
    base_model_prefix = "vision_model"

    def __init__(self, config: CLIPVisionConfig) -> None:
        super().__init__(config)
        embed_dim = config.hidden_size
        self.embeddings = CLIPVisionEmbeddings(config)
        self.pre_layrnorm = nn.LayerNorm(embed_dim, eps=config.layer_norm_eps)  # sic: transformers' name
        self.encoder = CLIPEncoder(config)
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


class CLIPVisionModel(CLIPVisionTransformer):
    """CLIP's vision encoder as transformers exports it: the vision tower, with no projection."""


class CLIPTextTransformer(CLIPPreTrainedModel):
    """The text tower: embeddings, causal encoder, final LayerNorm; the pooled output is the final
    state at each row's end-of-text token."""

    config_class = CLIPTextConfig
    # checkpoints of the full CLIP model keep the text tower under `text_model.`
    base_model_prefix = "text_model"

    def __init__(self, config: CLIPTextConfig) -> None:
        super().__init__(config)
        self.embeddings = CLIPTextEmbeddings(config)
        self.encoder = CLIPEncoder(config)
        self.final_layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        for layer in self.encoder.layers:
            layer.self_attn.is_causal = True  # backends that apply causality themselves read this
        self.eos_token_id = config.eos_token_id

    def get_input_embeddings(self) -> nn.Module:
        return self.embeddings.token_embedding

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.embeddings.token_embedding = value

    def build_attention_mask(
        self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None
    ) -> torch.Tensor | None:
        """Causal attention over the (B, T) padding mask; None where the backend needs none."""
        return create_causal_mask(self.config, hidden_states, attention_mask, None)

    def pool(self, last_hidden_state: torch.Tensor, input_ids: torch.Tensor) -> torch.Tensor:
        """(B, T, D) -> (B, D): each row's state at its first `eos_token_id`.

        Matches transformers: configs from before transformers#24773 carry eos_token_id 2, and for
        them the end-of-text token is the row's largest id (argmax), as in the original CLIP."""
        rows = torch.arange(last_hidden_state.shape[0], device=last_hidden_state.device)
        input_ids = input_ids.to(dtype=torch.int, device=last_hidden_state.device)
        if self.eos_token_id == 2:
            return last_hidden_state[rows, input_ids.argmax(dim=-1)]
        return last_hidden_state[rows, (input_ids == self.eos_token_id).int().argmax(dim=-1)]

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        output_attentions: bool | None = None,
        **kwargs,
    ) -> BaseModelOutputWithPooling:
        output_hidden_states = (
            self.config.output_hidden_states if output_hidden_states is None else output_hidden_states
        )
        output_attentions = self.config.output_attentions if output_attentions is None else output_attentions
        input_ids = input_ids.view(-1, input_ids.shape[-1])
        hidden_states = self.embeddings(input_ids=input_ids, position_ids=position_ids)
        mask = self.build_attention_mask(hidden_states, attention_mask)
        encoder_outputs = self.encoder(
            hidden_states, mask, output_hidden_states=output_hidden_states, output_attentions=output_attentions
        )
        last_hidden_state = self.final_layer_norm(encoder_outputs.last_hidden_state)
        return BaseModelOutputWithPooling(
            last_hidden_state=last_hidden_state,
            pooler_output=self.pool(last_hidden_state, input_ids),
            hidden_states=encoder_outputs.hidden_states,
            attentions=encoder_outputs.attentions,
        )


class CLIPTextModel(CLIPTextTransformer):
    """CLIP's text encoder as transformers exports it: the text tower, with no projection."""


def clip_contrastive_loss(logits_per_text: torch.Tensor) -> torch.Tensor:
    """The symmetric cross-entropy of CLIP: row i of (texts, images) logits should pick image i,
    and column i text i."""
    targets = torch.arange(len(logits_per_text), device=logits_per_text.device)
    caption_loss = nn.functional.cross_entropy(logits_per_text, targets)
    image_loss = nn.functional.cross_entropy(logits_per_text.t(), targets)
    return (caption_loss + image_loss) / 2.0


class CLIPModel(CLIPPreTrainedModel):
    """Both towers, each pooled output projected (no bias) into `projection_dim`; the logits are the
    cosine similarities scaled by exp(logit_scale)."""

    def __init__(self, config: CLIPConfig) -> None:
        super().__init__(config)
        self.projection_dim = config.projection_dim
        self.text_embed_dim = config.text_config.hidden_size
        self.vision_embed_dim = config.vision_config.hidden_size
        self.text_model = CLIPTextModel(config.text_config)
        self.vision_model = CLIPVisionModel(config.vision_config)
        self.visual_projection = nn.Linear(self.vision_embed_dim, self.projection_dim, bias=False)
        self.text_projection = nn.Linear(self.text_embed_dim, self.projection_dim, bias=False)
        self.logit_scale = nn.Parameter(torch.tensor(config.logit_scale_init_value))

    def get_input_embeddings(self) -> nn.Module:
        return self.text_model.get_input_embeddings()

    def get_text_features(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        **kwargs,
    ) -> BaseModelOutputWithPooling:
        """The text tower's output with `pooler_output` projected: (B, projection_dim)."""
        text_outputs = self.text_model(input_ids, attention_mask=attention_mask, position_ids=position_ids, **kwargs)
        text_outputs.pooler_output = self.text_projection(text_outputs.pooler_output)
        return text_outputs

    def get_image_features(
        self, pixel_values: torch.Tensor, interpolate_pos_encoding: bool = False, **kwargs
    ) -> BaseModelOutputWithPooling:
        """The vision tower's output with `pooler_output` projected: (B, projection_dim)."""
        vision_outputs = self.vision_model(pixel_values, interpolate_pos_encoding=interpolate_pos_encoding, **kwargs)
        vision_outputs.pooler_output = self.visual_projection(vision_outputs.pooler_output)
        return vision_outputs

    def forward(
        self,
        input_ids: torch.Tensor,
        pixel_values: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        return_loss: bool = False,
        interpolate_pos_encoding: bool = False,
        **kwargs,
    ) -> CLIPOutput:
        vision_outputs = self.get_image_features(
            pixel_values, interpolate_pos_encoding=interpolate_pos_encoding, **kwargs
        )
        text_outputs = self.get_text_features(
            input_ids, attention_mask=attention_mask, position_ids=position_ids, **kwargs
        )
        # normalised features; the norm written as transformers' _get_vector_norm computes it
        image_embeds = vision_outputs.pooler_output
        image_embeds = image_embeds / torch.pow(torch.sum(torch.pow(image_embeds, 2), dim=-1, keepdim=True), 0.5)
        text_embeds = text_outputs.pooler_output
        text_embeds = text_embeds / torch.pow(torch.sum(torch.pow(text_embeds, 2), dim=-1, keepdim=True), 0.5)
        # cosine similarity as logits: (texts, images)
        logits_per_text = torch.matmul(text_embeds, image_embeds.t()) * self.logit_scale.exp()
        logits_per_image = logits_per_text.t()
        return CLIPOutput(
            loss=clip_contrastive_loss(logits_per_text) if return_loss else None,
            logits_per_image=logits_per_image,
            logits_per_text=logits_per_text,
            text_embeds=text_embeds,
            image_embeds=image_embeds,
            text_model_output=text_outputs,
            vision_model_output=vision_outputs,
        )


class CLIPVisionModelWithProjection(CLIPPreTrainedModel):
    """The vision model and its projection: `image_embeds` (B, projection_dim), not normalised."""

    config_class = CLIPVisionConfig
    base_model_prefix = "vision_model"

    def __init__(self, config: CLIPVisionConfig) -> None:
        super().__init__(config)
        self.vision_model = CLIPVisionModel(config)
        self.visual_projection = nn.Linear(config.hidden_size, config.projection_dim, bias=False)

    def get_input_embeddings(self) -> nn.Module:
        return self.vision_model.embeddings.patch_embedding

    def forward(
        self, pixel_values: torch.Tensor, interpolate_pos_encoding: bool = False, **kwargs
    ) -> CLIPVisionModelOutput:
        outputs = self.vision_model(pixel_values, interpolate_pos_encoding=interpolate_pos_encoding, **kwargs)
        return CLIPVisionModelOutput(
            image_embeds=self.visual_projection(outputs.pooler_output),
            last_hidden_state=outputs.last_hidden_state,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
        )


class CLIPTextModelWithProjection(CLIPPreTrainedModel):
    """The text model and its projection: `text_embeds` (B, projection_dim), not normalised."""

    config_class = CLIPTextConfig
    base_model_prefix = "text_model"

    def __init__(self, config: CLIPTextConfig) -> None:
        super().__init__(config)
        self.text_model = CLIPTextModel(config)
        self.text_projection = nn.Linear(config.hidden_size, config.projection_dim, bias=False)

    def get_input_embeddings(self) -> nn.Module:
        return self.text_model.embeddings.token_embedding

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        **kwargs,
    ) -> CLIPTextModelOutput:
        outputs = self.text_model(input_ids, attention_mask=attention_mask, position_ids=position_ids, **kwargs)
        return CLIPTextModelOutput(
            text_embeds=self.text_projection(outputs.pooler_output),
            last_hidden_state=outputs.last_hidden_state,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
        )


__all__ = [
    "CLIPConfig",
    "CLIPTextConfig",
    "CLIPVisionConfig",
    "CLIPPreTrainedModel",
    "CLIPVisionTransformer",
    "CLIPVisionModel",
    "CLIPTextTransformer",
    "CLIPTextModel",
    "CLIPModel",
    "CLIPVisionModelWithProjection",
    "CLIPTextModelWithProjection",
]
