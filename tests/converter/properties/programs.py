"""Hypothesis strategies for small modular programs over the Toy base (tests/converter/properties/toy_base.py).

A program is `modular/modular_zed.py`: some of `ZedHelper(ToyHelper)`, `ZedThing(ToyThing)`,
`ZedModel(ToyModel)` (members from overrides.py), sometimes with a `Mixin` defined in the file as
a second base, sometimes a plain new class `ZedExtra`, and module-level redefinitions of
`SCALE`, `OFFSET`, `ZED_PREFIX`, `combine`, `label`, `bump` (with a new constant it reads), now
and then `WINDOW`, placed
before or after the classes, which inherited code must then reach. Classes may also get
overridden, added or removed (`x = AttributeError()`) class attributes, an own docstring, methods
removed by a body of only `raise AttributeError(...)`, and a new method calling helpers, other
methods and an import of the modular file.

A few draws are deliberately outside what the converter can unroll exactly (a `del` of an
attribute the base `__init__` does not assign, or of one already deleted; removing an attribute
the base lacks; a parameter that shadows a helper the inlined body reads; unrolling a base method
that returns early; a `**kwargs` spread that may carry an omitted parameter; naming `ToyHelper`
while redefining `ZedHelper`): they are listed in `Program.risky`. The converter may refuse
those, and some ordinary draws too (an argument bound by assignment that clobbers a local the
override reads later: E203), but only with located diagnostics, never a traceback.

Some ordinary draws are refused by design, with located diagnostics the property checks:
redefining `WINDOW` (drawn now and then), which inherited code reads at definition time
(`limit = WINDOW * 10`, `b=WINDOW`) unless the class overrides both: E210; a class body or a
default argument reading a helper the file redefines further down: E211. Removing
`ZedModel.score`, which `ZedThing` defines too (E212), is a risky draw. Both `ZedThing` and
`ZedModel` may be defined: the base's `class ZedModel(ZedThing)` then inherits the modular
ZedThing (DESIGN rule 6, modelled by the oracle).

Never drawn, because the overlay and the converter are known to disagree there: a string literal
bound to a parameter the base body puts in an f-string (in the forms of overrides.py
`super_arguments`). Nor is `**super_kwargs` drawn for a
method (or `__init__`) that the base calls positionally (the overlay's
`def m(self, bonus=0, **super_kwargs)` would take that argument as `bonus`: a limit of the
oracle, not of the converter; so not at all in ZedThing when ZedModel, whose base calls ZedThing's
methods positionally, is drawn too) or that the direct base does not define (E208).
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st

from tests.converter.properties.overrides import (
    Context,
    Signature,
    indent,
    init_override,
    method_override,
    removal,
)
from tests.converter.properties.toy_base import (
    BASE_CLASSES,
    HELPER,
    MODEL,
    THING,
    BaseClass,
    Param,
    all_methods,
    inherited_names,
)

HELPERS = {
    "SCALE": "SCALE = {n}\n",
    "OFFSET": "OFFSET = {n}\n",
    "ZED_PREFIX": 'ZED_PREFIX = "zz"\n',
    "combine": "def combine(a, b):\n    return a * SCALE - b\n",
    "label": 'def label(name):\n    return f"zed<{{name}}>"\n',
    "bump": "def bump(value):\n    return value * OFFSET + BIAS\n\n\nBIAS = {n}\n",
    "WINDOW": "WINDOW = {n}\n",  # drawn apart (see `programs`)
}
EXTRA_CLASS = """\
class ZedExtra:
    def __init__(self, width):
        self.helper = {helper}(width)
        self.value = combine(width, SCALE)

    def mix(self, n):
        return (self.helper.size(n), label(str(n)), self.value)
"""
MIXIN_CLASS = """\
class Mixin:
    mixin_flag = 1

    def mixed(self, n):
        return (label(str(n)), n * SCALE)
