"""Config fields as runtime/configuration_utils.py defines them: a removed field (`x = AttributeError()`)
makes the class behave exactly like one that never declared it (the class the converter
generates), `attribute_map` aliases read, write and load as transformers' do, and a subclass gives
any inherited field a default of its own.
Run: python -m pytest tests/runtime/test_config_fields.py -q
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from runtime.configuration_utils import ConfigError, PretrainedConfig


class BaseConfig(PretrainedConfig):
    model_type = "fields"
    hidden_size: int = 32
    mlp_bias: bool = False
    num_local_experts: int = 4
    layer_sizes: list[int] = [1, 2]

    def derive(self) -> None:
        self.double = 2 * self.hidden_size


class RemovedConfig(BaseConfig):
    """What a modular file writes: the inherited field removed."""

    mlp_bias = AttributeError()


class NeverDeclaredConfig(PretrainedConfig):
    """What the converter generates for RemovedConfig: the same class without the field."""

    model_type = "fields"
    hidden_size: int = 32
    num_local_experts: int = 4
    layer_sizes: list[int] = [1, 2]

    def derive(self) -> None:
        self.double = 2 * self.hidden_size


class AliasConfig(BaseConfig):
    attribute_map = {"num_experts": "num_local_experts"}


def outcome(action: Callable[[], Any]) -> tuple[str, Any]:
    """What `action` gives, or the type and message of what it raises."""
    try:
        return "value", action()
    except Exception as error:  # noqa: BLE001 - the outcome is the exception itself
        return type(error).__name__, str(error).replace("NeverDeclaredConfig", "RemovedConfig")


def assigned(config: PretrainedConfig) -> tuple[Any, dict[str, Any]]:
    config.mlp_bias = True
    return config.mlp_bias, config.to_dict()


REMOVED_FIELD_USES: dict[str, Callable[[type[PretrainedConfig]], Any]] = {
    "fields": lambda cls: list(cls._fields),
    "to_dict": lambda cls: cls().to_dict(),
    "read": lambda cls: cls().mlp_bias,
    "read on the class": lambda cls: cls.mlp_bias,
    "hasattr": lambda cls: hasattr(cls(), "mlp_bias"),
    "keyword kept as an extra": lambda cls: (cls(mlp_bias=True).extra_fields, cls(mlp_bias=True).to_dict()),
    "read of the extra": lambda cls: cls(mlp_bias=True).mlp_bias,
    "assignment": lambda cls: assigned(cls()),
}


@pytest.mark.parametrize("use", list(REMOVED_FIELD_USES))
def test_a_removed_field_behaves_as_a_field_never_declared(use: str) -> None:
    expected = outcome(lambda: REMOVED_FIELD_USES[use](NeverDeclaredConfig))
    assert outcome(lambda: REMOVED_FIELD_USES[use](RemovedConfig)) == expected


def test_reading_a_removed_field_names_the_class_and_the_field() -> None:
    with pytest.raises(AttributeError, match=r"^RemovedConfig has no field 'mlp_bias'$"):
        RemovedConfig().mlp_bias  # noqa: B018 - the read is what is tested


def test_a_removed_field_round_trips_through_config_json_as_an_unknown_key(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "fields", "mlp_bias": True}))
    config = RemovedConfig.from_pretrained(tmp_path)
    config.save_pretrained(tmp_path / "again")
    assert json.loads((tmp_path / "again" / "config.json").read_text())["mlp_bias"] is True
    assert "mlp_bias" not in RemovedConfig._fields


def test_a_subclass_may_declare_a_removed_field_again() -> None:
    class Again(RemovedConfig):
        mlp_bias: bool = True

    assert Again().mlp_bias is True and Again().to_dict()["mlp_bias"] is True


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("use_cache", "removes 'use_cache', which every config has"),
        ("model_type", "removes 'model_type', which every config has"),
        ("no_such_field", "removes 'no_such_field', which no base class of it declares"),
    ],
)
def test_removing_a_runtime_field_or_a_field_no_base_has_is_refused(name: str, needle: str) -> None:
    with pytest.raises(TypeError, match=needle):
        type("Bad", (BaseConfig,), {name: AttributeError()})


def test_an_alias_reads_and_writes_its_field() -> None:
    config = AliasConfig()
    assert config.num_experts == 4
    config.num_experts = 8
    assert config.num_local_experts == 8 and "num_experts" not in vars(config)


def test_init_takes_the_alias_and_config_json_holds_only_the_field(tmp_path: Path) -> None:
    config = AliasConfig(num_experts=6)
    config.save_pretrained(tmp_path)
    data = json.loads((tmp_path / "config.json").read_text())
    assert data["num_local_experts"] == 6 and "num_experts" not in data and not config.extra_fields


def test_a_config_json_may_use_the_alias(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "fields", "num_experts": 2}))
    assert AliasConfig.from_pretrained(tmp_path).num_local_experts == 2


def test_giving_the_alias_and_the_field_is_an_error() -> None:
    with pytest.raises(ConfigError, match="num_experts is another name for num_local_experts"):
        AliasConfig(num_experts=2, num_local_experts=3)


def test_an_override_by_alias_replaces_the_fields_value_from_the_file() -> None:
    assert AliasConfig.from_dict({"num_local_experts": 2}, num_experts=5).num_local_experts == 5


@pytest.mark.parametrize(
    ("mapping", "needle"),
    [
        ({"experts": "nope"}, "'nope' is not a field of Bad"),
        ({"hidden_size": "num_local_experts"}, "'hidden_size' is a field itself"),
        ({"derive": "hidden_size"}, "Bad has an attribute 'derive'"),
    ],
)
def test_an_alias_that_cannot_work_is_refused_when_the_class_is_defined(mapping: dict, needle: str) -> None:
    with pytest.raises(TypeError, match=needle):
        type("Bad", (BaseConfig,), {"attribute_map": mapping})


@pytest.mark.parametrize(
    "body",
    [{"hidden_size": 48}, {"__annotations__": {"hidden_size": int}, "hidden_size": 48}],
    ids=["value only", "annotated"],
)
def test_a_subclass_gives_an_inherited_field_a_default_of_its_own(body: dict) -> None:
    sub = type("Sub", (BaseConfig,), dict(body))
    assert sub().hidden_size == 48 and sub().double == 96 and sub().to_dict()["hidden_size"] == 48
    assert BaseConfig().hidden_size == 32
    assert sub.from_dict({"model_type": "fields"}).hidden_size == 48


def test_a_new_default_is_typed_like_the_field() -> None:
    with pytest.raises(ConfigError, match=r"wrong type for hidden_size='wide' \(expected int\)"):
        type("Sub", (BaseConfig,), {"hidden_size": "wide"})()


def test_a_mutable_default_is_copied_for_each_instance() -> None:
    sub = type("Sub", (BaseConfig,), {"layer_sizes": [3, 4]})
    first = sub()
    first.layer_sizes.append(5)
    assert sub().layer_sizes == [3, 4]
