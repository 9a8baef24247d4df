"""The transformers dialect's method bodies, with their drift warnings (W301-W314).

`unroll_method` (converter/merge/unroll.py) hands a modular method here in the transformers
dialect. The body is upstream's (converter/merge/upstream_super.py); the exact unroll is tried too:

- where it refuses (E203, E207, E216), its message says exactly why Python differs: one drift,
  under the rule that reason belongs to (`REASONS`), at the refused node;
- where it gives the same statements as upstream's rule, nothing drifts;
- otherwise each upstream event that Python's unroll does not reproduce drifts: arguments not bound
  (W301), a discarded call's `return` copied (W302), `del` dropping a line or dropped itself
  (W310), `self.post_init()` moved after statements that call something (W311), an assignment replacing the parent's in place
  (W312), an object built on `self` moved after the parent's `super().__init__()` (W313), a repeated statement dropped (W306).

A super() call to a method the parent defines that upstream leaves a call (another method's, or
inside an expression) reaches the parent's own base in the generated class: W304, always.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import libcst as cst

from converter.diagnostics import ConversionError, Diagnostic
from converter.dialect import drift, drift_at, rule_of
from converter.merge.binding import bind_arguments
from converter.merge.override import CallSite, Override
from converter.merge.upstream_super import (
    Event,
    assign_target,
    is_call_to_super,
    normalized,
    single,
    super_call_name,
    unroll_like_upstream,
)
from converter.syntax.names import code_of, read_visit

#: refusal reason (a piece of the E203 message) -> the dialect rule that reason drifts under
REASONS: tuple[tuple[str, str], ...] = (
    ("discards the value", "W302"),
    ("returns early", "W302"),
    ("can fall through", "W302"),
    ("returns no value", "W302"),
    ("is decorated", "W303"),
    ("is a staticmethod", "W303"),
    ("is a classmethod", "W303"),
    ("runs twice", "W303"),
    ("async or a generator", "W303"),
    ("part of an expression or a block", "W304"),
    ("nested function", "W304"),
    ("referenced without being called", "W304"),
    ("inside a with block", "W304"),
    ("follows super().__init__()", "W304"),
    ("names another class", "W304"),
    ("is a property", "W304"),
    ("cannot be read here exactly", "W304"),
    ("module-level name", "W305"),
    ("the base body sets", "W305"),
    ("a local variable of the base body", "W305"),
)
REFUSALS = {"E203": "W301", "E207": "W310", "E216": "W314"}


def unroll_with_drifts(
    function: cst.FunctionDef,
    signature: cst.FunctionDef,
    override: Override,
    exact: Callable[[], cst.FunctionDef],
) -> cst.FunctionDef:
    """`signature` with upstream's body for `function` (an original modular method, indented body);
    the drifts recorded as the module docstring says."""
    body, events = unroll_like_upstream(function, override, override.upstream)
    empty = [cst.SimpleStatementLine([cst.Pass()])]
    result = signature.with_changes(body=function.body.with_changes(body=body or empty))
    refused: Diagnostic | None = None
    try:
        python: cst.FunctionDef | None = exact()
    except ConversionError as error:
        refused = error.diagnostics[0]
        if refused.code not in REFUSALS:
            raise
        python = None
    if refused is not None:
        record_refusal(override, refused, function)
    kept_calls(function, body, override, refused)
    if python is not None and same_statements(python, result):
        return result
    placed = frozenset(id(event.statements[1]) for event in events if event.kind == "in-place")
    for event in events:
        if refused is None or override.parsed.position(event.node) != (refused.line, refused.col):
            judge(event, python, function, signature, override, placed)
    return result


def record_refusal(override: Override, refused: Diagnostic, function: cst.FunctionDef) -> None:
    """One drift from the exact unroll's refusal, whose message says why Python differs. A decorated
    parent's body copied into an override without decorators is no W303: the override takes the
    parent's decorators (W321, converter/merge/upstream_members.py), which then wrap the whole override."""
    code = REFUSALS[refused.code]
    if refused.code == "E203":
        code = next((rule for piece, rule in REASONS if piece in refused.message), code)
        if "is decorated" in refused.message and not function.decorators:
            return
    if refused.code == "E203":
        message = refused.message.replace("cannot unroll ", "", 1).replace(
            " exactly: ", " is unrolled as upstream does, although ", 1
        )
    else:
        message = f"{refused.message}; upstream {rule_of(code).what}"
    drift_at(override.parsed, refused.line, refused.col, code, message)


def same_statements(python: cst.FunctionDef, result: cst.FunctionDef) -> bool:
    """Both bodies hold the same statements (comments and blank lines aside)."""
    return [normalized(s) for s in body_of(python)] == [normalized(s) for s in body_of(result)]


