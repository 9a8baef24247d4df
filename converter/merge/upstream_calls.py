"""Calls to a parent class by name, as upstream writes them (transformers dialect, W320 and W324).

Upstream's converter (`ReplaceParentClassCallTransformer`, run by `ReplaceSuperCallTransformer` on a
merged class) writes a call `Parent.method(args)` in a method the modular class defines as
`super().method(args)`, dropping a first argument named `self`, where `Parent` (its dotted name as
written) is one of the merged class's bases; so is `nn.Module` beside `GradientCheckpointingLayer`,
and `PreTrainedModel` beside a base whose name contains it. Only the statements before the method's
first `super().<method>(...)` statement (an expression or a `return` of its own) are rewritten: that
call unrolls the parent's body, with the statements after it, as written. The rewritten call stays a
call (upstream checks for a super() call before rewriting), whatever the parent defines:

    class DFineHybridEncoder(RTDetrHybridEncoder):        class DFineHybridEncoder(DFinePreTrainedModel):
        def __init__(self, config):                  ->        def __init__(self, config):
            DFinePreTrainedModel.__init__(config)                 super().__init__(config)

Python binds `config` to `self` there (a TypeError, usually). Each rewritten call whose
meaning changes records a drift (`judge_parent_calls`): W320 where the call passes no instance, or
where super() reaches another method than `Parent.method`; W324 for the `nn.Module` rule.

Merging unrolls super() calls after this rewrite, so a rewritten call is first written
`__upstream_super__().method(args)`, which nothing unrolls, and becomes `super()` once the class is
merged (`restore_super`). Nodes the rewrite does not change keep their identity (and their position
in the modular file, for diagnostics).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import libcst as cst

from converter.syntax.fields import NODE, SEQUENCE, VALUE_KINDS, node_fields, value_kind
from converter.syntax.names import bound_names, code_of, dotted_name, mentions_name

PLACEHOLDER = "__upstream_super__"
MODULE = "nn.Module"
CHECKPOINTING = "GradientCheckpointingLayer"
PRETRAINED = "PreTrainedModel"


@dataclass(frozen=True)
class ParentCall:
    """One call upstream writes `super().<method>(...)`: `call` as the modular file writes it (for its
    position), in `method` of class `owner`, whose merged bases are `bases`."""

    call: cst.Call
    parent: str
    method: str
    owner: str
    bases: tuple[str, ...]
    instance: bool  # its first argument is the enclosing method's instance (`self`), which upstream drops
    own: str  # the enclosing method's first parameter
    rewritten: str  # the call as upstream writes it

    @property
    def written(self) -> str:
        return one_line(self.call)


def matches_base(parent: str, bases: Sequence[str]) -> bool:
    """Upstream's test: `parent` is a base, or one of its two special cases."""
    return (
        parent in bases
        or (parent == MODULE and CHECKPOINTING in bases)
        or (parent == PRETRAINED and any(PRETRAINED in base for base in bases))
    )


def is_call_to_super(statement: cst.BaseStatement, method: str) -> bool:
    """`super().<method>(...)` or `return super().<method>(...)` as a statement of its own."""
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return False
    small = statement.body[0]
    value = small.value if isinstance(small, (cst.Expr, cst.Return)) else None
    if not isinstance(value, cst.Call) or not isinstance(value.func, cst.Attribute):
        return False
    inner = value.func.value
    return (
        value.func.attr.value == method
        and isinstance(inner, cst.Call)
        and isinstance(inner.func, cst.Name)
        and inner.func.value == "super"
    )


def rewrite_parent_calls(statement: cst.ClassDef, bases: Sequence[str], found: list[ParentCall]) -> cst.ClassDef:
    """`statement` (a modular class merging a model base) with its parent calls written
    `__upstream_super__().method(...)`; each is added to `found`."""
    body = statement.body
    if not isinstance(body, cst.IndentedBlock):
        return statement
    members = [
        rewrite_method(member, statement.name.value, tuple(bases), found)
        if isinstance(member, cst.FunctionDef)
        else member
        for member in body.body
    ]
    if all(new is old for new, old in zip(members, body.body, strict=True)):
        return statement
    return statement.with_changes(body=body.with_changes(body=members))


