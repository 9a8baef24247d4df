"""The checks `generate` runs before its first step: every bad argument raises `GenerationError`
(a `ValueError`) naming it, in a short message.

What transformers 5.23.0 refuses (`max_new_tokens <= 0`, a negative `temperature`, `temperature=0`
with sampling, `top_p` outside (0, 1], a negative `top_k`, keyword arguments neither generate
nor the model's forward takes), and what would otherwise fail deep inside torch (empty or
out-of-vocabulary `input_ids`, a mask of another shape, eos or pad ids outside the vocabulary).
Extra inputs must be inputs the model's forward names, of its annotated type.
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

from runtime.configuration_utils import _matches
from runtime.generation_config import FIELDS, GenerationError
from runtime.messages import short_repr

# generate's own keyword arguments besides the GenerationConfig fields (for "did you mean")
GENERATE_ARGUMENTS = ("input_ids", "attention_mask", "generation_config", "streamer", "tokenizer", "generator")


def _shown(value: object) -> str:
    return short_repr(value, 40)


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


DEFAULT_MAX_NEW_TOKENS = 20


def token_count(config: Any) -> int:
    """How many token ids a model reads and writes: `vocab_size`, plus `additional_vocab_size`
    where a config has it (IDEFICS's decoupled embeddings give its added tokens, such as
    `<image>`, the ids after the base vocabulary)."""
    return config.vocab_size + (getattr(config, "additional_vocab_size", 0) or 0)


def new_tokens_to_generate(max_new_tokens: int | None, max_length: object, prompt_len: int) -> int:
    """transformers' precedence: `max_new_tokens` when given, else `max_length` (which counts the
    prompt) minus the prompt, else `DEFAULT_MAX_NEW_TOKENS`. A `max_length` the prompt already
    fills raises `GenerationError`, as transformers raises."""
    if max_new_tokens is not None:
        return max_new_tokens
    if max_length is None:
        return DEFAULT_MAX_NEW_TOKENS
    if not _is_int(max_length) or max_length <= prompt_len:
        raise GenerationError(
            f"max_length counts the prompt: it must be an integer greater than the prompt's {prompt_len} tokens, "
            f"got {_shown(max_length)}; or set max_new_tokens"
        )
    return int(max_length) - prompt_len


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
    close = difflib.get_close_matches(name[:100], [*GENERATE_ARGUMENTS, *FIELDS, *accepted], n=1)
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


def stop_and_pad_ids(config: Any, eos_token_id: object, pad_token_id: object) -> tuple[list[int], int]:
    """(end-of-sequence ids, the id written into finished rows). Each argument left None falls back
    to the text config's; the pad falls back to the config's when it is a usable id (configs write
    -1 for "none"), else the first eos id, else 0. An unusable id raises `GenerationError`."""
    vocab_size = token_count(config)
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
