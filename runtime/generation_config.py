"""`GenerationConfig`: the defaults of `generate`, read from and written to `generation_config.json`.

    config = GenerationConfig.from_pretrained("dir/or/repo-id")     # generation_config.json
    model.generation_config.max_new_tokens = 64                      # every later generate call
    model.generate(input_ids, do_sample=True, top_p=0.9)             # this call only

Fields, names and defaults are transformers 5.23.0's: every field is None unless set, and
`DEFAULTS` (transformers' `_get_default_generation_params`) fills what neither the call, nor the
model's generation config, set. A field `generate` does not implement (`SUPPORTED` lists those it
does) may be read and written, so any checkpoint's file loads and saves back; a call whose
effective value for it is anything but the default raises `GenerationError` naming it, never
silently decodes otherwise. Keys a file holds that are no field (custom entries) are kept and
written back but never used. Without a generation_config.json, `from_model_config` derives the
config from config.json's generation fields (the top level, then the text config's), as
transformers does.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

from runtime.messages import short_repr

GENERATION_CONFIG_NAME = "generation_config.json"
TRANSFORMERS_VERSION = "5.23.0"  # written as transformers writes its version, so the file reads the same


class GenerationError(ValueError):
    """A bad argument to `generate`, or a bad input to a model step: the message names it."""


# every field of transformers 5.23.0's GenerationConfig; all default to None
FIELDS = (
    "max_length", "max_new_tokens", "min_length", "min_new_tokens", "early_stopping", "max_time",
    "stop_strings", "do_sample", "num_beams", "use_mtp", "use_cache", "cache_implementation",
    "cache_config", "max_cache_len", "temperature", "top_k", "top_p", "min_p", "top_h", "typical_p",
    "epsilon_cutoff", "eta_cutoff", "repetition_penalty", "encoder_repetition_penalty", "length_penalty",
    "no_repeat_ngram_size", "bad_words_ids", "renormalize_logits", "forced_bos_token_id",
    "forced_eos_token_id", "remove_invalid_values", "exponential_decay_length_penalty", "suppress_tokens",
    "begin_suppress_tokens", "sequence_bias", "token_healing", "guidance_scale", "watermarking_config",
    "num_return_sequences", "output_attentions", "output_hidden_states", "output_scores", "output_logits",
    "return_dict_in_generate", "pad_token_id", "bos_token_id", "eos_token_id",
    "encoder_no_repeat_ngram_size", "decoder_start_token_id", "is_assistant", "num_assistant_tokens",
    "num_assistant_tokens_schedule", "assistant_confidence_threshold", "prompt_lookup_num_tokens",
    "max_matching_ngram_size", "assistant_early_exit", "assistant_lookbehind", "target_lookbehind",
    "assistant_ensemble_weight", "speculation_type", "compile_config", "disable_compile",
    "continuous_batching_config", "low_memory", "penalty_alpha", "dola_layers", "diversity_penalty",
    "num_beam_groups", "constraints", "force_words_ids", "prefill_chunk_size",
)  # fmt: skip
# the file's bookkeeping, never a generation option
METADATA = ("transformers_version", "_from_model_config")

# transformers' `_get_default_generation_params`: what applies when neither call nor model sets a field
DEFAULTS: dict[str, Any] = {
    "max_length": 20, "min_length": 0, "do_sample": False, "use_cache": True, "early_stopping": False,
    "num_beams": 1, "temperature": 1.0, "top_k": 50, "top_p": 1.0, "typical_p": 1.0,
    "repetition_penalty": 1.0, "length_penalty": 1.0, "no_repeat_ngram_size": 0,
    "encoder_no_repeat_ngram_size": 0, "bad_words_ids": None, "num_return_sequences": 1,
    "output_scores": False, "return_dict_in_generate": False, "forced_bos_token_id": None,
    "forced_eos_token_id": None, "remove_invalid_values": False, "exponential_decay_length_penalty": None,
    "suppress_tokens": None, "begin_suppress_tokens": None, "epsilon_cutoff": 0.0, "eta_cutoff": 0.0,
    "encoder_repetition_penalty": 1.0, "num_assistant_tokens": 20, "num_assistant_tokens_schedule": "constant",
    "assistant_confidence_threshold": 0.4, "assistant_lookbehind": 10, "target_lookbehind": 10,
    "num_beam_groups": 1, "diversity_penalty": 0.0,
}  # fmt: skip

# what `generate` implements; the assistant fields' defaults only matter with an assistant model
SUPPORTED = frozenset(
    "max_length max_new_tokens min_length min_new_tokens early_stopping stop_strings do_sample num_beams "
    "use_cache cache_implementation temperature top_k top_p min_p typical_p repetition_penalty length_penalty "
    "no_repeat_ngram_size bad_words_ids suppress_tokens begin_suppress_tokens num_return_sequences "
    "output_attentions output_hidden_states output_scores output_logits return_dict_in_generate pad_token_id "
    "bos_token_id eos_token_id num_assistant_tokens num_assistant_tokens_schedule assistant_confidence_threshold "
    "assistant_lookbehind target_lookbehind".split()
)
# supported fields that hold only some values: anything else is refused by `unsupported_options`
_ONLY = {
    "use_cache": (None, True),
    # transformers turns "hybrid" into the dynamic cache; "static" is runtime.cache.StaticCache
    "cache_implementation": (None, "dynamic", "hybrid", "static"),
}


class GenerationConfig:
    """The options of `generate`, as transformers 5.23.0 names them (see the module docstring).

    Every field is an attribute, None when unset; unknown keyword arguments are kept as custom
    entries (`extra_fields`). Construction and `update` check the values transformers refuses
    (`validate`) and raise `GenerationError`.
    """

    def __init__(self, **kwargs: Any) -> None:
        for name in FIELDS:
            setattr(self, name, kwargs.pop(name, None))
        self._from_model_config: bool | None = kwargs.pop("_from_model_config", None)
        self.transformers_version: str | None = kwargs.pop("transformers_version", None)
        kwargs.pop("_commit_hash", None)  # older files carry it; transformers drops it too
        # transformers ignores the unknown keys of a config derived from config.json
        self.extra_fields: dict[str, Any] = {} if self._from_model_config else kwargs
        self.source = type(self).__name__  # where the values come from, for messages
        self.validate()

    # -- values -------------------------------------------------------------------------------
    def validate(self) -> None:
        """Raise `GenerationError` for what transformers' `validate` refuses."""
        if self.early_stopping not in (None, True, False, "never"):
            raise GenerationError(
                f"early_stopping must be True, False or 'never', got {short_repr(self.early_stopping)}"
            )
        if (
            self.num_return_sequences is not None
            and _positive(self.num_return_sequences)
            and self.num_return_sequences > 1
        ):
            beams = self.num_beams if _positive(self.num_beams) else 1
            if beams == 1 and self.do_sample is not True:
                raise GenerationError(
                    f"num_return_sequences={self.num_return_sequences} needs sampling (do_sample=True) or beam search "
                    "(num_beams > 1): greedy decoding gives one sequence per prompt"
                )
            if beams > 1 and self.num_return_sequences > beams:
                raise GenerationError(
                    f"num_return_sequences ({self.num_return_sequences}) must be <= num_beams ({beams})"
                )

    def described(self, name: str) -> str:
        """`name` as a message names it: `LlamaConfig.eos_token_id`, `<file>: eos_token_id`."""
        return f"{self.source}: {name}" if self.source.endswith(".json") else f"{self.source}.{name}"

    def get(self, name: str) -> Any:
        """The value `generate` uses for field `name`: the set value, else transformers' default."""
        value = getattr(self, name)
        return DEFAULTS.get(name) if value is None else value

    def unsupported_options(self) -> list[str]:
        """`name=value` for each field set to a value `generate` does not implement."""
        problems = []
        for name in FIELDS:
            value = getattr(self, name)
            if name in _ONLY:
                if value not in _ONLY[name]:
                    problems.append(f"{name}={short_repr(value, 40)}")
            elif name not in SUPPORTED and value is not None and value != DEFAULTS.get(name):
                problems.append(f"{name}={short_repr(value, 40)}")
        return problems

    def set_fields(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """Set the fields `kwargs` names, unchecked; return the entries that are no field."""
        for name in FIELDS:
            if name in kwargs:
                setattr(self, name, kwargs[name])
        return {name: value for name, value in kwargs.items() if name not in FIELDS}

    def update(self, **kwargs: Any) -> dict[str, Any]:
        """Set the fields `kwargs` names, then `validate`; return the keyword arguments that are no field."""
        unused = self.set_fields(kwargs)
        self.validate()
        return unused

    def merged_over(self, defaults: GenerationConfig) -> GenerationConfig:
        """A copy of this config whose unset fields take `defaults`' values (transformers' order:
        the call's config, then the model's)."""
        merged = copy.deepcopy(self)
        for name in FIELDS:
            if getattr(merged, name) is None:
                setattr(merged, name, copy.deepcopy(getattr(defaults, name)))
        return merged

    # -- dict and JSON ------------------------------------------------------------------------
    @classmethod
    def for_checkpoint(
        cls, path_or_repo_id: str | os.PathLike, model_config: Any, **hub_kwargs: Any
    ) -> GenerationConfig:
        """What transformers' `from_pretrained` gives `model.generation_config`: the checkpoint's
        generation_config.json, else one derived from its config (`from_model_config`)."""
        from runtime.hub import read_json_file

        data = read_json_file(path_or_repo_id, GENERATION_CONFIG_NAME, error=GenerationError, **hub_kwargs)
        if data is None:
            return cls.from_model_config(model_config)
        return cls._from_file_dict(data, str(Path(str(path_or_repo_id), GENERATION_CONFIG_NAME)))

    def to_dict(self) -> dict[str, Any]:
        """Every field (None when unset), the custom entries and `transformers_version`."""
        out = {name: copy.deepcopy(getattr(self, name)) for name in FIELDS}
        out.update(copy.deepcopy(self.extra_fields))
        if self._from_model_config is not None:
            out["_from_model_config"] = self._from_model_config
        out["transformers_version"] = TRANSFORMERS_VERSION
        return out

    def to_diff_dict(self) -> dict[str, Any]:
        """What differs from `GenerationConfig()`: what transformers writes to the file."""
        default = GenerationConfig().to_dict()
        return {
            key: value
            for key, value in self.to_dict().items()
            if key not in default or key == "transformers_version" or value != default[key]
        }

    def to_json_string(self, use_diff: bool = True) -> str:
        data = self.to_diff_dict() if use_diff else self.to_dict()
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    def save_pretrained(self, save_directory: str | os.PathLike) -> None:
        """Write `generation_config.json` (only what differs from the defaults, as transformers does)."""
        directory = Path(save_directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / GENERATION_CONFIG_NAME).write_text(self.to_json_string(), encoding="utf-8")

    @classmethod
    def from_dict(cls, data: dict[str, Any], **overrides: Any) -> GenerationConfig:
        return cls(**{**data, **overrides})

    @classmethod
    def from_json_file(cls, json_file: str | os.PathLike) -> GenerationConfig:
        """The config in `json_file`; `GenerationError` naming the file (never quoting its bytes)
        when it is too large, not JSON or holds a value transformers refuses."""
        from runtime.hub import load_json_object

        data = load_json_object(Path(json_file), error=GenerationError)
        return cls._from_file_dict(data, str(json_file))

    @classmethod
    def _from_file_dict(cls, data: dict[str, Any], source: str) -> GenerationConfig:
        try:
            config = cls.from_dict(data)
        except GenerationError as error:
            raise GenerationError(f"{source}: {error}") from None
        config.source = source
        return config

    @classmethod
    def from_pretrained(cls, path_or_repo_id: str | os.PathLike, **hub_kwargs: Any) -> GenerationConfig:
        """`generation_config.json` of a directory or Hub repo (through runtime/hub.py's checks)."""
        from runtime.hub import resolve_file

        return cls.from_json_file(resolve_file(path_or_repo_id, GENERATION_CONFIG_NAME, **hub_kwargs))

    @classmethod
    def from_model_config(cls, model_config: Any) -> GenerationConfig:
        """transformers' `from_model_config`: the generation fields config.json sets (None values
        dropped), then, for fields still unset, the text (decoder) config's."""
        data = model_config if isinstance(model_config, dict) else model_config.to_dict()
        data = {key: value for key, value in data.items() if value is not None and key != "_from_model_config"}
        config = cls(**data, _from_model_config=True)
        text = next(
            (data[name] for name in ("decoder", "generator", "text_config") if isinstance(data.get(name), dict)), data
        )
        for name in FIELDS:
            if getattr(config, name) is None and text.get(name) is not None:
                setattr(config, name, copy.deepcopy(text[name]))
        extra_outputs = ("output_attentions", "output_hidden_states", "output_scores", "output_logits")
        if not config.return_dict_in_generate and any(getattr(config, name) for name in extra_outputs):
            config.return_dict_in_generate = True
        config.validate()
        if not isinstance(model_config, dict):
            config.source = type(model_config).__name__
        return config

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GenerationConfig) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"{type(self).__name__} {self.to_json_string()}"


def _positive(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0
