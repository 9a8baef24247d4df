"""Module-level rules of the transformers dialect (converter/trace/prune.py, converter/write/upstream_imports.py):
what upstream keeps of a modular file's top-level code, its imports, and the drifts W330-W332.

python -m pytest tests/converter/test_dialect_module.py -q
"""

from __future__ import annotations

from pathlib import Path

from tests.converter.dialect_tree import convert_tree

BASE = """\
import torch
from torch import nn

from ...utils import logging

logger = logging.get_logger(__name__)


def helper(x):
    return x * 2


class TinyMLP(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.up = nn.Linear(config.hidden_size, 4)

    def forward(self, x):
        return helper(self.up(x))
"""


def convert(tmp_path: Path, modular: str, dialect: str = "transformers", **more: str) -> tuple[dict[str, str], list]:
    files = {"tiny/modeling_tiny.py": BASE, "small/modular_small.py": modular, **more}
    return convert_tree(tmp_path / dialect, files, dialect=dialect)


def codes(warnings: list) -> list[tuple[str, int]]:
    return [(w.code, w.line) for w in warnings]


def test_an_unused_logger_goes_with_its_import_and_no_drift(tmp_path: Path) -> None:
    modular = """\
    from ...utils import logging
    from ..tiny.modeling_tiny import TinyMLP

    logger = logging.get_logger(__name__)


    class SmallMLP(TinyMLP):
        pass
    """
    outputs, warnings = convert(tmp_path, modular)
    text = outputs["small/modeling_small.py"]
    assert "logger" not in text and "logging" not in text
    assert warnings == []
    python, _ = convert(tmp_path, modular, dialect="python")
    assert "logger = logging.get_logger(__name__)" in python["small/modeling_small.py"]


def test_a_used_logger_and_helper_are_kept(tmp_path: Path) -> None:
    modular = """\
    from ...utils import logging
    from ..tiny.modeling_tiny import TinyMLP

    logger = logging.get_logger(__name__)


    def twice(x):
        return 2 * x


    class SmallMLP(TinyMLP):
        def forward(self, x):
            logger.info("small")
            return twice(x)
    """
    outputs, warnings = convert(tmp_path, modular)
    text = outputs["small/modeling_small.py"]
    assert "logger = logging.get_logger(__name__)" in text and "def twice(x):" in text
    assert warnings == []


def test_an_unused_function_is_dropped_without_drift(tmp_path: Path) -> None:
    modular = """\
    from ..tiny.modeling_tiny import TinyMLP


    def unused(x):
        return x


    class SmallMLP(TinyMLP):
        pass
    """
    outputs, warnings = convert(tmp_path, modular)
    assert "def unused" not in outputs["small/modeling_small.py"]
    assert warnings == []


def test_unused_code_that_runs_something_is_dropped_with_w330(tmp_path: Path) -> None:
    modular = """\
    import torch

    from ..tiny.modeling_tiny import TinyMLP

    torch.manual_seed(0)
    TABLE = torch.ones(3)


    @torch.no_grad()
    def unused(x):
        return x


    class SmallMLP(TinyMLP):
        pass
    """
    outputs, warnings = convert(tmp_path, modular)
    text = outputs["small/modeling_small.py"]
    assert "manual_seed" not in text and "TABLE" not in text and "unused" not in text
    assert codes(warnings) == [("W330", 5), ("W330", 6), ("W330", 10)]
    assert "torch.manual_seed" in warnings[0].message and "torch.ones" in warnings[1].message
    assert "@torch.no_grad()" in warnings[2].message


def test_an_item_assignment_follows_its_variable(tmp_path: Path) -> None:
    modular = """\
    from ..tiny.modeling_tiny import TinyMLP


    def flex(x):
        return x


    REGISTRY = {}
    REGISTRY["flex"] = flex


    class SmallMLP(TinyMLP):
        def forward(self, x):
            return REGISTRY["flex"](x)
    """
    outputs, warnings = convert(tmp_path, modular)
    text = outputs["small/modeling_small.py"]
    positions = [text.index(s) for s in ("def flex", "REGISTRY = {}", 'REGISTRY["flex"] = flex', "class SmallMLP")]
    assert positions == sorted(positions)
    assert 'REGISTRY = {}\nREGISTRY["flex"] = flex' in text  # no blank line added between them
    assert warnings == []


def test_an_unused_variable_drops_its_item_assignments(tmp_path: Path) -> None:
    modular = """\
    from ..tiny.modeling_tiny import TinyMLP

    REGISTRY = {}
    REGISTRY["x"] = 1


    class SmallMLP(TinyMLP):
        pass
    """
    outputs, warnings = convert(tmp_path, modular)
    assert "REGISTRY" not in outputs["small/modeling_small.py"]
    assert warnings == []


