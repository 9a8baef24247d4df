"""Definitions and names in the transformers dialect (converter/rename/, converter/read/, converter/trace/):
which base definitions upstream pulls in or leaves out, how it renames them, and the drifts W340-W349.

python -m pytest tests/converter/test_dialect_definitions.py -q
"""

from __future__ import annotations

from pathlib import Path

import pytest

from converter.diagnostics import ConversionError
from tests.converter.dialect_tree import convert_tree

KERNEL_BASE = """\
from torch import nn

from ...integrations import use_kernel_func_from_hub_with_fallback


@use_kernel_func_from_hub_with_fallback("tiny_scan", "tiny_ssm")
def tiny_scan(x, use_tinypy: bool = False):
    return x


def tiny_helper(x):
    return x


class TinyMixer(nn.Module):
    def forward(self, x):
        return tiny_helper(tiny_scan(x))
"""


def convert(tmp_path: Path, files: dict[str, str], dialect: str = "transformers") -> tuple[dict[str, str], list]:
    return convert_tree(tmp_path / dialect, files, dialect=dialect)


def test_a_hub_kernel_function_keeps_its_name_and_body_as_upstream_does(tmp_path: Path) -> None:
    modular = """\
    from ..tiny.modeling_tiny import TinyMixer


    class SmallMixer(TinyMixer):
        pass
    """
    files = {"tiny/modeling_tiny.py": KERNEL_BASE, "small/modular_small.py": modular}
    outputs, warnings = convert(tmp_path, files)
    text = outputs["small/modeling_small.py"]
    assert '@use_kernel_func_from_hub_with_fallback("tiny_scan", "tiny_ssm")\ndef tiny_scan(x, use_tinypy' in text
    assert "return small_helper(tiny_scan(x))" in text  # an undecorated function is renamed as ever
    assert warnings == []
    python, _ = convert(tmp_path, files, dialect="python")
    assert "def small_scan(" in python["small/modeling_small.py"]


ATTENTION_BASE = """\
from torch import nn


def repeat_kv(x, n):
    return x


def eager_attention_forward(module, query):
    return repeat_kv(query, 2)


class TinyAttention(nn.Module):
    def forward(self, x):
        return eager_attention_forward(self, x)


class TinyNorm(nn.Module):
    def forward(self, x):
        return x
"""


LIBRARY_IMPORT_MODULAR = """\
from ...modeling_utils import PreTrainedModel, eager_attention_forward
from ..tiny.modeling_tiny import TinyAttention


class SmallAttention(TinyAttention):
    def forward(self, x):
        return eager_attention_forward(self, x) + 1


class SmallModel(PreTrainedModel):
    pass
"""


def test_a_base_files_definition_wins_over_the_modular_library_import_w340(tmp_path: Path) -> None:
    files = {"tiny/modeling_tiny.py": ATTENTION_BASE, "small/modular_small.py": LIBRARY_IMPORT_MODULAR}
    outputs, warnings = convert(tmp_path, files)
    text = outputs["small/modeling_small.py"]
    assert "def eager_attention_forward(module, query):" in text and "def repeat_kv(" in text
    assert "from ...modeling_utils import PreTrainedModel\n" in text
    assert [(w.code, w.line) for w in warnings] == [("W340", 5)]
    assert "eager_attention_forward in SmallAttention is tiny/modeling_tiny.py's definition" in warnings[0].message
    python, _ = convert(tmp_path, files, dialect="python")
    assert "def eager_attention_forward" not in python["small/modeling_small.py"]


def test_w340_says_when_the_library_module_does_not_define_the_imported_name(tmp_path: Path) -> None:
    """pe_audio_video imports eager_attention_forward from ...modeling_utils, which does not define it:
    as Python the modular file fails at that import (read from the library's source, not run)."""
    files = {"tiny/modeling_tiny.py": ATTENTION_BASE, "small/modular_small.py": LIBRARY_IMPORT_MODULAR}
    library = tmp_path / "modeling_utils.py"  # the tree's root is tmp_path/transformers: its parent is the library
    library.write_text("from torch import nn\n\n\nclass PreTrainedModel(nn.Module):\n    pass\n", encoding="utf-8")
    _, warnings = convert(tmp_path, files)
    assert [(w.code, w.line) for w in warnings] == [("W340", 5)]
    assert warnings[0].message.endswith(
        "where Python fails at the modular file's import: ...modeling_utils does not define it (ImportError)"
    )
    defining = tmp_path / "again" / "modeling_utils.py"  # another library, which defines it
    defining.parent.mkdir()
    defining.write_text(library.read_text() + "\n\ndef eager_attention_forward(module, query):\n    return query\n")
    _, warnings = convert(tmp_path / "again", files)
    assert warnings[0].message.endswith("where Python binds it by the modular file's import from ...modeling_utils")


