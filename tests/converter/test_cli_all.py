"""Proves runs of many models: `--all` converts every modular file bases first, a cycle is E106
naming it, `-j N` gives the bytes of `-j 1`, the output does not depend on the hash seed, a base
is parsed once per run, progress goes to stderr only on a terminal, and `--all` on this
repository leaves generated/ unchanged.

Run: python -m pytest tests/converter/test_cli_all.py -q
"""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import pytest

import converter.read.bases as bases_module
from converter import ConversionError, convert_files
from converter.run import Progress, main
from tests.converter.conftest import REPO_ROOT, run_cli, write_modular

CHAIN = REPO_ROOT / "tests" / "converter" / "golden" / "chain"


def chain_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    shutil.copytree(CHAIN / "modular", repo / "modular")
    return repo


def tree(repo: Path) -> dict[str, bytes]:
    return {p.relative_to(repo).as_posix(): p.read_bytes() for p in sorted((repo / "generated").rglob("*.py"))}


def test_all_converts_every_modular_file_bases_first(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = chain_repo(tmp_path)
    assert main(["--repo-root", str(repo), "--all"]) == 0
    out = capsys.readouterr().out
    assert [line.split(":")[0] for line in out.splitlines() if not line.startswith(" ")] == ["apex", "tiny", "toy"]
    assert tree(repo) == {path: data for path, data in tree(CHAIN).items() if path in tree(repo)}
    assert len(tree(repo)) == 9
    assert main(["--repo-root", str(repo), "--all", "--check"]) == 0


def test_a_cycle_between_modular_files_is_e106_naming_it(tmp_path: Path) -> None:
    write_modular(tmp_path, "from generated.bee.modeling_bee import BeeModel\n", model="ant")
    write_modular(tmp_path, "import os\nfrom generated.ant.modeling_ant import AntModel\n", model="bee")
    with pytest.raises(ConversionError) as caught:
        convert_files(sorted((tmp_path / "modular").glob("*.py")), tmp_path)
    [diagnostic] = caught.value.diagnostics
    assert (diagnostic.path, diagnostic.line, diagnostic.col, diagnostic.code) == (
        "modular/modular_ant.py",
        1,
        1,
        "E106",
    )
    assert diagnostic.message == "cycle between modular files: ant -> bee -> ant"


def test_a_model_importing_itself_is_a_cycle(tmp_path: Path) -> None:
    path = write_modular(tmp_path, "from generated.ant.modeling_ant import AntModel\n", model="ant")
    with pytest.raises(ConversionError) as caught:
        convert_files([path], tmp_path)
    assert caught.value.diagnostics[0].message == "cycle between modular files: ant -> ant"


def test_parallel_workers_write_the_same_bytes_as_one(tmp_path: Path) -> None:
    trees = []
    for jobs in ("1", "2"):
        repo = chain_repo(tmp_path / jobs)
        assert main(["--repo-root", str(repo), "--all", "-j", jobs]) == 0
        trees.append(tree(repo))
    assert trees[0] == trees[1]


def test_inherited_output_is_byte_identical_across_hash_seeds(tmp_path: Path) -> None:
    trees = []
    for seed in ("0", "4242"):
        repo = chain_repo(tmp_path / seed)
        result = run_cli("--repo-root", str(repo), "--all", env={**os.environ, "PYTHONHASHSEED": seed})
        assert result.returncode == 0, result.stderr
        trees.append(tree(repo))
    assert trees[0] == trees[1]
    assert len(trees[0]) == 9


def test_a_base_is_parsed_once_per_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = chain_repo(tmp_path)
    parsed: list[str] = []
    original = bases_module.parse_base
    monkeypatch.setattr(
        bases_module, "parse_base", lambda path, text, **kw: parsed.append(path) or original(path, text, **kw)
    )
    convert_files(sorted((repo / "modular").glob("*.py")), repo)
    assert sorted(parsed) == sorted(set(parsed))
    assert "generated/tiny/modeling_tiny.py" in parsed


def test_progress_is_one_rewritten_line_cleared_at_the_end() -> None:
    stream = io.StringIO()
    progress = Progress(stream)
    progress(1, 2, "tiny")
    progress(2, 2, "toy")
    assert stream.getvalue() == "\r\033[K[1/2] tiny\r\033[K"


def test_no_progress_when_stderr_is_not_a_terminal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--repo-root", str(chain_repo(tmp_path)), "--all", "--diff"]) == 0
    assert capsys.readouterr().err == ""


def test_files_and_all_together_are_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--all", "modular/modular_llama.py"])
    assert caught.value.code == 2
    assert "pass modular files or --all" in capsys.readouterr().err


def test_check_all_names_the_all_command_as_the_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = chain_repo(tmp_path)
    assert main(["--repo-root", str(repo), "--all", "--check"]) == 1
    assert f"fix: python converter/run.py --repo-root {repo} --all" in capsys.readouterr().err


def test_all_on_this_repository_leaves_generated_unchanged() -> None:
    result = run_cli("--all", "--check")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr


def test_an_inheritance_error_exits_1_and_writes_no_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = chain_repo(tmp_path)
    toy = repo / "modular" / "modular_toy.py"
    toy.write_text(toy.read_text().replace("class ToyModel(TinyModel):", "class ToyModel(TinyModel, TinyBlock):"))
    assert main(["--repo-root", str(repo), "--all"]) == 1
    err = capsys.readouterr().err
    assert "modular/modular_toy.py:25:27: E201 ToyModel has two model bases, TinyModel and TinyBlock" in err
    assert err.rstrip().endswith("1 error; nothing written")
    assert not (repo / "generated").exists()
