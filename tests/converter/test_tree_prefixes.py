"""Upstream's rename prefixes in a tree (converter/rename/prefixes.py): one new name per base file, read off
the modular classes that subclass it, and renaming in any casing.

    python -m pytest tests/converter/test_tree_prefixes.py -q
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import libcst as cst

from converter import convert_files
from converter.layout import TREE
from converter.read.bases import BasePackage
from converter.rename.prefixes import class_prefix, common_partial_suffix, file_prefixes, lowercase_name, model_types
from converter.rename.renamer import Rename

KNOWN = {"tiny": "Tiny", "small": "Small"}


def package(model: str, stem: str, source: str) -> BasePackage:
    from converter.read.bases import BaseFile

    module = cst.parse_module(textwrap.dedent(source))
    return BasePackage(model, (BaseFile(f"{model}/{stem}.py", "modeling", module),))


def test_a_class_prefix_is_what_precedes_the_common_suffix() -> None:
    assert common_partial_suffix("SmallTextMLP", "TinyMLP") == "MLP"
    assert class_prefix("SmallTextMLP", "TinyMLP", "Small", "tiny", KNOWN) == "SmallText"
    # no upper-case suffix: the default; `<default><base>`: the default followed by the base's name
    assert class_prefix("Smallish", "Tiny", "Small", "tiny", KNOWN) == "Small"
    assert class_prefix("SmallTinyMLP", "TinyMLP", "Small", "tiny", KNOWN) == "SmallTiny"
    # a prefix shorter than the default, in a class named with the default: the default
    assert class_prefix("RTDetrAttention", "DetrAttention", "RTDetr", "detr", {"detr": "Detr"}) == "RTDetr"


def test_the_most_frequent_prefix_wins_and_a_tie_goes_to_the_default() -> None:
    base = package("tiny", "modeling_tiny", "class TinyMLP: pass\n")
    classes = [("SmallTextMLP", "TinyMLP", "tiny", "modeling_tiny")] * 2 + [
        ("SmallNorm", "TinyNorm", "tiny", "modeling_tiny")
    ]
    assert file_prefixes(classes, [base], "small", KNOWN) == {("tiny", "modeling_tiny"): ("small_text", "SmallText")}
    tie = classes[1:]
    assert file_prefixes(tie, [base], "small", KNOWN) == {("tiny", "modeling_tiny"): ("small", "Small")}


def test_a_prefix_that_would_collide_with_the_base_falls_back_to_the_default() -> None:
    """`SmallText` read back as the base's (`TinyText`) starts a class of the base file."""
    base = package("tiny", "modeling_tiny", "class TinyMLP: pass\nclass TinyTextModel: pass\n")
    classes = [("SmallTextMLP", "TinyMLP", "tiny", "modeling_tiny")]
    assert file_prefixes(classes, [base], "small", KNOWN) == {("tiny", "modeling_tiny"): ("small", "Small")}


def test_names_come_from_config_classes_then_from_words() -> None:
    module = cst.parse_module('class DINOv3ViTConfig:\n    model_type = "dinov3-vit"\n')
    known = model_types([module])
    assert known == {"dinov3_vit": "DINOv3ViT"}
    assert lowercase_name("DINOv3ViT", known) == "dinov3_vit"
    assert lowercase_name("AriaText", known) == "aria_text"


BASE_CONFIG = '''\
from ...configuration_utils import PreTrainedConfig


class TinyViTConfig(PreTrainedConfig):
    """Like [tiny_vit/TinyViT-7b](https://huggingface.co/tiny_vit/TinyViT-7b)."""

    model_type = "tiny_vit"


__all__ = ["TinyViTConfig"]
'''

BASE_MODELING = '''\
from torch import nn

from .configuration_tiny_vit import TinyViTConfig


class TinyVitDropPath(nn.Module):
    def forward(self, x):
        return x


class TinyViTMLP(nn.Module):
    """The MLP of tiny_vit/TinyViT-7b."""

    def __init__(self, config: TinyViTConfig):
        super().__init__()
        self.drop = TinyVitDropPath()


__all__ = ["TinyViTMLP"]
'''

MODULAR = """\
from ..tiny_vit.configuration_tiny_vit import TinyViTConfig
from ..tiny_vit.modeling_tiny_vit import TinyViTMLP


class SmallTextConfig(TinyViTConfig):
    model_type = "small_text"


class SmallTextMLP(TinyViTMLP):
    pass
"""


