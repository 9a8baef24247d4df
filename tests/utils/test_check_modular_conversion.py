"""The consistency checker: clean repo passes; a hand-edited generated file fails with a readable
diff and the fixing command; --fix restores it; orphans and failing conversions fail loudly; the
hash cache re-checks models built on a changed base.
Run: python -m pytest tests/utils/test_check_modular_conversion.py -q
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    for name in ("converter", "templates", "generated", "modular", "utils", "runtime"):
        shutil.copytree(REPO / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def check(repo: Path, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, str(repo / "utils" / "check_modular_conversion.py"), "--repo-root", str(repo), *args]
    return subprocess.run(command, capture_output=True, text=True)


def test_clean_repo_passes_then_hits_the_cache(repo: Path) -> None:
    first = check(repo)
    assert first.returncode == 0, first.stderr
    second = check(repo)
    assert second.returncode == 0 and "0 re-checked" in second.stdout


def test_corrupted_file_fails_with_diff_and_fix_restores(repo: Path) -> None:
    target = repo / "generated" / "mistral" / "modeling_mistral.py"
    original = target.read_text()
    target.write_text(original.replace("self.mlp = MistralMLP(config)", "self.mlp = None  # hand edit"))
    result = check(repo)
    assert result.returncode == 1
    assert "-        self.mlp = None  # hand edit" in result.stdout
    assert "+        self.mlp = MistralMLP(config)" in result.stdout
    assert "fix: python converter/run.py modular/modular_mistral.py" in result.stderr
    assert check(repo, "--fix").returncode == 0
    assert target.read_text() == original and check(repo).returncode == 0


def test_base_change_rechecks_models_built_on_it(repo: Path) -> None:
    assert check(repo).returncode == 0
    llama = repo / "modular" / "modular_llama.py"
    llama.write_text(llama.read_text().replace('"""Gated MLP: down(act(gate(x)) * up(x))."""', '"""Gated MLP."""'))
    result = check(repo)
    assert result.returncode == 1
    for model in ("llama", "mistral", "qwen2", "gemma", "gemma2"):
        assert f"generated/{model}/modeling_{model}.py" in result.stdout


def test_failing_conversion_fails_the_check(repo: Path) -> None:
    (repo / "modular" / "modular_mistral.py").write_text("class Broken(:\n")
    result = check(repo)
    assert result.returncode == 2 and "modular/modular_mistral.py:1:" in result.stderr


def test_orphan_package_and_ungenerated_model_are_reported(repo: Path) -> None:
    (repo / "generated" / "ghost").mkdir()
    (repo / "generated" / "ghost" / "__init__.py").write_text("")
    shutil.rmtree(repo / "generated" / "qwen2")
    result = check(repo)
    assert result.returncode == 1
    assert "generated/ghost/ has no modular source" in result.stderr
    assert "+++ b/generated/qwen2/modeling_qwen2.py" in result.stdout
