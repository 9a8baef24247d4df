"""The renamed namespace of one base model: what each of its top-level statements defines and uses.

A base model's generated files (configuration_, modeling_, ...) form one namespace: imports
between sibling files (`from .configuration_llama import LlamaConfig`) are not imports here but
definitions of the sibling. Other imports are kept one bound name at a time, so dependency
tracing can carry over exactly the imports that pulled code needs.

    namespace.definition("MistralRMSNorm").uses    # ("nn", "torch")
    namespace.binding("nn")                        # `from torch import nn`
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import libcst as cst

from converter.gather import DefinitionKind, assigned_all, kind_of
from converter.layout import is_sibling_import
from converter.names import analyse_statement, dotted_name

if TYPE_CHECKING:
    from converter.rename import Rename


@dataclass(frozen=True)
class BaseDefinition:
    """A renamed top-level statement of a base model; `rank` orders it: (file index, statement index)."""

    model: str
    names: tuple[str, ...]
    node: cst.BaseStatement
    uses: tuple[str, ...]
    rank: tuple[int, int]
    path: str


@dataclass(frozen=True)
class ImportBinding:
    """One name a base file imports from outside the model, as a one-name import statement."""

    name: str
    key: tuple[str, str]
    statement: cst.SimpleStatementLine


@dataclass(frozen=True)
class BaseNamespace:
    """Everything a renamed base model offers, in file order then source order."""

    model: str
    rename: Rename
    definitions: tuple[BaseDefinition, ...]
    imports: tuple[ImportBinding, ...]
    futures: tuple[cst.SimpleStatementLine, ...]
    exports: tuple[str, ...]

    @functools.cached_property
    def by_name(self) -> Mapping[str, BaseDefinition]:
        return {name: d for d in reversed(self.definitions) for name in d.names}

    @functools.cached_property
    def imports_by_name(self) -> Mapping[str, ImportBinding]:
        return {binding.name: binding for binding in reversed(self.imports)}

    def definition(self, name: str) -> BaseDefinition | None:
        return self.by_name.get(name)

    def binding(self, name: str) -> ImportBinding | None:
        return self.imports_by_name.get(name)


def build_namespace(model: str, rename: Rename, files: Sequence[tuple[str, str, cst.Module]]) -> BaseNamespace:
    """The namespace of renamed files `(path, kind, module)`, given in file order."""
    definitions: list[BaseDefinition] = []
    imports: list[ImportBinding] = []
    futures: list[cst.SimpleStatementLine] = []
    exports: list[str] = []
    for file_index, (path, _, module) in enumerate(files):
        for index, statement in enumerate(module.body):
            kind = kind_of(statement, index)
            if kind is DefinitionKind.DOCSTRING:
                continue
            if kind is DefinitionKind.IMPORT:
                assert isinstance(statement, cst.SimpleStatementLine)
                for small in statement.body:
                    is_future = isinstance(small, cst.ImportFrom) and dotted_name(small.module) == "__future__"
                    if is_future:
                        futures.append(statement.with_changes(body=[small], leading_lines=[]))
                    else:
                        imports += import_bindings(small)
            elif kind is DefinitionKind.ALL:
                exports += all_names(statement)
            else:
                names, uses = analyse_statement(statement)
                definitions.append(BaseDefinition(model, names, statement, uses, (file_index, index), path))
    return BaseNamespace(model, rename, tuple(definitions), tuple(imports), tuple(futures), tuple(exports))


def all_names(statement: cst.BaseStatement) -> tuple[str, ...]:
    """The names of a literal `__all__ = [...]` (generated files always write one)."""
    assert isinstance(statement, cst.SimpleStatementLine)
    value = assigned_all(statement.body[0])
    elements = value.elements if isinstance(value, (cst.List, cst.Tuple)) else ()
    strings = [element.value for element in elements]
    return tuple(str(s.evaluated_value) for s in strings if isinstance(s, cst.SimpleString))


def import_bindings(small: cst.BaseSmallStatement) -> Iterator[ImportBinding]:
    """One `ImportBinding` per bound name; sibling imports (`from .x import y`) bind nothing here.

    Imports relative to the package above (`from ...modeling_utils import X`, a tree's library
    infrastructure) are ordinary imports, keyed with their dots.
    """
    if isinstance(small, cst.ImportFrom):
        if is_sibling_import(small) or isinstance(small.names, cst.ImportStar):
            return
        module = "." * len(small.relative) + dotted_name(small.module)
        for alias in small.names:
            one = small.with_changes(names=[alias.with_changes(comma=cst.MaybeSentinel.DEFAULT)])
            bound = alias.evaluated_alias or alias.evaluated_name
            yield ImportBinding(bound, (module, alias.evaluated_name), cst.SimpleStatementLine(body=[one]))
    elif isinstance(small, cst.Import):
        for alias in small.names:
            one = small.with_changes(names=[alias.with_changes(comma=cst.MaybeSentinel.DEFAULT)])
            bound = alias.evaluated_alias or alias.evaluated_name.split(".")[0]
            yield ImportBinding(bound, ("", alias.evaluated_name), cst.SimpleStatementLine(body=[one]))
