"""Transformers dialect: upstream's import rules beyond pruning (converter/write/imports.py).

- `from __future__ import annotations` names nothing the code reads, and upstream prunes it like any
  unused import: its generated files never have it (W331).
- A PIL image processor file (`image_processing_pil_<model>.py`) and a feature extractor file must
  import without torch: upstream collects their torch and torchvision imports, bare or already guarded, into one
  `if is_torch_available():` and one `if is_torchvision_available():` block after the other imports,
  and adds the availability check to the file's `...utils` import (W332 where the modular file
  imported torch unconditionally).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import libcst as cst
from libcst.helpers import get_full_name_for_node

from converter.dialect import drift
from converter.read.gather import Definition
from converter.read.parse import ParsedModule
from converter.syntax.names import code_of

#: The file kinds whose torch imports upstream guards.
GUARDED_KINDS = ("image_processing_pil", "feature_extraction")
#: (library, availability check), torchvision first: "torchvision" starts with "torch".
GUARDS = (("torchvision", "is_torchvision_available"), ("torch", "is_torch_available"))


def without_futures(parsed: ParsedModule, import_lines: Sequence[Definition]) -> list[Definition]:
    """`import_lines` without their `from __future__ import ...` statements, W331 for each."""
    kept = []
    for definition in import_lines:
        node = definition.node
        assert isinstance(node, cst.SimpleStatementLine)
        futures = [small for small in node.body if is_future_import(small)]
        for small in futures:
            assert isinstance(small, cst.ImportFrom)
            names = (
                "*" if isinstance(small.names, cst.ImportStar) else ", ".join(a.evaluated_name for a in small.names)
            )
            message = (
                f"`from __future__ import {names}` is dropped: the generated files evaluate annotations when each "
                "definition runs"
            )
            drift(parsed, small, "W331", message)
        rest = [small for small in node.body if small not in futures]
        if rest:
            kept.append(
                definition if not futures else dataclasses.replace(definition, node=node.with_changes(body=rest))
            )
    return kept


def is_future_import(small: cst.BaseSmallStatement) -> bool:
    return isinstance(small, cst.ImportFrom) and small.module is not None and code_of(small.module) == "__future__"


def guard_torch_imports(
    parsed: ParsedModule, kind: str, statements: Sequence[cst.BaseStatement], own: Sequence[Definition] = ()
) -> list[cst.BaseStatement]:
    """The imports of a PIL image processor file as upstream writes them (see the module docstring).
    `own`: the modular file's unguarded import lines, for W332."""
    guarded: dict[str, list[cst.BaseStatement]] = {library: [] for library, _ in GUARDS}
    others: list[cst.BaseStatement] = []
    for statement in statements:
        library = guarded_library(statement)
        if library is None:
            others.append(statement)
        elif isinstance(statement, cst.If):
            assert isinstance(statement.body, cst.IndentedBlock)
            guarded[library] += statement.body.body
        else:
            guarded[library].append(statement)
            record_guarded(parsed, f"{kind}_{parsed.model}.py", statement, own, library)
    checks = [check for library, check in reversed(GUARDS) if guarded[library]]
    blocks = [guard_block(check, guarded[library]) for library, check in reversed(GUARDS) if guarded[library]]
    out = [*with_checks(others, checks), *blocks]
    if (
        kind == "feature_extraction"
        and out
        and isinstance(out[0], cst.SimpleStatementLine)
        and imports_a_check(others, checks)
    ):
        # upstream writes the `...utils` import holding the check anew, first, with no blank line above it
        out[0] = out[0].with_changes(leading_lines=())
    return out


def imports_a_check(statements: Sequence[cst.BaseStatement], checks: Sequence[str]) -> bool:
    """Whether one of `statements` already imports one of the availability `checks` from `...utils`."""
    found = (utils_import(statement) for statement in statements)
    return any(small is not None and {a.evaluated_name for a in small.names} & set(checks) for small in found)


def utils_import(statement: cst.BaseStatement) -> cst.ImportFrom | None:
    """The `from ...utils import a, b` (no star) that `statement` is, else None."""
    small = statement.body[0] if isinstance(statement, cst.SimpleStatementLine) else None
    if not (isinstance(small, cst.ImportFrom) and small.module is not None) or isinstance(small.names, cst.ImportStar):
        return None
    module = get_full_name_for_node(small.module) or ""
    return small if module == "utils" or module.endswith(".utils") else None


def guarded_library(statement: cst.BaseStatement) -> str | None:
    """The library whose guard `statement` goes under: a bare torch(vision) import, or an `if` block
    (no else) testing its availability; None for any other statement."""
    text = code_of(statement).strip()
    if isinstance(statement, cst.If):
        found = [library for library, check in GUARDS if f"{check}()" in text and statement.orelse is None]
        return found[-1] if found else None  # the torch check first, as upstream tests it
    if not isinstance(statement, cst.SimpleStatementLine):
        return None
    for library, _ in GUARDS:
        if text.startswith((f"import {library}", f"from {library}")):
            return library
    return None


def guard_block(check: str, body: Sequence[cst.BaseStatement]) -> cst.BaseStatement:
    lines = "\n    ".join(code_of(statement).strip() for statement in body)
    return cst.parse_statement(f"if {check}():\n    {lines}\n")


def with_checks(statements: Sequence[cst.BaseStatement], checks: Sequence[str]) -> list[cst.BaseStatement]:
    """`statements` whose first `from ...utils import` also imports `checks`, else with one more such import first."""
    out = list(statements)
    if not checks:  # nothing guarded: no check to import (a PIL file using no torch at all)
        return out
    for index, statement in enumerate(out):
        small = utils_import(statement)
        if small is None:
            continue
        present = {alias.evaluated_name for alias in small.names}
        added = [cst.ImportAlias(name=cst.Name(check)) for check in checks if check not in present]
        if added:
            names = [*small.names[:-1], small.names[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT), *added]
            out[index] = statement.with_changes(body=[small.with_changes(names=names)])
        return out
    return [cst.parse_statement(f"from ...utils import {', '.join(sorted(checks))}\n"), *out]


def record_guarded(
    parsed: ParsedModule, file: str, statement: cst.BaseStatement, own: Sequence[Definition], library: str
) -> None:
    """W332 when the modular file itself imports `library` unconditionally."""
    for definition in own:
        if guarded_library(definition.node) == library and same_imports(definition.node, statement):
            line = code_of(statement).strip()
            check = dict(GUARDS)[library]
            message = f"`{line}` is moved under `if {check}():` in {file}"
            drift(parsed, definition.node, "W332", message)
            return


def same_imports(written: cst.BaseStatement, pruned: cst.BaseStatement) -> bool:
    """`pruned` is `written` with some of its names left out (same modules)."""

    def modules(statement: cst.BaseStatement) -> list[str]:
        assert isinstance(statement, cst.SimpleStatementLine)
        return [code_of(getattr(small, "module", None) or small).split(" import ")[0] for small in statement.body]

    return modules(written) == modules(pruned) or code_of(written).strip() == code_of(pruned).strip()


def own_import_lines(parsed: ParsedModule, import_lines: Sequence[Definition]) -> list[Definition]:
    """The import lines the modular file writes itself (not carried over from a base)."""
    lines = parsed.source.splitlines()
    own = []
    for definition in import_lines:
        origin = parsed.origins.get(definition.node)
        first = code_of(definition.node).strip().splitlines()[0]
        if origin is not None and 0 < origin[0] <= len(lines) and lines[origin[0] - 1].strip() == first:
            own.append(definition)
    return own
