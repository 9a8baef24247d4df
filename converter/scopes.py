"""Scope analysis of a module: the names each scope binds, the names it reads, and what each read
resolves to, by libcst's rules (libcst/metadata/scope_provider.py, 1.9), on this module's own classes.

libcst's ScopeProvider is exact but slow (its visitor rebuilds every node it passes), and running its
rules faster used to take its private internals (a scope's assignment counter, its dotted-name
generator), which any libcst release may change without notice. Here the same rules run as a walk of
node fields over classes of our own, with libcst's public node API only; tests/converter/test_scopes.py
compares the answers with `MetadataWrapper(module).resolve(ScopeProvider)`. The facts about libcst's
trees such a walk needs (which fields hold nodes, the order a visitor visits them, trivia) are at the
end; names.py's walks use them too.

    global_scope, scopes = module_scopes(cst.parse_module("import os\\ndef f(x):\\n    return os.sep, x, len\\n"))
    [a.name for a in global_scope.assignments]   # ["os", "f"]
    # f's scope reads `os.sep` (referents: the import, in global_scope), `x` (the parameter, in f's
    # scope) and `len` (a BuiltinAssignment, in global_scope.parent, the BuiltinScope)
"""

from __future__ import annotations

import builtins
import dataclasses
import functools
import typing
from collections.abc import Callable, Iterable, Iterator
from typing import Any

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


def module_scopes(module: cst.Module) -> tuple[GlobalScope, tuple[Scope, ...]]:
    """The global scope of `module` and every scope in it (the global one first, then in the order
    they open), with their bindings and reads: the answers of libcst's ScopeProvider. Like it, raises
    NotImplementedError for `nonlocal` at module level, and RecursionError for a tree too deep (about
    330 nested calls; read/nesting.py refuses input long before)."""
    walk = ScopeWalk(stored_names(module))
    walk.visit(module)
    walk.infer_accesses()
    global_scope = walk.scopes[0]
    assert isinstance(global_scope, GlobalScope)
    return global_scope, tuple(walk.scopes)


def stored_names(module: cst.Module) -> set[int]:
    """ids of the Name nodes of `module` that libcst's ExpressionContextProvider marks STORE (bound,
    not read): `x` in `x = 1`, `for x in`, `as x`. Its visitor's order and rules: a node object that
    occurs twice in a tree (transforms share them) keeps the context of its last visit."""
    stored: set[int] = set()
    stack: list[tuple[cst.CSTNode | None, bool]] = [(module, False)]
    while stack:
        node, store = stack.pop()
        kind = type(node)
        if kind is cst.Name:
            if store:
                stored.add(id(node))
            else:
                stored.discard(id(node))
        elif node is not None and kind not in SKIPPED:
            rule = CONTEXT_RULES.get(kind)
            children = rule(node, store) if rule is not None else [(child, store) for child in ordered_children(node)]
            stack += reversed(children)  # popped in the visitor's order
    return stored


def ordered_children(node: cst.CSTNode) -> list[cst.CSTNode]:
    """The children of `node` that a libcst visitor enters, in its order, but whitespace and punctuation."""
    found: list[cst.CSTNode] = []
    order = VISIT_ORDERS.get(type(node))
    for name in visit_order(node) if order is None else order:
        value = getattr(node, name)
        what = VALUE_KINDS.get(type(value)) or value_kind(type(value))
        if what is NODE:
            found.append(value)
        elif what is SEQUENCE:
            found += [child for child in value if (VALUE_KINDS.get(type(child)) or value_kind(type(child))) is NODE]
    return found


