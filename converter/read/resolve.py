"""Pass resolve_bases: find the modular file's imports from generated models and check them.

    from generated.gemma.modeling_gemma import GemmaMLP, GemmaModel     # base model gemma
    from generated.llama.modeling_llama import repeat_kv                # a third model is allowed

Each imported name must be defined by that generated file (a class, function or constant, or
a name it imports from a sibling file). The base packages arrive loaded (`Bases`, built by the
`BaseLoader` before the passes), so this pass reads no file. The *main* base is the model most names are imported from (the
first imported on a tie), as in the reference semantics. Errors: E101 unknown model, E102
unknown module, E103 unknown name, E104 a name bound twice, E105 an import form that cannot be
resolved (`import generated.x`, star or relative forms). In the transformers dialect a name imported
from a base file that does not define it is taken from the file of that model that does (W342).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import libcst as cst
from libcst.helpers import get_full_name_for_node

from converter.diagnostics import ConversionError, Diagnostic
from converter.dialect import drift
from converter.layout import REPO, TREE, Layout, Library, is_sibling_import
from converter.read.bases import GENERATED, BaseFile, BasePackage, Bases
from converter.read.gather import check_definitions
from converter.read.parse import ParsedModule


@dataclass(frozen=True)
class BaseImport:
    """`from generated.<model>.<stem> import <name> as <alias>`; `stem` is "" for the package itself."""

    model: str
    stem: str
    name: str
    alias: str
    node: cst.ImportAlias


@dataclass(frozen=True)
class ResolvedModule:
    """The modular file with its base imports resolved; `packages[0]` is the main base."""

    parsed: ParsedModule
    imports: tuple[BaseImport, ...]
    packages: tuple[BasePackage, ...]
    library: Library | None = None

    @property
    def main(self) -> str | None:
        return self.packages[0].model if self.packages else None

    def package(self, model: str) -> BasePackage:
        return next(package for package in self.packages if package.model == model)


def resolve_bases(parsed: ParsedModule, bases: Bases) -> ResolvedModule:
    """Resolve every `generated.*` import of `parsed`; raises ConversionError (E101-E105, E010)."""
    diagnostics: list[Diagnostic] = []
    imports: list[BaseImport] = []
    smalls = [*model_imports(parsed.module, parsed.layout)]
    if smalls:
        check_definitions(parsed)  # E010 and E041 on the modular file itself, before anything is merged
    for small in smalls:
        found = [*read_import(parsed, small, diagnostics)]
        if parsed.layout.upstream:
            found = [retargeted(parsed, bases, item) for item in found]
        imports += [item for item in found if check_name(parsed, bases, item, diagnostics)]
    diagnostics += check_bound_once(parsed, imports)
    if diagnostics:
        raise ConversionError(diagnostics)
    return ResolvedModule(parsed, tuple(imports), tuple(order_packages(bases, imports)), bases.library)


def model_imports(module: cst.Module, layout: Layout = REPO) -> Iterator[cst.Import | cst.ImportFrom]:
    """Every top-level import statement from a base model (`generated.*`, or `..<model>.*` in a tree)."""
    for statement in module.body:
        if isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                if is_model_import(small, layout):
                    assert isinstance(small, (cst.Import, cst.ImportFrom))
                    yield small


def is_model_import(small: cst.BaseSmallStatement, layout: Layout | None = None) -> bool:
    """An import from a base model in `layout`; with no layout, in either (`..<model>.*` in the repository
    is reported by resolve_bases, E105)."""
    if layout is None:
        return REPO.model_import(small) is not None or TREE.model_import(small) is not None
    return layout.model_import(small) is not None or (not layout.tree and TREE.model_import(small) is not None)


def module_name(small: cst.ImportFrom) -> str:
    return dotted(small.module) if small.module is not None else ""


def dotted(node: cst.CSTNode) -> str:
    return get_full_name_for_node(node) or ""


def read_import(
    parsed: ParsedModule, small: cst.Import | cst.ImportFrom, diagnostics: list[Diagnostic]
) -> Iterator[BaseImport]:
    target = parsed.layout.model_import(small)
    parts = module_name(small).split(".") if isinstance(small, cst.ImportFrom) else []
    well_formed = len(parts) in (2, 3) if not parsed.layout.tree else target is not None
    if target is None or isinstance(small.names, cst.ImportStar) or not well_formed:
        fix = "import names explicitly: from generated.<model>.modeling_<model> import Name, ..."
        if parsed.layout.tree:
            fix = "import names explicitly: from ..<model>.modeling_<model> import Name, ..."
        message = "cannot resolve this import from a generated model"
        diagnostics.append(parsed.diagnostic(small, "E105", message, fix))
        return
    assert isinstance(small.names, Sequence)
    for alias in small.names:
        name = dotted(alias.name)
        local = alias.evaluated_alias or name
        yield BaseImport(target.model, target.stem, name, local, alias)


def retargeted(parsed: ParsedModule, bases: Bases, item: BaseImport) -> BaseImport:
    """Transformers dialect: a name imported from a base file that does not define it, but another file of
    that model does, is that file's (W342). Upstream only notes which names a modular file imports from
    base files: it finds their definitions wherever the base classes find them (qwen3_omni_moe imports
    `SinusoidsPositionEmbedding` from qwen2_5_omni's processing file, which does not define it: the
    generated file holds modeling_qwen2_5_omni.py's class). As Python, the import raises ImportError."""
    package = bases.package(item.model)
    if package is None or not item.stem:
        return item
    if any(f.stem == item.stem and item.name in names_defined(f, True) for f in package.files):
        return item
    home = next((f for f in package.files if item.name in names_defined(f, True)), None)
    if home is None or not any(f.stem == item.stem for f in package.files):
        return item
    asked = next(f.path for f in package.files if f.stem == item.stem)
    message = (
        f"{item.name} is imported from {asked}, which does not define it (Python raises ImportError): "
        f"the generated code uses {home.path}'s"
    )
    drift(parsed, item.node, "W342", message)
    return BaseImport(item.model, home.stem, item.name, item.alias, item.node)


def check_name(parsed: ParsedModule, bases: Bases, item: BaseImport, diagnostics: list[Diagnostic]) -> bool:
    """E101-E103 when the model, the module or the name does not exist; True when it does."""
    package = bases.package(item.model)
    if package is None:
        known = ", ".join(bases.available) or "none yet"
        message = f"unknown model {item.model!r}: there is no {GENERATED}/{item.model}/ package"
        fix = f"use one of the generated models ({known}), or convert modular/modular_{item.model}.py first (--all)"
        diagnostics.append(parsed.diagnostic(item.node, "E101", message, fix))
        return False
    files = package.files if not item.stem else tuple(f for f in package.files if f.stem == item.stem)
    if not files:
        stems = ", ".join(f"{GENERATED}.{item.model}.{file.stem}" for file in package.files)
        message = f"unknown module {GENERATED}.{item.model}.{item.stem}"
        diagnostics.append(parsed.diagnostic(item.node, "E102", message, f"import from one of: {stems}"))
        return False
    defined = [name for file in files for name in names_defined(file, parsed.layout.tree)]
    if item.name in defined:
        return True
    where = files[0].path if item.stem else f"{GENERATED}/{item.model}/"
    close = difflib.get_close_matches(item.name, defined, n=3)
    hint = f"did you mean {', '.join(close)}?" if close else "import a class, function or constant it defines"
    diagnostics.append(parsed.diagnostic(item.node, "E103", f"{item.name} is not defined in {where}", hint))
    return False


def names_defined(file: BaseFile, any_import: bool = False) -> Iterator[str]:
    """Top-level classes, functions and assigned names, and names imported from sibling files
    (`any_import`: from anywhere, as a transformers tree's modular files import library names
    through a model's file: `from ..llama.modeling_llama import TransformersKwargs`)."""
    for statement in file.module.body:
        if isinstance(statement, (cst.ClassDef, cst.FunctionDef)):
            yield statement.name.value
        elif isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                yield from names_of_small(small)
                if any_import and not is_sibling_import(small):
                    yield from imported_names(small)


def imported_names(small: cst.BaseSmallStatement) -> Iterator[str]:
    if isinstance(small, (cst.Import, cst.ImportFrom)) and isinstance(small.names, Sequence):
        for alias in small.names:
            yield alias.evaluated_alias or dotted(alias.name).split(".")[0]


def names_of_small(small: cst.BaseSmallStatement) -> Iterator[str]:
    if isinstance(small, cst.Assign):
        yield from (target.target.value for target in small.targets if isinstance(target.target, cst.Name))
    elif isinstance(small, cst.AnnAssign) and isinstance(small.target, cst.Name):
        yield small.target.value
    elif is_sibling_import(small) and isinstance(small, cst.ImportFrom) and isinstance(small.names, Sequence):
        yield from (alias.evaluated_alias or dotted(alias.name) for alias in small.names)


def check_bound_once(parsed: ParsedModule, imports: Sequence[BaseImport]) -> Iterable[Diagnostic]:
    """E104: an imported base name bound again, by a second import or by a modular definition."""
    first: dict[str, BaseImport] = {}
    for item in imports:
        if item.alias in first and first[item.alias].model != item.model:
            message = f"{item.alias} is imported from both {first[item.alias].model} and {item.model}"
            yield parsed.diagnostic(item.node, "E104", message, "import each name from one model only")
        first.setdefault(item.alias, item)
    for statement in parsed.module.body:
        name = getattr(statement, "name", None)
        if isinstance(name, cst.Name) and name.value in first:
            if parsed.layout.upstream and subclasses_itself(statement):
                continue  # `class DetrDecoderOutput(DetrDecoderOutput)`: upstream merges it like any class
            item = first[name.value]
            line = parsed.position(item.node)[0]
            message = f"{name.value} is defined here and also imported from the {item.model} model (line {line})"
            fix = f"drop the import, or name the new definition differently from {name.value}"
            yield parsed.diagnostic(statement, "E104", message, fix)


def subclasses_itself(statement: cst.BaseStatement) -> bool:
    """`class X(X)`: the class subclasses the imported name it then rebinds (as Python evaluates bases
    before binding, its base is the imported class)."""
    if not isinstance(statement, cst.ClassDef):
        return False
    return any(isinstance(arg.value, cst.Name) and arg.value.value == statement.name.value for arg in statement.bases)


def order_packages(bases: Bases, imports: Sequence[BaseImport]) -> Iterator[BasePackage]:
    """The main base (most imported names, first on a tie) first, then the others in import order."""
    counts: dict[str, int] = {}
    for item in imports:
        counts[item.model] = counts.get(item.model, 0) + 1
    first = list(counts)
    for model in sorted(first, key=lambda model: (-counts[model], first.index(model))):
        package = bases.package(model)
        assert package is not None
        yield package


def base_imports(parsed: ParsedModule) -> dict[str, cst.CSTNode]:
    """Base model -> its first import statement in the modular file, in import order."""
    found: dict[str, cst.CSTNode] = {}
    for small in model_imports(parsed.module, parsed.layout):
        target = parsed.layout.model_import(small)
        if isinstance(small, cst.ImportFrom) and target is not None and target.model:
            found.setdefault(target.model, small)
    return found
