"""What `generate` settles before its first step: the options of this call, checked, and the inputs
expanded to one row per sequence it will produce.

    options, model_kwargs, from_call = call_options(model, generation_config, kwargs)
    run = prepare_run(model, options, from_call, input_ids, attention_mask, model_kwargs, extras)

Options follow transformers 5.23.0's precedence: the call's keyword arguments, then the call's
`generation_config=`, then the model's `generation_config` (from generation_config.json, or derived
from config.json), then transformers' defaults. Keywords that are no option are model inputs
(pixel_values, ...), checked against the model's forward. Each prompt row is repeated
`max(num_beams, num_return_sequences)` times, with every tensor model input (as transformers'
`_expand_inputs_for_generation`: they must have the batch first) and the per-image features of
`mm_encoder_outputs` (each row's whole group of images, in order).
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
from itertools import accumulate
from typing import Any

import torch

from runtime.beam_search import BeamSettings
from runtime.generation_checks import (
    _is_int,
    _token_id,
    check_generator,
    check_model_kwargs,
    check_prompt,
    check_sampling_arguments,
    eos_token_ids,
    forward_inputs,
    new_tokens_to_generate,
    token_count,
)
from runtime.generation_config import GenerationConfig, GenerationError
from runtime.logits_process import LogitsProcessorList, build_logits_processors
from runtime.messages import short_repr
from runtime.stop_strings import StopStringCriteria


@dataclasses.dataclass
class GenerationRun:
    """Everything the decoding loops read; `input_ids`, `attention_mask` and `model_kwargs` hold
    one row per sequence (B * expand), `batch` counts the prompts."""

    options: GenerationConfig
    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    model_kwargs: dict[str, Any]
    batch: int
    max_length: int  # prompt included
    eos_ids: list[int]
    pad: int | None  # written into finished rows; None without eos ids (transformers pads only then, even for [])
    processors: LogitsProcessorList
    stop_strings: StopStringCriteria | None
    streamer: Any
    generator: torch.Generator | None
    static_cache: bool = False  # cache_implementation="static", or compile
    compile: bool = False  # decode steps through torch.compile (runtime/generation.py)

    @property
    def prompt_len(self) -> int:
        return self.input_ids.shape[1]

    def flag(self, name: str) -> bool:
        return bool(self.options.get(name))


def call_options(
    model: Any, generation_config: GenerationConfig | None, kwargs: dict[str, Any]
) -> tuple[GenerationConfig, dict[str, Any], GenerationConfig]:
    """(this call's options, the model inputs among `kwargs`, the options the call itself set)."""
    if generation_config is not None and not isinstance(generation_config, GenerationConfig):
        generation_config = foreign_generation_config(generation_config)
    from_call = copy.deepcopy(generation_config) if generation_config is not None else GenerationConfig()
    model_kwargs = from_call.set_fields(kwargs)
    for name in ("output_attentions", "output_hidden_states"):  # also model inputs, as in transformers
        if kwargs.get(name):
            model_kwargs[name] = kwargs[name]
    options = from_call.merged_over(model.model_generation_config())
    options.validate()  # after merging, as transformers: sampling may come from the model's config
    unsupported = options.unsupported_options()
    if unsupported:
        raise GenerationError(
            f"generate does not support {', '.join(unsupported[:5])} (set in the call or in the model's "
            "generation_config); leave them unset"
        )
    return options, model_kwargs, from_call


def foreign_generation_config(value: Any) -> GenerationConfig:
    """A transformers `GenerationConfig` (duck-typed, never imported): the fields it sets apart
    from its defaults, as its `save_pretrained` would write them."""
    to_diff_dict = getattr(value, "to_diff_dict", None)
    data = to_diff_dict() if callable(to_diff_dict) else None
    if not isinstance(data, dict):
        raise GenerationError(
            f"generation_config must be a GenerationConfig (ours or transformers'), got {type(value).__name__}"
        )
    return GenerationConfig.from_dict(data)


def _max_length(model: Any, options: GenerationConfig, prompt_len: int) -> int:
    """The length to stop at, prompt included (transformers' `_prepare_generated_length`): the
    default 20 new tokens stop earlier at `max_position_embeddings`, as transformers' do."""
    max_new_tokens = options.max_new_tokens
    budget = 20 if max_new_tokens is None else max_new_tokens
    check_sampling_arguments(
        budget, options.get("do_sample"), options.get("temperature"), options.top_k, options.top_p
    )
    new = new_tokens_to_generate(max_new_tokens, options.max_length, prompt_len)
    max_positions = getattr(model.config.get_text_config(), "max_position_embeddings", None)
    if max_new_tokens is None and options.max_length is None and _is_int(max_positions):
        if max_positions <= prompt_len:
            raise GenerationError(
                f"the prompt's {prompt_len} tokens fill max_position_embeddings ({max_positions}), where the "
                "default length stops; set max_new_tokens"
            )
        new = min(new, max_positions - prompt_len)
    return prompt_len + new


def special_tokens(model: Any, options: GenerationConfig, from_call: GenerationConfig) -> tuple[list[int], int | None]:
    """(eos ids, pad id). Ids the call gives must be valid; the model's own (from a file or its
    config) are named by their source. The pad falls back to the first eos id, else 0."""
    vocab_size = token_count(model.config.get_text_config())
    own = model.model_generation_config()
    eos_name = "eos_token_id" if from_call.eos_token_id is not None else own.described("eos_token_id")
    eos_ids = eos_token_ids(eos_name, options.eos_token_id, vocab_size)
    if from_call.pad_token_id is not None:
        return eos_ids, _token_id("pad_token_id", from_call.pad_token_id, vocab_size)
    pad = options.pad_token_id  # the model's: used when it is a usable id (configs write -1 for "none")
    if _is_int(pad) and 0 <= pad < vocab_size:
        return eos_ids, int(pad)
    return eos_ids, eos_ids[0] if eos_ids else 0


def check_beam_options(options: GenerationConfig) -> tuple[int, int]:
    """(num_beams, num_return_sequences), each an integer >= 1."""
    counts = []
    for name in ("num_beams", "num_return_sequences"):
        value = options.get(name)
        if not _is_int(value) or value < 1:
            raise GenerationError(f"{name} must be an integer >= 1, got {short_repr(value, 40)}")
        counts.append(int(value))
    if not isinstance(options.get("length_penalty"), (int, float)) or isinstance(options.get("length_penalty"), bool):
        raise GenerationError(f"length_penalty must be a number, got {short_repr(options.length_penalty, 40)}")
    return counts[0], counts[1]


def prepare_run(
    model: Any,
    options: GenerationConfig,
    from_call: GenerationConfig,
    input_ids: object,
    attention_mask: object,
    model_kwargs: dict[str, Any],
    extras: dict[str, Any],
) -> GenerationRun:
    """Check everything and expand the inputs; `extras` holds streamer, tokenizer, generator and compile."""
    text_config = model.config.get_text_config()
    compile_steps, static_cache = check_compile(model, options, extras.get("compile", False))
    input_ids, attention_mask = check_prompt(input_ids, attention_mask, token_count(text_config), model.device)
    max_length = _max_length(model, options, input_ids.shape[1])
    check_generator(extras["generator"], model.device)
    eos_ids, pad = special_tokens(model, options, from_call)
    model_kwargs = check_model_kwargs(model, model_kwargs)
    num_beams, num_return = check_beam_options(options)
    expand = max(num_beams, num_return)
    _check_streamer(extras["streamer"], input_ids.shape[0] * expand)
    stop_strings = options.stop_strings
    criteria = StopStringCriteria(extras["tokenizer"], stop_strings) if stop_strings is not None else None
    model_kwargs = expand_model_inputs(model, model_kwargs, input_ids, expand)
    input_ids, attention_mask = (t.repeat_interleave(expand, dim=0) for t in (input_ids, attention_mask))
    processors = build_logits_processors(
        options,
        prompt_len=input_ids.shape[1],
        attention_mask=attention_mask,
        eos_ids=eos_ids,
        vocab_size=token_count(text_config),
    )
    return GenerationRun(
        options=options,
        input_ids=input_ids,
        attention_mask=attention_mask,
        model_kwargs=model_kwargs,
        batch=input_ids.shape[0] // expand,
        max_length=max_length,
        eos_ids=eos_ids,
        pad=pad if options.eos_token_id is not None else None,
        processors=processors,
        stop_strings=criteria,
        streamer=extras["streamer"],
        generator=extras["generator"],
        static_cache=static_cache,
        compile=compile_steps,
    )


def check_compile(model: Any, options: GenerationConfig, compile_steps: object) -> tuple[bool, bool]:
    """(compile, static cache): `compile` must be a bool; both need a backend that takes a mask
    over the whole static buffer (sdpa or eager, not flash-attn)."""
    if not isinstance(compile_steps, bool):
        raise GenerationError(f"compile must be True or False, got {short_repr(compile_steps, 40)}")
    static = compile_steps or options.cache_implementation == "static"
    if static:
        for config in (model.config, model.config.get_text_config()):
            if getattr(config, "_attn_implementation", None) == "flash_attention_2":
                what = "compile=True" if compile_steps else "cache_implementation='static'"
                raise GenerationError(f"{what} needs attn_implementation 'sdpa' or 'eager', not 'flash_attention_2'")
    return compile_steps, static


def _check_streamer(streamer: Any, rows: int) -> None:
    if streamer is None:
        return
    if not callable(getattr(streamer, "put", None)) or not callable(getattr(streamer, "end", None)):
        raise GenerationError(f"streamer must have put() and end() methods, got {type(streamer).__name__}")
    if rows > 1:
        raise GenerationError(
            "a streamer follows one sequence: stream a single prompt, without beam search or num_return_sequences"
        )


def expand_model_inputs(
    model: Any, model_kwargs: dict[str, Any], input_ids: torch.Tensor, expand: int
) -> dict[str, Any]:
    """Each tensor input repeated `expand` times along its first (batch) dimension, row by row;
    `mm_encoder_outputs`' image features regrouped per row and repeated (see the module docstring)."""
    if expand == 1:
        return model_kwargs
    model_kwargs = encode_before_expanding(model, model_kwargs)
    expanded = {}
    for name, value in model_kwargs.items():
        if isinstance(value, torch.Tensor):
            value = value.repeat_interleave(expand, dim=0)
        elif name == "mm_encoder_outputs" and isinstance(value, dict):
            value = {key: _expand_features(model, key, item, input_ids, expand) for key, item in value.items()}
        expanded[name] = value
    return expanded


_PIXEL_INPUTS = ("pixel_values", "pixel_values_images", "pixel_values_videos", "image_patches")


def encode_before_expanding(model: Any, model_kwargs: dict[str, Any]) -> dict[str, Any]:
    """transformers' `_prepare_multimodal_encoder_kwargs_for_generation`: a model whose forward
    takes `mm_encoder_outputs` has its images (videos) encoded once by `get_image_features`
    (`get_video_features`) before the rows are repeated, the pixel inputs replaced by the encoded
    output: pixel tensors need not have the batch first (LLaVA's hold one row per image)."""
    if "mm_encoder_outputs" not in forward_inputs(type(model))[0]:
        return model_kwargs
    model_kwargs = dict(model_kwargs)
    encoded = dict(model_kwargs.get("mm_encoder_outputs") or {})
    used: set[str] = set()
    for modality in ("image", "video"):
        encoder = getattr(model.base_model, f"get_{modality}_features", None)
        if encoder is None:
            continue
        parameters = inspect.signature(encoder).parameters
        arguments = {name: model_kwargs[name] for name in parameters if name != "kwargs" and name in model_kwargs}
        if not any(name in arguments for name in _PIXEL_INPUTS):
            continue
        if encoded.get(modality) is not None:
            raise GenerationError(
                f"give either pixels or mm_encoder_outputs[{modality!r}] for the {modality}s, not both"
            )
        encoded[modality] = encoder(**arguments)
        used.update(arguments)
    if not used:
        return model_kwargs
    for name in used:
        model_kwargs.pop(name)
    model_kwargs["mm_encoder_outputs"] = encoded
    return model_kwargs


def _expand_features(model: Any, modality: str, output: Any, input_ids: torch.Tensor, expand: int) -> Any:
    """transformers' `_expand_multimodal_outputs` for one modality: `output.pooler_output` holds
    the encoded images (or videos) of all rows in order; the groups that belong to each row are
    found from cumulative placeholder counts, and each group is repeated as a whole ([A, B] ->
    [A, B, A, B]) so the placeholders of every copy of the row meet their images in order."""
    features = getattr(output, "pooler_output", None)
    token_id = getattr(model.config, f"{modality}_token_id", None)
    if features is None or token_id is None:
        return output
    in_text = list(accumulate((input_ids == token_id).sum(-1).tolist()))
    in_features = list(accumulate(len(item) for item in features))
    offsets = [0] + [i + 1 for i, count in enumerate(in_features) if count in in_text]
    groups = [list(features[start:end]) for start, end in zip(offsets[:-1], offsets[1:], strict=False)]
    repeated = [item for group in groups for item in group * expand]
    copied = copy.copy(output)  # the caller's object keeps its features
    copied.pooler_output = torch.stack(repeated) if isinstance(features, torch.Tensor) else repeated
    return copied


def beam_settings(run: GenerationRun) -> BeamSettings:
    """The beam search parameters of `run`. The fill after a finished hypothesis is transformers'
    `pad_token_id or eos_token_id[0]` (so a pad id 0 gives way to the eos id: its quirk, kept)."""
    options, eos_ids = run.options, run.eos_ids
    fill = (run.pad or eos_ids[0]) if eos_ids else -1
    return BeamSettings(
        num_beams=options.get("num_beams"),
        max_length=run.max_length,
        length_penalty=float(options.get("length_penalty")),
        early_stopping=options.get("early_stopping"),
        num_return_sequences=options.get("num_return_sequences"),
        eos_count=len(eos_ids),
        fill=fill,
        do_sample=bool(options.get("do_sample")),
        generator=run.generator,
    )
