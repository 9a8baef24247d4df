"""CPython's parser first, then a bound on nesting: what keeps libcst and the passes from crashing.

libcst's native parser overflows its stack (SIGSEGV, the run dies) on input nested a few thousand
levels deep, and takes seconds per thousand levels before that; its Python side (printing code,
visitors) and the converter's passes recurse about twice per level of its tree, so a few hundred
levels exhaust Python's recursion limit. CPython's parser rejects the worst cleanly (more than 200
nested brackets, 100 indentation levels; RecursionError or MemoryError on deeper expressions) and
never runs the code (`compile(..., PyCF_ONLY_AST)`). So every file is parsed by CPython before libcst
sees it, and its tree is measured without recursion: `measure` estimates the depth of
libcst's tree (which has wrapper nodes the `ast` tree has not: list elements, call arguments,
indented blocks, `a and b and c` as nested pairs, `"a" "b"` as nested concatenations), and a file
deeper than MAX_NESTING levels is refused (E007) at the first place it is. Strings that libcst parses
as code (string annotations) are measured as part of the tree.

MAX_NESTING is 200: about five times the deepest file of this repository and of the 326 modular
files and 400 modeling files of transformers (estimated at 42 levels, 31 in fact); the passes and
libcst's printing fail at about 450 levels under Python's default recursion limit of 1000; each
kind of nesting (brackets, operators, calls, blocks, strings) was checked to convert at the limit.

    tree = check_source(source, "modular/modular_llama.py")   # ast.Module, or ConversionError
"""

from __future__ import annotations

import ast
import contextlib
import functools
import gc
import io
import tokenize
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field

from converter.diagnostics import ConversionError, Diagnostic
from converter.read.source import BYTES_NEWLINE, source_lines

MAX_NESTING = 200
SYNTAX, TOO_DEEP = "E001", "E007"
TOO_DEEP_FIX = "split the expression or block into smaller parts (a variable, a helper function)"
TOO_DEEP_MESSAGE = f"nesting too deep: the converter reads at most {MAX_NESTING} levels"

#: Fields whose node is one level below its parent in libcst's tree too; any other field is
#: estimated at two (a wrapper node between: an element, an argument, a simple statement line).
ONE_LEVEL = frozenset(
    {
        (ast.Attribute, "value"),
        (ast.Subscript, "value"),
        (ast.Call, "func"),
        (ast.BinOp, "left"),
        (ast.BinOp, "right"),
        (ast.UnaryOp, "operand"),
        (ast.IfExp, "test"),
        (ast.IfExp, "body"),
        (ast.IfExp, "orelse"),
        (ast.Lambda, "body"),
        (ast.Await, "value"),
        (ast.Yield, "value"),
        (ast.YieldFrom, "value"),
        (ast.NamedExpr, "value"),
        (ast.Starred, "value"),
        (ast.Compare, "left"),
        (ast.keyword, "value"),
        (ast.Expr, "value"),
        (ast.Return, "value"),
    }
)
#: A statement's block: an indented block, then a simple statement line.
BLOCKS = frozenset({"body", "orelse", "finalbody"})
BLOCK_OWNERS = (ast.stmt, ast.excepthandler, ast.match_case)
COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)


