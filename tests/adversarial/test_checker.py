"""Hostile situations for the consistency checker, its cache, and the converter's writing of output.

Proves: the checker never says "clean" when a fresh conversion differs (bases imported in any
form, a base's or the model's own generated files edited, runtime/ changed, an extra or leftover
file, a package with no modular file, a forged cache), never says "stale" (exit 1) when the real
problem is that it could not check or write (exit 2), refuses a check that checks nothing, ignores
an unusable cache with at most one warning line, refuses to write through symlinks, into
directories or onto read-only or full disks (naming the path, writing nothing), and finishes or
cleans up a write that was killed half-way so the tree ends equal to a fresh conversion.

Every case runs on a copy of the golden `chain` repository (tiny -> toy -> apex). Writes that fail
(read-only folder, full disk) and kills are simulated in a child process, so the cases hold when
the tests run as root.

Run: python -m pytest tests/adversarial/test_checker.py -q
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import shutil
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from converter.run import main as run_main
from tests.adversarial.faulty_fs import run_faulty

REPO_ROOT = Path(__file__).resolve().parents[2]
CHAIN = REPO_ROOT / "tests" / "converter" / "golden" / "chain"
Arrange = Callable[[Path], None]


def load_checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "check_modular_conversion", REPO_ROOT / "utils" / "check_modular_conversion.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CHECKER = load_checker()


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    for name in ("modular", "generated"):
        shutil.copytree(CHAIN / name, root / name)
    return root


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


def invoke(repo: Path, *argv: str) -> Outcome:
    """`check [args]` (utils/check_modular_conversion.py) or `run [args]` (converter/run.py), in-process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        if argv[0] == "check":
            code = CHECKER.main(["--repo-root", str(repo), *argv[1:]])
        else:
            args = [str(repo / arg) if arg.startswith("modular/") else arg for arg in argv[1:]]
            code = run_main(["--repo-root", str(repo), *args])
    return Outcome(code, out.getvalue(), err.getvalue())


def snapshot(root: Path) -> dict[str, object]:
    """Every entry under `root` (caches aside): kind and bytes, or a symlink's target."""
    found: dict[str, object] = {}
    for directory, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in ("__pycache__", ".cache")]
        for name in [*dirs, *files]:
            path = Path(directory, name)
            mode = os.lstat(path).st_mode
            key = path.relative_to(root).as_posix()
            if stat.S_ISLNK(mode):
                found[key] = ("link", os.readlink(path))
            elif stat.S_ISREG(mode):
                found[key] = path.read_bytes()
            else:
                found[key] = stat.S_IFMT(mode)
    return found


def fresh(repo: Path, tmp: Path) -> dict[str, object]:
    """generated/ as a conversion of `repo`'s modular files into an empty repository makes it."""
    shutil.copytree(repo / "modular", tmp / "fresh" / "modular")
    assert invoke(tmp / "fresh", "run", "--all").code == 0
    return snapshot(tmp / "fresh" / "generated")


# ------------------------------------------------------------------------------------------------
# arrangements


def write(relative: str, data: str | bytes) -> Arrange:
    def arrange(repo: Path) -> None:
        path = repo / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)

    return arrange


def edit(relative: str, old: str, new: str) -> Arrange:
    def arrange(repo: Path) -> None:
        text = (repo / relative).read_text()
        assert old in text, f"{old!r} not in {relative}"
        (repo / relative).write_text(text.replace(old, new))

    return arrange


def replace_with(relative: str, kind: str) -> Arrange:
    """Replace `relative` by a directory, a file, a FIFO, or a symlink to a copy of it outside the repo."""

    def arrange(repo: Path) -> None:
        path = repo / relative
        outside = repo.parent / "outside" / path.name
        outside.parent.mkdir(exist_ok=True)
        if path.is_dir():
            shutil.copytree(path, outside)
            shutil.rmtree(path)
        elif path.exists():
            shutil.copy(path, outside)
            path.unlink()
        if kind == "directory":
            path.mkdir()
        elif kind == "file":
            path.write_text("not a directory\n")
        elif kind == "fifo":
            os.mkfifo(path)
        else:
            path.symlink_to(outside, target_is_directory=outside.is_dir())

    return arrange


def remove(relative: str) -> Arrange:
    def arrange(repo: Path) -> None:
        shutil.rmtree(repo / relative)

    return arrange


