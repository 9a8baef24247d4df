"""Converting the models of one dependency level, in this process or in worker processes (`-j N`).

A worker re-parses its modular file and reads base models through a `BaseLoader` of its own,
kept for the life of the process (so a base is parsed once per worker) and fed the formatted
texts of the models converted earlier in the run. Workers return values, never raise: a
`Diagnostic` tuple stands for a failed model. Results come back in submission order, so the
output does not depend on which worker finishes first, and `-j N` gives the bytes of `-j 1`.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from pathlib import Path

from converter.bases import BaseLoader
from converter.diagnostics import ConversionError, Diagnostic
from converter.emit import EmittedModel
from converter.layout import REPO, Layout
from converter.parse import ParsedModule, parse_modular
from converter.schedule import base_imports

Outcome = EmittedModel | tuple[Diagnostic, ...]
Converter = Callable[[ParsedModule, BaseLoader], EmittedModel]

_LOADERS: dict[str, BaseLoader] = {}


def convert_level(
    level: Sequence[ParsedModule],
    loader: BaseLoader,
    convert: Converter,
    executor: Executor | None,
    on_done: Callable[[str], None],
) -> list[Outcome]:
    """One outcome per module of `level`, in order."""
    if executor is None or len(level) < 2:
        outcomes = []
        for parsed in level:
            outcomes.append(attempt(convert, parsed, loader))
            on_done(parsed.model)
        return outcomes
    root, layout = loader.repo_root, loader.layout
    futures = [executor.submit(convert_in_worker, p.path, root, base_texts(loader, p), convert, layout) for p in level]
    results = []
    for parsed, future in zip(level, futures, strict=True):
        results.append(future.result())
        on_done(parsed.model)
    return results


def base_texts(loader: BaseLoader, parsed: ParsedModule) -> dict[str, str]:
    """The in-memory texts of the models `parsed` imports from: all a worker needs of this run's output."""
    models = set(base_imports(parsed))
    return {path: text for path, text in loader.texts.items() if loader.model_of_path(path) in models}


def attempt(convert: Converter, parsed: ParsedModule, loader: BaseLoader) -> Outcome:
    """The converted model, or its diagnostics; a crash of the converter itself is E900 with the traceback."""
    try:
        return convert(parsed, loader)
    except ConversionError as error:
        return error.diagnostics
    except Exception as error:  # noqa: BLE001 - one crashing model must not take the run with it
        trace = traceback.format_exc(limit=-4).strip().replace("\n", "\n    ")
        message = f"converter crashed: {type(error).__name__}: {error}"
        fix = f"report this converter bug with the modular file; traceback:\n    {trace}"
        return (Diagnostic(parsed.display_path, 1, 1, "E900", message, fix),)


def convert_in_worker(
    path: Path, repo_root: Path, texts: Mapping[str, str], convert: Converter, layout: Layout = REPO
) -> Outcome:
    """Runs in a worker process: parse, then convert with this process's loader."""
    key = f"{layout.name}:{repo_root}"
    loader = _LOADERS.get(key) or _LOADERS.setdefault(key, BaseLoader(repo_root, layout=layout))
    loader.add_texts(texts)
    try:
        parsed = parse_modular(path, repo_root, layout)
    except ConversionError as error:
        return error.diagnostics
    return attempt(convert, parsed, loader)