def convert(root: Path) -> dict[str, str]:
    files = {
        "tiny_vit/__init__.py": "",
        "tiny_vit/configuration_tiny_vit.py": BASE_CONFIG,
        "tiny_vit/modeling_tiny_vit.py": BASE_MODELING,
        "small/__init__.py": "",
        "small/modular_small.py": MODULAR,
    }
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text, encoding="utf-8")
    outputs = convert_files([root / "small" / "modular_small.py"], root, layout=TREE)
    return {path.relative_to(root).as_posix(): text for path, text in outputs.items()}


def test_a_base_file_is_renamed_with_the_prefix_of_the_classes_built_on_it(tmp_path: Path) -> None:
    """Every class built on tiny_vit is `SmallText...`: its files are renamed tiny_vit -> small_text,
    TinyViT -> SmallText, in names, strings and docstrings alike, and in any casing (`TinyVit`)."""
    outputs = convert(tmp_path)
    modeling = outputs["small/modeling_small.py"]
    assert "class SmallTextDropPath(nn.Module):" in modeling
    assert "self.drop = SmallTextDropPath()" in modeling
    assert '"""The MLP of small_text/SmallText-7b."""' in modeling
    assert "config: SmallTextConfig" in modeling
    assert "TinyVit" not in modeling and "tiny_vit" not in modeling
    config = outputs["small/configuration_small.py"]
    assert "[small_text/SmallText-7b](https://huggingface.co/small_text/SmallText-7b)" in config


def test_names_are_renamed_in_any_casing_in_a_tree_only() -> None:
    """Upstream renames `Dinov3ViTDropPath` for the dinov3_vit base (`DINOv3ViT`); the repository's rule
    is case-sensitive and keeps it."""
    repo = Rename("dinov3_vit", "eomt_dinov3", "DINOv3ViT", "EomtDinov3")
    tree = Rename("dinov3_vit", "eomt_dinov3", "DINOv3ViT", "EomtDinov3", any_case=True)
    assert repo.name("Dinov3ViTDropPath") == "Dinov3ViTDropPath"
    assert tree.name("Dinov3ViTDropPath") == "EomtDinov3DropPath"
    assert tree.name("DINOv3ViTLayer") == repo.name("DINOv3ViTLayer") == "EomtDinov3Layer"


def test_a_name_keeps_a_lowercase_model_name_inside_a_word_while_prose_renames_it() -> None:
    """Upstream leaves `use_mambapy` as it is in falcon_mamba (built on mamba), yet writes `sam2ple` for
    "sample" in sam2's docstrings (built on sam): identifiers and prose follow different rules."""
    tree = Rename("mamba", "falcon_mamba", "Mamba", "FalconMamba", any_case=True)
    assert tree.name("use_mambapy") == "use_mambapy"
    assert tree.name("is_mambapy_available") == "is_mambapy_available"
    assert tree.name("mamba_cache") == "falcon_mamba_cache"
    assert tree.name("MambaMixer") == "FalconMambaMixer"
    assert tree.name("MAMBA_START") == "FALCON_MAMBA_START"
    assert tree.prose('"the mambapy backend"') == '"the falcon_mambapy backend"'
    sam = Rename("sam", "sam2", "Sam", "Sam2", any_case=True)
    assert sam.prose('"""Number of points to sample."""') == '"""Number of points to sam2ple."""'
    assert sam.name("sample_points") == "sample_points"
    assert sam.name("sam_points") == "sam2_points"


AUTO_MAPPINGS = """\
from collections import OrderedDict

CONFIG_MAPPING_NAMES = OrderedDict(
    [
        ("tiny", "TinyConfig"),
        ("small", "SmallConfig"),
        ("small_encoder", "SmallVisionEncoderConfig"),
    ]
)
OTHER_MAPPING_NAMES = OrderedDict([("small_vision_encoder", "NotAConfigOfTheMapping")])
"""

CONFIGURATION_AUTO = """\
from .auto_mappings import CONFIG_MAPPING_NAMES

CONFIG_MAPPING_NAMES.update({"tiny-legacy": "TinyLegacyConfig", 3: "IgnoredConfig"})
"""

MAPPED_BASE = """\
from ...configuration_utils import PreTrainedConfig


class TinyConfig(PreTrainedConfig):
    model_type = "tiny"
"""

MAPPED_MODULAR = """\
from ..tiny.configuration_tiny import TinyConfig


class SmallVisionEncoderConfig(TinyConfig):
    pass
"""


