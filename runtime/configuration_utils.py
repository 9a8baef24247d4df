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

Per-class defaults: a subclass changes an inherited field's default by declaring it again, with or
without the annotation (`hidden_size = 64`, `rms_norm_eps: float = 1e-5`); a new annotated name is
a new field. The default is the value the class's MRO gives, copied for each instance.

Aliases: `attribute_map = {"num_experts": "num_local_experts"}`, as in transformers, makes the
alias another name for the field: reading and writing `config.num_experts` read and write
`num_local_experts`, `__init__` and config.json accept either name (both at once is an error),
and `to_dict()`/config.json hold only the field's name. An alias must name a declared field and
must not itself be a field or attribute (`TypeError` when the class is defined).

Removed fields: `mlp_bias = AttributeError()` in a class body (the modular convention) removes an
inherited field. The class then behaves exactly like one that never declared it, which is the
class the converter generates (it drops the declaration), so the overlay oracle and the generated
model agree:
- the field is not in `_fields`, `to_dict()` or config.json;
- a `mlp_bias=` keyword or config.json key is an undeclared key like any other: kept in
  `extra_fields` and written back (not rejected: a generated class cannot tell a removed field
  from any unknown key);
- reading `config.mlp_bias` raises `AttributeError("<Class> has no field 'mlp_bias'")`, unless
  `extra_fields` holds that key. Inherited code that still reads the field therefore fails when
  it runs, identically in the generated model and in the overlay: a modular file that removes a
  field must also override the code that reads it (without a `super()` call that runs it);
- assigning `config.mlp_bias = ...` sets a plain attribute, which is no field and is not saved;
- a subclass may declare the field again. Only what a base class declares can be removed, and
  not what `PretrainedConfig` itself declares (runtime code reads it, and the generated class
  would still inherit it): `TypeError` when the class is defined, as the converter's E202/E212.
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


class _RemovedField:
    """What `name = AttributeError()` in a config class body becomes: the name is no attribute.

    A non-data descriptor whose every read raises AttributeError. On an instance, Python then looks
    in the instance's `__dict__` first (a plain attribute assigned later) and falls back to
    `PretrainedConfig.__getattr__` (an extra config.json key, else the same error a generated
    class without the field gives), so the instance behaves as if no class declared `name`.
    """

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        if instance is None:
            raise AttributeError(f"type object {getattr(owner, '__name__', '?')!r} has no attribute {self.name!r}")
        raise AttributeError(f"{type(instance).__name__} has no field {self.name!r}")


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

    # alias -> field name, as transformers' (see the module docstring)
    attribute_map: ClassVar[dict[str, str]] = {}

    _fields: ClassVar[dict[str, Any]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Collect the annotated fields of the class and its bases, in definition order.

        `name = AttributeError()` in a subclass removes an inherited field (the modular
        convention; see the module docstring). Raises TypeError for a removal of a field every
        config has, and for an `attribute_map` that does not map to fields.
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
                cls._check_removal(name)
                setattr(cls, name, _RemovedField(name))
        cls._fields = fields
        cls._check_attribute_map()

    @classmethod
    def _check_removal(cls, name: str) -> None:
        """TypeError unless `name = AttributeError()` removes something a model base declares (the
        converter's E202), and nothing the runtime declares: the generated class, whose base is
        PretrainedConfig, would still have it, and runtime code reads it."""
        if name in vars(PretrainedConfig) or name in PretrainedConfig.__annotations__:
            raise TypeError(
                f"{cls.__name__} removes {name!r}, which every config has (PretrainedConfig declares it "
                f"and the runtime reads it): give it another default instead"
            )
        if not any(name in vars(k) or name in vars(k).get("__annotations__", {}) for k in cls.__mro__[1:]):
            raise TypeError(f"{cls.__name__} removes {name!r}, which no base class of it declares")

    @classmethod
    def _check_attribute_map(cls) -> None:
        """TypeError unless every alias maps to a declared field and is itself no field or attribute."""
        for alias, name in cls.attribute_map.items():
            problem = None
            if name not in cls._fields:
                problem = f"{name!r} is not a field of {cls.__name__}"
            elif alias in cls._fields:
                problem = f"{alias!r} is a field itself"
            elif any(alias in vars(k) and not isinstance(vars(k)[alias], _RemovedField) for k in cls.__mro__):
                problem = f"{cls.__name__} has an attribute {alias!r}"
            if problem:
                raise TypeError(f"{cls.__name__}.attribute_map maps {alias!r} to {name!r}, but {problem}")

    def __init__(self, /, **kwargs: Any) -> None:  # positional-only: a config.json key "self" is just a key
        kwargs.pop("model_type", None)
        for key in _BOOKKEEPING_KEYS:
            kwargs.pop(key, None)
        if "torch_dtype" in kwargs and "dtype" not in kwargs:
            kwargs["dtype"] = kwargs.pop("torch_dtype")
        self._resolve_aliases(kwargs)
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

    def _resolve_aliases(self, kwargs: dict[str, Any]) -> None:
        """Rename alias keywords (`attribute_map`) to their fields, in place; ConfigError for both."""
        for alias, name in self.attribute_map.items():
            if alias not in kwargs:
                continue
            if name in kwargs:
                raise ConfigError(
                    f"{type(self).__name__}: {alias} is another name for {name}; give one of them, not both"
                )
            kwargs[name] = kwargs.pop(alias)

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
        # Only reached when normal lookup fails (a removed field's too): an alias reads its field,
        # an extra config.json key reads as an attribute.
        alias_of = type(self).attribute_map.get(name)
        if alias_of is not None:
            return getattr(self, alias_of)
        extra = self.__dict__.get("extra_fields")
        if extra is not None and name in extra:
            return extra[name]
        raise AttributeError(f"{type(self).__name__} has no field {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        # an alias writes its field, so the alias is never stored under its own name
        super().__setattr__(type(self).attribute_map.get(name, name), value)

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
        """`cls(**data)` with `overrides` winning; an override by alias replaces the field's value."""
        overrides = {cls.attribute_map.get(key, key): value for key, value in overrides.items()}
        data = {key: value for key, value in data.items() if cls.attribute_map.get(key, key) not in overrides}
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
