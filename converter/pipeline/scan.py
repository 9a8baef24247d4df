"""What a run's schedule needs of each modular file: its base models, read off CPython's parser.

Before converting anything, a run orders its modular files by the models they import from
(schedule.py, flow.py). With worker processes, each worker parses the file it converts with
libcst; parsing every file with libcst beforehand as well, only to find its base imports, cost as
much again, in the main process, before any worker starts. `ast.parse` finds the same imports in a
tenth of the time.

The scan stands for the full parse exactly. It makes the checks `parse_modular` makes before libcst
parses (CPython's parse among them, nesting.py), so a file they refuse gets the same diagnostic
either way. Where the libcst parse of a scanned file (by the worker that converts it) finds a
syntax error or other base models than the scan, it raises `ScanDisagrees`, and the run starts
over with every file parsed by libcst first, as it was before the scan (pipeline.py).

    scanned = scan_modular(Path("modular/modular_gemma2.py"), repo_root)
    scanned.bases        # ("gemma",): what resolve.base_imports(parse_modular(...)) lists
"""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path

from converter.diagnostics import ConversionError, Diagnostic
from converter.layout import REPO, Layout
from converter.read.nesting import check_source
from converter.read.parse import ParsedModule, make_diagnostic, parse_modular, read_modular
from converter.read.resolve import base_imports


@dataclass(frozen=True)
class ScannedModule:
    """A modular file as a run schedules it. `bases`: the models it imports from, in the order of
    their first import (`resolve.base_imports` of its parse), read by `ast` where `from_ast`, else
    off the libcst parse; `parsed`: that parse, where the run holds it; `root`: the run's root."""

    path: Path
    root: Path
    display_path: str
    source: str
    model: str
    bases: tuple[str, ...]
    layout: Layout = REPO
    from_ast: bool = False
    parsed: ParsedModule | None = None

    def parse(self) -> ParsedModule:
        """The libcst parse of the file, read again where it is not held; raises ConversionError as
        `parse_modular`, or `ScanDisagrees` where the scan found other bases or no syntax error."""
        if self.parsed is not None:
            return self.parsed
        try:
            parsed = parse_modular(self.path, self.root, self.layout)
        except ConversionError as error:
            if self.from_ast and any(diagnostic.code == "E001" for diagnostic in error.diagnostics):
                raise ScanDisagrees(str(self.path)) from None
            raise
        if self.from_ast and tuple(base_imports(parsed)) != self.bases:
            raise ScanDisagrees(str(self.path))
        return parsed

    def unparsed(self) -> ScannedModule:
        """The same without the parse it holds (what a worker process is sent)."""
        return dataclasses.replace(self, parsed=None)

    def diagnostic_at(self, line: int, col: int, code: str, message: str, fix: str) -> Diagnostic:
        return make_diagnostic(self.display_path, self.source, line, col, code, message, fix)


class ScanDisagrees(Exception):
    """The libcst parse of a scanned file fails with a syntax error, or finds other bases: the run
    must start over with every file parsed by libcst first."""


def scan_modular(path: Path, repo_root: Path, layout: Layout = REPO) -> ScannedModule:
    """The file's base models from CPython's tree; raises ConversionError as `parse_modular`, whose
    checks before libcst parses (where the file is, how it reads, CPython's parse, its nesting) it makes."""
    located, source = read_modular(path, repo_root, layout)
    tree = check_source(source, located.display_path)
    bases = ast_bases(tree, layout)
    return ScannedModule(located.path, repo_root, located.display_path, source, located.model, bases, layout, True)


#: The fewest files a run scans in worker processes (a pool costs more than it saves on fewer).
PARALLEL_SCAN = 64


def scan_each(
    paths: Sequence[Path], repo_root: Path, layout: Layout, jobs: int, diagnostics: list[Diagnostic]
) -> list[ScannedModule]:
    """`scan_modular` of each path, in order, in `jobs` processes for a large run (CPython's parse of
    the upstream corpus took two seconds before any worker could start); the diagnostics of the
    files it refuses go to `diagnostics`, in order."""
    if jobs > 1 and len(paths) >= PARALLEL_SCAN:
        with ProcessPoolExecutor(jobs) as pool:
            outcomes = list(pool.map(scan_outcome, paths, repeat(repo_root), repeat(layout), chunksize=16))
    else:
        outcomes = [scan_outcome(path, repo_root, layout) for path in paths]
    found = []
    for outcome in outcomes:
        if isinstance(outcome, ScannedModule):
            found.append(outcome)
        else:
            diagnostics.extend(outcome)
    return found


def scan_outcome(path: Path, repo_root: Path, layout: Layout) -> ScannedModule | tuple[Diagnostic, ...]:
    """`scan_modular`, or the diagnostics of its ConversionError."""
    try:
        return scan_modular(path, repo_root, layout)
    except ConversionError as error:
        return tuple(error.diagnostics)


def scanned_from(parsed: ParsedModule, repo_root: Path) -> ScannedModule:
    """The scan of a file parsed with libcst, holding that parse."""
    bases = tuple(base_imports(parsed))
    return ScannedModule(
        parsed.path, repo_root, parsed.display_path, parsed.source, parsed.model, bases, parsed.layout, parsed=parsed
    )


def ast_bases(tree: ast.Module, layout: Layout) -> tuple[str, ...]:
    """`resolve.base_imports` read off CPython's tree: the models of the top-level `from` imports
    that `layout` takes for imports from a base model, in the order of their first import."""
    found: dict[str, None] = {}
    for statement in tree.body:
        if isinstance(statement, ast.ImportFrom):
            target = layout.model_import_from(statement.level, statement.module or "")
            if target is not None and target.model:
                found.setdefault(target.model)
    return tuple(found)
