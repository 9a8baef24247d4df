"""Upstream's rules for the members of a merged class (transformers dialect, W321-W323).

Upstream's `replace_class_node` gives an overriding method the base method's decorators when the
modular override has none ("Keep decorators in modular if any, else original decorators"):

    class GlmRotaryEmbedding(LlamaRotaryEmbedding):        @staticmethod
        def compute_default_rope_parameters(config, ...):  def compute_default_rope_parameters(config, ...):

As Python, the override is an instance method (the instance would be `config`, W322), or runs
without the base's wrappers (`@torch.no_grad()`, W321). Documentation-only decorators
(converter/merge/decorators.py) change no call, and an override that only passes its call on to
`super()` already runs under the base's decorators: neither drifts.
"""

from __future__ import annotations

import libcst as cst

from converter.dialect import drift
from converter.merge.decorators import decorator_name, is_documentation
from converter.merge.override import Override
from converter.merge.unroll import strip_docstring, super_method
from converter.syntax.names import code_of

METHOD_KINDS = ("staticmethod", "classmethod")


def inherited_decorators(
    written: cst.FunctionDef, method: cst.FunctionDef, base: cst.BaseStatement, override: Override
) -> cst.FunctionDef:
    """`method` (the merged override of `written`) under the base method's decorators when `written`
    has none, as upstream merges it; a drift where that changes what a call does."""
    if written.decorators or not isinstance(base, cst.FunctionDef) or not base.decorators:
        return method
    where = f"{override.class_name}.{written.name.value}"
    names = [decorator_name(d) for d in base.decorators]
    source = f"{override.base_class}.{written.name.value}"
    kinds = [name for name in names if name in METHOD_KINDS]
    if kinds:
        first = first_parameter(written)
        role = f", passing the instance as {first!r}" if first and first not in ("self", "cls") else ""
        message = f"{where} takes @{kinds[0]} from {source}, where Python makes the override an instance method{role}"
        drift(override.parsed, written, "W322", message)
    elif not all(is_documentation(d) for d in base.decorators) and not passes_through(written):
        wrappers = ", ".join(f"@{code_of(d.decorator).strip()}" for d in base.decorators if not is_documentation(d))
        message = f"{where} takes {wrappers} from {source}, which the override does not apply in Python"
        drift(override.parsed, written, "W321", message)
    return method.with_changes(decorators=base.decorators)


def first_parameter(function: cst.FunctionDef) -> str:
    params = [*function.params.posonly_params, *function.params.params]
    return params[0].name.value if params else ""


def passes_through(function: cst.FunctionDef) -> bool:
    """The body (docstring aside) is one `return super().<name>(...)` or `super().<name>(...)`:
    the base's decorators then wrap what the override does."""
    body = strip_docstring(function.body)
    if len(body) != 1 or not isinstance(body[0], cst.SimpleStatementLine) or len(body[0].body) != 1:
        return False
    small = body[0].body[0]
    value = small.value if isinstance(small, (cst.Return, cst.Expr)) else None
    return isinstance(value, cst.Call) and super_method(value) == function.name.value
