"""The converter pipeline: modular files in, standalone generated files out.

Each pass lives in its own module, in the package of its stage, takes the previous pass's frozen
value and returns the next (`convert_model` below is this list):

    stage    pass                module                  value in         -> value out
    read     parse_modular       read/parse.py           Path             -> ParsedModule   (reads the modular file)
    read     BaseLoader.bases    read/bases.py           its base models  -> Bases          (reads generated bases)
    read     resolve_bases       read/resolve.py         ParsedModule     -> ResolvedModule (base imports, checked)
    rename   rename_bases        rename/rename.py        ResolvedModule   -> RenamedModule  (Llama -> Mistral)
    merge    merge_classes       merge/merge.py          RenamedModule    -> MergedModule   (overrides, super(), del)
    trace    trace_dependencies  trace/trace.py          MergedModule     -> ParsedModule   (the standalone module)
    read     gather_definitions  read/gather.py          ParsedModule     -> GatheredModule
    write    split_by_kind       write/split.py          GatheredModule   -> SplitModule
    write    plan_imports        write/imports.py        SplitModule      -> ImportPlan
    write    emit_model          write/emit.py           ImportPlan       -> EmittedModel
    write    format_models       write/format.py         every EmittedModel of a level, formatted (always last)

The bases merge_classes writes are checked against the library modules models inherit from
(converter/merge/classes/mro.py), which `Bases.library` lets it read lazily, once per process, when a merged
class has several bases. For a root model (no `generated.*` imports) the inheritance passes
change nothing. A run converts its models in dependency levels (schedule.py): bases first, each
level formatted before the next starts (with worker processes, each model once its own bases are
formatted: flow.py; the levels then come from a scan of each file's base imports: scan.py), and
the formatted texts handed to the `BaseLoader`, so later models inherit from this run's output,
not from stale files on disk. Writing files is not a pass: see write.py.

    outputs = convert_files([Path("modular/modular_llama.py")], repo_root)
    outputs[repo_root / "generated/llama/modeling_llama.py"]   # the formatted text
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import TypeVar

from converter.diagnostics import ConversionError, Diagnostic
from converter.dialect import collecting
from converter.layout import REPO, Layout
from converter.merge.merge import merge_classes
from converter.pipeline.flow import convert_flowing
from converter.pipeline.scan import ScanDisagrees, ScannedModule, scan_each, scanned_from
from converter.pipeline.schedule import schedule
from converter.pipeline.workers import WorkerPool, convert_level
from converter.read.bases import BaseLoader
from converter.read.gather import gather_definitions
from converter.read.parse import ParsedModule, parse_modular
from converter.read.resolve import base_imports, resolve_bases
from converter.rename.rename import rename_bases
from converter.trace.order import order_like_upstream
from converter.trace.prune import drop_unused
from converter.trace.trace import trace_dependencies
from converter.write.emit import EmittedModel, emit_model
from converter.write.format import format_models
from converter.write.imports import plan_imports
from converter.write.provenance import with_provenance
from converter.write.split import split_by_kind

T = TypeVar("T")
R = TypeVar("R")
Progress = Callable[[int, int, str], None]


def convert_model(parsed: ParsedModule, loader: BaseLoader) -> EmittedModel:
    """Every pass but parse and format, for one model; the loader reads its bases before the passes.
    The transformers dialect's drift warnings (converter/dialect/) come back on the model."""
    if not parsed.layout.upstream:
        return run_passes(parsed, loader)
    with collecting() as drifts:
        emitted = run_passes(parsed, loader)
    return dataclasses.replace(emitted, warnings=tuple(sorted(drifts, key=Diagnostic.sort_key)))


