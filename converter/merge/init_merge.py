"""`__init__`: merge the statements that follow `super().__init__(...)` into the inlined base body.

    base:     self.a = A(); self.scaling = d**-0.5; self.b = B()
    modular:  super().__init__(config); self.scaling = s**-0.5; self.c = C(); del self.b
    merged:   self.a = A(); self.scaling = s**-0.5; self.c = C()

- `self.x = ...` where the base body assigns `self.x` exactly once, as a statement of its own,
  replaces that statement in place, when this is provably exact: the base statements it jumps
  over (and earlier appended statements) neither touch `self.x` nor set anything it reads, it
  does not read `self.x` itself (`self.x = self.x + 1`), and it calls no method of `self`.
  Otherwise it is appended, which is always exact (the base assignment runs first, as in the
  overlay).
- `del self.x` removes the base's assignment of `self.x` and nothing else; E207 when the base
  does not assign `self.x` exactly once or uses it elsewhere (removing it would change that use).
  When an earlier tail statement assigned `self.x` (in place or appended) or may read it (names
  it, calls a method of `self`, passes `self` on), the assignments stay and the `del` is appended
  where it was written: those statements run and see what Python shows them, and `x` is gone
  afterwards.
- Every other statement is appended after the base body, in order.
- A base statement that would be dropped (replaced in place, or removed by `del`) must not read
  a field the modular file removes (`mlp_bias = AttributeError()` in one of its classes): Python
  runs it in super().__init__() and raises AttributeError there, which the merged body would
  not. E216, naming the read; override `__init__` without super().__init__() instead. (The
  repository's runtime only: in a transformers tree the configs do not raise on such a read.)
"""

from __future__ import annotations

from collections.abc import Sequence

import libcst as cst

from converter.diagnostics import ConversionError
from converter.merge.override import Override
from converter.syntax.names import (
    CollectMentions,
    bound_names,
    code_of,
    is_self_attribute,
    mentions,
    read_visit,
    self_attributes,
)


def merge_init_tail(
    base: Sequence[cst.BaseStatement], post: Sequence[cst.BaseStatement], self_name: str, override: Override
) -> list[cst.BaseStatement]:
    """The inlined base body with the statements after `super().__init__()` merged into it."""
    merged: list[cst.BaseStatement | None] = list(base)
    appended: list[cst.BaseStatement] = []
    replaced: set[str] = set()  # attributes whose base assignment a tail statement replaced in place
    for statement in post:
        deleted = deleted_attributes(statement, self_name)
        if deleted and (observed(appended, deleted, self_name) or replaced & set(deleted)):
            # an earlier tail statement sets or reads it: keep that statement (its value may fail
            # or act) and delete the attribute where Python would
            appended.append(statement)
            continue
        if deleted:
            for attr in deleted:
                index = deletable(merged, attr, statement, self_name, override)
                check_dropped(merged[index], statement, override)
                merged[index] = None
            continue
        attr = assigned_attribute(statement, self_name)
        index = sole_assignment(merged, attr, self_name) if attr else None
        if attr and index is not None and movable(statement, attr, merged[index + 1 :], appended, self_name):
            check_dropped(merged[index], statement, override)
            own_lines = override.parsed.layout.keeps_own_blank_lines
            merged[index] = statement if own_lines else with_lines_of(statement, merged[index])
            replaced.add(attr)
        else:
            appended.append(statement)
    return [statement for statement in merged if statement is not None] + appended


def removed_fields(module: cst.Module) -> frozenset[str]:
    """Names some top-level class of the modular file removes with `x = AttributeError()`."""
    removed: set[str] = set()
    for statement in module.body:
        if isinstance(statement, cst.ClassDef) and isinstance(statement.body, cst.IndentedBlock):
            removed.update(name for s in statement.body.body if (name := removal_of(s)) is not None)
    return frozenset(removed)


def removal_of(statement: cst.BaseStatement) -> str | None:
    """`x` for `x = AttributeError()` (members.removes_attribute, which imports this module)."""
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return None
    small = statement.body[0]
    if (
        not isinstance(small, cst.Assign)
        or len(small.targets) != 1
        or not isinstance(small.targets[0].target, cst.Name)
    ):
        return None
    value = small.value
    is_removal = (
        isinstance(value, cst.Call) and isinstance(value.func, cst.Name) and value.func.value == "AttributeError"
    )
    return small.targets[0].target.value if is_removal else None


