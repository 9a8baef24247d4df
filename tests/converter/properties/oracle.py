"""The two sides a property compares: the generated module, and the overlay built without the converter.

`convert` writes the Toy base and a modular source into a temporary repository and returns the
generated modeling file (or raises ConversionError); `generated_namespace` executes it.

The overlay is the reference semantics of DESIGN.md, as tests/equivalence/overlay.py builds it
for real models: the base source renamed as text (whole words: Toy -> Zed, toy -> zed,
TOY -> ZED), executed into a fresh namespace, then the modular source without its
`from generated...` imports executed into the same namespace, each imported base name bound
first to the renamed object it shadows (`ToyThing = ZedThing`). One step goes beyond plain
execution: Python binds class bases when a class statement runs, so the base's
`class ZedModel(ZedThing)` would keep the base ZedThing after the modular file redefines it;
DESIGN rule 6 (the modular definition wins everywhere, inside inherited code too) and the
converter give it the modular ZedThing, so `rebind_class_bases` does too. Definition-time reads
of a value the modular file redefines by assignment (a class attribute, a default argument) are
refused by the converter (E210, E211) instead.

Removal the modular way (`x = AttributeError()`, a method that only raises AttributeError) means
"this class has no `x`"; the overlay, being plain Python, would keep a class attribute holding
an exception, or a method that raises, instead. `overlay_namespace` gives such overlay members a
`Removed` descriptor that fails exactly like a missing attribute, so both sides can be compared on
presence (hasattr) and on every use.

A `Script` is drawn once and run on both sides; each step records what it observed (a value
reduced to plain data by `snapshot`, or an exception's type and message).
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from converter import convert_files
from tests.converter.properties.toy_base import BASE_SOURCE
from tests.equivalence.overlay import split_modular

RENAMES = (("Toy", "Zed"), ("toy", "zed"), ("TOY", "ZED"))
BASE_MODULE = "toy"
MODEL = "zed"
MODULAR = f"modular/modular_{MODEL}.py"
GENERATED = f"generated/{MODEL}/modeling_{MODEL}.py"
Arguments = tuple[tuple[object, ...], dict[str, object]]


def convert(modular_source: str) -> str:
    """The generated modeling file for `modular_source` over the Toy base; raises ConversionError."""
    with tempfile.TemporaryDirectory(prefix="converter-properties-") as directory:
        repo = Path(directory)
        files = {
            "generated/__init__.py": "",
            f"generated/{BASE_MODULE}/__init__.py": "",
            f"generated/{BASE_MODULE}/modeling_{BASE_MODULE}.py": BASE_SOURCE,
            MODULAR: modular_source,
        }
        for path, text in files.items():
            (repo / path).parent.mkdir(parents=True, exist_ok=True)
            (repo / path).write_text(text, encoding="utf-8")
        return convert_files([repo / MODULAR], repo)[repo / GENERATED]


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


def overlay_namespace(modular_source: str, removed: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """The overlay of a modular program over the Toy base (see the module docstring)."""
    namespace: dict[str, Any] = {"__name__": f"overlay_{MODEL}"}
    exec(compile(rename(BASE_SOURCE), f"<overlay: renamed {BASE_MODULE}>", "exec"), namespace)
    base_classes = {name: value for name, value in namespace.items() if isinstance(value, type)}
    imports, body = split_modular(modular_source)
    for item in imports:
        assert item.model == BASE_MODULE, item
        for name, alias in item.names:
            namespace[alias] = namespace[rename(name)]
    exec(compile(body, f"<overlay: modular_{MODEL}>", "exec"), namespace)
    rebind_class_bases(namespace, base_classes)
    for class_name, names in removed.items():
        for name in names:
            setattr(namespace[class_name], name, Removed(name))
    return namespace


def rebind_class_bases(namespace: Mapping[str, Any], base_classes: Mapping[str, type]) -> None:
    """DESIGN rule 6 for class statements, which Python evaluates once: a modular class
    (`class ZedThing(ToyThing)`) replaces the base class of its name as a base of the base's
    classes too (`class ZedModel(ZedThing)`), as in the generated file (and in every real model:
    `GemmaModel` inherits the modular `GemmaPreTrainedModel`)."""

    def replacement(base: type) -> type:
        new = namespace.get(base.__name__)
        redefined = isinstance(new, type) and new is not base and base_classes.get(base.__name__) is base
        return new if redefined else base

    for cls in base_classes.values():
        bases = tuple(replacement(base) for base in cls.__bases__)
        if bases != cls.__bases__:
            cls.__bases__ = bases


def generated_namespace(text: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": f"generated_{MODEL}"}
    exec(compile(text, GENERATED, "exec"), namespace)
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
    """("returned", value as plain data) or ("raised", exception type, message)."""
    try:
        return ("returned", snapshot(action()))
    except Exception as error:  # noqa: BLE001 - the exception is the observation
        return ("raised", type(error).__name__, str(error))


def construct(cls: type, arguments: Arguments) -> tuple[object | None, tuple[object, ...]]:
    """(the instance or None, the outcome: its attributes, or the exception)."""
    args, kwargs = arguments
    made: list[object] = []

    def make() -> dict[str, Any]:
        made.append(cls(*args, **kwargs))
        return vars(made[0])

    seen = outcome(make)
    return (made[0] if made else None), seen


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
        seen: list[tuple[object, ...]] = [("class attributes", class_attributes(cls))]
        seen += [("removed from class", name, hasattr(cls, name)) for name in self.removed]
        if self.docstring is not None:
            seen.append(("docstring", cls.__doc__))
        instance, constructed = construct(cls, self.init)
        seen.append(("construct", constructed))
        if instance is None:
            return seen
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


def behaviour(namespace: Mapping[str, Any], scripts: Sequence[Script]) -> list[tuple[object, ...]]:
    return [(script.class_name, *step) for script in scripts for step in script.run(namespace)]


def assert_behaves_like_overlay(modular_source: str, generated_text: str, scripts: Sequence[Script]) -> None:
    """Both sides observe the same; the message shows the first differing observations."""
    removed = {script.class_name: script.removed for script in scripts}
    expected = behaviour(overlay_namespace(modular_source, removed), scripts)
    actual = behaviour(generated_namespace(generated_text), scripts)
    differences = [
        f"  generated: {mine}\n  overlay:   {theirs}"
        for mine, theirs in zip(actual, expected, strict=False)
        if mine != theirs
    ]
    if len(actual) != len(expected):
        differences.append(f"  {len(actual)} observations of the generated module, {len(expected)} of the overlay")
    assert actual == expected, "the generated module differs from the overlay:\n" + "\n".join(differences[:4])
