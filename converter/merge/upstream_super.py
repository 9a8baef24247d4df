"""The transformers dialect's method bodies: upstream's `SuperTransformer`, statement by statement.

Upstream's converter (transformers' `utils/modular_model_converter.py`) rewrites every method of a
modular class this way (no argument binding, no hygiene):

- a top-level statement `super().m(...)` or `return super().m(...)` in the method `m` itself (the
  parent class defining `m`) is replaced by the parent's body, merged with every statement after
  it (`update_body`): a parent line `target = ...` (or `target: T = ...`) is dropped when a later statement is
  `del target`, and replaced in place by a later `target = ...`; the later statements that are
  not `del` and whose code (comments aside) is not already there follow the parent's body; the first
  statement calling `self.post_init(` then moves last. When the parent's body starts with a
  `super().__init__` call, the first statement calling `super().__init__` (after the docstring) moves
  first in the result (`_fix_init_location`), before what the override runs before the call;
- any other super() call (another method's, inside an expression or a block) stays a call;
- top-level `del` statements before that call, or in a method without one, are dropped.

`unroll_like_upstream` returns the upstream body and the `Event`s of each rule application;
converter/merge/super_drift.py decides which of them change what the modular code means.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import libcst as cst

from converter.merge.override import Override, UpstreamState
from converter.syntax.names import NodeCache

EMPTY = cst.Module(body=[])


@dataclass(frozen=True)
class Event:
    """One application of an upstream rule: `kind` (see super_drift.py), the modular node it reports
    at, and the statements it concerns (parent or modular)."""

    kind: str
    node: cst.CSTNode
    statements: tuple[cst.BaseStatement, ...] = ()
    detail: str = ""


def normalized(statement: cst.CSTNode) -> str:
    """The statement's code without comments and trailing spaces, as upstream compares statements."""
    return _normalized(statement)


def _normalize(statement: cst.CSTNode) -> str:
    code = re.sub(r"#.*", "", EMPTY.code_for_node(statement)).strip()
    return re.sub(r"\ *\n", "\n", code).strip()


_normalized: NodeCache[str] = NodeCache(_normalize)


def super_call_name(call: cst.BaseExpression | None) -> str | None:
    """`m` for `super().m(...)` (super() without arguments only), else None."""
    if not isinstance(call, cst.Call) or not isinstance(call.func, cst.Attribute):
        return None
    inner = call.func.value
    if (
        isinstance(inner, cst.Call)
        and isinstance(inner.func, cst.Name)
        and inner.func.value == "super"
        and not inner.args
    ):
        return call.func.attr.value
    return None


def is_call_to_super(statement: cst.BaseStatement, name: str) -> bool:
    """`super().name(...)` or `return super().name(...)`, alone on its line."""
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return False
    small = statement.body[0]
    return isinstance(small, (cst.Expr, cst.Return)) and super_call_name(small.value) == name


def is_docstring(statement: cst.BaseStatement) -> bool:
    """A triple-quoted string statement (upstream's DOCSTRING_NODE)."""
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return False
    small = statement.body[0]
    return (
        isinstance(small, cst.Expr)
        and isinstance(small.value, cst.SimpleString)
        and re.search(r"\"\"\"[\s\S]*\"\"\"", small.value.value) is not None
    )


def single(statement: cst.BaseStatement, kind: type | tuple[type, ...]) -> cst.BaseSmallStatement | None:
    """The small statement of a line holding exactly one, of `kind`."""
    if isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1:
        small = statement.body[0]
        return small if isinstance(small, kind) else None
    return None


def assign_target(statement: cst.BaseStatement) -> str | None:
    """The code of the (first) target of a one-statement assignment line, annotated or not (upstream
    matches on it)."""
    small = single(statement, (cst.Assign, cst.AnnAssign))
    if isinstance(small, cst.Assign):
        return EMPTY.code_for_node(small.targets[0].target)
    return EMPTY.code_for_node(small.target) if isinstance(small, cst.AnnAssign) and small.value else None


def del_target(statement: cst.BaseStatement) -> str | None:
    small = single(statement, cst.Del)
    return EMPTY.code_for_node(small.target) if isinstance(small, cst.Del) else None


