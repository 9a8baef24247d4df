"""Proves that a merged class's bases keep its method resolution order or are refused (E215):
the bases a merged model class brings in are read from base models and library modules, never
executed (converter/merge/classes/ancestry.py, tested in test_ancestry.py), and checked by C3 (converter/merge/classes/mro.py).

Run: python -m pytest tests/converter/test_mro.py -q
"""

from __future__ import annotations

import textwrap
import types
from collections.abc import Mapping
from pathlib import Path

import pytest

from converter import ConversionError, convert_files
from converter.layout import TREE
from converter.merge.classes.ancestry import LIBRARY, ClassKey
from converter.merge.classes.mro import linearize
from tests.converter.conftest import block, write_base, write_modular
from tests.converter.test_ancestry import LIBRARY_FILES

TINY_MODELING = """\
from torch import nn

from ...generation import GenerationMixin
from ...modeling_utils import PreTrainedModel


class TinyBlock(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.size = config.hidden_size


class TinyPreTrainedModel(PreTrainedModel):
    base_model_prefix = "model"


class TinyForCausalLM(TinyPreTrainedModel, GenerationMixin):
    def __init__(self, config):
        super().__init__(config)
        self.block = TinyBlock(config)


__all__ = ["TinyBlock", "TinyForCausalLM", "TinyPreTrainedModel"]
"""


def tree_conversion(tmp_path: Path, modular: str, library: Mapping[str, str] = LIBRARY_FILES) -> str:
    """`modular` (dedented) as `transformers/models/small/modular_small.py` beside a `tiny` base model
    and `library` modules under `transformers/`; the converted modeling file."""
    package = tmp_path / "transformers"
    files = {"models/tiny/modeling_tiny.py": TINY_MODELING, "models/small/modular_small.py": modular}
    for path, text in {**library, **files}.items():
        (package / path).parent.mkdir(parents=True, exist_ok=True)
        (package / path).write_text(textwrap.dedent(text), encoding="utf-8")
    models = package / "models"
    outputs = convert_files([models / "small" / "modular_small.py"], models, layout=TREE)
    return outputs[models / "small" / "modeling_small.py"]


def test_a_brought_in_base_that_a_library_base_inherits_is_dropped(tmp_path: Path) -> None:
    """transformers 5.23.0's sam2 case: `(nn.Module, GradientCheckpointingLayer)` has no MRO."""
    modular = """\
        from ...modeling_layers import GradientCheckpointingLayer
        from ..tiny.modeling_tiny import TinyBlock


        class SmallBlock(TinyBlock, GradientCheckpointingLayer):
            pass
        """
    text = tree_conversion(tmp_path, modular)
    code = block(text, "SmallBlock")
    assert code.startswith("class SmallBlock(GradientCheckpointingLayer):\n")
    # The generated class can be created, with the modular class's MRO less the merged TinyBlock.
    module = types.SimpleNamespace(Module=type("Module", (), {}))
    namespace = {"nn": module, "GradientCheckpointingLayer": type("GradientCheckpointingLayer", (module.Module,), {})}
    exec(code, namespace)
    assert [c.__name__ for c in namespace["SmallBlock"].__mro__] == [
        "SmallBlock",
        "GradientCheckpointingLayer",
        "Module",
        "object",
    ]
    with pytest.raises(TypeError, match="consistent method resolution"):
        exec(code.replace("(GradientCheckpointingLayer)", "(nn.Module, GradientCheckpointingLayer)"), namespace)


def test_bases_the_library_shows_unrelated_stay_as_merged(tmp_path: Path) -> None:
    modular = """\
        from ...generation import GenerationMixin
        from ..tiny.modeling_tiny import TinyForCausalLM, TinyPreTrainedModel


        class SmallPreTrainedModel(TinyPreTrainedModel):
            pass


        class SmallForCausalLM(TinyForCausalLM, GenerationMixin):
            pass
        """
    text = tree_conversion(tmp_path, modular)
    assert "class SmallForCausalLM(SmallPreTrainedModel, GenerationMixin):\n" in text


def test_bases_whose_order_depends_on_two_torch_classes_are_e215(tmp_path: Path) -> None:
    modular = """\
        from torch import nn

        from ..tiny.modeling_tiny import TinyBlock


        class SmallBlock(TinyBlock, nn.Linear):
            pass
        """
    with pytest.raises(ConversionError) as caught:
        tree_conversion(tmp_path, modular)
    [diagnostic] = caught.value.diagnostics
    assert (diagnostic.path, diagnostic.line, diagnostic.col, diagnostic.code) == (
        "small/modular_small.py",
        6,
        18,
        "E215",
    )
    assert diagnostic.message == (
        "cannot merge TinyBlock into SmallBlock exactly: whether the bases (torch.nn.Module, torch.nn.Linear) "
        "keep the method resolution order of SmallBlock depends on whether torch.nn.Linear subclasses "
        "torch.nn.Module, which the converter cannot read (torch.nn.Linear is defined outside the library)"
    )
    assert (
        diagnostic.fix == "define SmallBlock in full, with the bases it should have, instead of inheriting TinyBlock"
    )