def check_source(source: str, display_path: str) -> ast.Module:
    """CPython's tree of `source`; raises ConversionError: E001 (syntax) or E007 (too deep). Never
    runs the code (the warnings compiling would print are dropped)."""
    try:
        with warnings.catch_warnings(), collection_paused():
            warnings.simplefilter("ignore")  # SyntaxWarning: invalid escape sequences, reported elsewhere
            tree = compile(source, display_path, "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
    except SyntaxError as error:  # IndentationError and TabError too
        message = f"syntax error: {bounded(error.msg)}"
        fix = "correct the syntax at the marked position, then rerun the converter"
        line, col = error.lineno or 1, error.offset or 1
        raise diagnostic_error(display_path, source, line, col, SYNTAX, message, fix) from None
    except (RecursionError, MemoryError):
        line, col = deepest_line(source)
        message = f"{TOO_DEEP_MESSAGE} (Python's own parser gives up here)"
        raise diagnostic_error(display_path, source, line, col, TOO_DEEP, message, TOO_DEEP_FIX) from None
    except (ValueError, OverflowError) as error:
        message = f"syntax error: {bounded(str(error))}"
        raise diagnostic_error(display_path, source, 1, 1, SYNTAX, message, "correct the file") from None
    deep = first_too_deep(tree, source)
    if deep is not None:
        raise diagnostic_error(display_path, source, *deep, TOO_DEEP, TOO_DEEP_MESSAGE, TOO_DEEP_FIX)
    return tree


@contextlib.contextmanager
def collection_paused() -> Iterator[None]:
    """The cyclic garbage collector paused, for building a large tree without reference cycles (a
    libcst parse): its passes over the young nodes, and over everything alive every few of them,
    would find nothing to free and cost about a third of the parse. Cycles made meanwhile are
    collected after."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def bounded(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def diagnostic_error(
    path: str, source: str, line: int, col: int, code: str, message: str, fix: str
) -> ConversionError:
    lines = source_lines(source)
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    return ConversionError([Diagnostic(path, line, col, code, message, fix, text)])


@dataclass
class Source:
    """A source with its UTF-8 line offsets, computed on first use (`ast` columns count bytes)."""

    text: str
    encoded: bytes = b""
    starts: list[int] = field(default_factory=list)

    def offsets(self) -> list[int]:
        if not self.starts:
            self.encoded = self.text.encode("utf-8")
            self.starts = [0, *(match.end() for match in BYTES_NEWLINE.finditer(self.encoded))]
        return self.starts

    def position(self, node: ast.AST) -> tuple[int, int]:
        """1-based (line, column in characters) where `node` starts; (1, 1) for the module."""
        line, offset = getattr(node, "lineno", 1), getattr(node, "col_offset", 0)
        starts = self.offsets()
        if not 0 < line <= len(starts):
            return 1, 1
        return line, len(self.encoded[starts[line - 1] : starts[line - 1] + offset].decode("utf-8", "replace")) + 1

    def segment(self, node: ast.AST) -> bytes:
        starts = self.offsets()
        start = starts[node.lineno - 1] + node.col_offset
        end = starts[node.end_lineno - 1] + node.end_col_offset if node.end_lineno else start
        return self.encoded[start:end]


def first_too_deep(tree: ast.AST, source: str, limit: int = MAX_NESTING) -> tuple[int, int] | None:
    """(line, col) of the first node, in source order, whose `measure`d depth exceeds `limit`."""
    text = Source(source)
    found = measure(tree, text, limit, stop_early=True)
    return text.position(found.first_over) if found.first_over is not None else None


def deepest_point(source: str) -> tuple[int, int]:
    """(line, col) of the deepest node of `source` by `measure` (where a pass that ran out of
    recursion most likely was); the line `deepest_line` finds where CPython cannot parse it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = compile(source, "<source>", "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
    except (SyntaxError, RecursionError, MemoryError, ValueError, OverflowError):
        return deepest_line(source)
    text = Source(source)
    return text.position(measure(tree, text, MAX_NESTING, stop_early=False).deepest)


@dataclass(frozen=True)
class Depth:
    """What `measure` found: the node to point at where the depth first exceeds the limit (None where
    it never does), the node to point at where it is deepest, and that depth."""

    first_over: ast.AST | None
    deepest: ast.AST
    depth: int


def measure(tree: ast.AST, source: Source, limit: int, stop_early: bool) -> Depth:
    """The estimated depth of libcst's tree for `tree` (see `field_weights`), walked in source order
    without recursion. A string that may not fit in the depth left may be a string annotation, which
    libcst parses: its code is measured below it, and pointed at by it. A node without a position
    (`arguments`, `comprehension`) is pointed at by its nearest ancestor that has one."""
    stack: list[tuple[ast.AST, int, ast.AST, bool]] = [(tree, 0, tree, False)]
    first_over, deepest, most = None, tree, 0
    while stack:
        node, depth, pointer, inside_string = stack.pop()
        at = pointer if inside_string or not hasattr(node, "lineno") else node
        kind = type(node)
        if kind is ast.Constant or kind is ast.JoinedStr:
            depth += string_parts(node, source) - 1
            value = getattr(node, "value", None)
            if isinstance(value, str | bytes) and depth + len(value) + 8 > limit:
                inner = code_in_string(value)
                if inner is None:
                    depth = limit + 1  # code CPython itself cannot parse for its depth
                elif inner is not NOT_CODE:
                    stack.append((inner, depth + 1, at, True))
        if depth > most:
            deepest, most = at, depth
        if depth > limit and first_over is None:
            first_over = at
            if stop_early:
                break
        children: list[tuple[ast.AST, int, ast.AST, bool]] = []
        for name, weight in field_weights(kind):
            value = getattr(node, name, None)
            step = depth + (weight or dynamic_weight(node, name))
            if type(value) is list:
                children += [(child, step, at, inside_string) for child in value if isinstance(child, ast.AST)]
            elif isinstance(value, ast.AST):
                children.append((value, step, at, inside_string))
        stack += reversed(children)
    return Depth(first_over, deepest, most)


#: Fields that hold no node libcst nests (`ctx`, operators) or no node at all.
SKIPPED = frozenset({"ctx", "op", "ops", "type_ignores", "id", "arg", "attr", "kind", "conversion", "level"})


@functools.cache
def field_weights(kind: type[ast.AST]) -> tuple[tuple[str, int], ...]:
    """(field, levels its nodes sit below the node in libcst's tree) for the fields of `kind` that may
    hold nodes: 1 for ONE_LEVEL, 3 for blocks and subscripts, 0 where it depends on the node
    (`dynamic_weight`), else 2 (a wrapper between: an element, an argument, a simple statement line)."""
    if kind is ast.Constant:
        return ()
    weights = []
    for name in kind._fields:
        if name in SKIPPED:
            continue
        if (kind, name) in ONE_LEVEL:
            weight = 1
        elif (
            kind is ast.BoolOp
            or (kind is ast.If and name == "orelse")
            or (kind in COMPREHENSIONS and name == "generators")
        ):
            weight = 0
        elif (kind is ast.Subscript and name == "slice") or (name in BLOCKS and issubclass(kind, BLOCK_OWNERS)):
            weight = 3
        else:
            weight = 2
        weights.append((name, weight))
    return tuple(weights)


def dynamic_weight(node: ast.AST, name: str) -> int:
    if isinstance(node, ast.BoolOp):
        return max(1, len(node.values) - 1)  # `a and b and c`: ((a and b) and c) in libcst
    if isinstance(node, ast.If):
        return 1 if is_elif(node) else 3
    return len(getattr(node, name)) + 1  # each `for` clause of a comprehension nests the next one


#: What `code_in_string` answers for a string that is no Python code at all.
NOT_CODE = ast.Module(body=[], type_ignores=[])


def code_in_string(value: str | bytes) -> ast.AST | None:
    """CPython's tree of the code in a string (as libcst would parse a string annotation); NOT_CODE
    where it is no code; None where it nests too deeply for CPython (more than 200 brackets, or
    deeper than CPython's own recursion limit)."""
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return compile(text, "<string>", "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
    except SyntaxError as error:
        return None if "too many nested parentheses" in str(error.msg) else NOT_CODE
    except (RecursionError, MemoryError):
        return None
    except (ValueError, OverflowError):
        return NOT_CODE


def deepest_line(source: str) -> tuple[int, int]:
    """(line, col) where the logical line with the most tokens starts: where a parser that gave up on
    `source` most likely was. Tokenizing does not recurse; (1, 1) where it finds nothing."""
    best, most = (1, 1), 0
    start, count = (1, 1), 0
    skipped = (tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT)
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type in (tokenize.NEWLINE, tokenize.ENDMARKER):
                best, most = (start, count) if count > most else (best, most)
                count = 0
            elif token.type not in skipped:
                start = (token.start[0], token.start[1] + 1) if count == 0 else start
                count += 1
    except (tokenize.TokenError, SyntaxError, RecursionError, MemoryError):
        pass
    return start if count > most else best


def is_elif(node: ast.If) -> bool:
    """`elif`: the only statement of `orelse`, an `if` at the same column (libcst nests it directly)."""
    orelse = node.orelse
    return len(orelse) == 1 and isinstance(orelse[0], ast.If) and orelse[0].col_offset == node.col_offset


def string_parts(node: ast.AST, source: Source) -> int:
    """How many literals make up the string `node` (`"a" "b"` is two, which libcst nests); 1 for any
    other node. An upper bound (half its quotes) where that is small, else counted by tokenizing it."""
    if not isinstance(node, ast.JoinedStr | ast.Constant) or getattr(node, "end_lineno", None) is None:
        return 1
    if isinstance(node, ast.Constant) and not isinstance(node.value, str | bytes):
        return 1
    segment = source.segment(node)
    most = (segment.count(b'"') + segment.count(b"'")) // 2
    return max(1, most) if most <= 8 else count_strings(segment, most)


def count_strings(segment: bytes, most: int) -> int:
    """The string tokens of `segment`; `most` where it cannot be tokenized alone."""
    try:
        readline = io.StringIO(segment.decode("utf-8", "replace")).readline
        return max(1, sum(1 for token in tokenize.generate_tokens(readline) if token.type == tokenize.STRING))
    except (tokenize.TokenError, SyntaxError):
        return most
