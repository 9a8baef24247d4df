"""Bind the arguments of a `super().method(...)` call to the base method's parameters, statically.

`bind_arguments` follows Python's own rules (positional, keyword, defaults, `*args`, `**kwargs`)
and refuses (E203) whatever it cannot decide without running the code: `*seq` arguments, a
`**mapping` that could carry a named parameter, a missing argument, too many arguments.
`plan_bindings` then chooses, per parameter, the simplest exact way to bind it in the inlined body:

    super().f(x)         param x: nothing, the body's `x` is already the caller's `x`
    super().f(hs)        param x: rename `x` to `hs` in the body (when neither is rebound there)
    super().f(x, 2.0)    param scale: `2.0` in place of `scale` in the body (a literal, same conditions)
    super().f(x + 1)     param x: `x = x + 1` before the body
    (no **kwargs given)  param **kwargs: drop `**kwargs` from the body's calls when that is all it
                         does with them, else `kwargs = {}`
    super().f(x, **kw)   param scale (default 1.0) not passed by name: `options = {**kw}` then
                         `scale = options.pop("scale", 1.0)` (a literal default only; a call that
                         Python would reject for a key passed twice is not refused)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import libcst as cst

from converter.diagnostics import ConversionError
from converter.merge.override import CallSite, Override
from converter.merge.signature import is_super_kwargs_call, param_names, uses_super_kwargs
from converter.syntax.names import CollectMentions, bound_names, mentions, substitute_names

ARGS, KWARGS = "*", "**"
POP = "pop"  # taken from the base's new **kwargs dict, after it is bound


@dataclass(frozen=True)
class Binding:
    """A base parameter and its argument; `value` None means the caller's variable of the same name."""

    param: str
    value: cst.BaseExpression | None
    star: str = ""


def bind_arguments(
    site: CallSite, base: cst.FunctionDef, signature: cst.FunctionDef, override: Override
) -> list[Binding]:
    params = base.params
    if is_super_kwargs_call(site.call) and uses_super_kwargs(site.function):
        return [Binding(name, None) for name in sorted(param_names(base)) if name != first_param(base)]
    positional = [*params.posonly_params, *params.params][1:]
    keywordable = [p for p in (*params.params[1:], *params.kwonly_params) if p not in params.posonly_params]
    values, extra_positional, extra_keywords, spread = read_arguments(site, positional, keywordable, override)
    star_arg, star_kwarg = params.star_arg, params.star_kwarg
    if extra_positional and not isinstance(star_arg, cst.Param):
        raise too_many_positional(site, len(positional), len(positional) + len(extra_positional), override)
    if extra_keywords and not isinstance(star_kwarg, cst.Param):
        raise override.refuse(site.call, site.what, "it passes keywords the base does not take", FIX)
    if spread is not None and not isinstance(star_kwarg, cst.Param):
        why = f"it passes **{code(spread)}, and the base takes no **kwargs"
        raise override.refuse(site.call, site.what, why, FIX)
    unbound = [p for p in keywordable if p.name.value not in values]
    popped = spread is not None and bool(unbound)
    if spread is not None and (extra_keywords or any(not poppable(p) for p in unbound)):
        names = [p.name.value for p in unbound if not poppable(p)]
        why = f"**{code(spread)} may or may not carry {', '.join(names) or 'the extra keywords'}"
        raise override.refuse(site.call, site.what, why, FIX)
    bindings = []
    for param in (*positional, *params.kwonly_params):
        if popped and param in unbound:
            continue
        value = values.get(param.name.value, param.default)
        if value is None:
            raise override.refuse(site.call, site.what, f"no argument for {param.name.value!r}", FIX)
        bindings.append(binding(param.name.value, value))
    if isinstance(star_arg, cst.Param):
        elements = [cst.Element(value) for value in extra_positional]
        bindings.append(Binding(star_arg.name.value, cst.Tuple(elements), ARGS))
    if isinstance(star_kwarg, cst.Param):
        value = spread if spread is not None else keywords_dict(extra_keywords)
        if popped:  # the base's own **kwargs: a new dict, from which its named parameters are taken
            assert spread is not None
            value = cst.Dict([cst.StarredDictElement(spread)])
        bindings.append(binding(star_kwarg.name.value, value, KWARGS))
    if popped:
        assert isinstance(star_kwarg, cst.Param)
        for param in unbound:
            assert param.default is not None
            pop = cst.Attribute(cst.Name(star_kwarg.name.value), cst.Name("pop"))
            arguments = [cst.Arg(cst.SimpleString(repr(param.name.value))), cst.Arg(param.default)]
            bindings.append(Binding(param.name.value, cst.Call(pop, arguments), POP))
    return bindings


def poppable(param: cst.Param) -> bool:
    """A parameter that `**mapping` may carry and that can be taken from it exactly with
    `kwargs.pop(name, default)`: it has a default that is the same value whenever it is written."""
    return param.default is not None and is_literal(param.default)


