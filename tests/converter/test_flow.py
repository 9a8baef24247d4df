"""converter/pipeline/flow.py: a model is formatted in a wave only when no batch of the run can format it
otherwise (its absolute imports name no output directory of the run but its own).

Run: python -m pytest tests/converter/test_flow.py -q
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import converter.pipeline.convert as convert_module
from converter.pipeline.convert import convert_models
from converter.pipeline.flow import formats_alone, may_import
from converter.write.emit import EmittedFile, EmittedModel
from tests.converter.conftest import REPO_ROOT

CHAIN = REPO_ROOT / "tests" / "converter" / "golden" / "chain"

RUN = {"llama", "gemma", "mistral"}


def model(text: str) -> EmittedModel:
    return EmittedModel("llama", "llama/modular_llama.py", 1, (EmittedFile("llama/modeling_llama.py", text),), True)


@pytest.mark.parametrize(
    ("text", "alone"),
    [
        ("import torch\nfrom torch import nn\n", True),
        ("from ..gemma.modeling_gemma import GemmaMLP\nfrom .configuration_llama import LlamaConfig\n", True),
        ("import llama.utils\n", True),  # its own directory is in every batch it is in
        ("import gemma\n", False),
        ("def f():\n    from mistral.modeling_mistral import x\n", False),
        ("import torch.nn as nn, gemma.x as y\n", False),
        ("x = 1; import gemma\n", False),
        ("import torch, \\\n    gemma\n", False),  # a backslash continues the import
        ("from \\\n gemma import x\n", False),
        ("import \uff47emma\n", False),  # NFKC: the fullwidth letter reads as `g`
        ('"""import gemma"""\n', True),  # only a word of a string: parsed, then alone
        ("def (:\n", True),  # nothing imported (ruff's failure is reported by model either way)
        ("import gemma\ndef (:\n", False),
    ],
)
def test_formats_alone_unless_an_import_names_another_output_directory(text: str, alone: bool) -> None:
    assert formats_alone(model(text), "llama", RUN) is alone


def test_a_run_writing_to_the_root_or_src_formats_by_levels() -> None:
    assert formats_alone(model("import torch\n"), "llama", None) is False


PIECES = ["import", "from", "gemma", "torch", ".", ",", " as ", " ", "\t", "\\\n", "\n", ";", "#", '"', "(", ")", "x"]


@given(st.lists(st.sampled_from(PIECES), max_size=12))
@settings(max_examples=400, deadline=None)
def test_the_text_scan_never_misses_an_import_the_parse_finds(pieces: list[str]) -> None:
    text = "".join(pieces)
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return
    heads = {
        alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    }
    heads |= {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and not node.level
    }
    if "gemma" in heads:
        assert may_import(text, {"gemma"})


def test_models_no_other_waits_for_are_formatted_together(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Five leaves on the chain's tiny: formatted in fewer ruff runs than models, with the bytes of `-j 1`."""
    batches: list[int] = []
    original = convert_module.format_models
    monkeypatch.setattr(
        convert_module, "format_models", lambda models: batches.append(len(models)) or original(models)
    )
    outputs = {}
    for jobs in (1, 2):
        repo = tmp_path / str(jobs)
        shutil.copytree(CHAIN / "modular", repo / "modular")
        for index in range(5):
            leaf = f"from generated.tiny.modeling_tiny import TinyBlock\n\n\nclass Leaf{index}Block(TinyBlock):\n    pass\n"
            (repo / "modular" / f"modular_leaf{index}.py").write_text(leaf, encoding="utf-8")
        batches.clear()
        paths = sorted((repo / "modular").glob("*.py"))
        outputs[jobs] = {file.path: file.text for model in convert_models(paths, repo, jobs) for file in model.files}
    # the -j 2 run's: tiny alone (all wait for it), toy with the leaves finished by then (apex waits
    # for it), the rest when nothing runs; a ruff run per finish would be 4 at least (2 workers)
    assert sum(batches) == 8 and len(batches) <= 3, batches
    assert outputs[1] == outputs[2]
