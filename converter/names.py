"""Name analysis shared by the inheritance passes: which names a piece of code mentions, binds and
reads from module level, and a hygienic Name -> Name substitution.

Syntactic helpers (`mentions`, `bound_names`, `substitute_names`) look at variable positions only:
attribute names (`x.name`), keyword names (`f(name=1)`), parameter names and import names are not
variables. `analyse_statement` uses libcst's scope analysis instead, one top-level statement at a time
(libcst's scope classes, filled by `ScopeWalk`, a faster walk that makes the ScopeProvider's calls):

    analyse_statement(cst.parse_statement("def f(x):\\n    return torch.ones(x) + helper(x)\\n"))
    # (("f",), ("helper", "torch")): module-level names bound and read; builtins and locals excluded
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import re
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import libcst as cst
from libcst.helpers import get_full_name_for_node
from libcst.metadata import (
    Access,
    ClassScope,
    ComprehensionScope,
    ExpressionContext,
    ExpressionContextProvider,
    FunctionScope,
    GlobalScope,
    Scope,
    ScopeProvider,
)
from libcst.metadata.scope_provider import _ASSIGNMENT_LIKE_NODES, _gen_dotted_names

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


def analyse_statement(statement: cst.BaseStatement) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(names `statement` binds at module level, names it reads from module level), each sorted.

    Reads are accesses that resolve to module level or to nothing (builtins excluded); string
    annotations count by the names they mention. The statement is analysed on its own, so a name
    that another statement binds is unresolved here, which is exactly what makes it a use.
    """
    module = cst.Module(body=[statement])
    global_scope, scopes = module_scopes(module)
    defines = {assignment.name.split(".")[0] for assignment in global_scope.assignments}
    uses: set[str] = set()
    for scope in scopes:
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
            stack += [(child, context) for child in code_nodes(node)]
    return found


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


def code_nodes(node: cst.CSTNode) -> list[cst.CSTNode]:
    """`child_nodes` but whitespace, comments and punctuation (`TRIVIA`), about half of a tree's nodes:
    enough for a walk that looks for names, calls, strings or statements, none of which is ever under them."""
    found: list[cst.CSTNode] = []
    for name in node_fields(type(node)):
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
    """id of every node inside `module.body[i]` -> i, whitespace, comments and punctuation aside
    (`code_nodes`). A node object that several statements share belongs to the last of them, as a
    position lookup by line would place it."""
    owner: dict[int, int] = {}
    for index, statement in enumerate(module.body):
        stack: list[cst.CSTNode] = [statement]
        while stack:
            node = stack.pop()
            owner[id(node)] = index
            stack += code_nodes(node)
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


def module_scopes(module: cst.Module) -> tuple[GlobalScope, tuple[Scope, ...]]:
    """The global scope of `module` and every scope in it (the distinct values of `scopes_of`),
    built by `ScopeWalk` where it can and by libcst's ScopeProvider otherwise."""
    found = fast_scopes(module)
    if found is not None:
        return found
    scopes = scopes_of(module)
    global_scope = scopes[module]
    assert isinstance(global_scope, GlobalScope)
    distinct = {id(scope): scope for scope in scopes.values() if scope is not None}
    return global_scope, tuple(distinct.values())


def fast_scopes(module: cst.Module) -> tuple[GlobalScope, tuple[Scope, ...]] | None:
    """libcst's scopes of `module` (the same Scope, Assignment and Access objects, the same answers),
    built by `ScopeWalk` instead of ScopeProvider's visitor. None where the walk is not sure to
    agree (see `expression_contexts`), or too deep for it."""
    contexts = expression_contexts(module)
    if contexts is None:
        return None
    walk = ScopeWalk(contexts)
    try:
        walk.visit(module)
    except RecursionError:
        return None
    walk.infer_accesses()
    assert isinstance(walk.scopes[0], GlobalScope)
    return walk.scopes[0], tuple(walk.scopes)


