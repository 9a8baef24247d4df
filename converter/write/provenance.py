"""Provenance: where each line of a generated file was written, kept beside it in `provenance.json`.

In:  one model's formatted output files, its modular source, and its base models' generated files
     with their own `provenance.json` (this run's output or the files on disk).
Out: the model's `generated/<model>/provenance.json`: for every statement line of every output file,
     the chain of places the code went through, first where it was written:

    generated/gemma2/modeling_gemma2.py:205  ->  ["modular/modular_llama.py:45",
                                                  "generated/llama/modeling_llama.py:210",
                                                  "generated/gemma/modeling_gemma.py:200"]

Each output statement is matched to the statement it was made from, after the passes, by structure
(Python's `ast`, so formatting does not matter) with model names made equal (Gemma2MLP and
GemmaMLP and LlamaMLP are one name here). Top-level definitions and class members are matched by
name, in the modular file first (rule 6: its definitions win), then in the base models' files;
other statements by their code, in the bodies of the definitions matched: the modular override,
then the base method (statements inlined by unrolling `super().method(...)` are the base's). A
statement the passes wrote (an argument bound by unrolling, a return turned into an assignment)
has no source statement of its own: it is attributed to the `super()` call that inlined it, else to
its enclosing statement. Imports, the header and a synthesised `__all__` have no single origin.

Only the repository layout gets a map; a transformers tree (converter/layout.py) has no place for one.
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import difflib
import functools
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from converter.read.bases import SIDECAR, BaseLoader
from converter.rename.rename import camelize
from converter.write.emit import EmittedFile, EmittedModel
from converter.write.provenance_map import BaseProvenance, Chain, dump_sidecar, ranges, read_base_provenance, sha256

#: The fields of a compound statement that hold statements (the rest is its header).
BODIES = ("body", "orelse", "finalbody", "handlers", "cases")
DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


@dataclass(frozen=True)
class Source:
    """A file output statements may come from: the modular file, or a base model's generated file.

    `chain(line)` is the chain of a statement starting at `line` there: the place itself for a
    modular file; the base's own chain of that line, then the place, for a generated file."""

    path: str
    tree: ast.Module
    lines: Mapping[int, Chain]  # a base file's provenance; empty for the modular file

    def chain(self, line: int) -> Chain:
        return (*self.lines.get(line, ()), f"{self.path}:{line}")


@dataclass(frozen=True)
class Body:
    """Statements that output statements may be matched to, in one source."""

    source: Source
    statements: Sequence[ast.stmt]


@dataclass(frozen=True)
class Canon:
    """Model names made equal: every form of the names of a model and its ancestors becomes `MODEL`."""

    models: tuple[str, ...]

    @functools.cached_property
    def pattern(self) -> re.Pattern[str] | None:
        forms = {form for model in self.models for form in name_forms(model)}
        if not forms:
            return None
        alternatives = "|".join(re.escape(form) for form in sorted(forms, key=lambda f: (-len(f), f)))
        return re.compile(rf"(?<![A-Za-z0-9])(?:{alternatives})(?![a-z])")

    def __call__(self, text: str) -> str:
        return text if self.pattern is None else self.pattern.sub("MODEL", text)

    @functools.cached_property
    def keys(self) -> dict[tuple[int, bool], tuple[ast.AST, str]]:
        """(id of a statement, header only) -> (the statement, its key); the statement is kept so
        that its id is not reused while the key is cached."""
        return {}

    def dump(self, node: ast.stmt) -> str:
        """The whole statement's code; a definition only by what it is (its name matches it)."""
        if isinstance(node, DEFINITIONS):
            return f"{type(node).__name__} {self(node.name)}"
        return self.key(node, header=False)

    def header(self, node: ast.stmt) -> str:
        """The statement without the statements it holds (`def f(x):`, `if a:`)."""
        return self.key(node, header=True)

    def key(self, node: ast.stmt, header: bool) -> str:
        found = self.keys.get((id(node), header))
        if found is None:
            shallow = copy.copy(node) if header else node
            for field in BODIES if header else ():
                if hasattr(shallow, field):
                    setattr(shallow, field, [])
            found = self.keys[id(node), header] = (node, self(ast.dump(shallow, annotate_fields=False)))
        return found[1]


@functools.lru_cache(maxsize=64)
def parse(text: str) -> ast.Module:
    """Python's tree of a file; a base's files are parsed once for all the models built on it (the
    trees are only read)."""
    return ast.parse(text)


def name_forms(model: str) -> tuple[str, ...]:
    """`gpt_neox` -> gpt_neox, GPT_NEOX, GptNeox: the forms the rename rule replaces."""
    return (model, model.upper(), camelize(model))


