"""Class members for merge_classes: what each statement of a class body defines, and how the
modular class's members change the base class's body (replace, remove, add).

    member_name(`sliding_window: int | None = 4096`)  -> "sliding_window"   (an attribute)
    member_name(`def forward(self, x): ...`)           -> "forward"          (a method)
    member_name(`if FLAG: x = 1`)                       -> None               (anything else)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import libcst as cst

from converter.diagnostics import ConversionError
from converter.merge.decorators import is_documentation
from converter.merge.init_merge import with_lines_of
from converter.merge.override import Override
from converter.merge.unroll import is_pass, strip_docstring, unroll_method
from converter.merge.upstream_members import inherited_decorators, unannotated_as_written, upstream_removes
from converter.syntax.names import code_of

MemberKind = Literal["attribute", "method", "other"]


@dataclass(frozen=True)
class Members:
    """The modular class's members, sorted by what they do to the base body."""

    replacements: dict[str, list[cst.BaseStatement]]
    removed: frozenset[str]
    new_attributes: list[cst.BaseStatement]
    new_methods: list[cst.BaseStatement]


def member_kind(statement: cst.BaseStatement) -> MemberKind:
    if isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
        return "method"
    if isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1:
        small = statement.body[0]
        if isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name):
            return "attribute"
        if isinstance(small, cst.AnnAssign) and isinstance(small.target, cst.Name):
            return "attribute"
    return "other"


def member_name(statement: cst.BaseStatement) -> str | None:
    kind = member_kind(statement)
    if kind == "method":
        assert isinstance(statement, (cst.FunctionDef, cst.ClassDef))
        return statement.name.value
    if kind == "attribute":
        assert isinstance(statement, cst.SimpleStatementLine)
        small = statement.body[0]
        target = small.targets[0].target if isinstance(small, cst.Assign) else getattr(small, "target", None)
        return target.value if isinstance(target, cst.Name) else None
    return None


def classify_members(
    own: Sequence[cst.BaseStatement],
    base: Sequence[cst.BaseStatement],
    base_names: Sequence[str | None],
    override: Override,
) -> Members:
    """Sort the modular members (docstring excluded); methods come back with super() unrolled."""
    present = {name: statement for name, statement in zip(base_names, base, strict=True) if name is not None}
    replacements: dict[str, list[cst.BaseStatement]] = {}
    removed: list[str] = []
    new_attributes: list[cst.BaseStatement] = []
    new_methods: list[cst.BaseStatement] = []
    for statement in own:
        name = member_name(statement)
        if is_pass(statement):
            continue
        if name is not None and name in present and crosses_kind(statement, present[name], override):
            # upstream keeps attributes and methods apart: see crosses_kind
            if member_kind(statement) == "attribute":
                removed.append(name)
                new_attributes.append(statement)
            else:
                new_methods.append(unroll_method(statement, override))
        elif name is not None and is_removal(statement, present.get(name), override):
            if name not in present:
                raise missing_attribute(statement, name, override)
            removed.append(name)
        elif isinstance(statement, cst.FunctionDef):
            check_not_over_a_field(statement, present.get(name), override)
            if not override.parsed.layout.upstream:
                check_method_kind(statement, present.get(name), override)
            method = unroll_method(statement, override)
            if name in present and override.parsed.layout.tree:
                method = documented_as(method, present[name])
            if name in present and override.parsed.layout.upstream:
                method = inherited_decorators(statement, method, present[name], override)
                method = with_comments_of(method, present[name])
            target = replacements.setdefault(name, []) if name in present else new_methods
            target.append(method)
        elif name is not None and name in present:
            replaced = present[name]
            if override.parsed.layout.upstream:
                kept = unannotated_as_written(statement, replaced, override)
            else:
                kept = keep_annotation(statement, replaced)
            if not override.parsed.layout.keeps_own_blank_lines:
                kept = with_lines_of(kept, replaced)
            if override.parsed.layout.upstream:
                replacements[name] = [kept]  # upstream: one line per target, the last one written
            else:
                replacements.setdefault(name, []).append(kept)
        elif isinstance(statement, cst.ClassDef):
            new_methods.append(statement)
        else:
            new_attributes.append(statement)
    if override.parsed.layout.upstream:
        new_attributes = one_per_target(new_attributes)
    return Members(replacements, frozenset(removed), new_attributes, new_methods)


