"""The transformers-style tree layout (`converter/run.py --tree`): relative base imports, outputs beside
the modular file, the upstream header, library imports kept."""

from __future__ import annotations

import textwrap
from pathlib import Path

import libcst as cst
import pytest

from converter import convert_files
from converter.layout import TREE, model_of_stem
from converter.read.bases import BaseLoader
from converter.read.parse import parse_modular
from converter.read.resolve import base_imports, resolve_bases

from .conftest import run_cli

BASE_CONFIG = """\
from ...configuration_utils import PreTrainedConfig


class TinyConfig(PreTrainedConfig):
    model_type = "tiny"

    def __init__(self, hidden_size=8, **kwargs):
        self.hidden_size = hidden_size
        super().__init__(**kwargs)


__all__ = ["TinyConfig"]
"""

BASE_MODELING = """\
from torch import nn

from ...modeling_utils import PreTrainedModel
from .configuration_tiny import TinyConfig


def helper(x):
    return x * 2


class TinyMLP(nn.Module):
    def __init__(self, config: TinyConfig):
        super().__init__()
        self.proj = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, x):
        return helper(self.proj(x))


class TinyPreTrainedModel(PreTrainedModel):
    config_class = TinyConfig


__all__ = ["TinyMLP", "TinyPreTrainedModel"]
"""

MODULAR = """\
from ...utils import logging
from ..tiny.modeling_tiny import TinyMLP, TinyPreTrainedModel
from .configuration_small import SmallConfig

logger = logging.get_logger(__name__)


class SmallMLP(TinyMLP):
    pass


class SmallPreTrainedModel(TinyPreTrainedModel):
    config_class = SmallConfig
"""


def write_tree(root: Path) -> Path:
    """models/tiny/ (a base with hand-written files) and models/small/modular_small.py built on it."""
    files = {
        "tiny/__init__.py": "",
        "tiny/configuration_tiny.py": BASE_CONFIG,
        "tiny/modeling_tiny.py": BASE_MODELING,
        "small/__init__.py": "",
        "small/configuration_small.py": BASE_CONFIG.replace("Tiny", "Small").replace("tiny", "small"),
        "small/modular_small.py": MODULAR,
    }
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(textwrap.dedent(text), encoding="utf-8")
    return root / "small" / "modular_small.py"


def test_a_relative_import_of_another_models_file_is_a_base(tmp_path: Path) -> None:
    modular = write_tree(tmp_path)
    parsed = parse_modular(modular, tmp_path, TREE)
    assert list(base_imports(parsed)) == ["tiny"]
    loader = BaseLoader(tmp_path, layout=TREE)
    resolved = resolve_bases(parsed, loader.bases(["tiny"]))
    assert [(item.model, item.stem, item.name) for item in resolved.imports] == [
        ("tiny", "modeling_tiny", "TinyMLP"),
        ("tiny", "modeling_tiny", "TinyPreTrainedModel"),
    ]
    package = loader.package("tiny")
    assert package is not None
    assert [file.path for file in package.files] == ["tiny/configuration_tiny.py", "tiny/modeling_tiny.py"]


def test_library_imports_and_models_in_shared_directories() -> None:
    assert TREE.model_import(cst.parse_statement("from ...modeling_utils import X\n").body[0]) is None
    assert TREE.model_import(cst.parse_statement("from ..auto.modeling_auto import AutoModel\n").body[0]) is None
    target = TREE.model_import(cst.parse_statement("from ..data2vec.modeling_data2vec_audio import X\n").body[0])
    assert target is not None and (target.directory, target.model) == ("data2vec", "data2vec_audio")
    assert model_of_stem("image_processing_pil_vit") == "vit"
    absolute = cst.parse_statement("from transformers.models.siglip.modeling_siglip import X\n").body[0]
    through_models = cst.parse_statement("from ...models.siglip.modeling_siglip import X\n").body[0]
    assert (
        TREE.model_import(absolute)
        == TREE.model_import(through_models)
        == TREE.model_import(cst.parse_statement("from ..siglip.modeling_siglip import X\n").body[0])
    )


