"""converter/pipeline/scan.py: the scan of a modular file finds the base models its libcst parse finds, on
every import form, on this repository's modular files and on the upstream corpus (when unpacked);
a file CPython rejects gets the full parse's E001; where a parse disagrees with the scan, the run
starts over from full parses and gives their result.

Run: python -m pytest tests/converter/test_scan.py -q
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

import converter.pipeline.scan as scan_module
from converter import ConversionError
from converter.layout import REPO, TREE, Layout
from converter.pipeline.convert import convert_what_converts
from converter.pipeline.scan import ScanDisagrees, scan_each, scan_modular
from converter.read.parse import parse_modular
from converter.read.resolve import base_imports
from tests.converter.conftest import REPO_ROOT, write_modular

CORPUS = REPO_ROOT / ".cache" / "upstream" / "unpacked-5.23.0-library" / "transformers" / "models"
CHAIN = REPO_ROOT / "tests" / "converter" / "golden" / "chain"

IMPORTS = """\
import os, generated.gemma
from generated import llama
from generated.mistral import MistralModel
from generated.qwen2.modeling_qwen2 import Qwen2MLP; from generated.llama.modeling_llama import LlamaMLP
from ..gemma.modeling_gemma import GemmaMLP
from ..auto import AutoModel
from ...models.siglip.configuration_siglip import SiglipConfig
from ...modeling_utils import PreTrainedModel
from transformers.models.idefics2.modeling_idefics2 import Idefics2Model
from .configuration_toy import ToyConfig
from ..llava.modeling_llava import *
from ..data2vec.modeling_data2vec_audio import Data2VecAudioModel
from ..clip import CLIPModel
if True:
    from generated.gemma2.modeling_gemma2 import Gemma2MLP
    from ..gemma2.modeling_gemma2 import Gemma2MLP
"""


def parsed_bases(path: Path, root: Path, layout: Layout) -> tuple[str, ...]:
    return tuple(base_imports(parse_modular(path, root, layout)))


@pytest.mark.parametrize("layout", [REPO, TREE])
def test_the_scan_finds_the_bases_of_every_import_form(tmp_path: Path, layout: Layout) -> None:
    path = write_modular(tmp_path, IMPORTS)
    scanned = scan_modular(path, tmp_path, layout)
    assert scanned.from_ast
    assert scanned.bases == parsed_bases(path, tmp_path, layout)
    assert scanned.bases == (
        ("mistral", "qwen2", "llama") if layout is REPO else ("gemma", "siglip", "idefics2", "llava", "data2vec_audio")
    )


def test_the_scan_agrees_with_the_parse_on_this_repository() -> None:
    paths = [*sorted((REPO_ROOT / "modular").glob("modular_*.py")), *sorted((CHAIN / "modular").glob("*.py"))]
    for path in paths:
        root = REPO_ROOT if path.is_relative_to(REPO_ROOT / "modular") else CHAIN
        assert scan_modular(path, root).bases == parsed_bases(path, root, REPO), path


@pytest.mark.skipif(not CORPUS.is_dir(), reason="the upstream corpus is not unpacked (run utils/bench_upstream.py)")
def test_the_scan_agrees_with_the_parse_on_the_upstream_corpus() -> None:
    paths = sorted(CORPUS.glob("*/modular_*.py"))
    assert len(paths) > 300
    for path in paths:
        assert scan_modular(path, CORPUS, TREE).bases == parsed_bases(path, CORPUS, TREE), path


def test_a_large_scan_in_worker_processes_equals_one_in_this_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = [write_modular(tmp_path, IMPORTS, f"toy{index}") for index in range(3)]
    paths.insert(1, write_modular(tmp_path, "class A(:\n    pass\n", "broken"))
    monkeypatch.setattr(scan_module, "PARALLEL_SCAN", 2)
    serial_diagnostics: list = []
    serial = scan_each(paths, tmp_path, REPO, 1, serial_diagnostics)
    parallel_diagnostics: list = []
    parallel = scan_each(paths, tmp_path, REPO, 2, parallel_diagnostics)
    assert [scanned.bases for scanned in parallel] == [scanned.bases for scanned in serial]
    assert [scanned.path for scanned in parallel] == [scanned.path for scanned in serial] == [paths[0], *paths[2:]]
    assert parallel_diagnostics == serial_diagnostics and [d.code for d in serial_diagnostics] == ["E001"]


def test_a_file_cpython_rejects_gets_the_full_parse_error(tmp_path: Path) -> None:
    path = write_modular(tmp_path, "from generated.llama.modeling_llama import LlamaMLP\nclass A(:\n    pass\n")
    with pytest.raises(ConversionError) as scanned:
        scan_modular(path, tmp_path)
    with pytest.raises(ConversionError) as parsed:
        parse_modular(path, tmp_path)
    assert scanned.value.diagnostics == parsed.value.diagnostics
    assert scanned.value.diagnostics[0].code == "E001"


def test_a_file_only_libcst_parses_is_refused_by_scan_and_parse_alike(tmp_path: Path) -> None:
    # `type X = int` is Python 3.12: libcst parses it, CPython 3.11 (which runs the output) does not.
    path = write_modular(tmp_path, "from generated.llama.modeling_llama import LlamaMLP\ntype X = int\n")
    with pytest.raises(ConversionError) as scanned:
        scan_modular(path, tmp_path)
    with pytest.raises(ConversionError) as parsed:
        parse_modular(path, tmp_path)
    assert scanned.value.diagnostics == parsed.value.diagnostics
    assert [(d.line, d.code) for d in scanned.value.diagnostics] == [(2, "E001")]


def test_a_parse_that_disagrees_with_the_scan_raises(tmp_path: Path) -> None:
    path = write_modular(tmp_path, "from generated.llama.modeling_llama import LlamaMLP\n")
    scanned = scan_modular(path, tmp_path)
    path.write_text("from generated.gemma.modeling_gemma import GemmaMLP\n", encoding="utf-8")
    with pytest.raises(ScanDisagrees):
        scanned.parse()
    path.write_text(textwrap.dedent("class A(:\n    pass\n"), encoding="utf-8")
    with pytest.raises(ScanDisagrees):
        scanned.parse()


def test_a_run_whose_scan_disagrees_with_a_parse_starts_over(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(CHAIN / "modular", repo / "modular")
    paths = sorted((repo / "modular").glob("*.py"))
    expected = convert_what_converts(paths, repo, jobs=1)
    # A scan that misses every base: the first worker's parse disagrees, and the run starts over.
    monkeypatch.setattr(scan_module, "ast_bases", lambda tree, layout: ())
    assert convert_what_converts(paths, repo, jobs=2) == expected
    assert len(expected[0]) == 3


def test_a_cycle_is_the_same_e106_scanned_or_parsed(tmp_path: Path) -> None:
    write_modular(tmp_path, "from generated.bee.modeling_bee import BeeModel\n", model="ant")
    write_modular(tmp_path, "import os\n\nfrom generated.ant.modeling_ant import AntModel\n", model="bee")
    paths = sorted((tmp_path / "modular").glob("*.py"))
    one, two = (convert_what_converts(paths, tmp_path, jobs=jobs) for jobs in (1, 2))
    assert one == two
    assert [(d.path, d.line, d.col, d.code) for d in two[1]] == [("modular/modular_ant.py", 1, 1, "E106")]