def one_per_target(attributes: Sequence[cst.BaseStatement]) -> list[cst.BaseStatement]:
    """Transformers dialect: a class attribute assigned twice is written once, where it is first
    assigned, with the last assignment, as upstream's merge keeps one line per target. Python
    would run both; the class ends with the same value (no drift)."""
    last = {name: statement for statement in attributes if (name := member_name(statement)) is not None}
    kept: list[cst.BaseStatement] = []
    written: set[str] = set()
    for statement in attributes:
        name = member_name(statement)
        if name is None:
            kept.append(statement)
        elif name not in written:
            written.add(name)
            kept.append(last[name])
    return kept


def with_comments_of(method: cst.BaseStatement, replaced: cst.BaseStatement) -> cst.BaseStatement:
    """Transformers dialect: a method that overrides a base method keeps the base method's lines above it
    (comments included) and loses its own, as upstream's merge writes the modular body, parameters and
    decorators into the base's `FunctionDef` node. Comments only: no drift."""
    if not isinstance(method, cst.FunctionDef) or not isinstance(replaced, cst.FunctionDef):
        return method
    return method.with_changes(leading_lines=replaced.leading_lines)


def crosses_kind(statement: cst.BaseStatement, base: cst.BaseStatement, override: Override) -> bool:
    """Transformers dialect: a modular attribute named like a base method, or a modular method named
    like a base attribute. Upstream merges a class's attributes and its methods separately: the
    attribute joins the new attributes (the base method is left out), the method the new methods
    (the base attribute stays, before it). Either way the modular member wins, as in Python: no
    drift."""
    if not override.parsed.layout.upstream or upstream_removes(statement, base):
        return False
    kinds = {member_kind(statement), member_kind(base)}
    return kinds == {"attribute", "method"} and not isinstance(statement, cst.ClassDef)


def is_removal(statement: cst.BaseStatement, base: cst.BaseStatement | None, override: Override) -> bool:
    """`x = AttributeError()`, or a method raising AttributeError over a base member; in the
    transformers dialect, what upstream removes (converter/merge/upstream_members.py)."""
    if override.parsed.layout.upstream:
        return upstream_removes(statement, base)
    return removes_attribute(statement) or (removes_method(statement) and base is not None)


def check_not_over_a_field(method: cst.FunctionDef, base: cst.BaseStatement | None, override: Override) -> None:
    """E218: a method (a `@property`, say) named like an annotated attribute of the base class. The
    merged class could hold only one of them; in Python the base's annotation still declares the
    field (a config still has it, and its constructor would assign through the property)."""
    small = base.body[0] if isinstance(base, cst.SimpleStatementLine) and len(base.body) == 1 else None
    if not isinstance(small, cst.AnnAssign):
        return
    name = method.name.value
    message = (
        f"{override.class_name}.{name} is a method named like the field {code_of(small).strip()!r} of "
        f"{override.base_class}, which Python keeps declared beside it"
    )
    fix = (
        f"keep {name} a field (a config computes it in derive()), or remove the field "
        f"(`{name} = AttributeError()`) and name the method differently"
    )
    raise ConversionError([override.parsed.diagnostic(method, "E218", message, fix)])