def rewrite_method(
    function: cst.FunctionDef, owner: str, bases: tuple[str, ...], found: list[ParentCall]
) -> cst.FunctionDef:
    """The statements of `function` before its first super() call to itself, rewritten."""
    if not isinstance(function.body, cst.IndentedBlock):
        return function
    params = [*function.params.posonly_params, *function.params.params]
    own = params[0].name.value if params else ""
    name = function.name.value
    statements = list(function.body.body)
    for index, statement in enumerate(statements):
        if is_call_to_super(statement, name):
            break

        def replace(call: cst.Call) -> cst.Call | None:
            parent = parent_of(call)
            if parent is None or not matches_base(parent, bases):
                return None
            instance = bool(call.args) and is_name(call.args[0].value, "self")
            func = call.func
            assert isinstance(func, cst.Attribute)
            args = call.args[1:] if instance else call.args
            written = call.with_changes(func=func.with_changes(value=cst.Call(cst.Name("super"))), args=args)
            method = attribute_of(call)
            found.append(
                ParentCall(call, parent, method, owner, bases, instance and own == "self", own, one_line(written))
            )
            return call.with_changes(func=func.with_changes(value=cst.Call(cst.Name(PLACEHOLDER))), args=args)

        statements[index] = replace_calls(statement, replace)
    if all(new is old for new, old in zip(statements, function.body.body, strict=True)):
        return function
    return function.with_changes(body=function.body.with_changes(body=statements))


def parent_of(call: cst.Call) -> str | None:
    """`nn.Module` for `nn.Module.__init__(...)`: the dotted name the called method is taken from."""
    func = call.func
    if not isinstance(func, cst.Attribute) or not isinstance(func.value, (cst.Name, cst.Attribute)):
        return None
    return dotted_name(func.value) or None


def one_line(node: cst.CSTNode) -> str:
    """The code of `node` on one line, for messages."""
    return " ".join(code_of(node).split()).replace("( ", "(").replace(", )", ")").replace(",)", ")")


def attribute_of(call: cst.Call) -> str:
    assert isinstance(call.func, cst.Attribute)
    return call.func.attr.value


def is_name(node: cst.CSTNode, name: str) -> bool:
    return isinstance(node, cst.Name) and node.value == name


Replace = Callable[[cst.Call], "cst.Call | None"]


def replace_calls(node: cst.CSTNode, replace: Replace) -> cst.CSTNode:
    """`node` with every call `replace` gives a new node for replaced (innermost first, as a libcst
    transformer's `leave_Call`); subtrees without such a call are the same objects."""
    changes: dict[str, object] = {}
    for field in node_fields(type(node)):
        value = getattr(node, field)
        kind = VALUE_KINDS.get(type(value)) or value_kind(type(value))
        if kind is NODE:
            new = replace_calls(value, replace)
            if new is not value:
                changes[field] = new
        elif kind is SEQUENCE and value:
            items = [
                replace_calls(item, replace)
                if (VALUE_KINDS.get(type(item)) or value_kind(type(item))) is NODE
                else item
                for item in value
            ]
            if any(new is not old for new, old in zip(items, value, strict=True)):
                changes[field] = type(value)(items) if isinstance(value, tuple) else items
    updated = node.with_changes(**changes) if changes else node
    if isinstance(updated, cst.Call):
        found = replace(updated)
        if found is not None:
            return found
    return updated


def restore_super(node: cst.ClassDef) -> cst.ClassDef:
    """`__upstream_super__()` written `super()` again, once the class is merged."""

    def replace(call: cst.Call) -> cst.Call | None:
        return call.with_changes(func=cst.Name("super")) if is_name(call.func, PLACEHOLDER) else None

    if not mentions_name(node, PLACEHOLDER):
        return node
    restored = replace_calls(node, replace)
    assert isinstance(restored, cst.ClassDef)
    return restored


# -- drifts ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClassInfo:
    """What the drift check needs of a class: its bases (dotted, as written) and the names its body binds."""

    bases: tuple[str, ...]
    members: frozenset[str]
    methods: dict[str, cst.FunctionDef] | None = None
    external: bool = False  # torch's (or another package's): its members are not read


Lookup = Callable[[str], ClassInfo | None]


def class_info(class_def: cst.ClassDef) -> ClassInfo:
    body = list(class_def.body.body) if isinstance(class_def.body, cst.IndentedBlock) else []
    methods = {s.name.value: s for s in body if isinstance(s, cst.FunctionDef)}
    bases = tuple(dotted_name(arg.value) for arg in class_def.bases if arg.keyword is None and not arg.star)
    return ClassInfo(bases, bound_names(body), methods)


