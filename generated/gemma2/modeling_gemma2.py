# ----------------------------------------------------------------------------------------------------
# This file was generated from modular/modular_gemma2.py by the modular converter. Do not edit it by hand:
# edit modular/modular_gemma2.py instead, then regenerate with
#     python converter/run.py modular/modular_gemma2.py
# ----------------------------------------------------------------------------------------------------

"""Gemma2: Gemma with alternating sliding-window and global layers, softcapped attention logits
and final logits, `query_pre_attn_scalar` attention scaling, and extra norms around the MLP.

Softcapping (tanh(scores / cap) * cap before masking) is something sdpa cannot compute. Gemma2
models default to "eager_chunked", the runtime's exact kernel for it (the eager math below, in
query chunks that skip masked key blocks); "eager" and "flex_attention" work too, and "sdpa"
runs softcapped layers with "eager_chunked" and says so once.
"""

from itertools import islice

import torch
from torch import nn

from runtime.activations import ACT2FN
from runtime.attention import get_attention_backend
from runtime.cache import Cache, DynamicCache
from runtime.generation import GenerationMixin
from runtime.losses import causal_lm_loss, sequence_classification_loss, token_classification_loss
from runtime.masks import create_layer_type_masks
from runtime.modeling_utils import PreTrainedModel
from runtime.outputs import (
    BaseModelOutputWithPast,
    CausalLMOutputWithPast,
    SequenceClassifierOutputWithPast,
    TokenClassifierOutput,
)
from runtime.rope import compute_rope_parameters

from .configuration_gemma2 import Gemma2Config


class Gemma2RMSNorm(nn.Module):
    """RMSNorm whose weight stores (scale - 1): zeros mean the identity scale."""

    zero_centered = True

    def __init__(self, hidden_size: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(hidden_size))
        self.variance_epsilon = eps

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        output = hidden_states.float()
        output = output * torch.rsqrt(output.pow(2).mean(-1, keepdim=True) + self.variance_epsilon)
        output = output * (1.0 + self.weight.float())
        return output.type_as(hidden_states)

    def extra_repr(self) -> str:
        return f"{tuple(self.weight.shape)}, eps={self.variance_epsilon}"


def make_norm(config: Gemma2Config, dim: int) -> nn.Module:
    """The norm of the decoder layers and of the final stack, over the last `dim` features.

    A model normalised by LayerNorm redefines this function alone (a redefined function replaces
    the base's everywhere), e.g. `return nn.LayerNorm(dim, eps=config.layer_norm_eps, bias=False)`.
    """
    return Gemma2RMSNorm(dim, eps=config.rms_norm_eps)


class Gemma2RotaryEmbedding(nn.Module):
    """cos/sin tables for rotary position embeddings, for the rope type in `config.rope_parameters`.

    The tables are (B, T, R) with R = head_dim * partial_rotary_factor rotated dimensions.
    Hooks: `angle_table` lays the R/2 angles out over the R dimensions as `rotate_half` pairs them
    (halves concatenated; interleaved rotary repeats each angle twice); `table_dtype` is the
    tables' dtype (the activations'; float32 for models that rotate in float32).
    """

    def __init__(self, config: Gemma2Config) -> None:
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