def unroll_like_upstream(
    function: cst.FunctionDef, override: Override, state: UpstreamState
) -> tuple[list[cst.BaseStatement], list[Event]]:
    """(the body upstream writes for `function`, an original modular method with an indented body,
    the events of the rules it applied)."""
    assert isinstance(function.body, cst.IndentedBlock)
    name = function.name.value
    parent = override.base_methods.get(name)
    statements = list(function.body.body)
    body: list[cst.BaseStatement] = []
    events: list[Event] = []
    unrolled = False
    for index, statement in enumerate(statements):
        if parent is not None and is_call_to_super(statement, name):
            unrolled = True
            events.append(Event("unroll", statement))
            merged, merge_events = update_body(parent, statements[index + 1 :], statement, state)
            body.extend(merged)
            events += merge_events
            if starts_with_super_init(parent):
                body = fix_init_location(body, statement, events)
        elif is_docstring(statement):
            body.append(statement)
        elif del_target(statement) is not None:
            if not unrolled:
                events.append(Event("del-dropped", statement))
        elif not unrolled:
            body.append(statement)
    return body, events


def update_body(
    parent: cst.FunctionDef, after: Sequence[cst.BaseStatement], call: cst.BaseStatement, state: UpstreamState
) -> tuple[list[cst.BaseStatement], list[Event]]:
    """The parent's body merged with the statements `after` the super() call (module docstring)."""
    events: list[Event] = []
    for statement in after:
        if (target := assign_target(statement)) is not None:
            state.assigned[target] = statement
        if (target := del_target(statement)) is not None:
            state.deleted[target] = statement
    merged: list[cst.BaseStatement] = []
    seen: set[str] = set()
    removed: dict[str, list[cst.BaseStatement]] = {}
    parent_body = list(parent.body.body) if isinstance(parent.body, cst.IndentedBlock) else []
    for statement in parent_body:
        target = assign_target(statement)
        if target is not None and target in state.deleted:
            removed.setdefault(target, []).append(statement)
            continue
        if target is not None and target in state.assigned:
            replacement = state.assigned[target]
            events.append(Event("in-place", replacement, (statement, replacement), target))
            statement = replacement
        elif target is None and is_docstring(statement):
            continue
        merged.append(statement)
        seen.add(normalized(statement))
    for statement in after:
        code = normalized(statement)
        target = del_target(statement)
        if target is not None:
            events.append(Event("del", statement, tuple(removed.get(target, ())), target))
        elif any(statement is kept for kept in merged):
            continue
        elif code in seen:
            events.append(Event("dedup", statement, (statement,)))
        else:
            merged.append(statement)
            seen.add(code)
    return fix_post_init_location(merged, call, events), events


def fix_post_init_location(
    body: list[cst.BaseStatement], call: cst.BaseStatement, events: list[Event]
) -> list[cst.BaseStatement]:
    """The first statement calling `self.post_init(` moves last (upstream's _fix_post_init_location)."""
    for index, statement in enumerate(body):
        if "self.post_init(" in normalized(statement) and index < len(body) - 1:
            events.append(Event("post-init", call, (statement, *body[index + 1 :])))
            return [*body[:index], *body[index + 1 :], statement]
    return body


def starts_with_super_init(parent: cst.FunctionDef) -> bool:
    """The parent's body calls `super().__init__` first (after its docstring): only then does upstream
    move that call before the statements the override runs first."""
    statements = (
        [s for s in parent.body.body if not is_docstring(s)] if isinstance(parent.body, cst.IndentedBlock) else []
    )
    return bool(statements) and "super().__init__" in normalized(statements[0])


def fix_init_location(
    body: list[cst.BaseStatement], call: cst.BaseStatement, events: list[Event]
) -> list[cst.BaseStatement]:
    """The first statement calling `super().__init__` after the docstring moves first (upstream's
    _fix_init_location)."""
    start = 0
    for index, statement in enumerate(body):
        if is_docstring(statement) and index == start:
            start += 1
            continue
        if "super().__init__" in normalized(statement) and index > start:
            events.append(Event("super-first", call, tuple(body[start:index])))
            return [*body[:start], statement, *body[start:index], *body[index + 1 :]]
    return body
