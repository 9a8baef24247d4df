"""Token generation with the KV cache: greedy, sampled or beam search, batched with left padding.

    tokens = model.generate(input_ids, attention_mask=mask, max_new_tokens=20)   # (B, T + new)
    out = model.generate(**inputs, num_beams=4, return_dict_in_generate=True, output_scores=True)

The options are transformers 5.23.0's `GenerationConfig` fields (runtime/generation_config.py),
with its precedence: the call's keywords, then `generation_config=`, then the model's
`generation_config` (its generation_config.json, or derived from config.json). The loop is
written out: one prefill step over the prompt, then one step per new token that feeds only that
token and reads the rest from the cache. Position ids follow the padding mask (`cumsum - 1`), as
transformers computes them, so left-padded rows match unpadded ones. Each step's scores go
through the logits processors and, when sampling, the warpers (runtime/logits_process.py), in
transformers' order; rows stop at an eos id or a stop string (runtime/stop_strings.py) and are
then padded. Beam search is runtime/beam_search.py; the cache is reordered to follow the beams.
Each step's forward arguments come from `prepare_inputs_for_generation` (transformers' name and
role): a model that must adjust its inputs per step overrides that one method, not `generate`.

Every argument is checked before the first step (runtime/generation_setup.py,
runtime/generation_checks.py), and a bad one raises `GenerationError` (a `ValueError`) naming it,
as does an option `generate` does not implement. When the model cannot take the extra inputs at
prefill (a `pixel_values` of the wrong rank), the error names them and their shapes. Like
transformers, `generate` does not stop at `max_position_embeddings` when given a length: it warns
once when the sequence grows past it. The cache grows as tokens come, so memory follows the
tokens actually generated, not `max_new_tokens`.

The loop runs in `torch.inference_mode`. With `compile=True` (or `cache_implementation="static"`
without compiling) the cache is a `StaticCache` sized for the whole generation, so every decode
step has the same shapes and `torch.compile` of the model's forward traces it once (`_Steps`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import torch

from runtime.beam_search import beam_search
from runtime.cache import Cache, DynamicCache, StaticCache
from runtime.generation_checks import (  # noqa: F401  (re-exported: callers import them from here)
    _RESERVE_NEW_TOKENS,
    DEFAULT_MAX_NEW_TOKENS,
    _is_int,
    _shown,
    _warn_past_max_positions,
    check_model_kwargs,
    check_prompt,
    describe_inputs,
    eos_token_ids,
    forward_inputs,
    new_tokens_to_generate,
    stop_and_pad_ids,
    token_count,
)
from runtime.generation_config import GenerationConfig, GenerationError
from runtime.generation_setup import GenerationRun, beam_settings, call_options, prepare_run
from runtime.outputs import GenerateBeamDecoderOnlyOutput, GenerateDecoderOnlyOutput

_STATIC_BUCKET = 256  # a static cache holds the total length rounded up to a multiple of this


def draw_tokens(scores: torch.Tensor, generator: torch.Generator | None, temperature: object = 1.0) -> torch.Tensor:
    """One token per row of (B, V) processed scores, drawn from their softmax.

    Raises `GenerationError` when the probabilities are not finite (NaN or inf logits, or a
    temperature so small that it overflows them), where torch.multinomial would fail obscurely.
    """
    probs = scores.softmax(dim=-1)
    if not bool(probs.isfinite().all()):
        scaled = f" once divided by temperature={_shown(temperature)}" if temperature != 1.0 else ""
        raise GenerationError(f"cannot sample the next token: the model's logits are NaN or inf{scaled}")
    return torch.multinomial(probs, num_samples=1, generator=generator).squeeze(1)


def greedy_next_token(logits: torch.Tensor, unfinished: torch.Tensor) -> torch.Tensor:
    """The most likely token of each row of (B, V) logits; NaN logits in a row still generating
    raise `GenerationError` (argmax would silently pick the NaN's index).

    `max` propagates NaN and returns argmax's index (the first maximum), so one reduction gives
    both the token and the check: a row's maximum is NaN exactly when one of its logits is.
    """
    best, next_tokens = logits.max(dim=-1)
    if bool((best.isnan() & unfinished).any()):
        raise GenerationError("cannot pick the next token: the model's logits are NaN")
    return next_tokens


class _Steps:
    """The cache, padding mask and positions of one generate call, from one step to the next.

    With `run.static_cache`, the cache is a `StaticCache` for `run.max_length` tokens (rounded up
    to `_STATIC_BUCKET`, so that nearby lengths share one compiled step) and the forward gets the
    whole padding-mask buffer, ones past the tokens so far (the causal mask hides those slots):
    every decode step then has the same shapes. With `run.compile`, decode steps (not the
    prefill, whose shape is the prompt's) run the model's compiled forward (`compiled_forward`).
    """

    def __init__(self, model: GenerationMixin, run: GenerationRun) -> None:
        self.model, self.run = model, run
        mask = run.attention_mask
        self.attention_mask = mask
        self.position_ids = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 0)
        if run.static_cache:
            size = -(-run.max_length // _STATIC_BUCKET) * _STATIC_BUCKET
            self.cache: Cache = StaticCache(model.config, max_cache_len=size)
        else:
            # a modest reserve: the cache doubles as it fills, so memory follows the tokens generated
            size = run.prompt_len + min(run.max_length - run.prompt_len, _RESERVE_NEW_TOKENS)
            self.cache = DynamicCache(model.config, reserve=size)
        # every step's padding mask is a prefix (a view) of one buffer: the prompt's mask, then a 1
        # per new token; it doubles when full, as the cache does, instead of a concatenation per step
        self._mask_buffer = mask.new_ones(len(mask), size)
        self._mask_buffer[:, : run.prompt_len] = mask
        self._forward = compiled_forward(model) if run.compile else None

    def forward(self, step_ids: torch.Tensor, first: bool) -> Any:
        """The model's output for the step's new tokens (the prompt at the first step)."""
        inputs = self.model.prepare_inputs_for_generation(
            step_ids,
            past_key_values=self.cache,
            attention_mask=self.attention_mask,
            position_ids=self.position_ids,
            is_first_iteration=first,
            **self.run.model_kwargs,
        )
        if self.run.static_cache:
            self.cache.begin_step(step_ids.shape[1], step_ids.device)
            if inputs.get("attention_mask") is self.attention_mask:
                inputs["attention_mask"] = self._mask_buffer  # the same values, one shape for every step
        forward = self._forward if not first else None
        return self.model._forward_step(inputs, self.run.model_kwargs, forward)

    def advance(self) -> None:
        """One more token in every row."""
        length = self.attention_mask.shape[1] + 1
        if length > self._mask_buffer.shape[1]:
            self._mask_buffer = torch.cat([self._mask_buffer, torch.ones_like(self._mask_buffer)], -1)
        self.attention_mask = self._mask_buffer[:, :length]
        self.position_ids = self.position_ids[:, -1:] + 1


_COMPILED_FORWARD: dict[type, Callable[..., Any]] = {}


def compiled_forward(model: torch.nn.Module) -> Callable[..., Any]:
    """`forward(**inputs)` through `torch.compile` of the model class's `forward`, made once per
    class and kept here, not on the model (so the model still pickles, and a deep copy never runs
    the original's weights): later calls with the same shapes (batch, static cache length) and
    config reuse the compiled code. `dynamic=False`: each shape gets code specialised to it (torch
    recompiles up to its recompile limit, then runs the step uncompiled). `cpp_wrapper`: inductor
    calls the step's kernels from generated C++ rather than Python, which is most of what is
    left of a small model's per-token overhead once compiled (a longer build, once)."""
    cls = type(model)
    compiled = _COMPILED_FORWARD.get(cls)
    if compiled is None:
        compiled = torch.compile(cls.forward, dynamic=False, options={"cpp_wrapper": True})
        _COMPILED_FORWARD[cls] = compiled
    return functools.partial(compiled, model)


class _Record:
    """What `return_dict_in_generate` collects, step by step, as the options ask."""

    def __init__(self, run: GenerationRun) -> None:
        wanted = run.flag("return_dict_in_generate")
        self.scores = [] if wanted and run.flag("output_scores") else None
        self.logits = [] if wanted and run.flag("output_logits") else None
        self.attentions = [] if wanted and run.flag("output_attentions") else None
        self.hidden_states = [] if wanted and run.flag("output_hidden_states") else None
        self.active = wanted  # anything to keep

    def add(self, scores: torch.Tensor, logits: torch.Tensor, outputs: Any = None) -> None:
        for kept, value in ((self.scores, scores), (self.logits, logits)):
            if kept is not None:
                kept.append(value)
        if outputs is not None:
            for kept, name in ((self.attentions, "attentions"), (self.hidden_states, "hidden_states")):
                if kept is not None:
                    kept.append(getattr(outputs, name, None))

    def fields(self) -> dict[str, Any]:
        names = ("scores", "logits", "attentions", "hidden_states")
        return {name: tuple(getattr(self, name)) if getattr(self, name) is not None else None for name in names}


def _stopped(run: GenerationRun, tokens: torch.Tensor, eos: torch.Tensor | None) -> torch.Tensor:
    """(N,) bool: rows of (N, t) `tokens` that end with an eos id or a stop string."""
    done = torch.isin(tokens[:, -1], eos) if eos is not None else torch.zeros_like(tokens[:, -1], dtype=torch.bool)
    if run.stop_strings is not None:
        done = done | run.stop_strings(tokens)
    return done


def _outside_inference_mode(result: Any) -> Any:
    """`generate`'s result with its tensors (sequences, scores, logits, ...) copied out of inference
    mode, so callers may change them in place or train on them; the returned cache's tensors, and
    the per-step attentions and hidden states, stay inference tensors (read them, or clone them)."""
    if isinstance(result, torch.Tensor):
        return result.clone()
    for name in ("sequences", "sequences_scores", "beam_indices"):
        value = getattr(result, name, None)
        if isinstance(value, torch.Tensor):
            setattr(result, name, value.clone())
    for name in ("scores", "logits"):
        value = getattr(result, name, None)
        if value is not None:
            setattr(result, name, tuple(step.clone() for step in value))
    return result


class GenerationMixin:
    """Adds `generate` to a causal LM whose forward takes input_ids, attention_mask, position_ids,
    past_key_values, use_cache and logits_to_keep, and returns an object with `.logits`."""

    @property
    def generation_config(self) -> GenerationConfig:
        """The model's generation defaults: generation_config.json when `from_pretrained` found one,
        else derived from the model's config (transformers' `from_model_config`). Edits persist."""
        config = self.__dict__.get("_generation_config")
        if config is None:
            config = self.__dict__["_generation_config"] = GenerationConfig.from_model_config(self.config)
        return config

    @generation_config.setter
    def generation_config(self, value: GenerationConfig) -> None:
        if not isinstance(value, GenerationConfig):
            raise TypeError(f"generation_config must be a GenerationConfig, got {type(value).__name__}")
        self.__dict__["_generation_config"] = value

    def model_generation_config(self) -> GenerationConfig:
        """What `generate` starts from: `generation_config` once loaded, set or read; until then,
        derived afresh from `self.config` at each call (so edits to the config still count)."""
        return self.__dict__.get("_generation_config") or GenerationConfig.from_model_config(self.config)

    def generate(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        generation_config: GenerationConfig | None = None,
        streamer: Any = None,
        tokenizer: Any = None,
        generator: torch.Generator | None = None,
        compile: bool = False,
        **kwargs: Any,
    ) -> torch.Tensor | GenerateDecoderOnlyOutput | GenerateBeamDecoderOnlyOutput:
        """Return (B * num_return_sequences, T + generated) token ids, or with
        `return_dict_in_generate=True` an output holding them as `sequences` (and `scores`,
        `logits`, ... as asked).

        `kwargs` that name a `GenerationConfig` field (max_new_tokens, do_sample, num_beams, ...)
        override `generation_config`, which overrides the model's `generation_config`. The others
        are model inputs (e.g. pixel_values): each must be an input the model's forward names;
        `prepare_inputs_for_generation` sees them every step and, by default, gives them to the
        prefill step only (later steps read everything they need from the cache). `streamer` gets
        the tokens as they come (runtime/streamers.py), `tokenizer` is needed for `stop_strings`,
        `generator` draws the samples. At most `max_new_tokens` new tokens, else at most
        `max_length` tokens in all (prompt included), else 20 new tokens. A bad or unsupported
        argument raises `GenerationError`.

        `compile=True` decodes through `torch.compile` of the model's forward over a static cache
        (`cache_implementation="static"` alone gives the static cache uncompiled): the same
        greedy tokens, logits equal within float rounding (attention reads the whole masked
        buffer). The first call compiles (tens of seconds on a CPU); later calls with the same
        batch size and cache length (the total length rounded up to a multiple of 256) reuse it.
        """
        # inference mode, not only no_grad: every op of every step skips autograd's bookkeeping
        # (version counters, view tracking), a quarter of a small op's dispatch cost on a CPU
        with torch.inference_mode():
            options, model_kwargs, from_call = call_options(self, generation_config, kwargs)
            extras = {"streamer": streamer, "tokenizer": tokenizer, "generator": generator, "compile": compile}
            run = prepare_run(self, options, from_call, input_ids, attention_mask, model_kwargs, extras)
            result = self._beam_search(run) if options.get("num_beams") > 1 else self._decode(run)
        return _outside_inference_mode(result)

    def _decode(self, run: GenerationRun) -> torch.Tensor | GenerateDecoderOnlyOutput:
        """Greedy decoding or sampling, one token per row and step, until every row stops."""
        steps, record = _Steps(self, run), _Record(run)
        eos = torch.tensor(run.eos_ids, dtype=torch.long, device=run.input_ids.device) if run.eos_ids else None
        max_positions = getattr(self.config.get_text_config(), "max_position_embeddings", None)
        warn_at = max(run.prompt_len, max_positions) + 1 if _is_int(max_positions) else None  # first length past it
        unfinished = torch.ones(len(run.input_ids), dtype=torch.bool, device=run.input_ids.device)
        tokens = step_ids = run.input_ids
        choose = self._chooser(run)
        if run.streamer is not None:
            run.streamer.put(tokens.cpu())
        for step in range(run.max_length - run.prompt_len):
            outputs = steps.forward(step_ids, first=step == 0)
            logits = outputs.logits[:, -1, :].float()
            scores = run.processors(tokens, logits) if run.processors else logits
            if record.active:
                record.add(scores, logits, outputs)
            next_tokens = choose(scores, unfinished)
            step_ids = next_tokens[:, None]  # (B, 1): the next step's input
            tokens = torch.cat([tokens, step_ids], dim=-1)
            if run.streamer is not None:
                run.streamer.put(next_tokens.cpu())
            if eos is not None or run.stop_strings is not None:
                unfinished = unfinished & ~_stopped(run, tokens, eos)
                if not bool(unfinished.any()):
                    break
            if tokens.shape[1] == warn_at:
                _warn_past_max_positions(max_positions)
            steps.advance()
        if run.streamer is not None:
            run.streamer.end()
        if not run.flag("return_dict_in_generate"):
            return tokens
        return GenerateDecoderOnlyOutput(sequences=tokens, past_key_values=steps.cache, **record.fields())

    @staticmethod
    def _chooser(run: GenerationRun) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
        """(scores, unfinished) -> the next token of each row: drawn or greedy; finished rows get
        the pad id (none without eos ids: transformers pads only then)."""
        sampling, temperature, generator = run.flag("do_sample"), run.options.get("temperature"), run.generator
        # without eos ids or stop strings no row finishes: padding finished rows would change nothing
        pad = run.pad if run.eos_ids or run.stop_strings is not None else None

        def choose(scores: torch.Tensor, unfinished: torch.Tensor) -> torch.Tensor:
            if sampling:
                next_tokens = draw_tokens(scores, generator, temperature)
            else:
                next_tokens = greedy_next_token(scores, unfinished)
            return next_tokens if pad is None else torch.where(unfinished, next_tokens, pad)

        return choose

    def _beam_search(self, run: GenerationRun) -> torch.Tensor | GenerateBeamDecoderOnlyOutput:
        """Beam search (runtime/beam_search.py) with this model's steps; the cache follows the beams."""
        steps, record = _Steps(self, run), _Record(run)
        eos = torch.tensor(run.eos_ids, dtype=torch.long, device=run.input_ids.device) if run.eos_ids else None

        def step(running: torch.Tensor, index: int) -> torch.Tensor:
            if index:
                steps.advance()
            return steps.forward(running if index == 0 else running[:, -1:], first=index == 0).logits[:, -1].float()

        def stopping(ids: torch.Tensor) -> torch.Tensor:
            return _stopped(run, ids, eos) | (ids.shape[1] >= run.max_length)

        settings = beam_settings(run)
        result = beam_search(
            step, steps.cache.reorder_cache, run.input_ids, run.processors, stopping, settings, record.add
        )
        if not run.flag("return_dict_in_generate"):
            return result.sequences
        scores = result.sequences_scores if run.flag("output_scores") else None
        return GenerateBeamDecoderOnlyOutput(
            sequences=result.sequences,
            sequences_scores=scores,
            beam_indices=result.beam_indices,
            past_key_values=steps.cache,
            **record.fields(),
        )

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
        return self._forward_step(inputs, model_kwargs).logits[:, -1, :].float()

    def _forward_step(
        self, inputs: dict[str, Any], model_kwargs: dict[str, Any], forward: Callable[..., Any] | None = None
    ) -> Any:
        """`self(**inputs)`, or `forward(**inputs)` (the compiled forward); the prefill's failure
        on generate's extra inputs names them (see `_next_token_logits`)."""
        given = {name: inputs[name] for name in model_kwargs if name in inputs}
        try:
            outputs = self(**inputs) if forward is None else forward(**inputs)
        except (RuntimeError, IndexError, ValueError, TypeError, AttributeError, KeyError) as error:
            if not given or isinstance(error, (GenerationError, torch.OutOfMemoryError)):
                raise
            cause = (str(error).splitlines() or [type(error).__name__])[0][:200]
            raise GenerationError(
                f"the model cannot take the inputs given to generate ({describe_inputs(given)}): {cause}"
            ) from error
        return outputs