def test_a_library_module_binds_its_names_submodules_and_not_what_a_star_import_may_bind(tmp_path: Path) -> None:
    from converter.layout import TREE_TRANSFORMERS
    from converter.trace.shadowed import module_binds

    (tmp_path / "models").mkdir()
    (tmp_path / "utils").mkdir()
    (tmp_path / "utils" / "__init__.py").write_text("from .logging import get_logger\n\nif True:\n    X = 1\n")
    (tmp_path / "utils" / "logging.py").write_text("def get_logger(name):\n    return name\n")
    (tmp_path / "starred.py").write_text("from .utils import *\n")
    (tmp_path / "lazy.py").write_text("def __getattr__(name):\n    return name\n")
    library = TREE_TRANSFORMERS.library(tmp_path / "models")
    assert module_binds(library, "...utils", "get_logger") is True
    assert module_binds(library, "...utils", "X") is True
    assert module_binds(library, "...utils", "logging") is True  # a submodule
    assert module_binds(library, "...utils", "logger") is False
    assert module_binds(library, "...starred", "anything") is None
    assert module_binds(library, "...lazy", "anything") is None
    assert module_binds(library, "...missing", "anything") is None


def test_a_library_import_no_merged_class_uses_stays_and_no_drift(tmp_path: Path) -> None:
    modular = """\
    from ...modeling_utils import eager_attention_forward
    from ..tiny.modeling_tiny import TinyNorm


    class SmallNorm(TinyNorm):
        pass


    class SmallOther:
        def forward(self, x):
            return eager_attention_forward(self, x)
    """
    files = {"tiny/modeling_tiny.py": ATTENTION_BASE, "small/modular_small.py": modular}
    outputs, warnings = convert(tmp_path, files)
    text = outputs["small/modeling_small.py"]
    assert "from ...modeling_utils import eager_attention_forward" in text
    assert "def eager_attention_forward" not in text
    assert warnings == []


PRETRAINED_BASE = """\
from torch import nn

from ...modeling_utils import PreTrainedModel


class TinyPreTrainedModel(PreTrainedModel):
    base_model_prefix = "tiny"


class TinyModel(TinyPreTrainedModel):
    def forward(self, x):
        return x
"""


def test_a_merged_class_gets_the_base_classs_bases_switched_w341(tmp_path: Path) -> None:
    modular = """\
    from ...modeling_utils import PreTrainedModel
    from ..tiny.modeling_tiny import TinyModel


    class SmallPreTrainedModel(PreTrainedModel):
        base_model_prefix = "small"


    class SmallTextModel(SmallPreTrainedModel, TinyModel):
        pass
    """
    files = {"tiny/modeling_tiny.py": PRETRAINED_BASE, "small/modular_small.py": modular}
    outputs, warnings = convert(tmp_path, files)
    text = outputs["small/modeling_small.py"]
    assert "class SmallTextModel(SmallPreTrainedModel):" in text
    assert "class SmallTextPreTrainedModel" not in text
    assert [(w.code, w.line) for w in warnings] == [("W341", 9)]
    assert "leaves out TinyModel's own bases" in warnings[0].message
    assert "(SmallTextPreTrainedModel in a Python-exact merge)" in warnings[0].message


def test_bases_the_base_class_already_has_are_no_drift(tmp_path: Path) -> None:
    modular = """\
    from ..tiny.modeling_tiny import TinyModel, TinyPreTrainedModel


    class SmallPreTrainedModel(TinyPreTrainedModel):
        pass


    class SmallModel(TinyModel, SmallPreTrainedModel):
        pass
    """
    files = {"tiny/modeling_tiny.py": PRETRAINED_BASE, "small/modular_small.py": modular}
    outputs, warnings = convert(tmp_path, files)
    assert "class SmallModel(SmallPreTrainedModel):" in outputs["small/modeling_small.py"]
    assert warnings == []