def fifo(relative: str) -> Arrange:
    def arrange(repo: Path) -> None:
        (repo / relative).parent.mkdir(parents=True, exist_ok=True)
        os.mkfifo(repo / relative)

    return arrange


def many_files(count: int) -> Arrange:
    def arrange(repo: Path) -> None:
        for index in range(count):
            (repo / "generated" / "toy" / f"extra_{index:04}.py").write_text("")

    return arrange


def hostile_name(repo: Path) -> None:
    """A name that would clear the terminal, and is not UTF-8."""
    (repo / "generated" / "toy").joinpath(os.fsdecode(b"a\x1b[2Jb\xff.py")).write_text("")


def steps(*arrangements: Arrange) -> Arrange:
    def arrange(repo: Path) -> None:
        for step in arrangements:
            step(repo)

    return arrange


def nothing(repo: Path) -> None:
    pass


CACHE = ".cache/modular_check.json"
TINY_WIDER = edit("modular/modular_tiny.py", "hidden_size: int = 8", "hidden_size: int = 16")
TOY_PACKAGE_IMPORTS = edit(
    "modular/modular_toy.py",
    "from generated.tiny.configuration_tiny import TinyConfig\nfrom generated.tiny.modeling_tiny import TinyBlock, TinyModel\n",
    "from generated.tiny import TinyConfig\nfrom generated . tiny . modeling_tiny import (\n    TinyBlock,\n    TinyModel,\n)\n",
)
TOY_STALE = edit("generated/toy/modeling_toy.py", "class ToyModel(", "class ToyModel(  # hand edit\n    ")


def forged_cache(repo: Path) -> None:
    """A cache claiming every model clean with the right keys for the tree as it is (as a commit
    could carry), but not written by the checker in this file."""
    files = CHECKER.modular_files(repo)
    graph = CHECKER.base_graph(files)
    tools = CHECKER.tool_fingerprint(repo)
    keys = {model: CHECKER.model_key(model, files, graph, repo, tools) for model in files}
    data = {"version": CHECKER.CACHE_VERSION, "inode": [0, 0], "models": keys}
    write(CACHE, json.dumps(data))(repo)


def symlinked_cache_directory(repo: Path) -> None:
    (repo.parent / "elsewhere").mkdir()
    (repo / ".cache").symlink_to(repo.parent / "elsewhere", target_is_directory=True)


# ------------------------------------------------------------------------------------------------
# the table: in-process cases


@dataclass(frozen=True)
class Case:
    """`argv` after `arrange` (and, where `change` is set, after a --fix that leaves the cache warm,
    then `change`): exit `code`, output containing each of `says` and none of `never`; generated/
    untouched unless `writes`; `then` asserts more on the repository."""

    argv: tuple[str, ...]
    code: int
    says: tuple[str, ...] = ()
    arrange: Arrange = nothing
    change: Arrange | None = None
    writes: bool = False
    never: tuple[str, ...] = ("Traceback",)
    then: Callable[[Path, Outcome], None] | None = None
    isolated: bool = False  # in a child process under a deadline: the old code hung on this input


def equals_fresh(repo: Path, outcome: Outcome) -> None:
    assert snapshot(repo / "generated") == fresh(repo, repo.parent), outcome.text


def one_warning(repo: Path, outcome: Outcome) -> None:
    assert outcome.err.count("warning:") <= 1 and len(outcome.err.splitlines()) <= 1, outcome.err


def nothing_elsewhere(repo: Path, outcome: Outcome) -> None:
    assert not any((repo.parent / "elsewhere").iterdir())


def outside_intact(repo: Path, outcome: Outcome) -> None:
    assert (repo.parent / "outside").is_dir() and any((repo.parent / "outside").iterdir())


def fresh_and_outside_intact(repo: Path, outcome: Outcome) -> None:
    equals_fresh(repo, outcome)
    outside_intact(repo, outcome)


