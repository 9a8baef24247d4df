"""converter/names.py: `scopes_of` gives exactly what libcst's MetadataWrapper gives for ScopeProvider."""

from __future__ import annotations

import textwrap

import libcst as cst
from libcst.metadata import ExpressionContextProvider, MetadataWrapper, Scope, ScopeProvider

from converter.names import (
    CollectBindings,
    CollectMentions,
    analyse_statement,
    bound_names,
    code_of,
    expression_contexts,
    mentioned_names,
    scopes_of,
)

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
