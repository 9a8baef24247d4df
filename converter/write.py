"""Writing results: what changed, unified diffs, and atomic writes. Not a pass: it runs after them.

Each changed file is first written to a temporary file in its own directory, then all of them
are moved into place with `os.replace`, so a reader never sees a half-written file. Files
whose bytes are already right are not touched.
"""

from __future__ import annotations

import difflib
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from converter.emit import EmittedModel


@dataclass(frozen=True)
class FileChange:
    """A generated file whose content on disk (`old`, None when missing) differs from `new`."""

    path: Path
    display_path: str
    modular_path: str
    old: str | None
    new: str


def pending_changes(models: Iterable[EmittedModel], repo_root: Path) -> list[FileChange]:
    """The files of `models` that are missing or stale under `repo_root`, in path order."""
    changes = []
    for model in models:
        for file in model.files:
            path = repo_root / file.path
            old = path.read_bytes() if path.is_file() else None
            if old != file.text.encode("utf-8"):
                text = None if old is None else old.decode("utf-8", errors="replace")
                changes.append(FileChange(path, file.path, model.modular_path, text, file.text))
    return sorted(changes, key=lambda change: change.display_path)


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


def write_changes(changes: Sequence[FileChange]) -> None:
    """Write every change atomically: all temporary files first, then one `os.replace` each."""
    staged: list[tuple[str, Path]] = []
    try:
        for change in changes:
            staged.append((stage(change), change.path))
        for temporary, path in staged:
            os.replace(temporary, path)
    finally:
        for temporary, _ in staged:
            if os.path.exists(temporary):
                os.unlink(temporary)


def stage(change: FileChange) -> str:
    """Write `change.new` to a temporary file beside its destination, with ordinary file permissions."""
    change.path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=change.path.parent, prefix=f".{change.path.name}.", suffix=".tmp")
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(change.new.encode("utf-8"))
    os.chmod(temporary, 0o666 & ~current_umask())
    return temporary


def current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
