"""Pass 4, imports: per output file, the modular file's imports pruned to the names the file uses,
plus `from .<kind>_<model> import ...` for names that live in a sibling file.

Imports keep their source order and comments; duplicates are dropped; sorting is left to
ruff's isort rule in the format pass. `from __future__ import ...` is kept in every file.

    modular:  from runtime.cache import Cache, DynamicCache      (config uses neither)
    configuration_llama.py:  (nothing from runtime.cache)
    modeling_llama.py:       from runtime.cache import Cache, DynamicCache
                             from .configuration_llama import LlamaConfig
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import libcst as cst
from libcst.helpers import get_full_name_for_node

from converter.diagnostics import ConversionError, Diagnostic
from converter.layout import kind_order_of
from converter.read.gather import Definition, DefinitionKind
from converter.read.parse import ParsedModule
from converter.write.split import OutputPlan, SplitModule, staying
from converter.write.upstream_imports import GUARDED_KINDS, guard_torch_imports, own_import_lines, without_futures

#: Top-level packages a standalone module may not import from: `generated.*` imports are resolved
#: (and removed) by the inheritance passes, and modular files are never imported.
MODEL_PACKAGES = ("generated", "modular")


@dataclass(frozen=True)
class FileImports:
    """The import statements of one output file: pruned module imports, then sibling imports."""

    kind: str
    statements: tuple[cst.BaseStatement, ...]  # import lines, then guarded imports (`if ...:` blocks)


@dataclass(frozen=True)
class ImportPlan:
    """`imports[i]` belongs to `split.files[i]`."""

    split: SplitModule
    imports: tuple[FileImports, ...]


def plan_imports(split: SplitModule) -> ImportPlan:
    """Build every file's imports; raises ConversionError (E020, E030-E032) on imports it cannot carry over."""
    parsed = split.gathered.parsed
    import_lines = [d for d in split.gathered.definitions if d.kind is DefinitionKind.IMPORT]
    diagnostics = [diagnostic for d in import_lines for diagnostic in check_imports(parsed, d)]
    if parsed.layout.upstream:
        import_lines = without_futures(parsed, import_lines)
    files = []
    for plan in split.files:
        used = names_used_by(plan)
        guarded = list(prune_guarded(split.guarded, used))
        used |= {name for definition, _ in guarded for name in definition.uses if name not in definition.defines}
        statements: list[cst.BaseStatement] = [*prune_imports(import_lines, used)]
        given = frozenset(name for definition, _ in guarded for name in definition.defines)
        statements += sibling_imports(split, plan, used - given, diagnostics)
        statements += [node for _, node in guarded]
        if parsed.layout.upstream and plan.kind in GUARDED_KINDS:
            statements = guard_torch_imports(parsed, plan.kind, statements, own_import_lines(parsed, import_lines))
        files.append(FileImports(plan.kind, tuple(statements)))
    if diagnostics:
        raise ConversionError(diagnostics)
    return ImportPlan(split, tuple(files))


def prune_guarded(guarded: Sequence[Definition], used: frozenset[str]) -> Iterable[tuple[Definition, cst.If]]:
    """Each guarded import (`if is_torch_available(): import torch`) with only the imports `used`
    needs, as upstream writes them after a file's other imports (like any import, one no file
    uses is left out); an import another block already gave is dropped."""
    seen: set[tuple[str, ...]] = set()
    for definition in guarded:
        node = definition.node
        assert isinstance(node, cst.If) and isinstance(node.body, cst.IndentedBlock)
        lines = [pruned for line in node.body.body if (pruned := prune_line(line, used, seen))]
        if lines:
            yield definition, node.with_changes(body=node.body.with_changes(body=lines))


def names_used_by(plan: OutputPlan) -> frozenset[str]:
    defined = {name for d in plan.definitions for name in d.defines}
    return frozenset(name for d in plan.definitions for name in d.uses if name not in defined)


