"""Names read at definition time, where the order of definitions is observable (E210, E211).

Most code reads module-level names when it runs (a method body looks `SCALE` up when it is
called), so the modular definition of a name reaches inherited code wherever the generated file
puts it. Some code reads names once, when its statement executes: class bodies, class bases and
keywords, decorators, parameter defaults, module-level expressions:

    WINDOW = 4                          # base
    class ToyThing:
        limit = WINDOW * 10             # read when the class is defined
        def pair(self, a, b=WINDOW):    # read when the method is defined

There Python binds whatever the name means at that moment, so:

- E210: a value the modular file redefines by assignment (`WINDOW = 9`), read at definition
  time by inherited code (a base definition pulled into the output, or the part of a merged
  class that comes from its base). In Python that code ran with the base's value; the generated
  file would bake in the modular one. The converter refuses rather than guess which one is meant.
  Classes and functions are not refused: DESIGN rule 6, a modular class or function replaces the
  base one everywhere, definition-time reads included (`class GemmaModel(GemmaPreTrainedModel)`
  inherits the modular GemmaPreTrainedModel, `config_class = GemmaConfig` and
  `_can_record_outputs = {"attentions": GemmaAttention}` name the modular classes, a decorator
  naming `apply_rotary_pos_emb` gets the modular function), as every inheriting model (and
  upstream transformers' modular files) rely on.
- E211: modular code that reads at definition time a name the modular file defines only further
  down. Python reads the base's value (or fails); the converter would move the definition up.

Annotations are not counted (they change no behaviour; see E205).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import libcst as cst
from libcst.metadata import GlobalScope

from converter.diagnostics import ConversionError, Diagnostic
from converter.merge.members import member_name
from converter.merge.merge import ModularStatement, statements_of
from converter.merge.signature import uses_super_kwargs
from converter.merge.unroll import strip_docstring
from converter.read.parse import ParsedModule
from converter.rename.namespace import BaseDefinition
from converter.syntax.names import bound_names, code_of, mentions, module_scopes

Uses = Mapping[str, frozenset[str]]


@dataclass(frozen=True)
class Read:
    """A module-level name read at definition time, and where: "`limit = WINDOW * 10` in ZedThing".
    `name` is `node`'s own name, or one that a function `node` calls then reads ("through label")."""

    node: cst.Name
    where: str
    name: str = ""


class CollectDefinitionTimeNames(cst.CSTVisitor):
    """Name nodes evaluated when the visited statement runs; function and lambda bodies and
    annotations are skipped. Stores and attribute names come too: `definition_time_reads` keeps
    the global reads."""

    def __init__(self, where: str) -> None:
        self.where = [where]
        self.scope: list[str] = []
        self.found: list[Read] = []
        self.called: set[int] = set()

    def visit_Name(self, node: cst.Name) -> None:
        self.found.append(Read(node, self.where[-1], node.value))

    def visit_Call(self, node: cst.Call) -> None:
        if isinstance(node.func, cst.Name):
            self.called.add(id(node.func))

    def visit_Decorator(self, node: cst.Decorator) -> None:
        if isinstance(node.decorator, cst.Name):
            self.called.add(id(node.decorator))

    def visit_Annotation(self, node: cst.Annotation) -> bool:
        return False

    def visit_Import(self, node: cst.Import) -> bool:
        return False

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        return False

    def within(self, where: str, nodes: Iterable[cst.CSTNode | None]) -> None:
        self.where.append(where)
        for node in nodes:
            if node is not None:
                node.visit(self)
        self.where.pop()

    def qualified(self, name: str) -> str:
        return ".".join([*self.scope, name])

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        name = self.qualified(node.name.value)
        self.within(f"a decorator of {name}", node.decorators)
        self.within(f"the bases of {name}", [*node.bases, *node.keywords])
        self.scope.append(node.name.value)
        for statement in statements_of(node.body):
            if isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
                statement.visit(self)
            else:
                self.within(f"`{snippet(statement)}` in {name}", [statement])
        self.scope.pop()
        return False

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        name = self.qualified(node.name.value)
        self.within(f"a decorator of {name}", node.decorators)
        self.defaults(node.params, name)
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        self.defaults(node.params, "a lambda")
        return False

    def defaults(self, params: cst.Parameters, name: str) -> None:
        for param in (*params.posonly_params, *params.params, *params.kwonly_params):
            if param.default is not None:
                self.within(f"the default of {param.name.value} in {name}", [param.default])


def snippet(node: cst.CSTNode) -> str:
    line = code_of(node).strip().splitlines()[0] if code_of(node).strip() else ""
    return line if len(line) <= 60 else line[:57] + "..."


def transitive_uses(direct: Mapping[str, Iterable[str]]) -> dict[str, frozenset[str]]:
    """name -> every module-level name its definition reads when it runs, directly or through the
    definitions it reads (a conservative closure: a function called at definition time runs then)."""
    closure: dict[str, frozenset[str]] = {}
    for start in direct:
        seen: set[str] = set()
        work = list(direct[start])
        while work:
            name = work.pop()
            if name not in seen:
                seen.add(name)
                work += direct.get(name, ())
        closure[start] = frozenset(seen)
    return closure


