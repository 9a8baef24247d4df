"""The walk that fills the scopes (scopes.py) by libcst's rules: `module_scopes`, the one entry point,
and the expression contexts it needs (which names a statement binds)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import libcst as cst
from libcst.helpers import get_full_name_for_node

from converter.syntax.fields import (
    ASSIGNMENT_LIKE,
    NODE,
    SEQUENCE,
    SKIPPED,
    VALUE_KINDS,
    VISIT_ORDERS,
    value_kind,
    visit_order,
)
from converter.syntax.scopes import (
    Access,
    AnnotationScope,
    ClassScope,
    ComprehensionScope,
    FunctionScope,
    GlobalScope,
    ImportAssignment,
    Scope,
    dotted_names,
)


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


def scopes_by_statement(module: cst.Module) -> tuple[GlobalScope, tuple[Scope, ...], dict[int, int]]:
    """`module_scopes`, and the owners of the nodes its bindings at module level and its reads name:
    node id -> index of the top-level statement holding the node, taken while the walk is in that
    statement, not from a second walk of the tree. A node object that several statements share
    belongs to the last of them, and a node no statement holds (one parsed from a string
    annotation) has none: as a walk of each statement's nodes would map them (the oracle of
    tests/converter/test_scopes.py)."""
    walk = ScopeWalk(stored_names(module))
    global_scope = walk.scopes[0]
    assert isinstance(global_scope, GlobalScope)
    walk.visit_each(module.header)
    reads: list[int] = []  # the statement of each deferred read, in order
    bindings: list[tuple[int, int, int]] = []  # (statement, first, end) of global_scope.assignments
    for index, statement in enumerate(module.body):
        first = len(global_scope.assignments)
        walk.visit(statement)
        bindings.append((index, first, len(global_scope.assignments)))
        reads += [index] * (len(walk.deferred) - len(reads))
    walk.visit_each(module.footer)
    deferred = [access for access, _, _ in walk.deferred[: len(reads)]]
    walk.infer_accesses()
    owners: dict[int, int] = {}
    for index, first, end in bindings:
        for assignment in global_scope.assignments[first:end]:
            if id(assignment) not in walk.annotation_bindings:
                owners[id(assignment.node)] = index
    for index, access in zip(reads, deferred, strict=True):
        owners[id(access.node)] = index
    return global_scope, tuple(walk.scopes), owners


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
        #: ids of the module-level bindings made by code parsed from a string annotation
        self.annotation_bindings: set[int] = set()

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
        global_assignments = self.scopes[0].assignments
        first = len(global_assignments)
        try:
            self.visit(cst.parse_module(value))
        except cst.ParserSyntaxError:
            pass  # not code: no reads, as for CPython
        self.annotation_bindings.update(id(assignment) for assignment in global_assignments[first:])
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