def check_imports(parsed: ParsedModule, definition: Definition) -> Iterable[Diagnostic]:
    assert isinstance(definition.node, cst.SimpleStatementLine)
    for small in definition.node.body:
        if not isinstance(small, cst.ImportFrom):
            continue
        module = get_full_name_for_node(small.module) if small.module else ""
        if small.relative and not parsed.layout.tree:
            fix = "import by absolute name (torch, runtime.<module>, the standard library)"
            yield parsed.diagnostic(small, "E031", "relative imports are not supported in modular files", fix)
        elif isinstance(small.names, cst.ImportStar):
            fix = f"import the names you use explicitly: from {module} import Name, ..."
            yield parsed.diagnostic(small, "E030", f"star import from {module}", fix)
        elif (module or "").split(".")[0] in MODEL_PACKAGES:
            message = f"import from {module}: models are inherited from their generated files"
            fix = "import bases as: from generated.<model>.modeling_<model> import Name"
            yield parsed.diagnostic(small, "E032", message, fix)


def prune_imports(import_lines: Sequence[Definition], used: frozenset[str]) -> Iterable[cst.SimpleStatementLine]:
    """Each import line with only the aliases whose bound name is used; repeats of an alias are dropped."""
    seen: set[tuple[str, ...]] = set()
    for definition in import_lines:
        if pruned := prune_line(definition.node, used, seen):
            yield pruned


def prune_line(
    line: cst.BaseStatement, used: frozenset[str], seen: set[tuple[str, ...]]
) -> cst.SimpleStatementLine | None:
    """An import line with only the aliases `used` needs and `seen` does not hold yet; None when none is left."""
    assert isinstance(line, cst.SimpleStatementLine)
    kept = [pruned for small in line.body if (pruned := prune_import(small, used, seen))]
    if not kept:
        return None
    return line.with_changes(body=[small.with_changes(semicolon=cst.MaybeSentinel.DEFAULT) for small in kept])


def prune_import(
    small: cst.BaseSmallStatement, used: frozenset[str], seen: set[tuple[str, ...]]
) -> cst.Import | cst.ImportFrom | None:
    if not isinstance(small, (cst.Import, cst.ImportFrom)) or isinstance(small.names, cst.ImportStar):
        return None
    module = ""
    if isinstance(small, cst.ImportFrom) and small.module is not None:
        module = get_full_name_for_node(small.module) or ""
    aliases = []
    for alias in small.names:
        key = (module, alias.evaluated_name, alias.evaluated_alias or "")
        bound = alias.evaluated_alias or key[1].split(".")[0]
        if (bound in used or module == "__future__") and key not in seen:
            seen.add(key)
            aliases.append(alias.with_changes(comma=cst.MaybeSentinel.DEFAULT))
    return small.with_changes(names=aliases) if aliases else None


def sibling_imports(
    split: SplitModule, plan: OutputPlan, used: frozenset[str], diagnostics: list[Diagnostic]
) -> Iterable[cst.SimpleStatementLine]:
    """`from .configuration_llama import LlamaConfig` for names homed in an earlier file; E020 for later ones."""
    model = split.gathered.parsed.model
    order = kind_order_of(split.gathered.parsed.layout)
    rank = order.index(plan.kind)
    for kind in order:
        names = sorted(name for name in used if split.homes.get(name) == kind and kind != plan.kind)
        if names and order.index(kind) > rank:
            stay = staying(split.gathered)  # an exported class stays in its own file, which earlier kinds import
            diagnostics.extend(backward_use(split, plan, kind, [name for name in names if name not in stay]))
            names = [name for name in names if name in stay]
        if names:
            statement = cst.parse_statement(f"from .{kind}_{model} import {', '.join(names)}\n")
            assert isinstance(statement, cst.SimpleStatementLine)
            yield statement


def backward_use(split: SplitModule, plan: OutputPlan, kind: str, names: Sequence[str]) -> Iterable[Diagnostic]:
    """E020: a file would import from a file of a later kind (a configuration class using a model class)."""
    model = split.gathered.parsed.model
    for definition in plan.definitions:
        wrong = [name for name in names if name in definition.uses]
        if wrong:
            message = (
                f"{definition.name or 'this statement'} goes to {plan.kind}_{model}.py but uses "
                f"{', '.join(wrong)} from {kind}_{model}.py, which may not be imported there"
            )
            fix = f"move what {plan.kind}_{model}.py needs out of {kind} classes, or drop the use"
            yield split.gathered.parsed.diagnostic_at(definition.line, definition.col, "E020", message, fix)
