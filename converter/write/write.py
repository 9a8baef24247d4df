"""Writing results: what changed, what is stray, unified diffs, and atomic writes. Not a pass: it runs after them.

The converter owns `generated/` in this repository's layout: a model's package holds exactly the
files its modular file produces (`__pycache__` aside), and every package has a modular file. So a
run also finds *strays*: an entry of a converted model's package that its conversion does not
produce (an old output, a hand-added file, a temporary file an interrupted write left), and, when
the run covers every modular file, a package with no modular file. A checking run reports them,
a writing run removes them. A transformers tree (converter/layout.py) holds hand-written files
beside the outputs, so nothing there is a stray.

Writing goes through converter/write/journal.py: every changed file is first written to a temporary file
beside it, then all are renamed into place under a journal, so a reader never sees a half-written
file and a killed run is finished by the next one. A target that is not a regular file in real
directories (a symlink, a directory, a package path that is a file) is refused before anything is
written. Files whose bytes are already right are not touched.

    changes = pending_changes(models, repo_root)
    strays = stray_entries(models, repo_root, every_model={"llama", "gemma"})
    write_changes(changes, strays, repo_root)     # raises OutputError naming the path
"""

from __future__ import annotations

import difflib
import os
import stat
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from converter.write.emit import GENERATED_DIR, EmittedModel
from converter.write.journal import JOURNAL_NAME, OutputError, commit, discard, failure, is_temporary, printable, stage

#: Entries of generated/ a run never reports or removes: Python's byte-code caches.
IGNORED = frozenset({"__pycache__"})
#: An existing generated file larger than this is reported as changed without being read (bytes).
DIFF_LIMIT = 8 * 2**20


@dataclass(frozen=True)
class FileChange:
    """A generated file whose content on disk (`old`, None when missing) differs from `new`.

    `blocked` says why the path cannot simply be replaced ("generated/x is a symlink"); "" when
    it is a regular file in real directories, or missing."""

    path: Path
    display_path: str
    modular_path: str
    old: str | None
    new: str
    blocked: str = ""


@dataclass(frozen=True)
class Stray:
    """An entry under generated/ that a fresh conversion does not produce, and why it is there
    (a phrase completing its path: "generated/ghost/ has no modular source modular/modular_ghost.py");
    `modular_path` is the modular file whose package holds it ("" for a package with none)."""

    path: Path
    display_path: str
    reason: str
    modular_path: str = ""


def pending_changes(models: Iterable[EmittedModel], repo_root: Path) -> list[FileChange]:
    """The files of `models` that are missing or stale under `repo_root`, in path order.

    Raises OutputError when an existing regular file cannot be read."""
    changes = []
    for model in models:
        for file in model.files:
            path = repo_root / file.path
            blocked = blocked_reason(repo_root, file.path)
            old = None if blocked else read_existing(path, file.path)
            if blocked or old != file.text.encode("utf-8"):
                text = None if old is None else old.decode("utf-8", errors="replace")
                changes.append(FileChange(path, file.path, model.modular_path, text, file.text, blocked))
    return sorted(changes, key=lambda change: change.display_path)


def read_existing(path: Path, display_path: str) -> bytes | None:
    """The bytes of the regular file at `path`, None when missing; a file over DIFF_LIMIT is not read."""
    try:
        size = os.stat(path).st_size
        if size > DIFF_LIMIT:
            return f"<{size} bytes, not shown>\n".encode()
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise OutputError(f"cannot read {display_path}: {error.strerror or type(error).__name__}") from None


def blocked_reason(root: Path, relative: str) -> str:
    """Why the file at `relative` (a POSIX path under `root`) cannot be replaced by a regular file:
    a part of its path is a symlink or not a directory, or it is a directory or a special file.
    "" when it is a regular file in real directories, or missing."""
    parts = relative.split("/")
    for depth in range(1, len(parts) + 1):
        prefix = "/".join(parts[:depth])
        try:
            mode = os.lstat(root / prefix).st_mode
        except FileNotFoundError:
            return ""
        except OSError as error:
            return f"{prefix} cannot be inspected ({error.strerror or type(error).__name__})"
        last = depth == len(parts)
        if stat.S_ISLNK(mode):
            return f"{prefix} is a symlink"
        if not last and not stat.S_ISDIR(mode):
            return f"{prefix} is not a directory"
        if last and not stat.S_ISREG(mode):
            return f"{prefix} is a directory" if stat.S_ISDIR(mode) else f"{prefix} is not a regular file"
    return ""


def stray_entries(
    models: Iterable[EmittedModel], repo_root: Path, every_model: Collection[str] | None = None
) -> list[Stray]:
    """Entries of the converted models' packages that their conversion does not produce, and, when
    `every_model` names every model that has a modular file, the entries of generated/ that belong
    to none of them; in path order. Repository layout only. Raises OutputError when a directory
    cannot be listed."""
    strays = []
    for model in models:
        if model.tree:
            continue
        produced = {file.path.rsplit("/", 1)[-1] for file in model.files}
        directory = f"{GENERATED_DIR}/{model.model}"
        for name in entry_names(repo_root, directory):
            if name not in produced:
                why = left_by_a_write(name) or f"is not produced by {model.modular_path}"
                shown = f"{directory}/{printable(name)}"
                strays.append(Stray(repo_root / directory / name, shown, why, model.modular_path))
    if every_model is not None:
        strays += orphans(repo_root, every_model)
    return sorted(strays, key=lambda stray: stray.display_path)


