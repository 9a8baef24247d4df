"""The provenance map's format: `generated/<model>/provenance.json`, written and read.

    {"format": 1, "model": "gemma2", "modular": "modular/modular_gemma2.py",
     "models": ["gemma2", "gemma", "llama"],            # the model and its ancestors
     "files": {"generated/gemma2/modeling_gemma2.py": {"sha256": "...", "lines": [
         [first, last, ["modular/modular_llama.py:45", "generated/llama/modeling_llama.py:210", ...]],
         ...]}}}

One range per line of JSON, so that a change reads as a small diff. A map read from disk is data:
reading it never raises and never costs more than the file it describes (`line_map`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass

FORMAT = 1

Chain = tuple[str, ...]  # "path:line" hops, first where the code was written


@dataclass(frozen=True)
class BaseProvenance:
    """A base model as provenance reads it: its output files (path, text), its map and its ancestry."""

    files: tuple[tuple[str, str], ...]
    lines: Mapping[str, Mapping[int, Chain]]
    models: tuple[str, ...]


def read_base_provenance(model: str, texts: Mapping[str, str], sidecar: str | None) -> BaseProvenance:
    """A base model's files and map; without a readable map, its files are their own origin."""
    files = tuple((path, texts[path]) for path in sorted(texts) if path.endswith(".py"))
    try:
        data = json.loads(sidecar) if sidecar is not None else None
    except (ValueError, RecursionError):  # a damaged map: rebuilt without the base's chains
        data = None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return BaseProvenance(files, {}, (model,))
    counts = {path: len(text.splitlines()) for path, text in files}
    models = data.get("models")
    names = (
        tuple(name for name in models if isinstance(name, str) and name.isidentifier())
        if isinstance(models, list)
        else ()
    )
    return BaseProvenance(files, line_map(data, counts), names[:64] or (model,))  # a bounded ancestry


def line_map(data: Mapping[str, object], counts: Mapping[str, int]) -> dict[str, dict[int, Chain]]:
    """path -> line -> chain, from a sidecar's ranges, for the files in `counts` (path -> its number
    of lines). A map is data read from disk: rows that are not `[first, last, [hop, ...]]` with
    1 <= first <= last <= the file's lines are skipped, so a damaged or hostile map costs at most
    one entry per line of the file and never an exception."""
    found: dict[str, dict[int, Chain]] = {}
    files = data.get("files", {})
    for path, entry in files.items() if isinstance(files, dict) else ():
        if path not in counts or not isinstance(entry, dict) or not isinstance(entry.get("lines"), list):
            continue
        lines = found.setdefault(path, {})
        for row in entry["lines"]:
            chain = valid_chain(row, counts[path])
            if chain is not None:
                for line in range(row[0], row[1] + 1):
                    lines[line] = chain
    return found


def valid_chain(row: object, count: int) -> Chain | None:
    """The chain of a well-formed row within a file of `count` lines, else None."""
    if not (isinstance(row, list) and len(row) == 3 and all(type(v) is int for v in row[:2])):
        return None
    first, last, chain = row
    if not (1 <= first <= last <= count and isinstance(chain, list) and chain):
        return None
    return tuple(chain) if all(isinstance(hop, str) and len(hop) < 4096 for hop in chain) else None


def ranges(lines: Mapping[int, Chain | None]) -> list[list[object]]:
    """Consecutive lines with one chain as `[first, last, chain]`; lines without one are left out."""
    found: list[list[object]] = []
    for line in sorted(lines):
        chain = lines[line]
        if chain is None:
            continue
        if found and found[-1][1] == line - 1 and found[-1][2] == list(chain):
            found[-1][1] = line
        else:
            found.append([line, line, list(chain)])
    return found


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def dump_sidecar(model: str, modular_path: str, models: tuple[str, ...], files: Mapping[str, object]) -> str:
    """Deterministic JSON, one range per line, so a change reads as a small diff."""
    parts = [
        "{\n",
        f'  "format": {FORMAT},\n',
        f'  "model": {json.dumps(model)},\n',
        f'  "modular": {json.dumps(modular_path)},\n',
        f'  "models": {json.dumps(list(models))},\n',
        '  "files": {\n',
    ]
    entries = []
    for path, entry in files.items():
        assert isinstance(entry, dict)
        rows = ",\n".join(f"        {json.dumps(row)}" for row in entry["lines"])
        entries.append(
            f"    {json.dumps(path)}: {{\n"
            f'      "sha256": {json.dumps(entry["sha256"])},\n'
            f'      "lines": [\n{rows}\n      ]\n'
            "    }"
        )
    parts.append(",\n".join(entries))
    parts.append("\n  }\n}\n")
    return "".join(parts)