ContextChildren = list[tuple[cst.CSTNode | None, bool]]
#: The nodes that ExpressionContextProvider's visitor visits its own way: their children in its
#: order, each with whether it is stored to (any other node passes its own context on).
CONTEXT_RULES: dict[type[cst.CSTNode], Callable[[Any, bool], ContextChildren]] = {
    cst.Assign: lambda n, s: [*((target, True) for target in n.targets), (n.value, s)],
    cst.AnnAssign: lambda n, s: [(n.target, True), (n.annotation, s), (n.value, s)],
    cst.AugAssign: lambda n, s: [(n.target, True), (n.value, s)],
    cst.NamedExpr: lambda n, s: [(n.target, True), (n.value, s)],
    cst.AsName: lambda n, s: [(n.name, True)],
    cst.CompFor: lambda n, s: [(n.target, True), (n.iter, s), *((i, s) for i in n.ifs), (n.inner_for_in, s)],
    cst.For: lambda n, s: [(n.target, True), (n.iter, s), (n.body, s), (n.orelse, s)],
    cst.Del: lambda n, s: [(n.target, False)],
    cst.Attribute: lambda n, s: [(n.value, False)],  # `a.b = 1` stores to no name; `.b` is no variable
    cst.Subscript: lambda n, s: [(n.value, False), *((part, False) for part in n.slice)],
    cst.ClassDef: lambda n, s: [
        (n.name, True),
        (n.body, s),
        *((p, s) for p in (*n.bases, *n.keywords, *n.decorators)),
    ],
    cst.FunctionDef: lambda n, s: [
        (n.name, True),
        (n.params, s),
        (n.body, s),
        *((decorator, s) for decorator in n.decorators),
        (n.returns, s),
    ],
    cst.Param: lambda n, s: [(n.name, True), (n.annotation, s), (n.default, s)],
}


