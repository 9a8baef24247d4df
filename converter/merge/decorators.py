"""Decorated base methods: when the body of `super().method(...)` may be inlined, and with which decorators.

A decorator wraps the base method, so inlining its bare body would drop the wrapper from the call.
Four cases are still exact:

1. **Documentation-only** decorators (`@auto_docstring`, `@add_start_docstrings...`) set `__doc__`
   and nothing else: they do not change what a call does, so they are ignored for inlining. When
   the override has no decorators of its own, the unrolled method keeps them (as upstream does).
2. **A pass-through override**: its body is `return super().method(...)` alone, passing each
   parameter on unchanged, and its parameters are the base's. Calling it is calling the decorated
   base method, so the unrolled method is the base body under the base's decorators (after the
   override's own documentation decorators). An override that repeats a base decorator that is not
   nestable (`@can_return_tuple` on both) applies it twice in the modular code: refused.
3. **Nestable** decorators (`@torch.no_grad()`: applying it inside itself changes nothing) that the
   override already applies: the inlined body runs inside the override's wrapper, as before.
4. **Context-manager** decorators the override does not apply: `@torch.no_grad()` on a function is
   `with torch.no_grad():` around its body, so the inlined body goes into that `with` block (the
   arguments are still bound outside it, as a call evaluates them before entering).

Anything else (`@can_return_tuple` on a base whose result the override post-processes, a
`@staticmethod` reached through `super()`) is refused with E203.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import libcst as cst

from converter.syntax.names import code_of

DOCUMENTATION_ONLY = frozenset(
    {
        "auto_docstring",
        "add_start_docstrings",
        "add_start_docstrings_to_model_forward",
        "add_end_docstrings",
        "replace_return_docstrings",
        "add_code_sample_docstrings",
    }
)
#: applying one of these inside itself is the same as applying it once
NESTABLE = frozenset({"torch.no_grad", "torch.inference_mode", "torch.enable_grad", "requires"})
#: decorators that are context managers too: `@torch.no_grad()` is `with torch.no_grad():` around the body
CONTEXT_MANAGERS = frozenset({"torch.no_grad", "torch.inference_mode", "torch.enable_grad"})


#: upstream's marker for "none of the base's decorators" (`@no_inherit_decorator`); dropped from the output
NO_INHERIT = "no_inherit_decorator"


def without_no_inherit(decorators: Sequence[cst.Decorator]) -> list[cst.Decorator]:
    return [d for d in decorators if code_of(d.decorator).strip() != NO_INHERIT]


def decorator_name(decorator: cst.Decorator) -> str:
    """`torch.no_grad` for `@torch.no_grad()`, `auto_docstring` for `@auto_docstring(...)`."""
    expression = decorator.decorator
    if isinstance(expression, cst.Call):
        expression = expression.func
    return code_of(expression).strip()


def is_documentation(decorator: cst.Decorator) -> bool:
    return decorator_name(decorator) in DOCUMENTATION_ONLY


def behavioural(decorators: Sequence[cst.Decorator]) -> list[cst.Decorator]:
    return [d for d in decorators if not is_documentation(d)]


def same_decorator(a: cst.Decorator, b: cst.Decorator) -> bool:
    return code_of(a.decorator).strip() == code_of(b.decorator).strip()


def merged_decorators(own: Sequence[cst.Decorator], base: Sequence[cst.Decorator]) -> list[cst.Decorator]:
    """The override's decorators, then (inside them) the base's that the override does not repeat."""
    return [*own, *(d for d in base if not any(same_decorator(d, o) for o in own))]


def method_kind_refusal(base: cst.FunctionDef, source: str) -> tuple[str, str] | None:
    """(why, fix) for a static or class method, whose body cannot run as an instance method's."""
    kinds = [decorator_name(d) for d in base.decorators if decorator_name(d) in ("staticmethod", "classmethod")]
    if not kinds:
        return None
    why = f"{source} is a {kinds[0]}: super() there has no instance to start from"
    return why, f"call the base class explicitly (`{source}(...)`), or leave this method to the base class"


#: The fix of a refused decorated base; the unrolling pass replaces it with the exact form it accepts.
INLINE_FIX = "override the whole method"


@dataclass(frozen=True)
class Verdict:
    """Whether a decorated base body may be inlined: the refusal's (why, fix), or the context managers
    (`torch.no_grad()`) its inlined body runs in."""

    refusal: tuple[str, str] | None = None
    contexts: tuple[cst.BaseExpression, ...] = ()


def judge(base: cst.FunctionDef, own: Sequence[cst.Decorator], passes_through: bool, source: str) -> Verdict:
    """May `base`'s body be inlined in an override decorated with `own`, and how."""
    wrappers = behavioural(base.decorators)
    names = ", ".join(f"@{decorator_name(d)}" for d in wrappers)
    if not wrappers:
        return Verdict()
    repeated = [d for d in wrappers if any(same_decorator(d, o) for o in own)]
    if passes_through:
        twice = [d for d in repeated if decorator_name(d) not in NESTABLE]
        if not twice:
            return Verdict()
        why = f"the override repeats @{decorator_name(twice[0])}, which {source} applies already, so it runs twice"
        return Verdict((why, "remove the repeated decorators from the override; the unrolled method keeps the base's"))
    missing = [d for d in wrappers if d not in repeated]
    if all(decorator_name(d) in NESTABLE for d in repeated) and all(is_context_manager(d) for d in missing):
        return Verdict(contexts=tuple(d.decorator for d in missing))
    why = f"{source} is decorated ({names}), which inlining its body here would drop"
    return Verdict((why, INLINE_FIX))


def is_context_manager(decorator: cst.Decorator) -> bool:
    """`@torch.no_grad()` and its kind: the same as running the body in `with torch.no_grad():`."""
    return isinstance(decorator.decorator, cst.Call) and decorator_name(decorator) in CONTEXT_MANAGERS
