"""What a module says, without running it, about the classes it defines and the names it imports.

The MRO check (converter/merge/classes/mro.py) needs the bases of classes defined in the modular file, in base
models and in library modules (`transformers/modeling_layers.py`, `runtime/generation.py`). This
module reads them off the syntax tree, libcst's for files the converter has parsed already and
`ast`'s for library files (much cheaper to parse), into one value:

    class GradientCheckpointingLayer(nn.Module): ...      classes["GradientCheckpointingLayer"] == ("nn.Module",)
    import torch.nn as nn                                  imports["nn"] == Binding(0, "torch.nn", None)
    from ..utils import ModelOutput as Out                 imports["Out"] == Binding(2, "utils", "ModelOutput")

Statements under `if`, `else`, `try` and `except` count (a lazy package declares its names in an
`if TYPE_CHECKING:` block); function and class bodies do not. A name bound twice in different
ways (`try: from a import X` / `except ImportError: X = None`, or a class defined in both
branches of an `if`) is `ambiguous`: what it is depends on running the module.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import libcst as cst

#: A base written as anything but a dotted name (`make_base()`, `*bases`): its class is unknown.
UNREADABLE = ""


@dataclass(frozen=True)
class Binding:
    """`from <level dots><module> import <name>` (`name` None: `import <module>`, bound to the module)."""

    level: int
    module: str
    name: str | None


@dataclass
class ModuleFacts:
    """Top-level classes (name -> the dotted text of each positional base) and imports of one module."""

    classes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    imports: dict[str, Binding] = field(default_factory=dict)
    ambiguous: set[str] = field(default_factory=set)
    others: set[str] = field(default_factory=set)  # bound by an assignment, a def, a with...
    star: bool = False  # a star import: it may bind any name

    def binds(self, name: str) -> bool | None:
        """Whether the module binds `name` at its top level; None where a star import or a module
        `__getattr__` may bind names not written."""
        if self.star or "__getattr__" in self.others:
            return None
        return name in self.classes or name in self.imports or name in self.others

    def add(self, name: str, value: tuple[str, ...] | Binding | None) -> None:
        """Record one binding of `name`: a class's bases, an import, or None for anything else."""
        known = self.classes.get(name, self.imports.get(name))
        if name in self.others or (known is not None and known != value) or (value is None and known is not None):
            self.ambiguous.add(name)
        if value is None:
            self.others.add(name)
        elif isinstance(value, Binding):
            self.imports[name] = value
        else:
            self.classes[name] = value

    def kind(self, name: str) -> tuple[str, ...] | Binding | None:
        """The class bases or import binding of `name`; None when it is not one (or is ambiguous)."""
        if name in self.ambiguous:
            return None
        return self.classes.get(name, self.imports.get(name))


def facts_from_ast(tree: ast.Module) -> ModuleFacts:
    facts = ModuleFacts()
    for statement in ast_statements(tree.body):
        if isinstance(statement, ast.ClassDef):
            facts.add(statement.name, tuple(ast_dotted(base) for base in statement.bases))
        elif isinstance(statement, ast.ImportFrom):
            for alias in statement.names:
                if alias.name == "*":
                    facts.star = True
                else:
                    binding = Binding(statement.level, statement.module or "", alias.name)
                    facts.add(alias.asname or alias.name, binding)
        elif isinstance(statement, ast.Import):
            for alias in statement.names:
                if alias.asname:
                    facts.add(alias.asname, Binding(0, alias.name, None))
                else:
                    facts.add(alias.name.split(".")[0], Binding(0, alias.name.split(".")[0], None))
        else:
            for name in ast_bound_names(statement):
                facts.add(name, None)
    return facts


def ast_statements(body: Iterable[ast.stmt]) -> Iterator[ast.stmt]:
    """The statements of `body` and of the `if` / `try` blocks in it, recursively."""
    for statement in body:
        if isinstance(statement, ast.If):
            yield from ast_statements([*statement.body, *statement.orelse])
        elif isinstance(statement, ast.Try):
            handlers = [s for handler in statement.handlers for s in handler.body]
            yield from ast_statements([*statement.body, *handlers, *statement.orelse, *statement.finalbody])
        else:
            yield statement


