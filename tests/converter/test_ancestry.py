"""Proves the ancestry reader (converter/merge/classes/ancestry.py): the bases of classes of the modular file, its
base models and library modules, read from source and never executed.

Run: python -m pytest tests/converter/test_ancestry.py -q
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path

from converter.layout import REPO, TREE, Layout
from converter.merge.classes.ancestry import EXTERNAL, LIBRARY, MODULAR, UNKNOWN, Ancestry, ClassKey, library_facts
from converter.read.bases import BaseLoader
from converter.read.parse import parse_modular
from converter.read.resolve import base_imports

LIBRARY_FILES = {
    "modeling_layers.py": "import torch.nn as nn\n\n\nclass GradientCheckpointingLayer(nn.Module):\n    pass\n",
    "modeling_utils.py": "from torch import nn\n\n\nclass PreTrainedModel(nn.Module):\n    pass\n",
    # a lazy package declares its names for type checkers only, as transformers/generation does
    "generation/__init__.py": "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from .utils import GenerationMixin\n",
    "generation/utils.py": "class GenerationMixin:\n    pass\n",
}


def ancestry_of(tmp_path: Path, library: Mapping[str, str], modular: str, layout: Layout = TREE) -> Ancestry:
    """The ancestry reader of `modular` in a tree under `tmp_path/transformers` (library files there)."""
    package = tmp_path / "transformers"
    for path, text in {**library, "models/small/modular_small.py": modular}.items():
        (package / path).parent.mkdir(parents=True, exist_ok=True)
        (package / path).write_text(textwrap.dedent(text), encoding="utf-8")
    root = package / "models"
    parsed = parse_modular(root / "small" / "modular_small.py", root, layout)
    bases = BaseLoader(root, layout=layout).bases(base_imports(parsed))
    return Ancestry(parsed, tuple(bases.packages.values()), layout.library(root))


def test_ancestry_follows_a_class_through_two_library_files_and_an_alias(tmp_path: Path) -> None:
    library = {
        "mid.py": "from .low import Base as Renamed\n\n\nclass Mid(Renamed):\n    pass\n",
        "low.py": "import torch.nn as nn\n\n\nclass Base(nn.Module):\n    pass\n",
    }
    ancestry = ancestry_of(tmp_path, library, "from ...mid import Mid\n\n\nclass SmallThing(Mid):\n    pass\n")
    mid, low = ClassKey(LIBRARY, "transformers.mid", "Mid"), ClassKey(LIBRARY, "transformers.low", "Base")
    module = ClassKey(EXTERNAL, "torch.nn", "Module")
    assert ancestry.bases(ClassKey(MODULAR, "", "SmallThing")) == (mid,)
    assert ancestry.bases(mid) == (low,)
    assert ancestry.bases(low) == (module,)
    assert ancestry.bases(module) is None  # torch is never read


def test_ancestry_reads_a_lazy_package_through_its_type_checking_imports(tmp_path: Path) -> None:
    ancestry = ancestry_of(tmp_path, LIBRARY_FILES, "from ...generation import GenerationMixin\n")
    assert ancestry.in_modular("GenerationMixin") == ClassKey(
        LIBRARY, "transformers.generation.utils", "GenerationMixin"
    )


def test_ancestry_of_a_class_not_found_or_defined_dynamically_is_unknown(tmp_path: Path) -> None:
    library = {
        "dynamic.py": "Made = type('Made', (), {})\n\ntry:\n    from .low import Base as Maybe\nexcept ImportError:\n    Maybe = None\n",
        "low.py": "class Base:\n    pass\n",
    }
    modular = "from ...dynamic import Made, Maybe\nfrom ...missing import Gone\n"
    ancestry = ancestry_of(tmp_path, library, modular)
    for name in ("Made", "Maybe", "Gone"):
        key = ancestry.in_modular(name)
        assert key.kind == UNKNOWN and ancestry.bases(key) is None, name
    assert ancestry.in_modular("object") == ClassKey(EXTERNAL, "builtins", "object")
    assert ancestry.bases(ancestry.in_modular("object")) == ()


def test_a_library_file_is_parsed_once_per_process(tmp_path: Path) -> None:
    path = tmp_path / "layers.py"
    path.write_text("class Layer:\n    pass\n", encoding="utf-8")
    assert library_facts(path) is library_facts(path)


def test_the_repository_layout_reads_runtime_as_the_library(tmp_path: Path) -> None:
    assert REPO.library(tmp_path).packages == {"runtime": tmp_path / "runtime"}
    assert TREE.library(tmp_path / "models").packages == {"transformers": tmp_path}
    assert TREE.module_name("sam2/modular_sam2.py") == "transformers.models.sam2.modular_sam2"