class ScopeWalk:
    """libcst's `ScopeVisitor` (libcst/metadata/scope_provider.py) as a walk of node fields: the same
    scope calls in the same order, on libcst's own scope classes, without a visitor (which rebuilds
    every node it passes) and without recording a scope for every node. Each `visit_*` method here is
    the visitor's method of that name; the children of other nodes are walked in the visitor's order
    (`visit_order`)."""

    def __init__(self, contexts: Mapping[cst.CSTNode, ExpressionContext]) -> None:
        self.contexts = contexts
        self.scope: Scope = GlobalScope()
        self.scopes: list[Scope] = [self.scope]
        self.deferred: list[tuple[Access, cst.Attribute | None, cst.BaseString | None]] = []
        self.top_level_attribute: list[cst.Attribute | None] = [None]
        self.in_annotation: list[bool] = [False]
        self.in_type_hint: list[bool] = [False]
        self.ignored_subscripts: set[cst.Subscript] = set()
        self.last_string_annotation: cst.BaseString | None = None

    def visit(self, node: cst.CSTNode) -> None:
        kind = type(node)
        if kind in SKIPPED:
            return
        method = WALK_VISITS.get(kind)
        if method is None or method(self, node):
            order = VISIT_ORDERS.get(kind)
            for name in visit_order(kind) if order is None else order:
                value = getattr(node, name)
                what = VALUE_KINDS.get(type(value)) or value_kind(type(value))
                if what is NODE:
                    self.visit(value)
                elif what is SEQUENCE:
                    for child in value:
                        if (VALUE_KINDS.get(type(child)) or value_kind(type(child))) is NODE:
                            self.visit(child)
        if kind in ASSIGNMENT_LIKE:
            self.scope._assignment_count += 1
        leave = WALK_LEAVES.get(kind)
        if leave is not None:
            leave(self, node)

    def visit_all(self, nodes: Iterable[cst.CSTNode | None]) -> None:
        for node in nodes:
            if node is not None:
                self.visit(node)

    def new_scope(self, scope: Scope) -> Scope:
        self.scopes.append(scope)
        outer, self.scope = self.scope, scope
        return outer

    def visit_Import(self, node: cst.Import | cst.ImportFrom) -> bool:
        if isinstance(node.names, cst.ImportStar):
            return False
        for name in node.names:
            asname = name.asname
            if asname is not None:
                as_name = cst.ensure_type(asname.name, cst.Name)
            else:
                as_name = name.name
            for name_value, _ in _gen_dotted_names(as_name):
                self.scope.record_import_assignment(name_value, node, as_name)
        return False

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
        qnames = {qn.name for qn in self.scope.get_qualified_names_for(node)}
        if "typing.NewType" in qnames or "typing.TypeVar" in qnames:
            self.visit(node.func)
            self.in_type_hint[-1] = True
            self.visit_all(node.args[1:])
            return False
        if "typing.cast" in qnames:
            self.visit(node.func)
            if len(node.args) > 0:
                self.in_type_hint.append(True)
                self.visit(node.args[0])
                self.in_type_hint.pop()
                self.visit_all(node.args[1:])
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
        self.handle_string_annotation(node)
        return False

    def visit_ConcatenatedString(self, node: cst.ConcatenatedString) -> bool:
        return not self.handle_string_annotation(node)

    def handle_string_annotation(self, node: cst.SimpleString | cst.ConcatenatedString) -> bool:
        if (self.in_type_hint[-1] or self.in_annotation[-1]) and not self.ignored_subscripts:
            value = node.evaluated_value
            if value:
                top_level_annotation = self.last_string_annotation is None
                if top_level_annotation:
                    self.last_string_annotation = node
                try:
                    parsed = cst.parse_module(value)
                    self.visit(parsed)
                except cst.ParserSyntaxError:
                    pass
                if top_level_annotation:
                    self.last_string_annotation = None
                return True
        return False

    def visit_Subscript(self, node: cst.Subscript) -> bool:
        in_type_hint = False
        if isinstance(node.value, cst.Name):
            qnames = {qn.name for qn in self.scope.get_qualified_names_for(node.value)}
            if any(qn.startswith(("typing.", "typing_extensions.")) for qn in qnames):
                in_type_hint = True
            if "typing.Literal" in qnames or "typing_extensions.Literal" in qnames:
                self.ignored_subscripts.add(node)
        self.in_type_hint.append(in_type_hint)
        return True

    def leave_Subscript(self, node: cst.Subscript) -> None:
        self.in_type_hint.pop()
        self.ignored_subscripts.discard(node)

    def visit_Name(self, node: cst.Name) -> bool:
        context = self.contexts.get(node)
        if context is ExpressionContext.STORE:
            self.scope.record_assignment(node.value, node)
        else:
            access = Access(
                node,
                self.scope,
                is_annotation=self.in_annotation[-1],
                is_type_hint=self.in_type_hint[-1],
            )
            self.deferred.append((access, self.top_level_attribute[-1], self.last_string_annotation))
        return True

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        self.scope.record_assignment(node.name.value, node)
        outer = self.new_scope(FunctionScope(self.scope, node, get_full_name_for_node(node.name)))
        self.visit(node.params)
        self.visit(node.body)
        self.scope = outer
        self.visit_all(node.decorators)
        self.visit_all([node.returns])
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        outer = self.new_scope(FunctionScope(self.scope, node))
        self.visit(node.params)
        self.visit(node.body)
        self.scope = outer
        return False

    def visit_Param(self, node: cst.Param) -> bool:
        self.scope.record_assignment(node.name.value, node)
        inner, self.scope = self.scope, self.scope.parent
        self.visit_all([node.default, node.annotation])
        self.scope = inner
        return False

    def visit_Arg(self, node: cst.Arg) -> bool:
        self.visit(node.value)
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        self.scope.record_assignment(node.name.value, node)
        self.visit_all(node.decorators)
        self.visit_all(node.bases)
        self.visit_all(node.keywords)
        outer = self.new_scope(ClassScope(self.scope, node, get_full_name_for_node(node.name)))
        self.visit_all(node.body.body)
        self.scope = outer
        return False

    def visit_Global(self, node: cst.Global) -> bool:
        for name_item in node.names:
            self.scope.record_global_overwrite(name_item.name.value)
        return False

    def visit_Nonlocal(self, node: cst.Nonlocal) -> bool:
        for name_item in node.names:
            self.scope.record_nonlocal_overwrite(name_item.name.value)
        return False

    def visit_comprehension(self, node: cst.ListComp | cst.SetComp | cst.DictComp | cst.GeneratorExp) -> bool:
        for_in = node.for_in
        self.visit(for_in.iter)
        outer = self.new_scope(ComprehensionScope(self.scope, node))
        self.visit(for_in.target)
        self.scope._assignment_count += 1
        self.visit_all(for_in.ifs)
        self.visit_all([for_in.inner_for_in])
        if isinstance(node, cst.DictComp):
            self.visit(node.key)
            self.visit(node.value)
        else:
            self.visit(node.elt)
        self.scope = outer
        return False

    def visit_For(self, node: cst.For) -> bool:
        self.visit(node.target)
        self.scope._assignment_count += 1
        self.visit_all([node.iter, node.body, node.orelse, node.asynchronous])
        return False

    def infer_accesses(self) -> None:
        """`ScopeVisitor.infer_accesses`."""
        scope_name_accesses: dict[tuple[Scope, str], set[Access]] = {}
        for access, enclosing_attribute, enclosing_string_annotation in self.deferred:
            name = cst.ensure_type(access.node, cst.Name).value
            if enclosing_attribute is not None:
                for attr_name, node in _gen_dotted_names(enclosing_attribute):
                    if attr_name in access.scope:
                        access.node = node
                        name = attr_name
                        break
            if enclosing_string_annotation is not None:
                access.node = enclosing_string_annotation
            scope_name_accesses.setdefault((access.scope, name), set()).add(access)
            access.record_assignments(name)
            access.scope.record_access(name, access)
        for (scope, name), accesses in scope_name_accesses.items():
            for assignment in scope[name]:
                assignment.record_accesses(accesses)
        self.deferred = []