GUARDED_BASE = """\
from typing import TYPE_CHECKING

from ...image_processing_utils import BaseImageProcessor

if TYPE_CHECKING:
    from .modeling_tiny import TinyOutput


class TinyImageProcessor(BaseImageProcessor):
    def post_process(self, outputs: "TinyOutput"):
        return outputs
"""

GUARDED_MODELING = """\
from torch import nn


class TinyOutput:
    loss = None


class TinyModel(nn.Module):
    def forward(self, x) -> TinyOutput:
        return TinyOutput()
"""


def test_a_class_a_sibling_imports_under_type_checking_is_pulled_from_its_own_file(tmp_path: Path) -> None:
    modular = """\
    from ..tiny.modeling_tiny import TinyModel


    class SmallModel(TinyModel):
        pass
    """
    files = {
        "tiny/image_processing_tiny.py": GUARDED_BASE,
        "tiny/modeling_tiny.py": GUARDED_MODELING,
        "small/modular_small.py": modular,
    }
    outputs, warnings = convert(tmp_path, files)
    text = outputs["small/modeling_small.py"]
    assert "class SmallOutput:" in text and "TYPE_CHECKING" not in text
    assert warnings == []


HELPERS_BASE = """\
from ...image_processing_utils import BaseImageProcessor


def compute_tiny_segments(x):
    return x


class TinyImageProcessor(BaseImageProcessor):
    def post_process(self, x):
        return compute_tiny_segments(x)
"""


def test_an_import_from_the_models_own_image_processing_file_is_pulled_from_the_base(tmp_path: Path) -> None:
    modular = """\
    from ..tiny.image_processing_tiny import TinyImageProcessor
    from .image_processing_small import compute_small_segments


    class SmallImageProcessor(TinyImageProcessor):
        def post_process(self, x):
            return compute_small_segments(x) + 1
    """
    files = {"tiny/image_processing_tiny.py": HELPERS_BASE, "small/modular_small.py": modular}
    outputs, warnings = convert(tmp_path, files)
    text = outputs["small/image_processing_small.py"]
    assert "def compute_small_segments(x):" in text
    assert "from .image_processing_small import" not in text
    assert warnings == []


FSTRING_BASE = """\
from torch import nn


class TinyModel(nn.Module):
    def forward(self, x):
        raise ValueError(f"TinyModel got {x}", "TinyModel failed")
"""


def test_fstring_text_is_not_renamed_as_upstream_does(tmp_path: Path) -> None:
    modular = """\
    from ..tiny.modeling_tiny import TinyModel


    class SmallModel(TinyModel):
        pass
    """
    files = {"tiny/modeling_tiny.py": FSTRING_BASE, "small/modular_small.py": modular}
    outputs, warnings = convert(tmp_path, files)
    assert 'raise ValueError(f"TinyModel got {x}", "SmallModel failed")' in outputs["small/modeling_small.py"]
    assert warnings == []
    python, _ = convert(tmp_path, files, dialect="python")
    assert 'f"SmallModel got {x}"' in python["small/modeling_small.py"]


TWO_FILES_MODELING = """\
from torch import nn


class TinyEncoder(nn.Module):
    def forward(self, x):
        return x
"""

TWO_FILES_PROCESSING = """\
from ...processing_utils import ProcessorMixin


class TinyProcessor(ProcessorMixin):
    def __call__(self, x):
        return x
"""


def test_a_name_imported_from_a_file_that_does_not_define_it_comes_from_its_models_file_w342(tmp_path: Path) -> None:
    modular = """\
    from ..tiny.processing_tiny import TinyEncoder, TinyProcessor


    class SmallEncoder(TinyEncoder):
        pass


    class SmallProcessor(TinyProcessor):
        pass
    """
    files = {
        "tiny/modeling_tiny.py": TWO_FILES_MODELING,
        "tiny/processing_tiny.py": TWO_FILES_PROCESSING,
        "small/modular_small.py": modular,
    }
    outputs, warnings = convert(tmp_path, files)
    assert "class SmallEncoder(nn.Module):" in outputs["small/modeling_small.py"]
    assert [(w.code, w.line) for w in warnings] == [("W342", 1)]
    assert "TinyEncoder is imported from tiny/processing_tiny.py, which does not define it" in warnings[0].message


