"""Atomic writes across many files, and the recovery of a write that was killed half-way.

A run writes every changed file to a temporary file beside it first (`.<name>.<random>.converter-tmp`,
a name nothing else uses), then records the renames and removals it is about to do in a journal
(`.converter-journal.json`, itself written atomically), then renames and removes, then deletes the
journal. Killed before the journal exists, a run leaves only temporary files (the old files are
intact); killed after, the journal says how to finish. The next writing run calls `recover`, which
finishes a journalled write (roll forward) and deletes stray temporary files, saying what it did.

    staged = [(stage(path, data, root), path) for path, data in outputs]
    commit(staged, removals, journal_directory, root)       # raises OutputError naming the path
    recover([root / "generated", *model_directories], root)  # -> messages for the user
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

TEMP_SUFFIX = ".converter-tmp"
JOURNAL_NAME = ".converter-journal.json"
JOURNAL_LIMIT = 4 * 2**20  # bytes; a journal lists file names, far below this


class OutputError(OSError):
    """A generated path that cannot be read, written or removed; the message names it and says why."""


def is_temporary(name: str) -> bool:
    """A temporary file of this module (`.<name>.<random>.converter-tmp`)."""
    return name.startswith(".") and name.endswith(TEMP_SUFFIX)


def display(path: Path, root: Path) -> str:
    """`path` relative to `root` (POSIX) where it is inside, else as given; printable (see `printable`)."""
    try:
        return printable(path.relative_to(root).as_posix())
    except ValueError:
        return printable(str(path))


def printable(text: str) -> str:
    """`text` with every character that is not printable escaped as in a repr (`\\x1b`, `\\udcff`):
    a hostile file name can neither drive the terminal nor fail to encode when printed."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def failure(action: str, path: Path, root: Path, error: OSError) -> OutputError:
    reason = error.strerror or type(error).__name__
    return OutputError(f"cannot {action} {display(path, root)}: {reason}")


def stage(path: Path, data: bytes, root: Path) -> Path:
    """Write `data` to a new temporary file beside `path` (ordinary permissions); raises OutputError."""
    try:
        descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    except OSError as error:
        raise failure("write", path, root, error) from None
    temporary = Path(name)
    try:
        with memoryview(data) as view:
            written = 0
            while written < len(view):  # os.write may write less than asked (a full disk raises)
                written += os.write(descriptor, view[written:])
        os.fchmod(descriptor, 0o666 & ~current_umask())
    except OSError as error:
        os.close(descriptor)
        temporary.unlink(missing_ok=True)
        raise failure("write", path, root, error) from None
    os.close(descriptor)
    return temporary


def current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def commit(renames: Sequence[tuple[Path, Path]], removals: Sequence[Path], directory: Path, root: Path) -> None:
    """Rename each staged temporary file onto its target, then remove `removals`, under a journal in
    `directory`. Raises OutputError: before the journal exists nothing has changed (the temporary
    files are deleted); after, the journal stays and the next `recover` finishes the write."""
    journal = directory / JOURNAL_NAME
    entries = {
        "renames": [[relative(temp, directory), relative(target, directory)] for temp, target in renames],
        "removals": [relative(path, directory) for path in removals],
    }
    try:
        staged = stage(journal, json.dumps(entries, indent=1).encode(), root)
    except OutputError:
        discard(temp for temp, _ in renames)
        raise
    try:
        os.replace(staged, journal)
    except OSError as error:
        discard([staged, *(temp for temp, _ in renames)])
        raise failure("write", journal, root, error) from None
    apply(renames, removals, root)
    journal.unlink(missing_ok=True)


def apply(
    renames: Sequence[tuple[Path, Path]], removals: Sequence[Path], root: Path, *, staged_only: bool = False
) -> None:
    """Rename each temporary file onto its target, then remove `removals`; with `staged_only`, a
    rename whose temporary file is gone (done before an interruption) is skipped."""
    for temp, target in renames:
        if staged_only and not os.path.lexists(temp):
            continue
        try:
            os.replace(temp, target)
        except OSError as error:
            raise failure("write", target, root, error) from None
    for path in removals:
        remove(path, root)


def relative(path: Path, directory: Path) -> str:
    return path.relative_to(directory).as_posix()


def discard(paths: Iterable[Path]) -> None:
    for path in paths:
        Path(path).unlink(missing_ok=True)


