"""Pass 2, gather: one `Definition` per top-level statement, with the top-level names it binds and uses.

Read-only analysis over libcst's scope metadata: a use is an access anywhere inside the
statement (method bodies, decorators, defaults, annotations, class attributes) that resolves to
a module-level binding. Local variables that shadow a module-level name are not uses. String
annotations ("LlamaConfig") count as uses of the names they mention.

    class LlamaMLP(nn.Module):            Definition(name="LlamaMLP", kind=CLASS,
        def forward(self, x):                        defines=("LlamaMLP",),
            return ACT2FN["silu"](x)                 uses=("ACT2FN", "nn"), bases=("nn.Module",))
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import libcst as cst
from libcst.helpers import get_full_name_for_node
from libcst.metadata import Access, GlobalScope, Scope

from converter.diagnostics import ConversionError, Diagnostic
from converter.read.parse import ParsedModule
from converter.syntax.names import code_nodes, first_names, mentions
from converter.syntax.walk import scopes_by_statement


class DefinitionKind(enum.Enum):
    DOCSTRING = "docstring"
    IMPORT = "import"
    CLASS = "class"
    FUNCTION = "function"
    ASSIGNMENT = "assignment"
    ALL = "__all__"
    OTHER = "other"


#: Statements that no output file places as a definition (each file gets its own docstring, imports, `__all__`).
NOT_PLACED = (DefinitionKind.DOCSTRING, DefinitionKind.IMPORT, DefinitionKind.ALL)


@dataclass(frozen=True)
class Definition:
    """A top-level statement. `uses` and `defines` hold module-level names, sorted; line/col are 1-based."""

    name: str
    node: cst.BaseStatement
    kind: DefinitionKind
    defines: tuple[str, ...]
    uses: tuple[str, ...]
    bases: tuple[str, ...]
    line: int
    col: int
    #: transformers dialect: the one file kind this definition serves, instead of the definition of the
    #: same name without a variant (a base model's torch and PIL image processors each define
    #: `convert_coco_poly_to_mask`; each generated file gets its own base file's)
    variant: str | None = None


@dataclass(frozen=True)
class GatheredModule:
    """The definitions of one modular file in source order; `exports` is its literal `__all__`, if any."""

    parsed: ParsedModule
    definitions: tuple[Definition, ...]
    exports: tuple[str, ...] | None


def gather_definitions(parsed: ParsedModule) -> GatheredModule:
    """Gather every top-level statement of `parsed`; raises ConversionError on duplicates or a bad `__all__`."""
    statements = tuple(parsed.module.body)
    global_scope, scopes, owners = scopes_by_statement(parsed.module)
    defines = gather_bindings(global_scope, owners, len(statements))
    top_level = frozenset(name for names in defines for name in names)
    uses = gather_uses(scopes, global_scope, top_level, owners, len(statements))
    kinds = [kind_of(statement, index) for index, statement in enumerate(statements)]
    if parsed.layout.upstream:  # upstream's dependencies are names, whatever scope binds them there
        defined = {
            name
            for kind, names in zip(kinds, defines, strict=True)
            if kind is not DefinitionKind.IMPORT
            for name in names
        }
        for index, statement in enumerate(statements):
            if kinds[index] in (DefinitionKind.FUNCTION, DefinitionKind.CLASS):
                uses[index] = uses[index] | (mentions([statement]) & defined)
            uses[index] |= parsed.extra_uses.get(statement, frozenset()) & top_level
    definitions = []
    for index, statement in enumerate(statements):
        kind = kinds[index]
        own = tuple(sorted(defines[index]))
        used = tuple(sorted(uses[index] - defines[index]))
        line, col = parsed.position(statement)
        name = getattr(statement, "name", None)
        name = name.value if isinstance(name, cst.Name) else (own[0] if own else "")
        variant = parsed.variants.get(statement)
        definitions.append(Definition(name, statement, kind, own, used, bases_of(statement), line, col, variant))
    diagnostics = [*check_duplicates(parsed, definitions)]
    exports = read_exports(parsed, definitions, diagnostics)
    if diagnostics:
        raise ConversionError(diagnostics)
    return GatheredModule(parsed, tuple(definitions), exports)


def check_definitions(parsed: ParsedModule) -> None:
    """The checks of `gather_definitions` alone (E010, E041), for a file that is gathered for real later.

    They need to know which statements bind `__all__`, and only a statement with a Name `__all__`
    in it can: when no statement but the `__all__ = [...]` ones has one, the scope analysis is
    skipped and the definitions are checked with what they bind left empty.
    """
    statements = parsed.module.body
    kinds = [kind_of(statement, index) for index, statement in enumerate(statements)]
    if any(kind is not DefinitionKind.ALL and names_all(s) for kind, s in zip(kinds, statements, strict=True)):
        gather_definitions(parsed)
        return
    definitions = []
    for kind, statement in zip(kinds, statements, strict=True):
        line, col = parsed.position(statement)
        name = getattr(statement, "name", None)
        name = name.value if isinstance(name, cst.Name) else ""
        definitions.append(Definition(name, statement, kind, (), (), bases_of(statement), line, col))
    # the transformers dialect keeps the last of two definitions (converter/trace/redefined.py)
    diagnostics = [] if parsed.layout.upstream else [*check_duplicates(parsed, definitions)]
    read_exports(parsed, definitions, diagnostics)
    if diagnostics:
        raise ConversionError(diagnostics)


def names_all(statement: cst.BaseStatement) -> bool:
    """A Name `__all__` anywhere in `statement`."""
    stack: list[cst.CSTNode] = [statement]
    while stack:
        node = stack.pop()
        if isinstance(node, cst.Name) and node.value == "__all__":
            return True
        stack += code_nodes(node)
    return False


def gather_bindings(global_scope: GlobalScope, owners: Mapping[int, int], count: int) -> list[set[str]]:
    """Module-level names bound by each of the `count` statements (`import os.path` binds `os`);
    `owners`: node id -> index of the statement holding it (`scopes_by_statement`)."""
    bindings: list[set[str]] = [set() for _ in range(count)]
    for assignment in global_scope.assignments:
        node = getattr(assignment, "node", None)
        index = owners.get(id(node)) if isinstance(node, cst.CSTNode) else None
        if index is not None:
            bindings[index].add(assignment.name.split(".")[0])
    return bindings


def gather_uses(
    scopes: Iterable[Scope | None],
    global_scope: GlobalScope,
    top_level: frozenset[str],
    owners: Mapping[int, int],
    count: int,
) -> list[set[str]]:
    """Module-level names each statement reads, from every access in every scope."""
    uses: list[set[str]] = [set() for _ in range(count)]
    for scope in {id(scope): scope for scope in scopes if scope is not None}.values():
        for access in scope.accesses:
            index = owners.get(id(access.node))
            if index is not None:
                uses[index] |= names_of_access(access, global_scope, top_level)
    return uses


def names_of_access(access: Access, global_scope: GlobalScope, top_level: frozenset[str]) -> set[str]:
    resolved = {ref.name.split(".")[0] for ref in access.referents if ref.scope is global_scope}
    if access.referents and not isinstance(access.node, cst.BaseString):
        return resolved
    # Forward references and string annotations: libcst leaves them unresolved; match by name.
    return resolved | (set(first_names(access.node)) & top_level)


def kind_of(statement: cst.BaseStatement, index: int) -> DefinitionKind:
    if isinstance(statement, cst.ClassDef):
        return DefinitionKind.CLASS
    if isinstance(statement, cst.FunctionDef):
        return DefinitionKind.FUNCTION
    if not isinstance(statement, cst.SimpleStatementLine):
        return DefinitionKind.OTHER
    small = statement.body
    if index == 0 and len(small) == 1 and isinstance(small[0], cst.Expr):
        if isinstance(small[0].value, (cst.SimpleString, cst.ConcatenatedString)):
            return DefinitionKind.DOCSTRING
    if all(isinstance(part, (cst.Import, cst.ImportFrom)) for part in small):
        return DefinitionKind.IMPORT
    if len(small) == 1 and assigned_all(small[0]) is not None:
        return DefinitionKind.ALL
    if all(isinstance(part, (cst.Assign, cst.AnnAssign, cst.AugAssign)) for part in small):
        return DefinitionKind.ASSIGNMENT
    return DefinitionKind.OTHER


def assigned_all(small: cst.BaseSmallStatement) -> cst.BaseExpression | None:
    """The value of `__all__ = ...` / `__all__: list[str] = ...`, else None."""
    if isinstance(small, cst.Assign) and len(small.targets) == 1:
        target = small.targets[0].target
        return small.value if isinstance(target, cst.Name) and target.value == "__all__" else None
    if isinstance(small, cst.AnnAssign) and isinstance(small.target, cst.Name) and small.target.value == "__all__":
        return small.value
    return None


def bases_of(statement: cst.BaseStatement) -> tuple[str, ...]:
    if not isinstance(statement, cst.ClassDef):
        return ()
    names = (get_full_name_for_node(arg.value) for arg in statement.bases if arg.keyword is None)
    return tuple(name or "" for name in names)


def check_duplicates(parsed: ParsedModule, definitions: Sequence[Definition]) -> Iterable[Diagnostic]:
    """E010: a class or function name defined twice (typing.overload stubs excepted)."""
    first_line: dict[str, int] = {}
    for definition in definitions:
        if definition.kind not in (DefinitionKind.CLASS, DefinitionKind.FUNCTION) or is_overload(definition):
            continue
        if definition.variant is not None:  # a per-kind copy, written to another file than the first
            continue
        if definition.name in first_line:
            message = f"{definition.name} is defined twice (first on line {first_line[definition.name]})"
            fix = f"keep one definition of {definition.name} or rename one of them"
            yield parsed.diagnostic_at(definition.line, definition.col, "E010", message, fix)
        else:
            first_line[definition.name] = definition.line


def is_overload(definition: Definition) -> bool:
    decorators = getattr(definition.node, "decorators", ())
    return any(get_full_name_for_node(d.decorator) in ("overload", "typing.overload") for d in decorators)


def read_exports(
    parsed: ParsedModule, definitions: Sequence[Definition], diagnostics: list[Diagnostic]
) -> tuple[str, ...] | None:
    """The names of a literal `__all__ = [...]`; E041 when `__all__` is anything else or set twice."""
    exports: tuple[str, ...] | None = None
    for definition in definitions:
        if "__all__" not in definition.defines and definition.kind is not DefinitionKind.ALL:
            continue
        names = literal_names(definition)
        if names is None or exports is not None:
            message = "__all__ must be a single literal list of strings"
            fix = "write __all__ = ['Name', ...] once, listing the public names"
            diagnostics.append(parsed.diagnostic_at(definition.line, definition.col, "E041", message, fix))
        else:
            exports = names
    return exports


def literal_names(definition: Definition) -> tuple[str, ...] | None:
    if definition.kind is not DefinitionKind.ALL:
        return None
    assert isinstance(definition.node, cst.SimpleStatementLine)
    value = assigned_all(definition.node.body[0])
    if not isinstance(value, (cst.List, cst.Tuple)):
        return None
    names = [element.value for element in value.elements]
    if not all(isinstance(name, cst.SimpleString) for name in names):
        return None
    return tuple(str(name.evaluated_value) for name in names if isinstance(name, cst.SimpleString))
