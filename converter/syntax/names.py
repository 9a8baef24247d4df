"""Name analysis shared by the inheritance passes: which names a piece of code mentions, binds and
reads from module level, and a hygienic Name -> Name substitution.

Syntactic helpers (`mentions`, `bound_names`, `substitute_names`) look at variable positions only:
attribute names (`x.name`), keyword names (`f(name=1)`), parameter names and import names are not
variables. `analyse_statement` uses scope analysis instead (libcst's rules, run by walk.py over scopes.py's classes),
one top-level statement at a time. The walks here use what fields.py knows of libcst's trees (which
fields hold nodes, the order a visitor visits them, trivia), so this module builds on it, not the
other way round:

    analyse_statement(cst.parse_statement("def f(x):\\n    return torch.ones(x) + helper(x)\\n"))
    # (("f",), ("helper", "torch")): module-level names bound and read; builtins and locals excluded
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Generic, TypeVar

import libcst as cst
from libcst.helpers import get_full_name_for_node

# callers import module_scopes, node_fields, NODE, SEQUENCE, VALUE_KINDS and value_kind from this module
from converter.syntax.fields import (
    NODE,
    SEQUENCE,
    TRIVIA,
    VALUE_KINDS,
    VISIT_ORDERS,
    node_fields,
    value_kind,
    visit_order,
)
from converter.syntax.walk import module_scopes

SCOPES = (cst.FunctionDef, cst.Lambda, cst.ClassDef)

T = TypeVar("T")


class CollectMentions(cst.CSTVisitor):
    """Every Name in a variable position, in source order (reads and writes alike)."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.nodes: list[cst.Name] = []

    def visit_Name(self, node: cst.Name) -> None:
        self.names.append(node.value)
        self.nodes.append(node)

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        node.value.visit(self)
        return False

    def visit_Arg(self, node: cst.Arg) -> bool:
        node.value.visit(self)
        return False

    def visit_Param(self, node: cst.Param) -> bool:
        for part in (node.annotation, node.default):
            if part is not None:
                part.visit(self)
        return False

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        for part in (*node.decorators, node.params, node.returns, node.body):
            if part is not None:
                part.visit(self)
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        for part in (*node.decorators, *node.bases, *node.keywords, node.body):
            part.visit(self)
        return False

    def visit_Import(self, node: cst.Import) -> bool:
        return False

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        return False

    def visit_Global(self, node: cst.Global) -> bool:
        return False

    def visit_Nonlocal(self, node: cst.Nonlocal) -> bool:
        return False


def mentions(nodes: Iterable[cst.CSTNode]) -> frozenset[str]:
    """Names used as variables anywhere in `nodes`, nested scopes included."""
    return frozenset(name.value for node in nodes for name in mentioned_names(node))


def mentioned_names(node: cst.CSTNode) -> list[cst.Name]:
    """The Name nodes `CollectMentions` collects in `node`, in no particular order, found without a
    libcst visit (which rebuilds every node it passes, several times slower)."""
    found: list[cst.Name] = []
    stack: list[cst.CSTNode | None] = [node]
    while stack:
        current = stack.pop()
        kind = type(current)
        if current is None or kind in NOT_MENTIONING:
            continue
        if kind is cst.Name:
            found.append(current)  # type: ignore[arg-type]
        elif kind is cst.Attribute or kind is cst.Arg:
            stack.append(current.value)  # type: ignore[union-attr]
        elif kind is cst.Param:
            stack += (current.annotation, current.default)  # type: ignore[union-attr]
        elif kind is cst.FunctionDef:
            stack += (*current.decorators, current.params, current.returns, current.body)  # type: ignore[union-attr]
        elif kind is cst.ClassDef:
            stack += (*current.decorators, *current.bases, *current.keywords, current.body)  # type: ignore[union-attr]
        else:
            stack += code_nodes(current)  # type: ignore[arg-type]
    return found


NOT_MENTIONING = (cst.Import, cst.ImportFrom, cst.Global, cst.Nonlocal)


class CollectBindings(cst.CSTVisitor):
    """Names bound in the scope being visited; with `nested`, also those bound in nested scopes."""

    def __init__(self, nested: bool) -> None:
        self.nested = nested
        self.names: list[str] = []

    def bind(self, target: cst.CSTNode) -> None:
        if isinstance(target, cst.Name):
            self.names.append(target.value)
        elif isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                self.bind(element.value)
        elif isinstance(target, cst.StarredElement):
            self.bind(target.value)

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self.bind(node.target)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self.bind(node.target)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self.bind(node.target)

    def visit_For(self, node: cst.For) -> None:
        self.bind(node.target)

    def visit_AsName(self, node: cst.AsName) -> None:
        self.bind(node.name)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self.bind(node.target)

    def visit_Del(self, node: cst.Del) -> None:
        self.bind(node.target)

    def visit_ImportAlias(self, node: cst.ImportAlias) -> None:
        if node.asname is None:
            self.names.append((get_full_name_for_node(node.name) or "").split(".")[0])

    def visit_CompFor(self, node: cst.CompFor) -> None:
        if self.nested:
            self.bind(node.target)

    def visit_Param(self, node: cst.Param) -> None:
        if self.nested:
            self.names.append(node.name.value)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        self.names.append(node.name.value)
        return self.nested

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        self.names.append(node.name.value)
        return self.nested

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return self.nested


