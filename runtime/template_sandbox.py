"""A jinja2 sandbox whose renders are bounded: loop iterations, sizes, integers, a deadline.

jinja2's `ImmutableSandboxedEnvironment` keeps a template away from Python internals and from
mutating its inputs, and caps one `range()` at 100,000 items; it does not stop a template from
looping 100,000 x 100,000 times, or from asking for `'a' * 10**10`. `BoundedSandbox` adds:

- every `{% for %}` loop (and every recursive `loop(...)` call) iterates through the render's
  `Budget`, which counts iterations against `max_iterations` and checks the deadline;
- `*`, `**`, `+` and `%`, the string methods that pad, replace, join or format, and the filters
  that build text (`center`, `indent`, `replace`, `join`, `format`, `tojson`, `string`, `pprint`,
  `list`, `sum`, `batch`, `slice`) estimate the size of their result *before* building it and
  refuse past `max_chars` (integers past `max_int_bits`), and so does `lipsum`;
- every call, filter and operator checks the deadline, and the length of its result after.

The budget of the render in progress lives in a ContextVar (`rendering(...)` sets it), so one
compiled template can be cached and shared. Outside `rendering()` each check gets a fresh budget
of the default limits (sizes and the deadline still hold, iterations do not add up).
"""

from __future__ import annotations

import re
import string
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import wraps
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.runtime import LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import generate_lorem_ipsum


class ChatTemplateError(ValueError, jinja2.exceptions.TemplateError):
    """A chat template that cannot be used: not text, bad syntax, an error while rendering (its own
    `raise_exception` included), a render over its limits, a conversation of the wrong shape.
    Also a jinja2 `TemplateError`, which is what transformers raises."""


@dataclass(frozen=True)
class RenderLimits:
    """What one render may spend; real chat templates use a tiny fraction of each.

    max_iterations: loop iterations, all `{% for %}` loops of the render together.
    max_chars: characters of the output, and items of any string, list or dict built on the way.
    max_int_bits: bits of any integer the template computes (`10 ** 10 ** 8` has 332 million).
    timeout_s: wall-clock seconds for the whole render (None: no deadline).
    """

    max_iterations: int = 1_000_000
    max_chars: int = 2**24
    max_int_bits: int = 2**16
    timeout_s: float | None = 10.0


class Budget:
    """What the render in progress has spent; raises `ChatTemplateError` naming `label` past a limit."""

    def __init__(self, limits: RenderLimits, label: str) -> None:
        self.limits, self.label, self.iterations = limits, label, 0
        self.deadline = None if limits.timeout_s is None else time.monotonic() + limits.timeout_s

    def fail(self, what: str) -> ChatTemplateError:
        return ChatTemplateError(f"{self.label}: {what}")

    def tick(self, iterations: int = 0) -> None:
        self.iterations += iterations
        if self.iterations > self.limits.max_iterations:
            raise self.fail(f"more than {self.limits.max_iterations} loop iterations (RenderLimits.max_iterations)")
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise self.fail(f"still rendering after {self.limits.timeout_s} s (RenderLimits.timeout_s)")

    def check_chars(self, size: int, what: str) -> None:
        if size > self.limits.max_chars:
            raise self.fail(
                f"{what} would hold more than {self.limits.max_chars} characters or items (RenderLimits.max_chars)"
            )

    def check_bits(self, bits: int, what: str) -> None:
        if bits > self.limits.max_int_bits:
            raise self.fail(
                f"{what} would be an integer of more than {self.limits.max_int_bits} bits (RenderLimits.max_int_bits)"
            )


_BUDGET: ContextVar[Budget | None] = ContextVar("chat_template_budget", default=None)


@contextmanager
def rendering(limits: RenderLimits, label: str) -> Iterator[Budget]:
    """Renders inside the block share one budget of `limits`; errors name `label`."""
    budget = Budget(limits, label)
    token = _BUDGET.set(budget)
    try:
        yield budget
    finally:
        _BUDGET.reset(token)


def current_budget() -> Budget:
    return _BUDGET.get() or Budget(RenderLimits(), "chat template")


# ---- size estimates, each computed without building the result ----


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _length(value: Any) -> int:
    return len(value) if isinstance(value, (str, bytes, list, tuple, dict, set, frozenset)) else 0


def estimated_chars(value: Any, limit: int) -> int:
    """About `len(str(value))` (containers walked), counted only until it passes `limit`."""
    total, stack = 0, [value]
    while stack and total <= limit:
        item = stack.pop()
        if isinstance(item, (str, bytes)):
            total += len(item)
        elif _is_int(item):
            total += item.bit_length() // 3 + 1
        elif isinstance(item, (Mapping, list, tuple, set, frozenset)):
            total += 2 + 4 * len(item)
            if total <= limit:
                stack.extend([*item.keys(), *item.values()] if isinstance(item, Mapping) else item)
        else:
            total += 8  # None, floats, Undefined, other objects print short
    return total