def run_passes(parsed: ParsedModule, loader: BaseLoader) -> EmittedModel:
    bases = loader.bases(base_imports(parsed))
    resolved = resolve_bases(parsed, bases)
    renamed = rename_bases(resolved)
    merged = merge_classes(renamed)
    standalone = trace_dependencies(merged)
    gathered = gather_definitions(standalone)
    if parsed.layout.upstream:
        gathered = drop_unused(gathered, merged)
    if parsed.layout.tree:
        gathered = order_like_upstream(gathered, merged)
    split = split_by_kind(gathered)
    imports = plan_imports(split)
    return emit_model(imports)


def convert_models(
    paths: Iterable[Path],
    repo_root: Path,
    jobs: int = 1,
    progress: Progress | None = None,
    layout: Layout = REPO,
) -> tuple[EmittedModel, ...]:
    """Convert every modular file, bases first; models ordered by path. Raises one ConversionError.

    `layout` (converter/layout.py) says where bases and outputs live; `repo_root` is the root
    its paths are relative to (a transformers `models` directory for the tree layout).
    """
    models, diagnostics = convert_what_converts(paths, repo_root, jobs, progress, layout, keep_going=False)
    if diagnostics:
        raise ConversionError(diagnostics)
    return models


def convert_what_converts(
    paths: Iterable[Path],
    repo_root: Path,
    jobs: int = 1,
    progress: Progress | None = None,
    layout: Layout = REPO,
    keep_going: bool = True,
) -> tuple[tuple[EmittedModel, ...], tuple[Diagnostic, ...]]:
    """(converted models ordered by path, diagnostics of the others); nothing is raised.

    With `keep_going`, a file that does not parse (or repeats a model) is left out and the rest
    still converts (what the upstream benchmark needs); without it, any such error stops the run
    before converting, as the command line does. With worker processes, the run is scheduled from
    a scan of each file (scan.py) and each file is parsed by the worker converting it; where such a
    parse disagrees with the scan, the run starts over from a parse of every file.
    """
    files = unique(paths)
    if jobs > 1:
        try:
            return convert_run(files, repo_root, jobs, progress, layout, keep_going, scan=True)
        except ScanDisagrees:
            pass
    return convert_run(files, repo_root, jobs, progress, layout, keep_going, scan=False)


def convert_run(
    paths: Sequence[Path],
    repo_root: Path,
    jobs: int,
    progress: Progress | None,
    layout: Layout,
    keep_going: bool,
    scan: bool,
) -> tuple[tuple[EmittedModel, ...], tuple[Diagnostic, ...]]:
    """`convert_what_converts`, scheduled from a scan of each file (`scan`) or from its libcst parse."""
    diagnostics: list[Diagnostic] = []
    if scan:
        found = scan_each(paths, repo_root, layout, jobs, diagnostics)
    else:
        parsed = collect(diagnostics, lambda path: parse_modular(path, repo_root, layout), paths)
        found = [scanned_from(module, repo_root) for module in parsed]
    found.sort(key=lambda module: module.display_path)
    repeated = list(check_unique_models(found))
    diagnostics += repeated
    if keep_going and repeated:
        found = list({module.model: module for module in reversed(found)}.values())[::-1]
    try:
        levels = schedule(found) if keep_going or not diagnostics else []
    except ConversionError as error:
        diagnostics += error.diagnostics
        levels = []
    models: list[EmittedModel] = []
    if levels:
        with WorkerPool(jobs) if jobs > 1 else nullcontext(None) as pool:
            loader = BaseLoader(repo_root, layout=layout)
            models = convert_levels(levels, loader, pool, diagnostics, progress, skip_failed=not keep_going)
    ordered = tuple(sorted(models, key=lambda model: model.modular_path))
    return ordered, tuple(sorted(diagnostics, key=Diagnostic.sort_key))