class ScopeWalk:
    """libcst's ScopeVisitor as a walk of node fields: the same bindings and reads in the same order,
    into this module's scopes, without a visitor (which rebuilds every node it passes). `visit_X` is
    the visitor's method for node type X (its result: whether to enter the children); the children
    of other nodes are walked in a libcst visitor's order (`visit_order`)."""

    def __init__(self, stored: set[int]) -> None:
        self.stored = stored  # `stored_names`
        self.scope: Scope = GlobalScope()
        self.scopes: list[Scope] = [self.scope]
        self.deferred: list[tuple[Access, cst.Attribute | None, cst.BaseString | None]] = []
        self.top_level_attribute: list[cst.Attribute | None] = [None]
        self.in_annotation: list[bool] = [False]
        self.in_type_hint: list[bool] = [False]
        self.ignored_subscripts: set[cst.Subscript] = set()  # Literal[...]: strings in them are no code
        self.last_string_annotation: cst.BaseString | None = None

    def visit(self, node: cst.CSTNode) -> None:
        kind = type(node)
        if kind in SKIPPED:
            return
        method = WALK_VISITS.get(kind)
        if method is None or method(self, node):
            order = VISIT_ORDERS.get(kind)
            for name in visit_order(node) if order is None else order:
                value = getattr(node, name)
                what = VALUE_KINDS.get(type(value)) or value_kind(type(value))
                if what is NODE:
                    self.visit(value)
                elif what is SEQUENCE:
                    for child in value:
                        if (VALUE_KINDS.get(type(child)) or value_kind(type(child))) is NODE:
                            self.visit(child)
        if kind in ASSIGNMENT_LIKE:
            self.scope.count += 1
        leave = WALK_LEAVES.get(kind)
        if leave is not None:
            leave(self, node)

    def visit_each(self, nodes: Iterable[cst.CSTNode | None]) -> None:
        for node in nodes:
            if node is not None:
                self.visit(node)

    def enter(self, scope: Scope) -> Scope:
        """Make `scope` the current one; returns the one it replaces."""
        self.scopes.append(scope)
        outer, self.scope = self.scope, scope
        return outer

    def visit_Import(self, node: cst.Import | cst.ImportFrom) -> bool:
        if isinstance(node.names, cst.ImportStar):
            return False
        for alias in node.names:
            as_name = alias.name if alias.asname is None else cst.ensure_type(alias.asname.name, cst.Name)
            for name, _ in dotted_names(as_name):
                self.scope.record(name, node, ImportAssignment)
        return False

    visit_ImportFrom = visit_Import

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        if self.top_level_attribute[-1] is None:
            self.top_level_attribute[-1] = node
        self.visit(node.value)
        if self.top_level_attribute[-1] is node:
            self.top_level_attribute[-1] = None
        return False

    def visit_Call(self, node: cst.Call) -> bool:
        self.top_level_attribute.append(None)
        self.in_type_hint.append(False)
        names = self.scope.qualified_names_for(node)
        if "typing.NewType" in names or "typing.TypeVar" in names:
            self.visit(node.func)
            self.in_type_hint[-1] = True  # the arguments after the name are types
            self.visit_each(node.args[1:])
            return False
        if "typing.cast" in names:
            self.visit(node.func)
            if node.args:
                self.in_type_hint.append(True)  # the first argument is a type
                self.visit(node.args[0])
                self.in_type_hint.pop()
                self.visit_each(node.args[1:])
            return False
        return True

    def leave_Call(self, node: cst.Call) -> None:
        self.top_level_attribute.pop()
        self.in_type_hint.pop()

    def visit_Annotation(self, node: cst.Annotation) -> bool:
        self.in_annotation.append(True)
        return True

    def leave_Annotation(self, node: cst.Annotation) -> None:
        self.in_annotation.pop()

    def visit_SimpleString(self, node: cst.SimpleString) -> bool:
        self.string_annotation(node)
        return False

    def visit_ConcatenatedString(self, node: cst.ConcatenatedString) -> bool:
        return not self.string_annotation(node)

    def string_annotation(self, node: cst.SimpleString | cst.ConcatenatedString) -> bool:
        """Walk the code of a string in a type hint or annotation, its reads standing for the string;
        whether it was one."""
        if not (self.in_type_hint[-1] or self.in_annotation[-1]) or self.ignored_subscripts:
            return False
        value = node.evaluated_value
        if not value:
            return False
        outermost = self.last_string_annotation is None
        if outermost:
            self.last_string_annotation = node
        try:
            self.visit(cst.parse_module(value))
        except cst.ParserSyntaxError:
            pass  # not code: no reads, as for CPython
        if outermost:
            self.last_string_annotation = None
        return True

    def visit_Subscript(self, node: cst.Subscript) -> bool:
        in_type_hint = False
        if isinstance(node.value, cst.Name):
            names = self.scope.qualified_names_for(node.value)
            in_type_hint = any(name.startswith(("typing.", "typing_extensions.")) for name in names)
            if "typing.Literal" in names or "typing_extensions.Literal" in names:
                self.ignored_subscripts.add(node)
        self.in_type_hint.append(in_type_hint)
        return True

    def leave_Subscript(self, node: cst.Subscript) -> None:
        self.in_type_hint.pop()
        self.ignored_subscripts.discard(node)

    def visit_Name(self, node: cst.Name) -> bool:
        if id(node) in self.stored:
            self.scope.record(node.value, node)
        else:
            access = Access(node, self.scope, self.in_annotation[-1], self.in_type_hint[-1])
            self.deferred.append((access, self.top_level_attribute[-1], self.last_string_annotation))
        return False

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        self.scope.record(node.name.value, node)
        outer = self.scope
        if node.type_parameters is not None:
            self.enter(AnnotationScope(self.scope, node))
            self.visit(node.type_parameters)
        annotations = self.enter(FunctionScope(self.scope, node, get_full_name_for_node(node.name)))
        self.visit(node.params)
        self.visit(node.body)
        self.scope = annotations  # decorators and return annotation: outside the function
        self.visit_each([*node.decorators, node.returns])
        self.scope = outer
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        outer = self.enter(FunctionScope(self.scope, node))
        self.visit(node.params)
        self.visit(node.body)
        self.scope = outer
        return False

    def visit_Param(self, node: cst.Param) -> bool:
        self.scope.record(node.name.value, node)
        inner, self.scope = self.scope, self.scope.parent  # defaults and annotations: outside the function
        self.visit_each([node.default, node.annotation])
        self.scope = inner
        return False

    def visit_Arg(self, node: cst.Arg) -> bool:
        self.visit(node.value)  # a keyword is neither a binding nor a read
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        self.scope.record(node.name.value, node)
        self.visit_each(node.decorators)
        outer = self.scope
        if node.type_parameters is not None:
            self.enter(AnnotationScope(self.scope, node))
            self.visit(node.type_parameters)
        self.visit_each([*node.bases, *node.keywords])
        self.enter(ClassScope(self.scope, node, get_full_name_for_node(node.name)))
        self.visit_each(node.body.body)
        self.scope = outer
        return False

    def visit_Global(self, node: cst.Global) -> bool:
        for item in node.names:
            self.scope.record_global(item.name.value)
        return False

    def visit_Nonlocal(self, node: cst.Nonlocal) -> bool:
        for item in node.names:
            self.scope.record_nonlocal(item.name.value)
        return False

    def visit_comprehension(self, node: cst.ListComp | cst.SetComp | cst.DictComp | cst.GeneratorExp) -> bool:
        for_in = node.for_in
        self.visit(for_in.iter)  # the first iterable is evaluated outside the comprehension
        outer = self.enter(ComprehensionScope(self.scope, node))
        self.visit(for_in.target)
        self.scope.count += 1  # what follows sees the target
        self.visit_each([*for_in.ifs, for_in.inner_for_in])
        self.visit_each([node.key, node.value] if isinstance(node, cst.DictComp) else [node.elt])
        self.scope = outer
        return False

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = visit_comprehension

    def visit_For(self, node: cst.For) -> bool:
        self.visit(node.target)
        self.scope.count += 1
        self.visit_each([node.iter, node.body, node.orelse, node.asynchronous])
        return False

    def visit_TypeAlias(self, node: cst.TypeAlias) -> bool:
        self.scope.record(node.name.value, node)
        outer = self.enter(AnnotationScope(self.scope, node))
        self.visit_each([node.type_parameters, node.value])
        self.scope = outer
        return False

    def visit_TypeVar(self, node: cst.TypeVar) -> bool:
        self.scope.record(node.name.value, node)
        self.visit_each([node.bound])
        return False

    def visit_TypeVarTuple(self, node: cst.TypeVarTuple | cst.ParamSpec) -> bool:
        self.scope.record(node.name.value, node)
        return False

    visit_ParamSpec = visit_TypeVarTuple

    def infer_accesses(self) -> None:
        """Resolve the reads, once every binding is known (libcst's `infer_accesses`): a read inside
        `a.b.c` reads the longest of `a.b.c`, `a.b`, `a` that its scope sees; in a string annotation,
        the string."""
        for access, attribute, string in self.deferred:
            name = cst.ensure_type(access.node, cst.Name).value
            if attribute is not None:
                for dotted, node in dotted_names(attribute):
                    if dotted in access.scope:
                        access.node, name = node, dotted
                        break
            if string is not None:
                access.node = string
            access.resolve(name)
            access.scope.accesses.append(access)
        self.deferred = []


