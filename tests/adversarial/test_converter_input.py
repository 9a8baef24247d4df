"""Hostile modular files against the converter's input: where files may come from, how they read,
how deeply they nest (converter/read/locate.py, source.py, nesting.py, parse.py, workers.py).

Each hostile input is refused with exit 1 and a diagnostic `path:line:col: Ennn message` that names
the file and points at the real place (the first bad byte, the first place too deep), with no
traceback and no signal, and nothing under generated/ changes; or, where it is valid Python the
converter can follow (a byte order mark, CRLF or CR line ends, a form feed between statements), it
converts to the same files as the plain text. Input that could crash the process (deep nesting)
runs `python converter/run.py` in a subprocess, where a segfault shows as a negative exit code.
The converter never runs a modular file: one whose import would leave marks leaves none. A
hypothesis property mutates a real modular file at random (truncation, byte flips, lines deleted or
repeated, deep nesting, invalid UTF-8, NUL, tabs, huge literals) and converts each mutant in a
forked child: it converts, or fails with exit 1 and located diagnostics, never anything else.

Run: python -m pytest tests/adversarial/test_converter_input.py -q
"""

from __future__ import annotations

import multiprocessing
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import converter.pipeline.convert as pipeline
from converter.diagnostics import Diagnostic
from converter.pipeline.convert import convert_model, convert_what_converts
from converter.run import main
from converter.write.emit import EmittedModel

REPO_ROOT = Path(__file__).resolve().parents[2]
RUN_PY = REPO_ROOT / "converter" / "run.py"
TOY = "class ToyConfig:\n    pass\n\n\nclass ToyModel:\n    def forward(self, x):\n        return x\n"
DIAGNOSTIC = re.compile(r"^(?P<path>\S+):(?P<line>\d+):(?P<col>\d+): (?P<code>E\d{3}) (?P<message>.*)$", re.M)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A copy of the repository's inputs (modular/, generated/, runtime/) to run the converter in."""
    root = tmp_path / "repo"
    for folder in ("modular", "generated", "runtime"):
        shutil.copytree(REPO_ROOT / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under generated/, by path: what a refused run must leave as it was."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes() for p in sorted((root / "generated").rglob("*")) if p.is_file()
    }


def run_subprocess(root: Path, *args: str, cwd: Path | None = None) -> tuple[int, str]:
    """(exit code, stderr) of `python converter/run.py --repo-root ROOT ARGS` in a fresh interpreter."""
    command = [sys.executable, str(RUN_PY), "--repo-root", str(root), *args]
    done = subprocess.run(command, cwd=cwd or root, capture_output=True, text=True, timeout=300, check=False)
    return done.returncode, done.stderr