def convert_levels(
    levels: Sequence[Sequence[ScannedModule]],
    loader: BaseLoader,
    pool: WorkerPool | None,
    diagnostics: list[Diagnostic],
    progress: Progress | None,
    skip_failed: bool = True,
) -> list[EmittedModel]:
    """Convert and format level by level; a model whose base failed is skipped (its base reports).

    Without `skip_failed`, it is converted anyway, from its base's files on disk. With worker
    processes, each model starts as soon as its bases are formatted (flow.py), with the same result.
    """
    total = sum(len(level) for level in levels)
    done: list[str] = []

    def on_done(model: str) -> None:
        done.append(model)
        if progress is not None:
            progress(len(done), total, model)

    by_model = {module.model: module for level in levels for module in level}

    def format_and_map(
        converted: Sequence[EmittedModel], diagnostics: list[Diagnostic], failed: set[str]
    ) -> tuple[EmittedModel, ...]:
        """Formatting, then each model's provenance map from the formatted texts and its bases'."""
        formatted = format_level(converted, diagnostics, failed)
        return tuple(
            with_provenance(model, by_model[model.model].source, by_model[model.model].bases, loader)
            for model in formatted
        )

    if pool is not None:
        return convert_flowing(levels, loader, pool, convert_model, format_and_map, diagnostics, on_done, skip_failed)
    failed: set[str] = set()
    models: list[EmittedModel] = []
    for level in levels:
        runnable = [scanned for scanned in level if not (skip_failed and failed & set(scanned.bases))]
        failed.update(scanned.model for scanned in level if scanned not in runnable)
        converted = []
        for scanned, outcome in zip(runnable, convert_level(runnable, loader, convert_model, on_done), strict=True):
            if isinstance(outcome, EmittedModel):
                converted.append(outcome)
            else:
                diagnostics.extend(outcome)
                failed.add(scanned.model)
        formatted = format_and_map(converted, diagnostics, failed)
        loader.add_texts({file.path: file.text for model in formatted for file in model.files})
        models += formatted
    return models


def format_level(
    converted: Sequence[EmittedModel], diagnostics: list[Diagnostic], failed: set[str]
) -> tuple[EmittedModel, ...]:
    """One ruff run for the level; when it fails, each model alone, so one bad model fails only itself."""
    try:
        return format_models(converted)
    except ConversionError as error:
        if len(converted) < 2:
            diagnostics.extend(error.diagnostics)
            failed.update(model.model for model in converted)
            return ()
    formatted: list[EmittedModel] = []
    for model in converted:
        formatted += format_level([model], diagnostics, failed)
    return tuple(formatted)


def convert_files(paths: list[Path], repo_root: Path, jobs: int = 1, layout: Layout = REPO) -> dict[Path, str]:
    """Output path (under `repo_root`) -> formatted text, for every file the modular files generate.

    Nothing is written; raises ConversionError when any file fails to convert.
    """
    models = convert_models(paths, repo_root, jobs, layout=layout)
    return {repo_root / file.path: file.text for model in models for file in model.files}


def collect(diagnostics: list[Diagnostic], function: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """`function(item)` for each item; a ConversionError adds its diagnostics and skips the item."""
    results = []
    for item in items:
        try:
            results.append(function(item))
        except ConversionError as error:
            diagnostics.extend(error.diagnostics)
    return results


def unique(paths: Iterable[Path]) -> list[Path]:
    """The paths, one per real file (ordered by real path), each as first given: symlinks are kept for
    parse.py to judge (a dangling one is reported as such, not as the missing file it names)."""
    found: dict[str, Path] = {}
    for path in paths:
        found.setdefault(os.path.realpath(path), Path(os.path.abspath(path)))
    return [found[real] for real in sorted(found, key=Path)]


def check_unique_models(parsed: Sequence[ScannedModule]) -> Iterable[Diagnostic]:
    """E011: two modular files that would write the same generated package."""
    first: dict[str, ScannedModule] = {}
    for module in parsed:
        if module.model in first:
            message = f"{module.model} is also generated by {first[module.model].display_path}"
            fix = "keep one modular file per model"
            yield module.diagnostic_at(1, 1, "E011", message, fix)
        first.setdefault(module.model, module)
