"""Transformers dialect: a class or function the modular file defines twice (E010 in the default dialect),
and a modular assignment to a name the base also assigns.

Upstream's converter keeps the modular file's classes and functions in a dict keyed by name: the
later definition replaces the earlier one, at the earlier one's place. As Python, the earlier
definition is what the statements between the two see when they run: a class between them that
subclasses the name (or a decorator naming it) gets the earlier one. W333 is recorded where such a
statement exists; otherwise the later definition is what every use sees in Python too.

    class GotOcr2PreTrainedModel(SamPreTrainedModel): ...                   # line 179
    class GotOcr2VisionEncoder(SamVisionEncoder, GotOcr2PreTrainedModel): ...  # the first one, as Python
    class GotOcr2PreTrainedModel(LlavaPreTrainedModel): ...                 # line 217, kept at line 179

Upstream merges a modular assignment `X = v` into a base file's names only when the base does not
assign X, or X is one of a few documentation names (`_CHECKPOINT_FOR_DOC`, a `*_DOCSTRING` that is
not None...): otherwise the generated file keeps the base's `X = w` (W334 where v and w differ).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

import libcst as cst

from converter.dialect import drift
from converter.layout import TREE_KINDS, file_kind, stem_of
from converter.merge.merge import ModularStatement
from converter.read.parse import ParsedModule
from converter.rename.namespace import BaseDefinition
from converter.rename.rename import RenamedModule
from converter.syntax.names import code_of, mentions


def one_definition_per_name(parsed: ParsedModule, statements: Sequence[ModularStatement]) -> list[ModularStatement]:
    """`statements` with each class or function defined twice kept once: the last definition, in the
    first one's place (W333 where a statement between them reads the name when it runs)."""
    first: dict[str, int] = {}
    out: list[ModularStatement | None] = list(statements)
    for index, statement in enumerate(statements):
        name = defined_name(statement.origin)
        if name is None:
            continue
        if name not in first:
            first[name] = index
            continue
        place = first[name]
        readers = [s for s in statements[place + 1 : index] if name in definition_time_names(s.origin)]
        if readers:
            reader = defined_name(readers[0].origin) or "a statement"
            message = (
                f"{name} is defined twice: the generated file keeps only this definition, in place of the one at "
                f"line {parsed.position(statements[place].origin)[0]}, which {reader} (line "
                f"{parsed.position(readers[0].origin)[0]}) uses when it is defined"
            )
            drift(parsed, statement.origin, "W333", message)
        out[place] = dataclasses.replace(statement)
        out[index] = None
    return [statement for statement in out if statement is not None]


def defined_name(node: cst.BaseStatement) -> str | None:
    return node.name.value if isinstance(node, (cst.ClassDef, cst.FunctionDef)) else None


def definition_time_names(node: cst.BaseStatement) -> frozenset[str]:
    """Names a statement reads when it runs, roughly: the bases, keywords and decorators of a class or
    function, the whole of any other statement."""
    if isinstance(node, cst.ClassDef):
        return mentions([*node.bases, *node.keywords, *node.decorators])
    if isinstance(node, cst.FunctionDef):
        return mentions(node.decorators)
    return mentions([node])


#: Upstream's ASSIGNMENTS_REGEX_TO_KEEP: modular assignments to these names always win over the base's.
KEPT_ASSIGNMENTS = re.compile(r"_CHECKPOINT|_EXPECTED|_FOR_DOC|_HIDDEN_STATES_START_POSITION")
#: ... and to these unless the modular value is None (ASSIGNMENTS_REGEX_TO_KEEP_IF_NOT_NONE).
KEPT_UNLESS_NONE = re.compile(r"_DOCSTRING")


