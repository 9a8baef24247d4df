"""The bases of classes, read from source and never executed, for the MRO check (converter/merge/classes/mro.py).

A class is named by a `ClassKey`: where it is defined, and its name there.

    ClassKey("modular", "", "Sam2TwoWayAttentionBlock")                        the modular file
    ClassKey("model", "sam", "SamTwoWayAttentionBlock")                        a base model's files
    ClassKey("library", "transformers.modeling_layers", "GradientCheckpointingLayer")
    ClassKey("external", "torch.nn", "Module")                                 outside the library
    ClassKey("unknown", "transformers.generation", "make_mixin")               not found, or dynamic
    OBJECT

`Ancestry.bases(key)` follows a class's base names through the imports of the module that defines
it, into library modules: the modules of the packages `Layout.library_packages` names (a tree's
`transformers/`, so `from ...modeling_layers import X` in `<root>/sam2/modular_sam2.py` reads
`<root>/../modeling_layers.py`; this repository's `runtime/`). Each library file is parsed with
`ast` at most once per process. External and unknown classes have unknown bases (None); what
the check may assume about them is converter/merge/classes/mro.py's business.
"""

from __future__ import annotations

import ast
import builtins
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from converter.diagnostics import ConversionError
from converter.layout import Library, model_of_stem
from converter.merge.classes.class_facts import UNREADABLE, Binding, ModuleFacts, facts_from_ast, facts_from_cst
from converter.read.bases import BasePackage
from converter.read.parse import ParsedModule
from converter.read.source import read_bytes

MODULAR, MODEL, LIBRARY, EXTERNAL, UNKNOWN = "modular", "model", "library", "external", "unknown"

#: How many imports a name may be followed through (re-exports of re-exports), against import cycles.
MAX_HOPS = 16


@dataclass(frozen=True, order=True)
class ClassKey:
    kind: str
    module: str
    name: str

    def __str__(self) -> str:
        if self.kind in (MODULAR, MODEL, LIBRARY):
            return self.name
        return f"{self.module}.{self.name}" if self.module else self.name

    @property
    def known(self) -> bool:
        """Whether its bases can be read (a class of the modular file, a base model or the library)."""
        return self.kind in (MODULAR, MODEL, LIBRARY) or self == OBJECT


OBJECT = ClassKey(EXTERNAL, "builtins", "object")


#: Library file facts, parsed once per process: (path, mtime_ns, size) -> facts (None: unreadable).
_LIBRARY_FACTS: dict[tuple[str, int, int], ModuleFacts | None] = {}


def library_facts(path: Path) -> ModuleFacts | None:
    """The facts of one library file, parsed with `ast` once per process while it is unchanged."""
    try:
        stat = path.stat()
    except OSError:
        return None
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _LIBRARY_FACTS:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # SyntaxWarning: invalid escape sequences
                _LIBRARY_FACTS[key] = facts_from_ast(ast.parse(read_bytes(path, str(path))))
        except (OSError, SyntaxError, ValueError, RecursionError, MemoryError, ConversionError):
            _LIBRARY_FACTS[key] = None
    return _LIBRARY_FACTS[key]


@dataclass(frozen=True)
class Scope:
    """A module base names are looked up in: its facts, its dotted name, and the kind and module of
    the keys of the classes it defines (a base model's files are one scope, keyed by the model)."""

    facts: ModuleFacts
    module: str
    is_package: bool
    kind: str
    owner: str

    def key(self, name: str) -> ClassKey:
        return ClassKey(self.kind, self.owner, name)


