"""converter/names.py: `scopes_of` gives exactly what libcst's MetadataWrapper gives for ScopeProvider."""

from __future__ import annotations

import textwrap

import libcst as cst
from libcst.metadata import ExpressionContextProvider, MetadataWrapper, Scope, ScopeProvider

from converter.names import (
    TRIVIA,
    CollectBindings,
    CollectMentions,
    analyse_statement,
    bound_names,
    child_nodes,
    code_nodes,
    code_of,
    expression_contexts,
    fast_scopes,
    mentioned_names,
    module_scopes,
    read_visit,
    scopes_of,
)
from converter.rename.namespace import analyse_module

SOURCE = textwrap.dedent(
    '''
    """Docstring."""
    from __future__ import annotations

    import os.path
    from typing import Literal, Optional

    import torch
    from torch import nn

    CONSTANT = 3
    __all__ = ["Model"]


    def helper(x: "torch.Tensor", *args, flag: Literal["a"] = "a", **kwargs) -> Optional[int]:
        global CONSTANT
        CONSTANT += 1
        total = [y for y in args if (z := y)]
        return (lambda v: v + z)(x) + len(total)


    @torch.no_grad()
    class Model(nn.Module):
        """A model."""

        size: "int" = CONSTANT

        def __init__(self, config: "Config") -> None:
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(1, 1) for _ in range(self.size)])
            del config

        def forward(self, hidden):
            for layer in self.layers:
                hidden = layer(hidden)
            try:
                import math
            except ImportError as error:
                raise RuntimeError(os.path.join("a", str(error))) from None
            with torch.no_grad() as unused:
                return math.pi * hidden, unused


    class Config:
        pass
    '''
)


def describe(module: cst.Module, scopes: object) -> object:
    """The scope metadata as plain data: nodes by identity (new nodes, from string annotations, by code)."""
    assert isinstance(scopes, dict) or hasattr(scopes, "items")
    in_tree: set[int] = set()
    stack: list[cst.CSTNode] = [module]
    while stack:
        node = stack.pop()
        in_tree.add(id(node))
        stack.extend(node.children)

    def key(node: object) -> object:
        if not isinstance(node, cst.CSTNode):
            return None
        return id(node) if id(node) in in_tree else ("new", type(node).__name__, code_of(node))

    order: dict[int, int] = {}
    found: list[Scope] = []
    for scope in scopes.values():  # type: ignore[attr-defined]
        if scope is not None and id(scope) not in order:
            order[id(scope)] = len(order)
            found.append(scope)

    def scope_id(scope: Scope | None) -> object:
        return None if scope is None else order.get(id(scope), type(scope).__name__)

    nodes = [(key(node), scope_id(scope)) for node, scope in scopes.items()]  # type: ignore[attr-defined]
    details = []
    for scope in found:
        assignments = sorted((a.name, str(key(getattr(a, "node", None))), type(a).__name__) for a in scope.assignments)
        accesses = sorted(
            (
                str(key(access.node)),
                access.is_annotation,
                access.is_type_hint,
                sorted((r.name, str(key(getattr(r, "node", None))), str(scope_id(r.scope))) for r in access.referents),
            )
            for access in scope.accesses
        )
        details.append((type(scope).__name__, scope_id(scope.parent), assignments, accesses))
    return nodes, details


def test_scopes_of_matches_metadata_wrapper() -> None:
    module = cst.parse_module(SOURCE)
    expected = describe(module, MetadataWrapper(module, unsafe_skip_copy=True).resolve(ScopeProvider))
    assert describe(module, scopes_of(module)) == expected


def test_analyse_statement_reads_and_binds() -> None:
    statement = cst.parse_statement("def f(x):\n    return torch.ones(x) + helper(x)\n")
    assert analyse_statement(statement) == (("f",), ("helper", "torch"))


def every_node(node: cst.CSTNode) -> list[cst.CSTNode]:
    found, stack = [], [node]
    while stack:
        current = stack.pop()
        found.append(current)
        stack.extend(current.children)
    return found