def test_outputs_go_beside_the_modular_file_with_the_upstream_header(tmp_path: Path) -> None:
    modular = write_tree(tmp_path)
    outputs = convert_files([modular], tmp_path, layout=TREE)
    assert [path.relative_to(tmp_path).as_posix() for path in outputs] == ["small/modeling_small.py"]
    text = outputs[tmp_path / "small" / "modeling_small.py"]
    assert "automatically generated from src/transformers/models/small/modular_small.py." in text.splitlines()[1]
    assert "modular_small.py file directly. One of our CI enforces this." in text.splitlines()[4]
    assert "from ...modeling_utils import PreTrainedModel\n" in text
    assert "from .configuration_small import SmallConfig\n" in text
    assert "class SmallMLP(nn.Module):" in text and "return helper(self.proj(x))" in text
    assert "def helper(x):" in text
    assert "tiny" not in text.lower()


def test_the_command_line_writes_into_the_tree(tmp_path: Path) -> None:
    write_tree(tmp_path)
    result = run_cli("--tree", str(tmp_path), "--all")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "small" / "modeling_small.py").is_file()
    assert not (tmp_path / "small" / "__init__.py").read_text()
    assert run_cli("--tree", str(tmp_path), "--all", "--check").returncode == 0


def test_blank_lines_follow_the_modular_file_as_upstream_keeps_them(tmp_path: Path) -> None:
    """In a tree the blank lines after the modular file's leading comments stay, and an attribute
    that replaces a base's in place keeps its own blank lines above it, not the base's."""
    write_tree(tmp_path)
    config = (tmp_path / "tiny" / "configuration_tiny.py").read_text(encoding="utf-8")
    config = config.replace('    model_type = "tiny"\n', '    model_type = "tiny"\n\n    vocab_size = 10\n')
    (tmp_path / "tiny" / "configuration_tiny.py").write_text(config, encoding="utf-8")
    modular = tmp_path / "small" / "modular_small.py"
    modular.write_text(
        "# Copyright the authors.\n\n\n"
        "from ..tiny.configuration_tiny import TinyConfig\n\n\n"
        "class SmallConfig(TinyConfig):\n"
        '    model_type = "small"\n'
        "    vocab_size = 20\n",
        encoding="utf-8",
    )
    text = convert_files([modular], tmp_path, layout=TREE)[tmp_path / "small" / "configuration_small.py"]
    assert "# Copyright the authors.\n\n\nfrom ...configuration_utils import PreTrainedConfig\n" in text
    assert '    model_type = "small"\n    vocab_size = 20\n' in text


def test_a_tree_writes_what_upstream_writes_where_a_call_means_the_same(tmp_path: Path) -> None:
    """In a tree: `Parent.method(self, ...)` in a class whose first base is Parent becomes super();
    an override without a docstring takes the base method's (and its documentation-only
    decorators); a merged class without comments keeps the base class's comment; an `__init__`
    statement that replaces a base one in place keeps its own blank lines; `import torch.nn as nn`
    and `from torch import nn` are one import."""
    write_tree(tmp_path)
    base = (tmp_path / "tiny" / "modeling_tiny.py").read_text(encoding="utf-8")
    base = base.replace(
        "class TinyMLP(nn.Module):\n",
        "def auto_docstring(function):\n    return function\n\n\n# Projects, then doubles.\nclass TinyMLP(nn.Module):\n",
    )
    base = base.replace(
        "        self.proj = nn.Linear(config.hidden_size, config.hidden_size)\n",
        "        self.proj = nn.Linear(config.hidden_size, config.hidden_size)\n\n        self.scale = 1.0\n",
    )
    base = base.replace(
        "    def forward(self, x):\n",
        '    @auto_docstring\n    def forward(self, x):\n        """Doubled projection."""\n',
    )
    (tmp_path / "tiny" / "modeling_tiny.py").write_text(base, encoding="utf-8")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "modeling_other.py").write_text(
        "import torch.nn as nn\n\n\ndef other_helper(x):\n    return nn.functional.relu(x)\n", encoding="utf-8"
    )
    modular = tmp_path / "small" / "modular_small.py"
    modular.write_text(
        MODULAR.replace(
            "class SmallMLP(TinyMLP):\n    pass\n",
            "class SmallMLP(TinyMLP):\n"
            "    def __init__(self, config):\n"
            "        super().__init__(config)\n"
            "        self.scale = 2.0\n\n"
            "    def forward(self, x):\n"
            "        return other_helper(nn.Module.__call__(self, x))\n",
        ).replace(
            "from ..tiny.", "from torch import nn\n\nfrom ..other.modeling_other import other_helper\nfrom ..tiny."
        ),
        encoding="utf-8",
    )
    text = convert_files([modular], tmp_path, layout=TREE)[tmp_path / "small" / "modeling_small.py"]
    assert "# Projects, then doubles.\nclass SmallMLP(nn.Module):\n" in text
    assert "        self.proj = nn.Linear(config.hidden_size, config.hidden_size)\n        self.scale = 2.0\n" in text
    assert (
        '    @auto_docstring\n    def forward(self, x):\n        """Doubled projection."""\n'
        "        return small_helper(super().__call__(x))\n"
    ) in text
    assert "import torch.nn as nn" not in text and text.count("from torch import nn\n") == 1


