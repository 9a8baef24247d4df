"""Converting models, in this process or in worker processes (`-j N`; flow.py says which model when).

A worker parses its modular file (the run scheduled it from a scan: scan.py) and reads base models through a `BaseLoader` of its own,
kept for the life of the process (so a base is parsed once per worker) and fed the formatted
texts of the models converted earlier in the run. Workers return values, never raise: a
`Diagnostic` tuple stands for a failed model. The output does not depend on which worker
converts a model or finishes first, and `-j N` gives the bytes of `-j 1`.

Parsing a base package and analysing its scopes cost about as much as converting a model, and
each worker pays them again for every base it has not loaded yet. So a `WorkerPool` hands a free
worker the ready model with most bases that worker has already loaded (the largest first among
equals), instead of a shared queue's next model: models built on the same base go to the same worker."""

from __future__ import annotations

import contextlib
import gc
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from converter.diagnostics import ConversionError, Diagnostic
from converter.layout import REPO, Layout
from converter.pipeline.scan import ScanDisagrees, ScannedModule
from converter.read.bases import BaseLoader
from converter.read.nesting import TOO_DEEP_FIX, TOO_DEEP_MESSAGE, deepest_point
from converter.read.parse import ParsedModule
from converter.write.emit import EmittedModel

Outcome = EmittedModel | tuple[Diagnostic, ...]
Converter = Callable[[ParsedModule, BaseLoader], EmittedModel]

_LOADERS: dict[str, BaseLoader] = {}


def convert_level(
    level: Sequence[ScannedModule], loader: BaseLoader, convert: Converter, on_done: Callable[[str], None]
) -> list[Outcome]:
    """One outcome per module of `level`, in order, converted in this process."""
    outcomes = []
    for scanned in level:
        outcomes.append(parse_and_attempt(convert, scanned, loader))
        on_done(scanned.model)
    return outcomes


@contextlib.contextmanager
def collected_once() -> Iterator[None]:
    """In a worker process, around one model: the cyclic garbage collector off while it converts,
    then one collection of the garbage cycles it left, and what survives exempt from later
    collections (`gc.freeze`).

    The base trees a worker's loader keeps are millions of objects without reference cycles, and
    CPython's full collections walked all of them again every few models: a third of a worker's
    CPU on the upstream corpus; the young objects of one model (its trees, its scope analyses) were
    walked again at every collection of their generation. Frozen objects are still freed as soon as
    nothing refers to them. Not in the main process, whose objects are the caller's too (and whose
    first full collection in a large process costs more than a small run saves)."""
    gc.disable()
    try:
        yield
    finally:
        gc.collect()
        gc.freeze()
        gc.enable()


class WorkerPool:
    """`jobs` worker processes, each an executor of its own so that the pool chooses the worker of
    each model (see the module docstring); a context manager that shuts them down."""

    def __init__(self, jobs: int) -> None:
        self.executors = [ProcessPoolExecutor(max_workers=1) for _ in range(jobs)]
        self.loaded: list[set[str]] = [set() for _ in range(jobs)]  # base models each worker has loaded
        self.idle = list(range(jobs))
        self.working: dict[Future[Outcome], int] = {}

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        for executor in self.executors:
            executor.shutdown()

    def start(
        self, candidates: Sequence[ScannedModule], loader: BaseLoader, convert: Converter
    ) -> tuple[Future[Outcome], ScannedModule]:
        """Hand an idle worker the candidate with most bases it has loaded (the largest source among
        those, the first among equals); its outcome comes from `result`."""
        worker = self.idle.pop(0)
        loaded = self.loaded[worker]
        bases = [set(scanned.bases) for scanned in candidates]
        best = max(range(len(candidates)), key=lambda i: (len(loaded & bases[i]), len(candidates[i].source), -i))
        scanned = candidates[best]
        loaded |= bases[best]
        texts = base_texts(loader, scanned)
        future = self.executors[worker].submit(
            convert_in_worker, scanned.unparsed(), loader.repo_root, texts, convert, loader.layout
        )
        self.working[future] = worker
        return future, scanned

    def result(self, future: Future[Outcome], scanned: ScannedModule) -> Outcome:
        """The outcome of a finished `start` of `scanned`; its worker is idle again. Raises the
        worker's `ScanDisagrees` (scan.py). A worker process that died (a signal: a crash of a native
        library, or killed for memory) is E901 for its model, and is replaced by a fresh one."""
        worker = self.working.pop(future)
        self.idle.append(worker)
        try:
            return future.result()
        except ScanDisagrees:
            raise
        except BrokenProcessPool:
            self.executors[worker].shutdown(wait=False)
            self.executors[worker] = ProcessPoolExecutor(max_workers=1)
            self.loaded[worker] = set()
            message = "the worker process converting this file died (a native crash, or killed for memory)"
            fix = "rerun with -j 1 to see the error, and report it with the modular file"
        except Exception as error:  # noqa: BLE001 - the outcome could not come back (pickling)
            message = (
                f"the outcome of converting this file could not come back from its worker: {type(error).__name__}"
            )
            fix = "rerun with -j 1 to see the error, and report it with the modular file"
        return (scanned.diagnostic_at(1, 1, "E901", message, fix),)


