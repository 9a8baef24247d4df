"""Golden whole-file cases: each converts to exactly the expected files, and those compile.

- tests/converter/fixtures/: ToyLlama, a root model (every kind of top-level statement).
- tests/converter/golden/<case>/: inheritance. `modular/` holds the modular files; `generated/`
  holds the expected output of each of them, plus hand-written base packages that have no
  modular file (inputs). The case is converted in a fresh copy that has only the inputs, so a
  base converted in the same run must come from that run (`chain`: tiny -> toy -> apex, with
  the grandchild sorting first), never from files on disk.
  `overrides`: one child of a hand-written base exercising most merge constructs together.

Run: python -m pytest tests/converter/test_golden.py -q
After an intended converter change, regenerate the expected files with the command a failure prints.
"""

from __future__ import annotations

import difflib
import shutil
from pathlib import Path

import pytest

from converter import convert_files
from tests.converter.conftest import REPO_ROOT

FIXTURES = REPO_ROOT / "tests" / "converter" / "fixtures"
MODULAR = FIXTURES / "modular" / "modular_toyllama.py"
FIX = f"python converter/run.py --repo-root {FIXTURES.relative_to(REPO_ROOT)} {MODULAR.relative_to(REPO_ROOT)}"
GOLDEN = REPO_ROOT / "tests" / "converter" / "golden"
CASES = sorted(path for path in GOLDEN.iterdir() if path.is_dir())


def compare(outputs: dict[Path, str], expected_root: Path, output_root: Path, fix: str) -> None:
    problems = []
    for path, text in sorted(outputs.items()):
        expected_path = expected_root / path.relative_to(output_root)
        expected = expected_path.read_text(encoding="utf-8") if expected_path.is_file() else ""
        if text != expected:
            name = path.relative_to(output_root).as_posix()
            problems.append(
                "".join(difflib.unified_diff(expected.splitlines(True), text.splitlines(True), name, name))
            )
    if problems:
        pytest.fail("".join(problems) + f"\nfix: {fix}", pytrace=False)


def test_toyllama_converts_to_the_golden_files() -> None:
    outputs = convert_files([MODULAR], FIXTURES)
    assert sorted(path.name for path in outputs) == [
        "__init__.py",
        "configuration_toyllama.py",
        "modeling_toyllama.py",
        "provenance.json",
    ]
    compare(outputs, FIXTURES, FIXTURES, FIX)


def converted_models(case: Path) -> list[str]:
    return sorted(path.stem.removeprefix("modular_") for path in (case / "modular").glob("modular_*.py"))


def copy_inputs(case: Path, repo: Path) -> list[Path]:
    """The modular files and the hand-written base packages of `case`, copied into `repo`."""
    shutil.copytree(case / "modular", repo / "modular")
    for package in sorted((case / "generated").iterdir()):
        if package.is_dir() and package.name not in converted_models(case):
            shutil.copytree(package, repo / "generated" / package.name)
    return sorted((repo / "modular").glob("modular_*.py"))


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_golden_case_converts_to_its_expected_files(case: Path, tmp_path: Path) -> None:
    outputs = convert_files(copy_inputs(case, tmp_path), tmp_path)
    expected = sorted(
        f"generated/{model}/{name}" for model in converted_models(case) for name in listing(case / "generated" / model)
    )
    assert sorted(path.relative_to(tmp_path).as_posix() for path in outputs) == expected
    # the modular files by name, not --all: --all would delete a case's hand-written base packages
    modular = " ".join(f"{case.relative_to(REPO_ROOT)}/modular/modular_{model}.py" for model in converted_models(case))
    fix = f"python converter/run.py --repo-root {case.relative_to(REPO_ROOT)} {modular}"
    compare(outputs, case, tmp_path, fix)


def listing(directory: Path) -> list[str]:
    names = [*directory.glob("*.py"), *directory.glob("provenance.json")] if directory.is_dir() else []
    return sorted(path.name for path in names)


def test_golden_files_compile() -> None:
    paths = [*(FIXTURES / "generated" / "toyllama").glob("*.py"), *GOLDEN.glob("*/generated/*/*.py")]
    assert len(paths) > 3
    for path in sorted(paths):
        compile(path.read_text(encoding="utf-8"), str(path), "exec", dont_inherit=True)