@pytest.mark.parametrize(
    ("replaced", "order"),
    [("third", ["helper", "first", "second", "third"]), ("first", ["helper", "second", "third", "first"])],
)
def test_a_tree_orders_what_a_merged_class_needs_like_the_file_of_its_base(
    tmp_path: Path, replaced: str, order: list[str]
) -> None:
    """Upstream's order: what a merged class needs comes before it, pulled definitions in the order
    of the file of its base, then the modular file's own (wherever the modular file writes them)."""
    write_tree(tmp_path)
    base = (tmp_path / "tiny" / "modeling_tiny.py").read_text(encoding="utf-8")
    base = base.replace(
        "class TinyMLP(nn.Module):\n",
        "def first(x):\n    return x\n\n\ndef second(x):\n    return first(x)\n\n\n"
        "def third(x):\n    return x\n\n\nclass TinyMLP(nn.Module):\n",
    ).replace("        return helper(self.proj(x))\n", "        return helper(second(third(self.proj(x))))\n")
    (tmp_path / "tiny" / "modeling_tiny.py").write_text(base, encoding="utf-8")
    modular = tmp_path / "small" / "modular_small.py"
    modular.write_text(
        MODULAR.replace(
            "class SmallMLP(TinyMLP):", f"def {replaced}(x):\n    return -x\n\n\nclass SmallMLP(TinyMLP):"
        ),
        encoding="utf-8",
    )
    text = convert_files([modular], tmp_path, layout=TREE)[tmp_path / "small" / "modeling_small.py"]
    names = [line.split("(")[0].split()[1] for line in text.splitlines() if line.startswith(("def ", "class "))]
    assert names == [*order, "SmallMLP", "SmallPreTrainedModel"]


def test_upstream_markers_in_a_tree(tmp_path: Path) -> None:
    """`@no_inherit_decorator` drops the base class's decorators and itself; an empty merged body is
    `pass`, as upstream writes it, not the base's `...`."""
    write_tree(tmp_path)
    base = (tmp_path / "tiny" / "modeling_tiny.py").read_text(encoding="utf-8")
    base = base.replace(
        "class TinyMLP(nn.Module):\n", "def register(cls):\n    return cls\n\n\n@register\nclass TinyMLP(nn.Module):\n"
    ).replace(
        "class TinyPreTrainedModel(PreTrainedModel):\n    config_class = TinyConfig\n",
        "class TinyPreTrainedModel(PreTrainedModel): ...\n",
    )
    (tmp_path / "tiny" / "modeling_tiny.py").write_text(base, encoding="utf-8")
    modular = tmp_path / "small" / "modular_small.py"
    modular.write_text(
        MODULAR.replace(
            "class SmallMLP(TinyMLP):",
            "from ...utils.generic import no_inherit_decorator\n\n\n@no_inherit_decorator\nclass SmallMLP(TinyMLP):",
        ).replace("    config_class = SmallConfig\n", "    pass\n"),
        encoding="utf-8",
    )
    text = convert_files([modular], tmp_path, layout=TREE)[tmp_path / "small" / "modeling_small.py"]
    assert (
        "\n\nclass SmallMLP(nn.Module):\n" in text and "no_inherit_decorator" not in text and "@register" not in text
    )
    assert "class SmallPreTrainedModel(PreTrainedModel):\n    pass\n" in text


