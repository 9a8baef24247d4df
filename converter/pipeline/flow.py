"""Converting with worker processes (`-j N`): each model starts as soon as its own bases are formatted.

Converting level by level (schedule.py) leaves a worker idle whenever a level's last models are
slower than the rest, and both idle while the level is formatted. Here a model is handed to a
worker once every base it imports from has been formatted (or has failed); models that finish
converting are formatted together in the next ruff run (a *wave*) while the workers go on.

The formatted bytes are the level-by-level ones. Ruff formats each file on its own but for one
thing the batch changes: an absolute import is first-party when the temporary root it formats in
has a directory of that name, and that root holds the output directories of the batch. A level
batch holds its level's; a wave holds other ones. So a model is formatted in a wave only when none
of its files imports, by absolute name, the output directory of another model of the run
(`formats_alone`: then no batch changes it); any other model waits for its level and is formatted
in its level's batch, as level by level. Diagnostics and failures are those of
`pipeline.format_level` either way: a batch that fails is formatted again one model at a time.
Formatting runs in this process; a worker that has just finished is handed a model that does not
wait for the wave before the wave is formatted, so it does not sit idle meanwhile.

A wave grows until a waiting model imports from one of its models, it holds WAVE_SIZE models, or
nothing else runs: each ruff run costs about as much to start as to format a model, and most
models are the base of none, so formatting them one finish at a time cost a thousand ruff runs on
the upstream corpus.
"""

from __future__ import annotations

import ast
import functools
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait

from converter.diagnostics import Diagnostic
from converter.pipeline.scan import ScannedModule
from converter.pipeline.workers import Converter, Outcome, WorkerPool
from converter.read.bases import BaseLoader
from converter.read.parse import collection_paused
from converter.write.emit import EmittedModel

#: The most converted models a wave holds before it is formatted.
WAVE_SIZE = 16

Formatter = Callable[[Sequence[EmittedModel], list[Diagnostic], set[str]], tuple[EmittedModel, ...]]


class Flow:
    """The state of one run: what waits, runs, waits for formatting, and is finished."""

    def __init__(self, levels: Sequence[Sequence[ScannedModule]], loader: BaseLoader, format_level: Formatter) -> None:
        self.levels = levels
        self.loader = loader
        self.format_level = format_level
        self.level_of = {scanned.model: index for index, level in enumerate(levels) for scanned in level}
        self.bases = {scanned.model: [b for b in scanned.bases if b in self.level_of] for scanned in self.all()}
        self.waiting = list(self.all())
        self.left = [len(level) for level in levels]  # models of each level not converted yet
        self.converted: list[list[EmittedModel]] = [[] for _ in levels]  # in level order once complete
        self.held: list[list[EmittedModel]] = [[] for _ in levels]  # formatted with their level
        self.finished: set[str] = set()  # formatted, or failed
        self.failed: set[str] = set()
        self.models: list[EmittedModel] = []

    def all(self) -> Iterable[ScannedModule]:
        return (scanned for level in self.levels for scanned in level)

    def ready(self) -> list[ScannedModule]:
        return [p for p in self.waiting if all(base in self.finished for base in self.bases[p.model])]

    @functools.cached_property
    def directories(self) -> set[str] | None:
        """The top directories the outputs of the run go to (a batch's root holds some of them);
        None when one is the root itself or `src`."""
        found = {output_top(scanned) for scanned in self.all()}
        return None if found & {".", "", "src"} else found

    def add_converted(self, scanned: ScannedModule, model: EmittedModel, wave: list[EmittedModel]) -> None:
        level = self.level_of[scanned.model]
        self.converted[level].append(model)
        (wave if formats_alone(model, output_top(scanned), self.directories) else self.held[level]).append(model)

    def add_failed(self, scanned: ScannedModule) -> None:
        self.failed.add(scanned.model)
        self.finished.add(scanned.model)

    def done(self, scanned: ScannedModule, diagnostics: list[Diagnostic]) -> None:
        """`scanned` is converted, failed or skipped: when it is its level's last, format the held ones."""
        level = self.level_of[scanned.model]
        self.left[level] -= 1
        if not self.left[level]:
            self.format_held(level, diagnostics)

    def skip_failed_bases(self, diagnostics: list[Diagnostic]) -> None:
        """A model whose base failed fails too, unconverted (its base reports), and so on down."""
        while skipped := [p for p in self.ready() if self.failed & set(self.bases[p.model])]:
            for scanned in skipped:
                self.waiting.remove(scanned)
                self.add_failed(scanned)
                self.done(scanned, diagnostics)

    def finish(self, formatted: Sequence[EmittedModel], models: Iterable[str]) -> None:
        self.loader.add_texts({file.path: file.text for model in formatted for file in model.files})
        self.models += formatted
        self.finished.update(models)

    def awaited(self, wave: Sequence[EmittedModel]) -> bool:
        """Whether a waiting model imports from a model of `wave` (it starts once that is formatted)."""
        names = {model.model for model in wave}
        return any(not names.isdisjoint(self.bases[scanned.model]) for scanned in self.waiting)

    def format_wave(self, wave: Sequence[EmittedModel], diagnostics: list[Diagnostic]) -> None:
        if wave:
            self.finish(self.format_level(wave, diagnostics, self.failed), [model.model for model in wave])

    def format_held(self, level: int, diagnostics: list[Diagnostic]) -> None:
        """The held models of a complete level, formatted in the level's whole batch (level order)."""
        held = self.held[level]
        if not held:
            return
        names = {model.model for model in held}
        order = {scanned.model: index for index, scanned in enumerate(self.levels[level])}
        batch = sorted(self.converted[level], key=lambda model: order[model.model])
        scratch: list[Diagnostic] = []
        failed: set[str] = set()
        formatted = [model for model in self.format_level(batch, scratch, failed) if model.model in names]
        paths = {file.path for model in held for file in model.files}
        diagnostics += [d for d in scratch if d.path in paths]
        self.failed |= failed & names
        self.finish(formatted, names)


