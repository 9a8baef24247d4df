"""The new-model scaffolder, utils/add_model.py, in copies of the repository (never in it).

A model scaffolded from every base of the repository (`sc<base>x --from <base>`) is lint-clean,
subclasses each public class of its base with the base's methods listed, converts, passes the
consistency check and its structure tests; for two bases (Llama, the text root, and Idefics3, the
deepest vision-language chain) the whole `pytest -k <name>` passes, the parity tests skipping with
the declaration's stated reason. A model transformers ships gets its reference in the declaration;
`--declaration-only` writes a modular file's declaration. Bad names, existing models, names the
renamer confuses, shadowing class names and unknown bases exit 2, a base that needs fixing first
exits 1, each with one line and nothing written.
Run: python -m pytest tests/utils/test_add_model.py -q
"""

from __future__ import annotations

import ast
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from converter.rename.rename import camelize
from tests.models.specs import declared_specs

REPO = Path(__file__).resolve().parents[2]
COPIED = ("modular", "generated", "runtime", "converter", "templates", "utils", "tests")
BASES = [spec.model for spec in declared_specs()]
FULLY_TESTED = ("llama", "idefics3")  # a text and a vision-language base


def copy_repository(target: Path) -> Path:
    """The parts of the repository a scaffold touches, copied (this test file left out: the copy's
    pytest runs must not start it again)."""
    ignore = shutil.ignore_patterns("__pycache__", ".hypothesis", "test_add_model.py")
    for name in COPIED:
        shutil.copytree(REPO / name, target / name, ignore=ignore)
    shutil.copy2(REPO / "pyproject.toml", target / "pyproject.toml")
    return target


def run(repo: Path, *command: str) -> subprocess.CompletedProcess:
    """`python <command>` in `repo`, with nothing of this repository on the import path."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return subprocess.run([sys.executable, *command], cwd=repo, env=env, capture_output=True, text=True)


def scaffold_name(base: str) -> str:
    return f"sc{base}x"


def files_of(repo: Path) -> set[Path]:
    return {
        path.relative_to(repo)
        for folder in ("modular", "generated", "tests/models/specs")
        for path in (repo / folder).rglob("*")
    }


@pytest.fixture(scope="module")
def scaffolded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One copy of the repository with a model scaffolded from every base, converted."""
    repo = copy_repository(tmp_path_factory.mktemp("scaffolded"))
    for base in BASES:
        result = run(repo, "utils/add_model.py", scaffold_name(base), "--from", base)
        assert result.returncode == 0, result.stderr
    modular = [f"modular/modular_{scaffold_name(base)}.py" for base in BASES]
    converted = run(repo, "converter/run.py", *modular)
    assert converted.returncode == 0, converted.stderr
    return repo


@pytest.fixture()
def pristine(tmp_path: Path) -> Path:
    return copy_repository(tmp_path)


def test_scaffolds_are_lint_clean(scaffolded: Path) -> None:
    paths = [f"modular/modular_{scaffold_name(base)}.py" for base in BASES]
    paths += [f"tests/models/specs/{scaffold_name(base)}.py" for base in BASES]
    lint, layout = (
        run(scaffolded, "-m", "ruff", "check", *paths),
        run(scaffolded, "-m", "ruff", "format", "--check", *paths),
    )
    assert lint.returncode == 0, lint.stdout
    assert layout.returncode == 0, layout.stdout


@pytest.mark.parametrize("base", BASES)
def test_scaffold_subclasses_every_public_class_and_lists_its_methods(scaffolded: Path, base: str) -> None:
    """Every undecorated public class; a decorated one (an output @dataclass, E209 as a base) is
    left out, and the new model gets it renamed where its code uses it."""
    name = scaffold_name(base)
    compact = base.replace("_", "")  # llava_next: LlavaNext...
    text = (scaffolded / "modular" / f"modular_{name}.py").read_text()
    comments = " ".join(line.strip("# ") for line in text.splitlines() if line.lstrip().startswith("#"))
    classes = [
        node
        for path in sorted((scaffolded / "generated" / base).glob("*.py"))
        for node in ast.parse(path.read_text()).body
        if isinstance(node, ast.ClassDef) and node.name.lower().startswith(compact) and not node.decorator_list
    ]
    assert classes
    for node in classes:
        new = camelize(name) + node.name[len(compact) :]
        assert f"\nclass {new}({node.name}):\n" in text, f"no subclass of {node.name}"
        methods = [item.name for item in node.body if isinstance(item, ast.FunctionDef)]
        assert all(method in comments for method in methods), f"{node.name}: methods {methods} not all listed"


def test_scaffolds_pass_the_consistency_check(scaffolded: Path) -> None:
    result = run(scaffolded, "utils/check_modular_conversion.py")
    assert result.returncode == 0, result.stdout + result.stderr


