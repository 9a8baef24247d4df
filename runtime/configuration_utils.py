"""Typed model configurations that read and write Hugging Face `config.json` files.

A config class declares its fields as annotated class attributes with defaults, the way a
dataclass does, and derives dependent defaults in one place, `derive()`:

    class TinyConfig(PretrainedConfig):
        model_type = "tiny"
        hidden_size: int = 32
        head_dim: int | None = None

        def derive(self) -> None:
            if self.head_dim is None:
                self.head_dim = self.hidden_size // 4

Construction checks every value against its annotation, and every well-known size field against
generous bounds (runtime/config_limits.py), before `derive()` computes with them; any problem
raises `ConfigError` (a `ValueError`) quoting the field and a short form of the value, and, for a
config read from a file, naming the file. Keys a config.json carries that the class does not
declare are kept (in `extra_fields`) and written back, so a file written by `transformers`
round-trips.
"""

from __future__ import annotations

import copy
import json
import os
import types
import typing
from pathlib import Path
from typing import Any, ClassVar, Union

from runtime.config_limits import CONFIG_FAULTS, ConfigError, size_problems
from runtime.messages import short_repr

CONFIG_NAME = "config.json"


# Keys transformers writes that describe the file rather than the architecture.
_BOOKKEEPING_KEYS = ("transformers_version",)


def _type_name(annotation: Any) -> str:
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def _matches(value: Any, annotation: Any) -> bool:
    """Whether `value` fits `annotation` (int, float, str, bool, list[...], dict, unions, Any)."""
    if annotation is Any:
        return True
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        return any(_matches(value, arg) for arg in typing.get_args(annotation))
    if annotation is None or annotation is type(None):
        return value is None
    if origin is not None:
        if not isinstance(value, (list, tuple) if origin in (list, tuple) else origin):
            return False
        args = typing.get_args(annotation)
        if origin in (list, tuple) and args and args[-1] is not Ellipsis:
            return all(_matches(item, args[0]) for item in value)
        return True
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(annotation, type):
        return isinstance(value, annotation)
    return True


class _RemovedField(property):
    """Stands for a field a subclass removed with `name = AttributeError()`."""


def _removed_field(owner: str, name: str) -> property:
    def read(self: Any) -> Any:
        raise AttributeError(f"{owner} has no field {name!r}")

    return _RemovedField(read)


