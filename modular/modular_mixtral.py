"""Mixtral: Mistral whose MLP is a sparse mixture of experts.

In every layer a router (`gate`) scores `num_local_experts` gated-MLP experts per token; the
`num_experts_per_tok` best run, and their outputs are summed with the router's softmax weights,
renormalised over the chosen experts. With `output_router_logits` the causal LM returns each
layer's router logits and adds `router_aux_loss_coef` times the load-balancing loss to its loss.

Parameters are named as in Mixtral checkpoints, which transformers 5.23.0's `save_pretrained`
still writes (`block_sparse_moe.gate`, `block_sparse_moe.experts.<i>.w1/w2/w3`), so checkpoints
load and save without conversion (transformers fuses the experts in memory only).
"""

import torch
from torch import nn

from generated.mistral.configuration_mistral import MistralConfig
from generated.mistral.modeling_mistral import (
    MistralDecoderLayer,
    MistralForCausalLM,
    MistralForQuestionAnswering,
    MistralForSequenceClassification,
    MistralForTokenClassification,
    MistralModel,
    MistralPreTrainedModel,
)
from runtime.activations import ACT2FN
from runtime.cache import Cache
from runtime.losses import load_balancing_loss
from runtime.outputs import MoeCausalLMOutputWithPast, MoeModelOutputWithPast, record_outputs


class MixtralConfig(MistralConfig):
    """Configuration of a Mixtral model; the defaults describe Mixtral-8x7B.

    As in transformers, `num_experts` is another name for `num_local_experts`, and rope_theta
    defaults to 1e6.
    """

    model_type = "mixtral"

    rms_norm_eps: float = 1e-5
    sliding_window: int | None = None
    num_experts_per_tok: int = 2
    num_local_experts: int = 8
    output_router_logits: bool = False
    router_aux_loss_coef: float = 0.001
    router_jitter_noise: float = 0.0
    pretraining_tp = AttributeError()
    attribute_map = {"num_experts": "num_local_experts"}
    default_theta = 1e6

    def validate(self) -> None:
        super().validate()
        if not 1 <= self.num_experts_per_tok <= self.num_local_experts:
            raise ValueError(
                f"num_experts_per_tok={self.num_experts_per_tok} must be between 1 and "
                f"num_local_experts={self.num_local_experts}"
            )


class MixtralExpert(nn.Module):
    """One expert, a gated MLP: w2(act(w1(x)) * w3(x)) (gate, down and up in Llama's names)."""

    def __init__(self, config: MixtralConfig) -> None:
        super().__init__()
        self.w1 = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.w2 = nn.Linear(config.intermediate_size, config.hidden_size, bias=False)
        self.w3 = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.act_fn = ACT2FN[config.hidden_act]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2(self.act_fn(self.w1(x)) * self.w3(x))


class MixtralSparseMoeBlock(nn.Module):
    """The top-k mixture of experts that replaces the MLP. The router is `gate`: its outputs are
    the router logits that `record_outputs` collects."""

    def __init__(self, config: MixtralConfig) -> None:
        super().__init__()
        self.top_k = config.num_experts_per_tok
        self.jitter_noise = config.router_jitter_noise
        self.gate = nn.Linear(config.hidden_size, config.num_local_experts, bias=False)
        self.experts = nn.ModuleList([MixtralExpert(config) for _ in range(config.num_local_experts)])

    def route(self, hidden_states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, C) tokens -> float32 weights and indices of each token's top-k experts, both (N, K)."""
        router_logits = self.gate(hidden_states)  # (N, E)
        probabilities = nn.functional.softmax(router_logits.float(), dim=-1)
        top_weights, top_experts = torch.topk(probabilities, self.top_k, dim=-1)
        return top_weights / top_weights.sum(dim=-1, keepdim=True), top_experts

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        batch_size, seq_len, hidden_dim = hidden_states.shape
        if self.training and self.jitter_noise > 0:  # multiplicative noise on router and expert inputs
            noise = torch.empty_like(hidden_states).uniform_(1.0 - self.jitter_noise, 1.0 + self.jitter_noise)
            hidden_states = hidden_states * noise
        hidden_states = hidden_states.view(-1, hidden_dim)  # (N, C), N = B * T
        top_weights, top_experts = self.route(hidden_states)

        # each expert runs on the tokens that chose it; the weighted outputs add up in float32 and
        # are cast once, as transformers' default ("grouped_mm") experts path does
        output = torch.zeros(hidden_states.shape, dtype=torch.float32, device=hidden_states.device)
        for index, expert in enumerate(self.experts):
            token_idx, slot = torch.where(top_experts == index)  # (n,), (n,)
            if token_idx.numel() == 0:
                continue
            weighted = expert(hidden_states[token_idx]) * top_weights[token_idx, slot, None]  # (n, C)
            output.index_add_(0, token_idx, weighted)
        return output.to(hidden_states.dtype).view(batch_size, seq_len, hidden_dim)