FIX = "pass the base method's parameters explicitly, by name"


def too_many_positional(site: CallSite, takes: int, passed: int, override: Override) -> ConversionError:
    """E203 giving both counts; when the first argument is the caller's `self`, the likely fault."""
    why = f"it passes {passed} positional arguments and the base takes at most {takes} (besides self)"
    first = site.call.args[0].value if site.call.args else None
    if isinstance(first, cst.Name) and first.value == self_name(site.function):
        fix = f"remove {first.value}: super().{site.method}(...) already passes it"
        return override.refuse(site.call, site.what, why, fix)
    return override.refuse(site.call, site.what, why, FIX)


def self_name(function: cst.FunctionDef) -> str:
    params = [*function.params.posonly_params, *function.params.params]
    return params[0].name.value if params else "self"


def read_arguments(
    site: CallSite, positional: Sequence[cst.Param], keywordable: Sequence[cst.Param], override: Override
) -> tuple[dict[str, cst.BaseExpression], list[cst.BaseExpression], list[cst.Arg], cst.BaseExpression | None]:
    """(parameter -> argument, extra positional, extra keywords, the `**mapping` if any)."""
    names = {p.name.value for p in keywordable}
    values: dict[str, cst.BaseExpression] = {}
    extra_positional: list[cst.BaseExpression] = []
    extra_keywords: list[cst.Arg] = []
    spread = None
    for arg in site.call.args:
        if arg.star == "*" or (arg.star == "**" and spread is not None):
            raise override.refuse(arg, site.what, f"the arguments {code(arg)} cannot be bound statically", FIX)
        if arg.star == "**":
            spread = arg.value
        elif arg.keyword is None and len(values) < len(positional) and not extra_positional:
            values[positional[len(values)].name.value] = arg.value
        elif arg.keyword is None:
            extra_positional.append(arg.value)
        elif arg.keyword.value in values:
            raise override.refuse(arg, site.what, f"{arg.keyword.value!r} is passed twice", FIX)
        elif arg.keyword.value in names:
            values[arg.keyword.value] = arg.value
        else:
            extra_keywords.append(arg)
    return values, extra_positional, extra_keywords, spread


def binding(param: str, value: cst.BaseExpression, star: str = "") -> Binding:
    same = isinstance(value, cst.Name) and value.value == param
    return Binding(param, None if same else value, star)


def keywords_dict(arguments: Sequence[cst.Arg]) -> cst.Dict:
    elements = [
        cst.DictElement(cst.SimpleString(repr(arg.keyword.value)), arg.value) for arg in arguments if arg.keyword
    ]
    return cst.Dict(elements)


def first_param(function: cst.FunctionDef) -> str:
    params = [*function.params.posonly_params, *function.params.params]
    return params[0].name.value if params else ""


@dataclass(frozen=True)
class BindingPlan:
    """How the bindings enter the inlined body: renames in it, spreads dropped from it, assignments before it."""

    renames: dict[str, str | cst.BaseExpression] = field(default_factory=dict)
    dropped_spreads: tuple[str, ...] = ()
    assignments: tuple[cst.SimpleStatementLine, ...] = ()
    assigned: frozenset[str] = frozenset()

    def apply(self, body: Sequence[cst.BaseStatement]) -> list[cst.BaseStatement]:
        body = substitute_names(body, self.renames)
        if self.dropped_spreads:
            remover = DropSpreads(frozenset(self.dropped_spreads))
            body = [statement.visit(remover) for statement in body]  # type: ignore[misc]
        return list(body)


def plan_bindings(
    bindings: Sequence[Binding],
    body: Sequence[cst.BaseStatement],
    base: cst.FunctionDef,
    base_self: str,
    own_self: str,
) -> BindingPlan:
    rebound = bound_names(body, nested=True)
    params = param_names(base)
    renames: dict[str, str | cst.BaseExpression] = {base_self: own_self} if base_self != own_self else {}
    dropped: list[str] = []
    assigned: list[tuple[str, cst.BaseExpression]] = []
    pops: list[tuple[str, cst.BaseExpression]] = []
    for item in bindings:
        value = item.value
        spread_only = item.star == KWARGS and only_spread(body, item.param)
        if value is None:
            continue
        if item.star == POP:
            pops.append((item.param, value))
            continue
        if spread_only and isinstance(value, cst.Dict) and not value.elements:
            dropped.append(item.param)
        elif isinstance(value, cst.Name) and renameable(item, value.value, rebound, params, spread_only):
            renames[item.param] = value.value
        elif (
            is_literal(value)
            and item.param not in rebound
            and not item.star
            and not owns_attributes(body, item.param)
            and not (isinstance(value, cst.SimpleString) and used_in_fstring(body, item.param))
        ):
            renames[item.param] = value
        elif item.star == KWARGS and not spread_only and not isinstance(value, cst.Dict):
            assigned.append((item.param, cst.Call(cst.Name("dict"), [cst.Arg(value)])))
        else:
            assigned.append((item.param, value))
    statements = assignments(assigned) + tuple(assign(cst.Name(name), value) for name, value in pops)
    return BindingPlan(renames, tuple(dropped), statements, frozenset(name for name, _ in [*assigned, *pops]))


