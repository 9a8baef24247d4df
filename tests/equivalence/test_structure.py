"""Structural checks on generated/: every file carries the header and compiles; generated files
import only the standard library, torch, `runtime` and their own siblings (never another model's
generated file, never transformers). Run: python -m pytest tests/equivalence/test_structure.py -q
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GENERATED = sorted((REPO / "generated").glob("*/*.py"))
ALLOWED_ROOTS = {"torch", "runtime"}


@pytest.mark.parametrize("path", GENERATED, ids=[str(p.relative_to(REPO)) for p in GENERATED])
def test_generated_file_has_header_and_compiles(path: Path) -> None:
    text = path.read_text()
    assert "Do not edit it by hand" in text.split("\n\n", 1)[0], f"{path}: missing the generated-file header"
    compile(text, str(path), "exec")


@pytest.mark.parametrize("path", GENERATED, ids=[str(p.relative_to(REPO)) for p in GENERATED])
def test_generated_file_imports_only_allowed_modules(path: Path) -> None:
    tree = ast.parse(path.read_text())
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots = [alias.name.split(".")[0] for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 1 and node.module and "." not in node.module:
                continue  # a sibling file of the same model
            roots = [(node.module or "").split(".")[0]] if node.level == 0 else ["<relative beyond the package>"]
        else:
            continue
        bad += [f"line {node.lineno}: {root}" for root in roots if root not in ALLOWED_ROOTS | sys.stdlib_module_names]
    assert not bad, f"{path.relative_to(REPO)} imports outside stdlib/torch/runtime/siblings: {bad}"


def test_every_modular_file_has_a_generated_package() -> None:
    models = {p.stem.removeprefix("modular_") for p in (REPO / "modular").glob("modular_*.py")}
    packages = {p.name for p in (REPO / "generated").iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert models == packages, (
        f"modular without generated: {models - packages}; generated without modular: {packages - models}"
    )
