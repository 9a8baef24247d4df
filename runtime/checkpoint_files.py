"""The safetensors files of a checkpoint: `model.safetensors`, or the shards its index names.

    files = checkpoint_files("path/or/org-repo", {"revision": "main"})

Every file comes through `resolve_file`, so it lies inside the checkpoint folder (or its Hub
snapshot): a shard name in the index that is not a plain relative path ('../x', '/abs', '',
NUL, a non-string) or a file that is a symlink leaving the folder is refused, naming the index
and the entry. Problems with the weights raise `CheckpointError`; a file that is not there raises
`FileNotFoundError` naming it (and the index that lists it).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from runtime.hub import UnsafePathError, check_relative_name, load_json_object, resolve_file
from runtime.messages import short_repr
from runtime.safetensors_io import CheckpointError

WEIGHTS_NAME = "model.safetensors"
WEIGHTS_INDEX_NAME = "model.safetensors.index.json"


def _resolve(path_or_repo_id: str | os.PathLike, filename: str, hub_kwargs: dict[str, Any], **kw: Any) -> Path | None:
    try:
        return resolve_file(path_or_repo_id, filename, **hub_kwargs, **kw)
    except UnsafePathError as error:  # one error type for everything wrong with the weights
        raise CheckpointError(str(error)) from None


def shard_names(index: Path) -> list[str]:
    """The distinct shard files `index` maps tensors to, checked to be plain relative names."""
    weight_map = load_json_object(index, error=CheckpointError).get("weight_map")
    if not isinstance(weight_map, dict):
        raise CheckpointError(f"{index}: not a safetensors index ('weight_map' is missing or not an object)")
    names: set[str] = set()
    for tensor, filename in weight_map.items():
        try:
            names.add(check_relative_name(filename, f"{index}: weight_map[{short_repr(tensor)}]"))
        except UnsafePathError as error:
            raise CheckpointError(str(error)) from None
    return sorted(names)


def checkpoint_files(path_or_repo_id: str | os.PathLike, hub_kwargs: dict[str, Any]) -> list[Path]:
    """The safetensors files of a checkpoint: one file, or the shards its index names."""
    single = _resolve(path_or_repo_id, WEIGHTS_NAME, hub_kwargs, missing_ok=True)
    if single is not None:
        return [single]
    index = _resolve(path_or_repo_id, WEIGHTS_INDEX_NAME, hub_kwargs, missing_ok=True)
    if index is not None:
        files = []
        for name in shard_names(index):
            try:
                files.append(_resolve(path_or_repo_id, name, hub_kwargs))
            except FileNotFoundError as error:
                raise FileNotFoundError(f"{index} lists shard {name!r}, which is not there ({error})") from None
        return files
    pickle = _resolve(path_or_repo_id, "pytorch_model.bin", hub_kwargs, missing_ok=True)
    if pickle is not None:
        raise CheckpointError(
            f"{path_or_repo_id}: only pytorch_model.bin (pickle) found; only safetensors checkpoints are loaded. "
            "Convert it once with a trusted tool to model.safetensors."
        )
    raise FileNotFoundError(f"{path_or_repo_id}: no {WEIGHTS_NAME} or {WEIGHTS_INDEX_NAME}")
