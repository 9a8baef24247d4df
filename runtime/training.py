"""Training switches every generated model has: gradient checkpointing and input gradients.

    model.train()
    model.gradient_checkpointing_enable()   # each repeated layer recomputed in backward
    model.enable_input_require_grads()      # what peft calls: a frozen embedding's output gets gradients

Gradient checkpointing needs no model code: it wraps the forward of every repeated layer (the
children of the model's `nn.ModuleList`s, outermost lists first: a decoder layer is wrapped, not
the experts inside it) with `torch.utils.checkpoint.checkpoint`, `use_reentrant=False` unless
`gradient_checkpointing_kwargs` says otherwise. It acts only in training with gradients enabled;
in eval or under `no_grad` a layer runs as it is, so generation is unchanged. Loss and gradients
equal those without it (dropout masks too: the RNG state is replayed). While checkpointing, a
layer is not given the (empty) cache, as transformers turns `use_cache` off there: recomputing
the layer would append its keys and values twice. A cache that already holds tokens is refused.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

CACHE_ARGUMENTS = ("past_key_values", "past_key_value")


class CheckpointedForward:
    """A layer's forward, run under `torch.utils.checkpoint` in training (see the module docstring)."""

    def __init__(self, module: nn.Module, forward: Callable[..., Any], checkpoint_kwargs: dict[str, Any]) -> None:
        self.module, self.forward, self.checkpoint_kwargs = module, forward, checkpoint_kwargs

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not (self.module.training and torch.is_grad_enabled()):
            return self.forward(*args, **kwargs)
        for name in CACHE_ARGUMENTS:
            cache = kwargs.get(name)
            if cache is not None:
                if cache.get_seq_length() > 0:
                    raise ValueError(f"gradient checkpointing cannot train on a filled {name}; pass use_cache=False")
                kwargs[name] = None
        return checkpoint(functools.partial(self.forward, **kwargs), *args, **self.checkpoint_kwargs)


def repeated_layers(model: nn.Module) -> Iterator[nn.Module]:
    """The children of `model`'s ModuleLists, skipping lists inside a layer already yielded."""
    taken: list[str] = []
    for name, module in model.named_modules():
        if any(name.startswith(prefix) for prefix in taken) or not isinstance(module, nn.ModuleList):
            continue
        for child_name, child in module.named_children():
            taken.append(f"{name}.{child_name}.")
            yield child


def _make_output_require_grad(module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
    output.requires_grad_(True)


class TrainingMixin:
    """Gradient checkpointing and input gradients, mixed into `PreTrainedModel`."""

    supports_gradient_checkpointing = True

    def gradient_checkpointing_enable(self, gradient_checkpointing_kwargs: dict[str, Any] | None = None) -> None:
        """Checkpoint every repeated layer; `gradient_checkpointing_kwargs` go to torch's `checkpoint`."""
        self.gradient_checkpointing_disable()
        checkpoint_kwargs = {"use_reentrant": False, **(gradient_checkpointing_kwargs or {})}
        for layer in repeated_layers(self):  # type: ignore[arg-type]
            # an instance attribute shadows the class's forward; nn.Module.__call__ calls it
            layer.forward = CheckpointedForward(layer, layer.forward, checkpoint_kwargs)
        if checkpoint_kwargs["use_reentrant"]:
            # reentrant checkpoints need an input that requires grad, or frozen layers get none
            self.enable_input_require_grads()

    def gradient_checkpointing_disable(self) -> None:
        for module in self.modules():  # type: ignore[attr-defined]
            if isinstance(module.__dict__.get("forward"), CheckpointedForward):
                del module.forward

    @property
    def is_gradient_checkpointing(self) -> bool:
        return any(isinstance(m.__dict__.get("forward"), CheckpointedForward) for m in self.modules())  # type: ignore[attr-defined]

    def enable_input_require_grads(self) -> None:
        """Make the output of every input embedding (each sub-model's) require grad, as transformers
        does, so adapters behind frozen embeddings train under reentrant checkpointing."""
        self.disable_input_require_grads()
        hooks, seen = [], set()
        for module in self.modules():  # type: ignore[attr-defined]
            if not isinstance(module, TrainingMixin):
                continue
            try:
                embeddings = module.get_input_embeddings()  # type: ignore[attr-defined]
            except (AttributeError, NotImplementedError):
                continue
            if isinstance(embeddings, nn.Module) and id(embeddings) not in seen:
                seen.add(id(embeddings))
                hooks.append(embeddings.register_forward_hook(_make_output_require_grad))
        self._require_grads_hooks = hooks

    def disable_input_require_grads(self) -> None:
        for hook in self.__dict__.pop("_require_grads_hooks", []):
            hook.remove()
