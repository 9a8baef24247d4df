"""Pass 1, parse: read a modular file and parse it with libcst. The only pass that reads files.

The modular file is never imported or executed. It is taken only from where modular files belong
(locate.py), read as bounded UTF-8 text (source.py), parsed by CPython's own parser first, which
only parses, reports better positions and messages than libcst's and rejects cleanly what would
crash libcst, and refused where it nests deeper than libcst and the passes can follow (nesting.py).

    parsed = parse_modular(Path("modular/modular_llama.py"), repo_root)
    parsed.model          # "llama"
    parsed.display_path   # "modular/modular_llama.py"
"""

from __future__ import annotations

import ast
import contextlib
import functools
import re
import threading
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst
from libcst.metadata import CodePosition, CodeRange, MetadataWrapper, PositionProvider

from converter.diagnostics import ConversionError, Diagnostic
from converter.layout import REPO, Layout
from converter.read.locate import Located, locate_modular
from converter.read.nesting import (
    TOO_DEEP_FIX,
    TOO_DEEP_MESSAGE,
    bounded,
    check_source,
    collection_paused,
    deepest_point,
)
from converter.read.source import read_source, source_lines
from converter.syntax.names import child_nodes


@dataclass(frozen=True)
class ParsedModule:
    """A parsed modular file; `positions` is keyed by the nodes of `module` (1-based lines, 0-based columns).

    After the inheritance passes, `module` is the standalone module they built and `origins` maps
    its statements to the 1-based (line, col) in the modular file they come from, so diagnostics
    of later passes still point into the file the user wrote. `source` stays the modular source.
    `layout` says where bases and outputs live (converter/layout.py).
    """

    path: Path
    display_path: str
    source: str
    model: str
    module: cst.Module
    wrapper: MetadataWrapper
    positions: Mapping[cst.CSTNode, CodeRange]
    origins: Mapping[cst.CSTNode, tuple[int, int]] = field(default_factory=dict)
    layout: Layout = REPO
    #: transformers dialect: a base definition pulled for the files of one kind only -> that kind
    #: (converter/trace/trace.py, Tracer.variants); the statement of the same name without one serves the others
    variants: Mapping[cst.CSTNode, str] = field(default_factory=dict)
    #: transformers dialect: names a statement counts as used although its code does not read them (what a
    #: definition upstream leaves out needs, converter/trace/trace.py Tracer.rejected)
    extra_uses: Mapping[cst.CSTNode, frozenset[str]] = field(default_factory=dict)
    #: the statements of the standalone module pulled from a base model (not written in the modular file)
    pulled: frozenset[cst.CSTNode] = frozenset()

    def position(self, node: cst.CSTNode) -> tuple[int, int]:
        """1-based (line, col) of `node` in the modular file, as diagnostics print it."""
        origin = self.origins.get(node)
        if origin is not None:
            return origin
        start = self.positions.start_of(node) if isinstance(self.positions, LazyPositions) else None
        if start is not None:
            return start[0], start[1] + 1
        if node not in self.positions:
            # A wrapper built by a pass (a one-line class body split into statements): use what it wraps.
            inner = next((child for child in node.children if self.has_position(child)), None)
            return self.position(inner) if inner is not None else (1, 1)
        start = self.positions[node].start
        return start.line, start.column + 1

    def has_position(self, node: cst.CSTNode) -> bool:
        return node in self.origins or node in self.positions or any(map(self.has_position, node.children))

    def diagnostic(self, node: cst.CSTNode, code: str, message: str, fix: str) -> Diagnostic:
        line, col = self.position(node)
        return self.diagnostic_at(line, col, code, message, fix)

    def diagnostic_at(self, line: int, col: int, code: str, message: str, fix: str) -> Diagnostic:
        return make_diagnostic(self.display_path, self.source, line, col, code, message, fix)