def convert_flowing(
    levels: Sequence[Sequence[ScannedModule]],
    loader: BaseLoader,
    pool: WorkerPool,
    convert: Converter,
    format_level: Formatter,
    diagnostics: list[Diagnostic],
    on_done: Callable[[str], None],
    skip_failed: bool = True,
) -> list[EmittedModel]:
    """The formatted models of a run (see the module docstring); `skip_failed` as in pipeline.convert_levels."""
    flow = Flow(levels, loader, format_level)
    running: dict[Future[Outcome], ScannedModule] = {}

    def start_ready() -> None:
        if skip_failed:
            flow.skip_failed_bases(diagnostics)
        ready = flow.ready()
        while ready and pool.idle:
            future, scanned = pool.start(ready, loader, convert)
            running[future] = scanned
            flow.waiting.remove(scanned)
            ready.remove(scanned)

    wave: list[EmittedModel] = []  # converted, formatting alone, not formatted yet
    while flow.waiting or running:
        start_ready()
        if not running:
            if wave:  # what still waits, waits for the wave
                flow.format_wave(wave, diagnostics)
                wave = []
                continue
            assert not flow.waiting, "every waiting model waits for a running one"
            break
        finished, _ = wait(running, return_when=FIRST_COMPLETED)
        outcomes = []
        for future in finished:
            scanned = running.pop(future)
            outcomes.append((scanned, pool.result(future, scanned)))
        outcomes.sort(key=lambda pair: (flow.level_of[pair[0].model], pair[0].display_path))
        for scanned, outcome in outcomes:
            on_done(scanned.model)
            if isinstance(outcome, EmittedModel):
                flow.add_converted(scanned, outcome, wave)
            else:
                diagnostics.extend(outcome)
                flow.add_failed(scanned)
        start_ready()  # a worker just freed takes a model that waits for nothing in the wave, while it formats
        if len(wave) >= WAVE_SIZE or flow.awaited(wave):
            flow.format_wave(wave, diagnostics)
            wave = []
        for scanned, _ in outcomes:
            flow.done(scanned, diagnostics)
    flow.format_wave(wave, diagnostics)
    return flow.models


def formats_alone(model: EmittedModel, own: str, directories: set[str] | None) -> bool:
    """Ruff formats `model` (its outputs under the directory `own`) in any batch of the run's models
    (whose outputs go to `directories`) as in its level's batch: no file of it imports another of
    those directories by absolute name."""
    if directories is None:
        return False
    others = directories - {own}
    for file in model.files:
        if not may_import(file.text, others):
            continue  # none of its imports can name one: no parse needed
        try:
            with collection_paused():  # a tree without cycles (see parse.collection_paused)
                tree = ast.parse(file.text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return False
        for node in ast.walk(tree):
            if isinstance(node, ast.Import) and any(alias.name.split(".")[0] in others for alias in node.names):
                return False
            if isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").split(".")[0] in others:
                return False
    return True


#: The rest of a line after `import` (`import a.b as c, d`), the module after `from` (`from a.b import`).
IMPORT_REST = re.compile(r"\bimport\b([^\n;#]*)|\bfrom\s+(\w+)")
WORD = re.compile(r"\w+")


def may_import(text: str, heads: set[str]) -> bool:
    """Whether `text` may import a module whose first name is in `heads` by absolute name, read
    without parsing: False only where no word on a line after `import`, nor after `from`, is one of
    them once NFKC-normalized as Python reads names (words of strings and comments count too), and
    no backslash continues a line (one could split an import over two lines)."""
    if "\\\n" in text or "\\\r" in text:
        return True
    for rest, module in IMPORT_REST.findall(text):
        for word in WORD.findall(rest) if rest else (module,):
            if (word if word.isascii() else unicodedata.normalize("NFKC", word)) in heads:
                return True
    return False


def output_top(scanned: ScannedModule) -> str:
    """The top directory of the outputs of `scanned` (`llama` for `llama/modeling_llama.py`)."""
    return scanned.layout.output_directory(scanned.display_path, scanned.model).split("/", 1)[0]
