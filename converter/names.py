"""Name analysis shared by the inheritance passes: which names a piece of code mentions, binds and
reads from module level, and a hygienic Name -> Name substitution.

Syntactic helpers (`mentions`, `bound_names`, `substitute_names`) look at variable positions only:
attribute names (`x.name`), keyword names (`f(name=1)`), parameter names and import names are not
variables. `analyse_statement` uses libcst's scope analysis instead, one top-level statement at a time:

    analyse_statement(cst.parse_statement("def f(x):\\n    return torch.ones(x) + helper(x)\\n"))
    # (("f",), ("helper", "torch")): module-level names bound and read; builtins and locals excluded
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType

import libcst as cst
from libcst.helpers import get_full_name_for_node
from libcst.metadata import ExpressionContext, ExpressionContextProvider, GlobalScope, Scope, ScopeProvider

SCOPES = (cst.FunctionDef, cst.Lambda, cst.ClassDef)


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
            stack += child_nodes(current)  # type: ignore[arg-type]
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
        stack += child_nodes(node)
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


def analyse_statement(statement: cst.BaseStatement) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(names `statement` binds at module level, names it reads from module level), each sorted.

    Reads are accesses that resolve to module level or to nothing (builtins excluded); string
    annotations count by the names they mention. The statement is analysed on its own, so a name
    that another statement binds is unresolved here, which is exactly what makes it a use.
    """
    module = cst.Module(body=[statement])
    scopes = scopes_of(module)
    global_scope = scopes[module]
    defines = {assignment.name.split(".")[0] for assignment in global_scope.assignments}
    uses: set[str] = set()
    for scope in {id(scope): scope for scope in scopes.values() if scope is not None}.values():
        for access in scope.accesses:
            if not access.referents or any(isinstance(ref.scope, GlobalScope) for ref in access.referents):
                uses.update(first_names(access.node))
    return tuple(sorted(defines)), tuple(sorted(uses - defines))


def scopes_of(module: cst.Module) -> Mapping[cst.CSTNode, Scope | None]:
    """libcst's scope metadata of `module`, keyed by its own nodes (no copy is made).

    The same mapping as `MetadataWrapper(module, unsafe_skip_copy=True).resolve(ScopeProvider)`
    (tests/converter/test_names.py compares them), at half the cost: the wrapper runs each of the
    two providers inside a batched visit of the whole tree that does nothing else, where both do
    their own traversal from `visit_Module`; here they are run directly.
    """
    contexts = expression_contexts(module)
    if contexts is None:
        provided = ExpressionContextProvider()
        provided.visit_Module(module)
        contexts = dict(provided._computed)
    provider = ScopeProvider()
    provider.metadata = {ExpressionContextProvider: MappingProxyType(contexts)}
    provider.visit_Module(module)
    return MappingProxyType(dict(provider._computed))


def expression_contexts(module: cst.Module) -> dict[cst.CSTNode, ExpressionContext] | None:
    """libcst's ExpressionContextProvider metadata of `module`, found by a walk of node fields that
    applies its visitor's rules, not by the visitor (which rebuilds every node it passes). The walk
    takes another order than the visitor, which matters only where one node object occurs twice in
    the tree with two different contexts (the last one wins): then it gives None, and the caller
    runs the provider itself."""
    load, store = ExpressionContext.LOAD, ExpressionContext.STORE
    found: dict[cst.CSTNode, ExpressionContext] = {}
    stack: list[tuple[cst.CSTNode | None, ExpressionContext]] = [(module, load)]

    def record(node: cst.CSTNode, context: ExpressionContext) -> bool:
        return found.setdefault(node, context) is context

    while stack:
        node, context = stack.pop()
        if node is None:
            continue
        kind = type(node)
        if kind is cst.Name:
            if not record(node, context):
                return None
        elif kind is cst.Assign:
            stack += [(target, store) for target in node.targets] + [(node.value, context)]
        elif kind is cst.AnnAssign:
            stack += [(node.target, store), (node.annotation, context), (node.value, context)]
        elif kind is cst.AugAssign or kind is cst.NamedExpr:
            stack += [(node.target, store), (node.value, context)]
        elif kind is cst.AsName:
            stack.append((node.name, store))
        elif kind is cst.CompFor:
            parts = [node.iter, *node.ifs, node.inner_for_in]
            stack += [(node.target, store)] + [(part, context) for part in parts]
        elif kind is cst.For:
            stack += [(node.target, store), (node.iter, context), (node.body, context), (node.orelse, context)]
        elif kind is cst.Del:
            stack.append((node.target, ExpressionContext.DEL))
        elif kind is cst.Attribute:
            if not record(node, context):
                return None
            stack.append((node.value, load))
        elif kind is cst.Subscript:
            if not record(node, context):
                return None
            slices = node.slice if isinstance(node.slice, Sequence) else [node.slice]
            stack += [(node.value, load)] + [(part, load) for part in slices]
        elif kind is cst.ClassDef:
            parts = [node.body, *node.bases, *node.keywords, *node.decorators]
            stack += [(node.name, store)] + [(part, context) for part in parts]
        elif kind is cst.FunctionDef:
            parts = [node.params, node.body, *node.decorators, node.returns]
            stack += [(node.name, store)] + [(part, context) for part in parts]
        elif kind is cst.Param:
            stack += [(node.name, store), (node.annotation, context), (node.default, context)]
        else:
            if (kind is cst.Tuple or kind is cst.List or kind is cst.StarredElement) and not record(node, context):
                return None
            stack += [(child, context) for child in child_nodes(node)]
    return found


@functools.cache
def node_fields(node_type: type[cst.CSTNode]) -> tuple[str, ...]:
    return tuple(field.name for field in dataclasses.fields(node_type))


def child_nodes(node: cst.CSTNode) -> list[cst.CSTNode]:
    """The nodes `node.children` gives, read straight off its fields (`children` rebuilds the node
    through a visitor to collect them, several times slower)."""
    found: list[cst.CSTNode] = []
    for name in node_fields(type(node)):
        value = getattr(node, name)
        kind = VALUE_KINDS.get(type(value)) or value_kind(type(value))
        if kind is NODE:
            found.append(value)
        elif kind is SEQUENCE:
            found += [item for item in value if (VALUE_KINDS.get(type(item)) or value_kind(type(item))) is NODE]
    return found


NODE, SEQUENCE, OTHER = "node", "sequence", "other"
#: type -> NODE, SEQUENCE (list or tuple) or OTHER; isinstance against CSTNode, an ABC, is slow.
VALUE_KINDS: dict[type, str] = {}


def value_kind(value_type: type) -> str:
    kind = (
        NODE if issubclass(value_type, cst.CSTNode) else SEQUENCE if issubclass(value_type, (list, tuple)) else OTHER
    )
    VALUE_KINDS[value_type] = kind
    return kind


def statement_owners(module: cst.Module) -> dict[int, int]:
    """id of every node inside `module.body[i]` -> i. A node object that several statements share
    belongs to the last of them, as a position lookup by line would place it."""
    owner: dict[int, int] = {}
    for index, statement in enumerate(module.body):
        stack: list[cst.CSTNode] = [statement]
        while stack:
            node = stack.pop()
            owner[id(node)] = index
            stack += child_nodes(node)
    return owner


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
