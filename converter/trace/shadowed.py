"""Transformers dialect: a base file's definition wins over the modular file's library import of that name.

Upstream builds a class on its base class inside the base file's namespace: every name the merged class
uses that the base file defines at top level is that file's definition, pulled in with the class, even
where the modular file imports the name from the library (`from ...modeling_utils import
eager_attention_forward` in pe_audio_video, whose attention is built on Qwen3Attention: the generated
file defines qwen3's `eager_attention_forward` and `repeat_kv`, and the import goes, a name the file
defines being no import of it). As Python the modular class calls the imported function: drift W340,
which says instead that the import fails where the library module does not define the name (biogpt's
`from ...utils import logger`), read from the library's source.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import libcst as cst

from converter.dialect import drift
from converter.layout import Library, is_sibling_import
from converter.merge.classes.ancestry import library_facts
from converter.merge.merge import ModularStatement
from converter.read.parse import ParsedModule
from converter.rename.rename import RenamedModule
from converter.syntax.names import analyse_statement, bound_names, code_of, dotted_name
from converter.trace.prune import is_import_block


@dataclass(frozen=True)
class Shadowed:
    """`name`, imported by the modular file, taken from base model `model`'s definition instead."""

    name: str
    model: str
    user: ModularStatement


def base_over_imports(
    renamed: RenamedModule, imports: Sequence[ModularStatement], definitions: Sequence[ModularStatement]
) -> list[Shadowed]:
    """The library imports of the modular file that a merged class's base file defines (first user first)."""
    imported = library_names(imports) - bound_names([s.node for s in definitions])
    found: dict[str, Shadowed] = {}
    for statement in definitions:
        if statement.base is None or not imported:
            continue
        namespace = renamed.namespace(statement.base.model)
        _, uses = analyse_statement(statement.node)
        for name in uses:
            definition = namespace.definition(name) if name in imported else None
            if definition is not None and not is_import_block(definition.node) and name not in found:
                found[name] = Shadowed(name, namespace.model, statement)
    return list(found.values())


def library_names(imports: Sequence[ModularStatement]) -> set[str]:
    """The names the modular file imports from anything but its own sibling files."""
    names: set[str] = set()
    for statement in imports:
        node = statement.node
        if isinstance(node, cst.SimpleStatementLine):
            smalls = [s for s in node.body if isinstance(s, (cst.Import, cst.ImportFrom)) and not is_sibling_import(s)]
            names |= bound_names([cst.SimpleStatementLine(body=[small]) for small in smalls])
    return names


def without_names(imports: Sequence[ModularStatement], names: set[str]) -> list[ModularStatement]:
    """The modular imports without the aliases binding `names` (a statement left empty goes)."""
    kept: list[ModularStatement] = []
    for statement in imports:
        node = statement.node
        if not isinstance(node, cst.SimpleStatementLine) or not names & bound_names([node]):
            kept.append(statement)
            continue
        smalls = [small for small in (without_aliases(s, names) for s in node.body) if small is not None]
        if smalls:
            kept.append(ModularStatement(node.with_changes(body=smalls), statement.origin, statement.base))
    return kept


def without_aliases(small: cst.BaseSmallStatement, names: set[str]) -> cst.BaseSmallStatement | None:
    """`small` without the aliases binding `names`; None when none is left."""
    if not isinstance(small, (cst.Import, cst.ImportFrom)) or isinstance(small.names, cst.ImportStar):
        return small
    aliases = [
        a for a in small.names if not bound_names([cst.SimpleStatementLine([small.with_changes(names=[a])])]) & names
    ]
    if not aliases:
        return None
    if len(aliases) == len(small.names):
        return small
    aliases[-1] = aliases[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
    return small.with_changes(names=aliases)


def report(
    parsed: ParsedModule,
    shadowed: Shadowed,
    imports: Sequence[ModularStatement],
    path: str,
    library: Library | None = None,
) -> None:
    """W340 at the modular class that uses the name; where the library module it is imported from does
    not bind the name, the import itself fails in Python (read from the library's source, never run)."""
    node = shadowed.user.origin
    who = node.name.value if isinstance(node, (cst.ClassDef, cst.FunctionDef)) else "the class"
    source = import_source(imports, shadowed.name)
    head = f"{shadowed.name} in {who} is {path}'s definition, pulled in with its base class"
    if library is not None and module_binds(library, source, shadowed.name) is False:
        message = f"{head}, where Python fails at the modular file's import: {source} does not define it (ImportError)"
    else:
        message = f"{head}, where Python binds it by the modular file's import from {source}"
    drift(parsed, node, "W340", message)


def module_binds(library: Library, source: str, name: str) -> bool | None:
    """Whether library module `source` (`...utils`, relative to a tree's model package, or dotted)
    binds `name` at its top level (or has a submodule of that name); None where its file cannot be
    read or may bind names dynamically. Read as every library file (converter/merge/classes/ancestry.py)."""
    dots = len(source) - len(source.lstrip("."))
    parts = [part for part in source.lstrip(".").split(".") if part]
    if dots:
        package = [*library.models_package.split("."), "model"]  # a modular file's package
        if dots > len(package):
            return None
        parts = package[: len(package) - dots + 1] + parts
    path = library.module_file(parts)
    facts = library_facts(path) if path is not None else None
    if path is None or facts is None:
        return None
    if path.name == "__init__.py" and (path.with_name(f"{name}.py").is_file() or (path.parent / name).is_dir()):
        return True  # `from package import submodule` imports it
    return facts.binds(name)


def import_source(imports: Sequence[ModularStatement], name: str) -> str:
    """The module the modular file imports `name` from (`...modeling_utils`)."""
    for statement in imports:
        node = statement.node
        for small in node.body if isinstance(node, cst.SimpleStatementLine) else ():
            if name in bound_names([cst.SimpleStatementLine([small])]):
                if isinstance(small, cst.ImportFrom):
                    return "." * len(small.relative) + dotted_name(small.module)
                return code_of(small)
    return "its import"
