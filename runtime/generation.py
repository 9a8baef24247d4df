"""Token generation with the KV cache: greedy or sampled, batched with left padding.

    tokens = model.generate(input_ids, attention_mask=mask, max_new_tokens=20)   # (B, T + new)

The loop is written out: one prefill step over the prompt, then one step per new token that
feeds only that token and reads the rest from the cache. Position ids follow the padding mask
(`cumsum - 1`), as transformers computes them, so left-padded rows match unpadded ones. Each
step's forward arguments come from `prepare_inputs_for_generation` (transformers' name and role):
a model that must adjust its inputs per step overrides that one method, not `generate`.

Every argument is checked before the first step, and a bad one raises `GenerationError` (a
`ValueError`) naming it: what transformers 5.23.0 refuses (`max_new_tokens <= 0`, a negative
`temperature`, `temperature=0` with sampling, `top_p` outside (0, 1], a negative `top_k`, keyword
arguments the model's forward does not take), and what would otherwise fail deep inside torch
(empty or out-of-vocabulary `input_ids`, a mask of another shape, NaN logits). Extra inputs
must be inputs the model's forward names, of its annotated type; when the model still cannot take
them at prefill (a `pixel_values` of the wrong rank), the error names them and their shapes.
Like transformers, `generate` does not stop at `max_position_embeddings`: it warns once when the
sequence grows past it. The cache grows as tokens come, so memory follows the tokens actually
generated, not `max_new_tokens`.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import math
import numbers
import re
import typing
import warnings
from typing import Any

import torch

from runtime.cache import Cache, DynamicCache
from runtime.configuration_utils import _matches
from runtime.messages import short_repr


def _shown(value: object) -> str:
    return short_repr(value, 40)


class GenerationError(ValueError):
    """A bad argument to `generate`, or a bad input to a model step: the message names it."""


# Up to this many new tokens are reserved in the cache up front; beyond, its buffers double as needed.
_RESERVE_NEW_TOKENS = 256
# Model inputs generate builds itself, or does not take (it feeds token ids and computes no loss).
_NOT_FROM_CALLER = ("position_ids", "past_key_values", "use_cache", "logits_to_keep", "inputs_embeds", "labels")


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_sampling_arguments(
    max_new_tokens: object, do_sample: object, temperature: object, top_k: object, top_p: object
) -> None:
    """Raise `GenerationError` for a value transformers refuses; `temperature`, `top_k` and
    `top_p` are checked even when `do_sample=False`, where they are unused."""
    if not _is_int(max_new_tokens) or max_new_tokens <= 0:
        raise GenerationError(f"max_new_tokens must be an integer greater than 0, got {_shown(max_new_tokens)}")
    if not isinstance(do_sample, bool):
        raise GenerationError(f"do_sample must be True or False, got {_shown(do_sample)}")
    if not _is_real(temperature) or not math.isfinite(temperature) or temperature < 0:
        raise GenerationError(f"temperature must be a finite number >= 0, got {_shown(temperature)}")
    if do_sample and temperature == 0:
        raise GenerationError("temperature=0 with do_sample=True: use do_sample=False for greedy decoding")
    if top_k is not None and (not _is_int(top_k) or top_k < 0):
        raise GenerationError(f"top_k must be None or an integer >= 0 (0 keeps every token), got {_shown(top_k)}")
    if top_p is not None and (not _is_real(top_p) or not 0 < top_p <= 1):
        raise GenerationError(f"top_p must be None or a number in (0, 1], got {_shown(top_p)}")


def _token_id(name: str, value: object, vocab_size: int) -> int:
    if not _is_int(value) or not 0 <= value < vocab_size:
        raise GenerationError(f"{name} must be a token id in [0, {vocab_size}), got {_shown(value)}")
    return int(value)


def eos_token_ids(name: str, value: object, vocab_size: int) -> list[int]:
    """The end-of-sequence ids `value` names (None or [] for none): an int, a list of ints or an
    integer tensor, each in [0, vocab_size)."""
    if value is None:
        return []
    if isinstance(value, torch.Tensor):
        if value.dtype.is_floating_point or value.dtype.is_complex or value.dtype == torch.bool or value.ndim > 1:
            raise GenerationError(
                f"{name} must be an int, a list of ints or a 1-D integer tensor, got {_shown(value)}"
            )
        value = value.tolist()
    ids = list(value) if isinstance(value, (list, tuple)) else [value]
    return [_token_id(name, item, vocab_size) for item in ids]


def check_prompt(
    input_ids: object, attention_mask: object, vocab_size: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (input_ids, attention_mask) as long tensors of one (B, T) shape, B and T > 0, on the
    model's `device`, every id in [0, vocab_size) and every mask entry 0 or 1."""
    integer = isinstance(input_ids, torch.Tensor) and not (
        input_ids.dtype.is_floating_point or input_ids.dtype.is_complex or input_ids.dtype == torch.bool
    )
    if not integer:
        got = f"a {input_ids.dtype} tensor" if isinstance(input_ids, torch.Tensor) else type(input_ids).__name__
        raise GenerationError(f"input_ids must be an integer tensor of shape (batch, length), got {got}")
    if input_ids.ndim != 2 or 0 in input_ids.shape:
        raise GenerationError(f"input_ids must have shape (batch, length) with both > 0, got {tuple(input_ids.shape)}")
    if input_ids.device != device:
        raise GenerationError(f"input_ids is on {input_ids.device} but the model is on {device}")
    low, high = int(input_ids.min()), int(input_ids.max())
    if low < 0 or high >= vocab_size:
        bad = low if low < 0 else high
        raise GenerationError(f"input_ids holds token id {bad}, outside the vocabulary [0, {vocab_size})")
    if attention_mask is None:
        return input_ids.long(), torch.ones_like(input_ids, dtype=torch.long)
    return input_ids.long(), _check_attention_mask(attention_mask, input_ids.shape, device)


