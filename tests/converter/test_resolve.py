"""Proves the resolve_bases pass: imports from generated models are found and loaded through the
BaseLoader (parsed once, in-memory texts of this run preferred to stale files), the main base is
the model most names come from, and every bad import is an error at its path:line:col with a fix.

Run: python -m pytest tests/converter/test_resolve.py -q
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import converter.read.bases as bases_module
import converter.read.parse as parse_module
from converter import ConversionError
from converter.read.bases import BaseLoader
from converter.read.parse import parse_modular
from converter.read.resolve import resolve_bases
from tests.converter.conftest import write_base, write_modular

Inherit = Callable[..., dict[str, str]]
TINY = {"modeling": "from torch import nn\n\n\nclass TinyMLP(nn.Module):\n    pass\n\n\ndef helper():\n    pass\n"}
OTHER = {"modeling": "def helper():\n    pass\n\n\ndef other():\n    pass\n"}


def refusal(inherit: Inherit, source: str) -> tuple[int, int, str, str, str]:
    with pytest.raises(ConversionError) as caught:
        inherit(source, {"tiny": TINY})
    [diagnostic] = caught.value.diagnostics
    return diagnostic.line, diagnostic.col, diagnostic.code, diagnostic.message, diagnostic.fix


def test_unknown_model_is_e101_with_the_known_models(inherit: Inherit) -> None:
    line, col, code, message, fix = refusal(inherit, "import torch\nfrom generated.tiiny.modeling_tiiny import X\n")
    assert (line, col, code) == (2, 44, "E101")
    assert message == "unknown model 'tiiny': there is no generated/tiiny/ package"
    assert "tiny" in fix and "modular/modular_tiiny.py" in fix


def test_unknown_module_is_e102(inherit: Inherit) -> None:
    line, col, code, message, fix = refusal(inherit, "from generated.tiny.tokenization_tiny import TinyMLP\n")
    assert (line, code, message) == (1, "E102", "unknown module generated.tiny.tokenization_tiny")
    assert fix == "import from one of: generated.tiny.modeling_tiny"


def test_unknown_name_is_e103_with_close_matches(inherit: Inherit) -> None:
    line, col, code, message, fix = refusal(inherit, "from generated.tiny.modeling_tiny import TinyMPL\n")
    assert (line, col, code) == (1, 42, "E103")
    assert message == "TinyMPL is not defined in generated/tiny/modeling_tiny.py"
    assert fix == "did you mean TinyMLP?"


def test_a_name_imported_and_defined_is_e104(inherit: Inherit) -> None:
    source = "from generated.tiny.modeling_tiny import helper\n\n\ndef helper():\n    pass\n"
    line, col, code, message, _ = refusal(inherit, source)
    assert (line, col, code) == (4, 1, "E104")
    assert message == "helper is defined here and also imported from the tiny model (line 1)"


def test_a_plain_import_of_a_generated_module_is_e105(inherit: Inherit) -> None:
    line, col, code, _, fix = refusal(inherit, "import generated.tiny.modeling_tiny\n")
    assert (line, col, code) == (1, 1, "E105")
    assert fix.startswith("import names explicitly")


def test_the_main_base_is_the_model_most_names_come_from(tmp_path: Path) -> None:
    write_base(tmp_path, "tiny", TINY)
    write_base(tmp_path, "other", OTHER)
    source = (
        "from generated.other.modeling_other import other\nfrom generated.tiny.modeling_tiny import TinyMLP, helper\n"
    )
    parsed = parse_modular(write_modular(tmp_path, source), tmp_path)
    resolved = resolve_bases(parsed, BaseLoader(tmp_path).bases(["other", "tiny"]))
    assert [package.model for package in resolved.packages] == ["tiny", "other"]
    assert [(item.model, item.name) for item in resolved.imports] == [
        ("other", "other"),
        ("tiny", "TinyMLP"),
        ("tiny", "helper"),
    ]


def test_a_base_is_parsed_once_per_loader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_base(tmp_path, "tiny", TINY)
    calls: list[str] = []
    original = bases_module.parse_base
    monkeypatch.setattr(
        bases_module, "parse_base", lambda path, text, **kw: calls.append(path) or original(path, text, **kw)
    )
    loader = BaseLoader(tmp_path)
    assert loader.package("tiny") is loader.package("tiny")
    assert calls == ["generated/tiny/modeling_tiny.py"]


def test_in_memory_texts_of_this_run_replace_the_files_on_disk(tmp_path: Path) -> None:
    write_base(tmp_path, "tiny", TINY)
    loader = BaseLoader(tmp_path)
    loader.add_texts({"generated/tiny/modeling_tiny.py": "def fresh():\n    pass\n", "generated/tiny/__init__.py": ""})
    package = loader.package("tiny")
    assert package is not None
    assert [file.path for file in package.files] == ["generated/tiny/modeling_tiny.py"]
    assert package.files[0].module.code == "def fresh():\n    pass\n"


def test_only_texts_from_disk_are_checked_by_cpython_before_libcst(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A text of this run was parsed by CPython once formatted (format.py): not again here."""
    write_base(tmp_path, "tiny", TINY)
    write_base(tmp_path, "other", OTHER)
    checked: list[str] = []
    original = parse_module.check_source
    monkeypatch.setattr(parse_module, "check_source", lambda text, path: checked.append(path) or original(text, path))
    loader = BaseLoader(tmp_path)
    loader.add_texts({"generated/tiny/modeling_tiny.py": "def fresh():\n    pass\n"})
    assert loader.package("tiny") is not None and loader.package("other") is not None
    assert checked == ["generated/other/modeling_other.py"]


def test_a_base_file_that_does_not_parse_is_e107(inherit: Inherit) -> None:
    with pytest.raises(ConversionError) as caught:
        inherit("from generated.tiny.modeling_tiny import TinyMLP\n", {"tiny": {"modeling": "class TinyMLP(:\n"}})
    [diagnostic] = caught.value.diagnostics
    assert (diagnostic.path, diagnostic.code) == ("generated/tiny/modeling_tiny.py", "E107")
    assert diagnostic.fix == "regenerate the base model with python converter/run.py --all"