#: node type -> `ScopeWalk.visit_<type>` and `leave_<type>`.
WALK_VISITS: dict[type[cst.CSTNode], Callable[[ScopeWalk, Any], bool]] = {
    getattr(cst, name[len("visit_") :]): method
    for name, method in vars(ScopeWalk).items()
    if name.startswith("visit_") and isinstance(getattr(cst, name[len("visit_") :], None), type)
}
WALK_LEAVES: dict[type[cst.CSTNode], Callable[[ScopeWalk, Any], None]] = {
    getattr(cst, name[len("leave_") :]): method
    for name, method in vars(ScopeWalk).items()
    if name.startswith("leave_")
}


# What the walks here and in names.py know of libcst's trees: which fields of a node may hold
# nodes, the order a libcst visitor visits them in, and the nodes that hold no code.


@functools.cache
def node_fields(node_type: type[cst.CSTNode]) -> tuple[str, ...]:
    """The fields of `node_type` that may hold nodes: not those typed as text or flags (`Name.value`,
    `SimpleWhitespace.value`, `EmptyLine.indent`), which most nodes of a tree have."""
    return tuple(field.name for field in dataclasses.fields(node_type) if not is_scalar(field.type))


def is_scalar(annotation: object) -> bool:
    """`str`, `bool`, `int`, a `Literal`, or an optional one of them."""
    if annotation in (str, bool, int, type(None)):
        return True
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return True
    return origin is typing.Union and all(is_scalar(arg) for arg in typing.get_args(annotation))


NODE, SEQUENCE, OTHER = "node", "sequence", "other"
#: type -> NODE, SEQUENCE (list or tuple) or OTHER; isinstance against CSTNode, an ABC, is slow.
VALUE_KINDS: dict[type, str] = {}


def value_kind(value_type: type) -> str:
    kind = (
        NODE if issubclass(value_type, cst.CSTNode) else SEQUENCE if issubclass(value_type, (list, tuple)) else OTHER
    )
    VALUE_KINDS[value_type] = kind
    return kind


