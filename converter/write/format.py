"""Pass 6, format (always last): run ruff once over every output text of the run.

The texts are written to a temporary directory outside the repository and ruff runs there
with `--isolated` and explicit settings, so neither the repository's configuration nor the
environment changes the output. `ruff check --fix --select I,F401` sorts and prunes imports,
`ruff format` lays out the code. Any ruff failure, or formatted text that no longer parses, is
diagnostic E090: the converter never hands back an unformatted file. A name the formatted code
uses but nothing in its file defines or imports (ruff's F821, so `# noqa: F821` in the modular
file is respected) is E091: the converter never hands back a file that fails when imported.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from converter.diagnostics import ConversionError, Diagnostic
from converter.read.parse import collection_paused, make_diagnostic
from converter.write.emit import EmittedModel

COMMON_ARGS = ("--isolated", "--no-cache", "--line-length", "119", "--target-version", "py311")
CHECK_ARGS = (
    "check",
    "--fix",
    "--select",
    "I,F401",
    "--config",
    "lint.isort.known-first-party=['runtime','generated','transformers']",
    *COMMON_ARGS,
)
FORMAT_ARGS = ("format", *COMMON_ARGS)
UNDEFINED_ARGS = ("check", "--select", "F821", "--output-format", "json", "--exit-zero", *COMMON_ARGS)
#: a transformers tree is formatted with its repository's isort setting: two blank lines after imports
TREE_ARGS = ("--config", "lint.isort.lines-after-imports=2")
TIMEOUT_S = 300


def format_models(models: Sequence[EmittedModel]) -> tuple[EmittedModel, ...]:
    """The same models with every file's text formatted by ruff; raises ConversionError (E090)."""
    paths = sorted(file.path for model in models for file in model.files)
    texts = {file.path: file.text for model in models for file in model.files}
    formatted, undefined = run_ruff(texts, paths, tree=any(model.tree for model in models))
    diagnostics = [d for path in paths if (d := check_parses(path, formatted[path])) is not None]
    diagnostics += [undefined_name(path, formatted[path], *found) for path, *found in undefined]
    if diagnostics:
        raise ConversionError(diagnostics)
    return tuple(
        dataclasses.replace(
            model, files=tuple(dataclasses.replace(file, text=formatted[file.path]) for file in model.files)
        )
        for model in models
    )


def run_ruff(
    texts: dict[str, str], paths: Sequence[str], tree: bool = False
) -> tuple[dict[str, str], list[tuple[str, int, int, str]]]:
    """The formatted texts, and the undefined names they use as (path, line, column, message)."""
    ruff = find_ruff()
    with tempfile.TemporaryDirectory(prefix="modular-converter-") as directory:
        root = Path(directory)
        for path in paths:
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_text(texts[path], encoding="utf-8", newline="\n")
        for args in ((*CHECK_ARGS, *TREE_ARGS) if tree else CHECK_ARGS, FORMAT_ARGS):
            run_step(ruff, args, root, paths)
        report = run_step(ruff, UNDEFINED_ARGS, root, paths)
        undefined = [
            (Path(item["filename"]).resolve().relative_to(root.resolve()).as_posix(), *position(item), item["message"])
            for item in json.loads(report or "[]")
        ]
        return {path: (root / path).read_text(encoding="utf-8") for path in paths}, undefined


def position(item: dict) -> tuple[int, int]:
    location = item.get("location") or {}
    return int(location.get("row", 1)), int(location.get("column", 1))


def undefined_name(path: str, text: str, line: int, col: int, message: str) -> Diagnostic:
    """E091: the output uses a name nothing in its file defines or imports (ruff: `message`)."""
    fix = "define or import the name in the modular file; if the modular file is right, report this converter bug"
    when = failing_when(text, line, col)
    return make_diagnostic(path, text, line, col, "E091", f"the generated file would fail {when}: {message}", fix)


def failing_when(text: str, line: int, col: int) -> str:
    """When a name read at `line`:`col` (1-based) is looked up: "when imported", or "when
    `Class.method` runs" for a read in a function's body ("when a lambda runs" in a lambda's)."""
    try:
        with collection_paused():
            tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return "when imported"
    point = (line, col - 1)

    def holds(node: ast.AST) -> bool:
        start = (getattr(node, "lineno", 0), getattr(node, "col_offset", 0))
        end = (getattr(node, "end_lineno", None) or start[0], getattr(node, "end_col_offset", None) or 0)
        return start <= point <= end

    when = "when imported"
    stack: list[tuple[ast.AST, str]] = [(tree, "")]
    while stack:
        node, prefix = stack.pop()
        for child in ast.iter_child_nodes(node):
            if hasattr(child, "lineno") and not holds(child):
                continue  # a node without a position (arguments, match_case) is only a container
            name = prefix
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}."
                body = child.body[0]
                if not isinstance(child, ast.ClassDef) and (body.lineno, body.col_offset) <= point:
                    when = f"when `{prefix}{child.name}` runs"
            elif isinstance(child, ast.Lambda) and holds(child.body):
                when = "when a lambda runs"
            stack.append((child, name))
    return when


def run_step(ruff: str, args: Sequence[str], root: Path, paths: Sequence[str]) -> str:
    """One ruff command from `root`, its standard output; raises ConversionError (E090) when it fails."""
    command = [ruff, *args, *paths]
    try:
        result = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ruff_failure(paths[0], f"could not run ruff {args[0]}: {error}") from None
    if result.returncode != 0:
        output = (result.stderr.strip() or result.stdout.strip()).replace(str(root) + "/", "")
        raise ruff_failure(paths[0], f"ruff {args[0]} failed (exit {result.returncode}): {output}")
    return result.stdout


def find_ruff() -> str:
    try:
        from ruff.__main__ import find_ruff_bin

        return str(find_ruff_bin())
    except (ImportError, FileNotFoundError):
        found = shutil.which("ruff")
    if found is None:
        raise ruff_failure("<ruff>", "ruff is not installed")
    return found


def ruff_failure(path: str, message: str) -> ConversionError:
    fix = "install the pinned ruff (pip install ruff==0.17.6); if it still fails, report the converter output"
    return ConversionError([Diagnostic(path, 1, 1, "E090", message, fix)])


def check_parses(path: str, text: str) -> Diagnostic | None:
    """E090 when formatted output is not valid Python (ast.parse only parses, never runs)."""
    try:
        with collection_paused():  # a tree without cycles (see parse.collection_paused)
            ast.parse(text, filename=path)
    except SyntaxError as error:
        fix = "report this converter bug with the modular file that triggers it"
        message = f"formatted output does not parse: {error.msg}"
        return make_diagnostic(path, text, error.lineno or 1, error.offset or 1, "E090", message, fix)
    except (ValueError, RecursionError, MemoryError) as error:
        fix = "report this converter bug with the modular file that triggers it"
        return make_diagnostic(
            path, text, 1, 1, "E090", f"formatted output does not parse: {type(error).__name__}", fix
        )
    return None