"""


@dataclass(frozen=True)
class ClassSpec:
    """One class of the modular file and what a test may call on it."""

    name: str
    source: str
    init: Signature
    methods: tuple[tuple[str, Signature], ...]
    removed: tuple[str, ...]  # members of the direct base removed the modular way
    docstring: str | None = None


@dataclass(frozen=True)
class Layout:
    """File-level choices: helpers before or after the classes, which class (index) takes the
    Mixin as a second base (-1: none), and whether the file imports math."""

    helpers_first: bool
    mixin_index: int
    imports_math: bool


@dataclass(frozen=True)
class Program:
    helpers: tuple[str, ...]
    classes: tuple[ClassSpec, ...]
    imports: tuple[str, ...]
    layout: Layout
    risky: tuple[str, ...]

    def modular_source(self) -> str:
        head = '"""Zed: a synthetic modular program."""\n\n' + ("import math\n\n" if self.layout.imports_math else "")
        if self.imports:
            head += f"from generated.toy.modeling_toy import {', '.join(self.imports)}\n"
        classes = [*([MIXIN_CLASS] if self.layout.mixin_index >= 0 else []), *(spec.source for spec in self.classes)]
        blocks = [*self.helpers, *classes] if self.layout.helpers_first else [*classes, *self.helpers]
        return head + "\n\n" + "\n\n".join(blocks)


@st.composite
def class_members(draw: st.DrawFn, base: BaseClass, ctx: Context, helpers_first: bool) -> tuple[list[str], list[str]]:
    """(class attribute lines, names of the attributes they remove)."""
    lines: list[str] = []
    removed: list[str] = []
    for attr in base.class_attributes:
        action = draw(st.sampled_from(["keep", "keep", "override", "remove"]))
        if action == "override":
            annotation = draw(st.sampled_from(["", ": int"])) if attr != "kind" else ""
            lines.append(f"{attr}{annotation} = {draw(st.integers(-3, 9)) if attr != 'kind' else repr('zed-kind')}")
        elif action == "remove":
            lines.append(f"{attr} = AttributeError()")
            removed.append(attr)
    if ctx.risk(draw, "removes an attribute the base class does not have"):
        lines.append("missing = AttributeError()")
    if draw(st.booleans()):
        # a definition-time read of a helper: E211 when the file redefines it further down
        values = ["SCALE + 1", "len(label('b'))"] if helpers_first else ["3", "3", "3", "SCALE + 1"]
        lines.append(f"bonus_attr = {draw(st.sampled_from(values))}")
    return lines, removed


@st.composite
def extra_method(draw: st.DrawFn, methods: dict[str, Signature], imports_math: bool) -> list[str]:
    """A new method: helpers, maybe the modular file's own import, maybe another method by keyword."""
    parts = ["combine(n, self.depth)", "bump(n)", "label(str(n))"] + (["math.gcd(n, 6)"] if imports_math else [])
    callable_ = [name for name, sig in methods.items() if all(p.kind == "int" for p in sig.params if not p.default)]
    if callable_ and draw(st.booleans()):
        name = draw(st.sampled_from(callable_))
        required = [p.name for p in methods[name].params if not p.default]
        parts.append(f"self.{name}({', '.join(f'{p}=n' for p in required)})")
    return ["def extra(self, n):", f"    return ({', '.join(parts)})"]


@st.composite
def modular_class(
    draw: st.DrawFn, base: BaseClass, ctx: Context, layout: Layout, mixin: bool, parent: ClassSpec | None
) -> ClassSpec:
    """One class; `parent`: the modular class drawn for its base's parent class (ZedThing for
    ZedModel), whose overrides and removals it inherits (DESIGN rule 6)."""
    docstring = f"{ctx.class_name}: drawn." if draw(st.booleans()) else None
    body = [f'"""{docstring}"""'] if docstring else []
    attributes, removed = draw(class_members(base, ctx, layout.helpers_first))
    body += attributes
    init = Signature(base.init)
    if draw(st.booleans()):
        init_lines, init = draw(init_override(base, ctx))
        body += ["", *init_lines]
    methods: dict[str, Signature] = {}
    removable = {m.name for m in base.methods} - inherited_names(base)
    if ctx.subclass is not None:  # not a method the subclass reaches through super() (messages differ)
        removable -= {m.name for m in ctx.subclass.methods}
    shadowing = sorted({m.name for m in base.methods} & inherited_names(base))
    forced = None  # ZedModel.score, which ZedThing defines too: E212
    if shadowing and ctx.risk(draw, "removes a method a parent class of the base defines too"):
        forced = draw(st.sampled_from(shadowing))
    inherited = dict(parent.methods) if parent is not None else {}
    for method in all_methods(base).values():
        if parent is not None and method.name in parent.removed:
            continue  # absent on both sides
        actions = ["keep", "keep", "override", "override"] + (["remove"] if method.name in removable else [])
        action = "remove" if method.name == forced else draw(st.sampled_from(actions))
        if action == "remove":
            body += ["", *removal(draw, method.name)]
            removed.append(method.name)
        elif action == "override":
            lines, methods[method.name] = method_override(draw, method, method in base.methods, ctx)
            body += ["", *lines]
        elif method not in base.methods and method.name in inherited:
            methods[method.name] = inherited[method.name]
        else:
            methods[method.name] = Signature(method.params, star_kwargs=method.star_kwargs)
    if mixin:
        methods["mixed"] = Signature((Param("n", "int"),))
    if draw(st.booleans()):
        body += ["", *draw(extra_method(methods, layout.imports_math))]
        methods["extra"] = Signature((Param("n", "int"),))
    bases = base.name + (", Mixin" if mixin else "")
    source = f"class {ctx.class_name}({bases}):\n" + "\n".join(indent(body or ["pass"])) + "\n"
    return ClassSpec(ctx.class_name, source, init, tuple(methods.items()), tuple(removed), docstring)


