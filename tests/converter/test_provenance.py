"""Provenance (converter/write/provenance.py, converter/write/where.py): every line of a generated file
knows where it was written, and `converter/run.py --where FILE:LINE` says so without converting.

- Every statement of every generated file in the repository (every class, function, method and
  statement in them) is answered with a place that writes that code: a definition of the same
  name, a statement with the same code (model names made equal).
- A statement inlined by unrolling `super().method(...)` points at the base's line, the override's
  own statements at the modular file, through the chain of generated files.
- The map is a generated file: the checker fails when it is edited, `--where` refuses a map older
  than its file, and a traceback from a generated model is annotated with modular origins.

    python -m pytest -q tests/converter/test_provenance.py
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from converter.run import main
from converter.write.provenance import Canon
from converter.write.where import WhereError, annotate_traceback, where
from tests.converter.conftest import REPO_ROOT, write_modular

GENERATED = REPO_ROOT / "generated"
RUN_PY = REPO_ROOT / "converter" / "run.py"


def statement_at(tree: ast.Module, line: int) -> ast.stmt | None:
    """The outermost statement starting at `line` (decorators count as its start)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.stmt):
            first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", ()))])
            if line in (first, node.lineno):
                return node
    return None


def same_code(ours: ast.stmt, origin: ast.stmt, canon: Canon) -> bool:
    """The origin writes `ours`: the same definition, the same statement (its header for compound
    ones), or the assignment it was merged from (`x = 1` over a base field `x: int` keeps the
    annotation; `__all__` lists what the file defines of the names written there)."""
    if isinstance(ours, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return type(origin) is type(ours) and canon(origin.name) == canon(ours.name)
    if canon.header(ours) == canon.header(origin):
        return True
    targets = {canon.dump(t) for t in getattr(ours, "targets", [getattr(ours, "target", None)]) if t is not None}
    origin_targets = {canon.dump(t) for t in getattr(origin, "targets", [getattr(origin, "target", None)]) if t}
    return bool(targets) and targets == origin_targets and isinstance(origin, (ast.Assign, ast.AnnAssign))


def generated_files() -> list[Path]:
    return sorted(path for path in GENERATED.glob("*/*.py") if path.name != "__init__.py")


@pytest.mark.parametrize("path", generated_files(), ids=lambda path: f"{path.parent.name}/{path.name}")
def test_where_answers_every_statement_of_every_generated_file(path: Path) -> None:
    models = json.loads((path.parent / "provenance.json").read_text(encoding="utf-8"))["models"]
    canon = Canon(tuple(models))
    trees: dict[str, ast.Module] = {}
    wrong = []
    checked = 0
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.stmt) or isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        answer = where(path, node.lineno, REPO_ROOT)
        assert answer.chain, f"{path.name}:{node.lineno} has no origin: {ast.unparse(node).splitlines()[0]}"
        origin_path, origin_line = answer.chain[0].rsplit(":", 1)
        assert origin_path.startswith("modular/modular_"), answer.chain
        if origin_path not in trees:
            trees[origin_path] = ast.parse((REPO_ROOT / origin_path).read_text(encoding="utf-8"))
        origin = statement_at(trees[origin_path], int(origin_line))
        checked += 1
        if origin is None or not same_code(node, origin, canon):
            wrong.append(f"{path.name}:{node.lineno} {ast.unparse(node).splitlines()[0]!r} <- {answer.chain[0]}")
    assert checked > 10  # every generated file has more statements than that: the walk saw them
    assert not wrong, "\n".join(wrong)


def test_the_chain_goes_through_each_generated_file_in_order() -> None:
    path = GENERATED / "gemma2" / "modeling_gemma2.py"
    text = path.read_text(encoding="utf-8").splitlines()

    def chain_of(prefix: str) -> tuple[str, ...]:
        return where(
            path, next(n for n, line in enumerate(text, 1) if line.strip().startswith(prefix)), REPO_ROOT
        ).chain

    # Gemma2MLP is GemmaMLP, which Gemma pulls from Llama unchanged: written in Llama's modular file
    mlp = chain_of("class Gemma2MLP")
    assert mlp[0].startswith("modular/modular_llama.py:")
    assert [hop.rsplit(":", 1)[0] for hop in mlp[1:]] == [
        "generated/llama/modeling_llama.py",
        "generated/gemma/modeling_gemma.py",
    ]
    # Gemma2RMSNorm is declared in Gemma2's modular file (`pass`); its offset-by-one scaling is Gemma's
    assert chain_of("class Gemma2RMSNorm")[0].startswith("modular/modular_gemma2.py:")
    scale = chain_of("output = output * (1.0 + self.weight")
    assert scale[0].startswith("modular/modular_gemma.py:")
    assert [hop.rsplit(":", 1)[0] for hop in scale[1:]] == ["generated/gemma/modeling_gemma.py"]
    # Gemma2's decoder layer is its own (four norms)
    assert chain_of("class Gemma2DecoderLayer")[0].startswith("modular/modular_gemma2.py:")