class Gemma2MLP(nn.Module):
    """Gated MLP: down(act(gate(x)) * up(x))."""

    def __init__(self, config: Gemma2Config) -> None:
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
    softcap: float | None = None,
    **kwargs,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The reference attention with logits softcapped to (-softcap, softcap) before masking."""
    key_states = repeat_kv(key, module.num_key_value_groups)
    value_states = repeat_kv(value, module.num_key_value_groups)

    attn_weights = torch.matmul(query, key_states.transpose(2, 3)) * scaling  # (B, H, Tq, Tk)
    if softcap is not None:
        attn_weights = torch.tanh(attn_weights / softcap) * softcap
    if attention_mask is not None:
        attn_weights = attn_weights.masked_fill(~attention_mask, torch.finfo(attn_weights.dtype).min)

    attn_weights = nn.functional.softmax(attn_weights, dim=-1, dtype=torch.float32).to(query.dtype)
    attn_weights = nn.functional.dropout(attn_weights, p=dropout, training=module.training)
    attn_output = torch.matmul(attn_weights, value_states)
    attn_output = attn_output.transpose(1, 2).contiguous()  # (B, Tq, H, D)
    return attn_output, attn_weights


class Gemma2Attention(nn.Module):
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

    def __init__(self, config: Gemma2Config, layer_idx: int) -> None:
        super().__init__()
        self.config = config
        self.layer_idx = layer_idx
        self.head_dim = config.head_dim
        self.num_key_value_groups = config.num_attention_heads // config.num_key_value_heads
        self.scaling = config.query_pre_attn_scalar**-0.5
        self.attention_dropout = config.attention_dropout
        self.is_causal = True

        qkv_bias = self.qkv_bias(config)
        self.q_proj = nn.Linear(config.hidden_size, config.num_attention_heads * self.head_dim, bias=qkv_bias)
        self.k_proj = nn.Linear(config.hidden_size, config.num_key_value_heads * self.head_dim, bias=qkv_bias)
        self.v_proj = nn.Linear(config.hidden_size, config.num_key_value_heads * self.head_dim, bias=qkv_bias)
        self.o_proj = nn.Linear(
            config.num_attention_heads * self.head_dim, config.hidden_size, bias=config.attention_bias
        )
        self.attn_logit_softcapping = config.attn_logit_softcapping
        self.sliding_window = config.sliding_window if config.layer_types[layer_idx] == "sliding_attention" else None

    def qkv_bias(self, config: Gemma2Config) -> bool:
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
        return {"softcap": self.attn_logit_softcapping, "sliding_window": self.sliding_window}

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


class Gemma2DecoderLayer(nn.Module):
    """Norms on both sides of the attention and of the MLP."""

    def __init__(self, config: Gemma2Config, layer_idx: int) -> None:
        super().__init__()
        self.hidden_size = config.hidden_size
        self.attention_type = config.layer_types[layer_idx]
        self.self_attn = Gemma2Attention(config=config, layer_idx=layer_idx)
        self.mlp = Gemma2MLP(config)
        self.input_layernorm = make_norm(config, config.hidden_size)
        self.post_attention_layernorm = make_norm(config, config.hidden_size)
        self.pre_feedforward_layernorm = Gemma2RMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.post_feedforward_layernorm = Gemma2RMSNorm(config.hidden_size, eps=config.rms_norm_eps)

    def attention_block(self, hidden_states, position_embeddings, attention_mask, past_key_values):
        residual = hidden_states
        hidden_states = self.input_layernorm(hidden_states)
        hidden_states, _ = self.self_attn(
            hidden_states,
            position_embeddings=position_embeddings,
            attention_mask=attention_mask,
            past_key_values=past_key_values,
        )
        hidden_states = self.post_attention_layernorm(hidden_states)
        return residual + hidden_states

    def feed_forward_block(self, hidden_states: torch.Tensor) -> torch.Tensor:
        residual = hidden_states
        hidden_states = self.pre_feedforward_layernorm(hidden_states)
        hidden_states = self.mlp(hidden_states)
        hidden_states = self.post_feedforward_layernorm(hidden_states)
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


class Gemma2PreTrainedModel(PreTrainedModel):
    config_class = Gemma2Config
    base_model_prefix = "model"
    # sdpa cannot softcap; the chunked eager kernel is exact and was the fastest exact backend on
    # CPU (utils/benchmark_models.py --models gemma2)
    default_attn_implementation = "eager_chunked"


class Gemma2Model(Gemma2PreTrainedModel):
    """The decoder stack: embeddings, layers, final norm. Returns the last hidden states.

    Hooks: `embed(input_ids)` looks tokens up (a model that scales embeddings or applies dropout
    to them overrides it); `build_masks` gives one mask per `decoder_layer.attention_type`.
    """

    def __init__(self, config: Gemma2Config) -> None:
        super().__init__(config)
        self.padding_idx = config.pad_token_id
        self.vocab_size = config.vocab_size
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size, self.padding_idx)
        self.layers = nn.ModuleList(
            [Gemma2DecoderLayer(config, layer_idx) for layer_idx in range(config.num_hidden_layers)]
        )
        self.norm = make_norm(config, config.hidden_size)
        self.rotary_emb = Gemma2RotaryEmbedding(config=config)

    def embed(self, input_ids: torch.Tensor) -> torch.Tensor:
        # the scale is rounded to float32, then to the weights' dtype, as in the reference
        normalizer = torch.tensor(self.config.hidden_size**0.5).to(self.embed_tokens.weight.dtype)
        return self.embed_tokens(input_ids) * normalizer

    def build_masks(self, inputs_embeds, attention_mask, past_key_values):
        """A causal mask for full-attention layers, a windowed one for sliding layers."""
        return create_layer_type_masks(self.config, inputs_embeds, attention_mask, past_key_values)

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


class Gemma2ForCausalLM(Gemma2PreTrainedModel, GenerationMixin):
    """The decoder stack with a language-modelling head.

    Hook: `compute_logits(hidden_states)`, the head (logit scaling or softcapping goes there).
    """

    _tied_weights_keys = {"lm_head.weight": "model.embed_tokens.weight"}

    def __init__(self, config: Gemma2Config) -> None:
        super().__init__(config)
        self.model = Gemma2Model(config)
        self.vocab_size = config.vocab_size
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)

    def compute_logits(self, hidden_states: torch.Tensor) -> torch.Tensor:
        logits = self.lm_head(hidden_states)
        if self.config.final_logit_softcapping is not None:
            cap = self.config.final_logit_softcapping
            logits = torch.tanh(logits / cap) * cap
        return logits

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


class Gemma2ForSequenceClassification(Gemma2PreTrainedModel):
    """Scores the last non-padding token of each sequence."""

    def __init__(self, config: Gemma2Config) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.model = Gemma2Model(config)
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


class Gemma2ForTokenClassification(Gemma2PreTrainedModel):
    """A label for every token."""

    def __init__(self, config: Gemma2Config) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.model = Gemma2Model(config)
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


__all__ = [
    "Gemma2PreTrainedModel",
    "Gemma2Model",
    "Gemma2ForCausalLM",
    "Gemma2ForSequenceClassification",
    "Gemma2ForTokenClassification",
]
