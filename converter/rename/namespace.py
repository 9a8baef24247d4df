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
from dataclasses import dataclass, field, replace

import libcst as cst
from libcst.metadata import GlobalScope

from converter.layout import is_sibling_import, stem_of
from converter.read.gather import DefinitionKind, assigned_all, kind_of
from converter.rename.renamer import Rename, RenameModel
from converter.syntax.names import analyse_statement, dotted_name, first_names
from converter.syntax.walk import scopes_by_statement


@dataclass(frozen=True)
class BaseDefinition:
    """A renamed top-level statement of a base model; `rank` orders it: (file index, statement index).

    `node` is renamed on first use (`renamer` applied to `original`), so the many base statements
    a model never pulls are never renamed; `names` and `uses` are the renamed ones already.
    """

    model: str
    names: tuple[str, ...]
    original: cst.BaseStatement
    uses: tuple[str, ...]
    rank: tuple[int, int]
    path: str
    renamer: RenameModel | None = field(default=None, compare=False, repr=False)

    @functools.cached_property
    def node(self) -> cst.BaseStatement:
        return self.original if self.renamer is None else self.renamer.apply(self.original)


@dataclass(frozen=True)
class ImportBinding:
    """One name a base file imports from outside the model, as a one-name import statement."""

    name: str
    key: tuple[str, str]
    statement: cst.SimpleStatementLine
    #: (file index, statement index) in its base model, as BaseDefinition.rank
    rank: tuple[int, int] = field(default=(-1, -1), compare=False)


@dataclass(frozen=True)
class BaseNamespace:
    """Everything a renamed base model offers, in file order then source order."""

    model: str
    rename: Rename
    definitions: tuple[BaseDefinition, ...]
    imports: tuple[ImportBinding, ...]
    futures: tuple[cst.SimpleStatementLine, ...]
    exports: tuple[str, ...]
    #: (file stem, its rename, the names it defines as parsed), in file order: in a tree each base file
    #: has its own rename (converter/rename/prefixes.py); in the repository all are `rename`
    files: tuple[tuple[str, Rename, frozenset[str]], ...] = ()
    #: in a tree: a name a base file imports from a sibling file, as that file's rename spells it,
    #: when the sibling's own rename spells the definition otherwise -> (original name, the
    #: importing file's stem, the sibling's stem, the sibling's spelling)
    sibling_mismatches: Mapping[str, tuple[str, str, str, str]] = field(default_factory=dict)
    #: in the transformers dialect: the hub-kernel functions no rename touches (converter/rename/kernels.py)
    verbatim: frozenset[str] = frozenset()
    #: in a tree: file stem -> the names it imports from sibling files, as its rename spells them
    sibling_imported: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def renamed(self, name: str, stem: str | None = None) -> str:
        """A base name as renamed in file `stem`, else in the file that defines it, else by `rename`."""
        if name in self.verbatim:
            return name
        for file_stem, rename, defined in self.files:
            if file_stem == stem or (stem is None and name in defined):
                return rename.name(name)
        return self.rename.name(name)

    @functools.cached_property
    def by_name(self) -> Mapping[str, BaseDefinition]:
        return {name: d for d in reversed(self.definitions) for name in d.names}

    @functools.cached_property
    def every_by_name(self) -> Mapping[str, tuple[BaseDefinition, ...]]:
        """name -> every definition binding it, in file order then source order."""
        found: dict[str, list[BaseDefinition]] = {}
        for d in self.definitions:
            for name in d.names:
                found.setdefault(name, []).append(d)
        return {name: tuple(ds) for name, ds in found.items()}

    @functools.cached_property
    def imports_by_name(self) -> Mapping[str, ImportBinding]:
        return {binding.name: binding for binding in reversed(self.imports)}

    def definition(self, name: str) -> BaseDefinition | None:
        return self.by_name.get(name)

    def binding(self, name: str) -> ImportBinding | None:
        return self.imports_by_name.get(name)

    def definition_in(self, name: str, stem: str) -> BaseDefinition | None:
        """`name`'s definition in base file `stem` (a tree model may define a class in two files, as
        qwen2_vl's image_processing and image_processing_pil do), else `definition(name)`."""
        return next(iter(self.in_file(name, stem)), None) or self.definition(name)

    def in_file(self, name: str, stem: str) -> tuple[BaseDefinition, ...]:
        """The statements binding `name` in base file `stem`, in source order."""
        return tuple(d for d in self.every_by_name.get(name, ()) if stem_of(d.path) == stem)


#: Analyses of base modules as parsed (before renaming), shared by every model built on them:
#: id(module) -> (module, {statement index: (names, uses)}), least recently used first. The module
#: is kept so its id stays its own. A run's loader keeps every base module it parsed, so the bound
#: is above the number of base files of a large run (the upstream corpus has about 700): a base
#: such as Llama is analysed once, however many models later build on it.
_ANALYSES: dict[int, tuple[cst.Module, dict[int, tuple[tuple[str, ...], tuple[str, ...]]]]] = {}
_ANALYSES_KEPT = 1024