def test_an_override_dropping_staticmethod_is_e213(tmp_path: Path) -> None:
    write_tree(tmp_path)
    base = (tmp_path / "tiny" / "modeling_tiny.py").read_text(encoding="utf-8")
    base = base.replace(
        "    def forward(self, x):\n",
        "    @staticmethod\n    def scale(config):\n        return 1.0\n\n    def forward(self, x):\n",
    )
    (tmp_path / "tiny" / "modeling_tiny.py").write_text(base, encoding="utf-8")
    modular = tmp_path / "small" / "modular_small.py"
    modular.write_text(
        MODULAR.replace(
            "class SmallMLP(TinyMLP):\n    pass\n",
            "class SmallMLP(TinyMLP):\n    def scale(config):\n        return 2.0\n",
        ),
        encoding="utf-8",
    )
    result = run_cli("--tree", str(tmp_path), str(modular))
    assert result.returncode == 1
    assert (
        "E213 SmallMLP.scale overrides a staticmethod without @staticmethod: Python would pass the instance as 'config'"
        in result.stderr
    )
    assert "fix: add @staticmethod to the override" in result.stderr


@pytest.mark.parametrize("middle_defines_init", [False, True])
def test_an_ancestor_call_becomes_super_only_where_super_reaches_the_same_method(
    tmp_path: Path, middle_defines_init: bool
) -> None:
    write_tree(tmp_path)
    middle = "    def __init__(self, config):\n        super().__init__(config)\n" if middle_defines_init else ""
    modular = tmp_path / "small" / "modular_small.py"
    modular.write_text(
        MODULAR.replace(
            "from ...utils import logging\n",
            "from ...modeling_utils import PreTrainedModel\nfrom ...utils import logging\n",
        )
        + middle
        + "\n\nclass SmallHead(SmallPreTrainedModel):\n    def __init__(self, config):\n"
        "        PreTrainedModel.__init__(self, config)\n",
        encoding="utf-8",
    )
    text = convert_files([modular], tmp_path, layout=TREE)[tmp_path / "small" / "modeling_small.py"]
    head = text[text.index("class SmallHead") :]
    expected = "PreTrainedModel.__init__(self, config)" if middle_defines_init else "super().__init__(config)"
    assert f"    def __init__(self, config):\n        {expected}\n" in head


def test_prose_in_a_tree_renames_every_casing_of_the_old_name(tmp_path: Path) -> None:
    """Upstream's rule for strings and comments: `TiNy` becomes the new CamelCase name; identifiers
    keep the repository's rule."""
    write_tree(tmp_path)
    base = (tmp_path / "tiny" / "modeling_tiny.py").read_text(encoding="utf-8")
    base = base.replace(
        "class TinyMLP(nn.Module):\n", 'class TinyMLP(nn.Module):\n    """The TiNy MLP (tiny, TINY, Tiny)."""\n\n'
    )
    (tmp_path / "tiny" / "modeling_tiny.py").write_text(base, encoding="utf-8")
    text = convert_files([tmp_path / "small" / "modular_small.py"], tmp_path, layout=TREE)
    assert '    """The Small MLP (small, SMALL, Small)."""\n' in text[tmp_path / "small" / "modeling_small.py"]


