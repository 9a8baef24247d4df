"""Upstream's rules for the members of a merged class (transformers dialect, W321-W323).

Removal (W323): upstream leaves out of the merged class a base member the modular class "removes"
(`upstream_removes`): `x = AttributeError()`, or an overriding method that raises an error (any
`...Error(`, not only AttributeError) as its first line. That drifts where a parent class of the
base still defines the member (the generated class inherits it), and where the method raised
another error (as Python, it is a method that raises it).

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

import re

import libcst as cst

from converter.dialect import drift
from converter.merge.decorators import decorator_name, is_documentation, without_no_inherit
from converter.merge.override import Override
from converter.merge.unroll import strip_docstring, super_method
from converter.read.parse import ParsedModule
from converter.syntax.names import code_of

METHOD_KINDS = ("staticmethod", "classmethod")


def inherited_decorators(
    written: cst.FunctionDef, method: cst.FunctionDef, base: cst.BaseStatement, override: Override
) -> cst.FunctionDef:
    """`method` (the merged override of `written`) under the base method's decorators when `written`
    has none, as upstream merges it; a drift where that changes what a call does. `@no_inherit_decorator`
    on `written` keeps none of the base's and is dropped itself."""
    if len(without_no_inherit(written.decorators)) < len(written.decorators):
        return method.with_changes(decorators=without_no_inherit(method.decorators))  # upstream's opt-out marker
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


#: Upstream's test on an overriding method's source (`code_for_node`, its blank lines above included):
#: a one-line `def` header right after a blank line, then `raise ...Error(` as the first body line.
REMOVING_METHOD = re.compile(r"\ndef .*\(.*\).*:.*\n    raise.*Error\(.*")


def upstream_removes(statement: cst.BaseStatement, base: cst.BaseStatement | None) -> bool:
    """Whether upstream leaves the base member out of the merged class: `x = AttributeError()` (an
    assignment, not an annotated one), or a method overriding a base method whose source matches
    `REMOVING_METHOD`: it raises any `...Error(`, and is written right after a blank line, without
    decorators, docstring or comment first (the first method of a class body is kept, as upstream
    does)."""
    if isinstance(statement, cst.FunctionDef):
        return (
            isinstance(base, cst.FunctionDef)
            and may_match_removing(statement)
            and REMOVING_METHOD.match(code_of(statement)) is not None
        )
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return False
    small = statement.body[0]
    value = small.value if isinstance(small, cst.Assign) else None
    return isinstance(value, cst.Call) and isinstance(value.func, cst.Name) and value.func.value == "AttributeError"


def may_match_removing(method: cst.FunctionDef) -> bool:
    """False where `REMOVING_METHOD` cannot match the method's source, read off its nodes: no blank
    line above, decorators, or a first body line that is not a `raise` (printing each override to
    test the pattern costs more than the rest of the member pass)."""
    if not method.leading_lines or method.decorators or not isinstance(method.body, cst.IndentedBlock):
        return False
    first = method.body.body[0] if method.body.body else None
    return (
        isinstance(first, cst.SimpleStatementLine) and not first.leading_lines and isinstance(first.body[0], cst.Raise)
    )


def raised_error(method: cst.FunctionDef) -> str:
    """`NotImplementedError` for a method whose first statement is `raise NotImplementedError(...)`."""
    body = strip_docstring(method.body)
    small = body[0].body[0] if body and isinstance(body[0], cst.SimpleStatementLine) else None
    if not isinstance(small, cst.Raise) or small.exc is None:
        return ""
    exc = small.exc.func if isinstance(small.exc, cst.Call) else small.exc
    return code_of(exc).strip()


def removal_drift(
    statement: cst.BaseStatement, name: str, where: str, parent: str | None, parsed: ParsedModule
) -> None:
    """W323 where upstream's removal of `name` from class `where` changes what Python does: a parent
    class (`parent`) still defines it, or the removed method raised another error than
    AttributeError (as Python it is a method that raises it)."""
    error = raised_error(statement) if isinstance(statement, cst.FunctionDef) else "AttributeError"
    if parent is None and error == "AttributeError":
        return
    then = f"the generated {where} inherits {parent}.{name}" if parent else f"the generated {where} has no {name}"
    if error == "AttributeError":
        message = f"{where} removes {name}, but {parent} defines {name} too: {then}"
    else:
        message = f"{where}.{name} raises {error} in Python, but upstream removes the method: {then}"
    drift(parsed, statement, "W323", message)


def unannotated_as_written(
    statement: cst.BaseStatement, base: cst.BaseStatement, override: Override
) -> cst.BaseStatement:
    """An attribute over a base attribute of the same name, as upstream writes it: the modular line as
    written. `x = 1` over a base field `x: int = 0` then declares no field (W327), where Python's
    subclass keeps the base's field."""
    small = statement.body[0] if isinstance(statement, cst.SimpleStatementLine) else None
    base_small = base.body[0] if isinstance(base, cst.SimpleStatementLine) else None
    if isinstance(small, cst.Assign) and isinstance(base_small, cst.AnnAssign):
        field = code_of(base_small).strip()
        name = code_of(small.targets[0].target).strip()
        message = (
            f"{override.class_name}.{name} replaces the base field `{field}` without its annotation: "
            f"the generated {override.class_name} declares {name} as a plain class attribute, not a field"
        )
        drift(override.parsed, statement, "W327", message)
    return statement
