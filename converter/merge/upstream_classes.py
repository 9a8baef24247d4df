"""Upstream's class-level rules, for merge_classes in the transformers dialect (converter/dialect/).

`UpstreamClasses` is the dialect's part of merging one modular file's classes, where upstream's
`replace_class_node` differs from Python:

- the merged bases drop `nn.Module` beside `GradientCheckpointingLayer` (W324), which subclasses it;
- `Parent.method(args)` calls become `super().method(args)` (upstream_calls.py, W320/W324);
- removed members (upstream_members.py) drift where an ancestor of the generated class still defines
  them, judged once every class of the file is merged (W323);

Each rule records a drift (converter/dialect/) where it changes what the modular code does as Python.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence

import libcst as cst

from converter.dialect import drift
from converter.merge.classes.ancestry import EXTERNAL, LIBRARY, ClassKey
from converter.merge.classes.class_bases import BasesCheck
from converter.merge.classes.library_members import library_members
from converter.merge.upstream_calls import (
    CHECKPOINTING,
    MODULE,
    ClassInfo,
    Lookup,
    ParentCall,
    class_info,
    drift_of,
    restore_super,
    rewrite_parent_calls,
)
from converter.merge.upstream_members import removal_drift
from converter.rename.rename import RenamedModule
from converter.syntax.names import code_of, dotted_name


class UpstreamClasses:
    """The transformers dialect's rules for the classes of one modular file (see the module docstring)."""

    def __init__(self, renamed: RenamedModule, check: BasesCheck) -> None:
        self.renamed = renamed
        self.check = check
        self.parsed = renamed.resolved.parsed
        self.calls: list[ParentCall] = []
        self.removals: list[tuple[cst.BaseStatement, str, str]] = []
        self.externals: set[str] = set()  # names of classes outside the library, as `qualified` writes them
        self.library_keys: dict[str, ClassKey] = {}  # bases of library classes, by the name `qualified` gives

    def bases(self, bases: Sequence[cst.Arg]) -> list[cst.Arg]:
        """Upstream's merged bases: `nn.Module` beside `GradientCheckpointingLayer` is dropped (the
        method resolution order stays the same, as the latter subclasses it). Switching a base for the
        modular base ending with its name is converter/merge/upstream_bases.py's (W341)."""
        names = [dotted_name(arg.value) for arg in bases]
        if MODULE in names and CHECKPOINTING in names:
            return [arg for arg, name in zip(bases, names, strict=True) if name != MODULE]
        return list(bases)

    def descends(self, name: str, ancestor: str) -> bool:
        """Whether the class `name` (of the file's bases or the library) has `ancestor` among its bases,
        transitively; False where a class on the way cannot be read."""
        return any(ancestor in info.bases for _, info in readable_ancestors([name], self.class_named))

    def class_named(self, name: str) -> ClassInfo | None:
        """What a class of a base model's file or of the library (read, never run) declares."""
        for namespace in self.renamed.namespaces:
            definition = namespace.definition(name)
            if definition is not None and isinstance(definition.node, cst.ClassDef):
                return class_info(definition.node)
        return self.library_class(name)

    def before_merge(
        self, statement: cst.ClassDef, base_class: cst.ClassDef, bases: Sequence[cst.Arg]
    ) -> cst.ClassDef:
        """The modular class as upstream merges it into `base_class`, its merged bases being `bases`."""
        names = [dotted_name(arg.value) or code_of(arg.value) for arg in bases]
        return rewrite_parent_calls(statement, names, self.calls)

    def after_merge(self, merged: cst.ClassDef) -> cst.ClassDef:
        return restore_super(merged)

    def judge(self, classes: Sequence[cst.ClassDef]) -> None:
        """Record a drift for each parent call upstream rewrote where the meaning changes; `classes`
        are the file's classes after merging."""
        if not self.calls and not self.removals:
            return
        merged = {node.name.value: class_info(node) for node in classes}

        @functools.cache
        def lookup(name: str) -> ClassInfo | None:
            if name in merged:
                return merged[name]
            if name in self.externals:
                return ClassInfo((), frozenset(), external=True)
            for namespace in self.renamed.namespaces:
                definition = namespace.definition(name)
                if definition is not None and isinstance(definition.node, cst.ClassDef):
                    return class_info(definition.node)
            return self.library_class(name)

        for call in self.calls:
            found = drift_of(call, lookup)
            if found is not None:
                drift(self.parsed, call.call, *found)
        for member, name, owner in self.removals:
            info = merged.get(owner)
            parent = defining_ancestor(info.bases, name, lookup) if info is not None else None
            removal_drift(member, name, owner, parent, self.parsed)

    def removed(self, member: cst.BaseStatement, name: str, owner: str) -> None:
        """Upstream leaves `name` out of class `owner` (converter/merge/upstream_members.py): judged once
        the file is merged, where the generated class's ancestors are known (W323)."""
        self.removals.append((member, name, owner))

    def library_class(self, name: str) -> ClassInfo | None:
        """A library class named `name` in the modular file or a base model's file (read, never run)."""
        library = self.renamed.resolved.library
        if library is None:
            return None
        ancestry = self.check.ancestry
        keys = [
            self.library_keys.get(name) or ancestry.in_modular(name),
            *(ancestry.in_model(p.model, name) for p in self.renamed.resolved.packages),
        ]
        key = next((key for key in keys if key.kind in (LIBRARY, EXTERNAL)), None)
        if key is None:
            return None
        if key.kind == EXTERNAL:
            return ClassInfo((), frozenset(), external=True)
        members = library_members(library, key.module, key.name)
        bases = ancestry.bases(key)
        if members is None or bases is None:
            return None
        return ClassInfo(tuple(self.qualified(base) for base in bases), members)

    def qualified(self, key: ClassKey) -> str:
        """How a library class's base is named to `lookup`: `nn.Module` for torch's Module, the
        qualified name of another class outside the library (remembered as such), else its name."""
        if key.kind != EXTERNAL:
            self.library_keys.setdefault(key.name, key)
            return key.name
        name = MODULE if key.module in ("torch.nn", "torch.nn.modules.module") and key.name == "Module" else str(key)
        self.externals.add(name)
        return name


def defining_ancestor(bases: Sequence[str], name: str, lookup: Lookup) -> str | None:
    """The first class among `bases` and their ancestors (breadth first) whose own body defines `name`;
    classes outside the library are not read."""
    return next((current for current, info in readable_ancestors(bases, lookup) if name in info.members), None)


def readable_ancestors(start: Sequence[str], lookup: Lookup) -> Iterator[tuple[str, ClassInfo]]:
    """`start` and their ancestors, breadth first, each once, with what `lookup` reads of them; classes
    it cannot read, or outside the library, end their branch."""
    seen: set[str] = set()
    work = list(start)
    while work:
        current = work.pop(0)
        if current in seen:
            continue
        seen.add(current)
        info = lookup(current)
        if info is None or info.external:
            continue
        yield current, info
        work += info.bases
