"""Llama: a decoder-only transformer with RMSNorm, rotary position embeddings, grouped-query
attention and a gated SiLU MLP.

This is the root architecture: it inherits from no other model. Its pieces are small methods
and functions, listed in each class's docstring, so that a model built on it overrides the one
piece that differs instead of copying a `forward`:

- norms: `make_norm` (RMSNorm; LayerNorm with or without bias in its place);
- rotary tables: `LlamaRotaryEmbedding.angle_table` (halves or interleaved) and `.table_dtype`;
- rotary application: `rotate_half`, `apply_rotary_pos_emb` (partial rotary built in),
  `LlamaAttention.apply_rotary`;
- attention: `LlamaAttention.project_qkv` (separate or fused projections), `.normalize_qk`
  (per head or over the projection), `.attention_kwargs` (softcapping, sliding window);
- decoder layer: `attention_block`, `feed_forward_block`, and `forward` for the residual layout
  (a parallel residual is a three-line `forward`);
- model: `embed` (scaling, dropout), `build_masks`; causal LM: `compute_logits` (scaling, softcapping).

Parameter names and config.json fields match the Hugging Face checkpoints.
"""

from itertools import islice
from typing import ClassVar

import torch
from torch import nn

from runtime.activations import ACT2FN
from runtime.attention import get_attention_backend
from runtime.cache import Cache, DynamicCache
from runtime.configuration_utils import PretrainedConfig
from runtime.generation import GenerationMixin
from runtime.losses import (
    causal_lm_loss,
    question_answering_loss,
    sequence_classification_loss,
    token_classification_loss,
)
from runtime.masks import create_causal_mask
from runtime.modeling_utils import PreTrainedModel
from runtime.outputs import (
    BaseModelOutputWithPast,
    CausalLMOutputWithPast,
    QuestionAnsweringModelOutput,
    SequenceClassifierOutputWithPast,
    TokenClassifierOutput,
)
from runtime.rope import DEFAULT_THETA, compute_rope_parameters, standardize_rope_parameters


class LlamaConfig(PretrainedConfig):
    """Configuration of a Llama model; the defaults describe Llama-2-7B.

    `head_dim` defaults to hidden_size // num_attention_heads and `num_key_value_heads` to
    num_attention_heads (plain multi-head attention). `rope_parameters` holds `rope_type` and
    `rope_theta` plus the keys of the rope type; legacy `rope_theta`/`rope_scaling` keys are read.
    Without a theta in config.json, `rope_theta` is `default_theta`, or the value of a `rope_theta`
    field where a model declares one (as transformers 5.23 reads them).
    """

    model_type = "llama"
    default_theta: ClassVar[float] = DEFAULT_THETA

    vocab_size: int = 32000
    hidden_size: int = 4096
    intermediate_size: int = 11008
    num_hidden_layers: int = 32
    num_attention_heads: int = 32
    num_key_value_heads: int | None = None
    head_dim: int | None = None
    hidden_act: str = "silu"
    max_position_embeddings: int = 2048
    initializer_range: float = 0.02
    rms_norm_eps: float = 1e-6
    use_cache: bool = True
    pad_token_id: int | None = None
    bos_token_id: int | None = 1
    eos_token_id: int | list[int] | None = 2
    pretraining_tp: int | None = 1
    tie_word_embeddings: bool = False
    rope_parameters: dict | None = None
    attention_bias: bool = False
    attention_dropout: float = 0.0
    mlp_bias: bool = False

    def derive(self) -> None:
        if self.head_dim is None:
            self.head_dim = self.hidden_size // self.num_attention_heads
        if self.num_key_value_heads is None:
            self.num_key_value_heads = self.num_attention_heads
        self.rope_parameters = standardize_rope_parameters(
            self.rope_parameters,
            self.extra_fields,
            self.max_position_embeddings,
            default_theta=getattr(self, "rope_theta", self.default_theta),
        )

    def validate(self) -> None:
        sizes = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads")
        for name in (*sizes, "num_key_value_heads", "head_dim"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name}={getattr(self, name)} must be positive")
        if self.hidden_size % self.num_attention_heads != 0:
            raise ValueError(
                f"hidden_size={self.hidden_size} is not a multiple of num_attention_heads={self.num_attention_heads}"
            )
        if self.num_attention_heads % self.num_key_value_heads != 0:
            raise ValueError(
                f"num_attention_heads={self.num_attention_heads} is not a multiple of "
                f"num_key_value_heads={self.num_key_value_heads}"
            )


class LlamaRMSNorm(nn.Module):
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