class PretrainedConfig:
    """Base of every model config: typed fields, one place for derived defaults, config.json I/O."""

    model_type: ClassVar[str] = ""
    # Fields holding a nested config (e.g. `text_config`), mapped to its config class, or to the
    # model_type to use when a config.json dict names none; `sub_config_defaults` holds the
    # keyword arguments of a sub-config left out (None).
    sub_configs: ClassVar[dict[str, str | type[PretrainedConfig]]] = {}
    sub_config_defaults: ClassVar[dict[str, dict[str, Any]]] = {}

    # Fields every model shares; subclasses redeclare them to change the default.
    architectures: list[str] | None = None
    dtype: str | None = None
    pad_token_id: int | None = None
    bos_token_id: int | None = None
    eos_token_id: int | list[int] | None = None
    tie_word_embeddings: bool = True
    use_cache: bool = True
    output_attentions: bool = False
    output_hidden_states: bool = False
    num_labels: int = 2
    id2label: dict | None = None
    label2id: dict | None = None
    problem_type: str | None = None

    _fields: ClassVar[dict[str, Any]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Collect the annotated fields of the class and its bases, in definition order.

        `name = AttributeError()` in a subclass removes an inherited field (the modular
        convention): it leaves the fields, and reading it raises AttributeError.
        """
        super().__init_subclass__(**kwargs)
        fields: dict[str, Any] = {}
        for klass in reversed(cls.__mro__):
            hints = typing.get_type_hints(klass) if klass is not object else {}
            for name in getattr(klass, "__annotations__", {}):
                if name.startswith("_") or typing.get_origin(hints.get(name)) is ClassVar:
                    continue
                fields[name] = hints[name]
            for name, value in vars(klass).items():
                if isinstance(value, (AttributeError, _RemovedField)):
                    fields.pop(name, None)
        for name, value in list(vars(cls).items()):
            if isinstance(value, AttributeError):
                setattr(cls, name, _removed_field(cls.__name__, name))
        cls._fields = fields

    def __init__(self, /, **kwargs: Any) -> None:  # positional-only: a config.json key "self" is just a key
        kwargs.pop("model_type", None)
        for key in _BOOKKEEPING_KEYS:
            kwargs.pop(key, None)
        if "torch_dtype" in kwargs and "dtype" not in kwargs:
            kwargs["dtype"] = kwargs.pop("torch_dtype")
        # None until a model picks its default backend (see PreTrainedModel.__init__)
        self._attn_implementation: str | None = kwargs.pop("attn_implementation", None)
        for name in self.sub_configs:
            kwargs[name] = self.build_sub_config(name, kwargs.get(name))
        for name in self._fields:
            default = copy.deepcopy(getattr(type(self), name, None))
            setattr(self, name, kwargs.pop(name, default))
        self.extra_fields: dict[str, Any] = dict(kwargs)
        self.check_types()  # before derive(), which computes with the values
        self.check_sizes()
        if self._attn_implementation is not None:
            self.set_attn_implementation(self._attn_implementation)
        self._set_labels()
        self._derive_and_validate()

    def _derive_and_validate(self) -> None:
        """derive(), then check the result. derive() and validate() are model code computing with
        values from a file: whatever they trip on is a bad config, and is reported as one."""
        try:
            self.derive()
            self.check_types()
            self.check_sizes()
            self.validate()
        except ConfigError:
            raise
        except CONFIG_FAULTS as error:
            raise ConfigError(f"{type(self).__name__}: {str(error)[:300]}") from error

    def _set_labels(self) -> None:
        """id2label from num_labels, or num_labels from id2label (keys are label indices)."""
        if self.num_labels and self.id2label is None:
            self.id2label = {i: f"LABEL_{i}" for i in range(self.num_labels)}
        if self.id2label is not None:
            try:
                self.id2label = {int(k): v for k, v in self.id2label.items()}
            except ValueError:
                raise ConfigError(f"{type(self).__name__}: id2label keys must be label indices (integers)") from None
            self.num_labels = len(self.id2label)
            try:
                self.label2id = self.label2id or {v: k for k, v in self.id2label.items()}
            except TypeError:  # a label that is a list or a dict cannot be a key
                raise ConfigError(f"{type(self).__name__}: id2label values must be label names") from None

    # -- hooks for subclasses -------------------------------------------------------------
    def derive(self) -> None:
        """Fill defaults that depend on other fields. The one place such defaults live."""

    def validate(self) -> None:
        """Check relations between fields; raise `ValueError` naming the fields and values."""

    def set_attn_implementation(self, name: str | None) -> None:
        """Choose the attention backend here and in every sub-config (vision, text, ...).

        Left unset (None), each model picks its own default when it is built.
        """
        self._attn_implementation = name
        for field in self.sub_configs:
            sub = getattr(self, field, None)
            if isinstance(sub, PretrainedConfig):
                sub.set_attn_implementation(name)

    # -- typing ---------------------------------------------------------------------------
    def check_types(self) -> None:
        """Raise `ConfigError` for every field whose value does not match its annotation."""
        wrong = [
            f"{name}={short_repr(getattr(self, name))} (expected {_type_name(annotation)})"
            for name, annotation in self._fields.items()
            if not _matches(getattr(self, name), annotation)
        ]
        if wrong:
            raise ConfigError(f"{type(self).__name__}: wrong type for " + ", ".join(wrong[:10]))

    def check_sizes(self, *, recursive: bool = False) -> None:
        """Raise `ConfigError` for size fields out of range (see runtime/config_limits.py)."""
        problems = size_problems(self, recursive=recursive)
        if problems:
            raise ConfigError(f"{type(self).__name__}: " + "; ".join(problems[:10]))

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup fails: expose extra config.json keys as attributes.
        extra = self.__dict__.get("extra_fields")
        if extra is not None and name in extra:
            return extra[name]
        raise AttributeError(f"{type(self).__name__} has no field {name!r}")

    # -- dict and JSON ----------------------------------------------------------------------
    @classmethod
    def build_sub_config(cls, name: str, value: PretrainedConfig | dict[str, Any] | None) -> Any:
        """The nested config `name` from a config.json dict, or from its defaults when None.

        A dict's `model_type` picks the class when the field names a model_type (any text model,
        say), and is ignored when the field names a config class. Anything else is returned
        unchanged for the type check to judge.
        """
        if value is not None and not isinstance(value, dict):
            return value
        data = dict(value) if value is not None else dict(cls.sub_config_defaults.get(name, {}))
        spec = cls.sub_configs[name]
        model_type = data.pop("model_type", None)
        if model_type is not None and not isinstance(model_type, str):
            raise ConfigError(f"{cls.__name__}: {name}.model_type must be a string, got {type(model_type).__name__}")
        from runtime.auto import AutoConfig

        try:
            return spec(**data) if isinstance(spec, type) else AutoConfig.for_model(model_type or spec, **data)
        except ValueError as error:  # say which sub-config: a text_config and a vision_config share field names
            raise ConfigError(f"{cls.__name__}.{name}: {error}") from error

    @classmethod
    def from_dict(cls, data: dict[str, Any], **overrides: Any) -> PretrainedConfig:
        return cls(**{**data, **overrides})

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in self._fields:
            value = getattr(self, name)
            out[name] = value.to_dict() if isinstance(value, PretrainedConfig) else copy.deepcopy(value)
        out.update(copy.deepcopy(self.extra_fields))
        out["model_type"] = self.model_type
        if out.get("id2label") is not None:
            out["id2label"] = {str(k): v for k, v in out["id2label"].items()}
        return dict(sorted(out.items()))

    def to_json_string(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    def save_pretrained(self, save_directory: str | os.PathLike) -> None:
        path = Path(save_directory)
        path.mkdir(parents=True, exist_ok=True)
        (path / CONFIG_NAME).write_text(self.to_json_string(), encoding="utf-8")

    @classmethod
    def from_json_file(cls, json_file: str | os.PathLike) -> PretrainedConfig:
        """The config stored in `json_file`; `ConfigError` naming the file for any problem in it."""
        from runtime.hub import load_json_object

        data = load_json_object(Path(json_file), error=ConfigError)
        file_type = data.get("model_type")
        if file_type is not None and not isinstance(file_type, str):
            raise ConfigError(f"{json_file}: model_type must be a string, got {type(file_type).__name__}")
        if cls.model_type and file_type and file_type != cls.model_type:
            raise ConfigError(
                f"{json_file}: model_type={short_repr(file_type)} but {cls.__name__} expects {cls.model_type!r}"
            )
        try:
            config = cls.from_dict(data)
        except RecursionError:  # sub-configs nested in sub-configs, without end
            raise ConfigError(f"{json_file}: sub-configs nested too deeply") from None
        except ValueError as error:
            raise ConfigError(f"{json_file}: {error}") from error
        config._source_file = str(json_file)
        return config

    @classmethod
    def from_pretrained(cls, path_or_repo_id: str | os.PathLike, **hub_kwargs: Any) -> PretrainedConfig:
        from runtime.hub import resolve_file

        return cls.from_json_file(resolve_file(path_or_repo_id, CONFIG_NAME, **hub_kwargs))

    def describe_source(self) -> str:
        """The config.json this config was read from, or the class name: the start of a message."""
        return self.__dict__.get("_source_file") or type(self).__name__

    def get_text_config(self) -> PretrainedConfig:
        return getattr(self, "text_config", None) or self

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PretrainedConfig) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"{type(self).__name__} {self.to_json_string()}"