def bound_names(nodes: Iterable[cst.CSTNode], nested: bool = False) -> frozenset[str]:
    """Names that `nodes` bind in their own scope (`nested=True`: in any scope, comprehensions included).

    What `CollectBindings` collects, found without a libcst visit (several times slower).
    """
    collector = CollectBindings(nested)
    stack: list[cst.CSTNode] = list(nodes)[::-1]
    while stack:
        node = stack.pop()
        kind = type(node)
        if kind in BINDING_TARGETS:
            collector.bind(getattr(node, BINDING_TARGETS[kind]))
        elif kind is cst.ImportAlias:
            collector.visit_ImportAlias(node)  # type: ignore[arg-type]
        elif nested and kind is cst.CompFor:
            collector.bind(node.target)  # type: ignore[attr-defined]
        elif nested and kind is cst.Param:
            collector.names.append(node.name.value)  # type: ignore[attr-defined]
        elif kind is cst.FunctionDef or kind is cst.ClassDef:
            collector.names.append(node.name.value)  # type: ignore[attr-defined]
            if not nested:
                continue
        elif kind is cst.Lambda and not nested:
            continue
        stack += code_nodes(node)
    return frozenset(collector.names)


#: The nodes whose `CollectBindings` visit binds one field of theirs, and that field.
BINDING_TARGETS: dict[type[cst.CSTNode], str] = {
    cst.AssignTarget: "target",
    cst.AnnAssign: "target",
    cst.AugAssign: "target",
    cst.For: "target",
    cst.AsName: "name",
    cst.NamedExpr: "target",
    cst.Del: "target",
}


class SubstituteVariables(cst.CSTTransformer):
    """Replace the variables in `targets` (ids of Name nodes in variable positions) by expressions."""

    def __init__(self, targets: set[int], values: Mapping[str, cst.BaseExpression]) -> None:
        self.targets = targets
        self.values = values

    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.BaseExpression:
        if id(original_node) in self.targets:
            return self.values[original_node.value]
        return updated_node


def substitute_names(
    statements: Sequence[cst.CSTNodeT], values: Mapping[str, str | cst.BaseExpression]
) -> list[cst.CSTNodeT]:
    """`statements` with every variable named in `values` replaced, simultaneously (`x -> y, y -> x` swaps).

    Attribute names, keywords, parameter and definition names are not variables and stay.
    """
    if not values:
        return list(statements)
    expressions = {name: cst.Name(value) if isinstance(value, str) else value for name, value in values.items()}
    out = []
    for statement in statements:
        targets = {id(node) for node in mentioned_names(statement) if node.value in expressions}
        out.append(statement.visit(SubstituteVariables(targets, expressions)) if targets else statement)
    return out  # type: ignore[return-value]


def is_self_attribute(node: cst.CSTNode, self_name: str, attr: str | None = None) -> bool:
    """`self.<attr>` (any attribute when `attr` is None)."""
    return (
        isinstance(node, cst.Attribute)
        and isinstance(node.value, cst.Name)
        and node.value.value == self_name
        and (attr is None or node.attr.value == attr)
    )


class CollectSelfAttributes(cst.CSTVisitor):
    """Attribute names read or written as `self.<name>` anywhere in the visited code."""

    def __init__(self, self_name: str) -> None:
        self.self_name = self_name
        self.names: list[str] = []

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if is_self_attribute(node, self.self_name):
            self.names.append(node.attr.value)


def self_attributes(nodes: Iterable[cst.CSTNode], self_name: str) -> frozenset[str]:
    collector = CollectSelfAttributes(self_name)
    for node in nodes:
        node.visit(collector)
    return frozenset(collector.names)


class NodeCache(Generic[T]):
    """Results computed from a libcst node, by node object: id(node) -> (node, result). Nodes are
    immutable, so a result stays true of its node; the node is kept so that its id stays its own.
    Passes ask about the same statements several times (the transformers dialect compares each
    unrolled statement with the parent's); the cache is emptied when it grows past `limit`."""

    def __init__(self, compute: Callable[[cst.CSTNode], T], limit: int = 200_000) -> None:
        self.compute = compute
        self.limit = limit
        self.results: dict[int, tuple[cst.CSTNode, T]] = {}

    def __call__(self, node: cst.CSTNode) -> T:
        known = self.results.get(id(node))
        if known is not None and known[0] is node:
            return known[1]
        if len(self.results) >= self.limit:
            self.results.clear()
        result = self.compute(node)
        self.results[id(node)] = (node, result)
        return result