def orphans(repo_root: Path, every_model: Collection[str]) -> list[Stray]:
    """Packages of generated/ (directories, or symlinks) with no modular file, and what an interrupted
    write left there. Plain files directly in generated/ (its hand-written `__init__.py`) are not ours."""
    found = []
    for name in entry_names(repo_root, GENERATED_DIR):
        path = repo_root / GENERATED_DIR / name
        display_path = f"{GENERATED_DIR}/{printable(name)}"
        if left_by_a_write(name):
            found.append(Stray(path, display_path, left_by_a_write(name)))
        elif name not in every_model and (path.is_symlink() or path.is_dir()):
            why = f"has no modular source modular/modular_{printable(name)}.py"
            found.append(Stray(path, display_path + "/", why))
    return found


def stray_lines(strays: Sequence[Stray], prefix: str = "", removed: bool = False) -> list[str]:
    """One line per stray (`bounded`): `<prefix>generated/toy/foo.py is not produced by ...`, or
    once `removed`: `<prefix>removed generated/toy/foo.py: it is not produced by ...`."""
    form = "{prefix}removed {path}: it {reason}" if removed else "{prefix}{path} {reason}"
    lines = [form.format(prefix=prefix, path=stray.display_path, reason=stray.reason) for stray in strays]
    return bounded(lines, prefix)


def bounded(lines: Sequence[str], prefix: str = "", limit: int = 50) -> list[str]:
    """At most `limit` of `lines`, then `<prefix>... and N more`: a folder of ten thousand
    hand-added files does not flood the terminal."""
    extra = [f"{prefix}... and {len(lines) - limit} more"] if len(lines) > limit else []
    return [*lines[:limit], *extra]


def output_directories(root: Path, tree: bool = False) -> list[Path]:
    """Where a write may have left a journal or temporary files: generated/ (a tree: the root) and its
    real directories. Raises OutputError when it cannot be listed."""
    top = root if tree else root / GENERATED_DIR
    if top.is_symlink() or not top.is_dir():
        return []
    try:
        return [top, *sorted(path for path in top.iterdir() if path.is_dir() and not path.is_symlink())]
    except OSError as error:
        raise failure("list", top, root, error) from None


def left_by_a_write(name: str) -> str:
    """The reason for a journal or temporary file of converter/write/journal.py; "" for any other name."""
    return "was left by an interrupted write" if name == JOURNAL_NAME or is_temporary(name) else ""


def entry_names(root: Path, directory: str) -> list[str]:
    """The entry names of `root/directory` but IGNORED ones, sorted; [] when it is missing, not a
    directory, or a symlink (never entered). Raises OutputError when it cannot be listed."""
    path = root / directory
    if path.is_symlink() or not path.is_dir():
        return []
    try:
        return sorted(name for name in os.listdir(path) if name not in IGNORED)
    except OSError as error:
        raise failure("list", path, root, error) from None


def unified_diff(change: FileChange) -> str:
    """`git diff` style: the file on disk against a fresh conversion."""
    old_label = "/dev/null" if change.old is None else f"a/{change.display_path}"
    lines = difflib.unified_diff(
        (change.old or "").splitlines(keepends=True),
        change.new.splitlines(keepends=True),
        fromfile=old_label,
        tofile=f"b/{change.display_path}",
    )
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)


def write_changes(changes: Sequence[FileChange], strays: Sequence[Stray] = (), root: Path | None = None) -> None:
    """Write every change and remove every stray: temporary files first, then renames and removals
    under a journal (converter/write/journal.py). Raises OutputError naming the path; a target that is not
    a regular file in real directories, or a file that cannot be staged, fails before anything changed."""
    if not changes and not strays:
        return
    root = root if root is not None else root_of(changes[0] if changes else strays[0])
    for change in changes:
        blocked = blocked_reason(root, change.display_path)
        if blocked:
            raise OutputError(f"cannot write {change.display_path}: {blocked}; remove it, then run again")
    created = make_directories(sorted({change.path.parent for change in changes}), root)
    staged: list[tuple[Path, Path]] = []
    try:
        for change in changes:
            staged.append((stage(change.path, change.new.encode("utf-8"), root), change.path))
    except OutputError:
        discard(temporary for temporary, _ in staged)
        remove_empty(created)
        raise
    paths = [change.path for change in changes] + [stray.path for stray in strays]
    commit(staged, [stray.path for stray in strays], Path(os.path.commonpath([p.parent for p in paths])), root)


def root_of(item: FileChange | Stray) -> Path:
    """The root a change's display path is relative to."""
    depth = len(item.display_path.rstrip("/").split("/"))
    return item.path.parents[depth - 1]


def make_directories(directories: Sequence[Path], root: Path) -> list[Path]:
    """Create the missing `directories` (under `root`, parents first); returns those created.
    Raises OutputError naming the first that cannot be created, having removed those it made."""
    created: list[Path] = []
    for directory in directories:
        missing = [d for d in [directory, *directory.parents] if d != root and root in d.parents and not d.exists()]
        for path in reversed(missing):
            try:
                path.mkdir()
            except OSError as error:
                remove_empty(created)
                raise failure("create", path, root, error) from None
            created.append(path)
    return created


def remove_empty(directories: Sequence[Path]) -> None:
    """Remove the directories a failed write created (deepest first), where still empty."""
    for directory in reversed(directories):
        try:
            directory.rmdir()
        except OSError:
            pass