def test_fast_walks_find_what_the_visitors_find() -> None:
    """`mentioned_names` and `bound_names` walk node fields; `CollectMentions` and
    `CollectBindings` are libcst visitors: the same names, for every node of the sample."""
    for node in every_node(cst.parse_module(SOURCE)):
        collector = CollectMentions()
        node.visit(collector)
        assert sorted(map(id, mentioned_names(node))) == sorted(map(id, collector.nodes))
        for nested in (False, True):
            bindings = CollectBindings(nested)
            node.visit(bindings)
            assert bound_names([node], nested) == frozenset(bindings.names)


class RecordVisits(cst.CSTVisitor):
    """Every visit and leave of a node that is not whitespace or punctuation, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        if type(node) not in TRIVIA:
            self.calls.append(("visit", id(node)))
        return not isinstance(node, cst.Lambda)  # a visitor that prunes a subtree

    def on_leave(self, original_node: cst.CSTNode) -> None:
        if type(original_node) not in TRIVIA:
            self.calls.append(("leave", id(original_node)))


def test_read_visit_makes_the_calls_of_a_visit() -> None:
    module = cst.parse_module(SOURCE)
    visited, read = RecordVisits(), RecordVisits()
    module.visit(visited)
    read_visit(module, read)
    assert read.calls == visited.calls


def test_code_nodes_are_the_child_nodes_but_trivia() -> None:
    for node in every_node(cst.parse_module(SOURCE)):
        assert code_nodes(node) == [child for child in child_nodes(node) if type(child) not in TRIVIA]


def test_expression_contexts_match_the_provider() -> None:
    module = cst.parse_module(SOURCE)
    provider = ExpressionContextProvider()
    provider.visit_Module(module)
    assert expression_contexts(module) == dict(provider._computed)


def test_a_node_shared_with_two_contexts_is_left_to_the_provider() -> None:
    """`x = x` built with one Name object: the visitor's order decides its context, so the walk gives up."""
    name = cst.Name("x")
    shared = cst.Module(body=[cst.SimpleStatementLine([cst.Assign([cst.AssignTarget(name)], name)])])
    assert expression_contexts(shared) is None
    expected = describe(shared, MetadataWrapper(shared, unsafe_skip_copy=True).resolve(ScopeProvider))
    assert describe(shared, scopes_of(shared)) == expected


TRICKY = textwrap.dedent(
    """
    from __future__ import annotations
    import os.path
    import typing
    import typing as t
    from typing import TYPE_CHECKING, Literal, NewType, TypeVar, cast
    from typing_extensions import Literal as Lit
    from .sibling import *
    from . import relative

    T = TypeVar("T", bound="Base")
    UserId = NewType("UserId", "int")
    list = list(range(3))
    value = typing.cast("Optional[Base]", None)
    plain = cast("Base", os.path.join("a", "b"))
    choice: Literal["left", "right"] = "left"
    other: Lit["up"] | "Base" = "up"
    nested: "typing.Dict[str, 'Base']" = {}
    broken: "not valid python (" = None
    alias: t.Optional["Base"] = None
    CONSTANT = [y for x in CONSTANT for y in x if y]
    squares = {k: v for k, v in zip(range(3), range(3))}
    walrus = [last := item for item in range(3)]
    pick = a if b else c
    if (n := len(list)) > 1:
        del n
    if TYPE_CHECKING:
        from torch import Tensor


    def outer(x, /, y: "Tensor" = CONSTANT, *args: T, z=lambda q: q + y, **kwargs) -> "Base":
        global counter
        counter = 1
        state = 0

        def inner():
            nonlocal state
            state += counter
            return state, os.path.sep, os.getcwd()

        try:
            import math
        except (ImportError, ValueError) as error:
            raise RuntimeError(error) from None
        else:
            pass
        finally:
            del x
        with open(y) as handle, open(z) as (first, second):
            pass
        for index, (key, item) in enumerate(kwargs.items()):
            total = sum(i * index for i in range(key))
        else:
            total = -1
        return inner, math.pi, handle, first, total, (lambda: state)()


    @decorate(CONSTANT)
    class Base(Parent, metaclass=Meta):
        attribute = CONSTANT
        derived = [attribute for _ in range(3)]
        other = (lambda: attribute)()

        def method(self, option=attribute) -> Base:
            return attribute, self.attribute, Base

        class Inner:
            def deep(self):
                return Base.attribute, outer


    def shadow():
        print(len)
        len = 3
        return len


    def matcher(command):
        match command:
            case [action, *rest]:
                return action, rest
            case {"key": found, **others}:
                return found, others
            case Point(x=0, y=py) as point if py > 0:
                return point
            case _:
                return None
    """
)