def test_a_tree_drops_copied_from_markers_and_keeps_the_base_return_annotation(tmp_path: Path) -> None:
    write_tree(tmp_path)
    base = (tmp_path / "tiny" / "modeling_tiny.py").read_text(encoding="utf-8")
    base = base.replace("def helper(x):\n", "# Copied from transformers.models.other.helper\ndef helper(x):\n")
    base = base.replace(
        "    def forward(self, x):\n",
        "    # Copied from transformers.models.other.forward\n    def forward(self, x) -> int:\n",
    )
    (tmp_path / "tiny" / "modeling_tiny.py").write_text(base, encoding="utf-8")
    modular = tmp_path / "small" / "modular_small.py"
    modular.write_text(
        MODULAR.replace(
            "class SmallMLP(TinyMLP):\n    pass\n",
            "class SmallMLP(TinyMLP):\n    def forward(self, x):\n        return helper(x)\n",
        )
        + "\n\nclass SmallOtherMLP(TinyMLP):\n    pass\n",
        encoding="utf-8",
    )
    text = convert_files([modular], tmp_path, layout=TREE)[tmp_path / "small" / "modeling_small.py"]
    assert "Copied from" not in text
    assert "    def forward(self, x) -> int:\n        return helper(x)\n" in text


def test_prose_speaks_of_the_merged_class_prefix_in_a_tree(tmp_path: Path) -> None:
    """`class SmallGateMLP(TinyMLP)`: in the base class's strings and comments, `Small` (the model's
    rename) becomes `SmallGate`, the class's own prefix; code keeps the model's rename."""
    write_tree(tmp_path)
    base = (tmp_path / "tiny" / "modeling_tiny.py").read_text(encoding="utf-8")
    base = base.replace(
        "class TinyMLP(nn.Module):\n", 'class TinyMLP(nn.Module):\n    """TinyMLP of a tiny model."""  # a TinyMLP\n\n'
    )
    (tmp_path / "tiny" / "modeling_tiny.py").write_text(base, encoding="utf-8")
    modular = tmp_path / "small" / "modular_small.py"
    modular.write_text(MODULAR + "\n\nclass SmallGateMLP(TinyMLP):\n    pass\n", encoding="utf-8")
    text = convert_files([modular], tmp_path, layout=TREE)[tmp_path / "small" / "modeling_small.py"]
    gate = text[text.index("class SmallGateMLP") :]
    assert '    """SmallGateMLP of a small_gate model."""  # a SmallGateMLP\n' in gate
    assert "    def __init__(self, config: SmallConfig):\n" in gate
    assert '    """SmallMLP of a small model."""  # a SmallMLP\n' in text


def test_a_tree_copies_a_helper_into_every_file_that_uses_it(tmp_path: Path) -> None:
    """As upstream writes a tree: a helper function, a module constant and a kwargs class (a class no
    file rule claims) are copied into each file that uses them, not imported from a sibling; a
    module `__getattr__` (the deprecated-alias hook) goes to the processing file, with what it uses.
    The repository layout keeps one copy and imports it (tests/converter/test_split.py)."""
    write_tree(tmp_path)
    modular = tmp_path / "small" / "modular_small.py"
    modular.write_text(
        textwrap.dedent(
            """\
            from ...image_processing_utils import BaseImageProcessor
            from ...processing_utils import ImagesKwargs, ProcessingKwargs, ProcessorMixin
            from ...utils import logging
            from ...utils.deprecation import deprecate_attr

            logger = logging.get_logger(__name__)
            PATCH = 14


            def smart_resize(size):
                logger.info("resizing")
                return size // PATCH * PATCH


            class SmallImageProcessorKwargs(ImagesKwargs, total=False):
                patch_size: int


            class SmallImageProcessor(BaseImageProcessor):
                valid_kwargs = SmallImageProcessorKwargs

                def resize(self, size):
                    return smart_resize(size)


            class SmallImageProcessorPil(BaseImageProcessor):
                valid_kwargs = SmallImageProcessorKwargs

                def resize(self, size):
                    return smart_resize(size)


            class DeprecatedSmallProcessorKwargs(ProcessingKwargs, total=False):
                suffix: str


            class SmallProcessor(ProcessorMixin):
                pass


            __getattr__ = deprecate_attr(__name__, remove={"SmallProcessorKwargs": (DeprecatedSmallProcessorKwargs, "6")})
            """
        ),
        encoding="utf-8",
    )
    outputs = convert_files([modular], tmp_path, layout=TREE)
    texts = {path.name: text for path, text in outputs.items()}
    assert sorted(texts) == ["image_processing_pil_small.py", "image_processing_small.py", "processing_small.py"]
    for name in ("image_processing_small.py", "image_processing_pil_small.py"):
        text = texts[name]
        for definition in ("logger = logging", "PATCH = 14", "def smart_resize(", "class SmallImageProcessorKwargs("):
            assert text.count(definition) == 1, (name, definition)
        assert "from .image_processing" not in text
    processing = texts["processing_small.py"]
    assert "class DeprecatedSmallProcessorKwargs(ProcessingKwargs, total=False):" in processing
    assert processing.index("class DeprecatedSmallProcessorKwargs") < processing.index("__getattr__ = deprecate_attr(")
    assert "smart_resize" not in processing and "__getattr__" not in texts["image_processing_small.py"]