def _int_arg(args: tuple, kwargs: dict, index: int, name: str, default: Any = 0) -> int:
    value = args[index] if len(args) > index else kwargs.get(name, default)
    return value if _is_int(value) else 0


def replaced_chars(text: Any, old: Any, new: Any, count: Any = -1) -> int:
    """The length of `text.replace(old, new, count)`."""
    if not all(isinstance(part, str) for part in (text, old, new)):
        return 0
    matches = len(text) + 1 if old == "" else text.count(old)
    if _is_int(count) and count >= 0:
        matches = min(matches, count)
    return len(text) + matches * max(len(new) - len(old), 0)


_PRINTF_FIELD = re.compile(r"%[-+ #0]*(\*|\d+)?(?:\.(\*|\d+))?")


def formatted_chars(template: str, args: tuple, kwargs: Mapping, printf: bool) -> int:
    """An upper bound of the length of `template % args` (printf) or `template.format(...)`."""
    if printf:
        widths = [width for match in _PRINTF_FIELD.finditer(template) for width in match.groups() if width]
    else:
        try:
            specs = [spec for _, _, spec, _ in string.Formatter().parse(template) if spec]
        except ValueError:  # malformed: format() raises it itself
            specs = []
        widths = [width for spec in specs for width in re.findall(r"\d+|\{", spec)]
    fixed = sum(int(width) if len(width) <= 12 else 10**12 for width in widths if width.isdigit())
    dynamic = sum(1 for width in widths if not width.isdigit())
    largest = max((value for value in (*args, *kwargs.values()) if _is_int(value)), default=0)
    values = sum(estimated_chars(value, 2**40) for value in (*args, *kwargs.values()))
    return len(template) + fixed + dynamic * max(largest, 0) + values


def _format_args(right: Any) -> tuple[tuple, Mapping]:
    if isinstance(right, Mapping):
        return (), right
    return (right if isinstance(right, tuple) else (right,)), {}


# ---- what each operation would build ----


def check_binop(budget: Budget, operator: str, left: Any, right: Any) -> None:
    """Refuse an operator whose result would pass the limits, before it is computed."""
    if operator == "*":
        for sequence, count in ((left, right), (right, left)):
            if isinstance(sequence, (str, list, tuple)) and _is_int(count):
                budget.check_chars(len(sequence) * max(count, 0), "a repetition ('*')")
        if _is_int(left) and _is_int(right):
            budget.check_bits(left.bit_length() + right.bit_length(), "a product ('*')")
    elif operator == "+" and isinstance(left, (str, list, tuple)) and isinstance(right, (str, list, tuple)):
        budget.check_chars(len(left) + len(right), "a concatenation ('+')")
    elif operator == "**" and _is_int(left) and _is_int(right) and right > 0 and abs(left) > 1:
        budget.check_bits(right * left.bit_length(), "a power ('**')")
    elif operator == "%" and isinstance(left, str):
        budget.check_chars(formatted_chars(left, *_format_args(right), printf=True), "a formatted string ('%')")


def check_str_method(budget: Budget, subject: str, name: str, args: tuple, kwargs: dict) -> tuple:
    """Refuse a str method call whose result would pass the limits; returns the arguments to call
    with (an iterable given to `join` is read once, here)."""
    limit = budget.limits.max_chars
    if name in ("ljust", "rjust", "center", "zfill"):
        budget.check_chars(_int_arg(args, kwargs, 0, "width"), f"str.{name}()")
    elif name == "expandtabs":
        tabsize = _int_arg(args, kwargs, 0, "tabsize", 8)
        budget.check_chars(len(subject) + subject.count("\t") * tabsize, "str.expandtabs()")
    elif name == "replace":
        budget.check_chars(replaced_chars(subject, *args[:3]), "str.replace()")
    elif name == "join" and args:
        items = list(args[0])
        size = len(subject) * len(items) + sum(estimated_chars(item, limit) for item in items)
        budget.check_chars(size, "str.join()")
        args = (items, *args[1:])
    elif name in ("format", "format_map"):
        values = (args[0] if args else {}) if name == "format_map" else kwargs
        budget.check_chars(formatted_chars(subject, args if name == "format" else (), values, False), f"str.{name}()")
    return args


def _joined(budget: Budget, args: tuple, kwargs: dict) -> tuple:
    items, separator = list(args[0]), args[1] if len(args) > 1 else kwargs.get("d", "")
    size = len(str(separator)) * len(items) + sum(estimated_chars(item, budget.limits.max_chars) for item in items)
    budget.check_chars(size, "the join filter")
    return (items, *args[1:])


def _summed(budget: Budget, args: tuple, kwargs: dict) -> tuple:
    items = list(args[0])
    budget.check_chars(sum(_length(item) for item in items), "the sum filter")
    return (items, *args[1:])