def scope_structure(module: cst.Module, global_scope: Scope, scopes: object) -> object:
    """Every scope with its assignments and accesses (nodes by identity, or by code for the nodes
    parsed from string annotations), in no particular order."""
    in_tree = {id(node) for node in every_node(module)}

    def key(node: object) -> object:
        if not isinstance(node, cst.CSTNode):
            return None
        return id(node) if id(node) in in_tree else ("new", type(node).__name__, code_of(node))

    def scope_id(scope: Scope) -> object:
        if scope is global_scope:
            return "global"
        return (type(scope).__name__, key(getattr(scope, "node", None)))

    described = []
    for scope in scopes:  # type: ignore[attr-defined]
        assignments = sorted(
            (a.name, str(key(getattr(a, "node", None))), type(a).__name__, a._index, str(scope_id(a.scope)))
            for a in scope.assignments
        )
        accesses = sorted(
            (
                str(key(a.node)),
                a.is_annotation,
                a.is_type_hint,
                a._index,
                str(sorted((r.name, str(key(getattr(r, "node", None))), str(scope_id(r.scope))) for r in a.referents)),
            )
            for a in scope.accesses
        )
        qualified = sorted(str(q) for a in scope.accesses for q in scope.get_qualified_names_for(a.node))
        described.append(
            (str(scope_id(scope)), str(scope_id(scope.parent)), scope._name_prefix, assignments, accesses, qualified)
        )
    return sorted(described)


def test_the_scope_walk_builds_what_the_scope_provider_builds() -> None:
    """`fast_scopes` (a walk of node fields) against libcst's ScopeProvider, on the tricky module and on
    each of its statements alone (where imports, and with them `typing` names, are missing)."""
    module = cst.parse_module(TRICKY)
    for sample in [module, *(cst.Module(body=[statement]) for statement in module.body)]:
        fast = fast_scopes(sample)
        assert fast is not None
        slow = scopes_of(sample)
        distinct = {id(scope): scope for scope in slow.values() if scope is not None}.values()
        assert scope_structure(sample, fast[0], fast[1]) == scope_structure(sample, slow[sample], distinct)


def test_analyses_of_the_tricky_module() -> None:
    """What the scope analysis makes of the tricky cases, statement by statement."""
    module = cst.parse_module(TRICKY)
    found = {
        code_of(s).strip().splitlines()[-1 if isinstance(s, cst.ClassDef) else 0]: analyse_statement(s)
        for s in module.body
    }
    # alone, `TypeVar` is not known to come from typing: its string arguments are not annotations
    assert found['T = TypeVar("T", bound="Base")'] == (("T",), ("TypeVar",))
    assert found['choice: Literal["left", "right"] = "left"'] == (("choice",), ("Literal", "left", "right"))
    assert found["list = list(range(3))"] == (("list",), ())
    # libcst counts the inner `for`'s target only after its conditions: `if y` reads a module-level y
    assert found["CONSTANT = [y for x in CONSTANT for y in x if y]"] == (("CONSTANT",), ("y",))
    assert found["pick = a if b else c"] == (("pick",), ("a", "b", "c"))
    assert analyse_module(module)[module.body.index(next(s for s in module.body if "choice" in code_of(s)))] == (
        ("choice",),
        ("Literal",),
    )


def test_the_scope_walk_leaves_shared_nodes_to_the_provider() -> None:
    name = cst.Name("x")
    shared = cst.Module(body=[cst.SimpleStatementLine([cst.Assign([cst.AssignTarget(name)], name)])])
    assert fast_scopes(shared) is None
    global_scope, scopes = module_scopes(shared)
    slow = scopes_of(shared)
    assert scope_structure(shared, global_scope, scopes) == scope_structure(shared, slow[shared], [slow[shared]])