class LazyPositions(Mapping[cst.CSTNode, CodeRange]):
    """The positions of a wrapper's module, computed on first use: a module the passes build is
    printed with positions only when a diagnostic points into it (they are about as costly as
    parsing it), and then only the top-level statement holding the node (`StatementPositions`)
    where that gives the same answer. Given the module's `source`, `start_of` answers for its
    statements without printing anything."""

    def __init__(self, wrapper: MetadataWrapper, source: str | None = None, tree: ast.Module | None = None) -> None:
        self.wrapper = wrapper
        self.source = source
        self.tree = tree  # CPython's tree of `source` when the caller has it

    @functools.cached_property
    def statement_starts(self) -> Mapping[int, tuple[int, int]]:
        if self.source is None:
            return {}
        return statement_starts(self.source, self.wrapper.module, self.tree)

    def start_of(self, node: cst.CSTNode) -> tuple[int, int] | None:
        """Where `node` starts (1-based line, 0-based column) when it is a top-level statement, a
        small statement of a top-level line or a name it imports, as PositionProvider gives it; else None."""
        return self.statement_starts.get(id(node))

    @functools.cached_property
    def resolved(self) -> Mapping[cst.CSTNode, CodeRange]:
        return self.wrapper.resolve(PositionProvider)

    def __getitem__(self, node: cst.CSTNode) -> CodeRange:
        if "resolved" not in self.__dict__:
            found = self.statements.position(node)
            if found is not None:
                return found
        return self.resolved[node]

    @functools.cached_property
    def statements(self) -> StatementPositions:
        known = self.source is not None and "\r" not in self.source
        return StatementPositions(self.wrapper.module, self.statement_starts if known else None)

    def __iter__(self) -> Iterator[cst.CSTNode]:
        return iter(self.resolved)

    def __len__(self) -> int:
        return len(self.resolved)


@dataclass(frozen=True)
class Nested:
    """A simple line in the blocks (outermost first) of a top-level statement."""

    line: cst.SimpleStatementLine
    blocks: tuple[cst.IndentedBlock, ...]