def base_assignments_kept(
    parsed: ParsedModule, statements: Sequence[ModularStatement], renamed: RenamedModule
) -> list[ModularStatement]:
    """`statements` with the modular assignments `X = v` that upstream replaces by a base's own
    `X = w` (its ModelFileMapper merges modular assignments only for the names above), from the
    base files the modular file imports from (the only ones upstream visits): the base statement
    takes the modular one's place. W334 where the two values differ."""
    kept = []
    for statement in statements:
        name = assigned_name(statement.origin)
        base = visited_assignment(renamed, name) if name else None
        if name is None or base is None or assigned_name(base.node) != name or keeps_modular(statement.origin, name):
            kept.append(statement)
            continue
        if code_of(base.node).strip() != code_of(statement.node).strip():
            message = (
                f"{name} keeps the value {base.path} gives it: this file's `{snippet(statement.origin)}` is ignored"
            )
            drift(parsed, statement.origin, "W334", message)
        kept.append(dataclasses.replace(statement, node=base.node))  # the base's value, in the modular place
    return kept


def per_kind_assignments(
    written: Sequence[ModularStatement], statements: Sequence[ModularStatement], renamed: RenamedModule
) -> list[tuple[BaseDefinition | ModularStatement, str]]:
    """Transformers dialect: upstream builds each file from its own base file. For each assignment `X = ...`
    base_assignments_kept gave a base's statement (`statements`, from the modular file's `written`
    ones): the statement of each other visited base file of another kind assigning X otherwise (if only
    in the blank lines above it), and the modular file's own for the file kinds no visited base file
    assigns X in (their classes take it from the modular file), each with its kind. The PIL image
    processor file has `logger` as the PIL base file writes it; a processor with no base, as the
    modular file writes it."""
    found: list[tuple[BaseDefinition | ModularStatement, str]] = []
    for own, statement in zip(written, statements, strict=True):
        name = assigned_name(statement.node)
        if name is None or keeps_modular(statement.node, name) or own.node is statement.node:
            continue
        visited = visited_assignments(renamed, name)
        chosen = visited[0] if visited else None
        if chosen is None or chosen.node is not statement.node:
            continue
        kinds = {file_kind(chosen.path, chosen.model)}
        for definition in visited:
            kind = file_kind(definition.path, definition.model)
            if kind not in kinds and assigned_name(definition.node) == name:
                kinds.add(kind)
                if code_of(definition.node) != code_of(chosen.node):
                    found.append((definition, kind))
        if code_of(own.node) != code_of(chosen.node):
            found += [(own, kind) for kind in TREE_KINDS if kind not in kinds]
    return found


def visited_assignments(renamed: RenamedModule, name: str) -> list[BaseDefinition]:
    """The top-level statements defining `name` in the visited base files, in visit order (one per file)."""
    candidates = {
        (d.model, stem_of(d.path)): d for ns in renamed.namespaces for d in reversed(ns.every_by_name.get(name, ()))
    }
    return [candidates[file] for file in renamed.visit_order if file in candidates]


def visited_assignment(renamed: RenamedModule, name: str) -> BaseDefinition | None:
    """The top-level statement defining `name` in the first visited base file that defines it."""
    found = visited_assignments(renamed, name)
    return found[0] if found else None


def assigned_name(node: cst.BaseStatement) -> str | None:
    """`X` for a top-level `X = v` (one Name target), as upstream records assignments; `__getattr__` aside."""
    if not (
        isinstance(node, cst.SimpleStatementLine) and len(node.body) == 1 and isinstance(node.body[0], cst.Assign)
    ):
        return None
    targets = node.body[0].targets
    if len(targets) != 1 or not isinstance(targets[0].target, cst.Name):
        return None
    name = targets[0].target.value
    return None if name in ("__all__", "__getattr__") else name


def keeps_modular(node: cst.BaseStatement, name: str) -> bool:
    assert isinstance(node, cst.SimpleStatementLine) and isinstance(node.body[0], cst.Assign)
    value = node.body[0].value
    is_none = isinstance(value, cst.Name) and value.value == "None"
    return bool(KEPT_ASSIGNMENTS.search(name)) or (bool(KEPT_UNLESS_NONE.search(name)) and not is_none)


def snippet(node: cst.CSTNode) -> str:
    line = code_of(node).strip().splitlines()[0]
    return line if len(line) <= 60 else line[:57] + "..."