def check_dropped(dropped: cst.BaseStatement | None, by: cst.BaseStatement, override: Override) -> None:
    """E216 when the base statement `dropped`, which `by` replaces or deletes, reads a removed field.

    Only for this repository's runtime, whose configs raise on a removed field: in a transformers
    tree the config classes are transformers', which keep `x = AttributeError()` as an ordinary
    class attribute, so Python runs the dropped statement without an error and dropping it is exact."""
    if dropped is None or override.parsed.layout.tree:
        return
    removed = removed_fields(override.parsed.module)
    if not removed:
        return
    reads = AttributeReads(removed)
    read_visit(dropped, reads)
    if reads.found:
        read = reads.found[0]
        message = (
            f"{override.class_name}.__init__ drops the base statement `{code_of(dropped).strip()}` of "
            f"{override.base_class}, which reads {code_of(read)}: this file removes {read.attr.value}, so "
            f"super().__init__() raises AttributeError there in Python, while the merged __init__ would not"
        )
        fix = (
            f"override __init__ without super().__init__() (call nn.Module.__init__(self) and write the "
            f"body), or keep {read.attr.value}"
        )
        raise ConversionError([override.parsed.diagnostic(by, "E216", message, fix)])


class AttributeReads(cst.CSTVisitor):
    """`<expr>.<name>` read (not assigned) for a name in `names`, in visiting order."""

    def __init__(self, names: frozenset[str]) -> None:
        self.names = names
        self.targets: set[int] = set()
        self.found: list[cst.Attribute] = []

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self.targets.add(id(node.target))

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self.targets.add(id(node.target))

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if node.attr.value in self.names and id(node) not in self.targets:
            self.found.append(node)


def deleted_attributes(statement: cst.BaseStatement, self_name: str) -> list[str]:
    """`x` for `del self.x` (several for `del self.x, self.y`); [] for any other statement."""
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return []
    small = statement.body[0]
    if not isinstance(small, cst.Del):
        return []
    targets = [e.value for e in small.target.elements] if isinstance(small.target, cst.Tuple) else [small.target]
    if not all(is_self_attribute(target, self_name) for target in targets):
        return []
    return [target.attr.value for target in targets if isinstance(target, cst.Attribute)]


def assigned_attribute(statement: cst.BaseStatement, self_name: str) -> str | None:
    """`x` for `self.x = ...` or `self.x: T = ...` with a single target; None otherwise."""
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return None
    small = statement.body[0]
    if isinstance(small, cst.Assign) and len(small.targets) == 1:
        target: cst.BaseExpression = small.targets[0].target
    elif isinstance(small, cst.AnnAssign) and small.value is not None:
        target = small.target
    else:
        return None
    return target.attr.value if is_self_attribute(target, self_name) and isinstance(target, cst.Attribute) else None


def sole_assignment(merged: Sequence[cst.BaseStatement | None], attr: str, self_name: str) -> int | None:
    """Index of the only statement assigning `self.<attr>`, when it is a plain assignment of its own."""
    present = [(index, statement) for index, statement in enumerate(merged) if statement is not None]
    everywhere = assigned_self_attributes([statement for _, statement in present], self_name).count(attr)
    plain = [index for index, statement in present if assigned_attribute(statement, self_name) == attr]
    return plain[0] if len(plain) == 1 and everywhere == 1 else None


def deletable(
    merged: Sequence[cst.BaseStatement | None],
    attr: str,
    statement: cst.BaseStatement,
    self_name: str,
    override: Override,
) -> int:
    index = sole_assignment(merged, attr, self_name)
    present = [s for s in merged if s is not None]
    uses = list(collect_self_attributes(present, self_name)).count(attr)
    if index is None or uses != 1:
        why = "uses it beyond that one assignment"
        if not uses:
            why = "does not assign it"
        elif index is None:
            why = "does not assign it exactly once, as a statement of its own"
        message = f"cannot delete self.{attr} exactly: the base __init__ of {override.base_class} {why}"
        fix = f"override __init__ without super().__init__(), or keep self.{attr}"
        raise ConversionError([override.parsed.diagnostic(statement, "E207", message, fix)])
    return index


def observed(statements: Sequence[cst.BaseStatement], attributes: Sequence[str], self_name: str) -> bool:
    """Whether `statements` may touch any of `attributes`: they name `self.<attr>`, call a method of
    `self` or pass `self` on (either may read it)."""
    if set(attributes) & set(collect_self_attributes(statements, self_name)) or calls_self(statements, self_name):
        return True
    return any(node.value == self_name for node in bare_names(statements))