def make_norm(config: LlamaConfig, dim: int) -> nn.Module:
    """The norm of the decoder layers and of the final stack, over the last `dim` features.

    A model normalised by LayerNorm redefines this function alone (a redefined function replaces
    the base's everywhere), e.g. `return nn.LayerNorm(dim, eps=config.layer_norm_eps, bias=False)`.
    """
    return LlamaRMSNorm(dim, eps=config.rms_norm_eps)


class LlamaRotaryEmbedding(nn.Module):
    """cos/sin tables for rotary position embeddings, for the rope type in `config.rope_parameters`.

    The tables are (B, T, R) with R = head_dim * partial_rotary_factor rotated dimensions.
    Hooks: `angle_table` lays the R/2 angles out over the R dimensions as `rotate_half` pairs them
    (halves concatenated; interleaved rotary repeats each angle twice); `table_dtype` is the
    tables' dtype (the activations'; float32 for models that rotate in float32).
    """

    def __init__(self, config: LlamaConfig) -> None:
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


class LlamaMLP(nn.Module):
    """Gated MLP: down(act(gate(x)) * up(x))."""

    def __init__(self, config: LlamaConfig) -> None:
        super().__init__()
        self.config = config
        self.hidden_size = config.hidden_size
        self.intermediate_size = config.intermediate_size
        self.gate_proj = nn.Linear(self.hidden_size, self.intermediate_size, bias=config.mlp_bias)
        self.up_proj = nn.Linear(self.hidden_size, self.intermediate_size, bias=config.mlp_bias)
        self.down_proj = nn.Linear(self.intermediate_size, self.hidden_size, bias=config.mlp_bias)
        self.act_fn = ACT2FN[config.hidden_act]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(self.act_fn(self.gate_proj(x)) * self.up_proj(x))


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


class LlamaAttention(nn.Module):
    """Multi-headed attention with grouped key/value heads and rotary position embeddings.

    `qkv_bias(config)` says whether q_proj, k_proj and v_proj have biases.
    `forward` runs these hooks in order; override the one that differs:
    - `project_qkv(hidden_states)`: queries (B, T, H, D), keys and values (B, T, Hkv, D), heads
      split but not yet transposed; a fused `qkv_proj` splits its output here.
    - `normalize_qk(query_states, key_states)`: identity. Per-head norms apply as they are
      (`self.q_norm(query_states)`); norms over the whole projection see it through
      `query_states.flatten(-2)` (a view: (B, T, H * D)) and `.view_as(query_states)` back.
    - `apply_rotary(query_states, key_states, position_embeddings)` on (B, H, T, D).
    - `attention_kwargs()`: extra backend arguments (softcapping, sliding window).
    """

    def __init__(self, config: LlamaConfig, layer_idx: int) -> None:
        super().__init__()
        self.config = config
        self.layer_idx = layer_idx
        self.head_dim = config.head_dim
        self.num_key_value_groups = config.num_attention_heads // config.num_key_value_heads
        self.scaling = self.head_dim**-0.5
        self.attention_dropout = config.attention_dropout
        self.is_causal = True

        qkv_bias = self.qkv_bias(config)
        self.q_proj = nn.Linear(config.hidden_size, config.num_attention_heads * self.head_dim, bias=qkv_bias)
        self.k_proj = nn.Linear(config.hidden_size, config.num_key_value_heads * self.head_dim, bias=qkv_bias)
        self.v_proj = nn.Linear(config.hidden_size, config.num_key_value_heads * self.head_dim, bias=qkv_bias)
        self.o_proj = nn.Linear(
            config.num_attention_heads * self.head_dim, config.hidden_size, bias=config.attention_bias
        )

    def qkv_bias(self, config: LlamaConfig) -> bool:
        """Whether the query, key and value projections have biases (the output projection's
        follows config.attention_bias alone)."""
        return config.attention_bias

    def project_qkv(self, hidden_states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, T, C) -> queries (B, T, H, D), keys and values (B, T, Hkv, D)."""
        hidden_shape = (*hidden_states.shape[:-1], -1, self.head_dim)
        query_states = self.q_proj(hidden_states).view(hidden_shape)
        key_states = self.k_proj(hidden_states).view(hidden_shape)
        value_states = self.v_proj(hidden_states).view(hidden_shape)
        return query_states, key_states, value_states

    def normalize_qk(self, query_states: torch.Tensor, key_states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Norms on (B, T, H, D) queries and (B, T, Hkv, D) keys before rotary: the identity here."""
        return query_states, key_states

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
        position_embeddings: tuple[torch.Tensor, torch.Tensor],
        attention_mask: torch.Tensor | None = None,
        past_key_values: Cache | None = None,
        **kwargs,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
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
        return attn_output, attn_weights