def visit_order(node: cst.CSTNode) -> tuple[str, ...]:
    """The fields of `node` in the order a libcst visitor visits them, but those that hold only
    whitespace and punctuation (`PUNCTUATION_FIELDS`): not always the order they are declared in (an
    `IfExp` visits `body` before `test`). Learned from one visit of a node of its type, which calls
    `on_visit_attribute` for each field (None ones too), kept in VISIT_ORDERS. A type that visits a
    field only when it is set (FormattedStringExpression's `format_spec`) is kept in PARTIAL_ORDERS
    with the fields not seen, and learned again from the first node that sets one of them."""
    kind = type(node)
    order = VISIT_ORDERS.get(kind)
    if order is not None:
        return order
    partial = PARTIAL_ORDERS.get(kind)
    if partial is not None and not any(holds_nodes(getattr(node, name)) for name in partial[1]):
        return partial[0]
    probe = FieldOrder(node)
    node.visit(probe)
    visited = dict.fromkeys(probe.fields)
    order = tuple(name for name in visited if not name.startswith(PUNCTUATION_FIELDS))
    unseen = tuple(name for name in node_fields(kind) if name not in visited)
    if not unseen:
        VISIT_ORDERS[kind] = order
        PARTIAL_ORDERS.pop(kind, None)
    elif partial is None or len(unseen) < len(partial[1]):
        PARTIAL_ORDERS[kind] = (order, unseen)
    return order


class FieldOrder(cst.CSTVisitor):
    """The fields of `node`, in the order a visit of it enters them; it enters none of its children."""

    def __init__(self, node: cst.CSTNode) -> None:
        super().__init__()
        self.node = node
        self.fields: list[str] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        return node is self.node

    def on_visit_attribute(self, original_node: cst.CSTNode, attribute: str) -> None:
        if original_node is self.node:
            self.fields.append(attribute)


def holds_nodes(value: object) -> bool:
    """A node, or a sequence that is not empty (a node field's sequences hold nodes)."""
    what = VALUE_KINDS.get(type(value)) or value_kind(type(value))
    return what is NODE or (what is SEQUENCE and len(value) > 0)  # type: ignore[arg-type]


VISIT_ORDERS: dict[type[cst.CSTNode], tuple[str, ...]] = {}
PARTIAL_ORDERS: dict[type[cst.CSTNode], tuple[tuple[str, ...], tuple[str, ...]]] = {}
#: Prefixes of the fields that hold whitespace and punctuation only.
PUNCTUATION_FIELDS = (
    "whitespace",
    "lpar",
    "rpar",
    "lbracket",
    "rbracket",
    "lbrace",
    "rbrace",
    "leading_lines",
    "lines_after_decorators",
    "trailing_whitespace",
    "leading_whitespace",
    "header",
    "footer",
)
#: Node types that hold nothing but whitespace and comments.
TRIVIA: frozenset[type[cst.CSTNode]] = frozenset(
    {
        cst.SimpleWhitespace,
        cst.ParenthesizedWhitespace,
        cst.TrailingWhitespace,
        cst.Newline,
        cst.EmptyLine,
        cst.Comment,
        cst.Comma,
        cst.Dot,
        cst.LeftParen,
        cst.RightParen,
        cst.LeftSquareBracket,
        cst.RightSquareBracket,
        cst.LeftCurlyBrace,
        cst.RightCurlyBrace,
        cst.AssignEqual,
        cst.Colon,
        cst.Semicolon,
        *(
            operator
            for base in (cst.BaseBinaryOp, cst.BaseBooleanOp, cst.BaseCompOp, cst.BaseUnaryOp, cst.BaseAugOp)
            for operator in base.__subclasses__()
        ),
    }
)
#: Nodes that hold no name, string or binding: whitespace, punctuation, operators, numbers.
SKIPPED: frozenset[type[cst.CSTNode]] = TRIVIA | {cst.Integer, cst.Float, cst.Imaginary, cst.ImportStar}
#: The nodes after which libcst's visitor advances the current scope's count (its `on_leave`).
ASSIGNMENT_LIKE: frozenset[type[cst.CSTNode]] = frozenset(
    {
        cst.AnnAssign,
        cst.AsName,
        cst.Assign,
        cst.AugAssign,
        cst.ClassDef,
        cst.CompFor,
        cst.FunctionDef,
        cst.Global,
        cst.Import,
        cst.ImportFrom,
        cst.NamedExpr,
        cst.Nonlocal,
        cst.Parameters,
        cst.WithItem,
        cst.TypeVar,
        cst.TypeAlias,
        cst.TypeVarTuple,
        cst.ParamSpec,
    }
)
