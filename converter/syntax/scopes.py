"""Scope analysis of a module: the names each scope binds, the names it reads, and what each read
resolves to, by libcst's rules (libcst/metadata/scope_provider.py, 1.9), on this module's own classes.

libcst's ScopeProvider is exact but slow (its visitor rebuilds every node it passes), and running its
rules faster used to take its private internals (a scope's assignment counter, its dotted-name
generator), which any libcst release may change without notice. Here the same rules run as a walk of
node fields (walk.py) over the classes below, with libcst's public node API only; tests/converter/test_scopes.py
compares the answers with `MetadataWrapper(module).resolve(ScopeProvider)`. The facts about libcst's
trees such a walk needs (which fields hold nodes, the order a visitor visits them, trivia) are in
fields.py; names.py's walks use them too.

    global_scope, scopes = module_scopes(cst.parse_module("import os\\ndef f(x):\\n    return os.sep, x, len\\n"))
    [a.name for a in global_scope.assignments]   # ["os", "f"]
    # f's scope reads `os.sep` (referents: the import, in global_scope), `x` (the parameter, in f's
    # scope) and `len` (a BuiltinAssignment, in global_scope.parent, the BuiltinScope)
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator

import libcst as cst
from libcst.helpers import get_full_name_for_node
from libcst.metadata import GlobalScope as LibcstGlobalScope


class Assignment:
    """`name` bound in `scope` by `node` (a Name stored to, a FunctionDef, ClassDef, Param...); `index`
    orders it among the bindings and reads of its scope: a read sees the earlier bindings of its own scope."""

    __slots__ = ("name", "scope", "node", "index")

    def __init__(self, name: str, scope: Scope, node: cst.CSTNode, index: int) -> None:
        self.name, self.scope, self.node, self.index = name, scope, node, index

    def qualified_names(self, full_name: str) -> set[str]:
        """libcst's qualified names of `full_name` (this binding's name, dotted further maybe) when it
        reads this binding: `f.<locals>.x`, `Class.x`, `x` at module level."""
        prefix = self.scope.name_prefix
        return {f"{prefix}.{full_name}" if prefix else full_name}


class ImportAssignment(Assignment):
    """A name an import binds; `node` is the Import or ImportFrom (`import a.b` binds `a.b` and `a`)."""

    __slots__ = ()

    def qualified_names(self, full_name: str) -> set[str]:
        """`typing.cast` for `t.cast` after `import typing as t` (libcst's `get_qualified_names_for`)."""
        node = self.node
        assert isinstance(node, (cst.Import, cst.ImportFrom))
        if isinstance(node.names, cst.ImportStar):
            return set()
        module = imported_module(node)
        found = set()
        for alias in node.names:
            dotted = get_full_name_for_node(alias.name)
            parts = dotted.split(".") if dotted else []
            for size in range(len(parts), 0, -1):  # the longest prefix of the imported name that matches
                as_name = real_name = ".".join(parts[:size])
                if module:
                    real_name = f"{module}{real_name}" if module.endswith(".") else f"{module}.{real_name}"
                if alias.asname and alias.evaluated_alias is not None:
                    as_name = alias.evaluated_alias
                if full_name.startswith(as_name):
                    rest = full_name.split(as_name, 1)[1]
                    if rest and not rest.startswith("."):
                        continue
                    rest = rest.lstrip(".")
                    found.add(f"{real_name}.{rest}" if rest else real_name)
                    break
        return found


def imported_module(node: cst.Import | cst.ImportFrom) -> str:
    """`..pkg.mod` for `from ..pkg.mod import x`; "" for `import x`."""
    if not isinstance(node, cst.ImportFrom):
        return ""
    module = (get_full_name_for_node(node.module) or "") if node.module else ""
    return "." * len(node.relative) + module if node.relative else module


class BuiltinAssignment:
    """A builtin (`len`, `None`) that a read resolves to; made when first read, one per name."""

    __slots__ = ("name", "scope")
    node = None
    index = -1

    def __init__(self, name: str, scope: Scope) -> None:
        self.name, self.scope = name, scope

    def qualified_names(self, full_name: str) -> set[str]:
        return {f"builtins.{self.name}"}


AnyAssignment = Assignment | BuiltinAssignment


class Access:
    """A read in `scope`. `node`: the Name read; or the longest dotted Attribute around it that a scope
    binds (`os.path` after `import os.path`); or, in a string annotation, the whole string.
    `referents`: the bindings it may read; none where no scope binds the name (a forward reference,
    or a name that another statement, analysed apart, binds)."""

    __slots__ = ("node", "scope", "is_annotation", "is_type_hint", "index", "referents")

    def __init__(self, node: cst.Name, scope: Scope, is_annotation: bool, is_type_hint: bool) -> None:
        self.node: cst.Name | cst.Attribute | cst.BaseString = node
        self.scope, self.is_annotation, self.is_type_hint = scope, is_annotation, is_type_hint
        self.index = scope.count
        self.referents: tuple[AnyAssignment, ...] = ()

    def resolve(self, name: str) -> None:
        """Set `referents` to the bindings of `name` this read sees (libcst's `record_assignments`): the
        enclosing scopes' and its own scope's earlier ones; where its own scope binds `name` only
        later, what the parent scope sees."""
        scope = self.scope
        found = scope.resolve(name, scope)
        earlier = [a for a in found if a.scope is not scope or a.index < self.index]
        if not earlier and found and scope.parent is not scope:
            earlier = scope.parent.resolve(name, scope)
        self.referents = tuple(earlier)


class Scope:
    """A scope: `assignments` (the bindings made in it, in order), `accesses` (the reads made in it),
    `parent` (the enclosing scope: a GlobalScope's is its BuiltinScope, whose is itself); `count`
    advances past each statement or part that binds, to order bindings and reads (`index`)."""

    __slots__ = ("parent", "globals", "name_prefix", "by_name", "assignments", "accesses", "count")

    def __init__(self, parent: Scope | None, global_scope: GlobalScope | None) -> None:
        self.parent = self if parent is None else parent
        self.globals = global_scope if global_scope is not None else self.parent.globals
        self.name_prefix = ""
        self.by_name: dict[str, list[AnyAssignment]] = {}
        self.assignments: list[AnyAssignment] = []
        self.accesses: list[Access] = []
        self.count = 0

    def __contains__(self, name: str) -> bool:
        """Whether a read of `name` here would find a binding (libcst's `name in scope`)."""
        raise NotImplementedError

    def resolve(self, name: str, from_scope: Scope) -> list[AnyAssignment]:
        """The bindings of `name` a read in `from_scope` (this scope or one inside it) may find."""
        raise NotImplementedError

    def target(self, name: str) -> Scope:
        """The scope that a binding of `name` here binds in (`global` and `nonlocal` move it)."""
        return self

    def visible_from(self, from_scope: Scope) -> bool:
        """Whether reads in `from_scope`, nested inside, see this scope's bindings."""
        return True

    def next_visible_parent(self, from_scope: Scope, first: Scope | None = None) -> Scope:
        parent = first if first is not None else self.parent
        while not parent.visible_from(from_scope):
            parent = parent.parent
        return parent

    def record(self, name: str, node: cst.CSTNode, kind: type[Assignment] = Assignment) -> None:
        """A binding of `name` by `node`, in the scope it binds in, ordered by that scope's count."""
        target = self.target(name)
        assignment = kind(name, target, node, target.count)
        target.by_name.setdefault(name, []).append(assignment)
        target.assignments.append(assignment)

    def record_global(self, name: str) -> None:
        raise NotImplementedError("global declaration not allowed here")

    def record_nonlocal(self, name: str) -> None:
        raise NotImplementedError("nonlocal declaration not allowed at module level")

    def qualified_names_for(self, node: cst.CSTNode) -> set[str]:
        """libcst's `get_qualified_names_for(node)` as its visitor calls it, before any read is recorded:
        by the bindings of the longest dotted prefix of `node`'s name that this scope sees."""
        full_name = get_full_name_for_node(node)
        if full_name is None:
            return set()
        found: list[AnyAssignment] = []
        prefix: str | None = full_name
        while prefix:
            if prefix in self:
                found = self.resolve(prefix, self)
                break
            cut = prefix.rfind(".")
            prefix = None if cut == -1 else prefix[:cut]
        for assignment in found:
            if isinstance(assignment, Assignment) and is_assignment(node, assignment.node):
                return assignment.qualified_names(full_name)
        return {name for assignment in found for name in assignment.qualified_names(full_name)}


class BuiltinScope(Scope):
    """Python's builtins, the parent of the global scope."""

    __slots__ = ()

    def __contains__(self, name: str) -> bool:
        return hasattr(builtins, name)

    def resolve(self, name: str, from_scope: Scope) -> list[AnyAssignment]:
        found = self.by_name.get(name)
        if found is None and hasattr(builtins, name):
            found = self.by_name[name] = [BuiltinAssignment(name, self)]
        return found or []

    def target(self, name: str) -> Scope:
        raise NotImplementedError("assignments in builtin scope are not allowed")


class GlobalScope(Scope):
    """The module's scope."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(BuiltinScope(None, self), self)

    def __contains__(self, name: str) -> bool:
        return name in self.by_name or name in self.next_visible_parent(self)

    def resolve(self, name: str, from_scope: Scope) -> list[AnyAssignment]:
        found = self.by_name.get(name)
        return found if found is not None else self.next_visible_parent(from_scope).resolve(name, from_scope)

    def record_global(self, name: str) -> None:
        pass


# Callers written against libcst's classes check `isinstance(scope, libcst.metadata.GlobalScope)`;
# registering ours as a virtual subclass (abc's public `register`) keeps those checks true.
LibcstGlobalScope.register(GlobalScope)


class LocalScope(Scope):
    """The scope of a function, lambda, class, comprehension or PEP 695 annotation; `node` opens it."""

    __slots__ = ("node", "name", "overwrites")

    def __init__(self, parent: Scope, node: cst.CSTNode, name: str | None = None) -> None:
        super().__init__(parent, None)
        self.node, self.name = node, name
        self.overwrites: dict[str, Scope] = {}  # name -> the scope a `global`/`nonlocal` sends it to
        self.name_prefix = self.make_prefix()

    def make_prefix(self) -> str:
        return ".".join(filter(None, [self.parent.name_prefix, self.name, "<locals>"]))

    def record_global(self, name: str) -> None:
        self.overwrites[name] = self.globals

    def record_nonlocal(self, name: str) -> None:
        self.overwrites[name] = self.parent

    def target(self, name: str) -> Scope:
        if name in self.overwrites:
            return self.next_visible_parent(self, self.overwrites[name]).target(name)
        return self

    def __contains__(self, name: str) -> bool:
        if name in self.overwrites:
            return name in self.overwrites[name]
        return name in self.by_name or name in self.next_visible_parent(self)

    def resolve(self, name: str, from_scope: Scope) -> list[AnyAssignment]:
        if name in self.overwrites:
            return self.next_visible_parent(from_scope, self.overwrites[name]).resolve(name, from_scope)
        found = self.by_name.get(name)
        return found if found is not None else self.next_visible_parent(from_scope).resolve(name, from_scope)


class FunctionScope(LocalScope):
    __slots__ = ()


class ClassScope(LocalScope):
    """A class body: hidden from the scopes nested in it but its own PEP 695 annotation scope."""

    __slots__ = ()

    def visible_from(self, from_scope: Scope) -> bool:
        return from_scope.parent is self and isinstance(from_scope, AnnotationScope)

    def make_prefix(self) -> str:
        return ".".join(filter(None, [self.parent.name_prefix, self.name]))


class ComprehensionScope(LocalScope):
    __slots__ = ()

    def make_prefix(self) -> str:
        return ".".join(filter(None, [self.parent.name_prefix, "<comprehension>"]))


class AnnotationScope(LocalScope):
    """The scope of PEP 695 type parameters (`def f[T]`) and type aliases; no part of qualified names."""

    __slots__ = ()

    def make_prefix(self) -> str:
        return self.parent.name_prefix


def dotted_names(node: cst.Attribute | cst.Name) -> Iterator[tuple[str, cst.Attribute | cst.Name]]:
    """`a.b.c` -> ("a.b.c", the Attribute), ("a.b", its value), ("a", the Name); a call ends the chain
    there: `a.b().c` -> ("a.b", ...), ("a", ...); any other value ends it with nothing."""
    if isinstance(node, cst.Name):
        yield node.value, node
        return
    value = node.value
    if isinstance(value, cst.Call):
        if isinstance(value.func, (cst.Attribute, cst.Name)):
            yield from dotted_names(value.func)
    elif isinstance(value, (cst.Attribute, cst.Name)):
        inner = dotted_names(value)
        first = next(inner, None)
        if first is not None:
            yield f"{first[0]}.{node.attr.value}", node
            yield first
            yield from inner


def is_assignment(node: cst.CSTNode, assignment_node: cst.CSTNode) -> bool:
    """`node` is `assignment_node`, or one of the names an import statement `assignment_node` binds."""
    if node is assignment_node:
        return True
    if isinstance(assignment_node, (cst.Import, cst.ImportFrom)) and not isinstance(
        assignment_node.names, cst.ImportStar
    ):
        return any(
            alias.name is node or (alias.asname is not None and alias.asname.name is node)
            for alias in assignment_node.names
        )
    return False