class StatementPositions:
    """PositionProvider's position of one node of `module`, from its top-level statement alone.

    A diagnostic needs the position of one node, but PositionProvider prints the whole module to
    give every node's. Here the statement holding the node is printed alone (as a module of that
    one statement, with the module's indentation and newline) and its positions are moved down by
    the lines the header and the statements before it take. That is what the whole module's
    printing records for the node, provided that no node object belongs to two top-level statements
    (or to a statement and the header or footer: the provider keeps the first position of some
    nodes) and that the statement starts a line. `position` gives None where that is not certain
    (shared nodes, `\r` newlines, the module node, its header and footer): the caller then resolves
    the whole module.

    The lines before a statement are counted in the code of the header and the statements before
    it (printing them), or, given `starts` (`statement_starts` of the source the module was parsed
    from, without `\r` newlines), read off its start there: the whole module's printing puts the
    statement there, so the shift is that line less the statement's line printed alone.
    """

    #: `owners` value of the module node and of header and footer nodes: resolve the whole module
    WHOLE = -1

    def __init__(self, module: cst.Module, starts: Mapping[int, tuple[int, int]] | None = None) -> None:
        self.module = module
        self.starts = starts
        self.computed: dict[int, Mapping[cst.CSTNode, CodeRange]] = {}  # by statement index
        self.computed_lines: dict[int, Mapping[cst.CSTNode, CodeRange]] = {}  # by id of a nested line

    @functools.cached_property
    def owners(self) -> dict[int, int] | None:
        """id of every node of the module -> index of its top-level statement (`WHOLE` for the module,
        header and footer); None when a node object occurs in two of them."""
        return self.walked[0]

    @functools.cached_property
    def walked(self) -> tuple[dict[int, int] | None, dict[int, Nested | None]]:
        """(`owners`, `lines`): one walk of the module."""
        owners = {id(self.module): self.WHOLE}
        lines: dict[int, Nested | None] = {}
        starts = self.starts or {}
        parts = [(self.WHOLE, [*self.module.header, *self.module.footer]), *enumerate(self.module.body)]
        for index, roots in parts:
            stack: list[tuple[cst.CSTNode, Nested | None, tuple[cst.IndentedBlock, ...]]]
            stack = [(root, None, ()) for root in (roots if isinstance(roots, list) else [roots])]
            while stack:
                node, nested, blocks = stack.pop()
                if owners.setdefault(id(node), index) != index:
                    return None, {}
                kind = type(node)
                if kind is cst.IndentedBlock:
                    blocks = (*blocks, node)
                elif kind is cst.SimpleStatementLine and nested is None and blocks and id(node) in starts:
                    nested = Nested(node, blocks)
                if lines.setdefault(id(node), nested) is not nested:
                    lines[id(node)] = None  # in two lines, or in one and outside it
                stack += [(child, nested, blocks) for child in child_nodes(node)]
        return owners, lines

    @property
    def lines(self) -> dict[int, Nested | None]:
        """id of each node inside a simple line in a block of a top-level statement (a class or
        function body), whose start `starts` gives -> that line and its blocks; None for a node in
        two places."""
        return self.walked[1]

    @functools.cached_property
    def first_lines(self) -> list[int] | None:
        """1-based line where the code of each top-level statement starts (at column 0); None where
        the module's code has a `\r` newline (PositionProvider counts those token by token)."""
        header = "".join(self.module.code_for_node(line) for line in self.module.header)
        if "\r" in header:
            return None
        first_lines = []
        count = 1 + header.count("\n")
        for statement in self.module.body:
            text = self.module.code_for_node(statement)
            if "\r" in text or not text.endswith("\n"):
                return None
            first_lines.append(count)
            count += text.count("\n")
        return first_lines

    def position(self, node: cst.CSTNode) -> CodeRange | None:
        """PositionProvider's range of `node`; None when the whole module must be resolved instead.
        Raises KeyError when `node` is not in the module."""
        owners = self.owners
        if owners is None:
            return None
        index = owners.get(id(node))
        if index is None:
            raise KeyError(node)
        if index == self.WHOLE:
            return None
        nested = self.lines.get(id(node))
        if nested is not None:
            return self.in_line(node, nested)
        found = self.alone(index).get(node)
        shift = self.shift(index)
        if found is None or shift is None:
            return None
        start, end = found.start, found.end
        return CodeRange(CodePosition(start.line + shift, start.column), CodePosition(end.line + shift, end.column))

    def in_line(self, node: cst.CSTNode, nested: Nested) -> CodeRange | None:
        """The range of `node` from its nested line printed alone, in blocks indented as its own
        (libcst indents continuation lines and comment lines with the blocks' indentation): the
        columns are the module's, the lines move by where the line starts in `starts`."""
        line = nested.line
        if id(line) not in self.computed_lines:
            wrapped: cst.BaseStatement = line
            for block in reversed(nested.blocks):
                wrapped = cst.If(cst.Name("x"), cst.IndentedBlock((wrapped,), indent=block.indent))
            alone = self.module.with_changes(header=(), body=(wrapped,), footer=())
            self.computed_lines[id(line)] = MetadataWrapper(alone, unsafe_skip_copy=True).resolve(PositionProvider)
        positions = self.computed_lines[id(line)]
        found, printed = positions.get(node), positions[line].start
        assert self.starts is not None  # (a nested line is one `starts` gives)
        line_start, column = self.starts[id(line)]
        if found is None or printed.column != column:
            return None
        shift = line_start - printed.line
        start, end = found.start, found.end
        return CodeRange(CodePosition(start.line + shift, start.column), CodePosition(end.line + shift, end.column))

    def alone(self, index: int) -> Mapping[cst.CSTNode, CodeRange]:
        """PositionProvider's positions of the statement at `index` printed alone."""
        if index not in self.computed:
            statement = self.module.body[index]
            alone = self.module.with_changes(header=(), body=(statement,), footer=())
            self.computed[index] = MetadataWrapper(alone, unsafe_skip_copy=True).resolve(PositionProvider)
        return self.computed[index]

    def shift(self, index: int) -> int | None:
        """The lines before the code of the statement at `index` in the whole module; None where unsure."""
        statement = self.module.body[index]
        start = self.starts.get(id(statement)) if self.starts is not None else None
        if start is not None:
            printed = self.alone(index)[statement].start
            return start[0] - printed.line if start[1] == printed.column == 0 else None
        return None if self.first_lines is None else self.first_lines[index] - 1