def run_in_process(root: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """(exit code, stderr) of the command line's `main`, in this process (for input that cannot crash it)."""
    code = main(["--repo-root", str(root), *args])
    return code, capsys.readouterr().err


def assert_refused(
    code: int, stderr: str, path: str, expected: str, line: int | None, col: int | None
) -> re.Match[str]:
    """Exit 1, no traceback, and a first diagnostic at `path:line:col` (None: any) with code `expected`."""
    assert code == 1, f"exit {code} (a negative one is a signal)\n{stderr}"
    assert "Traceback" not in stderr, stderr
    found = DIAGNOSTIC.search(stderr)
    assert found is not None, stderr
    assert (found["path"], found["code"]) == (path, expected), stderr
    assert line is None or int(found["line"]) == line, stderr
    assert col is None or int(found["col"]) == col, stderr
    assert stderr.rstrip().endswith("nothing written"), stderr
    return found


# ----------------------------------------------------------------------------- file contents


@dataclass(frozen=True)
class Content:
    """A modular file's bytes and the diagnostic they must get: code, line, col (None: any), and
    words the message must hold."""

    data: bytes
    code: str
    line: int | None
    col: int | None
    words: str


def toy_with(old: str, new: str) -> bytes:
    return TOY.replace(old, new).encode("utf-8")


def appended(text: str) -> bytes:
    return (TOY + text).encode("utf-8")


PARENS = "X = " + "(" * 1000 + "1" + ")" * 1000 + "\n"
CONTENTS = {
    "invalid_utf8_byte": Content(toy_with("return x", "return 'Z'").replace(b"Z", b"\xff"), "E005", 7, 17, "UTF-8"),
    "invalid_utf8_after_wide_chars": Content(
        appended('X = "éé§"\n').replace("§".encode(), b"\xc3("), "E005", 8, 8, "UTF-8"
    ),
    "invalid_utf8_crlf": Content(
        toy_with("return x", "return 'Z'").replace(b"\n", b"\r\n").replace(b"Z", b"\xfe"), "E005", 7, 17, "UTF-8"
    ),
    "invalid_utf8_lone_cr": Content(
        toy_with("return x", "return 'Z'").replace(b"\n", b"\r").replace(b"Z", b"\x80"), "E005", 7, 17, "UTF-8"
    ),
    "truncated_utf8_at_end": Content(TOY.encode() + b"X = 1\xe2\x82", "E005", 8, 6, "UTF-8"),
    "utf16_with_bom": Content(TOY.encode("utf-16"), "E005", 1, 1, "UTF-16"),
    "utf16_without_bom": Content(TOY.encode("utf-16-le"), "E006", 1, 2, "UTF-16"),
    "latin1_coding_cookie": Content(
        b"# -*- coding: latin-1 -*-\n" + toy_with("x\n", "'\xe9'\n"), "E005", 1, 15, "latin-1"
    ),
    "cp1252_cookie_on_line_2": Content(
        b"#!/usr/bin/env python\n# coding=cp1252\n" + TOY.encode(), "E005", 2, 10, "cp1252"
    ),
    "nul_byte": Content(toy_with("return x", "return x\x00"), "E006", 7, 17, "NUL"),
    "tabs_and_spaces_inconsistent": Content(
        toy_with("        return x", "        y = 1\n\treturn x"), "E001", 8, None, "tabs"
    ),
    "tab_libcst_reads_otherwise": Content(toy_with("        return x", "\t    return x"), "E001", 7, 1, "tab"),
    "form_feed_in_indentation": Content(toy_with("        return x", "\f        return x"), "E001", 7, 1, "form feed"),
    "empty_file": Content(b"", "E050", 1, 1, "defines nothing"),
    "syntax_error": Content(toy_with("class ToyModel:", "class ToyModel(:"), "E001", 5, 16, "syntax"),
    "nested_parentheses_1000": Content(appended(PARENS), "E001", 8, 205, "too many nested parentheses"),
    "ten_megabytes": Content(appended("# " + "x" * 98 + "\n") * 100_000, "E008", 1, 1, "larger than"),
}


@pytest.mark.parametrize("case", CONTENTS.values(), ids=CONTENTS.keys())
def test_hostile_content_is_refused_where_it_is(case: Content, repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "modular" / "modular_toy.py").write_bytes(case.data)
    before = snapshot(repo)
    code, stderr = run_in_process(repo, capsys, str(repo / "modular" / "modular_toy.py"))
    found = assert_refused(code, stderr, "modular/modular_toy.py", case.code, case.line, case.col)
    assert case.words in found["message"], stderr
    assert snapshot(repo) == before


DEEP = {
    "nested_parentheses_2000": (appended("X = " + "(" * 2000 + "1" + ")" * 2000 + "\n"), "E001", 8, 205),
    "sum_of_5000_terms": (appended("X = " + "+".join(["1"] * 5000) + "\n"), "E007", 8, 1),
    "sum_of_50000_terms": (appended("X = " + "+".join(["1"] * 50000) + "\n"), "E007", 8, 1),
    "attribute_chain_50000": (appended("X = a" + ".a" * 50000 + "\n"), "E007", 8, 1),
    "call_chain_5000": (appended("X = a" + ".b()" * 5000 + "\n"), "E007", 8, 1),
    "subscripts_5000": (appended("X = a" + "[0]" * 5000 + "\n"), "E007", 8, 1),
    "lambdas_5000": (appended("X = " + "lambda: " * 5000 + "1\n"), "E007", 8, 1),
    "nots_50000": (appended("X = " + "not " * 50000 + "x\n"), "E007", 8, 1),
    "nested_lists_150": (appended("X = " + "[" * 150 + "]" * 150 + "\n"), "E007", 8, None),
    "nested_calls_150": (appended("X = " + "f(" * 150 + ")" * 150 + "\n"), "E007", 8, None),
    "and_chain_50000": (appended("X = " + " and ".join(["x"] * 50000) + "\n"), "E007", 8, 5),
    "adjacent_strings_50000": (appended("X = (" + "\n".join(['"a"'] * 50000) + ")\n"), "E007", 8, 6),
    "comprehension_of_5000_fors": (appended("X = [a " + "for a in x " * 5000 + "]\n"), "E007", 8, 5),
    "string_annotation_2000_parentheses": (
        appended("def f(x: '" + "(" * 2000 + "int" + ")" * 2000 + "'): pass\n"),
        "E007",
        8,
        10,
    ),
    "string_annotation_50000_terms": (
        appended("def f(x: '" + "|".join(["int"] * 50000) + "'): pass\n"),
        "E007",
        8,
        10,
    ),
    "elif_chain_3000": (
        appended("def g(x):\n    if x:\n        pass\n" + "    elif x:\n        pass\n" * 3000),
        "E007",
        None,
        None,
    ),
}


@pytest.mark.parametrize(("data", "code", "line", "col"), DEEP.values(), ids=DEEP.keys())
def test_deep_nesting_is_refused_without_a_crash(
    repo: Path, data: bytes, code: str, line: int, col: int | None
) -> None:
    (repo / "modular" / "modular_toy.py").write_bytes(data)
    before = snapshot(repo)
    found = assert_refused(*run_subprocess(repo, "modular/modular_toy.py"), "modular/modular_toy.py", code, line, col)
    if found["code"] == "E007":
        assert "nesting too deep" in found["message"]
        source_line = data.decode().splitlines()[int(found["line"]) - 1]
        assert int(found["col"]) <= len(source_line)
    assert snapshot(repo) == before


def test_deep_nesting_in_worker_processes_is_refused_by_the_scan(repo: Path) -> None:
    (repo / "modular" / "modular_toy.py").write_bytes(appended("X = " + "+".join(["1"] * 50000) + "\n"))
    before = snapshot(repo)
    code, stderr = run_subprocess(repo, "--all", "-j", "2")
    assert_refused(code, stderr, "modular/modular_toy.py", "E007", 8, 1)
    assert snapshot(repo) == before


def test_the_deepest_nesting_accepted_still_converts(repo: Path) -> None:
    # Just under the limit, inside a model that inherits: every pass, libcst and ruff follow it.
    source = (repo / "modular" / "modular_mistral.py").read_text(encoding="utf-8")
    deep = "        _deep = [" + "[" * 90 + "]" * 90 + "]\n"
    source = source.replace(
        "    def attention_kwargs(self) -> dict:\n", "    def attention_kwargs(self) -> dict:\n" + deep
    )
    (repo / "modular" / "modular_mistral.py").write_text(source, encoding="utf-8")
    code, stderr = run_subprocess(repo, "modular/modular_mistral.py")
    assert code == 0, stderr
    assert "_deep = [" in (repo / "generated" / "mistral" / "modeling_mistral.py").read_text(encoding="utf-8")


def test_a_very_long_line_is_shown_short(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "modular" / "modular_toy.py").write_bytes(appended("X = '" + "a" * 1_000_000 + "' +\n"))
    code, stderr = run_in_process(repo, capsys, str(repo / "modular" / "modular_toy.py"))
    assert_refused(code, stderr, "modular/modular_toy.py", "E001", 8, None)
    assert len(stderr) < 2000


def test_control_characters_of_a_line_are_not_printed(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "modular" / "modular_toy.py").write_bytes(appended("class A(:  # \x1b]0;title\x07 \u202e\n"))
    code, stderr = run_in_process(repo, capsys, str(repo / "modular" / "modular_toy.py"))
    assert_refused(code, stderr, "modular/modular_toy.py", "E001", 8, 9)
    assert "\x1b" not in stderr and "\x07" not in stderr and "\u202e" not in stderr


@pytest.mark.parametrize(
    "data",
    [
        b"\xef\xbb\xbf" + TOY.encode(),
        TOY.replace("\n", "\r\n").encode(),
        TOY.replace("\n", "\r").encode(),
        toy_with("class ToyModel", "\fclass ToyModel"),
    ],
    ids=["utf8_byte_order_mark", "crlf", "lone_cr", "form_feed_between_statements"],
)
def test_valid_variants_convert_like_the_plain_text(data: bytes, tmp_path: Path) -> None:
    outputs = []
    for index, text in enumerate((TOY.encode(), data)):
        root = tmp_path / str(index)
        (root / "modular").mkdir(parents=True)
        (root / "modular" / "modular_toy.py").write_bytes(text)
        assert main(["--repo-root", str(root), str(root / "modular" / "modular_toy.py")]) == 0
        outputs.append(
            {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted((root / "generated").rglob("*.py"))}
        )
    assert outputs[0] == outputs[1]


# ----------------------------------------------------------------------------- paths and names


def dangling_symlink(root: Path) -> str:
    (root / "modular" / "modular_toy.py").symlink_to(root / "nowhere.py")
    return "modular/modular_toy.py"


def directory(root: Path) -> str:
    (root / "modular" / "modular_toy.py").mkdir()
    return "modular/modular_toy.py"


def fifo(root: Path) -> str:
    os.mkfifo(root / "modular" / "modular_toy.py")
    return "modular/modular_toy.py"


def symlink_loop(root: Path) -> str:
    (root / "modular" / "modular_toy.py").symlink_to(root / "modular" / "modular_toy.py")
    return "modular/modular_toy.py"


def scratch_copy_of_llama(root: Path) -> str:
    (root / "scratch").mkdir()
    shutil.copy(root / "modular" / "modular_llama.py", root / "scratch" / "modular_llama.py")
    return "scratch/modular_llama.py"


def outside_the_repository(root: Path) -> str:
    (root.parent / "elsewhere").mkdir()
    shutil.copy(root / "modular" / "modular_llama.py", root.parent / "elsewhere" / "modular_llama.py")
    return str(root.parent / "elsewhere" / "modular_llama.py")


def symlink_to_scratch(root: Path) -> str:
    scratch_copy_of_llama(root)
    (root / "modular" / "modular_llama.py").unlink()
    (root / "modular" / "modular_llama.py").symlink_to(root / "scratch" / "modular_llama.py")
    return "modular/modular_llama.py"


def subfolder_of_modular(root: Path) -> str:
    (root / "modular" / "old").mkdir()
    shutil.copy(root / "modular" / "modular_llama.py", root / "modular" / "old" / "modular_llama.py")
    return "modular/old/modular_llama.py"


def dangling_modular_folder(root: Path) -> str:
    shutil.rmtree(root / "modular")
    (root / "modular").symlink_to(root / "gone")
    return "modular/modular_toy.py"


def named(name: str) -> Callable[[Path], str]:
    def make(root: Path) -> str:
        (root / "modular" / name).write_text(TOY, encoding="utf-8")
        return f"modular/{name}"

    return make


PATHS = {
    "not_found": (named("modular_toy.py"), "modular/modular_nothing.py", "E004", "not found"),
    "dangling_symlink": (dangling_symlink, None, "E004", "dangling symlink"),
    "directory": (directory, None, "E004", "is a directory"),
    "fifo": (fifo, None, "E004", "not a regular file"),
    "symlink_loop": (symlink_loop, None, "E004", "symlink loop"),
    "dangling_modular_folder": (dangling_modular_folder, None, "E004", "modular/ is a dangling symlink"),
    "scratch_copy_of_an_existing_model": (scratch_copy_of_llama, None, "E003", "not in modular/"),
    "outside_the_repository": (outside_the_repository, None, "E003", "outside the repository"),
    "symlink_to_a_file_outside_modular": (symlink_to_scratch, None, "E003", "symlink to scratch/modular_llama.py"),
    "subfolder_of_modular": (subfolder_of_modular, None, "E003", "not in modular/"),
    "no_model_name": (named("modular_.py"), None, "E002", "model name"),
    "dash_and_capitals": (named("modular_Foo-bar.py"), None, "E002", "model name"),
    "python_keyword": (named("modular_class.py"), None, "E002", "keyword"),
    "name_too_long": (named(f"modular_{'x' * 101}.py"), None, "E002", "characters long"),
    "not_python": (named("modular_toy.txt"), None, "E002", "model name"),
}


@pytest.mark.parametrize(("make", "given", "code", "words"), PATHS.values(), ids=PATHS.keys())
def test_a_file_not_where_modular_files_belong_is_refused(
    make: Callable[[Path], str],
    given: str | None,
    code: str,
    words: str,
    repo: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made = make(repo)
    argument = given or made
    before = snapshot(repo)
    monkeypatch.chdir(repo)  # the command line takes paths relative to the working directory
    result, stderr = run_in_process(repo, capsys, argument)
    found = assert_refused(result, stderr, argument, code, 1, 1)
    assert words in found["message"], stderr
    assert snapshot(repo) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_file_is_permission_denied(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = repo / "modular" / "modular_toy.py"
    path.write_text(TOY, encoding="utf-8")
    path.chmod(0)
    code, stderr = run_in_process(repo, capsys, str(path))
    assert "permission denied" in assert_refused(code, stderr, "modular/modular_toy.py", "E004", 1, 1)["message"]


def test_a_symlinked_modular_folder_is_read_through(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "repo"
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "modular_toy.py").write_text(TOY, encoding="utf-8")
    root.mkdir()
    (root / "modular").symlink_to(tmp_path / "shared")
    assert main(["--repo-root", str(root), "--all"]) == 0, capsys.readouterr().err
    assert (root / "generated" / "toy" / "modeling_toy.py").is_file()


@pytest.mark.parametrize(
    ("relative", "code", "words"),
    [
        ("modular_small.py", "E003", "not in <tree>/<folder>/"),
        ("small/deeper/modular_small.py", "E003", "not in <tree>/<folder>/"),
        ("small/modular_pil_small.py", "E002", "another model"),
        ("auto/modular_auto.py", "E002", "another model"),
    ],
    ids=["tree_root", "tree_subfolder", "tree_ambiguous_name", "tree_infrastructure_name"],
)
def test_a_tree_takes_modular_files_only_from_its_model_folders(
    relative: str, code: str, words: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "models" / relative
    path.parent.mkdir(parents=True)
    path.write_text(TOY, encoding="utf-8")
    result = main(["--tree", str(tmp_path / "models"), str(path)])
    found = assert_refused(result, capsys.readouterr().err, relative, code, 1, 1)
    assert words in found["message"]
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


# ----------------------------------------------------------------------------- crashes in passes and workers


def raise_recursion(*args: object) -> None:
    raise RecursionError("maximum recursion depth exceeded")


def test_running_out_of_recursion_in_a_pass_is_located_not_a_traceback(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "rename_bases", raise_recursion)
    (repo / "modular" / "modular_toy.py").write_text(TOY + "X = [[[[1]]]]\n", encoding="utf-8")
    models, diagnostics = convert_what_converts([repo / "modular" / "modular_toy.py"], repo)
    assert models == ()
    assert [(d.path, d.line, d.col, d.code) for d in diagnostics] == [("modular/modular_toy.py", 8, 9, "E007")]


def die_converting_bad(parsed: object, loader: object) -> EmittedModel:
    """`convert_model`, except that the worker converting modular_bad.py is killed (as by a segfault)."""
    if getattr(parsed, "model", "") == "bad":
        os.kill(os.getpid(), signal.SIGKILL)
    return convert_model(parsed, loader)  # type: ignore[arg-type]


def test_a_worker_that_dies_is_reported_for_its_file(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "convert_model", die_converting_bad)
    names = ["bad", "one", "two"]
    for name in names:
        (repo / "modular" / f"modular_{name}.py").write_text(TOY.replace("Toy", name.title()), encoding="utf-8")
    paths = [repo / "modular" / f"modular_{name}.py" for name in names]
    models, diagnostics = convert_what_converts(paths, repo, jobs=2)
    assert [model.model for model in models] == ["one", "two"]
    assert [(d.path, d.code) for d in diagnostics] == [("modular/modular_bad.py", "E901")]
    assert isinstance(diagnostics[0], Diagnostic) and "died" in diagnostics[0].message


# ----------------------------------------------------------------------------- never executed

NEVER_RUN = '''"""A modular file whose import would leave marks in {marks}."""
import os

os.makedirs("{marks}/top_level", exist_ok=True)


def mark(name):
    os.makedirs("{marks}/" + name, exist_ok=True)
    return lambda thing: thing


class Meta(type):
    def __new__(cls, *args):
        mark("metaclass")
        return super().__new__(cls, *args)


@mark("decorator")
class ToyBlock(metaclass=Meta):
    mark("class_body")
    size = mark("class_attribute")

    def __init_subclass__(cls):
        mark("subclass")


class ToyModel(ToyBlock):
    def forward(self, x=mark("default")) -> "mark('annotation')":
        return x


raise SystemExit(mark("end_of_module"))
'''


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_the_converter_never_runs_a_modular_file(repo: Path, tmp_path: Path, jobs: str) -> None:
    marks = tmp_path / "marks"
    (repo / "modular" / "modular_toy.py").write_text(NEVER_RUN.format(marks=marks), encoding="utf-8")
    code, stderr = run_subprocess(repo, "-j", jobs, "--all")
    assert code == 0, stderr
    assert "class ToyBlock(metaclass=Meta):" in (repo / "generated" / "toy" / "modeling_toy.py").read_text()
    assert not marks.exists()


# ----------------------------------------------------------------------------- random mutants

MISTRAL = (REPO_ROOT / "modular" / "modular_mistral.py").read_bytes()
DEEP_SNIPPETS = [
    b"X = " + b"(" * 250 + b"1" + b")" * 250 + b"\n",
    b"X = " + b"+".join([b"1"] * 3000) + b"\n",
    b"X = " + b"[" * 120 + b"]" * 120 + b"\n",
    b"X = a" + b".a" * 5000 + b"\n",
    b"X = " + b" or ".join([b"x"] * 5000) + b"\n",
    b"def f(x: '" + b"(" * 1000 + b"int" + b")" * 1000 + b"'): pass\n",
]


@st.composite
def hostile_modular(draw: st.DrawFn) -> bytes:
    """A real modular file (Mistral's) mutated one to three times at random."""
    data = MISTRAL
    for _ in range(draw(st.integers(1, 3))):
        data = draw(st.sampled_from(MUTATIONS))(draw, data)
    return data


def at_line(draw: st.DrawFn, data: bytes) -> tuple[list[bytes], int]:
    lines = data.splitlines(keepends=True) or [b""]
    return lines, draw(st.integers(0, len(lines) - 1))


def truncate(draw: st.DrawFn, data: bytes) -> bytes:
    return data[: draw(st.integers(0, len(data)))]


def flip_byte(draw: st.DrawFn, data: bytes) -> bytes:
    at = draw(st.integers(0, max(len(data) - 1, 0)))
    return data[:at] + bytes([draw(st.integers(0, 255))]) + data[at + 1 :]


def delete_line(draw: st.DrawFn, data: bytes) -> bytes:
    lines, at = at_line(draw, data)
    return b"".join(lines[:at] + lines[at + 1 :])


def repeat_line(draw: st.DrawFn, data: bytes) -> bytes:
    lines, at = at_line(draw, data)
    return b"".join(lines[: at + 1] + lines[at:])


def insert(draw: st.DrawFn, data: bytes, text: bytes) -> bytes:
    lines, at = at_line(draw, data)
    return b"".join([*lines[:at], text, *lines[at:]])


MUTATIONS: list[Callable[[st.DrawFn, bytes], bytes]] = [
    truncate,
    flip_byte,
    delete_line,
    repeat_line,
    lambda draw, data: insert(draw, data, draw(st.sampled_from(DEEP_SNIPPETS))),
    lambda draw, data: insert(draw, data, draw(st.text(max_size=30)).encode("utf-8", "surrogatepass")),
    lambda draw, data: insert(draw, data, draw(st.sampled_from([b"\xff\xfe", b"\xc3", b"\x00", b"\xed\xa0\x80"]))),
    lambda draw, data: data.replace(b"    ", b"\t", draw(st.integers(1, 20))),
    lambda draw, data: insert(draw, data, b"X = '" + b"a" * draw(st.integers(10_000, 300_000)) + b"'\n"),
    lambda draw, data: data.replace(b"\n", draw(st.sampled_from([b"\r\n", b"\r", b"\n\f"]))),
    lambda draw, data: draw(st.sampled_from([b"\xef\xbb\xbf", b"\xff\xfe", b"# coding: latin-1\n"])) + data,
]


def convert_in_child(root: Path, out: Path) -> None:
    """In a forked child: the command line on modular_mistral.py, its stderr to `out`, its exit code
    as the child's (a signal shows as a negative exitcode in the parent)."""
    code = 2
    with open(out, "w", encoding="utf-8") as stderr, open(os.devnull, "w") as stdout:
        # pytest's capture replaced sys.stderr; a native crash's message goes to the descriptor.
        os.dup2(stderr.fileno(), 2)
        sys.stderr, sys.stdout = stderr, stdout
        try:
            code = main(["--repo-root", str(root), "--diff", str(root / "modular" / "modular_mistral.py")])
        finally:
            stderr.flush()
            os._exit(code)


@pytest.fixture(scope="module")
def mutant_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("mutants")
    for folder in ("modular", "generated", "runtime"):
        shutil.copytree(REPO_ROOT / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__"))
    return root


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(data=hostile_modular())
def test_a_mutated_modular_file_converts_or_is_refused_cleanly(data: bytes, mutant_repo: Path) -> None:
    before = snapshot(mutant_repo)
    (mutant_repo / "modular" / "modular_mistral.py").write_bytes(data)
    out = mutant_repo / "stderr.txt"
    child = multiprocessing.get_context("fork").Process(target=convert_in_child, args=(mutant_repo, out))
    child.start()
    child.join(timeout=300)
    if child.is_alive():
        child.kill()
        pytest.fail("the converter did not finish within 300 s")
    stderr = out.read_text(encoding="utf-8", errors="replace")
    assert child.exitcode in (0, 1), f"exit {child.exitcode} (a negative one is a signal)\n{stderr[-3000:]}"
    assert "Traceback" not in stderr and " E900 " not in stderr, stderr[-3000:]
    if child.exitcode == 1:
        first = stderr.split("\n", 1)[0]
        assert re.match(r"(modular/modular_mistral\.py|generated/\S+):\d+:\d+: E\d{3} ", first), stderr[-3000:]
    assert snapshot(mutant_repo) == before
