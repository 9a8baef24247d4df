"""Proves the command line (converter/run.py): syntax errors point at path:line:col with exit 1 and
write nothing, a failing run writes no model at all, --check and --diff report without writing,
unchanged files are left alone, and the output is byte-identical across hash seeds.

Run: python -m pytest tests/converter/test_cli.py -q
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from converter.run import main
from tests.converter.conftest import REPO_ROOT, RUN_PY, run_cli, write_modular

TOY = """
class ToyConfig:
    pass


class ToyModel:
    pass
"""
FIXTURE = REPO_ROOT / "tests" / "converter" / "fixtures" / "modular" / "modular_toyllama.py"


def test_syntax_error_is_reported_at_its_position_and_nothing_is_written(tmp_path: Path) -> None:
    path = write_modular(tmp_path, "class ToyConfig:\n    pass\n\n\nclass ToyModel(:\n    pass\n")
    result = run_cli("--repo-root", str(tmp_path), str(path))
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[0] == "modular/modular_toy.py:5:16: E001 syntax error: invalid syntax"
    assert lines[1:3] == ["    class ToyModel(:", "                   ^"]
    assert lines[3].startswith("fix: ")
    assert result.stdout == ""
    assert not (tmp_path / "generated").exists()


def test_a_closed_stdout_stops_quietly_after_writing_whole_files(tmp_path: Path) -> None:
    path = write_modular(tmp_path, TOY)
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first line is printed
    with os.fdopen(write, "w") as closed:
        result = subprocess.run(
            [sys.executable, str(RUN_PY), "--repo-root", str(tmp_path), str(path)],
            stdout=closed,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    assert result.returncode == 2
    assert result.stderr == "error: stdout was closed before the run finished reporting\n"
    assert (tmp_path / "generated" / "toy" / "modeling_toy.py").is_file()


def test_a_failing_model_keeps_every_model_unwritten(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write_modular(tmp_path, TOY, model="good")
    bad = write_modular(tmp_path, "class BadModel(:\n    pass\n", model="bad")
    assert main(["--repo-root", str(tmp_path), str(good), str(bad)]) == 1
    assert "modular/modular_bad.py:1:16: E001" in capsys.readouterr().err
    assert not (tmp_path / "generated").exists()


def test_check_fails_with_a_diff_and_the_fix_command_until_regenerated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_modular(tmp_path, TOY)
    args = ["--repo-root", str(tmp_path), str(path)]
    assert main(["--check", *args]) == 1
    out, err = capsys.readouterr()
    assert "--- /dev/null\n+++ b/generated/toy/modeling_toy.py\n" in out
    assert f"fix: python converter/run.py --repo-root {tmp_path} modular/modular_toy.py" in err
    assert not (tmp_path / "generated").exists()

    assert main(args) == 0
    assert main(["--check", *args]) == 0
    capsys.readouterr()

    modeling = tmp_path / "generated" / "toy" / "modeling_toy.py"
    modeling.write_text(modeling.read_text().replace("class ToyModel:", "class ToyModel:  # edited"))
    assert main(["--check", *args]) == 1
    out, _ = capsys.readouterr()
    assert "-class ToyModel:  # edited\n+class ToyModel:\n" in out


def test_diff_prints_changes_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_modular(tmp_path, TOY)
    assert main(["--diff", "--repo-root", str(tmp_path), str(path)]) == 0
    out = capsys.readouterr().out
    assert "+++ b/generated/toy/configuration_toy.py\n" in out
    assert "+class ToyConfig:\n" in out
    assert not (tmp_path / "generated").exists()


def test_summary_line_and_unchanged_files_left_alone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_modular(tmp_path, TOY)
    args = ["--repo-root", str(tmp_path), str(path)]
    assert main(args) == 0
    first = {p: (p.stat().st_ino, p.read_bytes()) for p in (tmp_path / "generated").rglob("*.py")}
    capsys.readouterr()
    assert main(args) == 0
    out = capsys.readouterr().out
    # os.replace gives a rewritten file a new inode: same inode means untouched.
    assert {p: (p.stat().st_ino, p.read_bytes()) for p in (tmp_path / "generated").rglob("*.py")} == first
    assert out == "toy: modular 4 lines -> generated 16 lines (25%) (configuration_toy.py, modeling_toy.py)\n"


def test_output_is_byte_identical_across_hash_seeds(tmp_path: Path) -> None:
    trees = []
    for seed in ("0", "4242"):
        repo = tmp_path / f"seed{seed}"
        shutil.copytree(FIXTURE.parent, repo / "modular")
        result = run_cli("--repo-root", str(repo), str(repo / "modular" / FIXTURE.name), env=seeded_env(seed))
        assert result.returncode == 0, result.stderr
        generated = repo / "generated"
        trees.append({p.relative_to(generated): p.read_bytes() for p in sorted(generated.rglob("*.py"))})
    assert trees[0] == trees[1]
    assert len(trees[0]) == 3


def seeded_env(seed: str) -> dict[str, str]:
    return {**os.environ, "PYTHONHASHSEED": seed}