def statement_starts(source: str, module: cst.Module, tree: ast.Module | None = None) -> dict[int, tuple[int, int]]:
    """id of each statement of `module` (parsed from `source`), at top level and in the blocks of
    classes, functions, `if`, `for`, `while`, `with` and `try`, of each small statement of its simple
    lines and of each name those import -> its start (1-based line, 0-based column), read off
    CPython's parser (`tree`, parsed here when not given), much cheaper than PositionProvider; {}
    where the two parsers do not pair up at top level (a block where they do not is left out)."""
    if tree is None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # SyntaxWarning: invalid escape sequences, reported elsewhere
                tree = ast.parse(source)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return {}
    lines = re.split(r"\r\n|\r|\n", source)
    starts: dict[int, tuple[int, int]] = {}

    def start(parsed: ast.stmt | ast.alias) -> tuple[int, int]:
        # col_offset counts UTF-8 bytes; columns count characters.
        column = len(lines[parsed.lineno - 1].encode()[: parsed.col_offset].decode()) if parsed.col_offset else 0
        return parsed.lineno, column

    def pair(block: Sequence[cst.CSTNode], statements: Sequence[ast.stmt]) -> bool:
        """Record the starts of the statements of `block` (libcst's: lines and compound statements,
        or the small statements of a one-line suite) and of their blocks; False where they do not pair."""
        parts = [list(s.body) if isinstance(s, cst.SimpleStatementLine) else [s] for s in block]
        if sum(map(len, parts)) != len(statements):
            return False
        found = iter(statements)
        for statement, nodes in zip(block, parts, strict=True):
            for node in nodes:
                parsed = next(found)
                starts[id(node)] = start(parsed)
                # The names of an import too (diagnostics about pulled code point at the first base import).
                if isinstance(node, (cst.Import, cst.ImportFrom)) and isinstance(parsed, (ast.Import, ast.ImportFrom)):
                    aliases = node.names if isinstance(node.names, Sequence) else ()
                    if len(aliases) == len(parsed.names):
                        starts.update(
                            {id(alias): start(name) for alias, name in zip(aliases, parsed.names, strict=True)}
                        )
                for inner, inner_statements in blocks(node, parsed):
                    pair(inner, inner_statements)
            starts.setdefault(id(statement), starts[id(nodes[0])])
        return True

    return starts if pair(module.body, tree.body) else {}


Suite = cst.BaseSuite | None


def blocks(node: cst.CSTNode, parsed: ast.stmt) -> list[tuple[Sequence[cst.CSTNode], Sequence[ast.stmt]]]:
    """The blocks of a compound statement, libcst's statements with CPython's, where both parsers
    read the same kind of statement."""
    pairs: list[tuple[Suite, Sequence[ast.stmt]]] = []
    if isinstance(node, cst.ClassDef) and isinstance(parsed, ast.ClassDef):
        pairs.append((node.body, parsed.body))
    elif isinstance(node, cst.FunctionDef) and isinstance(parsed, (ast.FunctionDef, ast.AsyncFunctionDef)):
        pairs.append((node.body, parsed.body))
    elif isinstance(node, cst.With) and isinstance(parsed, (ast.With, ast.AsyncWith)):
        pairs.append((node.body, parsed.body))
    elif (isinstance(node, cst.For) and isinstance(parsed, (ast.For, ast.AsyncFor))) or (
        isinstance(node, cst.While) and isinstance(parsed, ast.While)
    ):
        pairs += [(node.body, parsed.body), (node.orelse.body if node.orelse else None, parsed.orelse)]
    elif isinstance(node, (cst.Try, cst.TryStar)) and isinstance(parsed, (ast.Try, ast.TryStar)):
        if len(node.handlers) != len(parsed.handlers):
            return []
        pairs.append((node.body, parsed.body))
        pairs += [(handler.body, found.body) for handler, found in zip(node.handlers, parsed.handlers, strict=True)]
        pairs.append((node.orelse.body if node.orelse else None, parsed.orelse))
        pairs.append((node.finalbody.body if node.finalbody else None, parsed.finalbody))
    elif isinstance(node, cst.If) and isinstance(parsed, ast.If):
        pairs.append((node.body, parsed.body))
        orelse = node.orelse
        if isinstance(orelse, cst.If):  # elif: a block of one `if` statement for both
            return [*suite_pairs(pairs), ([orelse], parsed.orelse)]
        pairs.append((orelse.body if orelse else None, parsed.orelse))
    return suite_pairs(pairs)


def suite_pairs(
    pairs: Sequence[tuple[Suite, Sequence[ast.stmt]]],
) -> list[tuple[Sequence[cst.CSTNode], Sequence[ast.stmt]]]:
    """Each suite's statements (an indented block's lines, a one-line suite's small statements) with
    CPython's block; none where a block is on one side only."""
    found: list[tuple[Sequence[cst.CSTNode], Sequence[ast.stmt]]] = []
    for suite, statements in pairs:
        if suite is None:
            if statements:
                return []
            continue
        found.append((suite.body, statements))
    return found


def make_diagnostic(path: str, source: str, line: int, col: int, code: str, message: str, fix: str) -> Diagnostic:
    lines = source_lines(source)
    source_line = lines[line - 1] if 0 < line <= len(lines) else ""
    return Diagnostic(path, line, col, code, message, fix, source_line)


def parse_modular(path: Path, repo_root: Path, layout: Layout = REPO) -> ParsedModule:
    """Read and parse one modular file; raises ConversionError (E001-E008) on bad input."""
    located, source = read_modular(path, repo_root, layout)
    module, tree = parse_both(source, located.display_path)
    # unsafe_skip_copy: positions are keyed by the very nodes later passes hold. They are computed
    # on first use: most modules never need one.
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    positions = LazyPositions(wrapper, source, tree)
    return ParsedModule(
        located.path, located.display_path, source, located.model, module, wrapper, positions, layout=layout
    )


