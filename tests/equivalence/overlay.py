"""The reference semantics of a modular file, built without the converter (the equivalence oracle).

DESIGN.md defines what a modular file means: take each base module's source, rename it
(Llama -> Mistral, llama -> mistral, LLAMA -> MISTRAL), execute it into one fresh namespace,
then execute the modular file's definitions into the same namespace with each imported base
name bound to the renamed object it shadows. Python looks globals up at call time, so inherited
methods reach the modular overrides.

A base that is itself modular is composed the same way from its own modular file, recursively,
so the oracle never reads a converter output. The renaming here is deliberately simple (whole
words in the source text) and independent of the converter's syntax-tree renaming.

    namespace = build_overlay("mistral")
    model = namespace["MistralForCausalLM"](namespace["MistralConfig"](hidden_size=32, ...))
"""

from __future__ import annotations

import ast
import re
import types
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MODULAR_DIR = REPO / "modular"
_BASE_IMPORT = re.compile(r"^generated\.(?P<model>\w+)\.(?P<kind>\w+)$")


@dataclass(frozen=True)
class BaseImport:
    model: str
    names: tuple[tuple[str, str], ...]  # (imported name, local alias)


def camel_prefix(model: str) -> str:
    """The CamelCase prefix of a model's classes: the spelling of the model name that starts a
    class name of its modular file (`Idefics2` from `Idefics2VisionConfig`), else its first config
    class's name without `Config`."""
    source = (MODULAR_DIR / f"modular_{model}.py").read_text()
    classes = [node.name for node in ast.parse(source).body if isinstance(node, ast.ClassDef)]
    for name in classes:
        if name.lower().startswith(model.lower()):
            return name[: len(model)]
    for name in classes:
        if name.endswith("Config"):
            return name[: -len("Config")]
    return model.capitalize()


def rename(source: str, old: str, new: str) -> str:
    """Rename model `old` to `new` in source text: CamelCase, lowercase and UPPER forms."""
    old_camel, new_camel = camel_prefix(old), camel_prefix(new)
    for before, after in ((old_camel, new_camel), (old, new), (old.upper(), new.upper())):
        source = re.sub(rf"(?<![A-Za-z0-9]){re.escape(before)}(?![a-z])", after, source)
    return source


def split_modular(source: str) -> tuple[list[BaseImport], str]:
    """The `from generated.<model>... import ...` statements, and the source without them."""
    tree = ast.parse(source)
    imports: list[BaseImport] = []
    lines = source.splitlines(keepends=True)
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and (match := _BASE_IMPORT.match(node.module)):
            names = tuple((alias.name, alias.asname or alias.name) for alias in node.names)
            imports.append(BaseImport(match["model"], names))
            for index in range(node.lineno - 1, node.end_lineno):
                lines[index] = "\n"
    return imports, "".join(lines)


def composed_source(model: str) -> str:
    """One executable source text for `model`: its renamed main base, then its own definitions.

    The main base is the model most names are imported from. Names imported from any other model
    come from that model's own overlay, renamed, executed in a namespace of its own (as a Python
    import would), so that model's other definitions do not replace the main base's.
    """
    imports, body = split_modular((MODULAR_DIR / f"modular_{model}.py").read_text())
    if not imports:
        return body
    counts: dict[str, int] = {}
    for base in imports:
        counts[base.model] = counts.get(base.model, 0) + len(base.names)
    main = max(counts, key=lambda name: (counts[name], -list(counts).index(name)))
    parts = [rename(composed_source(main), main, model)]
    for other in (name for name in counts if name != main):
        source = rename(composed_source(other), other, model)
        parts.append(f"_overlay_{other} = {{'__name__': 'overlay_{other}'}}\nexec({source!r}, _overlay_{other})\n")
    for base in imports:
        for name, alias in base.names:
            renamed = rename(name, base.model, model)
            target = renamed if base.model == main else f"_overlay_{base.model}[{renamed!r}]"
            parts.append(f"{alias} = {target}\n")  # the base name is bound to the object it shadows
    parts.append(body)
    return "\n".join(parts)


def build_overlay(model: str) -> dict[str, object]:
    """Execute the composed source of `model` into a fresh module namespace and return it."""
    module = types.ModuleType(f"overlay_{model}")
    source = composed_source(model)
    # dont_inherit: this file's `from __future__ import annotations` must not reach the modular code
    exec(compile(source, f"<overlay {model}>", "exec", dont_inherit=True), module.__dict__)
    return module.__dict__