SHARED_HELPER = """\
from torch import nn

from ...processing_utils import ProcessingKwargs, ProcessorMixin


def lengths(x):
    return x


class TinyModel(nn.Module):
    def forward(self, x):
        return lengths(x)


class TinyProcessorKwargs(ProcessingKwargs, total=False):
    pass


class TinyProcessor(ProcessorMixin):
    def __call__(self, x, **kwargs: TinyProcessorKwargs):
        return lengths(x)
"""


def test_a_helper_copied_into_a_second_file_comes_before_its_first_user_there(tmp_path: Path) -> None:
    modular = """\
    from ..tiny.modeling_tiny import TinyModel, TinyProcessor, TinyProcessorKwargs


    class SmallModel(TinyModel):
        pass


    class SmallProcessorKwargs(TinyProcessorKwargs, total=False):
        pass


    class SmallProcessor(TinyProcessor):
        pass
    """
    files = {"tiny/modeling_tiny.py": SHARED_HELPER, "small/modular_small.py": modular}
    outputs, warnings = convert(tmp_path, files)
    processing = outputs["small/processing_small.py"]
    assert (
        processing.index("class SmallProcessorKwargs")
        < processing.index("def lengths")
        < processing.index("class SmallProcessor(")
    )
    modeling = outputs["small/modeling_small.py"]
    assert modeling.index("def lengths") < modeling.index("class SmallModel")
    assert warnings == []


def test_a_class_named_after_a_video_model_is_matched_without_the_model_name(tmp_path: Path) -> None:
    base = """\
    from ...configuration_utils import PreTrainedConfig
    from ...processing_utils import ProcessorMixin


    class TinyConfig(PreTrainedConfig):
        model_type = "tiny"


    class TinyProcessor(ProcessorMixin):
        pass
    """
    modular = """\
    from ..tiny.processing_tiny import TinyConfig, TinyProcessor


    class SmallVideoConfig(TinyConfig):
        model_type = "small_video"


    class SmallVideoProcessor(TinyProcessor):
        pass
    """
    files = {"tiny/processing_tiny.py": base, "small_video/modular_small_video.py": modular}
    outputs, _ = convert(tmp_path, files)
    assert "class SmallVideoProcessor(ProcessorMixin):" in outputs["small_video/processing_small_video.py"]
    assert "small_video/video_processing_small_video.py" not in outputs


def test_a_class_subclassing_the_imported_name_it_rebinds_is_merged(tmp_path: Path) -> None:
    base = """\
    from torch import nn


    class TinyOutput:
        loss = None


    class TinyModel(nn.Module):
        def forward(self, x) -> TinyOutput:
            return TinyOutput()
    """
    modular = """\
    from ..tiny.modeling_tiny import TinyModel, TinyOutput


    class TinyOutput(TinyOutput):
        extra = None


    class SmallModel(TinyModel):
        pass
    """
    files = {"tiny/modeling_tiny.py": base, "small/modular_small.py": modular}
    outputs, _ = convert(tmp_path, files)
    text = outputs["small/modeling_small.py"]
    assert "class TinyOutput:\n    loss = None\n    extra = None" in text
    with pytest.raises(ConversionError, match="E104"):
        convert(tmp_path, files, dialect="python")


def test_a_base_whose_name_ends_a_modular_base_is_switched_for_it(tmp_path: Path) -> None:
    base = """\
    from ...processing_utils import ProcessorMixin


    class TinyProcessor(ProcessorMixin):
        def __call__(self, x):
            return x
    """
    modular = """\
    from ...processing_utils import OmniModalProcessorMixin
    from ..tiny.processing_tiny import TinyProcessor


    class SmallProcessor(OmniModalProcessorMixin, TinyProcessor):
        pass
    """
    files = {"tiny/processing_tiny.py": base, "small/modular_small.py": modular}
    outputs, warnings = convert(tmp_path, files)
    assert "class SmallProcessor(OmniModalProcessorMixin):" in outputs["small/processing_small.py"]
    assert [w.code for w in warnings] == ["W341"]