def renameable(item: Binding, name: str, rebound: frozenset[str], params: frozenset[str], spread_only: bool) -> bool:
    """Renaming `param` to `name` in the body is exact when neither is rebound there or is another parameter."""
    if item.star == KWARGS and not spread_only:
        return False
    return item.param not in rebound and name not in rebound and name not in params


def is_literal(value: cst.BaseExpression) -> bool:
    """A number, a plain string, True, False or None: the same value wherever it is written."""
    if isinstance(value, cst.UnaryOperation) and isinstance(value.operator, cst.Minus):
        value = value.expression
    if isinstance(value, cst.Name):
        return value.value in ("True", "False", "None")
    return isinstance(value, (cst.Integer, cst.Float, cst.Imaginary, cst.SimpleString))


def owns_attributes(body: Sequence[cst.BaseStatement], name: str) -> bool:
    """`name.attr` occurs in the body (`1.real` would not parse, so such names are not replaced)."""
    finder = FindAttributeOwner(name)
    for statement in body:
        statement.visit(finder)
    return finder.found


def used_in_fstring(body: Sequence[cst.BaseStatement], name: str) -> bool:
    """`name` appears inside an f-string: a string literal written there would need other quotes."""
    finder = FindInFString(name)
    for statement in body:
        statement.visit(finder)
    return finder.found


class FindInFString(cst.CSTVisitor):
    def __init__(self, name: str) -> None:
        self.name = name
        self.depth = 0
        self.found = False

    def visit_FormattedStringExpression(self, node: cst.FormattedStringExpression) -> None:
        self.depth += 1

    def leave_FormattedStringExpression(self, original_node: cst.FormattedStringExpression) -> None:
        self.depth -= 1

    def visit_Name(self, node: cst.Name) -> None:
        if self.depth and node.value == self.name:
            self.found = True


class FindAttributeOwner(cst.CSTVisitor):
    def __init__(self, name: str) -> None:
        self.name = name
        self.found = False

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self.found = self.found or (isinstance(node.value, cst.Name) and node.value.value == self.name)


def only_spread(body: Sequence[cst.BaseStatement], name: str) -> bool:
    """`name` appears in the body only as `**name` arguments."""
    collector = CollectMentions()
    counter = CountSpreads(name)
    for statement in body:
        statement.visit(collector)
        statement.visit(counter)
    return collector.names.count(name) == counter.count


class CountSpreads(cst.CSTVisitor):
    def __init__(self, name: str) -> None:
        self.name = name
        self.count = 0

    def visit_Arg(self, node: cst.Arg) -> None:
        if node.star == "**" and isinstance(node.value, cst.Name) and node.value.value == self.name:
            self.count += 1


class DropSpreads(cst.CSTTransformer):
    """Remove `**name` arguments (names bound to an empty dict) from every call."""

    def __init__(self, names: frozenset[str]) -> None:
        self.names = names

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.Call:
        args = [arg for arg in updated_node.args if not self.is_dropped(arg)]
        if len(args) == len(updated_node.args):
            return updated_node
        if args:
            args[-1] = args[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        return updated_node.with_changes(args=args)

    def is_dropped(self, arg: cst.Arg) -> bool:
        return arg.star == "**" and isinstance(arg.value, cst.Name) and arg.value.value in self.names


def assignments(pairs: Sequence[tuple[str, cst.BaseExpression]]) -> tuple[cst.SimpleStatementLine, ...]:
    """`p = v` per pair; one tuple assignment when a value reads a parameter assigned before it."""
    targets = [name for name, _ in pairs]
    sequential = all(not (mentions([value]) & set(targets[:i])) for i, (_, value) in enumerate(pairs))
    if sequential:
        return tuple(assign(cst.Name(name), value) for name, value in pairs)
    left = cst.Tuple([cst.Element(cst.Name(name)) for name in targets], lpar=[], rpar=[])
    right = cst.Tuple([cst.Element(value) for _, value in pairs], lpar=[], rpar=[])
    return (assign(left, right),)


def assign(target: cst.BaseAssignTargetExpression, value: cst.BaseExpression) -> cst.SimpleStatementLine:
    return cst.SimpleStatementLine([cst.Assign([cst.AssignTarget(target)], value)])


def code(node: cst.CSTNode) -> str:
    return cst.Module(body=[]).code_for_node(node)