class LlamaDecoderLayer(nn.Module):
    """Pre-norm residual block: self-attention, then the MLP.

    Hooks: `attention_block` and `feed_forward_block` each return their input plus the block's
    output; `forward` chains them and so fixes the residual layout. A parallel residual (GPT-J,
    Cohere) overrides `forward` alone:
        normed = self.input_layernorm(hidden_states)
        attn_output, _ = self.self_attn(normed, position_embeddings=..., attention_mask=..., ...)
        return hidden_states + attn_output + self.mlp(normed)
    The norms come from `make_norm`.
    """

    def __init__(self, config: LlamaConfig, layer_idx: int) -> None:
        super().__init__()
        self.hidden_size = config.hidden_size
        self.attention_type = "full_attention"
        self.self_attn = LlamaAttention(config=config, layer_idx=layer_idx)
        self.mlp = LlamaMLP(config)
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


class LlamaPreTrainedModel(PreTrainedModel):
    config_class = LlamaConfig
    base_model_prefix = "model"


class LlamaModel(LlamaPreTrainedModel):
    """The decoder stack: embeddings, layers, final norm. Returns the last hidden states.

    Hooks: `embed(input_ids)` looks tokens up (a model that scales embeddings or applies dropout
    to them overrides it); `build_masks` gives one mask per `decoder_layer.attention_type`.
    """

    def __init__(self, config: LlamaConfig) -> None:
        super().__init__(config)
        self.padding_idx = config.pad_token_id
        self.vocab_size = config.vocab_size
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size, self.padding_idx)
        self.layers = nn.ModuleList(
            [LlamaDecoderLayer(config, layer_idx) for layer_idx in range(config.num_hidden_layers)]
        )
        self.norm = make_norm(config, config.hidden_size)
        self.rotary_emb = LlamaRotaryEmbedding(config=config)

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
        use_cache: bool | None = None,
        output_hidden_states: bool = False,
        **kwargs,
    ) -> BaseModelOutputWithPast:
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("pass exactly one of input_ids or inputs_embeds")
        if inputs_embeds is None:
            inputs_embeds = self.embed(input_ids)
        use_cache = self.config.use_cache if use_cache is None else use_cache
        if use_cache and past_key_values is None:
            past_key_values = DynamicCache(self.config)
        if position_ids is None:
            past_seen_tokens = past_key_values.get_seq_length() if past_key_values is not None else 0
            position_ids = torch.arange(inputs_embeds.shape[1], device=inputs_embeds.device) + past_seen_tokens
            position_ids = position_ids.unsqueeze(0)

        masks = self.build_masks(inputs_embeds, attention_mask, past_key_values)
        hidden_states = inputs_embeds
        position_embeddings = self.rotary_emb(hidden_states, position_ids)
        all_hidden_states = (hidden_states,) if output_hidden_states else None

        # islice, not self.layers[:n]: slicing a ModuleList builds a new ModuleList every step
        for decoder_layer in islice(self.layers, self.config.num_hidden_layers):
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
        return BaseModelOutputWithPast(
            last_hidden_state=hidden_states,
            past_key_values=past_key_values if use_cache else None,
            hidden_states=all_hidden_states,
        )


class LlamaForCausalLM(LlamaPreTrainedModel, GenerationMixin):
    """The decoder stack with a language-modelling head.

    Hook: `compute_logits(hidden_states)`, the head (logit scaling or softcapping goes there).
    """

    _tied_weights_keys = {"lm_head.weight": "model.embed_tokens.weight"}

    def __init__(self, config: LlamaConfig) -> None:
        super().__init__(config)
        self.model = LlamaModel(config)
        self.vocab_size = config.vocab_size
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)

    def compute_logits(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.lm_head(hidden_states)

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        past_key_values: Cache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        use_cache: bool | None = None,
        logits_to_keep: int = 0,
        **kwargs,
    ) -> CausalLMOutputWithPast:
        outputs = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            past_key_values=past_key_values,
            inputs_embeds=inputs_embeds,
            use_cache=use_cache,
            **kwargs,
        )
        hidden_states = outputs.last_hidden_state
        # only the last `logits_to_keep` positions need logits (generation keeps 1)
        logits = self.compute_logits(hidden_states[:, -logits_to_keep:, :])

        loss = None
        if labels is not None:
            loss = causal_lm_loss(logits, labels, self.config.vocab_size)
        return CausalLMOutputWithPast(
            loss=loss,
            logits=logits,
            past_key_values=outputs.past_key_values,
            hidden_states=outputs.hidden_states,
        )