def definition_time_reads(statement: cst.BaseStatement, names: frozenset[str], uses: Uses) -> list[Read]:
    """The reads of `names` (as module-level names) that `statement` makes when it executes, also
    through the functions and classes it calls then (`uses`: see `transitive_uses`)."""
    mentioned = mentions([statement])
    if not names & (mentioned | {name for m in mentioned for name in uses.get(m, ())}):
        return []
    module = cst.Module(body=[statement])
    _, scopes = module_scopes(module)
    global_reads: set[int] = set()
    for scope in scopes:
        for access in scope.accesses:
            if not access.referents or any(isinstance(ref.scope, GlobalScope) for ref in access.referents):
                global_reads.add(id(access.node))
    where = f"`{snippet(statement)}`" if not isinstance(statement, (cst.ClassDef, cst.FunctionDef)) else ""
    collector = CollectDefinitionTimeNames(where)
    statement.visit(collector)
    reads = []
    for read in collector.found:
        if id(read.node) not in global_reads:
            continue
        if read.name in names:
            reads.append(read)
        if id(read.node) in collector.called:
            through = f"{read.where}, through {read.name}" if read.where else f"through {read.name}"
            reads += [Read(read.node, through, name) for name in sorted(uses.get(read.name, frozenset()) & names)]
    return reads


def inherited_part(statement: ModularStatement) -> cst.BaseStatement:
    """What a merged class keeps from its base class: bases, and the members it does not replace
    (the base signature of a `**super_kwargs` override included)."""
    base, own = statement.base, statement.origin
    assert base is not None and isinstance(base.node, cst.ClassDef) and isinstance(own, cst.ClassDef)
    written = strip_docstring(own.body)
    replaced = {member_name(s) for s in written} - {None}
    extended = {s.name.value for s in written if isinstance(s, cst.FunctionDef) and uses_super_kwargs(s)}
    kept = []
    for member in strip_docstring(base.node.body):
        name = member_name(member)
        if name in extended and isinstance(member, cst.FunctionDef):
            kept.append(member.with_changes(decorators=[]))
        elif name is None or name not in replaced:
            kept.append(member)
    body = cst.IndentedBlock(body=kept or [cst.SimpleStatementLine([cst.Pass()])])
    return base.node.with_changes(name=own.name, body=body)


def check_definition_time(
    parsed: ParsedModule,
    statements: Sequence[ModularStatement],
    pulled: Mapping[str, BaseDefinition],
    direct_uses: Mapping[str, Iterable[str]],
) -> None:
    """E210 and E211 (see the module docstring). `statements`: the modular file's, in source order;
    `pulled`: the base definitions the output needs; `direct_uses`: name -> the module-level names
    its definition in the output reads."""
    uses = transitive_uses(direct_uses)
    diagnostics = [
        *inherited_reads(parsed, statements, pulled, uses),
        *reads_before_definition(parsed, statements, uses),
    ]
    if diagnostics:
        raise ConversionError(diagnostics)


def is_assignment(statement: cst.BaseStatement) -> bool:
    """`X = ...`, `X: T = ...`, `X += ...` at the top level (not a class, function or import)."""
    return isinstance(statement, cst.SimpleStatementLine) and all(
        isinstance(small, (cst.Assign, cst.AnnAssign, cst.AugAssign)) for small in statement.body
    )


def is_import(statement: cst.BaseStatement) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and all(
        isinstance(small, (cst.Import, cst.ImportFrom)) for small in statement.body
    )


def inherited_reads(
    parsed: ParsedModule, statements: Sequence[ModularStatement], pulled: Mapping[str, BaseDefinition], uses: Uses
) -> Iterable[Diagnostic]:
    """E210: one diagnostic per redefined name, at its modular definition, naming what reads it."""
    redefined: dict[str, ModularStatement] = {}
    for statement in statements:
        if is_assignment(statement.origin):
            for name in bound_names([statement.node]):
                redefined.setdefault(name, statement)
    if not redefined:
        return
    names = frozenset(redefined)
    readers: list[tuple[str, Read]] = []
    for definition in {id(d): d for d in pulled.values()}.values():
        readers += [(definition.path, read) for read in definition_time_reads(definition.node, names, uses)]
    for statement in statements:
        if statement.base is not None and isinstance(statement.origin, cst.ClassDef):
            part = inherited_part(statement)
            readers += [(statement.base.path, read) for read in definition_time_reads(part, names, uses)]
    for name in sorted(names):
        found = [(path, read) for path, read in readers if read.name == name]
        if not found:
            continue
        path = found[0][0]
        places = list(dict.fromkeys(read.where for _, read in found))
        listed = ", ".join(places[:3]) + (f" and {len(places) - 3} more" if len(places) > 3 else "")
        message = (
            f"{name} is redefined in this file, but inherited code reads it when it is defined ({listed}, "
            f"from {path}): Python gives that code the base's {name}, the generated file would give it this one"
        )
        fix = (
            f"give this file's value a name of its own and use that where this model needs it, or override "
            f"what reads {name} in this file so that no inherited code reads it at definition time"
        )
        yield parsed.diagnostic(redefined[name].origin, "E210", message, fix)


def reads_before_definition(
    parsed: ParsedModule, statements: Sequence[ModularStatement], uses: Uses
) -> Iterable[Diagnostic]:
    """E211: a definition-time read, in modular code, of a name the file defines only later."""
    first_binding: dict[str, int] = {}
    for index, statement in enumerate(statements):
        for name in bound_names([statement.origin]):
            first_binding.setdefault(name, index)
    for index, statement in enumerate(statements):
        later = frozenset(name for name, at in first_binding.items() if at > index)
        if is_import(statement.origin) or not later:
            continue
        for read in definition_time_reads(statement.origin, later, uses):
            name = read.name
            line = parsed.position(statements[first_binding[name]].origin)[0]
            here = parsed.position(statement.origin)[0]
            message = (
                f"{name} is read at definition time ({read.where}, line {here}), but this file defines {name} "
                f"only at line {line}: Python reads the base's {name} there (or fails), the generated file "
                f"would move this file's {name} up"
            )
            fix = f"move the definition of {name} above line {here}"
            yield parsed.diagnostic(read.node, "E211", message, fix)