def test_model_names_come_from_the_trees_config_mapping(tmp_path: Path) -> None:
    """Upstream's `get_lowercase_name` reads `CONFIG_MAPPING_NAMES`: a config class that inherits its
    `model_type` is still named by the mapping (deepseek_ocr2's `DeepseekOcr2VisionEncoderConfig` is
    `deepseek_ocr2_encoder`), read off `auto/auto_mappings.py` and `auto/configuration_auto.py`."""
    from converter.rename.prefixes import mapped_names

    root = tmp_path / "models"
    files = {
        "auto/auto_mappings.py": AUTO_MAPPINGS,
        "auto/configuration_auto.py": CONFIGURATION_AUTO,
        "tiny/configuration_tiny.py": MAPPED_BASE,
        "small/modular_small.py": MAPPED_MODULAR,
    }
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text, encoding="utf-8")
        (root / path).with_name("__init__.py").touch()
    assert mapped_names(root) == {
        "tiny": "Tiny",
        "small": "Small",
        "small_encoder": "SmallVisionEncoder",
        "tiny_legacy": "TinyLegacy",
    }
    outputs = convert_files([root / "small" / "modular_small.py"], root, layout=TREE)
    config = outputs[root / "small" / "configuration_small.py"]
    assert 'model_type = "small_encoder"' in config
    # without the mapping, the words of the prefix
    (root / "auto" / "auto_mappings.py").unlink()
    (root / "auto" / "configuration_auto.py").unlink()
    mapped_names.cache_clear()
    outputs = convert_files([root / "small" / "modular_small.py"], root, layout=TREE)
    assert 'model_type = "small_vision_encoder"' in outputs[root / "small" / "configuration_small.py"]


def test_an_unreadable_mapping_gives_no_names(tmp_path: Path) -> None:
    from converter.rename.prefixes import mapped_names

    (tmp_path / "auto").mkdir()
    (tmp_path / "auto" / "auto_mappings.py").write_text("CONFIG_MAPPING_NAMES = (\n", encoding="utf-8")
    (tmp_path / "auto" / "configuration_auto.py").write_bytes(b"\xff\xfe not utf-8")
    assert mapped_names(tmp_path) == {}
    assert mapped_names(tmp_path / "missing") == {}


def test_a_class_named_apart_from_its_renamed_base_speaks_of_its_own_prefix_in_prose() -> None:
    """minimax_m3_vl's `MiniMaxM3SparseForConditionalGeneration` on Llava's class renamed
    `MiniMaxM3VLForConditionalGeneration`: upstream's docstring says `mini_max_m3_sparse-hf`, the
    lowercase forms being the tree's model type (`MiniMaxM3VL` -> `minimax_m3_vl`), else the words."""
    from converter.merge.merge import prose_renamed

    base = cst.parse_statement(
        'class TinyM3VLForGeneration:\n    """Load tiny_m3_vl-hf/tiny_m3_vl-7b, a TinyM3VL model."""\n\n'
        "    def f(self, tiny_m3_vl):\n        return tiny_m3_vl  # tiny_m3_vl\n"
    )
    assert isinstance(base, cst.ClassDef)
    renamed = prose_renamed(base, "TinyM3SparseForGeneration", {"tiny_m3_vl": "TinyM3VL"})
    code = cst.Module(body=[renamed]).code
    assert '"""Load tiny_m3_sparse-hf/tiny_m3_sparse-7b, a TinyM3Sparse model."""' in code
    assert "def f(self, tiny_m3_vl):" in code and "return tiny_m3_vl  # tiny_m3_sparse" in code


def test_a_prefix_with_underscores_renames_as_upstreams_cased_name_of_its_lowercase_form(tmp_path: Path) -> None:
    """nemotron_h_omni's `class NemotronH_Omni_RMSNorm(NemotronHRMSNorm)`: upstream renames the base
    file with the CamelCase name of the prefix's lowercase form (`nemotron_h__omni_` ->
    `NemotronHOmni`), so the inherited docstring speaks of `NemotronHOmniRMSNorm`; the class keeps
    the name the modular file gives it."""
    from tests.converter.dialect_tree import convert_tree

    base = 'from torch import nn\n\n\nclass TinyNorm(nn.Module):\n    """TinyNorm is like T5LayerNorm."""\n'
    modular = "from ..tiny.modeling_tiny import TinyNorm\n\n\nclass Small_Extra_Norm(TinyNorm):\n    pass\n"
    for dialect in ("transformers", "python"):
        files = {"tiny/modeling_tiny.py": base, "small/modular_small.py": modular}
        outputs, _ = convert_tree(tmp_path / dialect, files, dialect=dialect)
        text = outputs["small/modeling_small.py"]
        assert 'class Small_Extra_Norm(nn.Module):\n    """SmallExtraNorm is like T5LayerNorm."""' in text
    assert file_prefixes([("Small_Extra_Norm", "TinyNorm", "tiny", "modeling_tiny")], [], "small", KNOWN) == {
        ("tiny", "modeling_tiny"): ("small__extra_", "SmallExtra")
    }