def test_where_on_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    path = GENERATED / "mistral" / "modeling_mistral.py"
    text = path.read_text(encoding="utf-8").splitlines()
    line = next(n for n, t in enumerate(text, 1) if t.startswith("class MistralAttention"))
    assert main(["--where", f"{path}:{line}"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("modular/modular_mistral.py:")  # Mistral's attention is its own class
    assert out[-1] == f"  -> generated/mistral/modeling_mistral.py:{line}"
    assert main(["--where", f"{path}:1"]) == 0
    assert "no single origin" in capsys.readouterr().out


@pytest.mark.parametrize(
    "place, message",
    [
        ("generated/mistral/modeling_mistral.py", "expected FILE:LINE"),
        ("generated/mistral/modeling_mistral.py:0", "expected FILE:LINE"),
        ("generated/mistral/modeling_mistral.py:99999", "the file has"),
        ("modular/modular_mistral.py:3", "not a file under"),
        ("generated/mistral/provenance.json:3", "not a generated model file"),
        ("generated/nothing/modeling_nothing.py:3", "does not exist"),
    ],
)
def test_where_refuses_what_it_cannot_answer(place: str, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--repo-root", str(REPO_ROOT), "--where", str(REPO_ROOT / place)]) == 2
    assert message in capsys.readouterr().err


BASE = """
import torch
from torch import nn


class ToyConfig:
    def __init__(self, hidden: int = 4) -> None:
        self.hidden = hidden


class ToyBlock(nn.Module):
    def __init__(self, config: ToyConfig) -> None:
        super().__init__()
        self.proj = nn.Linear(config.hidden, config.hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.proj(x)
        y = torch.relu(y)
        return y + x
"""
DERIVED = """
import torch

from generated.toy.modeling_toy import ToyBlock, ToyConfig


class DerivedConfig(ToyConfig):
    pass


class DerivedBlock(ToyBlock):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x * 2
        out = super().forward(x)
        return out - 1
"""


def line_of(text: str, needle: str) -> int:
    return next(number for number, line in enumerate(text.splitlines(), 1) if needle in line)


def test_unrolled_statements_point_at_the_base_and_the_override(tmp_path: Path) -> None:
    base = write_modular(tmp_path, BASE, model="toy")
    derived = write_modular(tmp_path, DERIVED, model="derived")
    assert main(["--repo-root", str(tmp_path), str(base), str(derived)]) == 0
    output = tmp_path / "generated" / "derived" / "modeling_derived.py"
    text = output.read_text(encoding="utf-8")
    modular = derived.read_text(encoding="utf-8")

    def origin(needle: str) -> tuple[str, ...]:
        return where(output, line_of(text, needle), tmp_path).chain

    assert origin("x = x * 2") == (f"modular/modular_derived.py:{line_of(modular, 'x = x * 2')}",)
    assert origin("torch.relu(") == (
        f"modular/modular_toy.py:{line_of(BASE, 'torch.relu(')}",
        f"generated/toy/modeling_toy.py:{line_of((tmp_path / 'generated/toy/modeling_toy.py').read_text(), 'relu')}",
    )
    assert origin("self.proj = nn.Linear")[0] == f"modular/modular_toy.py:{line_of(BASE, 'self.proj = nn.Linear')}"
    assert origin("class DerivedBlock")[0] == f"modular/modular_derived.py:{line_of(modular, 'class DerivedBlock')}"


def test_the_map_is_checked_like_any_generated_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = write_modular(tmp_path, BASE, model="toy")
    args = ["--repo-root", str(tmp_path), str(base)]
    assert main(args) == 0
    sidecar = tmp_path / "generated" / "toy" / "provenance.json"
    sidecar.write_text(sidecar.read_text(encoding="utf-8").replace('"modular/modular_toy.py:', '"x.py:'))
    capsys.readouterr()
    assert main(["--check", *args]) == 1
    assert "generated/toy/provenance.json" in capsys.readouterr().out
    assert main(args) == 0
    modeling = tmp_path / "generated" / "toy" / "modeling_toy.py"
    modeling.write_text(modeling.read_text(encoding="utf-8") + "\n# edited\n")
    with pytest.raises(WhereError, match="differs from the file its map was made for"):
        where(modeling, 3, tmp_path)


def test_a_traceback_from_a_generated_model_is_annotated_with_modular_origins(tmp_path: Path) -> None:
    from generated.llama import LlamaConfig
    from generated.llama.modeling_llama import LlamaMLP

    mlp = LlamaMLP(LlamaConfig(hidden_size=8, intermediate_size=16, num_attention_heads=2, num_key_value_heads=2))
    try:
        mlp(torch.zeros(2, 3))  # wrong hidden size: fails inside the generated forward
    except RuntimeError:
        import traceback

        report = traceback.format_exc()
    else:  # pragma: no cover - the call above must fail
        pytest.fail("the MLP accepted a wrong hidden size")
    annotated = "".join(annotate_traceback(report.splitlines(keepends=True), REPO_ROOT))
    frame = next(line for line in annotated.splitlines() if "generated/llama/modeling_llama.py" in line)
    after = annotated.splitlines()[annotated.splitlines().index(frame) + 1]
    assert after.strip().startswith("[modular/modular_llama.py:")
    result = subprocess.run(
        [sys.executable, str(RUN_PY), "--where-traceback"], input=report, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0
    assert result.stdout == annotated


def test_no_map_in_a_transformers_tree(tmp_path: Path) -> None:
    tree = tmp_path / "models"
    (tree / "toy").mkdir(parents=True)
    (tree / "toy" / "modular_toy.py").write_text(textwrap.dedent(BASE), encoding="utf-8")
    assert main(["--tree", str(tree), str(tree / "toy" / "modular_toy.py")]) == 0
    assert not list(tree.rglob("provenance.json"))


def test_every_generated_package_has_its_map() -> None:
    packages = sorted(path.parent for path in GENERATED.glob("*/__init__.py"))
    assert packages
    assert all((package / "provenance.json").is_file() for package in packages)
    # the map is data only: no generated module reads it
    assert not any("provenance" in path.read_text(encoding="utf-8") for path in GENERATED.rglob("*.py"))


@pytest.mark.parametrize(
    "damage",
    [
        "[" * 100_000 + "]" * 100_000,  # deeper than json's recursion
        '{"format": 1, "models": ["toy"], "files": {"generated/toy/modeling_toy.py": '
        '{"sha256": "x", "lines": [[1, 1000000000000, ["a.py:1"]], [2, 1, []], ["1", 2, 3], 7]}}}',
        '{"format": 1, "models": 5, "files": []}',
        "not json at all",
    ],
    ids=["deep", "huge-range-and-bad-rows", "wrong-types", "not-json"],
)
def test_a_damaged_base_map_is_rebuilt_around_never_trusted(tmp_path: Path, damage: str) -> None:
    """A base model's map is read from disk: a damaged one costs the base's chains, nothing else
    (no exception, no loop over a range it names, no line outside the file)."""
    base = write_modular(tmp_path, BASE, model="toy")
    derived = write_modular(tmp_path, DERIVED, model="derived")
    assert main(["--repo-root", str(tmp_path), str(base)]) == 0
    (tmp_path / "generated" / "toy" / "provenance.json").write_text(damage, encoding="utf-8")
    assert main(["--repo-root", str(tmp_path), str(derived)]) == 0
    output = tmp_path / "generated" / "derived" / "modeling_derived.py"
    text = output.read_text(encoding="utf-8")
    # the base's own lines are still found, as places in its generated file
    chain = where(output, line_of(text, "torch.relu("), tmp_path).chain
    assert chain == (
        f"generated/toy/modeling_toy.py:{line_of((tmp_path / 'generated/toy/modeling_toy.py').read_text(), 'relu')}",
    )
    with pytest.raises(WhereError):
        where(tmp_path / "generated" / "toy" / "modeling_toy.py", 3, tmp_path)