def test_scaffolds_pass_their_structure_tests(scaffolded: Path) -> None:
    names = " or ".join(scaffold_name(base) for base in BASES)
    result = run(
        scaffolded, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/equivalence/test_structure.py", "-k", names
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert " passed" in result.stdout


def test_pytest_k_name_passes_for_a_text_and_a_vision_language_scaffold(scaffolded: Path) -> None:
    """Parity skips with the declared reason (transformers has no such model); the rest runs."""
    text, vlm = (scaffold_name(base) for base in FULLY_TESTED)
    result = run(scaffolded, "-m", "pytest", "-v", "-p", "no:cacheprovider", "-rs", "-k", f"{text} or {vlm}")
    assert result.returncode == 0, result.stdout[-3000:]
    assert f"test_generated_model_equals_overlay[{text}] PASSED" in result.stdout
    assert f"test_vision_language_model_equals_overlay[{vlm}] PASSED" in result.stdout
    assert f"test_logits_match_reference[{text}-eager] SKIPPED" in result.stdout
    assert f"transformers 5.23.0 has no {text.capitalize()}ForCausalLM" in result.stdout


def test_a_model_transformers_ships_gets_its_reference(pristine: Path) -> None:
    for path in (pristine / "modular" / "modular_qwen3.py", pristine / "tests/models/specs/qwen3.py"):
        path.unlink(missing_ok=True)
    shutil.rmtree(pristine / "generated" / "qwen3", ignore_errors=True)
    assert run(pristine, "utils/add_model.py", "qwen3", "--from", "qwen2").returncode == 0
    text = (pristine / "tests/models/specs/qwen3.py").read_text()
    assert 'reference="Qwen3"' in text and "no_reference" in text
    assert 'heads=("ForSequenceClassification", "ForTokenClassification", "ForQuestionAnswering")' in text


def test_declaration_only_writes_the_declaration_of_a_modular_file(scaffolded: Path, pristine: Path) -> None:
    name = scaffold_name("mistral")
    shutil.copy2(scaffolded / "modular" / f"modular_{name}.py", pristine / "modular" / f"modular_{name}.py")
    result = run(pristine, "utils/add_model.py", name, "--declaration-only")
    assert result.returncode == 0, result.stderr
    expected = (scaffolded / "tests/models/specs" / f"{name}.py").read_text()
    assert (pristine / "tests/models/specs" / f"{name}.py").read_text() == expected
    assert not (pristine / "generated" / name).exists()


REFUSALS = [
    pytest.param(["Qwen4", "--from", "qwen2"], "lowercase identifier", id="not-lowercase"),
    pytest.param(["9abc", "--from", "llama"], "lowercase identifier", id="leading-digit"),
    pytest.param(["a" * 101, "--from", "llama"], "at most 100", id="too-long"),
    pytest.param(["class", "--from", "llama"], "Python keyword", id="keyword"),
    pytest.param(["mistral", "--from", "llama"], "'mistral' exists", id="existing-model"),
    pytest.param(["qwen", "--from", "qwen2"], "begins 'qwen2'", id="prefix-of-a-model"),
    pytest.param(["mis_tral", "--from", "llama"], "gives the classes of 'mistral'", id="same-camel-case"),
    pytest.param(["pre_trained", "--from", "llama"], "PreTrainedModel is a name", id="shadows-an-import"),
    pytest.param(["newmodel", "--from", "nosuch"], "unknown base 'nosuch'", id="unknown-base"),
    pytest.param(["newmodel"], "--from <base>", id="no-base"),
    pytest.param(["newmodel", "--declaration-only"], "no modular/modular_newmodel.py", id="declaration-without-file"),
    pytest.param(["llama", "--declaration-only"], "llama.py exists", id="existing-declaration"),
]


@pytest.mark.parametrize(("args", "message"), REFUSALS)
def test_refusals_exit_2_with_one_line_and_write_nothing(pristine: Path, args: list[str], message: str) -> None:
    before = files_of(pristine)
    result = run(pristine, "utils/add_model.py", *args)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
    assert files_of(pristine) == before


def test_a_declaration_without_a_modular_file_is_an_existing_model(pristine: Path) -> None:
    (pristine / "tests/models/specs/orphan.py").write_text("")
    result = run(pristine, "utils/add_model.py", "orphan", "--from", "llama")
    assert result.returncode == 2 and "'orphan' exists" in result.stderr
    assert not (pristine / "modular" / "modular_orphan.py").exists()


@pytest.mark.parametrize("broken", ["generated", "declaration"])
def test_a_base_that_needs_fixing_exits_1_with_the_fix(pristine: Path, broken: str) -> None:
    if broken == "generated":
        shutil.rmtree(pristine / "generated" / "mistral")
        fix = "python converter/run.py modular/modular_mistral.py"
    else:
        (pristine / "tests/models/specs/mistral.py").unlink()
        fix = "python utils/add_model.py mistral --declaration-only"
    before = files_of(pristine)
    result = run(pristine, "utils/add_model.py", "newmodel", "--from", "mistral")
    assert result.returncode == 1 and fix in result.stderr, result.stderr
    assert files_of(pristine) == before


def test_a_failed_write_removes_what_it_created(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("add_model", REPO / "utils" / "add_model.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("add_model", module)  # dataclasses look their module up while defining
    spec.loader.exec_module(module)
    add_model: ModuleType = module
    first, second = tmp_path / "first.py", tmp_path / "missing-folder" / "second.py"
    with pytest.raises(add_model.Refusal, match="cannot write"):
        add_model.write_new({first: "x = 1\n", second: "y = 2\n"})
    assert not first.exists() and not second.exists()