EXTRA = "generated/toy/foo.py"
CASES: dict[str, Case] = {
    # the cache never hides a stale file
    "cache/base-imported-in-package-form-then-changed": Case(
        ("check",), 1, ("generated/toy/configuration_toy.py",), TOY_PACKAGE_IMPORTS, TINY_WIDER
    ),
    "cache/base-generated-file-hand-edited": Case(
        ("check",),
        1,
        ("generated/tiny/modeling_tiny.py",),
        change=edit("generated/tiny/modeling_tiny.py", "x * 2", "x * 3"),
    ),
    "cache/own-generated-file-hand-edited": Case(("check",), 1, ("generated/toy/modeling_toy.py",), change=TOY_STALE),
    "cache/extra-file-after-a-clean-check": Case(("check",), 1, (EXTRA,), change=write(EXTRA, "x = 1\n")),
    "cache/extra-non-python-file-after-a-clean-check": Case(
        ("check",), 1, ("generated/toy/notes.txt",), change=write("generated/toy/notes.txt", "notes\n")
    ),
    "cache/runtime-change-rechecks-every-model": Case(
        ("check",), 0, ("3 re-checked",), change=write("runtime/extra.py", "X = 1\n")
    ),
    "cache/forged-cache-on-a-stale-tree": Case(
        ("check",), 1, ("generated/toy/modeling_toy.py",), steps(TOY_STALE, forged_cache)
    ),
    # stale and extra files
    "stray/extra-file": Case(
        ("check",), 1, (f"{EXTRA} is not produced by modular/modular_toy.py",), write(EXTRA, "x = 1\n")
    ),
    "stray/old-output-no-longer-produced": Case(
        ("check",),
        1,
        ("generated/toy/processing_toy.py is not produced",),
        write("generated/toy/processing_toy.py", ""),
    ),
    "stray/leftover-temporary-file": Case(
        ("check",),
        1,
        ("generated/toy/.modeling_toy.py.x1.converter-tmp was left by an interrupted write",),
        write("generated/toy/.modeling_toy.py.x1.converter-tmp", "half"),
    ),
    "stray/package-without-modular-file": Case(
        ("check",),
        1,
        ("generated/ghost/ has no modular source modular/modular_ghost.py", "--all"),
        write("generated/ghost/modeling_ghost.py", ""),
    ),
    "stray/many-extra-files-are-summed-up": Case(("check",), 1, ("... and 250 more",), many_files(300)),
    "stray/hostile-file-name-is-escaped": Case(
        ("check",),
        1,
        ("generated/toy/a\\x1b[2Jb\\udcff.py is not produced",),
        hostile_name,
        never=("Traceback", "\x1b"),
    ),
    "stray/pycache-is-ignored": Case(
        ("check",),
        0,
        ("up to date",),
        steps(write("generated/toy/__pycache__/x.pyc", b"\0"), write("generated/__pycache__/y.pyc", b"\0")),
    ),
    "stray/run-all-check-reports-it": Case(("run", "--all", "--check"), 1, (EXTRA, "--all"), write(EXTRA, "")),
    "stray/run-diff-reports-it": Case(("run", "--all", "--diff"), 0, (EXTRA,), write(EXTRA, "")),
    "stray/run-one-model-removes-its-extra-file": Case(
        ("run", "modular/modular_toy.py"), 0, (f"removed {EXTRA}",), write(EXTRA, ""), writes=True, then=equals_fresh
    ),
    "stray/run-all-removes-extras-and-orphans": Case(
        ("run", "--all"),
        0,
        ("removed generated/ghost/",),
        steps(write(EXTRA, ""), write("generated/ghost/x.py", ""), write("generated/toy/.a.py.b.converter-tmp", "")),
        writes=True,
        then=equals_fresh,
    ),
    "stray/fix-removes-extras-and-orphans": Case(
        ("check", "--fix"),
        0,
        (f"removed {EXTRA}",),
        steps(write(EXTRA, ""), write("generated/ghost/x.py", "")),
        writes=True,
        then=equals_fresh,
    ),
    "stray/orphan-symlink-is-unlinked-not-followed": Case(
        ("check", "--fix"),
        0,
        ("removed generated/ghost/",),
        steps(write("generated/ghost/x.py", "keep"), replace_with("generated/ghost", "symlink")),
        writes=True,
        then=fresh_and_outside_intact,
    ),
    # a check that checks nothing fails
    "nothing/checker-on-an-empty-directory": Case(
        ("check",), 2, ("no modular files", "nothing was checked"), steps(remove("modular"), remove("generated"))
    ),
    "nothing/checker-with-no-modular-file": Case(
        ("check",),
        2,
        ("modular/modular_*.py matches nothing",),
        steps(remove("modular"), write("modular/README.md", "x")),
    ),
    "nothing/run-all-check-on-an-empty-directory": Case(
        ("run", "--all", "--check"), 2, ("no modular files", "matches nothing"), remove("modular")
    ),
    # an unusable cache is ignored: a clean tree stays 0, a stale one 1
    "cache-file/list": Case(("check",), 0, ("up to date",), write(CACHE, "[1, 2]"), then=one_warning),
    "cache-file/wrong-shape": Case(("check",), 0, ("up to date",), write(CACHE, '{"toy": 5}'), then=one_warning),
    "cache-file/truncated": Case(
        ("check",), 0, ("up to date",), write(CACHE, '{"version": 2, "models": {"toy'), then=one_warning
    ),
    "cache-file/not-utf8": Case(("check",), 0, ("up to date",), write(CACHE, b"\xff\xfe\x00{"), then=one_warning),
    "cache-file/huge": Case(("check",), 0, ("up to date",), write(CACHE, " " * (2**20 + 1)), then=one_warning),
    "cache-file/is-a-directory": Case(("check",), 0, ("up to date",), write(f"{CACHE}/x", ""), then=one_warning),
    "cache-file/is-a-fifo": Case(("check",), 0, ("up to date",), fifo(CACHE), then=one_warning, isolated=True),
    "cache-file/parent-is-a-file": Case(("check",), 0, ("up to date",), write(".cache", "x"), then=one_warning),
    "cache-file/parent-is-a-symlink": Case(
        ("check",), 0, ("up to date",), symlinked_cache_directory, then=nothing_elsewhere
    ),
    "cache-file/stale-tree-with-unusable-cache": Case(
        ("check",), 1, ("generated/toy/modeling_toy.py",), steps(TOY_STALE, write(CACHE, "[]"))
    ),
    # paths the converter must not write through, or cannot write
    "target/package-is-a-file": Case(
        ("run", "--all"),
        2,
        ("generated/toy is not a directory",),
        replace_with("generated/toy", "file"),
        never=("Traceback", "wrote"),
    ),
    "target/package-is-a-file-fix": Case(
        ("check", "--fix"),
        2,
        ("generated/toy is not a directory",),
        replace_with("generated/toy", "file"),
        never=("Traceback", "fixed"),
    ),
    "target/file-is-a-directory": Case(
        ("run", "--all"),
        2,
        ("generated/toy/modeling_toy.py is a directory",),
        replace_with("generated/toy/modeling_toy.py", "directory"),
        never=("Traceback", "wrote"),
    ),
    "target/file-is-a-symlink": Case(
        ("run", "--all"),
        2,
        ("generated/toy/modeling_toy.py is a symlink",),
        steps(TOY_STALE, replace_with("generated/toy/modeling_toy.py", "symlink")),
        never=("Traceback", "wrote"),
        then=outside_intact,
    ),
    "target/symlink-with-the-right-content-is-not-clean": Case(
        ("check",),
        1,
        ("generated/toy/modeling_toy.py is a symlink",),
        replace_with("generated/toy/modeling_toy.py", "symlink"),
    ),
    "target/package-is-a-symlink": Case(
        ("check", "--fix"),
        2,
        ("generated/toy is a symlink",),
        steps(TOY_STALE, replace_with("generated/toy", "symlink")),
        never=("Traceback", "fixed"),
        then=outside_intact,
    ),
    "target/generated-is-a-symlink": Case(
        ("run", "--all"),
        2,
        ("generated is a symlink",),
        steps(TOY_STALE, replace_with("generated", "symlink")),
        never=("Traceback", "wrote"),
    ),
    "target/fifo-does-not-hang-the-check": Case(
        ("check",),
        1,
        ("generated/toy/modeling_toy.py is not a regular file",),
        replace_with("generated/toy/modeling_toy.py", "fifo"),
        isolated=True,
    ),
    "target/not-utf8-is-stale": Case(
        ("check",), 1, ("generated/toy/modeling_toy.py",), write("generated/toy/modeling_toy.py", b"\xff\xfe\x00")
    ),
    "target/huge-file-is-stale-not-read": Case(
        ("check",), 1, ("bytes, not shown",), write("generated/toy/modeling_toy.py", "#" * (9 * 2**20))
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_hostile_situation(case: Case, repo: Path) -> None:
    case.arrange(repo)
    if case.change is not None:
        primed = invoke(repo, "check", "--fix")
        assert primed.code == 0, primed.text
        case.change(repo)
    before = snapshot(repo)
    outcome = isolated(repo, *case.argv) if case.isolated else invoke(repo, *case.argv)
    assert outcome.code == case.code, outcome.text
    for fragment in case.says:
        assert fragment in outcome.text, outcome.text
    for fragment in case.never:
        assert fragment not in outcome.text, outcome.text
    if not case.writes:
        assert snapshot(repo) == before
    if case.then is not None:
        case.then(repo, outcome)


def test_an_internal_failure_is_exit_2_not_stale(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(CHECKER, "convert_models", broken)
    monkeypatch.setattr("converter.run.convert_models", broken)
    for argv in (("check",), ("run", "--all", "--check")):
        outcome = invoke(repo, *argv)
        assert outcome.code == 2 and "internal error: RuntimeError" in outcome.err, outcome.text


# ------------------------------------------------------------------------------------------------
# a child process (tests/adversarial/faulty_fs.py): a read-only folder, an unreadable file or a full disk
# (simulated, so the cases hold as root), a kill at an exact point of a write


def isolated(repo: Path, tool: str, *argv: str) -> Outcome:
    """`invoke` in a child process under a deadline (a hang fails the test instead of blocking it)."""
    result = run_faulty("plain", repo, tool, "--repo-root", str(repo), *argv)
    return Outcome(result.returncode, result.stdout, result.stderr)


CHILD_CASES = {
    "read-only-package": ("read-only", "generated/toy", "run", "cannot write generated/toy/"),
    "read-only-package-fix": ("read-only", "generated/toy", "check", "cannot write generated/toy/"),
    "read-only-generated-new-package": ("read-only", "generated", "run", "cannot create generated/toy"),
    "full-disk": ("full-disk", "generated", "run", "No space left on device"),
    "full-disk-fix": ("full-disk", "generated", "check", "No space left on device"),
}


@pytest.mark.parametrize("case", CHILD_CASES.values(), ids=CHILD_CASES.keys())
def test_a_write_that_fails_names_the_path_and_writes_nothing(case: tuple[str, str, str, str], repo: Path) -> None:
    mode, target, tool, says = case
    TOY_STALE(repo)
    if target == "generated":
        shutil.rmtree(repo / "generated" / "toy")
    before = snapshot(repo)
    argv = ["--repo-root", str(repo), *(["--fix"] if tool == "check" else ["--all"])]
    result = run_faulty(mode, repo / target, tool, *argv)
    assert result.returncode == 2, result.stdout + result.stderr
    assert says in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert "fixed" not in result.stdout and "wrote" not in result.stdout
    assert snapshot(repo) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_really_read_only_folder_is_exit_2(repo: Path) -> None:
    TOY_STALE(repo)
    before = snapshot(repo)
    os.chmod(repo / "generated" / "toy", 0o555)
    try:
        outcome = invoke(repo, "check", "--fix")
    finally:
        os.chmod(repo / "generated" / "toy", 0o755)
    assert outcome.code == 2 and "cannot write generated/toy/" in outcome.err and "fixed" not in outcome.out
    assert snapshot(repo) == before


@pytest.mark.parametrize("mode", ["read-only", "unreadable"])
def test_an_unusable_cache_is_one_warning(mode: str, repo: Path) -> None:
    assert invoke(repo, "check").code == 0  # a cache to read
    result = run_faulty(mode, repo / ".cache", "check", "--repo-root", str(repo))
    assert result.returncode == 0 and "up to date" in result.stdout, result.stderr
    assert result.stderr.count("warning:") == 1 and "Traceback" not in result.stderr, result.stderr


def test_an_unreadable_generated_file_is_exit_2_naming_it(repo: Path) -> None:
    target = repo / "generated" / "toy" / "modeling_toy.py"
    result = run_faulty("unreadable", target, "check", "--repo-root", str(repo))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "cannot read generated/toy/modeling_toy.py: Permission denied" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "mode, leftover",
    [("kill-at-replace-2", "completed an interrupted write"), ("kill-at-write-2", "left by an interrupted write")],
    ids=["between-renames", "while-staging"],
)
def test_a_killed_write_is_reported_then_finished_by_the_next_run(mode: str, leftover: str, repo: Path) -> None:
    TINY_WIDER(repo)  # every model's configuration changes: several files in several packages
    killed = run_faulty(mode, repo / "generated", "run", "--repo-root", str(repo), "--all")
    assert killed.returncode == -9, killed.stderr
    temporary = sorted(path.name for path in (repo / "generated").rglob("*.converter-tmp"))
    assert temporary, "the kill left no temporary file: the case tests nothing"
    check = invoke(repo, "run", "--all", "--check")
    assert check.code == 1 and "was left by an interrupted write" in check.text, check.text
    rerun = invoke(repo, "run", "--all")
    assert rerun.code == 0 and leftover in rerun.err, rerun.text
    assert not list((repo / "generated").rglob("*.converter-tmp"))
    equals_fresh(repo, rerun)


def test_a_hostile_journal_is_ignored(repo: Path) -> None:
    (repo.parent / "outside").mkdir()
    (repo.parent / "outside" / "victim.py").write_text("keep")
    journal = {"renames": [["../../outside/victim.py", "modular/x.py"]], "removals": ["../modular", "/etc"]}
    write("generated/.converter-journal.json", json.dumps(journal))(repo)
    outcome = invoke(repo, "run", "--all")
    assert outcome.code == 0 and "not a journal this converter wrote; nothing done" in outcome.err, outcome.text
    assert (repo.parent / "outside" / "victim.py").read_text() == "keep"
    assert sorted(p.name for p in (repo / "modular").iterdir()) == [
        "modular_apex.py",
        "modular_tiny.py",
        "modular_toy.py",
    ]
    equals_fresh(repo, outcome)


# ------------------------------------------------------------------------------------------------
# the dependency scan: every import form, anywhere in the file


IMPORTS = {
    "module-form": ("from generated.llama.modeling_llama import LlamaMLP", {"llama"}),
    "package-form": ("from generated.llama import LlamaMLP", {"llama"}),
    "spaced": ("from generated . llama . modeling_llama import (\n    LlamaMLP,\n)", {"llama"}),
    "from-generated-import-model": ("from generated import llama, gemma", {"llama", "gemma"}),
    "import-as": ("import generated.llama.modeling_llama as m", {"llama"}),
    "type-checking": (
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from generated.llama import X",
        {"llama"},
    ),
    "try-block": ("try:\n    from generated.gemma.modeling_gemma import X\nexcept ImportError:\n    pass", {"gemma"}),
    "in-a-function": ("def f():\n    import generated.qwen2\n", {"qwen2"}),
    "relative-naming-generated": ("from ..generated.llama.modeling_llama import X", {"llama"}),
    "no-base": ("from torch import nn\nimport os", set()),
    "star-from-generated": ("from generated import *", None),
    "syntax-error": ("class (:", None),
    "deeply-nested": ("x = " + "(" * 5000 + ")" * 5000, None),
    "long-chain": ("x = " + "1 + " * 50000 + "1", None),
    "null-byte": ("x = 1\0", None),
}


@pytest.mark.parametrize("source, expected", IMPORTS.values(), ids=IMPORTS.keys())
def test_imported_models_reads_every_import_form(source: str, expected: set[str] | None) -> None:
    found = CHECKER.imported_models(source.encode())
    assert (None if found is None else set(found)) == expected


NAME = st.sampled_from(["llama", "gemma", "qwen2"])
SPACE = st.sampled_from(["", " ", "  "])


@st.composite
def import_of(draw: st.DrawFn, model: str) -> str:
    """An import of `model` in one of the forms Python accepts, possibly nested in a block."""
    s = draw(SPACE)
    form = draw(st.sampled_from(["from-module", "from-package", "from-generated", "import"]))
    statement = {
        "from-module": f"from generated{s}.{s}{model}{s}.{s}modeling_{model} import ({s}X,{s})",
        "from-package": f"from  generated.{model}  import X as Y",
        "from-generated": f"from generated import {model} as m",
        "import": f"import os, generated{s}.{s}{model}",
    }[form]
    block = draw(st.sampled_from(["", "if TYPE_CHECKING:\n", "try:\n", "def f():\n", "class C:\n"]))
    body = f"{block}    {statement}\n" if block else f"{statement}\n"
    return body + ("except ImportError:\n    pass\n" if block == "try:\n" else "")


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_any_import_form_of_a_base_is_a_dependency(data: st.DataObject) -> None:
    models = data.draw(st.lists(NAME, min_size=1, max_size=3, unique=True))
    source = "".join(data.draw(import_of(model)) for model in models)
    assert CHECKER.imported_models(source.encode()) == frozenset(models)
