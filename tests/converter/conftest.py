"""Shared helpers for the converter tests: write an inline modular source to a temporary repository
and convert it in memory, or run the command line on it.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from converter import convert_files

REPO_ROOT = Path(__file__).resolve().parents[2]
RUN_PY = REPO_ROOT / "converter" / "run.py"


def header(model: str) -> str:
    """The header every generated file starts with, spelled out here so a template change shows up in tests."""
    source = f"modular/modular_{model}.py"
    rule = "# " + "-" * 100
    return (
        f"{rule}\n"
        f"# This file was generated from {source} by the modular converter. Do not edit it by hand:\n"
        f"# edit {source} instead, then regenerate with\n"
        f"#     python converter/run.py {source}\n"
        f"{rule}\n"
    )


def write_modular(repo: Path, source: str, model: str = "toy") -> Path:
    path = repo / "modular" / f"modular_{model}.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`python converter/run.py ARGS` in a fresh interpreter, as CI runs it."""
    command = [sys.executable, str(RUN_PY), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=env, check=False)


@pytest.fixture
def convert(tmp_path: Path) -> Callable[..., dict[str, str]]:
    """`convert(source, model="toy")` -> {repo-relative output path: formatted text} of the Python
    files (the provenance map is tests/converter/test_provenance.py's); nothing is written."""

    def run(source: str, model: str = "toy") -> dict[str, str]:
        path = write_modular(tmp_path, source, model)
        outputs = convert_files([path], tmp_path)
        return python_files(outputs, tmp_path)

    return run


def python_files(outputs: dict[Path, str], root: Path) -> dict[str, str]:
    return {output.relative_to(root).as_posix(): text for output, text in outputs.items() if output.suffix == ".py"}


def write_base(repo: Path, model: str, files: dict[str, str]) -> None:
    """A generated base package `generated/<model>/` with `<kind>_<model>.py` per entry (dedented)."""
    directory = repo / "generated" / model
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "__init__.py").write_text("", encoding="utf-8")
    for kind, source in files.items():
        (directory / f"{kind}_{model}.py").write_text(textwrap.dedent(source), encoding="utf-8")


@pytest.fixture
def inherit(tmp_path: Path) -> Callable[..., dict[str, str]]:
    """`inherit(source, bases={"tiny": {"modeling": "..."}}, model="toy")` -> outputs, as `convert`."""

    def run(source: str, bases: dict[str, dict[str, str]], model: str = "toy") -> dict[str, str]:
        for base, files in bases.items():
            write_base(tmp_path, base, files)
        path = write_modular(tmp_path, source, model)
        outputs = convert_files([path], tmp_path)
        return python_files(outputs, tmp_path)

    return run


def block(text: str, name: str) -> str:
    """The source of the top-level class or function `name` in `text`, dedented, with a final newline."""
    lines = text.splitlines(keepends=True)
    for node in ast.parse(text).body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)) and node.name == name:
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            return "".join(lines[start - 1 : node.end_lineno])
    raise AssertionError(f"{name} is not defined in:\n{text}")


def top_level_names(text: str) -> list[str]:
    """Names of the top-level classes and functions of `text`, in order."""
    return [node.name for node in ast.parse(text).body if isinstance(node, (ast.ClassDef, ast.FunctionDef))]


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")