def analyse_statement(statement: cst.BaseStatement) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(names `statement` binds at module level, names it reads from module level), each sorted.

    Reads are accesses that resolve to module level or to nothing (builtins excluded); string
    annotations count by the names they mention. The statement is analysed on its own, so a name
    that another statement binds is unresolved here, which is exactly what makes it a use.
    """
    return _analysed(statement)


def _analyse_statement(statement: cst.CSTNode) -> tuple[tuple[str, ...], tuple[str, ...]]:
    assert isinstance(statement, cst.BaseStatement)
    module = cst.Module(body=[statement])
    global_scope, scopes = module_scopes(module)
    defines = {assignment.name.split(".")[0] for assignment in global_scope.assignments}
    uses: set[str] = set()
    for scope in scopes:
        for access in scope.accesses:
            if not access.referents or any(ref.scope is global_scope for ref in access.referents):
                uses.update(first_names(access.node))
    return tuple(sorted(defines)), tuple(sorted(uses - defines))


_analysed: NodeCache[tuple[tuple[str, ...], tuple[str, ...]]] = NodeCache(_analyse_statement)


def child_nodes(node: cst.CSTNode) -> list[cst.CSTNode]:
    """The nodes `node.children` gives, read straight off its fields (`children` rebuilds the node
    through a visitor to collect them, several times slower)."""
    found: list[cst.CSTNode] = []
    for name in node_fields(type(node)):
        value = getattr(node, name)
        kind = VALUE_KINDS.get(type(value)) or value_kind(type(value))
        if kind is NODE:
            found.append(value)
        elif kind is SEQUENCE and value:
            found += [item for item in value if (VALUE_KINDS.get(type(item)) or value_kind(type(item))) is NODE]
    return found


#: Nodes whose only children are their parentheses (`TRIVIA`): a third of the code nodes of a tree.
CODE_LEAVES = frozenset({cst.Name, cst.SimpleString, cst.Integer, cst.Float, cst.Imaginary, cst.Ellipsis})


def code_nodes(node: cst.CSTNode) -> list[cst.CSTNode]:
    """`child_nodes` but whitespace, comments and punctuation (`TRIVIA`), about half of a tree's nodes:
    enough for a walk that looks for names, calls, strings or statements, none of which is ever under them."""
    node_type = type(node)
    if node_type in CODE_LEAVES:
        return []
    found: list[cst.CSTNode] = []
    for name in node_fields(node_type):
        value = getattr(node, name)
        value_type = type(value)
        if value_type in TRIVIA:
            continue
        kind = VALUE_KINDS.get(value_type) or value_kind(value_type)
        if kind is NODE:
            found.append(value)
        elif kind is SEQUENCE and value:
            found += [
                item
                for item in value
                if type(item) not in TRIVIA and (VALUE_KINDS.get(type(item)) or value_kind(type(item))) is NODE
            ]
    return found


def first_names(node: cst.CSTNode) -> tuple[str, ...]:
    """`a` for `a.b.c`; the names a string annotation mentions; nothing for anything else."""
    if isinstance(node, cst.SimpleString):
        try:
            node = cst.parse_expression(str(node.evaluated_value))
        except (cst.ParserSyntaxError, ValueError):
            return ()
    if isinstance(node, (cst.Name, cst.Attribute)):
        full_name = get_full_name_for_node(node)
        return (full_name.split(".")[0],) if full_name else ()
    return tuple(name for child in node.children for name in first_names(child))


def dotted_name(node: cst.CSTNode | None) -> str:
    """`a.b.c` for a Name/Attribute chain; "" for None or anything else."""
    return (get_full_name_for_node(node) or "") if node is not None else ""


def code_of(node: cst.CSTNode) -> str:
    return cst.Module(body=[]).code_for_node(node)


def mentions_name(node: cst.CSTNode, name: str) -> bool:
    """Whether a Name node spelled `name` occurs anywhere in `node` (attribute and keyword names
    included), without printing it; whitespace, comments and punctuation are not searched."""
    stack: list[cst.CSTNode] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, cst.Name) and current.value == name:
            return True
        stack += code_nodes(current)
    return False


def read_visit(node: cst.CSTNode, visitor: cst.CSTVisitor) -> None:
    """`node.visit(visitor)` for a visitor that only reads and looks at no whitespace or punctuation:
    the same `visit_*` and `leave_*` calls on the same nodes in the same order, without libcst's
    visit, which rebuilds every node it passes (several times slower). Attribute visitors
    (`visit_Call_func`) are not called, and `TRIVIA` nodes and fields (`visit_order`) not entered."""
    kind = type(node)
    if visitor.on_visit(node):
        order = VISIT_ORDERS.get(kind)
        for name in visit_order(node) if order is None else order:
            value = getattr(node, name)
            what = VALUE_KINDS.get(type(value)) or value_kind(type(value))
            if what is NODE:
                if type(value) not in TRIVIA:
                    read_visit(value, visitor)
            elif what is SEQUENCE:
                for child in value:
                    if type(child) not in TRIVIA and (VALUE_KINDS.get(type(child)) or value_kind(type(child))) is NODE:
                        read_visit(child, visitor)
    visitor.on_leave(node)
