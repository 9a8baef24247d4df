"""Answers from the provenance maps (converter/write/provenance.py): where a generated line came from.

    python converter/run.py --where generated/gemma2/modeling_gemma2.py:205
    modular/modular_llama.py:45                  <- where the code was written
      -> generated/llama/modeling_llama.py:210   <- each generated file it went through
      -> generated/gemma/modeling_gemma.py:200
      -> generated/gemma2/modeling_gemma2.py:205

    python converter/run.py --where-traceback < traceback.txt   # each generated frame, annotated

The answer is read from `generated/<model>/provenance.json`, never by converting again. A map whose
recorded hash differs from the file's text is stale (the file was edited or not regenerated): that
is an error naming the command that fixes it, not a wrong answer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from converter.diagnostics import ConversionError
from converter.read.bases import GENERATED, SIDECAR
from converter.read.source import read_source
from converter.write.provenance_map import FORMAT, line_map, sha256


class WhereError(Exception):
    """The question cannot be answered: not a generated file, no map, a stale map, no such line."""


@dataclass(frozen=True)
class Answer:
    """The chain of one generated line, first where it was written (empty: no single origin)."""

    place: str  # "generated/gemma2/modeling_gemma2.py:205"
    chain: tuple[str, ...]

    def lines(self) -> list[str]:
        if not self.chain:
            return [f"{self.place}: no single origin (header, imports, `__all__` or blank: written by the converter)"]
        return [self.chain[0], *(f"  -> {hop}" for hop in (*self.chain[1:], self.place))]


def parse_place(text: str) -> tuple[str, int]:
    """`FILE:LINE` -> (FILE, LINE); raises WhereError."""
    path, _, line = text.rpartition(":")
    if not path or not line.isdigit() or int(line) < 1:
        raise WhereError(f"{text}: expected FILE:LINE, e.g. generated/gemma2/modeling_gemma2.py:120")
    return path, int(line)


def generated_path(path: str | Path, repo_root: Path) -> str:
    """The repo-relative POSIX path of a generated model file; raises WhereError for anything else."""
    resolved = Path(path).resolve() if Path(path).is_absolute() else (Path.cwd() / path).resolve()
    try:
        relative = resolved.relative_to(repo_root.resolve() / GENERATED)
    except ValueError:
        raise WhereError(f"{path}: not a file under {repo_root / GENERATED}") from None
    if len(relative.parts) != 2 or relative.suffix != ".py":
        raise WhereError(f"{path}: not a generated model file (generated/<model>/<file>.py)")
    return f"{GENERATED}/{relative.as_posix()}"


def where(path: str | Path, line: int, repo_root: Path) -> Answer:
    """The chain of `line` of the generated file `path`; raises WhereError."""
    relative = generated_path(path, repo_root)
    model = relative.split("/")[1]
    data = read_map(repo_root, model)
    entry = data["files"].get(relative) if isinstance(data.get("files"), dict) else None
    if not isinstance(entry, dict):
        raise WhereError(f"{relative}: {GENERATED}/{model}/{SIDECAR} has no map for it{FIX}")
    text = read_text(repo_root / relative, relative)
    if sha256(text) != entry.get("sha256"):
        raise WhereError(f"{relative} differs from the file its map was made for (edited by hand, or stale){FIX}")
    count = len(text.splitlines())
    if line > count:
        raise WhereError(f"{relative}:{line}: the file has {count} lines")
    chain = line_map({"files": {relative: entry}}, {relative: count}).get(relative, {}).get(line, ())
    return Answer(f"{relative}:{line}", chain)


FIX = "; regenerate with python converter/run.py --all"


def read_map(repo_root: Path, model: str) -> dict[str, object]:
    path = f"{GENERATED}/{model}/{SIDECAR}"
    if not (repo_root / path).is_file():
        raise WhereError(f"{path} does not exist{FIX}")
    try:
        data = json.loads(read_text(repo_root / path, path))
    except (ValueError, RecursionError):
        data = None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise WhereError(f"{path} is not a provenance map of format {FORMAT}{FIX}")
    return data


def read_text(path: Path, display: str) -> str:
    try:
        return read_source(path, display)
    except ConversionError as error:
        raise WhereError(error.diagnostics[0].message if error.diagnostics else f"{display}: cannot read") from None


FRAME = re.compile(r'^(?P<indent>\s*)File "(?P<path>[^"]+)", line (?P<line>\d+)')


def annotate_traceback(lines: Iterable[str], repo_root: Path) -> Iterator[str]:
    """The traceback's lines, each frame in a generated file followed by its origin:

    File ".../generated/gemma2/modeling_gemma2.py", line 205, in forward
      [modular/modular_llama.py:45 via generated/llama/modeling_llama.py:210, ...]
    """
    for text in lines:
        yield text
        found = FRAME.match(text)
        if found is None:
            continue
        try:
            answer = where(found["path"], int(found["line"]), repo_root)
        except WhereError:
            continue
        if answer.chain:
            via = f" via {', '.join(answer.chain[1:])}" if len(answer.chain) > 1 else ""
            yield f"{found['indent']}  [{answer.chain[0]}{via}]\n"
