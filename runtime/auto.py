"""Find config and model classes by `model_type`, so composite models reach their sub-models.

Generated packages join the registry by convention: model_type `llama` lives in the package
`generated.llama`, whose `__all__` lists `LlamaConfig`, `LlamaModel`, `LlamaForCausalLM`, ...
Packages elsewhere (tests, plug-ins) call `register_package(model_type, "dotted.package")`.

    config = AutoConfig.for_model("mistral", hidden_size=32)
    model = AutoModelForCausalLM.from_pretrained("path/to/checkpoint")
"""

from __future__ import annotations

import importlib
import os
import re
from types import ModuleType
from typing import Any

from runtime.configuration_utils import CONFIG_NAME, ConfigError, PretrainedConfig
from runtime.hub import load_json_object, resolve_file
from runtime.messages import short_repr

_PACKAGES: dict[str, str] = {
    # sub-model types that live in their family's package (one package, several model types)
    "clip_vision_model": "generated.clip",
    "clip_text_model": "generated.clip",
    "siglip_vision_model": "generated.siglip",
}


def register_package(model_type: str, package: str) -> None:
    """Make `model_type` resolve to the classes exported by `package`."""
    _PACKAGES[model_type] = package


def _package(model_type: object) -> ModuleType:
    """The package registered for `model_type`; `ConfigError` for anything not a known model type.

    A model_type comes from config.json: only a plain name ('llama', 'siglip_vision_model') may
    pick a package, so a file can never make the registry import a module of its choosing.
    """
    if not isinstance(model_type, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}", model_type):
        raise ConfigError(f"unknown model_type {short_repr(model_type)}: not a model type name")
    name = _PACKAGES.get(model_type, f"generated.{model_type.replace('-', '_')}")
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name is not None and name.startswith(error.name):
            raise ConfigError(f"unknown model_type {model_type!r}: no package {name!r}") from error
        raise


def _declared_model_type(obj: type) -> str | None:
    """A config class's `model_type`, or a model class's config_class's."""
    config_class = obj if issubclass(obj, PretrainedConfig) else getattr(obj, "config_class", None)
    return getattr(config_class, "model_type", None)


def _exported(model_type: str, suffix: str, base: type) -> type:
    """The first exported `*suffix` class whose config declares `model_type` (a package holding
    several model types, generated.clip: clip, clip_vision_model, clip_text_model), else the first
    `*suffix` class."""
    module = _package(model_type)
    found = []
    for name in getattr(module, "__all__", []):
        obj = getattr(module, name)
        if name.endswith(suffix) and isinstance(obj, type) and issubclass(obj, base):
            if suffix == "Model" and name.endswith("PreTrainedModel"):
                continue
            found.append(obj)
    for obj in found:
        if _declared_model_type(obj) == model_type:
            return obj
    if found:
        return found[0]
    raise ConfigError(f"model_type {model_type!r} ({module.__name__}) exports no *{suffix} class")


class AutoConfig:
    @staticmethod
    def config_class(model_type: str) -> type[PretrainedConfig]:
        return _exported(model_type, "Config", PretrainedConfig)

    @classmethod
    def for_model(cls, model_type: str, /, **kwargs: Any) -> PretrainedConfig:
        return cls.config_class(model_type)(**kwargs)

    @classmethod
    def from_pretrained(cls, path_or_repo_id: str | os.PathLike, **hub_kwargs: Any) -> PretrainedConfig:
        path = resolve_file(path_or_repo_id, CONFIG_NAME, **hub_kwargs)
        model_type = load_json_object(path, error=ConfigError).get("model_type")
        if not model_type:
            raise ConfigError(f"{path}: no 'model_type' key, cannot pick a config class")
        try:
            config_class = cls.config_class(model_type)
        except ConfigError as error:
            raise ConfigError(f"{path}: {error}") from error
        return config_class.from_json_file(path)


class _AutoModelBase:
    suffix = "Model"

    @classmethod
    def model_class(cls, model_type: str) -> type:
        from runtime.modeling_utils import PreTrainedModel

        return _exported(model_type, cls.suffix, PreTrainedModel)

    @classmethod
    def from_config(cls, config: PretrainedConfig, **kwargs: Any) -> Any:
        return cls.model_class(config.model_type).from_config(config, **kwargs)

    @classmethod
    def from_pretrained(cls, path_or_repo_id: str | os.PathLike, **kwargs: Any) -> Any:
        hub_keys = ("revision", "cache_dir", "local_files_only", "token")
        config = kwargs.pop("config", None) or AutoConfig.from_pretrained(
            path_or_repo_id, **{key: kwargs[key] for key in hub_keys if key in kwargs}
        )
        return cls.model_class(config.model_type).from_pretrained(path_or_repo_id, config=config, **kwargs)


class AutoModel(_AutoModelBase):
    suffix = "Model"


class AutoModelForCausalLM(_AutoModelBase):
    suffix = "ForCausalLM"


class AutoModelForImageTextToText(_AutoModelBase):
    """Vision-language models with a language-modelling head (Idefics2ForConditionalGeneration, ...)."""

    suffix = "ForConditionalGeneration"
