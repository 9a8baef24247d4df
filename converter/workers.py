"""Converting the models of one dependency level, in this process or in worker processes (`-j N`).

A worker re-parses its modular file and reads base models through a `BaseLoader` of its own,
kept for the life of the process (so a base is parsed once per worker) and fed the formatted
texts of the models converted earlier in the run. Workers return values, never raise: a
`Diagnostic` tuple stands for a failed model. Results come back in the level's order, so the
output does not depend on which worker converts a model or finishes first, and `-j N` gives the
bytes of `-j 1`.

Parsing a base package and analysing its scopes cost about as much as converting a model, and
each worker pays them again for every base it has not loaded yet. So a `WorkerPool` hands a free
worker the waiting model with most bases that worker has already loaded (the largest first among
equals), instead of a shared queue's next model: models built on the same base go to the same worker.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
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
    pool: WorkerPool | None,
    on_done: Callable[[str], None],
) -> list[Outcome]:
    """One outcome per module of `level`, in order."""
    if pool is None:
        outcomes = []
        for parsed in level:
            outcomes.append(attempt(convert, parsed, loader))
            on_done(parsed.model)
        return outcomes
    return pool.convert_level(level, loader, convert, on_done)


class WorkerPool:
    """`jobs` worker processes, each an executor of its own so that the pool chooses the worker of
    each model (see the module docstring); a context manager that shuts them down."""

    def __init__(self, jobs: int) -> None:
        self.executors = [ProcessPoolExecutor(max_workers=1) for _ in range(jobs)]
        self.loaded: list[set[str]] = [set() for _ in range(jobs)]  # base models each worker has loaded

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        for executor in self.executors:
            executor.shutdown()

    def convert_level(
        self, level: Sequence[ParsedModule], loader: BaseLoader, convert: Converter, on_done: Callable[[str], None]
    ) -> list[Outcome]:
        """One outcome per module of `level`, in order; a free worker gets the waiting model it suits best."""
        outcomes: dict[int, Outcome] = {}
        waiting = list(range(len(level)))
        bases = [set(base_imports(parsed)) for parsed in level]
        running: dict[Future[Outcome], tuple[int, int]] = {}
        idle = list(range(len(self.executors)))
        while waiting or running:
            while idle and waiting:
                worker = idle.pop(0)
                loaded = self.loaded[worker]
                # most bases loaded in this worker first, then the largest source, then level order
                index = max(waiting, key=lambda i: (len(loaded & bases[i]), len(level[i].source), -i))
                waiting.remove(index)
                loaded |= bases[index]
                future = self.executors[worker].submit(
                    convert_in_worker,
                    level[index].path,
                    loader.repo_root,
                    base_texts(loader, level[index]),
                    convert,
                    loader.layout,
                )
                running[future] = (index, worker)
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in sorted(finished, key=lambda future: running[future]):
                index, worker = running.pop(future)
                outcomes[index] = future.result()
                idle.append(worker)
                on_done(level[index].model)
        return [outcomes[index] for index in range(len(level))]


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