@st.composite
def programs(draw: st.DrawFn) -> Program:
    """A modular program over the Toy base; see the module docstring."""
    helper_names = draw(st.lists(st.sampled_from(sorted(set(HELPERS) - {"WINDOW"})), max_size=4, unique=True))
    if draw(st.integers(0, 11)) == 0:  # read at definition time by inherited code: mostly E210
        helper_names.append("WINDOW")
    helpers = tuple(HELPERS[name].format(n=draw(st.integers(1, 9))) for name in sorted(helper_names))
    choices = [[HELPER], [THING], [MODEL], [HELPER, THING], [HELPER, MODEL], [THING, MODEL], [HELPER, THING, MODEL]]
    bases = draw(st.sampled_from(choices))
    helper_ref = "ZedHelper" if HELPER in bases or draw(st.booleans()) else "ToyHelper"
    risky: list[str] = []
    if HELPER in bases and Context("", "", risky).risk(draw, "names ToyHelper, which the file redefines"):
        helper_ref = "ToyHelper"
    mixin_index = max(-1, draw(st.integers(-len(bases), len(bases) - 1)))  # no mixin half of the time
    layout = Layout(draw(st.booleans()), mixin_index, draw(st.booleans()))
    classes = []
    for index, base in enumerate(bases):
        subclass = next((other for other in bases if other.parent == base.name), None)
        ctx = Context(base.name.replace("Toy", "Zed", 1), helper_ref, risky, subclass=subclass)
        parent = next(
            (spec for spec in classes if base.parent and spec.name == base.parent.replace("Toy", "Zed")), None
        )
        classes.append(draw(modular_class(base, ctx, layout, index == mixin_index, parent)))
    if draw(st.integers(0, 3)) == 0:
        source = EXTRA_CLASS.format(helper=helper_ref)
        mix = (("mix", Signature((Param("n", "int"),))),)
        classes.append(ClassSpec("ZedExtra", source, Signature((Param("width", "int"),)), mix, ()))
    imports = {base.name for base in bases} | ({"ToyHelper"} if helper_ref == "ToyHelper" else set())
    ordered = tuple(name for name in BASE_CLASSES if name in imports)
    return Program(helpers, tuple(classes), ordered, layout, tuple(risky))


VALUES = {"int": st.integers(-2, 6), "str": st.sampled_from(["toy", "Zed", "", "a"])}


@st.composite
def call_arguments(draw: st.DrawFn, signature: Signature) -> tuple[tuple[object, ...], dict[str, object]]:
    """Arguments for one call: required parameters always, optional ones sometimes; positional
    while nothing was skipped (never for a `**super_kwargs` override); an extra keyword for `**kwargs`."""
    args: list[object] = []
    kwargs: dict[str, object] = {}
    positional = not signature.by_keyword and draw(st.booleans())
    for param in signature.params:
        if param.default is not None and draw(st.booleans()):
            positional = False
            continue
        value = draw(VALUES[param.kind])
        if positional and not param.keyword_only:
            args.append(value)
        else:
            kwargs[param.name] = value
    if signature.star_kwargs and draw(st.booleans()):
        kwargs["flag"] = draw(VALUES["int"])
    return tuple(args), kwargs
