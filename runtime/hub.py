"""Find one file of a model: in a local directory, or in a Hugging Face Hub repo.

    resolve_file("path/to/checkpoint", "config.json")          # local directory, used as-is
    resolve_file("org/model", "config.json", revision="main")   # downloaded (or cached) by huggingface_hub

A local directory is never sent to the Hub: a name that is a directory on disk is read from
disk. Every failure is an `OSError`: `FileNotFoundError` (the file is not there),
`UnsafePathError` (the name, or a symlink, would leave the folder), or a plain `OSError` (the Hub
could not be asked), with a message naming the repo or directory and the file.

Containment: whatever a checkpoint names (a shard in an index, say) is read only from inside the
model folder. A name must be a plain relative path ('sub/file.json'; no '..', no absolute or
drive path, no NUL), and the file it reaches, symlinks followed, must lie inside the folder. A Hub
snapshot (`<cache>/models--org--name/snapshots/<revision>/`) is the one exception huggingface_hub
needs: its files are symlinks into the repo's `blobs/` folder beside `snapshots/`, which counts
as inside.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path, PurePosixPath
from typing import Any

MAX_JSON_BYTES = 64 * 2**20  # config, index, tokenizer_config: real ones are kilobytes


class UnsafePathError(OSError, ValueError):
    """A name a model folder gives that is not a plain relative path, or a file that resolves
    (through a symlink) outside the folder. Also a `ValueError`: it is bad input, not bad luck."""


def check_relative_name(filename: object, source: str) -> str:
    """`filename` when it is a plain relative path; `UnsafePathError` naming `source` otherwise.

    Refused: non-strings, '', NUL, absolute paths, drive or UNC paths ('C:x', '\\\\host'), any
    '..' segment ('/' or '\\' separated). Other segments are kept: 'sub/./x.json' is fine.
    """
    shown = repr(filename) if len(repr(filename)) <= 80 else repr(filename)[:77] + "..."
    if not isinstance(filename, str) or not filename:
        raise UnsafePathError(f"{source}: file name {shown} is not a non-empty string")
    segments = filename.replace("\\", "/").split("/")
    if "\x00" in filename or ".." in segments:
        raise UnsafePathError(f"{source}: file name {shown} contains '..' or NUL; it must stay inside the folder")
    if filename.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", filename):
        raise UnsafePathError(f"{source}: file name {shown} is absolute; it must be relative to the folder")
    return filename


def check_inside(path: Path, folder: Path, filename: str) -> Path:
    """`path` (the file `filename` of `folder`) when, symlinks followed, it lies inside `folder`.

    A Hub snapshot folder (`.../snapshots/<revision>`) also owns its repo's `blobs/` folder. Raises
    `UnsafePathError` for a file outside; `FileNotFoundError` for a broken symlink; missing files
    are the caller's to report (nothing to follow).
    """
    roots = [folder.resolve()]
    for snapshot in (folder, roots[0]):  # huggingface_hub's cache: snapshots/<rev>/f -> ../../blobs/<hash>
        if snapshot.parent.name == "snapshots":
            roots.append((snapshot.parent.parent / "blobs").resolve())
    if path.is_symlink() and not path.exists():
        raise FileNotFoundError(f"{folder}: {filename!r} is a broken symlink")
    real = path.resolve()
    if not any(real == root or real.is_relative_to(root) for root in roots):
        raise UnsafePathError(f"{folder}: {filename!r} resolves outside the folder (a symlink?); refused")
    return path


def resolve_file(
    path_or_repo_id: str | os.PathLike,
    filename: str,
    *,
    revision: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    local_files_only: bool = False,
    token: str | bool | None = None,
    missing_ok: bool = False,
) -> Path | None:
    """The local path of `filename` inside the directory or Hub repo `path_or_repo_id`.

    Returns None instead of raising when the file does not exist and `missing_ok` is true; a
    repo that cannot be reached is an error even then, so that "absent" never means "offline".
    Something there but unusable (a directory, a broken symlink, a path leaving the folder) is an
    error even with `missing_ok`. Every caller gets the containment check (module docstring).
    """
    local = Path(path_or_repo_id)
    if local.is_dir():
        return _local_file(local, filename, missing_ok)
    if local.exists():
        raise FileNotFoundError(f"{local} is a file; expected a model directory or a Hub repo id")
    check_relative_name(filename, f"Hub repo {str(path_or_repo_id)!r}")
    downloaded = _download(
        str(path_or_repo_id),
        filename,
        revision=revision,
        cache_dir=cache_dir,
        local_files_only=local_files_only,
        token=token,
        missing_ok=missing_ok,
    )
    if downloaded is None:
        return None
    # the snapshot folder: the downloaded path less the name's own segments
    snapshot = downloaded.parents[len(PurePosixPath(filename.replace("\\", "/")).parts) - 1]
    return check_inside(downloaded, snapshot, filename)


def _local_file(folder: Path, filename: str, missing_ok: bool) -> Path | None:
    check_relative_name(filename, str(folder))
    candidate = folder / filename
    if not candidate.exists() and not candidate.is_symlink():
        if missing_ok:
            return None
        raise FileNotFoundError(f"{folder} has no file {filename!r}")
    check_inside(candidate, folder, filename)
    if candidate.is_dir():
        raise IsADirectoryError(f"{folder}: {filename!r} is a directory, not a file")
    if not candidate.is_file():  # a FIFO or a device would block or never end
        raise UnsafePathError(f"{folder}: {filename!r} is not a regular file")
    return candidate


def _download(
    repo_id: str,
    filename: str,
    *,
    revision: str | None,
    cache_dir: str | os.PathLike | None,
    local_files_only: bool,
    token: str | bool | None,
    missing_ok: bool,
) -> Path | None:
    # imported here: reading a local directory must not pay for (or need) huggingface_hub
    import huggingface_hub
    from huggingface_hub import errors

    where = f"{filename!r} in Hub repo {repo_id!r}" + (f" at revision {revision!r}" if revision else "")
    try:
        downloaded = huggingface_hub.hf_hub_download(
            repo_id,
            filename,
            revision=revision,
            cache_dir=cache_dir,
            local_files_only=local_files_only,
            token=token,
        )
    except errors.HFValidationError as error:
        raise FileNotFoundError(
            f"{repo_id!r} is neither a local directory nor a valid Hub repo id ({error})"
        ) from error
    except errors.LocalEntryNotFoundError as error:
        # with local_files_only, "not in the cache" is the only answer there is
        if missing_ok and local_files_only:
            return None
        hint = "it is not in the local cache" if local_files_only else "the Hub could not be reached"
        raise OSError(f"cannot get {where}: {hint} ({error})") from error
    except errors.EntryNotFoundError as error:
        if missing_ok:
            return None
        raise FileNotFoundError(f"no file {where}") from error
    except (errors.RepositoryNotFoundError, errors.RevisionNotFoundError) as error:
        raise OSError(f"cannot get {where}: {error}") from error
    except OSError as error:
        raise OSError(f"cannot get {where}: {error}") from error
    return Path(downloaded)


def read_bounded_text(path: Path, *, error: type[Exception], max_bytes: int, what: str = "file") -> str:
    """`path`'s UTF-8 text; `error` naming the file when it is larger than `max_bytes` or not UTF-8
    (with the offset of the first bad byte, never the bytes)."""
    size = path.stat().st_size
    if size > max_bytes:
        raise error(f"{path}: {size} bytes, more than the {max_bytes} accepted for a {what}")
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as failure:
        raise error(f"{path}: not UTF-8 text (bad byte at offset {failure.start})") from None


def load_json_object(path: Path, *, error: type[Exception] = ValueError, max_bytes: int = MAX_JSON_BYTES) -> dict:
    """The JSON object stored in `path`; `error` (a ValueError subclass, say) naming the file when
    it is larger than `max_bytes`, not UTF-8, not JSON, nested too deeply, or not an object.

    Messages say where the problem is (line and column, byte offset), never the file's bytes.
    """
    text = read_bounded_text(path, error=error, max_bytes=max_bytes, what="JSON file")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as failure:
        raise error(
            f"{path}: not valid JSON ({failure.msg} at line {failure.lineno} column {failure.colno})"
        ) from None
    except (ValueError, RecursionError) as failure:  # a number too long to convert, nesting too deep
        raise error(f"{path}: not usable JSON ({type(failure).__name__}: {str(failure)[:80]})") from None
    if not isinstance(data, dict):
        raise error(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def read_json_file(
    path_or_repo_id: str | os.PathLike, filename: str, *, error: type[Exception] = ValueError, **hub_kwargs: Any
) -> dict[str, Any] | None:
    """The JSON object in `filename` of a directory or Hub repo; None when the file is not there.

    A file that is there but unusable raises `error` (see `load_json_object`), naming the file.
    """
    path = resolve_file(path_or_repo_id, filename, missing_ok=True, **hub_kwargs)
    return load_json_object(path, error=error) if path is not None else None