def test_a_tree_writes_guarded_imports_after_each_files_imports(tmp_path: Path) -> None:
    """`if is_torch_available(): import torch, numpy` goes after the imports of each file that uses
    its names, pruned to them, as upstream writes it (like any import, a block no file uses is left
    out); a block whose test reads a module constant stays a statement of its own."""
    write_tree(tmp_path)
    modular = tmp_path / "small" / "modular_small.py"
    modular.write_text(
        textwrap.dedent(
            """\
            from typing import TYPE_CHECKING

            from ...image_processing_utils import BaseImageProcessor
            from ...utils import is_torch_available, is_vision_available


            def scale(x):
                return x * 2


            if is_torch_available():
                import numpy
                import torch

            if TYPE_CHECKING:
                from .modeling_small import SmallOutput

            if is_vision_available():
                import PIL

            USE_FAST = True

            if USE_FAST:
                import math


            class SmallImageProcessor(BaseImageProcessor):
                def resize(self, size) -> "SmallOutput":
                    return torch.tensor(scale(size)) + math.pi
            """
        ),
        encoding="utf-8",
    )
    text = convert_files([modular], tmp_path, layout=TREE)[tmp_path / "small" / "image_processing_small.py"]
    guarded = "if is_torch_available():\n    import torch\n"
    assert guarded in text and "numpy" not in text
    assert text.index("from ...utils import is_torch_available") < text.index(guarded) < text.index("def scale(")
    assert "if TYPE_CHECKING:\n    from .modeling_small import SmallOutput\n" in text
    assert "is_vision_available" not in text and "PIL" not in text
    assert text.index("USE_FAST = True") < text.index("if USE_FAST:\n    import math\n")


def test_a_tree_renames_a_library_name_the_modular_file_aliases(tmp_path: Path) -> None:
    """`SmallOutput = TinyOutput` in the modular file, where the base imports TinyOutput from the
    library: inherited code says SmallOutput, as upstream writes it (the same object)."""
    write_tree(tmp_path)
    base = (tmp_path / "tiny" / "modeling_tiny.py").read_text(encoding="utf-8")
    base = base.replace(
        "from ...modeling_utils import PreTrainedModel\n",
        "from ...modeling_utils import PreTrainedModel, TinyOutput\n",
    )
    base = base.replace("        return helper(self.proj(x))\n", "        return TinyOutput(helper(self.proj(x)))\n")
    (tmp_path / "tiny" / "modeling_tiny.py").write_text(base, encoding="utf-8")
    modular = tmp_path / "small" / "modular_small.py"
    aliased = MODULAR.replace(
        "logger = logging", "from ...modeling_utils import TinyOutput\n\nSmallOutput = TinyOutput\nlogger = logging"
    )
    modular.write_text(aliased, encoding="utf-8")
    text = convert_files([modular], tmp_path, layout=TREE)[tmp_path / "small" / "modeling_small.py"]
    assert "return SmallOutput(helper(self.proj(x)))" in text
    assert (
        "SmallOutput = TinyOutput\n" in text and "from ...modeling_utils import PreTrainedModel, TinyOutput\n" in text
    )
    modular.write_text(MODULAR, encoding="utf-8")  # without the alias, the library name stays
    text = convert_files([modular], tmp_path, layout=TREE)[tmp_path / "small" / "modeling_small.py"]
    assert "return TinyOutput(helper(self.proj(x)))" in text