WALK_VISITS: dict[type[cst.CSTNode], Callable[[ScopeWalk, Any], bool]] = {
    cst.Import: ScopeWalk.visit_Import,
    cst.ImportFrom: ScopeWalk.visit_Import,
    cst.Attribute: ScopeWalk.visit_Attribute,
    cst.Call: ScopeWalk.visit_Call,
    cst.Annotation: ScopeWalk.visit_Annotation,
    cst.SimpleString: ScopeWalk.visit_SimpleString,
    cst.ConcatenatedString: ScopeWalk.visit_ConcatenatedString,
    cst.Subscript: ScopeWalk.visit_Subscript,
    cst.Name: ScopeWalk.visit_Name,
    cst.FunctionDef: ScopeWalk.visit_FunctionDef,
    cst.Lambda: ScopeWalk.visit_Lambda,
    cst.Param: ScopeWalk.visit_Param,
    cst.Arg: ScopeWalk.visit_Arg,
    cst.ClassDef: ScopeWalk.visit_ClassDef,
    cst.Global: ScopeWalk.visit_Global,
    cst.Nonlocal: ScopeWalk.visit_Nonlocal,
    cst.ListComp: ScopeWalk.visit_comprehension,
    cst.SetComp: ScopeWalk.visit_comprehension,
    cst.DictComp: ScopeWalk.visit_comprehension,
    cst.GeneratorExp: ScopeWalk.visit_comprehension,
    cst.For: ScopeWalk.visit_For,
}
WALK_LEAVES: dict[type[cst.CSTNode], Callable[[ScopeWalk, Any], None]] = {
    cst.Call: ScopeWalk.leave_Call,
    cst.Annotation: ScopeWalk.leave_Annotation,
    cst.Subscript: ScopeWalk.leave_Subscript,
}
#: The visitor's `on_leave` counts an assignment in the current scope after each of these.
ASSIGNMENT_LIKE: frozenset[type[cst.CSTNode]] = frozenset(_ASSIGNMENT_LIKE_NODES)
#: Nodes that hold no name, string or assignment-like node: whitespace, operators, numbers.
SKIPPED: frozenset[type[cst.CSTNode]] = frozenset(
    kind
    for kind in vars(cst).values()
    if isinstance(kind, type)
    and issubclass(kind, cst.CSTNode)
    and (
        kind.__module__ in ("libcst._nodes.whitespace", "libcst._nodes.op")
        or kind.__name__.startswith(("Left", "Right"))
        or kind in (cst.Integer, cst.Float, cst.Imaginary)
    )
)


