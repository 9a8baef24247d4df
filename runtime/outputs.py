"""Model outputs: dataclasses readable by attribute, by key, or by position (None fields skipped).

out = CausalLMOutputWithPast(logits=logits)
out.logits is out["logits"] is out[0]

`record_outputs` collects what chosen submodules return during a forward (a mixture-of-experts
model's router logits), the way transformers' output recorders do, without threading extra
return values through every layer.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterable, Iterator
from typing import Any

import torch
from torch import nn


@dataclasses.dataclass
class ModelOutput:
    """Base of every output; positional access counts only the fields that are not None."""

    def to_tuple(self) -> tuple[Any, ...]:
        values = (getattr(self, field.name) for field in dataclasses.fields(self))
        return tuple(value for value in values if value is not None)

    def __getitem__(self, key: int | str | slice) -> Any:
        if isinstance(key, str):
            return getattr(self, key)
        return self.to_tuple()[key]

    def keys(self) -> list[str]:
        return [field.name for field in dataclasses.fields(self) if getattr(self, field.name) is not None]


@dataclasses.dataclass
class BaseModelOutput(ModelOutput):
    last_hidden_state: torch.Tensor | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None
    attentions: tuple[torch.Tensor, ...] | None = None


@dataclasses.dataclass
class GenerateDecoderOnlyOutput(ModelOutput):
    """`generate(..., return_dict_in_generate=True)` without beams: one (B, V) tensor per step in
    `scores` (processed) and `logits` (raw), when output_scores / output_logits ask for them."""

    sequences: torch.Tensor | None = None
    scores: tuple[torch.Tensor, ...] | None = None
    logits: tuple[torch.Tensor, ...] | None = None
    attentions: tuple[Any, ...] | None = None
    hidden_states: tuple[Any, ...] | None = None
    past_key_values: Any = None


@dataclasses.dataclass
class GenerateBeamDecoderOnlyOutput(ModelOutput):
    """The same with beam search: `sequences_scores` (final, length-penalised; with output_scores)
    and `beam_indices` (the beam each step's token came from)."""

    sequences: torch.Tensor | None = None
    sequences_scores: torch.Tensor | None = None
    scores: tuple[torch.Tensor, ...] | None = None
    logits: tuple[torch.Tensor, ...] | None = None
    beam_indices: torch.Tensor | None = None
    attentions: tuple[Any, ...] | None = None
    hidden_states: tuple[Any, ...] | None = None
    past_key_values: Any = None


@dataclasses.dataclass
class BaseModelOutputWithPast(ModelOutput):
    last_hidden_state: torch.Tensor | None = None
    past_key_values: Any = None
    hidden_states: tuple[torch.Tensor, ...] | None = None
    attentions: tuple[torch.Tensor, ...] | None = None


@dataclasses.dataclass
class CausalLMOutputWithPast(ModelOutput):
    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    past_key_values: Any = None
    hidden_states: tuple[torch.Tensor, ...] | None = None
    attentions: tuple[torch.Tensor, ...] | None = None


@dataclasses.dataclass
class SequenceClassifierOutputWithPast(ModelOutput):
    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    past_key_values: Any = None
    hidden_states: tuple[torch.Tensor, ...] | None = None
    attentions: tuple[torch.Tensor, ...] | None = None


@dataclasses.dataclass
class TokenClassifierOutput(ModelOutput):
    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None
    attentions: tuple[torch.Tensor, ...] | None = None


@dataclasses.dataclass
class QuestionAnsweringModelOutput(ModelOutput):
    loss: torch.Tensor | None = None
    start_logits: torch.Tensor | None = None
    end_logits: torch.Tensor | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None
    attentions: tuple[torch.Tensor, ...] | None = None


@dataclasses.dataclass
class BaseModelOutputWithPooling(ModelOutput):
    last_hidden_state: torch.Tensor | None = None
    pooler_output: torch.Tensor | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None
    attentions: tuple[torch.Tensor, ...] | None = None


@dataclasses.dataclass
class ImageTextModelOutputWithPast(BaseModelOutputWithPast):
    """A vision-language model's output: the text model's, plus the image features it merged."""

    image_hidden_states: torch.Tensor | None = None


@dataclasses.dataclass
class ImageTextCausalLMOutputWithPast(CausalLMOutputWithPast):
    """A vision-language LM head's output: the causal LM's, plus the image features it merged."""

    image_hidden_states: torch.Tensor | None = None


@dataclasses.dataclass
class MoeModelOutputWithPast(BaseModelOutputWithPast):
    """A mixture-of-experts model's output: plus one (B * T, num_experts) router-logit tensor per layer."""

    router_logits: tuple[torch.Tensor, ...] | None = None


@dataclasses.dataclass
class MoeCausalLMOutputWithPast(ModelOutput):
    """A mixture-of-experts LM head's output; `loss` includes the weighted `aux_loss` (load balancing)."""

    loss: torch.Tensor | None = None
    aux_loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    past_key_values: Any = None
    hidden_states: tuple[torch.Tensor, ...] | None = None
    attentions: tuple[torch.Tensor, ...] | None = None
    router_logits: tuple[torch.Tensor, ...] | None = None


@contextlib.contextmanager
def record_outputs(modules: Iterable[nn.Module]) -> Iterator[list[Any]]:
    """Yield a list that receives the output of every call to one of `modules` inside the block,
    in call order; the modules are left as they were afterwards, even when the block raises.

        with record_outputs(layer.router for layer in self.layers) as router_logits:
            hidden_states = run_layers(hidden_states)
        # router_logits: one output per router call, first layer first
    """
    recorded: list[Any] = []

    def record(module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        recorded.append(output)

    handles = [module.register_forward_hook(record) for module in modules]
    try:
        yield recorded
    finally:
        for handle in handles:
            handle.remove()