def body_of(function: cst.FunctionDef) -> list[cst.BaseStatement]:
    return list(function.body.body) if isinstance(function.body, cst.IndentedBlock) else []


def top_level_codes(function: cst.FunctionDef | None) -> set[str]:
    return {normalized(s) for s in body_of(function)} if function is not None else set()


def judge(
    event: Event,
    python: cst.FunctionDef | None,
    function: cst.FunctionDef,
    signature: cst.FunctionDef,
    override: Override,
    placed: frozenset[int] = frozenset(),
) -> None:
    """Record the drift of one upstream event, where Python's unroll (`python`, None when refused) differs."""
    parsed, base = override.parsed, override.base_class
    codes = top_level_codes(python)
    if event.kind == "unroll" and python is not None:
        judge_unroll(event, function, signature, override)
    elif event.kind == "in-place":
        replaced, statement = event.statements
        reason = in_place_reason(event, function, override, placed)
        if normalized(replaced) != normalized(statement) and reason is not None:
            message = f"`{event.detail} = ...` replaces {base}'s `{short(replaced)}` in place, so {reason}"
            drift(parsed, event.node, "W312", message)
    elif event.kind == "del":
        if not event.statements:
            message = (
                f"del {event.detail} matches no assignment of {base}'s body: upstream drops the statement, where "
                f"Python deletes {event.detail} (or raises AttributeError when nothing set it)"
            )
            drift(parsed, event.node, "W310", message)
        elif python is not None and any(normalized(s) in codes for s in event.statements):
            message = (
                f"del {event.detail} removes {base}'s assignment line instead of deleting {event.detail} after it runs"
            )
            drift(parsed, event.node, "W310", message)
    elif event.kind == "del-dropped" and deletion_observed(event.node, function):
        message = f"`{short(event.node)}` is dropped: upstream deletes nothing outside the statements after super()"
        drift(parsed, event.node, "W310", message)
    elif event.kind == "dedup":
        message = f"`{short(event.node)}` repeats a statement of {base}'s body and is dropped, so it runs once"
        drift(parsed, event.node, "W306", message)
    elif event.kind == "post-init" and any(calls_something(s) for s in event.statements[1:]):
        moved = event.statements[0]
        message = (
            f"`{short(moved)}` of {base}.{function.name.value} is moved after the "
            f"{len(event.statements) - 1} statement(s) that follow it"
        )
        drift(parsed, event.node, "W311", message)
    elif event.kind == "super-first" and (built := next((s for s in event.statements if builds_on_self(s)), None)):
        message = (
            f"`{short(built)}` runs before super().{function.name.value}() in Python, where nn.Module refuses "
            f"a submodule before its __init__ (and the parent's own super().__init__() may reset it); upstream "
            f"runs it after {base}'s own super().__init__() call"
        )
        drift(parsed, built, "W313", message)


def deletion_observed(statement: cst.CSTNode, function: cst.FunctionDef) -> bool:
    """Whether dropping `del ...` changes what runs: an attribute stays on the instance, or a deleted
    local is read afterwards (Python raises there); `del unused` changes nothing."""
    small = single(statement, cst.Del) if isinstance(statement, cst.SimpleStatementLine) else None
    target = getattr(small, "target", None)
    if not isinstance(target, cst.Name):
        return True
    own = body_of(function)
    index = next((i for i, s in enumerate(own) if s is statement), len(own))
    return any(reads(s, target.value) for s in own[index + 1 :])


def builds_on_self(statement: cst.BaseStatement) -> bool:
    """`self.x = Name(...)` or `self.x = nn.Name(...)` (a class, by its capital): an object, a submodule
    say, assigned on the instance. Plain values assigned before super().__init__() keep their meaning
    when they move after the parent's own super().__init__() call (nn.Module.__init__ leaves them)."""
    small = single(statement, (cst.Assign, cst.AnnAssign))
    target = assign_target(statement) or ""
    value = getattr(small, "value", None)
    if not target.startswith("self.") or not isinstance(value, cst.Call):
        return False
    name = code_of(value.func).strip().rsplit(".", 1)[-1]
    return name[:1].isupper()