def read_modular(path: Path, repo_root: Path, layout: Layout = REPO) -> tuple[Located, str]:
    """Where the modular file is (locate.py) and its text (source.py); raises ConversionError (E002-E006, E008)."""
    located = locate_modular(path, repo_root, layout)
    return located, read_source(located.path, located.display_path)


class _Parsing(threading.local):
    active = False  # in each thread, until it parses (`unvalidated`)


#: Set in a thread while libcst's native parser builds a tree (`unvalidated`).
_PARSING = _Parsing()


def _post_init(node: cst.CSTNode) -> None:
    """`CSTNode.__post_init__` (which validates the node), skipped while this thread parses."""
    if not _PARSING.active:
        _validate_node(node)


_validate_node = cst.CSTNode.__post_init__


@contextlib.contextmanager
def unvalidated() -> Iterator[None]:
    """libcst's per-node validation skipped in this thread, for the nodes its native parser builds.

    Every libcst node checks itself when constructed (`_validate`: whitespace a keyword needs,
    balanced parentheses, a non-empty name); the parser's nodes are valid by construction (it
    reads them off code its grammar accepted), and checking them is a fifth of a parse. Nodes
    any pass builds are still checked: the hook skips only in the thread inside this block."""
    if cst.CSTNode.__post_init__ is not _post_init:
        cst.CSTNode.__post_init__ = _post_init  # type: ignore[method-assign]
    before, _PARSING.active = _PARSING.active, True
    try:
        yield
    finally:
        _PARSING.active = before


def parse_source(source: str, display_path: str) -> cst.Module:
    """libcst's tree of `source`, once CPython's parser has accepted it and its nesting is bounded
    (nesting.py: libcst's parser would crash on what CPython rejects); raises ConversionError."""
    return parse_both(source, display_path)[0]


def parse_both(source: str, display_path: str) -> tuple[cst.Module, ast.Module]:
    """libcst's tree of `source` (`parse_source`) and CPython's, which checked it first."""
    tree = check_source(source, display_path)
    return parse_checked(source, display_path), tree


def parse_checked(source: str, display_path: str) -> cst.Module:
    """libcst's tree of a `source` that CPython's parser has accepted, as `check_source` checks it
    (`parse_both`), or that is an output of this run (formatted, and parsed by CPython since:
    format.py); raises ConversionError."""
    try:
        with collection_paused(), unvalidated():
            return cst.parse_module(source)
    except cst.ParserSyntaxError as error:
        line, col, message, fix = libcst_error(error, source)
        raise ConversionError([make_diagnostic(display_path, source, line, col, "E001", message, fix)]) from None
    except (RecursionError, MemoryError):
        message, fix = TOO_DEEP_MESSAGE, TOO_DEEP_FIX
        raise ConversionError(
            [make_diagnostic(display_path, source, *deepest_point(source), "E007", message, fix)]
        ) from None
    except BaseException as error:  # noqa: BLE001 - libcst's native parser panics with a BaseException
        if isinstance(error, KeyboardInterrupt | SystemExit | GeneratorExit):
            raise
        message = f"libcst cannot parse the file ({type(error).__name__})"
        fix = "report this libcst failure with the modular file"
        raise ConversionError([make_diagnostic(display_path, source, 1, 1, "E001", message, fix)]) from None


def libcst_error(error: cst.ParserSyntaxError, source: str) -> tuple[int, int, str, str]:
    """(line, col, message, fix) for libcst's parser failing on code CPython accepts. Its tokenizer
    reads a tab or form feed in an indentation otherwise than CPython, and reports that at 1:1:
    point at the first such one."""
    if (error.raw_line, error.raw_column) == (1, 0) or "tokenizer error" in error.message:
        for number, text in enumerate(source_lines(source), start=1):
            indent = text[: len(text) - len(text.lstrip(" \t\f"))]
            found = [index for index in (indent.find("\t"), indent.find("\f")) if index >= 0]
            if found:
                message = "syntax error: libcst cannot read this indentation (a tab or form feed), though Python can"
                return number, min(found) + 1, message, "indent with spaces only"
    message = f"syntax error: {bounded(error.message)}"
    fix = "correct the syntax at the marked position, then rerun the converter"
    return error.raw_line, error.raw_column + 1, message, fix