def check_method_kind(method: cst.FunctionDef, base: cst.BaseStatement | None, override: Override) -> None:
    """E213: an override that drops the base method's @staticmethod (or @classmethod) while its first
    parameter is not `self`: Python would pass the instance as that parameter."""
    if not isinstance(base, cst.FunctionDef):
        return
    kinds = {code_of(d.decorator).strip() for d in base.decorators} & {"staticmethod", "classmethod"}
    own = {code_of(d.decorator).strip() for d in method.decorators}
    params = [*method.params.posonly_params, *method.params.params]
    if not kinds or kinds <= own or (params and params[0].name.value == "self"):
        return
    kind = sorted(kinds)[0]
    first = params[0].name.value if params else "its first parameter"
    message = (
        f"{override.class_name}.{method.name.value} overrides a {kind} without @{kind}: "
        f"Python would pass the instance as {first!r}"
    )
    fix = f"add @{kind} to the override"
    raise ConversionError([override.parsed.diagnostic(method, "E213", message, fix)])


def documented_as(method: cst.FunctionDef, base: cst.BaseStatement) -> cst.FunctionDef:
    """In a tree, an override without a docstring (or decorators, or return annotation) takes the base
    method's docstring (its decorators when they only document, its return annotation), as upstream
    writes it; none of them changes a call."""
    if not isinstance(base, cst.FunctionDef) or not isinstance(method.body, cst.IndentedBlock):
        return method
    if not method.decorators and base.decorators and all(is_documentation(d) for d in base.decorators):
        method = method.with_changes(decorators=base.decorators)
    if method.returns is None and base.returns is not None:
        method = method.with_changes(returns=base.returns)  # an annotation only
    own = list(method.body.body)
    base_statements = list(base.body.body) if isinstance(base.body, cst.IndentedBlock) else []
    has_docstring = len(strip_docstring(method.body)) < len(own)
    if has_docstring or not base_statements or len(strip_docstring(base.body)) == len(base_statements):
        return method
    return method.with_changes(body=method.body.with_changes(body=[base_statements[0], *own]))


def removes_attribute(statement: cst.BaseStatement) -> bool:
    """`x = AttributeError()` (the modular way to delete an inherited attribute)."""
    if member_kind(statement) != "attribute":
        return False
    assert isinstance(statement, cst.SimpleStatementLine)
    value = getattr(statement.body[0], "value", None)
    return isinstance(value, cst.Call) and isinstance(value.func, cst.Name) and value.func.value == "AttributeError"


def removes_method(statement: cst.BaseStatement) -> bool:
    """A method whose body (docstring aside) is only `raise AttributeError(...)`; a decorated one
    (`@property` that raises) is a member like any other."""
    if not isinstance(statement, cst.FunctionDef) or statement.decorators:
        return False
    body = strip_docstring(statement.body)
    if len(body) != 1 or not isinstance(body[0], cst.SimpleStatementLine) or len(body[0].body) != 1:
        return False
    small = body[0].body[0]
    if not isinstance(small, cst.Raise) or small.exc is None:
        return False
    exc = small.exc.func if isinstance(small.exc, cst.Call) else small.exc
    return isinstance(exc, cst.Name) and exc.value == "AttributeError"


def missing_attribute(statement: cst.BaseStatement, name: str, override: Override) -> ConversionError:
    message = f"{override.class_name} removes {name}, but {override.base_class} has no attribute {name}"
    fix = f"remove the line, or check the spelling of {name!r}"
    return ConversionError([override.parsed.diagnostic(statement, "E202", message, fix)])


def keep_annotation(statement: cst.BaseStatement, base: cst.BaseStatement) -> cst.BaseStatement:
    """`x = 1` over a base field `x: int = 0` becomes `x: int = 1`: the overlay keeps the field."""
    assert isinstance(statement, cst.SimpleStatementLine)
    small = statement.body[0]
    base_small = base.body[0] if isinstance(base, cst.SimpleStatementLine) else None
    if isinstance(small, cst.Assign) and isinstance(base_small, cst.AnnAssign):
        annotated = cst.AnnAssign(target=small.targets[0].target, annotation=base_small.annotation, value=small.value)
        return statement.with_changes(body=[annotated])
    return statement