def build_provenance(
    model: str,
    modular_path: str,
    modular_source: str,
    outputs: Mapping[str, str],
    bases: Sequence[BaseProvenance],
) -> str:
    """The text of `generated/<model>/provenance.json` for the formatted `outputs` (path -> text)."""
    modular = Source(modular_path, ast.parse(modular_source), {})
    base_sources = [
        Source(path, ast.parse(text), base.lines.get(path, {})) for base in bases for path, text in base.files
    ]
    ancestors = [model, *own_prefixes(modular.tree, model), *(name for base in bases for name in base.models)]
    canon = Canon(tuple(dict.fromkeys(ancestors)))
    files = {}
    for path in sorted(outputs):
        if not path.endswith(".py") or path.endswith("/__init__.py"):
            continue
        text = outputs[path]
        lines = Matcher(canon, modular, base_sources).file_lines(parse(text))
        files[path] = {"sha256": sha256(text), "lines": ranges(lines)}
    return dump_sidecar(model, modular_path, tuple(dict.fromkeys(ancestors)), files)


def own_prefixes(tree: ast.Module, model: str) -> list[str]:
    """The longer prefixes the modular file's classes take beside the model's own, as model names:
    `idefics_vision` for `class IdeficsVisionAttention(CLIPAttention)` in modular_idefics.py (the
    converter renames that base with them, so its names are the model's there too)."""
    camel = camelize(model)
    imported = {
        alias.asname or alias.name
        for statement in tree.body
        if isinstance(statement, ast.ImportFrom) and (statement.module or "").startswith("generated.")
        for alias in statement.names
    }
    found = []
    for statement in tree.body:
        if not isinstance(statement, ast.ClassDef):
            continue
        for base in statement.bases:
            if not isinstance(base, ast.Name) or base.id not in imported:
                continue
            suffix = os.path.commonprefix([statement.name[::-1], base.id[::-1]])[::-1]
            while suffix and not suffix[0].isupper():
                suffix = suffix[1:]
            prefix = statement.name[: len(statement.name) - len(suffix)] if suffix else ""
            if prefix != camel and prefix.startswith(camel) and prefix.isidentifier():
                found.append(re.sub(r"(?<!^)(?=[A-Z])", "_", prefix).lower())
    return sorted(set(found))


class Matcher:
    """Matches the statements of one output file to their sources and gives each line its chain."""

    def __init__(self, canon: Canon, modular: Source, bases: Sequence[Source]) -> None:
        self.canon = canon
        self.modular = modular
        self.bases = bases
        self.lines: dict[int, Chain | None] = {}

    def file_lines(self, tree: ast.Module) -> dict[int, Chain | None]:
        candidates = [Body(self.modular, self.modular.tree.body), *(Body(s, s.tree.body) for s in self.bases)]
        self.align(tree.body, candidates, None, top=True)
        return self.lines

    def align(
        self,
        statements: Sequence[ast.stmt],
        candidates: Sequence[Body],
        enclosing: Chain | None,
        top: bool,
        in_class: bool = False,
    ) -> None:
        """Give each statement of one body its chain, then do the same inside it."""
        matched = self.match(statements, candidates, assignments=top or in_class)
        fallback = self.super_call(candidates) or enclosing
        for index, statement in enumerate(statements):
            found = matched.get(index)
            if top and isinstance(statement, (ast.Import, ast.ImportFrom)):
                chain = None
            elif found is not None:
                chain = found[0].chain(found[1].lineno)
            elif top and names_all(statement):
                chain = None
            else:
                chain = fallback
            self.mark(statement, chain)
            for field, inner in child_bodies(statement):
                inner_candidates = self.inner_candidates(statement, field, found, candidates)
                self.align(inner, inner_candidates, chain, False, isinstance(statement, ast.ClassDef))

    def match(
        self, statements: Sequence[ast.stmt], candidates: Sequence[Body], assignments: bool
    ) -> dict[int, tuple[Source, ast.stmt]]:
        """index -> (source, statement): definitions by name, then whole statements by code, then
        compound statements by their header, each candidate body in turn."""
        matched: dict[int, tuple[Source, ast.stmt]] = {}
        for index, statement in enumerate(statements):
            name = self.defined_name(statement, assignments)
            if name is None:
                continue
            for body in candidates:
                hit = next((s for s in body.statements if self.defined_name(s, assignments) == name), None)
                if hit is not None:
                    matched[index] = (body.source, hit)
                    break
        for key in (self.canon.dump, self.canon.header):
            for body in candidates:
                self.match_in_order(statements, body, key, matched)
        return matched

    def match_in_order(
        self,
        statements: Sequence[ast.stmt],
        body: Body,
        key: Callable[[ast.stmt], str],
        matched: dict[int, tuple[Source, ast.stmt]],
    ) -> None:
        """The longest common runs of equal statements, in order, among those not matched yet."""
        free = [index for index in range(len(statements)) if index not in matched]
        taken = {id(statement) for _, statement in matched.values()}
        pool = [statement for statement in body.statements if id(statement) not in taken]
        if not free or not pool:
            return
        ours = [key(statements[index]) for index in free]
        theirs = [key(statement) for statement in pool]
        for block in difflib.SequenceMatcher(None, ours, theirs, autojunk=False).get_matching_blocks():
            for offset in range(block.size):
                matched[free[block.a + offset]] = (body.source, pool[block.b + offset])

    def defined_name(self, statement: ast.stmt, assignments: bool = True) -> str | None:
        """The canonical name a class, function or (with `assignments`) single-target assignment binds.

        Assignments count at module and class level, where a name is bound once; in a function body
        a name is often bound several times, and statements there are matched by their code."""
        if isinstance(statement, DEFINITIONS):
            return f"{type(statement).__name__[:5]} {self.canon(statement.name)}"
        if not assignments:
            return None
        target = statement.targets[0] if isinstance(statement, ast.Assign) and len(statement.targets) == 1 else None
        if isinstance(statement, ast.AnnAssign):
            target = statement.target
        if isinstance(target, ast.Name):
            return f"= {self.canon(target.id)}"
        return None

    def inner_candidates(
        self,
        statement: ast.stmt,
        field: str,
        found: tuple[Source, ast.stmt] | None,
        candidates: Sequence[Body],
    ) -> list[Body]:
        """Where the statements inside `statement` come from: the same body of its source statement
        and of every same-named definition (override, then base); for other compound statements,
        the matching body of the matched statement and the bodies nested in the bodies around it
        (for a `with` block, those bodies too: a super() call in it unrolls there)."""
        inner: list[Body] = []
        name = self.defined_name(statement)
        if name is not None:
            for body in candidates:
                for other in body.statements:
                    if self.defined_name(other) == name:
                        inner.append(Body(body.source, getattr(other, field, [])))
                        inner += self.declared_bases(other, body.source)
        elif found is not None:
            inner.append(Body(found[0], getattr(found[1], field, [])))
        if name is None or not isinstance(statement, ast.ClassDef):
            inner += [Body(body.source, nested) for body in candidates for nested in nested_bodies(body.statements)]
        if isinstance(statement, ast.With):  # it may hold a base body unrolled into it: `out = super().f()`
            inner += candidates
        return unique_bodies(inner)

    def declared_bases(self, definition: ast.stmt, source: Source) -> list[Body]:
        """For a modular class, the bodies of the base-model classes it names as bases."""
        if source is not self.modular or not isinstance(definition, ast.ClassDef):
            return []
        names = {f"class {self.canon(base.id)}" for base in definition.bases if isinstance(base, ast.Name)}
        return [
            Body(base, statement.body)
            for base in self.bases
            for statement in base.tree.body
            if isinstance(statement, ast.ClassDef) and f"class {self.canon(statement.name)}" in names
        ]

    def super_call(self, candidates: Sequence[Body]) -> Chain | None:
        """The chain of the modular statement calling `super()` in these bodies, if there is one."""
        for body in candidates:
            if body.source is self.modular:
                for statement in body.statements:
                    if calls_super(statement):
                        return body.source.chain(statement.lineno)
        return None

    def mark(self, statement: ast.stmt, chain: Chain | None) -> None:
        """`chain` for every line of `statement` (decorators included); inner statements overwrite
        theirs later, so a line gets its innermost statement's chain."""
        first = min([statement.lineno, *(d.lineno for d in getattr(statement, "decorator_list", ()))])
        for line in range(first, (statement.end_lineno or statement.lineno) + 1):
            self.lines[line] = chain