ENCODER_BASE = """\
from torch import nn


class OtherEmbedding(nn.Module):
    def forward(self, x):
        return x


class OtherEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = OtherEmbedding()
"""

PRETRAINED_ONLY = """\
from torch import nn


class TinyPreTrainedModel(nn.Module):
    def init(self, module):
        return module
"""


def convert_embedding_use(tmp_path: Path, pretrained_body: str) -> str:
    """modeling_small.py of a modular file whose SmallPreTrainedModel (on tiny's base) has
    `pretrained_body` naming OtherEmbedding, which it imports from the other base model."""
    modular = (
        "from ..other.modeling_other import OtherEmbedding, OtherEncoder\n"
        "from ..tiny.modeling_tiny import TinyPreTrainedModel\n\n\n"
        f"class SmallPreTrainedModel(TinyPreTrainedModel):\n{pretrained_body}\n\n"
        "class SmallEncoder(OtherEncoder):\n    pass\n"
    )
    files = {
        "tiny/modeling_tiny.py": PRETRAINED_ONLY,
        "other/modeling_other.py": ENCODER_BASE,
        "small/modular_small.py": modular,
    }
    outputs, _ = convert(tmp_path, files)
    return outputs["small/modeling_small.py"]


def test_a_class_imported_from_another_base_file_comes_before_its_files_class_not_the_first_user(
    tmp_path: Path,
) -> None:
    """qwen3_asr: a merged class whose base file does not define a class it uses in a method (the
    modular file imports it from another base file) does not pull it in first: upstream places it
    before the class merged from that other file."""
    body = "    def init(self, module):\n        return isinstance(module, OtherEmbedding)\n"
    text = convert_embedding_use(tmp_path, body)
    assert (
        text.index("class SmallPreTrainedModel")
        < text.index("class SmallEmbedding")
        < text.index("class SmallEncoder")
    )


def test_a_class_a_merged_class_reads_when_defined_still_comes_first(tmp_path: Path) -> None:
    """The same class named in the class body (read when the class is defined) stays before it."""
    text = convert_embedding_use(tmp_path, "    embedding_class = OtherEmbedding\n")
    assert text.index("class SmallEmbedding") < text.index("class SmallPreTrainedModel")


MLP_TINY = """\
from torch import nn


class TinyMLP(nn.Module):
    def forward(self, x):
        return x * 2


class TinyLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.mlp = TinyMLP()
"""

MLP_OTHER = """\
from torch import nn


class OtherMLP(nn.Module):
    def forward(self, x):
        return x * 3


class OtherBlock(nn.Module):
    def forward(self, x):
        return x
"""


def test_a_class_the_merged_classs_own_base_file_defines_wins_over_an_explicit_import_renamed_alike(
    tmp_path: Path,
) -> None:
    """phi4_multimodal: Phi3DecoderLayer's Phi3MLP and the imported SiglipMLP are both renamed
    Phi4MultimodalMLP; upstream resolves the decoder layer's names in phi3's file (it shares the
    modular file's imported functions with every base file, not its classes), so the file keeps
    phi3's, which the modular code naming the imported one then gets too (W326)."""
    modular = """\
    from ..other.modeling_other import OtherBlock, OtherMLP
    from ..tiny.modeling_tiny import TinyLayer


    class SmallLayer(TinyLayer):
        pass


    class SmallBlock(OtherBlock):
        def forward(self, x):
            return OtherMLP()(x)
    """
    files = {
        "tiny/modeling_tiny.py": MLP_TINY,
        "other/modeling_other.py": MLP_OTHER,
        "small/modular_small.py": modular,
    }
    outputs, warnings = convert(tmp_path, files)
    text = outputs["small/modeling_small.py"]
    assert text.count("class SmallMLP(") == 1 and "return x * 2" in text and "x * 3" not in text
    assert [(w.code, w.line) for w in warnings] == [("W326", 9)]
    assert "keeps the one from tiny/modeling_tiny.py" in warnings[0].message
