"""Transformers dialect, where classes and their imports go between files.

A name a base file imports from its sibling file (`from .configuration_tiny
import TinyEncoderConfig` in modeling_tiny.py) stays an import, of the model's own file of that kind,
when the modular file imports nothing from that sibling: upstream reads only the base files the
modular file imports from, so it never copies the sibling's definition, and generates no file for it
(audioflamingo3's hand-written configuration file was overwritten before this rule). A class the
modular file's `__all__` lists stays in the file of its own kind, and earlier files import it from
there (upstream's processing_sam2_video.py imports Sam2VideoInferenceSession from its modeling
file); a class nothing exports is copied into each file using it, as before.

python -m pytest tests/converter/test_dialect_siblings.py -q
"""

from __future__ import annotations

from pathlib import Path

from tests.converter.dialect_tree import convert_tree

CONFIGURATION = """
class TinyEncoderConfig:
    model_type = "tiny_encoder"

    def __init__(self, hidden_size=8):
        self.hidden_size = hidden_size
"""

MODELING = """
from torch import nn

from .configuration_tiny import TinyEncoderConfig


class TinyEncoder(nn.Module):
    config_class = TinyEncoderConfig

    def __init__(self, config: TinyEncoderConfig):
        super().__init__()
        self.proj = nn.Linear(config.hidden_size, config.hidden_size)
"""

HAND_WRITTEN = """
class SmallEncoderConfig:
    model_type = "small_encoder"
"""


def tree(modular: str) -> dict[str, str]:
    return {
        "tiny/configuration_tiny.py": CONFIGURATION,
        "tiny/modeling_tiny.py": MODELING,
        "small/configuration_small.py": HAND_WRITTEN,
        "small/modular_small.py": modular,
    }


ONLY_MODELING = """
from ..tiny.modeling_tiny import TinyEncoder


class SmallEncoder(TinyEncoder):
    pass
"""


def test_a_sibling_import_of_an_unread_base_file_stays_an_import(tmp_path: Path) -> None:
    outputs, _ = convert_tree(tmp_path, tree(ONLY_MODELING))
    assert sorted(outputs) == ["small/modeling_small.py"]  # the hand-written configuration is not replaced
    modeling = outputs["small/modeling_small.py"]
    assert "from .configuration_small import SmallEncoderConfig" in modeling
    assert "class SmallEncoderConfig" not in modeling
    assert "config_class = SmallEncoderConfig" in modeling


def test_a_base_file_the_modular_file_imports_from_is_read(tmp_path: Path) -> None:
    modular = "from ..tiny.configuration_tiny import TinyEncoderConfig  # noqa: F401\n" + ONLY_MODELING
    outputs, _ = convert_tree(tmp_path, tree(modular))
    assert "class SmallEncoderConfig" in outputs["small/configuration_small.py"]
    assert "from .configuration_small import SmallEncoderConfig" in outputs["small/modeling_small.py"]


def test_the_python_dialect_keeps_copying_the_sibling_definition(tmp_path: Path) -> None:
    outputs, _ = convert_tree(tmp_path, tree(ONLY_MODELING), dialect="python")
    assert "class SmallEncoderConfig" in outputs["small/configuration_small.py"]


SESSION = """
from ..tiny.modeling_tiny import TinyEncoder


class SmallSession:
    def __init__(self):
        self.frames = []


class SmallProcessor:
    def new_session(self) -> SmallSession:
        return SmallSession()


class SmallEncoder(TinyEncoder):
    def start(self) -> SmallSession:
        return SmallSession()

"""


def test_an_exported_class_stays_in_its_file_and_earlier_files_import_it(tmp_path: Path) -> None:
    modular = SESSION + '\n__all__ = ["SmallSession", "SmallProcessor", "SmallEncoder"]\n'
    outputs, _ = convert_tree(tmp_path, tree(modular))
    processing, modeling = outputs["small/processing_small.py"], outputs["small/modeling_small.py"]
    assert "from .modeling_small import SmallSession" in processing
    assert "class SmallSession" not in processing
    assert "class SmallSession" in modeling


def test_a_class_nothing_exports_is_copied_into_each_file_using_it(tmp_path: Path) -> None:
    modular = SESSION + '\n__all__ = ["SmallProcessor", "SmallEncoder"]\n'
    outputs, _ = convert_tree(tmp_path, tree(modular))
    assert "class SmallSession" in outputs["small/processing_small.py"]
    assert "from .modeling_small import SmallSession" not in outputs["small/processing_small.py"]


def test_a_base_class_comes_from_the_file_the_modular_file_imports_it_from(tmp_path: Path) -> None:
    """qwen2_vl defines Qwen2VLImageProcessorKwargs in image_processing and, with a comment above it,
    in image_processing_pil: a modular file importing it from the latter merges that one."""
    kwargs = "class TinyImageProcessorKwargs(dict):\n    min_pixels: int\n"
    files = {
        "tiny/image_processing_tiny.py": kwargs,
        "tiny/image_processing_pil_tiny.py": '"""Tiny."""\n\n\n# Adapted from the other file\n'
        + kwargs.replace("min", "max"),
        "small/modular_small.py": """
from ..tiny.image_processing_pil_tiny import TinyImageProcessorKwargs


class SmallImageProcessorKwargs(TinyImageProcessorKwargs):
    pass
""",
    }
    outputs, _ = convert_tree(tmp_path, files)
    (text,) = outputs.values()
    assert "max_pixels: int" in text and "min_pixels" not in text
    assert "# Adapted from the other file\nclass SmallImageProcessorKwargs(dict):" in text
