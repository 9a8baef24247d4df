"""Find one file of a model: in a local directory, or in a Hugging Face Hub repo.

    resolve_file("path/to/checkpoint", "config.json")          # local directory, used as-is
    resolve_file("org/model", "config.json", revision="main")   # downloaded (or cached) by huggingface_hub

A local directory is never sent to the Hub: a name that is a directory on disk is read from
disk. Every failure is a `FileNotFoundError` (the file is not there) or an `OSError` (the Hub
could not be asked), with a message naming the repo or directory and the file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


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
    """
    local = Path(path_or_repo_id)
    if local.is_dir():
        candidate = local / filename
        if candidate.is_file():
            return candidate
        if missing_ok:
            return None
        raise FileNotFoundError(f"{local} has no file {filename!r}")
    if local.exists():
        raise FileNotFoundError(f"{local} is a file; expected a model directory or a Hub repo id")
    return _download(
        str(path_or_repo_id),
        filename,
        revision=revision,
        cache_dir=cache_dir,
        local_files_only=local_files_only,
        token=token,
        missing_ok=missing_ok,
    )


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


def read_json_file(path_or_repo_id: str | os.PathLike, filename: str, **hub_kwargs: Any) -> dict[str, Any] | None:
    """The JSON object in `filename` of a directory or Hub repo; None when the file is not there."""
    path = resolve_file(path_or_repo_id, filename, missing_ok=True, **hub_kwargs)
    return json.loads(path.read_text(encoding="utf-8")) if path is not None else None