def in_place_reason(event: Event, function: cst.FunctionDef, override: Override, placed: frozenset[int]) -> str | None:
    """Why replacing the parent's assignment in place changes what runs (None: it does not): a later
    parent statement reads the target, or the new value reads what a later parent statement, or an
    earlier statement of the override that upstream appends, assigns."""
    replaced, statement = event.statements
    parent = override.base_methods.get(function.name.value)
    statements = body_of(parent) if parent is not None else []
    index = next((i for i, s in enumerate(statements) if s is replaced), len(statements))
    later = [s for s in statements[index + 1 :] if id(s) not in placed]
    if reader := next((s for s in later if reads(s, event.detail)), None):
        return f"`{short(reader, 40)}` after it reads the new value, where Python reads the parent's"
    value = single(statement, (cst.Assign, cst.AnnAssign))
    read = [value.value] if value is not None and value.value is not None else []  # type: ignore[union-attr]
    own = body_of(function)
    start = next((i for i, s in enumerate(own) if s is statement), 0)
    call = next((i for i, s in enumerate(own) if is_call_to_super(s, function.name.value)), 0)
    pending = [s for s in own[call + 1 : start] if id(s) not in placed]
    for name in sorted({t for s in [*later, *pending] if (t := assign_target(s)) is not None}):
        if any(reads(part, name) for part in read):
            return f"its value reads {name} before the statement that Python runs first assigns it"
    return None


def calls_something(statement: cst.CSTNode) -> bool:
    """The statement calls something (builds a module, say), which `self.post_init()` may then act on
    when it runs after it; assignments of plain values are left alone by it."""
    finder = FindCalls()
    read_visit(statement, finder)
    return finder.found


class FindCalls(cst.CSTVisitor):
    def __init__(self) -> None:
        self.found = False

    def visit_Call(self, node: cst.Call) -> None:
        self.found = True


def reads(node: cst.CSTNode, target: str) -> bool:
    """`target` (a name or `self.x`) occurs in the code of `node`, as a whole name."""
    return re.search(rf"(?<![\w.]){re.escape(target)}(?!\w)", normalized(node)) is not None


def short(statement: cst.CSTNode, width: int = 60) -> str:
    """The statement's code on one line, cut to `width` characters."""
    code = " ".join(normalized(statement).split())
    return code if len(code) <= width else code[: width - 3] + "..."


def judge_unroll(event: Event, function: cst.FunctionDef, signature: cst.FunctionDef, override: Override) -> None:
    """W301 for an argument Python binds to another value than the override's variable of that name;
    W302 for a discarded call whose parent body returns a value."""
    statement = event.node
    assert isinstance(statement, cst.SimpleStatementLine)
    small = statement.body[0]
    call = getattr(small, "value", None)
    assert isinstance(call, cst.Call)
    method = function.name.value
    parent = override.base_methods[method]
    site = CallSite(statement, small, call, method, 0, function)
    try:
        bindings = bind_arguments(site, parent, signature, override)
    except ConversionError as error:
        drift(override.parsed, statement, "W301", error.diagnostics[0].message)
        return
    for item in bindings:
        if item.value is not None:
            message = (
                f"super().{method}() is unrolled without binding: {override.base_class}.{method}'s parameter "
                f"{item.param} reads this method's variable {item.param}, not `{code_of(item.value).strip()}`"
            )
            drift(override.parsed, statement, "W301", message)
            return
    returns = [
        s for s in body_of(parent) if isinstance(s, cst.SimpleStatementLine) and isinstance(s.body[-1], cst.Return)
    ]
    if isinstance(small, cst.Expr) and any(s.body[-1].value is not None for s in returns):  # type: ignore[attr-defined]
        message = (
            f"super().{method}() discards the value {override.base_class}.{method} returns, but upstream copies its "
            "`return`, so this method returns it"
        )
        drift(override.parsed, statement, "W302", message)


def kept_calls(
    function: cst.FunctionDef, body: Sequence[cst.BaseStatement], override: Override, refused: Diagnostic | None
) -> None:
    """W304 for each super() call or read, left as written in `body`, of a method the parent defines."""
    own = {id(s) for s in body_of(function)}
    finder = FindSuperUses()
    for statement in body:
        if id(statement) in own:
            read_visit(statement, finder)
    for node, name in finder.found:
        if name not in override.base_methods:
            continue
        line, col = override.parsed.position(node)
        if refused is not None and (refused.line, refused.col) == (line, col):
            continue
        message = (
            f"super().{name} stays as written, which in the generated class reaches the parent's own base, "
            f"not {override.base_class}.{name}"
        )
        drift(override.parsed, node, "W304", message)


class FindSuperUses(cst.CSTVisitor):
    """`super().name` attributes (called or read), with the name."""

    def __init__(self) -> None:
        self.found: list[tuple[cst.CSTNode, str]] = []

    def visit_Attribute(self, node: cst.Attribute) -> None:
        name = super_call_name(cst.Call(func=node))
        if name is not None:
            self.found.append((node, name))