def _check_attention_mask(attention_mask: object, shape: torch.Size, device: torch.device) -> torch.Tensor:
    """The (B, T) padding mask of the prompt as a long tensor; warns when a row is right-padded."""
    if not isinstance(attention_mask, torch.Tensor) or attention_mask.shape != shape:
        got = (
            tuple(attention_mask.shape) if isinstance(attention_mask, torch.Tensor) else type(attention_mask).__name__
        )
        raise GenerationError(f"attention_mask must be a tensor of input_ids' shape {tuple(shape)}, got {got}")
    if attention_mask.device != device:
        raise GenerationError(f"attention_mask is on {attention_mask.device} but the model is on {device}")
    if attention_mask.dtype.is_complex or bool(((attention_mask != 0) & (attention_mask != 1)).any()):
        raise GenerationError("attention_mask must hold only 0 (padding) and 1 (token)")
    if not bool(attention_mask[:, -1].all()):
        warnings.warn(
            "attention_mask pads the end of a row: decoder-only generation needs left padding "
            "(tokenizer.padding_side = 'left')",
            UserWarning,
            stacklevel=5,  # here, check_prompt, generate, torch.no_grad's wrapper, the caller
        )
    return attention_mask.long()


def check_generator(generator: object, device: torch.device) -> None:
    """`generator` must be None or a torch.Generator on the model's device (torch.multinomial's rule)."""
    if generator is None:
        return
    if not isinstance(generator, torch.Generator):
        raise GenerationError(f"generator must be a torch.Generator (or None), got {type(generator).__name__}")
    if generator.device != device:
        raise GenerationError(f"generator is on {generator.device} but the model is on {device}")


@functools.cache
def forward_inputs(model_class: type) -> tuple[dict[str, Any], bool]:
    """The keyword inputs `model_class.forward` names, with their annotations (Any where one does
    not resolve), and whether it also takes **kwargs. Cached: signatures do not change."""
    try:
        hints = typing.get_type_hints(model_class.forward)
    except Exception:  # an annotation that does not resolve: accept any value for that input
        hints = {}
    parameters = inspect.signature(model_class.forward).parameters.values()
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    named = {p.name: hints.get(p.name, Any) for p in parameters if p.kind in kinds and p.name != "self"}
    return named, any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)


