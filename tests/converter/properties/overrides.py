"""Strategies for the members of one modular class: method overrides, `__init__` overrides and
their tails, each returned as source lines (a class body, unindented) with the signature a test
calls them with. programs.py assembles them into classes and programs.

Every override is written in the modular idiom of DESIGN.md: `out = super().m(...)` with
statements before and after it, `return super().m(...)`, `super().m(...)` for its effect,
`**super_kwargs`, removal by `raise AttributeError(...)`, and `__init__` tails that replace,
add and `del` attributes. Parameters keep or change their names; super() arguments are
positional, keyword, expressions, literals or left to their defaults. `self` is sometimes spelled
`this`, `super()` sometimes `super(ZedThing, self)`, and a delegating override sometimes fits
on one line.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

from hypothesis import strategies as st

from tests.converter.properties.toy_base import BaseClass, Method, Param, Returns

RISK_PERCENT = 4  # how often each deliberately refusable choice is taken
INT_ATTRIBUTES = frozenset({"width", "depth", "total", "extra", "ratio"})


@dataclass(frozen=True)
class Signature:
    """How a test calls a constructor or method. `by_keyword`: a `**super_kwargs` override, whose
    overlay signature takes the base parameters only by keyword."""

    params: tuple[Param, ...]
    by_keyword: bool = False
    star_kwargs: bool = False


@dataclass
class Context:
    """The class being drawn, how modular code names the helper class, and the risky choices made."""

    class_name: str
    helper_ref: str  # ToyHelper (the imported name) or ZedHelper
    risky: list[str] = field(default_factory=list)
    # the base of a class drawn beside it that subclasses it (ToyModel, for ZedModel beside
    # ZedThing): it calls this class's methods positionally and through super()
    subclass: BaseClass | None = None

    def risk(self, draw: st.DrawFn, what: str) -> bool:
        # a band away from 0 and 99, which hypothesis favours and shrinks towards
        taken = 50 <= draw(st.integers(0, 99)) < 50 + RISK_PERCENT
        if taken:
            self.risky.append(what)
        return taken


def indent(lines: list[str], depth: int = 1) -> list[str]:
    return ["    " * depth + line if line else "" for line in lines]


def int_expression(draw: st.DrawFn, names: list[str]) -> str:
    """An int expression of `names`, helpers and constants."""
    name = draw(st.sampled_from(names)) if names else "self.width"
    templates = ["combine({n}, OFFSET)", "{n} * SCALE - 1", "bump({n})", "len(label(str({n})))", "{n} + self.depth"]
    expressions = [template.format(n=name) for template in templates]
    return draw(st.sampled_from(expressions))


def value_expression(draw: st.DrawFn, returns: Returns, ints: list[str], strs: list[str]) -> str:
    if returns == "int":
        return int_expression(draw, ints)
    if returns == "str":
        text = draw(st.sampled_from(strs)) if strs else '"x"'
        return f"label({text}) + str(self.width)"
    return f"({int_expression(draw, ints)}, label(str(self.depth)))"


def own_params(draw: st.DrawFn, params: tuple[Param, ...], ctx: Context) -> list[Param]:
    """The override's parameters: the base's, some renamed (rarely to a helper's name: risky)."""
    names: list[str] = []
    for param in params:
        pool = [param.name, param.name, param.name, *(n for n in ("n", "v", "w") if n not in names)]
        name = draw(st.sampled_from(pool))
        if param.kind == "int" and ctx.risk(draw, "a parameter shadows the helper combine"):
            name = "combine"
        names.append(name if name not in names else param.name)
    return [dataclasses.replace(param, name=name) for name, param in zip(names, params, strict=True)]


def super_arguments(draw: st.DrawFn, base: tuple[Param, ...], own: list[Param]) -> list[str]:
    """Arguments for `super().m(...)`: positional, keyword, expression, literal, or omitted (a default)."""
    parts: list[str] = []
    keywords = False
    for param, mine in zip(base, own, strict=True):
        choices = ["same", "same", "keyword", "expression"]
        if not param.in_fstring:  # the plain case is fixed (test_known_converter_bugs); drawn forms still fail
            choices += ["literal", *(["omit"] if param.default else [])]
        choice = draw(st.sampled_from(choices))
        if choice == "omit":
            keywords = True
            continue
        value = {
            "same": mine.name,
            "keyword": mine.name,
            "expression": f"{mine.name} + 1" if param.kind == "int" else f'{mine.name} + "!"',
            "literal": draw(st.sampled_from(["2", "-1"] if param.kind == "int" else ['"lit"', '""'])),
        }[choice]
        keywords = keywords or param.keyword_only or choice == "keyword" or (choice != "same" and draw(st.booleans()))
        parts.append(f"{param.name}={value}" if keywords else value)
    return parts


def super_call(draw: st.DrawFn, method: str, args: list[str], ctx: Context) -> str:
    explicit = draw(st.integers(0, 5)) == 0
    return f"super({ctx.class_name + ', self' if explicit else ''}).{method}({', '.join(args)})"


def pre_statements(draw: st.DrawFn, ints: list[str]) -> list[str]:
    pool = ['self.calls = getattr(self, "calls", 0) + 1', f"note = combine({ints[0] if ints else 'SCALE'}, 2)"]
    pool += [f"{name} = {name} + 1" for name in ints]
    return draw(st.lists(st.sampled_from(pool), max_size=2, unique=True))


def def_line(name: str, params: list[Param], star_kwargs: bool) -> str:
    rendered = ["self"]
    for param in params:
        if param.keyword_only and "*" not in rendered:
            rendered.append("*")
        rendered.append(f"{param.name}={param.default}" if param.default else param.name)
    return f"def {name}({', '.join(rendered + (['**kwargs'] if star_kwargs else []))}):"


def spelled(draw: st.DrawFn, lines: list[str]) -> list[str]:
    """The method as written, or with `self` spelled `this` throughout."""
    if draw(st.integers(0, 5)) != 0:
        return lines
    return [re.sub(r"\bself\b", "this", line) for line in lines]


def method_override(draw: st.DrawFn, method: Method, own: bool, ctx: Context) -> tuple[list[str], Signature]:
    """A replaced, wrapped, delegated, called-for-effect or `**super_kwargs` override of `method`."""
    forms = ["replace", "wrap", "wrap", "return", "statement"]
    if own and not method.positional_callers and ctx.subclass is None:
        forms.append("super_kwargs")
    if method.returns_early and not ctx.risk(draw, "unrolls a base method that returns early"):
        forms = ["replace", "return"]
    form = draw(st.sampled_from(forms))
    if form == "super_kwargs":
        return super_kwargs_override(draw, method, ctx)
    params = own_params(draw, method.params, ctx)
    ints = [p.name for p in params if p.kind == "int"]
    strs = [p.name for p in params if p.kind == "str"]
    head = def_line(method.name, params, method.star_kwargs)
    signature = Signature(tuple(params), star_kwargs=method.star_kwargs)
    if form == "replace":
        return spelled(draw, [head, f"    return {value_expression(draw, method.returns, ints, strs)}"]), signature
    pre = pre_statements(draw, ints)
    args = super_arguments(draw, method.params, params)
    if method.star_kwargs:
        args += draw(st.sampled_from([[], ["**kwargs"], ["flag=1"]]))
        if "**kwargs" in args and len(args) - 1 < len(method.params):
            ctx.risky.append("a **kwargs spread may carry an omitted parameter")
    body = [*pre, *delegation(draw, form, super_call(draw, method.name, args, ctx), method.returns, ints, strs)]
    if form == "return" and not pre and draw(st.booleans()):
        return spelled(draw, [f"{head} {body[0]}"]), signature
    return spelled(draw, [head, *indent(body)]), signature


def delegation(draw: st.DrawFn, form: str, call: str, returns: Returns, ints: list[str], strs: list[str]) -> list[str]:
    if form == "return":
        return [f"return {call}"]
    if form == "statement":
        return [call, f"return {value_expression(draw, returns, ints, strs)}"]
    lines = [f"out{draw(st.sampled_from(['', ': object']))} = {call}"]
    tail = draw(st.booleans())
    if tail:
        lines.append("tail = label(str(out))")
    result = {
        "int": f"out * 2 + {int_expression(draw, ints)}",
        "str": 'out + "!"',
        "seq": f"(out, {int_expression(draw, ints)})",
    }[returns]
    return [*lines, f"return {result}" if not tail else f"return ({result}, tail)"]


def super_kwargs_override(draw: st.DrawFn, method: Method, ctx: Context) -> tuple[list[str], Signature]:
    default = draw(st.sampled_from(["0", "3", None]))
    bonus = Param("bonus", "int", default)
    body = ['self.calls = getattr(self, "calls", 0) + 1'] if draw(st.booleans()) else []
    body += [f"out = {super_call(draw, method.name, ['**super_kwargs'], ctx)}", "return (out, bonus * SCALE)"]
    head = f"def {method.name}(self, bonus{'=' + default if default else ''}, **super_kwargs):"
    signature = Signature((*method.params, bonus), by_keyword=True, star_kwargs=method.star_kwargs)
    return spelled(draw, [head, *indent(body)]), signature


def removal(draw: st.DrawFn, name: str) -> list[str]:
    """A body of only `raise AttributeError(...)` (or bare `raise AttributeError`), maybe documented."""
    docstring = ['    """Zed has no such method."""'] if draw(st.booleans()) else []
    error = draw(st.sampled_from(["AttributeError", f'AttributeError("{name} is not used by Zed")']))
    return [f"def {name}(self):", *docstring, f"    raise {error}"]


@st.composite
def init_override(draw: st.DrawFn, base: BaseClass, ctx: Context) -> tuple[list[str], Signature]:
    """`__init__` with super() and a merged tail, with `**super_kwargs`, or without super()."""
    forms = ["super", "super", "super", "full"] + (
        [] if base.constructed_positionally or ctx.subclass is not None else ["super_kwargs"]
    )
    form = draw(st.sampled_from(forms))
    if form == "super_kwargs":
        body = [super_call(draw, "__init__", ["**super_kwargs"], ctx), *draw(init_tail(base, ["boost"], [], ctx))]
        lines = ["def __init__(self, boost=1, **super_kwargs):", *indent(body)]
        return lines, Signature((*base.init, Param("boost", "int", "1")), by_keyword=True)
    params = own_params(draw, base.init, ctx)
    if draw(st.booleans()):
        params.append(Param("boost", "int", "1"))
    ints = [p.name for p in params if p.kind == "int"]
    strs = [p.name for p in params if p.kind == "str"]
    if form == "full":
        body = [f"self.width = {int_expression(draw, ints)}", f"self.label = label(str({params[0].name}))"]
    else:
        pre = draw(
            st.lists(st.sampled_from([f"{ints[0]} = {ints[0]} + 1", 'self.early = label("early")']), max_size=1)
        )
        args = super_arguments(draw, base.init, params[: len(base.init)])
        body = [*pre, super_call(draw, "__init__", args, ctx), *draw(init_tail(base, ints, strs, ctx))]
    return spelled(draw, [def_line("__init__", params, False), *indent(body)]), Signature(tuple(params))


@st.composite
def init_tail(draw: st.DrawFn, base: BaseClass, ints: list[str], strs: list[str], ctx: Context) -> list[str]:
    """Statements after `super().__init__()`: replace a base assignment, add one, or `del` one."""
    tail: list[str] = []
    # a `del` may follow a tail statement that assigned or read the attribute (the converter then
    # keeps the base assignment and the `del` in place); a later tail statement reading a deleted
    # attribute fails on both sides
    deleted: set[str] = set()
    for _ in range(draw(st.integers(0, 3))):
        action = draw(st.sampled_from(["replace", "add", "del"]))
        attr = draw(st.sampled_from(base.init_attributes))
        if action == "del":
            if attr in deleted and not ctx.risk(draw, "deletes an attribute twice"):
                continue
            if ctx.risk(draw, "del of an attribute the base __init__ does not assign"):
                attr = "missing"
            tail.append(f"del self.{attr}")
            deleted.add(attr)
        elif action == "add":
            tail.append(f"self.bonus = {int_expression(draw, ints)} + self.width")
        elif action == "replace":
            tail.append(f"self.{attr} = {attribute_value(draw, base, attr, ints, strs, ctx)}")
            deleted.discard(attr)
    return tail


def attribute_value(
    draw: st.DrawFn, base: BaseClass, attr: str, ints: list[str], strs: list[str], ctx: Context
) -> str:
    """A new value for `self.<attr>`; an int one may read another attribute (one the base sets
    later cannot be moved before it: the tail statement is then appended)."""
    if attr == "name":
        return f"label({strs[0]})" if strs else '"named"'
    if attr == "helper":
        return f"{ctx.helper_ref}({ints[0] if ints else 5}, 1)"
    if attr == "layers":
        return "[]"
    value = int_expression(draw, ints)  # may read self.<attr> itself (the converter then appends it)
    others = [other for other in base.init_attributes if other in INT_ATTRIBUTES and other != attr]
    return f"{value} + self.{draw(st.sampled_from(others))}" if others and draw(st.booleans()) else value