def test_a_tree_places_what_a_class_only_reads_as_a_global_where_its_user_needs_it(tmp_path: Path) -> None:
    """A modular class with no base class reads `SmallLoss` as a global it neither defines nor
    imports (`# noqa: F821`); upstream places the pulled class before the merged class that uses
    it, not before the first reader."""
    write_tree(tmp_path)
    base = (tmp_path / "tiny" / "modeling_tiny.py").read_text(encoding="utf-8")
    base = base.replace(
        '__all__ = ["TinyMLP", "TinyPreTrainedModel"]',
        "class TinyLoss(nn.Module):\n    pass\n\n\nclass TinyHead(nn.Module):\n    def __init__(self):\n"
        "        super().__init__()\n        self.loss = TinyLoss()\n\n\n"
        '__all__ = ["TinyMLP", "TinyPreTrainedModel", "TinyHead"]',
    )
    (tmp_path / "tiny" / "modeling_tiny.py").write_text(base, encoding="utf-8")
    modular = tmp_path / "small" / "modular_small.py"
    modular.write_text(
        "from ...modeling_utils import PreTrainedModel\nfrom ..tiny.modeling_tiny import TinyHead\n\n\n"
        "class SmallPreTrainedModel(PreTrainedModel):\n    def init(self, module):\n"
        "        return isinstance(module, SmallLoss)  # noqa: F821\n\n\n"
        "class SmallHead(TinyHead):\n    pass\n",
        encoding="utf-8",
    )
    text = convert_files([modular], tmp_path, layout=TREE)[tmp_path / "small" / "modeling_small.py"]
    assert text.index("class SmallPreTrainedModel") < text.index("class SmallLoss") < text.index("class SmallHead")


def test_a_merged_class_in_a_tree_keeps_the_base_class_comments_not_the_modular_ones(tmp_path: Path) -> None:
    """Upstream writes a merged class with the comment lines of its base class; the comments above
    the modular class go (they describe the modular file's inheritance); a class with no base
    class keeps its own."""
    write_tree(tmp_path)
    base = (tmp_path / "tiny" / "modeling_tiny.py").read_text(encoding="utf-8")
    base = base.replace("class TinyMLP(nn.Module):\n", "# Adapted from a tiny paper\nclass TinyMLP(nn.Module):\n")
    (tmp_path / "tiny" / "modeling_tiny.py").write_text(base, encoding="utf-8")
    modular = tmp_path / "small" / "modular_small.py"
    modular.write_text(
        "from torch import nn\n"
        + MODULAR.replace("class SmallMLP(TinyMLP):", "# TODO: inherit less\nclass SmallMLP(TinyMLP):")
        + "\n\n# a class of its own\nclass SmallHead(nn.Module):\n    pass\n",
        encoding="utf-8",
    )
    text = convert_files([modular], tmp_path, layout=TREE)[tmp_path / "small" / "modeling_small.py"]
    assert "# Adapted from a small paper\nclass SmallMLP(nn.Module):" in text
    assert "TODO" not in text
    assert "# a class of its own\nclass SmallHead(nn.Module):" in text


