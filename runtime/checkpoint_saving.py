"""Writing a checkpoint's weights as transformers writes them: one file, or shards plus an index.

    write_weights(state_dict, Path("out/"), max_shard_size="5GB")

Key order decides the shards; tensors that share storage are cloned (safetensors refuses them);
weight files of an earlier save in the folder are removed first, so a folder never mixes two saves.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch
from safetensors.torch import save_file

from runtime.checkpoint_files import WEIGHTS_INDEX_NAME, WEIGHTS_NAME


def parse_size(size: int | str) -> int:
    """'5GB' -> 5_000_000_000 (decimal units, as transformers writes them); ints are bytes."""
    if isinstance(size, int):
        return size
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMG]i?B|B)?\s*", size.upper().replace("IB", "iB"))
    if not match:
        raise ValueError(f"max_shard_size={size!r}: expected bytes or a size like '5GB', '500MB'")
    number, unit = float(match[1]), match[2] or "B"
    scale = {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30}[unit]
    return int(number * scale)


def write_weights(state: dict[str, torch.Tensor], directory: Path, max_shard_size: int | str) -> None:
    """`state` (contiguous tensors) as model.safetensors, or as numbered shards and their index."""
    shards = _shard(state, parse_size(max_shard_size))
    for stale in [
        *directory.glob("model-*-of-*.safetensors"),
        directory / WEIGHTS_NAME,
        directory / WEIGHTS_INDEX_NAME,
    ]:
        stale.unlink(missing_ok=True)
    if len(shards) == 1:
        save_file(_unshare(shards[0]), directory / WEIGHTS_NAME, metadata={"format": "pt"})
        return
    weight_map: dict[str, str] = {}
    for index, shard in enumerate(shards, start=1):
        filename = f"model-{index:05d}-of-{len(shards):05d}.safetensors"
        save_file(_unshare(shard), directory / filename, metadata={"format": "pt"})
        weight_map.update(dict.fromkeys(shard, filename))
    total = sum(t.numel() * t.element_size() for t in state.values())
    index_data = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    (directory / WEIGHTS_INDEX_NAME).write_text(json.dumps(index_data, indent=2) + "\n")


def _shard(state: dict[str, torch.Tensor], limit: int) -> list[dict[str, torch.Tensor]]:
    """Split in key order into shards of at most `limit` bytes (a larger tensor gets its own)."""
    shards: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    for name in sorted(state):
        nbytes = state[name].numel() * state[name].element_size()
        if shards[-1] and size + nbytes > limit:
            shards.append({})
            size = 0
        shards[-1][name] = state[name]
        size += nbytes
    return shards


def _unshare(shard: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """safetensors refuses tensors sharing storage: clone all but the first of each storage."""
    seen: set[int] = set()
    out = {}
    for name, tensor in shard.items():
        pointer = tensor.untyped_storage().data_ptr()
        out[name] = tensor.clone() if pointer in seen else tensor
        seen.add(pointer)
    return out