def _model_inputs(model: torch.nn.Module) -> dict[str, Any]:
    """What the model's forward takes; through **kwargs, also its base model's named inputs (as
    transformers counts them: a typo that only reaches a **kwargs would be silently ignored)."""
    inputs, takes_kwargs = forward_inputs(type(model))
    base = getattr(model, "base_model", model)
    if takes_kwargs and base is not model:
        inputs = {**forward_inputs(type(base))[0], **inputs}
    return inputs


def _unknown_argument(name: str, model_class: type, accepted: list[str]) -> GenerationError:
    own = [p for p in inspect.signature(GenerationMixin.generate).parameters if p not in ("self", "model_kwargs")]
    close = difflib.get_close_matches(name[:100], own + accepted, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    shown = ", ".join(accepted[:8]) + (f" ... and {len(accepted) - 8} more" if len(accepted) > 8 else "")
    return GenerationError(
        f"generate() got an unexpected keyword argument {_shown(name)}{hint} "
        f"(not a generate argument, nor an input of {model_class.__name__}.forward: {shown or 'none'})"
    )


def check_model_kwargs(model: torch.nn.Module, model_kwargs: dict[str, Any]) -> dict[str, Any]:
    """The extra inputs for the prefill step: each must be an input the model's forward names, of
    the annotated type, a float tensor must be finite. None values are dropped (as transformers does)."""
    inputs = _model_inputs(model)
    accepted = [name for name in inputs if name not in ("input_ids", "attention_mask", *_NOT_FROM_CALLER)]
    checked = {}
    for name, value in model_kwargs.items():
        if value is None:  # transformers ignores these too, whatever the name
            continue
        if name in _NOT_FROM_CALLER:
            raise GenerationError(
                f"generate() does not take {name!r}: it builds position_ids, past_key_values, use_cache and "
                "logits_to_keep itself, takes input_ids (not inputs_embeds) and computes no loss (labels)"
            )
        if name not in accepted:
            raise _unknown_argument(name, type(model), accepted)
        if not _matches(value, inputs[name]):
            expected = re.sub(r"\b[\w.]+\.(\w+)", r"\1", str(inputs[name]))  # torch.Tensor -> Tensor
            raise GenerationError(f"{name} must be {expected}, got {type(value).__name__}")
        if isinstance(value, torch.Tensor) and value.dtype.is_floating_point and not bool(value.isfinite().all()):
            raise GenerationError(f"{name} holds NaN or inf values")
        checked[name] = value
    return checked


def describe_inputs(inputs: dict[str, Any]) -> str:
    """`name (shape) dtype` for tensors, the type name for anything else: for error messages."""
    parts = []
    for name, value in inputs.items():
        if isinstance(value, torch.Tensor):
            parts.append(f"{name} {tuple(value.shape)} {str(value.dtype).removeprefix('torch.')}")
        else:
            parts.append(f"{name} {type(value).__name__}")
    return ", ".join(parts)


def sample_next_token(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = 50,
    top_p: float | None = 1.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Draw one token per row of (B, V) float32 logits: temperature, then top-k, then top-p.

    Raises `GenerationError` when the probabilities are not finite (NaN or inf logits, or a
    temperature so small that it overflows them), where torch.multinomial would fail obscurely.
    """
    if temperature != 1.0:
        logits = logits / temperature
    if top_k is not None and 0 < top_k < logits.shape[-1]:
        kth = torch.topk(logits, int(top_k), dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, -float("inf"))
    if top_p is not None and top_p < 1.0:
        sorted_logits, sorted_idx = torch.sort(logits, descending=False)
        cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
        remove_sorted = cumulative <= (1 - top_p)
        remove_sorted[..., -1:] = False  # always keep the most likely token
        remove = remove_sorted.scatter(1, sorted_idx, remove_sorted)
        logits = logits.masked_fill(remove, -float("inf"))
    probs = logits.softmax(dim=-1)
    if not bool(probs.isfinite().all()):
        scaled = f" once divided by temperature={_shown(temperature)}" if temperature != 1.0 else ""
        raise GenerationError(f"cannot sample the next token: the model's logits are NaN or inf{scaled}")
    return torch.multinomial(probs, num_samples=1, generator=generator).squeeze(1)


def greedy_next_token(logits: torch.Tensor, unfinished: torch.Tensor) -> torch.Tensor:
    """The most likely token of each row of (B, V) logits; NaN logits in a row still generating
    raise `GenerationError` (argmax would silently pick the NaN's index)."""
    if bool((logits.isnan().any(dim=-1) & unfinished).any()):
        raise GenerationError("cannot pick the next token: the model's logits are NaN")
    return logits.argmax(dim=-1)


def pick_next_tokens(
    logits: torch.Tensor,
    unfinished: torch.Tensor,
    pad: int,
    do_sample: bool,
    sampling: tuple[float, int | None, float | None],
    generator: torch.Generator | None,
) -> torch.Tensor:
    """One token per row of (B, V) logits: sampled with `sampling` = (temperature, top_k, top_p)
    or greedy; rows already finished (`unfinished` False) get `pad`."""
    if do_sample:
        next_tokens = sample_next_token(logits, *sampling, generator)
    else:
        next_tokens = greedy_next_token(logits, unfinished)
    return torch.where(unfinished, next_tokens, torch.full_like(next_tokens, pad))


def stop_and_pad_ids(config: Any, eos_token_id: object, pad_token_id: object) -> tuple[list[int], int]:
    """(end-of-sequence ids, the id written into finished rows). Each argument left None falls back
    to the text config's; the pad falls back to the config's when it is a usable id (configs write
    -1 for "none"), else the first eos id, else 0. An unusable id raises `GenerationError`."""
    vocab_size = config.vocab_size
    if eos_token_id is None:
        eos_ids = eos_token_ids(f"{type(config).__name__}.eos_token_id", config.eos_token_id, vocab_size)
    else:
        eos_ids = eos_token_ids("eos_token_id", eos_token_id, vocab_size)
    if pad_token_id is not None:
        return eos_ids, _token_id("pad_token_id", pad_token_id, vocab_size)
    config_pad = config.pad_token_id
    if _is_int(config_pad) and 0 <= config_pad < vocab_size:
        return eos_ids, int(config_pad)
    return eos_ids, eos_ids[0] if eos_ids else 0


def _warn_past_max_positions(max_positions: int) -> None:
    # transformers warns too and goes on: positions past the limit still compute, maybe worse
    warnings.warn(
        f"generation passed the model's max_position_embeddings ({max_positions}); "
        "quality may degrade past the positions it was trained on",
        UserWarning,
        stacklevel=4,
    )


class GenerationMixin:
    """Adds `generate` to a causal LM whose forward takes input_ids, attention_mask, position_ids,
    past_key_values, use_cache and logits_to_keep, and returns an object with `.logits`."""

    @torch.no_grad()
    def generate(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        max_new_tokens: int = 20,
        do_sample: bool = False,
        temperature: float = 1.0,
        top_k: int | None = 50,
        top_p: float | None = 1.0,
        eos_token_id: int | list[int] | None = None,
        pad_token_id: int | None = None,
        generator: torch.Generator | None = None,
        **model_kwargs: Any,
    ) -> torch.Tensor:
        """Return (B, T + generated) token ids. Extra `model_kwargs` (e.g. pixel_values) must be
        inputs the model's forward names; `prepare_inputs_for_generation` sees them every step and,
        by default, gives them to the prefill step only: later steps read everything they need
        from the cache. A bad argument raises `GenerationError`."""
        check_sampling_arguments(max_new_tokens, do_sample, temperature, top_k, top_p)
        config = self.config.get_text_config()
        input_ids, attention_mask = check_prompt(input_ids, attention_mask, config.vocab_size, self.device)
        check_generator(generator, self.device)
        eos_ids, pad = stop_and_pad_ids(config, eos_token_id, pad_token_id)
        eos = torch.tensor(eos_ids, dtype=torch.long, device=input_ids.device) if eos_ids else None
        model_kwargs = check_model_kwargs(self, model_kwargs)

        batch, prompt_len = input_ids.shape
        max_positions = getattr(config, "max_position_embeddings", None)
        warn_at = max(prompt_len, max_positions) + 1 if _is_int(max_positions) else None  # first length past it
        position_ids = (attention_mask.cumsum(-1) - 1).masked_fill(attention_mask == 0, 0)
        # a modest reserve: the cache doubles as it fills, so memory follows the tokens generated
        cache = DynamicCache(self.config, reserve=prompt_len + min(max_new_tokens, _RESERVE_NEW_TOKENS))
        unfinished = torch.ones(batch, dtype=torch.bool, device=input_ids.device)
        tokens, step_ids = input_ids, input_ids
        for step in range(max_new_tokens):
            inputs = self.prepare_inputs_for_generation(
                step_ids,
                past_key_values=cache,
                attention_mask=attention_mask,
                position_ids=position_ids,
                is_first_iteration=step == 0,
                **model_kwargs,
            )
            logits = self._next_token_logits(inputs, model_kwargs)
            next_tokens = pick_next_tokens(logits, unfinished, pad, do_sample, (temperature, top_k, top_p), generator)
            tokens = torch.cat([tokens, next_tokens[:, None]], dim=-1)
            if eos is not None:
                unfinished = unfinished & ~torch.isin(next_tokens, eos)
                if not bool(unfinished.any()):
                    break
            if tokens.shape[1] == warn_at:
                _warn_past_max_positions(max_positions)
            step_ids = next_tokens[:, None]
            attention_mask = torch.cat([attention_mask, attention_mask.new_ones(batch, 1)], dim=-1)
            position_ids = position_ids[:, -1:] + 1
        return tokens

    def prepare_inputs_for_generation(
        self,
        input_ids: torch.Tensor,
        past_key_values: Cache | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        is_first_iteration: bool = False,
        **model_kwargs: Any,
    ) -> dict[str, Any]:
        """The keyword arguments of one step's `forward` call; `generate` calls it every step.

        `input_ids` are the step's new tokens: the (left-padded) prompt at the first step, then the
        (B, 1) tokens just chosen; every earlier token is in `past_key_values`, whose
        `get_seq_length()` counts them (transformers' cache position). `attention_mask` is the
        (B, all tokens) padding mask, `position_ids` the step's (B, new tokens) positions,
        `is_first_iteration` is True at the prefill step, and `model_kwargs` are generate's checked
        extra inputs, given every step. The default returns the ids, mask, positions and cache with
        `use_cache=True, logits_to_keep=1`, plus `model_kwargs` at the first step only (a
        vision-language model encodes its images once, at prefill). An override may change any of
        them; `generate` reads the next token from the forward output's `.logits[:, -1]`.
        """
        inputs = {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "position_ids": position_ids,
            "past_key_values": past_key_values,
            "use_cache": True,
            "logits_to_keep": 1,
        }
        if is_first_iteration:
            inputs.update(model_kwargs)
        return inputs

    def _next_token_logits(self, inputs: dict[str, Any], model_kwargs: dict[str, Any]) -> torch.Tensor:
        """One forward step on `inputs` -> (B, V) float32 logits of the last position. A step given
        some of generate's extra `model_kwargs` (the prefill, by default) that the model cannot take
        raises `GenerationError` naming those inputs."""
        given = {name: inputs[name] for name in model_kwargs if name in inputs}
        try:
            outputs = self(**inputs)
        except (RuntimeError, IndexError, ValueError, TypeError, AttributeError, KeyError) as error:
            if not given or isinstance(error, (GenerationError, torch.OutOfMemoryError)):
                raise
            cause = (str(error).splitlines() or [type(error).__name__])[0][:200]
            raise GenerationError(
                f"the model cannot take the inputs given to generate ({describe_inputs(given)}): {cause}"
            ) from error
        return outputs.logits[:, -1, :].float()