def test_bases_that_merging_reorders_are_e215(tmp_path: Path) -> None:
    """`class Mixed(A, B)` merged into `class SmallMixed(Mixed, X)` with `class X(A)`: Python puts X
    before A and B; neither (A, B, X) nor (B, X) gives that order."""
    library = {**LIBRARY_FILES, "mixins.py": "class A:\n    pass\n\n\nclass B:\n    pass\n\n\nclass X(A):\n    pass\n"}
    modular = """\
        from ...mixins import X
        from ..tiny.configuration_tiny import TinyMixed


        class SmallMixed(TinyMixed, X):
            pass
        """
    base = "from ...mixins import A, B\n\n\nclass TinyMixed(A, B):\n    pass\n"
    with pytest.raises(ConversionError) as caught:
        tree_conversion(tmp_path, modular, {**library, "models/tiny/configuration_tiny.py": base})
    [diagnostic] = caught.value.diagnostics
    assert diagnostic.code == "E215"
    assert diagnostic.message == (
        "cannot merge TinyMixed into SmallMixed exactly: its flattened bases (B, X) give it another method "
        "resolution order than SmallMixed has"
    )


RUNTIME_TINY = {
    "modeling": """
        from torch import nn


        class TinyBlock(nn.Module):
            def __init__(self) -> None:
                super().__init__()


        class TinyModel(nn.Module):
            pass


        __all__ = ["TinyBlock", "TinyModel"]
        """
}


def convert_repo(tmp_path: Path, modular: str, runtime: Mapping[str, str]) -> dict[str, str]:
    """`modular` in this repository's layout, on a `tiny` base and `runtime/` modules."""
    for name, text in runtime.items():
        (tmp_path / "runtime" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "runtime" / name).write_text(textwrap.dedent(text), encoding="utf-8")
    write_base(tmp_path, "tiny", RUNTIME_TINY)
    outputs = convert_files([write_modular(tmp_path, modular)], tmp_path)
    return {output.relative_to(tmp_path).as_posix(): text for output, text in outputs.items()}


def test_the_repository_reads_runtime_modules(tmp_path: Path) -> None:
    runtime = {"layers.py": "from torch import nn\n\n\nclass CheckpointLayer(nn.Module):\n    pass\n"}
    modular = """\
        from generated.tiny.modeling_tiny import TinyBlock
        from runtime.layers import CheckpointLayer


        class ToyBlock(TinyBlock, CheckpointLayer):
            pass
        """
    text = convert_repo(tmp_path, modular, runtime)["generated/toy/modeling_toy.py"]
    assert "class ToyBlock(CheckpointLayer):\n" in text


def test_a_runtime_class_that_cannot_be_found_may_be_anything_e215(tmp_path: Path) -> None:
    modular = """\
        from generated.tiny.modeling_tiny import TinyModel
        from runtime.generation import GenerationMixin


        class ToyModel(TinyModel, GenerationMixin):
            pass
        """
    with pytest.raises(ConversionError) as caught:
        convert_repo(tmp_path, modular, {})
    [diagnostic] = caught.value.diagnostics
    assert diagnostic.code == "E215"
    assert "depends on whether runtime.generation.GenerationMixin subclasses torch.nn.Module" in diagnostic.message
    assert "(runtime.generation.GenerationMixin could not be found in the library)" in diagnostic.message


def test_linearize_is_pythons_c3() -> None:
    classes = {"O": (), "A": ("O",), "B": ("O",), "C": ("A", "B"), "D": ("B", "A"), "E": ("C", "A")}
    keys = {name: ClassKey(LIBRARY, "m", name) for name in classes}

    def bases(key: ClassKey) -> tuple[ClassKey, ...]:
        return tuple(keys[name] for name in classes[key.name])

    assert [k.name for k in linearize(keys["E"], bases, {}) or ()] == ["E", "C", "A", "B", "O"]
    classes["F"] = ("C", "D")  # C wants A before B, D the reverse: Python raises TypeError
    keys["F"] = ClassKey(LIBRARY, "m", "F")
    assert linearize(keys["F"], bases, {}) is None