def child_bodies(statement: ast.stmt) -> Iterator[tuple[str, list[ast.stmt]]]:
    for field in BODIES:
        value = getattr(statement, field, None)
        if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
            yield field, value
        elif field == "handlers" and value:
            for handler in value:
                yield "handlers", handler.body


def nested_bodies(statements: Iterable[ast.stmt]) -> Iterator[list[ast.stmt]]:
    """The bodies inside compound statements (not definitions) of `statements`, at any depth: an
    inlined statement may come from inside a base's `if` or `with`."""
    for statement in statements:
        if isinstance(statement, DEFINITIONS):
            continue
        for _, inner in child_bodies(statement):
            yield inner
            yield from nested_bodies(inner)


def unique_bodies(bodies: Iterable[Body]) -> list[Body]:
    seen: dict[int, Body] = {}
    for body in bodies:
        seen.setdefault(id(body.statements), body)
    return list(seen.values())


def calls_super(statement: ast.stmt) -> bool:
    if isinstance(statement, DEFINITIONS):
        return False
    return any(
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"
        for node in ast.walk(statement)
    )


def names_all(statement: ast.stmt) -> bool:
    targets = statement.targets if isinstance(statement, ast.Assign) else []
    return any(isinstance(target, ast.Name) and target.id == "__all__" for target in targets)


def with_provenance(model: EmittedModel, source: str, bases: Sequence[str], loader: BaseLoader) -> EmittedModel:
    """`model` with its `provenance.json` added (formatted files in; a tree's models unchanged).

    The bases' files and maps come from the loader: this run's output where the run converted
    them, else the files on disk."""
    if model.tree:
        return model
    directory = model.files[0].path.rsplit("/", 1)[0]
    read = [read_base_provenance(name, loader.package_texts(name) or {}, loader.sidecar(name)) for name in bases]
    outputs = {file.path: file.text for file in model.files}
    text = build_provenance(model.model, model.modular_path, source, outputs, read)
    return dataclasses.replace(model, files=(*model.files, EmittedFile(f"{directory}/{SIDECAR}", text)))
