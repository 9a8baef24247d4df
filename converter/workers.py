"""Converting the models of one dependency level, in this process or in worker processes (`-j N`).

A worker re-parses its modular file and reads base models through a `BaseLoader` of its own,
kept for the life of the process (so a base is parsed once per worker) and fed the formatted
texts of the models converted earlier in the run. Workers return values, never raise: a
`Diagnostic` tuple stands for a failed model. Results come back in submission order, so the
output does not depend on which worker finishes first, and `-j N` gives the bytes of `-j 1`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from pathlib import Path

from converter.bases import BaseLoader
from converter.diagnostics import ConversionError, Diagnostic
from converter.emit import EmittedModel
from converter.parse import ParsedModule, parse_modular

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
    texts = dict(loader.texts)
    futures = [executor.submit(convert_in_worker, p.path, loader.repo_root, texts, convert) for p in level]
    results = []
    for parsed, future in zip(level, futures, strict=True):
        results.append(future.result())
        on_done(parsed.model)
    return results


def attempt(convert: Converter, parsed: ParsedModule, loader: BaseLoader) -> Outcome:
    try:
        return convert(parsed, loader)
    except ConversionError as error:
        return error.diagnostics


def convert_in_worker(path: Path, repo_root: Path, texts: Mapping[str, str], convert: Converter) -> Outcome:
    """Runs in a worker process: parse, then convert with this process's loader."""
    loader = _LOADERS.setdefault(str(repo_root), BaseLoader(repo_root))
    loader.add_texts(texts)
    try:
        parsed = parse_modular(path, repo_root)
    except ConversionError as error:
        return error.diagnostics
    return attempt(convert, parsed, loader)