def ast_bound_names(statement: ast.stmt) -> Iterator[str]:
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
        yield statement.name
    for node in ast.walk(statement) if isinstance(statement, (ast.Assign, ast.AnnAssign, ast.AugAssign)) else ():
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            yield node.id


def ast_dotted(node: ast.expr) -> str:
    """`a.b.C` for a Name/Attribute chain, else UNREADABLE."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        value = ast_dotted(node.value)
        return f"{value}.{node.attr}" if value else UNREADABLE
    return UNREADABLE


def facts_from_cst(modules: Iterable[cst.Module], model_file: Callable[[str], bool] | None = None) -> ModuleFacts:
    """The facts of libcst modules read as one namespace (a base model's files). With `model_file`,
    an import from a sibling file it accepts (`from .configuration_sam import SamConfig`) binds
    nothing: the sibling's definitions are in the namespace (for a modular file, its own classes)."""
    facts = ModuleFacts()
    for module in modules:
        for statement in cst_statements(module.body):
            if model_file is None or not is_sibling_model_import(statement, model_file):
                add_cst_statement(facts, statement)
    return facts


def is_sibling_model_import(statement: cst.CSTNode, model_file: Callable[[str], bool]) -> bool:
    if not isinstance(statement, cst.ImportFrom) or len(statement.relative) != 1 or statement.module is None:
        return False
    return model_file(cst_dotted(statement.module))


def add_cst_statement(facts: ModuleFacts, statement: cst.CSTNode) -> None:
    if isinstance(statement, cst.ClassDef):
        bases = tuple(cst_dotted(arg.value) if not arg.star else UNREADABLE for arg in statement.bases)
        facts.add(statement.name.value, bases)
    elif isinstance(statement, cst.FunctionDef):
        facts.add(statement.name.value, None)
    elif isinstance(statement, cst.ImportFrom) and not isinstance(statement.names, cst.ImportStar):
        module = cst_dotted(statement.module) if statement.module is not None else ""
        for alias in statement.names:
            name = cst_dotted(alias.name)
            facts.add(alias.evaluated_alias or name, Binding(len(statement.relative), module, name))
    elif isinstance(statement, cst.Import):
        for alias in statement.names:
            name = cst_dotted(alias.name)
            top = name.split(".")[0]
            facts.add(alias.evaluated_alias or top, Binding(0, name if alias.evaluated_alias else top, None))
    elif isinstance(statement, (cst.Assign, cst.AnnAssign, cst.AugAssign)):
        targets = statement.targets if isinstance(statement, cst.Assign) else [statement]
        for target in targets:
            if isinstance(target.target, cst.Name):
                facts.add(target.target.value, None)


def cst_statements(body: Iterable[cst.CSTNode]) -> Iterator[cst.CSTNode]:
    """Small statements and compound ones (`class`, `def`) of `body` and of its `if` / `try` blocks."""
    for statement in body:
        if isinstance(statement, cst.SimpleStatementLine):
            yield from statement.body
        elif isinstance(statement, cst.If):
            yield from cst_statements(cst_block(statement.body))
            orelse = statement.orelse
            if isinstance(orelse, cst.If):
                yield from cst_statements([orelse])
            elif orelse is not None:
                yield from cst_statements(cst_block(orelse.body))
        elif isinstance(statement, cst.Try):
            blocks = [statement.body, *(handler.body for handler in statement.handlers)]
            blocks += [part.body for part in (statement.orelse, statement.finalbody) if part is not None]
            for block in blocks:
                yield from cst_statements(cst_block(block))
        else:
            yield statement


def cst_block(suite: cst.BaseSuite) -> list[cst.CSTNode]:
    return list(suite.body) if isinstance(suite, cst.IndentedBlock) else [cst.SimpleStatementLine(suite.body)]


def cst_dotted(node: cst.CSTNode) -> str:
    """`a.b.C` for a Name/Attribute chain, else UNREADABLE."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        value = cst_dotted(node.value)
        return f"{value}.{node.attr.value}" if value else UNREADABLE
    return UNREADABLE