def test_a_future_import_is_dropped_with_w331(tmp_path: Path) -> None:
    modular = """\
    from __future__ import annotations

    from ..tiny.modeling_tiny import TinyMLP


    class SmallMLP(TinyMLP):
        pass
    """
    outputs, warnings = convert(tmp_path, modular)
    assert "__future__" not in outputs["small/modeling_small.py"]
    assert codes(warnings) == [("W331", 1)]
    python, none = convert(tmp_path, modular, dialect="python")
    assert "from __future__ import annotations" in python["small/modeling_small.py"] and none == []


PIL_BASE = """\
import numpy as np

from ...image_processing_backends import PilBackend
from ...utils import TensorType, is_torch_available

if is_torch_available():
    import torch


class TinyImageProcessorPil(PilBackend):
    def to_tensor(self, x):
        return torch.tensor(np.asarray(x))
"""


def test_a_pil_file_imports_torch_under_a_guard_with_w332(tmp_path: Path) -> None:
    modular = """\
    import torch

    from ...utils import TensorType
    from ..tiny.image_processing_pil_tiny import TinyImageProcessorPil


    class SmallImageProcessorPil(TinyImageProcessorPil):
        def ones(self, n) -> TensorType:
            return torch.ones(n)
    """
    outputs, warnings = convert(tmp_path, modular, **{"tiny/image_processing_pil_tiny.py": PIL_BASE})
    text = outputs["small/image_processing_pil_small.py"]
    assert "if is_torch_available():\n    import torch\n" in text
    assert "\nimport torch\n" not in text
    assert "from ...utils import TensorType, is_torch_available" in text
    assert codes(warnings) == [("W332", 1)]
    assert "image_processing_pil_small.py" in warnings[0].message


def test_a_pil_file_whose_torch_import_is_guarded_already_has_no_drift(tmp_path: Path) -> None:
    modular = """\
    from ..tiny.image_processing_pil_tiny import TinyImageProcessorPil


    class SmallImageProcessorPil(TinyImageProcessorPil):
        pass
    """
    outputs, warnings = convert(tmp_path, modular, **{"tiny/image_processing_pil_tiny.py": PIL_BASE})
    assert "if is_torch_available():\n    import torch\n" in outputs["small/image_processing_pil_small.py"]
    assert warnings == []


OTHER = """\
from torch import nn


def helper(x):
    return x * 3


class OtherGate(nn.Module):
    def forward(self, x):
        return helper(x)
"""


def test_two_definitions_under_one_name_keep_the_first_with_w326(tmp_path: Path) -> None:
    modular = """\
    from ..other.modeling_other import OtherGate
    from ..tiny.modeling_tiny import TinyMLP


    class SmallMLP(TinyMLP):
        pass


    class SmallGate(OtherGate):
        pass
    """
    outputs, warnings = convert(tmp_path, modular, **{"other/modeling_other.py": OTHER})
    text = outputs["small/modeling_small.py"]
    assert text.count("def helper(x):") == 1 and "return x * 2" in text and "x * 3" not in text
    assert codes(warnings) == [("W326", 9)]
    assert "tiny/modeling_tiny.py" in warnings[0].message and "other/modeling_other.py" in warnings[0].message


def test_a_class_defined_twice_keeps_the_last_in_the_first_place_with_w333(tmp_path: Path) -> None:
    modular = """\
    from ..tiny.modeling_tiny import TinyMLP


    class SmallMLP(TinyMLP):
        scale = 1


    class SmallGate(SmallMLP):
        pass


    class SmallMLP(TinyMLP):
        scale = 2
    """
    outputs, warnings = convert(tmp_path, modular)
    text = outputs["small/modeling_small.py"]
    assert text.count("class SmallMLP(") == 1 and "scale = 2" in text and "scale = 1" not in text
    assert text.index("class SmallMLP(") < text.index("class SmallGate(")
    assert codes(warnings) == [("W333", 12)]
    assert "SmallGate (line 8)" in warnings[0].message


def test_a_class_defined_twice_with_nothing_between_has_no_drift(tmp_path: Path) -> None:
    modular = """\
    from ..tiny.modeling_tiny import TinyMLP


    class SmallMLP(TinyMLP):
        scale = 1


    class SmallMLP(TinyMLP):
        scale = 2
    """
    outputs, warnings = convert(tmp_path, modular)
    assert outputs["small/modeling_small.py"].count("class SmallMLP(") == 1
    assert warnings == []


FORMATS_BASE = """\
from torch import nn

FORMATS = ("coco", "panoptic")


class TinyMLP(nn.Module):
    def check(self, name):
        return name in FORMATS
"""