class Ancestry:
    """The bases of the classes a modular file, its base models and the library define.

    Built per modular file when a class needs the MRO check; reads library files lazily (cached
    per process). `bases(key)` is None where they cannot be read.
    """

    def __init__(self, parsed: ParsedModule, packages: Sequence[BasePackage], library: Library) -> None:
        self.library = library
        self.layout = parsed.layout
        modular = facts_from_cst([parsed.module], is_model_file)
        self.modular = Scope(modular, self.layout.module_name(parsed.display_path), False, MODULAR, "")
        self.packages = {package.model: package for package in packages}
        self.scopes: dict[str, Scope] = {}
        self.cache: dict[ClassKey, tuple[ClassKey, ...] | None] = {}

    @property
    def modular_names(self) -> frozenset[str]:
        """The names the modular file binds to a class or an import."""
        return frozenset(self.modular.facts.classes) | frozenset(self.modular.facts.imports)

    def modular_key(self, name: str) -> ClassKey:
        return self.modular.key(name)

    def in_modular(self, dotted: str) -> ClassKey:
        """The class a base written in the modular file names."""
        return self.resolve(self.modular, dotted)

    def in_model(self, model: str, dotted: str) -> ClassKey:
        """The class a base written in base model `model`'s files names."""
        scope = self.model_scope(model)
        return self.resolve(scope, dotted) if scope is not None else ClassKey(UNKNOWN, model, dotted)

    def bases(self, key: ClassKey) -> tuple[ClassKey, ...] | None:
        """The bases of `key` in order (`(OBJECT,)` for a class written without any); None: unknown."""
        if key not in self.cache:
            self.cache[key] = self.read_bases(key)
        return self.cache[key]

    def read_bases(self, key: ClassKey) -> tuple[ClassKey, ...] | None:
        if key == OBJECT:
            return ()
        scope = self.scope_of(key)
        written = scope.facts.kind(key.name) if scope is not None else None
        if scope is None or not isinstance(written, tuple):
            return None
        return tuple(self.resolve(scope, dotted) for dotted in written) or (OBJECT,)

    def scope_of(self, key: ClassKey) -> Scope | None:
        if key.kind == MODULAR:
            return self.modular
        if key.kind == MODEL:
            return self.model_scope(key.module)
        if key.kind == LIBRARY:
            path = self.library.module_file(key.module.split("."))
            return self.library_scope(key.module, path) if path is not None else None
        return None

    def model_scope(self, model: str) -> Scope | None:
        """A base model's files as one scope: sibling imports (`from .configuration_sam import ...`) are
        definitions of the model, not imports."""
        package = self.packages.get(model)
        if package is None or not package.files:
            return None
        if model not in self.scopes:
            facts = facts_from_cst([file.module for file in package.files], is_model_file)
            self.scopes[model] = Scope(facts, self.layout.module_name(package.files[0].path), False, MODEL, model)
        return self.scopes[model]

    def library_scope(self, module: str, path: Path) -> Scope | None:
        facts = library_facts(path)
        return Scope(facts, module, path.name == "__init__.py", LIBRARY, module) if facts is not None else None

    def resolve(self, scope: Scope, dotted: str, hops: int = 0) -> ClassKey:
        """The class `dotted` (`nn.Module`, `GradientCheckpointingLayer`) names in `scope`."""
        if dotted == UNREADABLE or hops > MAX_HOPS:
            return ClassKey(UNKNOWN, scope.module, dotted or "?")
        head, *rest = dotted.split(".")
        found = scope.facts.kind(head)
        if isinstance(found, tuple):
            return scope.key(head) if not rest else ClassKey(UNKNOWN, scope.module, dotted)
        if isinstance(found, Binding):
            target = absolute(scope, found)
            return self.lookup([*target, *rest], hops + 1) if target else ClassKey(UNKNOWN, scope.module, dotted)
        if head in scope.facts.others or head in scope.facts.ambiguous:
            return ClassKey(UNKNOWN, scope.module, dotted)
        submodule = [*scope.module.split("."), head] if scope.is_package else []
        if scope.kind == LIBRARY and submodule and self.library.module_file(submodule) is not None:
            return self.lookup([*submodule, *rest], hops + 1)
        if not rest and hasattr(builtins, head):
            return OBJECT if head == "object" else ClassKey(EXTERNAL, "builtins", head)
        return ClassKey(UNKNOWN, scope.module, dotted)

    def lookup(self, parts: Sequence[str], hops: int) -> ClassKey:
        """The class a fully qualified name (`torch.nn.Module`, `transformers.modeling_layers.X`) names."""
        qualified = ClassKey(UNKNOWN, ".".join(parts[:-1]), parts[-1])
        if len(parts) < 2 or hops > MAX_HOPS:
            return qualified
        models = self.library.models_package.split(".")
        if list(parts[: len(models)]) == models:
            return self.lookup_model(parts[len(models) :], qualified, hops)
        if parts[0] not in self.library.packages:
            return OBJECT if list(parts) == ["builtins", "object"] else ClassKey(EXTERNAL, *qualified_parts(parts))
        for size in range(len(parts) - 1, 0, -1):
            path = self.library.module_file(parts[:size])
            if path is not None:
                scope = self.library_scope(".".join(parts[:size]), path)
                return self.resolve(scope, ".".join(parts[size:]), hops + 1) if scope is not None else qualified
        return qualified

    def lookup_model(self, parts: Sequence[str], qualified: ClassKey, hops: int) -> ClassKey:
        """A name in a module below the models package (`llama.modeling_llama.LlamaModel`): a class of
        a loaded base model; unknown in another model's file (model files are read through the loader
        only, as the files on disk may be stale); a hand-written module beside them
        (`parakeet/generation_parakeet.py`) is read as a library module."""
        if len(parts) < 3:
            return qualified
        if not is_model_file(parts[1]):
            module = [*self.library.models_package.split("."), *parts[:2]]
            path = self.library.module_file(module)
            scope = self.library_scope(".".join(module), path) if path is not None else None
        else:
            scope = self.model_scope(model_of_stem(parts[1]) if self.layout.tree else parts[0])
        return self.resolve(scope, ".".join(parts[2:]), hops + 1) if scope is not None else qualified


def is_model_file(stem: str) -> bool:
    """`modeling_sam`, `configuration_sam`: a file the converter generates (read through the loader)."""
    return bool(model_of_stem(stem))


def qualified_parts(parts: Sequence[str]) -> tuple[str, str]:
    return ".".join(parts[:-1]), parts[-1]


def absolute(scope: Scope, binding: Binding) -> list[str]:
    """The qualified name an import binds: `from ..utils import X` in `transformers.models.sam.x` is
    `transformers.models.utils.X`; `import torch.nn as nn` is `torch.nn`; [] above the top package."""
    module = binding.module.split(".") if binding.module else []
    if binding.level:
        package = scope.module.split(".") if scope.is_package else scope.module.split(".")[:-1]
        if binding.level - 1 >= len(package):
            return []
        module = package[: len(package) - (binding.level - 1)] + module
    return [*module, binding.name] if binding.name is not None else module