def bare_names(statements: Sequence[cst.BaseStatement]) -> list[cst.Name]:
    """Names in variable positions that are not the object of an attribute access."""
    collector = CollectMentions()
    for statement in statements:
        statement.visit(collector)
    attribute_objects = AttributeObjects()
    for statement in statements:
        statement.visit(attribute_objects)
    return [node for node in collector.nodes if id(node) not in attribute_objects.ids]


class AttributeObjects(cst.CSTVisitor):
    def __init__(self) -> None:
        self.ids: set[int] = set()

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self.ids.add(id(node.value))


def movable(
    statement: cst.BaseStatement,
    attr: str,
    later: Sequence[cst.BaseStatement | None],
    appended: Sequence[cst.BaseStatement],
    self_name: str,
) -> bool:
    """Moving `statement` before `later` and `appended` changes nothing those or it can observe."""
    jumped = [s for s in (*later, *appended) if s is not None]
    assert isinstance(statement, cst.SimpleStatementLine)
    small = statement.body[0]
    assert isinstance(small, (cst.Assign, cst.AnnAssign))
    read_parts = [part for part in (small.value, getattr(small, "annotation", None)) if part is not None]
    if attr in collect_self_attributes(jumped, self_name) or calls_self(read_parts, self_name):
        return False
    if attr in self_attributes(read_parts, self_name):
        return False  # `self.x = self.x + 1` reads the value the base assignment gives it
    if self_attributes(read_parts, self_name) & set(assigned_self_attributes(jumped, self_name)):
        return False
    return not (mentions(read_parts) - {self_name}) & bound_names(jumped)


def with_lines_of(statement: cst.BaseStatement, replaced: cst.BaseStatement | None) -> cst.BaseStatement:
    """The modular statement, keeping the replaced statement's blank lines unless it brings comments."""
    own = statement.leading_lines if isinstance(statement, cst.SimpleStatementLine) else ()
    if any(line.comment is not None for line in own) or not isinstance(replaced, cst.SimpleStatementLine):
        return statement
    blank = [line for line in replaced.leading_lines if line.comment is None]
    return statement.with_changes(leading_lines=blank)


def collect_self_attributes(statements: Sequence[cst.BaseStatement], self_name: str) -> list[str]:
    """Every `self.<name>` occurrence, read or written, with repeats."""
    collector = AttributeCollector(self_name, targets_only=False)
    for statement in statements:
        read_visit(statement, collector)
    return collector.names


def assigned_self_attributes(statements: Sequence[cst.BaseStatement], self_name: str) -> list[str]:
    """Every `self.<name>` that is assigned, augmented, deleted or a loop target, with repeats."""
    collector = AttributeCollector(self_name, targets_only=True)
    for statement in statements:
        read_visit(statement, collector)
    return collector.names


class AttributeCollector(cst.CSTVisitor):
    def __init__(self, self_name: str, targets_only: bool) -> None:
        self.self_name = self_name
        self.targets_only = targets_only
        self.names: list[str] = []

    def add(self, target: cst.BaseExpression) -> None:
        if isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                self.add(element.value)
        elif isinstance(target, cst.StarredElement):
            self.add(target.value)
        elif isinstance(target, cst.Attribute) and is_self_attribute(target, self.self_name):
            self.names.append(target.attr.value)

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if not self.targets_only and is_self_attribute(node, self.self_name):
            self.names.append(node.attr.value)

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        if self.targets_only:
            self.add(node.target)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if self.targets_only:
            self.add(node.target)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        if self.targets_only:
            self.add(node.target)

    def visit_For(self, node: cst.For) -> None:
        if self.targets_only:
            self.add(node.target)

    def visit_Del(self, node: cst.Del) -> None:
        if self.targets_only:
            self.add(node.target)


class FindSelfCalls(cst.CSTVisitor):
    def __init__(self, self_name: str) -> None:
        self.self_name = self_name
        self.found = False

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        while isinstance(func, cst.Attribute):
            func = func.value
        self.found = self.found or (isinstance(func, cst.Name) and func.value == self.self_name)


def calls_self(nodes: Sequence[cst.CSTNode], self_name: str) -> bool:
    finder = FindSelfCalls(self_name)
    for node in nodes:
        read_visit(node, finder)
    return finder.found