class MixtralDecoderLayer(MistralDecoderLayer):
    """Pre-norm residual block: self-attention, then the sparse mixture of experts."""

    def __init__(self, config: MixtralConfig, layer_idx: int) -> None:
        super().__init__(config, layer_idx)
        del self.mlp
        self.block_sparse_moe = MixtralSparseMoeBlock(config)

    def feed_forward_block(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """x + block_sparse_moe(post_attention_layernorm(x)): (B, T, C) -> (B, T, C)."""
        residual = hidden_states
        hidden_states = self.post_attention_layernorm(hidden_states)
        hidden_states = self.block_sparse_moe(hidden_states)
        return residual + hidden_states


class MixtralPreTrainedModel(MistralPreTrainedModel):
    # transformers 5 also loads its in-memory layout, which `save_pretrained(save_original_format=
    # False)` writes: the router as `mlp.gate`, the experts stacked (w1 and w3 concatenated)
    _checkpoint_layouts = {
        r"(.*)\.mlp\.gate\.weight": (r"\1.block_sparse_moe.gate.weight",),
        r"(.*)\.mlp\.experts\.gate_up_proj": (
            r"\1.block_sparse_moe.experts.{i}.w1.weight",
            r"\1.block_sparse_moe.experts.{i}.w3.weight",
        ),
        r"(.*)\.mlp\.experts\.down_proj": (r"\1.block_sparse_moe.experts.{i}.w2.weight",),
    }


class MixtralModel(MistralModel):
    def forward(self, *, output_router_logits: bool | None = None, **super_kwargs) -> MoeModelOutputWithPast:
        """With router logits (config.output_router_logits by default), `router_logits` holds one
        (B * T, num_local_experts) tensor per layer, first layer first."""
        if output_router_logits is None:
            output_router_logits = self.config.output_router_logits
        routers = [layer.block_sparse_moe.gate for layer in self.layers] if output_router_logits else []
        with record_outputs(routers) as recorded:
            outputs = super().forward(**super_kwargs)
        return MoeModelOutputWithPast(
            last_hidden_state=outputs.last_hidden_state,
            past_key_values=outputs.past_key_values,
            hidden_states=outputs.hidden_states,
            router_logits=tuple(recorded) if output_router_logits else None,
        )


class MixtralForCausalLM(MistralForCausalLM):
    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        past_key_values: Cache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_router_logits: bool | None = None,
        logits_to_keep: int = 0,
        **kwargs,
    ) -> MoeCausalLMOutputWithPast:
        """With router logits (config.output_router_logits by default), the load-balancing loss
        is returned as `aux_loss` and, given labels, added to the loss with router_aux_loss_coef."""
        if output_router_logits is None:
            output_router_logits = self.config.output_router_logits
        routers = [layer.block_sparse_moe.gate for layer in self.model.layers] if output_router_logits else []
        # the router logits are recorded here, around the whole forward, so the model records none
        kwargs = {**kwargs, "output_router_logits": False}
        with record_outputs(routers) as recorded:  # one (B * T, E) tensor per layer
            outputs = super().forward(
                input_ids=input_ids,
                attention_mask=attention_mask,
                position_ids=position_ids,
                past_key_values=past_key_values,
                inputs_embeds=inputs_embeds,
                labels=labels,
                use_cache=use_cache,
                logits_to_keep=logits_to_keep,
                **kwargs,
            )
        router_logits = tuple(recorded) if output_router_logits else None
        loss, aux_loss = outputs.loss, None
        if output_router_logits:
            config = self.config
            aux_loss = load_balancing_loss(
                router_logits, config.num_local_experts, config.num_experts_per_tok, attention_mask
            )
            if loss is not None:
                loss = loss + config.router_aux_loss_coef * aux_loss.to(loss.device)
        return MoeCausalLMOutputWithPast(
            loss=loss,
            aux_loss=aux_loss,
            logits=outputs.logits,
            past_key_values=outputs.past_key_values,
            hidden_states=outputs.hidden_states,
            router_logits=router_logits,
        )


class MixtralForSequenceClassification(MistralForSequenceClassification):
    pass


class MixtralForTokenClassification(MistralForTokenClassification):
    pass


class MixtralForQuestionAnswering(MistralForQuestionAnswering):
    pass