class LlamaForSequenceClassification(LlamaPreTrainedModel):
    """Scores the last non-padding token of each sequence."""

    def __init__(self, config: LlamaConfig) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.model = LlamaModel(config)
        self.score = nn.Linear(config.hidden_size, self.num_labels, bias=False)

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        past_key_values: Cache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        use_cache: bool | None = None,
        **kwargs,
    ) -> SequenceClassifierOutputWithPast:
        outputs = self.model(
            input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            past_key_values=past_key_values,
            inputs_embeds=inputs_embeds,
            use_cache=use_cache,
            **kwargs,
        )
        logits = self.score(outputs.last_hidden_state)  # (B, T, num_labels)
        batch_size = logits.shape[0]
        pad_token_id = self.config.pad_token_id
        if pad_token_id is None and batch_size != 1:
            raise ValueError("cannot pick the last token of a batch larger than 1 without a pad_token_id")
        if pad_token_id is None or input_ids is None:
            last_non_pad_token = -1
        else:
            # rightmost token that is not padding (works for left and right padding)
            non_pad_mask = (input_ids != pad_token_id).to(logits.device, torch.int32)
            token_indices = torch.arange(input_ids.shape[-1], device=logits.device, dtype=torch.int32)
            last_non_pad_token = (token_indices * non_pad_mask).argmax(-1)
        pooled_logits = logits[torch.arange(batch_size, device=logits.device), last_non_pad_token]

        loss = None
        if labels is not None:
            loss, self.config.problem_type = sequence_classification_loss(
                pooled_logits, labels, self.num_labels, self.config.problem_type
            )
        return SequenceClassifierOutputWithPast(
            loss=loss,
            logits=pooled_logits,
            past_key_values=outputs.past_key_values,
            hidden_states=outputs.hidden_states,
        )


class LlamaForTokenClassification(LlamaPreTrainedModel):
    """A label for every token."""

    def __init__(self, config: LlamaConfig) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.model = LlamaModel(config)
        classifier_dropout = getattr(config, "classifier_dropout", None)
        if classifier_dropout is None:
            classifier_dropout = getattr(config, "hidden_dropout", None)
        self.dropout = nn.Dropout(0.1 if classifier_dropout is None else classifier_dropout)
        self.score = nn.Linear(
            config.hidden_size, config.num_labels, bias=getattr(config, "token_classification_bias", True)
        )

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        past_key_values: Cache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        use_cache: bool | None = None,
        **kwargs,
    ) -> TokenClassifierOutput:
        outputs = self.model(
            input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            past_key_values=past_key_values,
            inputs_embeds=inputs_embeds,
            use_cache=use_cache,
            **kwargs,
        )
        logits = self.score(self.dropout(outputs.last_hidden_state))  # (B, T, num_labels)

        loss = None
        if labels is not None:
            loss = token_classification_loss(logits, labels, self.num_labels)
        return TokenClassifierOutput(loss=loss, logits=logits, hidden_states=outputs.hidden_states)


class LlamaForQuestionAnswering(LlamaPreTrainedModel):
    """Start and end logits of an answer span; the checkpoints name the backbone `transformer`."""

    base_model_prefix = "transformer"

    def __init__(self, config: LlamaConfig) -> None:
        super().__init__(config)
        # the backbone's attribute (and so checkpoint prefix) is named by base_model_prefix
        setattr(self, self.base_model_prefix, LlamaModel(config))
        self.qa_outputs = nn.Linear(config.hidden_size, 2)

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        past_key_values: Cache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        start_positions: torch.Tensor | None = None,
        end_positions: torch.Tensor | None = None,
        **kwargs,
    ) -> QuestionAnsweringModelOutput:
        outputs = self.base_model(
            input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            past_key_values=past_key_values,
            inputs_embeds=inputs_embeds,
            **kwargs,
        )
        logits = self.qa_outputs(outputs.last_hidden_state)  # (B, T, 2)
        start_logits, end_logits = logits.split(1, dim=-1)
        start_logits = start_logits.squeeze(-1).contiguous()
        end_logits = end_logits.squeeze(-1).contiguous()

        loss = None
        if start_positions is not None and end_positions is not None:
            loss = question_answering_loss(start_logits, end_logits, start_positions, end_positions)
        return QuestionAnsweringModelOutput(
            loss=loss, start_logits=start_logits, end_logits=end_logits, hidden_states=outputs.hidden_states
        )


__all__ = [
    "LlamaConfig",
    "LlamaPreTrainedModel",
    "LlamaModel",
    "LlamaForCausalLM",
    "LlamaForSequenceClassification",
    "LlamaForTokenClassification",
    "LlamaForQuestionAnswering",
]