def test_an_import_two_bases_share_is_written_as_the_first_imported_base_writes_it(tmp_path: Path) -> None:
    """tiny writes `from torch import nn`, other writes `import torch.nn as nn` (the same binding);
    the modular file imports from other first, so the output writes other's, as upstream does."""
    write_tree(tmp_path)
    other = BASE_MODELING.replace("from torch import nn", "import torch.nn as nn").replace("Tiny", "Other")
    other = other.replace("tiny", "other")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "__init__.py").write_text("", encoding="utf-8")
    (tmp_path / "other" / "configuration_other.py").write_text(BASE_CONFIG.replace("Tiny", "Other"), encoding="utf-8")
    (tmp_path / "other" / "modeling_other.py").write_text(other, encoding="utf-8")
    modular = tmp_path / "small" / "modular_small.py"
    modular.write_text(
        "from ..other.modeling_other import OtherMLP, OtherPreTrainedModel\nfrom ..tiny.modeling_tiny import TinyMLP\n"
        "from .configuration_small import SmallConfig\n\n\n"
        "class SmallMLP(TinyMLP):\n    pass\n\n\nclass SmallPreTrainedModel(OtherPreTrainedModel):\n    pass\n\n\n"
        "class SmallGateMLP(OtherMLP):\n    pass\n",
        encoding="utf-8",
    )
    text = convert_files([modular], tmp_path, layout=TREE)[tmp_path / "small" / "modeling_small.py"]
    assert "import torch.nn as nn\n" in text and "from torch import nn" not in text


def test_an_import_from_the_file_being_generated_pulls_the_renamed_base_definition(tmp_path: Path) -> None:
    """modular_small.py importing `SmallMLP` from `.modeling_small` (the file it generates) means the
    renamed TinyMLP, as upstream reads it: the output defines it and does not import itself."""
    write_tree(tmp_path)
    modular = tmp_path / "small" / "modular_small.py"
    modular.write_text(
        "from torch import nn\n\nfrom ..tiny.modeling_tiny import TinyPreTrainedModel\n"
        "from .configuration_small import SmallConfig\nfrom .modeling_small import SmallMLP\n\n\n"
        "class SmallPreTrainedModel(TinyPreTrainedModel):\n    config_class = SmallConfig\n\n\n"
        "class SmallBlock(nn.Module):\n    def __init__(self, config):\n        super().__init__()\n"
        "        self.mlp = SmallMLP(config)\n",
        encoding="utf-8",
    )
    text = convert_files([modular], tmp_path, layout=TREE)[tmp_path / "small" / "modeling_small.py"]
    assert "from .modeling_small" not in text
    assert "class SmallMLP(nn.Module):" in text and "self.mlp = SmallMLP(config)" in text
    assert "from .configuration_small import SmallConfig" in text


def test_a_base_file_renamed_apart_from_its_config_file_is_e217_once(tmp_path: Path) -> None:
    """`class SmallTextMLP(TinyMLP)` renames modeling_tiny.py's names with `SmallText`, while
    configuration_tiny.py, which no modular class subclasses, gets `Small`: TinyConfig, used by the
    pulled code, would be SmallTextConfig, which no file defines. One error, at the class, with the
    cause; declaring the config under that name converts."""
    write_tree(tmp_path)
    modular = tmp_path / "small" / "modular_small.py"
    source = "from ..tiny.modeling_tiny import TinyMLP\n\n\nclass SmallTextMLP(TinyMLP):\n    pass\n"
    modular.write_text(source, encoding="utf-8")
    result = run_cli("--tree", str(tmp_path), str(modular))
    assert result.returncode == 1
    assert result.stderr.count("E217") == 1 and "E091" not in result.stderr
    assert (
        "small/modular_small.py:4:1: E217 the base's modeling_tiny.py uses TinyConfig from configuration_tiny.py: "
        "the modular classes built on modeling_tiny.py rename it SmallTextConfig, but configuration_tiny.py's "
        "names get another prefix (TinyConfig -> SmallConfig), so no file defines SmallTextConfig"
    ) in result.stderr
    assert "fix: define `class SmallTextConfig(TinyConfig)` in the modular file" in result.stderr
    fixed = (
        "from ..tiny.configuration_tiny import TinyConfig\n"
        + source
        + "\n\nclass SmallTextConfig(TinyConfig):\n    pass\n"
    )
    modular.write_text(fixed, encoding="utf-8")
    outputs = convert_files([modular], tmp_path, layout=TREE)
    assert "class SmallTextConfig(PreTrainedConfig):" in outputs[tmp_path / "small" / "configuration_small.py"]