def read_visit(node: cst.CSTNode, visitor: cst.CSTVisitor) -> None:
    """`node.visit(visitor)` for a visitor that only reads and looks at no whitespace or punctuation:
    the same `visit_*` and `leave_*` calls on the same nodes in the same order, without libcst's
    visit, which rebuilds every node it passes (several times slower). Attribute visitors
    (`visit_Call_func`) are not called, and `TRIVIA` nodes and fields (`visit_order`) not entered."""
    kind = type(node)
    if visitor.on_visit(node):
        order = VISIT_ORDERS.get(kind)
        for name in visit_order(kind) if order is None else order:
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


def visit_order(node_type: type[cst.CSTNode]) -> tuple[str, ...]:
    """The fields of `node_type` in the order a libcst visitor visits them, read off its
    `_visit_and_replace_children` (`visit_required(self, "value", ...)` and the like): not always
    the order the fields are declared in (an `IfExp` visits `body` before `test`). Fields that
    hold only whitespace and punctuation (`SKIPPED` nodes) are left out."""
    source = inspect.getsource(node_type._visit_and_replace_children)
    fields = dict.fromkeys(re.findall(r'visit_\w+\(\s*self,\s*"(\w+)"', source))
    order = tuple(name for name in fields if not name.startswith(PUNCTUATION_FIELDS))
    VISIT_ORDERS[node_type] = order
    return order


VISIT_ORDERS: dict[type[cst.CSTNode], tuple[str, ...]] = {}
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
