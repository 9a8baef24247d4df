"""converter/pipeline/flow.py: a model is formatted in a wave only when no batch of the run can format it
otherwise (its absolute imports name no output directory of the run but its own).

Run: python -m pytest tests/converter/test_flow.py -q
"""

from __future__ import annotations

import pytest

from converter.pipeline.flow import formats_alone
from converter.write.emit import EmittedFile, EmittedModel

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
        ("def (:\n", False),
    ],
)
def test_formats_alone_unless_an_import_names_another_output_directory(text: str, alone: bool) -> None:
    assert formats_alone(model(text), "llama", RUN) is alone


def test_a_run_writing_to_the_root_or_src_formats_by_levels() -> None:
    assert formats_alone(model("import torch\n"), "llama", None) is False