def base_texts(loader: BaseLoader, scanned: ScannedModule) -> dict[str, str]:
    """The in-memory texts of the models `scanned` imports from: all a worker needs of this run's output."""
    models = set(scanned.bases)
    return {path: text for path, text in loader.texts.items() if loader.model_of_path(path) in models}


def attempt(convert: Converter, parsed: ParsedModule, loader: BaseLoader) -> Outcome:
    """The converted model, or its diagnostics; a crash of the converter itself is E900 with the
    traceback. Running out of recursion or memory is E007 at the file's deepest point (nesting.py
    bounds what libcst reads, not every pass), never a traceback."""
    try:
        return convert(parsed, loader)
    except ConversionError as error:
        return error.diagnostics
    except (RecursionError, MemoryError) as error:
        line, col = deepest_point(parsed.source)
        message = f"{TOO_DEEP_MESSAGE} (the converter ran out of {'memory' if isinstance(error, MemoryError) else 'recursion'})"
        return (parsed.diagnostic_at(line, col, "E007", message, TOO_DEEP_FIX),)
    except BaseException as error:  # noqa: BLE001 - one crashing model must not take the run with it
        if isinstance(error, KeyboardInterrupt | SystemExit | GeneratorExit):
            raise  # (a panic of libcst's native parser is a BaseException too: reported below)
        trace = traceback.format_exc(limit=-4).strip().replace("\n", "\n    ")
        message = f"converter crashed: {type(error).__name__}: {error}"
        fix = f"report this converter bug with the modular file; traceback:\n    {trace}"
        return (Diagnostic(parsed.display_path, 1, 1, "E900", message, fix),)


def parse_and_attempt(convert: Converter, scanned: ScannedModule, loader: BaseLoader) -> Outcome:
    """`attempt` on the file's parse; its diagnostics where it does not parse. Raises `ScanDisagrees`."""
    try:
        parsed = scanned.parse()
    except ConversionError as error:
        return error.diagnostics
    return attempt(convert, parsed, loader)


def convert_in_worker(
    scanned: ScannedModule, repo_root: Path, texts: Mapping[str, str], convert: Converter, layout: Layout = REPO
) -> Outcome:
    """Runs in a worker process: parse, then convert with this process's loader."""
    key = f"{layout.name}:{repo_root}"
    loader = _LOADERS.get(key) or _LOADERS.setdefault(key, BaseLoader(repo_root, layout=layout))
    loader.add_texts(texts)
    with collected_once():
        freeze_bases(loader, scanned)
        return parse_and_attempt(convert, scanned, loader)


def freeze_bases(loader: BaseLoader, scanned: ScannedModule) -> None:
    """Load the bases `scanned` imports from before it converts, and exempt them from collections
    (`gc.freeze`, see `collected_once`): the collection after the model then walks only what the
    model made, not the base trees too (about two thirds of what it walked). A base that fails to
    load is left to the conversion, which reports it."""
    try:
        loader.bases(scanned.bases)
    except Exception:  # noqa: BLE001 - reported by the conversion, which loads it again
        return
    gc.freeze()
