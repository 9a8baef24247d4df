"""The synthetic base model the property tests inherit from, and a table of its API.

`BASE_SOURCE` is written to `generated/toy/modeling_toy.py` of a temporary repository. It is plain
Python (no torch) built so that a converter mistake changes results: every method returns values
that depend on attributes set in `__init__`, on module-level helpers and constants (looked up at
call time), and on its arguments; strings mention the model name in renamed and unrenamed forms.

`WINDOW` is the one constant read at definition time (a class attribute and a default argument):
a modular file that redefines it while inheriting those reads is refused (E210).

The table (`BASE_CLASSES`) is written by hand from the source, independently of the converter:
the strategies use it to write overrides and to draw call arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["int", "str"]
Returns = Literal["int", "str", "seq"]

BASE_SOURCE = '''\
"""Toy: a plain-Python stand-in for a generated base model (tests/converter/properties)."""

import math

SCALE = 3
OFFSET = 7
WINDOW = 4
TOY_PREFIX = "toy"


def combine(a, b):
    return a * SCALE + b


def label(name):
    # the CamelCase, lower and UPPER forms are renamed; "toys" and "mytoy" are not
    return f"{TOY_PREFIX}:{name}:Toy/toys/mytoy"


def bump(value):
    return combine(value, OFFSET) % 97


class ToyHelper:
    def __init__(self, width, depth=2):
        self.width = width
        self.depth = depth
        self.total = combine(width, depth)

    def size(self, k):
        return self.total + k * self.depth

    def describe(self, prefix="h"):
        if not prefix:
            return label("empty")
        return f"{prefix}-{label('helper')}-{self.width}"


class ToyThing:
    """A thing of the Toy model."""

    kind = "thing"
    factor: int = 2
    limit = WINDOW * 10

    def __init__(self, width, depth=2, name="toy"):
        self.width = width
        self.depth = depth
        self.name = name
        self.helper = ToyHelper(width, depth)
        self.extra = bump(width)
        self.ratio = math.gcd(width, depth)

    def score(self, x, y=1):
        total = combine(x, y) + self.width
        return total * self.factor

    def forward(self, x, scale=1, **kwargs):
        base = self.helper.size(x) + scale
        return (base, self.name, sorted(kwargs))

    def tags(self):
        return [label(self.name), self.kind]

    def pair(self, a, b=WINDOW):
        return (a + self.depth, b - self.extra)

    def check(self, x):
        if x < 0:
            raise ValueError(f"negative {x} for {label(self.name)}")
        return bump(x) + self.extra

    def mark(self, text, *, times=2):
        return (label(text) + "|") * times + str(self.depth)


class ToyModel(ToyThing):
    def __init__(self, width, depth=2, name="model"):
        super().__init__(width, depth, name)
        self.layers = [ToyHelper(width + i, depth) for i in range(depth % 3)]

    def score(self, x, y=1):
        out = super().score(x, y)
        return out + len(self.layers)

    def summary(self):
        return (self.score(1), self.tags(), TOY_PREFIX)


__all__ = ["ToyHelper", "ToyThing", "ToyModel"]
'''


@dataclass(frozen=True)
class Param:
    """A parameter: `default` is its source text, None when it is required. `in_fstring`: the
    base body uses it inside an f-string (a string literal bound there breaks the converter)."""

    name: str
    kind: Kind
    default: str | None = None
    in_fstring: bool = False
    keyword_only: bool = False


@dataclass(frozen=True)
class Method:
    """A base method. `positional_callers`: the base calls it with positional arguments, so a
    `**super_kwargs` override (whose overlay signature takes only keywords) would not agree.
    `returns_early`: only `return super().m(...)` can unroll it (E203 otherwise)."""

    name: str
    params: tuple[Param, ...]
    returns: Returns
    star_kwargs: bool = False
    positional_callers: bool = False
    returns_early: bool = False


@dataclass(frozen=True)
class BaseClass:
    """A class of the base module: its own members only (`parent` holds the inherited ones)."""

    name: str
    parent: str | None
    init: tuple[Param, ...]
    init_attributes: tuple[str, ...]  # the self.<x> its own __init__ body assigns, once each
    methods: tuple[Method, ...]
    class_attributes: tuple[str, ...]
    constructed_positionally: bool = False  # as Method.positional_callers, for `__init__`


def _int(name: str, default: str | None = None) -> Param:
    return Param(name, "int", default)


HELPER = BaseClass(
    name="ToyHelper",
    parent=None,
    init=(_int("width"), _int("depth", "2")),
    init_attributes=("width", "depth", "total"),
    methods=(
        Method("size", (_int("k"),), "int", positional_callers=True),
        Method("describe", (Param("prefix", "str", '"h"', in_fstring=True),), "str", returns_early=True),
    ),
    class_attributes=(),
    constructed_positionally=True,
)
THING = BaseClass(
    name="ToyThing",
    parent=None,
    init=(_int("width"), _int("depth", "2"), Param("name", "str", '"toy"')),
    init_attributes=("width", "depth", "name", "helper", "extra", "ratio"),
    methods=(
        Method("score", (_int("x"), _int("y", "1")), "int", positional_callers=True),
        Method("forward", (_int("x"), _int("scale", "1")), "seq", star_kwargs=True),
        Method("tags", (), "seq"),
        Method("pair", (_int("a"), _int("b", "WINDOW")), "seq"),
        Method("check", (_int("x"),), "int"),
        Method("mark", (Param("text", "str"), Param("times", "int", "2", keyword_only=True)), "str"),
    ),
    class_attributes=("kind", "factor", "limit"),
)
MODEL = BaseClass(
    name="ToyModel",
    parent="ToyThing",
    init=(_int("width"), _int("depth", "2"), Param("name", "str", '"model"')),
    init_attributes=("layers",),
    methods=(
        Method("score", (_int("x"), _int("y", "1")), "int", positional_callers=True),
        Method("summary", (), "seq"),
    ),
    class_attributes=(),
)
BASE_CLASSES = {base.name: base for base in (HELPER, THING, MODEL)}


def all_methods(base: BaseClass) -> dict[str, Method]:
    """Every public method an instance of `base` has: its own, then those it inherits."""
    inherited = all_methods(BASE_CLASSES[base.parent]) if base.parent else {}
    return {**inherited, **{method.name: method for method in base.methods}}


def inherited_names(base: BaseClass) -> frozenset[str]:
    """Members `base` inherits from a parent class of the base module (attributes and methods)."""
    if base.parent is None:
        return frozenset()
    parent = BASE_CLASSES[base.parent]
    own = {method.name for method in parent.methods} | set(parent.class_attributes)
    return frozenset(own) | inherited_names(parent)