def _printed(budget: Budget, value: Any, what: str, factor: int = 1) -> None:
    budget.check_chars(estimated_chars(value, budget.limits.max_chars) * max(factor, 1), what)


def _indented(budget: Budget, args: tuple, kwargs: dict) -> None:
    text = args[0] if args and isinstance(args[0], str) else ""
    width = args[1] if len(args) > 1 else kwargs.get("width", 4)
    pad = width if _is_int(width) else len(width) if isinstance(width, str) else 0
    budget.check_chars(len(text) + (text.count("\n") + 1) * pad, "the indent filter")


def check_filter(budget: Budget, name: str, args: tuple, kwargs: dict) -> tuple:
    """Refuse a filter whose result would pass the limits (args: the value, then the filter's own)."""
    limit, value = budget.limits.max_chars, args[0] if args else None
    if name == "center":
        budget.check_chars(_int_arg(args, kwargs, 1, "width", 80), "the center filter")
    elif name == "indent":
        _indented(budget, args, kwargs)
    elif name == "replace":
        text = value if isinstance(value, str) else str(value) if estimated_chars(value, limit) <= limit else ""
        budget.check_chars(replaced_chars(text, *args[1:4]), "the replace filter")
    elif name == "join" and args:
        return _joined(budget, args, kwargs)
    elif name == "sum" and args:
        return _summed(budget, args, kwargs)
    elif name == "format" and isinstance(value, str):
        budget.check_chars(formatted_chars(value, args[1:], kwargs, printf=True), "the format filter")
    elif name in ("tojson", "string", "pprint", "list"):
        indent = _int_arg(args, kwargs, 2, "indent", 0) if name == "tojson" else 0
        _printed(budget, value, f"the {name} filter", 1 + indent)
    elif name == "slice":
        budget.tick(_int_arg(args, kwargs, 1, "slices"))  # it loops once per slice
    elif name == "batch" and (len(args) > 2 or "fill_with" in kwargs):
        budget.check_chars(_int_arg(args, kwargs, 1, "linecount"), "the batch filter")
    return args


def guarded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """`function` as a filter whose result is size-checked (`check_filter`) before it is built."""
    skip = 1 if getattr(function, "jinja_pass_arg", None) is not None else 0  # a context or environment first

    @wraps(function)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        budget = current_budget()
        budget.tick()
        args = (*args[:skip], *check_filter(budget, name, args[skip:], kwargs))
        result = function(*args, **kwargs)
        budget.check_chars(_length(result), f"the {name} filter")
        return result

    return guarded


def bounded_lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:  # noqa: A002
    """jinja2's `lipsum` global, refused before it writes more than the limits allow."""
    if _is_int(n) and _is_int(max):
        current_budget().check_chars(n * max * 12, "lipsum()")  # a word is at most about 12 characters
    return generate_lorem_ipsum(n, html, min, max)


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """jinja2's immutable sandbox with every render bounded by the current `Budget`."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, **options: Any) -> None:
        super().__init__(finalize=self.finalize_output, **options)
        self.globals["lipsum"] = bounded_lipsum
        self.filters.update({name: guarded_filter(name, function) for name, function in self.filters.items()})

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        """The parsed template, each `{% for %}` iterating through `self.bounded`."""
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            guard = nodes.EnvironmentAttribute("bounded")
            loop.iter = nodes.Call(guard, [loop.iter], [], None, None, lineno=loop.lineno)
        return tree

    def bounded(self, iterable: Any) -> Iterator[Any]:
        budget = current_budget()
        for item in iterable:
            budget.tick(1)
            yield item

    def finalize_output(self, value: Any) -> Any:
        """Each `{{ ... }}` value, checked before it is turned into text."""
        if not isinstance(value, str):
            _printed(current_budget(), value, "an output expression")
        return value

    def call_binop(self, context: jinja2.runtime.Context, operator: str, left: Any, right: Any) -> Any:
        budget = current_budget()
        budget.tick()
        check_binop(budget, operator, left, right)
        result = super().call_binop(context, operator, left, right)
        budget.check_chars(_length(result), f"the result of {operator!r}")
        return result

    def call(__self, __context: jinja2.runtime.Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        budget = current_budget()
        budget.tick()
        if isinstance(__obj, LoopContext) and args:  # a recursive loop's `loop(children)`
            args = (__self.bounded(args[0]), *args[1:])
        method = getattr(__obj, "__wrapped__", __obj)  # the sandbox wraps str.format
        subject = getattr(method, "__self__", None)
        if isinstance(subject, str):
            options = {key: value for key, value in kwargs.items() if not key.startswith("_")}
            args = check_str_method(budget, subject, getattr(method, "__name__", ""), args, options)
        result = super().call(__context, __obj, *args, **kwargs)
        budget.check_chars(_length(result), "a call's result")
        return result
