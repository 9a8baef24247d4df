"""converter/syntax/names.py: the fast walks find what libcst's visitors find (scope analysis: test_scopes.py)."""

from __future__ import annotations

import textwrap

import libcst as cst

from converter.rename.namespace import analyse_module
from converter.syntax.names import (
    TRIVIA,
    CollectBindings,
    CollectMentions,
    analyse_statement,
    bound_names,
    child_nodes,
    code_nodes,
    mentioned_names,
    read_visit,
)
from tests.converter.test_scopes import every_node

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


def test_analyse_statement_reads_and_binds() -> None:
    statement = cst.parse_statement("def f(x):\n    return torch.ones(x) + helper(x)\n")
    assert analyse_statement(statement) == (("f",), ("helper", "torch"))


def test_analyse_module_knows_the_whole_module() -> None:
    """`analyse_module` analyses every statement in one pass: `Literal` is known to come from typing,
    so the strings in it are no names; alone, the statement cannot know that."""
    module = cst.parse_module('from typing import Literal\nchoice: Literal["left", "right"] = "left"\n')
    assert analyse_module(module)[1] == (("choice",), ("Literal",))
    assert analyse_statement(module.body[1]) == (("choice",), ("Literal", "left", "right"))


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
