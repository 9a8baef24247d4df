"""Structural checks on generated/ and on the test declarations of the models.

Every generated file carries the header and compiles; generated files import only the standard
library, torch, `runtime` and their own siblings (never another model's generated file, never
transformers); every modular file has a generated package. Every modular file has a test
declaration (tests/models/specs/<model>.py) and every declaration a modular file, and each
declaration matches its model: its classes exist (ours, and transformers' where it names a
reference), its task heads are exactly those both have, its switches are config fields, and every
name the package exports exists in the overlay.
Run: python -m pytest tests/equivalence/test_structure.py -q
"""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path

import pytest

from runtime.attention import VALID_NAMES
from tests.equivalence.overlay import build_overlay
from tests.models.specs import (
    MAIN_CONFIG,
    ModelSpec,
    declared_models,
    declared_specs,
    missing_declaration_message,
    modular_models,
)

REPO = Path(__file__).resolve().parents[2]
GENERATED = sorted((REPO / "generated").glob("*/*.py"))
ALLOWED_ROOTS = {"torch", "runtime"}
BACKENDS = set(VALID_NAMES)  # the attention backends runtime/attention.py registers
SPECS = [pytest.param(spec, id=spec.model) for spec in declared_specs()]


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


@pytest.mark.parametrize("model", modular_models())
def test_every_modular_file_has_a_declaration(model: str) -> None:
    assert model in declared_models(), missing_declaration_message(model)


@pytest.mark.parametrize("model", declared_models())
def test_every_declaration_has_a_modular_file(model: str) -> None:
    assert model in modular_models(), (
        f"tests/models/specs/{model}.py declares a model without modular/modular_{model}.py: create that file "
        f"(`python utils/add_model.py {model} --from <base>` scaffolds both files once the declaration is moved "
        "away), or delete the declaration"
    )


@pytest.mark.parametrize("spec", SPECS)
def test_declared_classes_exist(spec: ModelSpec) -> None:
    """Our config and main class; transformers' main class where a reference is declared."""
    generated = importlib.import_module(f"generated.{spec.model}")
    for name in (spec.class_name(MAIN_CONFIG[spec.kind]), spec.class_name(spec.main_class)):
        assert name in generated.__all__, f"generated/{spec.model} exports no {name} (declared prefix {spec.prefix!r})"
    if spec.reference is not None:
        transformers = pytest.importorskip("transformers")
        name = spec.reference_name(spec.main_class)
        assert hasattr(transformers, name), f"transformers has no {name}: fix `reference` in the declaration"
    assert set(spec.backends) <= BACKENDS, f"unknown backends {sorted(set(spec.backends) - BACKENDS)}"


@pytest.mark.parametrize("spec", SPECS)
def test_declared_heads_are_the_heads_both_have(spec: ModelSpec) -> None:
    """`heads` lists every task head our package exports that transformers also has, and no other
    (every head of ours, for a model without a reference)."""
    exported = importlib.import_module(f"generated.{spec.model}").__all__
    ours = {name.removeprefix(spec.prefix) for name in exported if name.startswith(f"{spec.prefix}For")}
    ours.discard(spec.main_class)
    if spec.reference is None:
        assert set(spec.heads) <= ours, f"declared heads our package lacks: {sorted(set(spec.heads) - ours)}"
        return
    transformers = pytest.importorskip("transformers")
    both = {head for head in ours if hasattr(transformers, spec.reference_name(head))}
    assert sorted(spec.heads) == sorted(both), f"declare heads={tuple(sorted(both))} (ours and transformers')"


@pytest.mark.parametrize("spec", SPECS)
def test_declared_switches_are_config_fields(spec: ModelSpec) -> None:
    """A switch that is no config field would be kept as an unknown key and never exercised."""
    config = getattr(importlib.import_module(f"generated.{spec.model}"), spec.class_name(MAIN_CONFIG[spec.kind]))
    unknown = sorted(name for name in spec.switches if name.split(".")[0] not in config._fields)
    assert not unknown, f"{config.__name__} has no fields {unknown}"


@pytest.mark.parametrize("spec", SPECS)
def test_exported_names_exist_in_the_overlay(spec: ModelSpec) -> None:
    namespace = build_overlay(spec.model)
    missing = [name for name in importlib.import_module(f"generated.{spec.model}").__all__ if name not in namespace]
    assert not missing, f"generated/{spec.model} exports names its modular definition does not define: {missing}"