def method_kind(info: ClassInfo | None, method: str) -> str:
    """ "staticmethod", "classmethod", "" (an instance method) or "?" (not known) for `method` in the class."""
    if info is None or info.methods is None:
        return "?"
    function = info.methods.get(method)
    if function is None:
        return "?" if method not in info.members else ""
    names = {dotted_name(d.decorator) for d in function.decorators}
    return next((kind for kind in ("staticmethod", "classmethod") if kind in names), "")


def shifted_arguments(call: ParentCall, lookup: Lookup, first: str) -> str:
    """What Python does with `Parent.method(arg, ...)` called without an instance: `arg` becomes `self`
    and every other positional argument moves one parameter left; a required parameter left without a
    value raises TypeError (the method's signature, where the parent class is known)."""
    info = lookup(call.parent)
    function = info.methods.get(call.method) if info is not None and info.methods else None
    if function is None:
        return f"Python binds {first} to self and shifts the other positional arguments left"
    positional = [*function.params.posonly_params, *function.params.params][1:]
    given = sum(1 for arg in call.call.args if arg.keyword is None and not arg.star) - 1
    keywords = {arg.keyword.value for arg in call.call.args if arg.keyword is not None}
    starred = any(arg.star for arg in call.call.args)
    missing = [
        p.name.value for p in positional[given:] if p.default is None and p.name.value not in keywords and not starred
    ]
    if missing:
        return f"Python binds {first} to self and raises TypeError (missing '{missing[0]}')"
    return f"Python binds {first} to self and shifts the other positional arguments left"


def drift_of(call: ParentCall, lookup: Lookup) -> tuple[str, str] | None:
    """(code, message) where `super().<method>(...)` in the generated class does something else than
    `call` does in Python; None where both do the same."""
    code = "W324" if call.parent == MODULE and call.parent not in call.bases else "W320"
    target = call.rewritten
    kind = method_kind(lookup(call.parent), call.method)
    if not call.instance and kind not in ("staticmethod", "classmethod"):
        if call.own != "self" and call.call.args and is_name(call.call.args[0].value, call.own):
            return code, f"{call.written} becomes {target}, which passes {call.own} a second time"
        first = call.call.args[0] if call.call.args else None
        if first is None or first.keyword is not None or first.star:
            why = "Python raises TypeError (missing 'self')"
        else:
            why = shifted_arguments(call, lookup, one_line(first.value))
        return code, f"{call.written} passes no instance: {why}, where upstream's {target} passes self"
    if kind == "classmethod":
        return (
            code,
            f"{call.written} becomes {target}, whose class argument is the instance's class, not {call.parent}",
        )
    reason = reach(call, lookup)
    return (code, f"{call.written} becomes {target}, {reason}") if reason else None


def reach(call: ParentCall, lookup: Lookup) -> str:
    """Why super() in the merged class may reach another `method` than `Parent.method`; "" when it
    provably reaches the same. Provably: the first base leads to `Parent` through classes of one base
    each that do not define `method`, and so on from `Parent` to the class that defines it (torch's
    classes are taken to define it), and none of those classes is an ancestor of another base
    (which Python's C3 order would then place first)."""
    if not call.bases:
        return f"but {call.owner} has no base"
    maybe = f"which starts at {call.bases[0]} and may reach another {call.method} than {call.parent}'s"
    chain, current = [], call.bases[0]
    while current != call.parent:
        info = lookup(current)
        if info is None or info.external or len(info.bases) != 1 or current in chain:
            return maybe
        if call.method in info.members:
            return f"which reaches {current}.{call.method} instead"
        chain.append(current)
        current = info.bases[0]
    if len(call.bases) == 1:
        return ""
    while True:
        info = lookup(current)
        if info is None or current in chain:
            return maybe
        chain.append(current)
        if info.external or call.method in info.members:
            break
        if len(info.bases) != 1:
            return maybe
        current = info.bases[0]
    ancestors = ancestors_of(call.bases[1:], lookup)
    if ancestors is None or ancestors & set(chain):
        return maybe
    return ""


def ancestors_of(bases: Sequence[str], lookup: Lookup) -> set[str] | None:
    """Every class `bases` inherit from, themselves included, up to torch's classes (which inherit no
    class of the library or a model); None where one cannot be read."""
    seen: set[str] = set()
    work = list(bases)
    while work:
        current = work.pop()
        if current in seen:
            continue
        seen.add(current)
        info = lookup(current)
        if info is None:
            return None
        work += info.bases
    return seen
