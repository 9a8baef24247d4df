"""The two sides a property compares: the generated module, and the overlay built without the converter.

The overlay is the reference semantics of DESIGN.md, as tests/equivalence/overlay.py builds it
for real models: the base source renamed as text (whole words: Toy -> Zed, toy -> zed,
TOY -> ZED), executed into a fresh namespace, then the modular source without its
`from generated...` imports executed into the same namespace, each imported base name bound
first to the renamed object it shadows (`ToyThing = ZedThing`).

Removal the modular way (`x = AttributeError()`, a method that only raises AttributeError) means
"this class has no `x`"; the overlay, being plain Python, would keep a class attribute holding
an exception instead. `remove_members` gives the overlay class a descriptor that fails exactly
like a missing attribute, so both sides can be compared on presence (hasattr) and on every use.

A `Script` is drawn once and run on both sides; each step records what it observed (a value
reduced to plain data by `snapshot`, or an exception's type and message).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tests.equivalence.overlay import split_modular

RENAMES = (("Toy", "Zed"), ("toy", "zed"), ("TOY", "ZED"))
BASE_MODULE = "toy"
MODEL = "zed"


def rename(source: str) -> str:
    """The rule of tests/equivalence/overlay.py `rename`, with the CamelCase forms given."""
    for before, after in RENAMES:
        source = re.sub(rf"(?<![A-Za-z0-9]){re.escape(before)}(?![a-z])", after, source)
    return source


class Removed:
    """A class member removed the modular way: every access fails as if it were never defined."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, instance: object, owner: type) -> Any:
        if instance is None:
            raise AttributeError(f"type object {owner.__name__!r} has no attribute {self.name!r}")
        raise AttributeError(f"{type(instance).__name__!r} object has no attribute {self.name!r}")


def overlay_namespace(base_source: str, modular_source: str, removed: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """The overlay of a modular program over one base module (see the module docstring)."""
    namespace: dict[str, Any] = {"__name__": f"overlay_{MODEL}"}
    exec(compile(rename(base_source), f"<overlay: renamed {BASE_MODULE}>", "exec"), namespace)
    imports, body = split_modular(modular_source)
    for item in imports:
        assert item.model == BASE_MODULE, item
        for name, alias in item.names:
            namespace[alias] = namespace[rename(name)]
    exec(compile(body, f"<overlay: modular_{MODEL}>", "exec"), namespace)
    for class_name, names in removed.items():
        for name in names:
            setattr(namespace[class_name], name, Removed(name))
    return namespace


def generated_namespace(text: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": f"generated_{MODEL}"}
    exec(compile(text, f"generated/{MODEL}/modeling_{MODEL}.py", "exec"), namespace)
    return namespace


def snapshot(value: object) -> object:
    """Plain, comparable data: containers element-wise, objects as (class name, attributes)."""
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(snapshot(item) for item in value))
    if isinstance(value, dict):
        return ("dict", tuple((key, snapshot(item)) for key, item in sorted(value.items())))
    if callable(value):
        return ("callable",)
    if hasattr(value, "__dict__"):
        return (type(value).__name__, snapshot(vars(value)))
    return value


def outcome(action: Callable[[], object]) -> tuple[object, ...]:
    try:
        return ("returned", snapshot(action()))
    except Exception as error:  # noqa: BLE001 - the exception is the observation
        return ("raised", type(error).__name__, str(error))


Arguments = tuple[tuple[object, ...], dict[str, object]]


@dataclass(frozen=True)
class Script:
    """What to do with one class: construct it, call methods, probe removed members."""

    class_name: str
    init: Arguments
    calls: tuple[tuple[str, Arguments], ...]
    removed: tuple[str, ...]
    docstring: str | None

    def run(self, namespace: Mapping[str, Any]) -> list[tuple[object, ...]]:
        cls = namespace[self.class_name]
        args, kwargs = self.init
        seen: list[tuple[object, ...]] = [("class attributes", class_attributes(cls))]
        seen += [("removed from class", name, hasattr(cls, name)) for name in self.removed]
        if self.docstring is not None:
            seen.append(("docstring", cls.__doc__))
        made: list[object] = []
        seen.append(("construct", outcome(lambda: made.append(cls(*args, **kwargs)) or vars(made[-1]))))
        if not made:
            return seen
        instance = made[0]
        for method, (args, kwargs) in self.calls:
            seen.append(("call", method, outcome(lambda m=method, a=args, k=kwargs: getattr(instance, m)(*a, **k))))
        seen.append(("attributes after the calls", snapshot(vars(instance))))
        seen += [("removed from instance", name, hasattr(instance, name)) for name in self.removed]
        return seen


def class_attributes(cls: type) -> dict[str, object]:
    """The public members a class resolves, with their values (methods reduced to "callable")."""
    found = {}
    for name in sorted(dir(cls)):
        if not name.startswith("_") and (seen := outcome(lambda n=name: getattr(cls, n)))[0] == "returned":
            found[name] = seen[1]
    return found