def remove(path: Path, root: Path) -> None:
    """Delete a file, a symlink (never what it points to) or a directory tree; raises OutputError."""
    try:
        mode = os.lstat(path).st_mode
        if stat.S_ISDIR(mode):
            shutil.rmtree(path)
        else:
            path.unlink()
    except FileNotFoundError:
        return
    except OSError as error:
        raise failure("remove", path, root, error) from None


def leftovers(directories: Iterable[Path], root: Path) -> list[str]:
    """What an interrupted write left in `directories` (journals, temporary files), as display paths."""
    found = []
    for directory in real_directories(directories):
        found += [display(path, root) for path in listing(directory, root) if is_leftover(path.name)]
    return found


def listing(directory: Path, root: Path) -> list[Path]:
    """The entries of `directory`, sorted; raises OutputError naming it when it cannot be listed."""
    try:
        return sorted(directory.iterdir())
    except OSError as error:
        raise failure("list", directory, root, error) from None


def is_leftover(name: str) -> bool:
    return name == JOURNAL_NAME or is_temporary(name)


def real_directories(directories: Iterable[Path]) -> list[Path]:
    """The directories that exist and are not symlinks (a symlinked one is never entered), deduplicated."""
    return [path for path in dict.fromkeys(directories) if path.is_dir() and not path.is_symlink()]


def recover(directories: Iterable[Path], root: Path) -> list[str]:
    """Finish every journalled write in `directories`, then delete the temporary files left there;
    returns one message per thing done. Raises OutputError where a file cannot be written or removed."""
    directories = real_directories(directories)
    messages = []
    for directory in directories:
        journal = directory / JOURNAL_NAME
        if os.path.lexists(journal):
            messages.append(roll_forward(journal, root))
    for directory in directories:
        for path in listing(directory, root):
            if is_temporary(path.name):
                remove(path, root)
                messages.append(f"removed {display(path, root)}, left by an interrupted write")
    return messages


def roll_forward(journal: Path, root: Path) -> str:
    """Do what `journal` lists (the renames whose temporary file is still there, then the removals)
    and delete it. A journal that is not one this module wrote is deleted and nothing else is done."""
    plan = read_journal(journal)
    if plan is None:
        remove(journal, root)
        return f"removed {display(journal, root)}: not a journal this converter wrote; nothing done"
    renames, removals = plan
    apply(renames, removals, root, staged_only=True)
    remove(journal, root)
    count = len(renames) + len(removals)
    return f"completed an interrupted write of {count} file(s) ({display(journal, root)})"


def read_journal(journal: Path) -> tuple[list[tuple[Path, Path]], list[Path]] | None:
    """(renames, removals) of a journal, every path checked to stay inside its directory; None when
    the file is unreadable, too large, not JSON of the expected shape, or names any other path."""
    directory = journal.parent
    try:
        status = os.lstat(journal)
        if not stat.S_ISREG(status.st_mode) or status.st_size > JOURNAL_LIMIT:
            return None
        entries = json.loads(journal.read_bytes())
        pairs = [(inside(directory, temp), inside(directory, target)) for temp, target in entries["renames"]]
        removals = [inside(directory, path) for path in entries["removals"]]
    except (OSError, ValueError, TypeError, KeyError, IndexError):
        return None
    if not all(temp.parent == target.parent and is_staged_for(temp.name, target.name) for temp, target in pairs):
        return None
    return pairs, removals


def inside(directory: Path, entry: object) -> Path:
    """`directory / entry` for a relative POSIX path that stays inside `directory` through real
    directories (no `..`, no absolute path, no symlinked parent); raises ValueError otherwise."""
    if not isinstance(entry, str) or not entry or entry.startswith("/") or "\\" in entry or "\0" in entry:
        raise ValueError(f"not a relative path: {entry!r}")
    parts = entry.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"not a plain relative path: {entry!r}")
    for depth in range(1, len(parts)):
        if os.path.islink(directory.joinpath(*parts[:depth])):
            raise ValueError(f"passes through a symlink: {entry!r}")
    return directory.joinpath(*parts)


def is_staged_for(temporary: str, target: str) -> bool:
    """Whether `temporary` is a name `stage` gives a temporary file for `target`."""
    return is_temporary(temporary) and temporary.startswith(f".{target}.")