def analysis_of(module: cst.Module, index: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """`analyse_statement` of `module.body[index]`, for all statements at once, once per module object."""
    entry = _ANALYSES.pop(id(module), None)
    if entry is None or entry[0] is not module:
        if len(_ANALYSES) >= _ANALYSES_KEPT:
            _ANALYSES.pop(next(iter(_ANALYSES)))
        entry = (module, analyse_module(module))
    _ANALYSES[id(module)] = entry
    return entry[1][index]


def analyse_module(module: cst.Module) -> dict[int, tuple[tuple[str, ...], tuple[str, ...]]]:
    """`analyse_statement` of every top-level statement, from one scope analysis of the whole module.

    A read in statement i counts when it resolves to module level or to nothing, as when the
    statement is analysed alone; names statement i binds itself are not reads of it.
    """
    global_scope, scopes, owner = scopes_by_statement(module)
    defines: dict[int, set[str]] = {index: set() for index in range(len(module.body))}
    uses: dict[int, set[str]] = {index: set() for index in range(len(module.body))}
    assert isinstance(global_scope, GlobalScope)
    for assignment in global_scope.assignments:
        node = getattr(assignment, "node", None)
        index = owner.get(id(node)) if node is not None else None
        if index is not None:
            defines[index].add(assignment.name.split(".")[0])
    for scope in scopes:
        for access in scope.accesses:
            index = owner.get(id(access.node))
            if index is None:
                continue
            if not access.referents or any(isinstance(ref.scope, GlobalScope) for ref in access.referents):
                uses[index].update(first_names(access.node))
    return {
        index: (tuple(sorted(defines[index])), tuple(sorted(uses[index] - defines[index])))
        for index in range(len(module.body))
    }


def build_renamed_namespace(
    model: str,
    rename: Rename,
    files: Sequence[tuple[str, str, cst.Module]],
    imported: Sequence[frozenset[str]],
    renames: Sequence[Rename] | None = None,
    verbatim: frozenset[str] = frozenset(),
) -> BaseNamespace:
    """The namespace of the base files `(path, kind, module)` *as parsed*, renamed by `rename` (file i by
    `renames[i]` where given).

    Statements are analysed once per parsed base module (the analysis is shared by every model
    built on the base) and renamed only when used. `imported[i]`: the names file i imports from outside the model, which
    renaming keeps. `verbatim`: top-level functions kept as written, name and body (converter/rename/kernels.py).
    """
    definitions: list[BaseDefinition] = []
    imports: list[ImportBinding] = []
    futures: list[cst.SimpleStatementLine] = []
    exports: list[str] = []
    per_file: list[tuple[str, Rename, frozenset[str]]] = []
    sibling_refs: list[tuple[str, str, str]] = []  # (original name, importing stem, sibling stem)
    sibling_imported: dict[str, set[str]] = {}
    for file_index, (path, _, module) in enumerate(files):
        kept = imported[file_index] | verbatim
        file_rename = rename if renames is None else renames[file_index]
        renamer = RenameModel(file_rename, kept)
        stem = stem_of(path)
        per_file.append((stem, file_rename, frozenset(bound_names_of(module))))

        def renamed(name: str, kept: frozenset[str] = kept, file_rename: Rename = file_rename) -> str:
            return name if name in kept else file_rename.name(name)

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
                    elif is_sibling_import(small) and not isinstance(small.names, cst.ImportStar):
                        assert isinstance(small, cst.ImportFrom)
                        sibling = dotted_name(small.module)
                        sibling_refs += [(alias.evaluated_name, stem, sibling) for alias in small.names]
                        sibling_imported.setdefault(stem, set()).update(
                            file_rename.name(alias.evaluated_alias or alias.evaluated_name) for alias in small.names
                        )
                    else:
                        imports += [replace(b, rank=(file_index, index)) for b in import_bindings(small)]
            elif kind is DefinitionKind.ALL:
                exports += [file_rename.name(name) for name in all_names(statement)]
            else:
                names, uses = analysis_of(module, index)
                as_written = bool(names) and set(names) <= verbatim
                if as_written:
                    pass  # kept as written: its names and uses as parsed
                elif any(use in kept and file_rename.name(use) != use for use in uses):
                    # A kept import named like the model may also appear in a (renamed) string annotation.
                    names, uses = analyse_statement(renamer.apply(statement))
                else:
                    names = tuple(sorted({renamed(name) for name in names}))
                    uses = tuple(sorted({renamed(use) for use in uses} - set(names)))
                kept_renamer = None if as_written else renamer
                definition = BaseDefinition(model, names, statement, uses, (file_index, index), path, kept_renamer)
                definitions.append(definition)
    mismatches = sibling_mismatches(sibling_refs, per_file)
    return BaseNamespace(
        model,
        rename,
        tuple(definitions),
        tuple(imports),
        tuple(futures),
        tuple(exports),
        tuple(per_file),
        mismatches,
        verbatim,
        {stem: frozenset(names) for stem, names in sibling_imported.items()},
    )


def sibling_mismatches(
    refs: Sequence[tuple[str, str, str]], per_file: Sequence[tuple[str, Rename, frozenset[str]]]
) -> dict[str, tuple[str, str, str, str]]:
    """The sibling imports that a tree's per-file renames break: `LlamaConfig`, imported by
    modeling_llama.py renamed `FooTextConfig` (its classes' prefix), defined by
    configuration_llama.py renamed `FooConfig` (a file no modular class subclasses)."""
    renames = {stem: rename for stem, rename, _ in per_file}
    found: dict[str, tuple[str, str, str, str]] = {}
    for original, stem, sibling in refs:
        if sibling not in renames or stem not in renames:
            continue
        spelled, defined = renames[stem].name(original), renames[sibling].name(original)
        if spelled != defined:
            found.setdefault(spelled, (original, stem, sibling, defined))
    return found


def bound_names_of(module: cst.Module) -> Iterator[str]:
    """The classes and functions a module defines at the top level, as parsed."""
    for statement in module.body:
        if isinstance(statement, (cst.ClassDef, cst.FunctionDef)):
            yield statement.name.value


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
            module, _, name = alias.evaluated_name.rpartition(".")
            # `import torch.nn as nn` binds what `from torch import nn` binds: the same key
            key = (module, name) if alias.evaluated_alias else ("", alias.evaluated_name)
            yield ImportBinding(bound, key, cst.SimpleStatementLine(body=[one]))