def test_a_modular_assignment_the_base_makes_too_keeps_the_base_value_with_w334(tmp_path: Path) -> None:
    modular = """\
    from ..tiny.modeling_tiny import TinyMLP

    FORMATS = ("coco",)


    class SmallMLP(TinyMLP):
        pass
    """
    files = {"tiny/modeling_tiny.py": FORMATS_BASE, "small/modular_small.py": modular}
    outputs, warnings = convert_tree(tmp_path, files)
    assert 'FORMATS = ("coco", "panoptic")' in outputs["small/modeling_small.py"]
    assert codes(warnings) == [("W334", 3)]


def test_an_assignment_in_a_base_file_the_modular_does_not_import_leaves_the_modular_value(tmp_path: Path) -> None:
    """Upstream visits only the base files a modular file imports from (fun_asr_nano's
    LANGUAGE_CODE_TO_NAME, which qwen3_asr's processing file also assigns, stays fun_asr_nano's)."""
    modular = """\
    from ..tiny.modeling_tiny import TinyMLP

    FORMATS = ("coco",)


    class SmallMLP(TinyMLP):
        def check(self, name):
            return name in FORMATS
    """
    base = FORMATS_BASE.replace('FORMATS = ("coco", "panoptic")\n', "")
    files = {
        "tiny/modeling_tiny.py": base.replace("name in FORMATS", "True"),
        "tiny/processing_tiny.py": 'FORMATS = ("coco", "panoptic")\n',
        "small/modular_small.py": modular,
    }
    outputs, warnings = convert_tree(tmp_path, files)
    assert 'FORMATS = ("coco",)' in outputs["small/modeling_small.py"]
    assert warnings == []


def test_a_checkpoint_name_keeps_the_modular_value_without_drift(tmp_path: Path) -> None:
    base = FORMATS_BASE.replace("FORMATS", "_CHECKPOINT_FOR_DOC")
    modular = """\
    from ..tiny.modeling_tiny import TinyMLP

    _CHECKPOINT_FOR_DOC = ("coco",)


    class SmallMLP(TinyMLP):
        pass
    """
    files = {"tiny/modeling_tiny.py": base, "small/modular_small.py": modular}
    outputs, warnings = convert_tree(tmp_path, files)
    assert '_CHECKPOINT_FOR_DOC = ("coco",)' in outputs["small/modeling_small.py"]
    assert warnings == []


def test_a_name_two_base_files_import_differently_comes_from_the_file_imported_first(tmp_path: Path) -> None:
    modeling = """\
    import torch.nn.functional as F
    from torch import nn


    class TinyMLP(nn.Module):
        def forward(self, x):
            return F.relu(x)
    """
    processing = """\
    from torch.nn import functional as F

    from ...processing_utils import ProcessorMixin


    class TinyProcessor(ProcessorMixin):
        def __call__(self, x):
            return F.relu(x)
    """
    modular = """\
    from ..tiny.modeling_tiny import TinyMLP
    from ..tiny.processing_tiny import TinyProcessor


    class SmallMLP(TinyMLP):
        pass


    class SmallProcessor(TinyProcessor):
        pass
    """
    files = {
        "tiny/modeling_tiny.py": modeling,
        "tiny/processing_tiny.py": processing,
        "small/modular_small.py": modular,
    }
    outputs, warnings = convert_tree(tmp_path, files)
    assert "import torch.nn.functional as F" in outputs["small/modeling_small.py"]
    assert "import torch.nn.functional as F" in outputs["small/processing_small.py"]
    assert warnings == []


COMMENTED_BASE = """\
from torch import nn


class TinyLayer(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.size = config.hidden_size

    # the base's note on forward
    def forward(self, x):
        return x

    def extra(self, x):
        return x
"""


def test_an_override_keeps_the_base_methods_comments_and_no_drift(tmp_path: Path) -> None:
    modular = """\
    from ..tiny.modeling_tiny import TinyLayer


    class SmallLayer(TinyLayer):
        # the modular's note on forward
        def forward(self, x):
            return x + 1

        # the modular's note on extra
        def extra(self, x):
            return x - 1

        # the modular's note on a new method
        def added(self, x):
            return x * 2
    """
    outputs, warnings = convert(tmp_path, modular, **{"tiny/modeling_tiny.py": COMMENTED_BASE})
    text = outputs["small/modeling_small.py"]
    assert "# the base's note on forward\n    def forward(self, x):\n        return x + 1" in text
    assert "note on extra" not in text
    assert "# the modular's note on a new method\n    def added" in text
    assert warnings == []
    python, _ = convert(tmp_path, modular, dialect="python", **{"tiny/modeling_tiny.py": COMMENTED_BASE})
    assert "# the modular's note on forward" in python["small/modeling_small.py"]
