"""The transformers dialect builds each generated file on its own (upstream's create_modules): a base
model's torch and PIL image processor files may each define a helper of the same name, and each
generated file gets the one of its own base file; the PIL file gets the image processor file's
classes as upstream copies them there; blank lines after a guarded import block are the source's."""

from __future__ import annotations

from pathlib import Path

import pytest

from converter.diagnostics import ConversionError
from tests.converter.dialect_tree import convert_tree

TORCH = """
from ...utils import is_torch_available

if is_torch_available():
    import torch

logger = None

FORMATS = ("coco", "voc")


class TinyImageProcessorKwargs(dict):
    size: int


def to_mask(x):
    return torch.as_tensor(x) > 0


def boxes(x):
    return to_mask(x).sum()


class TinyImageProcessor:
    def run(self, x, kind, options: TinyImageProcessorKwargs):
        assert kind in FORMATS
        return boxes(x)
"""

PIL = """
import numpy as np

from ...utils import is_torch_available

if is_torch_available():
    import torch

logger = None

FORMATS = ("coco", "voc")


def to_mask(x):
    return torch.from_numpy(np.asarray(x) > 0)


def boxes(x):
    return to_mask(x).sum()


class TinyImageProcessorPil:
    def run(self, x, kind, options: TinyImageProcessorKwargs):
        assert kind in FORMATS
        return boxes(x)
"""

MODULAR = """
from ..tiny.image_processing_pil_tiny import TinyImageProcessorPil
from ..tiny.image_processing_tiny import TinyImageProcessor


class SmallImageProcessor(TinyImageProcessor):
    pass


class SmallImageProcessorPil(TinyImageProcessorPil):
    pass
"""


def tree(modular: str = MODULAR) -> dict[str, str]:
    pil = PIL.replace(
        "import numpy as np\n", "import numpy as np\n\nfrom .image_processing_tiny import TinyImageProcessorKwargs\n"
    )
    return {
        "tiny/image_processing_tiny.py": TORCH,
        "tiny/image_processing_pil_tiny.py": pil,
        "small/modular_small.py": modular,
    }


def test_each_file_gets_the_helpers_of_its_own_base_file(tmp_path: Path) -> None:
    outputs, warnings = convert_tree(tmp_path, tree())
    torch_file = outputs["small/image_processing_small.py"]
    pil_file = outputs["small/image_processing_pil_small.py"]
    assert "torch.as_tensor(x) > 0" in torch_file and "np.asarray" not in torch_file
    assert "np.asarray(x) > 0" in pil_file and "torch.as_tensor" not in pil_file
    assert pil_file.count("def to_mask") == pil_file.count("def boxes") == 1
    assert "W326" not in [w.code for w in warnings]  # nothing is left out: each file has its own


def test_an_explicitly_imported_helper_serves_every_file(tmp_path: Path) -> None:
    """deepseek_ocr2 imports get_optimal_tiled_canvas from got_ocr2's image processor file: upstream
    shares an imported function with every base file, the PIL one included."""
    modular = "from ..tiny.image_processing_tiny import to_mask  # noqa: F401\n" + MODULAR
    outputs, _ = convert_tree(tmp_path, tree(modular))
    assert "torch.as_tensor(x) > 0" in outputs["small/image_processing_pil_small.py"]
    assert "np.asarray(x) > 0" not in outputs["small/image_processing_pil_small.py"]


def test_the_pil_file_places_the_copied_class_as_upstream(tmp_path: Path) -> None:
    """The class of position i in the image processor file comes right after the PIL file's own
    definition of position i when that is an assignment (yolos: SUPPORTED_ANNOTATION_FORMATS first)."""
    outputs, _ = convert_tree(tmp_path, tree())
    torch_file = outputs["small/image_processing_small.py"]
    pil_file = outputs["small/image_processing_pil_small.py"]
    assert torch_file.index("class SmallImageProcessorKwargs") < torch_file.index("FORMATS = ")
    assert (
        pil_file.index("FORMATS = ")
        < pil_file.index("class SmallImageProcessorKwargs")
        < pil_file.index("def to_mask")
    )


def test_blank_lines_after_a_guarded_import_block_are_the_sources(tmp_path: Path) -> None:
    outputs, _ = convert_tree(tmp_path, tree())
    assert "    import torch\n\nFORMATS = " in outputs["small/image_processing_pil_small.py"]
    # after plain imports, isort's two blank lines
    plain = {"tiny/modeling_tiny.py": "import os\n\nX = os.sep\n\n\nclass TinyModel:\n    y = X\n"}
    plain["small/modular_small.py"] = (
        "from ..tiny.modeling_tiny import TinyModel\n\n\nclass SmallModel(TinyModel):\n    pass\n"
    )
    outputs, _ = convert_tree(tmp_path / "plain", plain)
    assert "import os\n\n\nX = os.sep" in outputs["small/modeling_small.py"]


def test_the_python_dialect_refuses_what_it_cannot_write_exactly(tmp_path: Path) -> None:
    """As Python, the PIL class's `boxes` calls the PIL module's `to_mask`: one module cannot hold both,
    and the torch one must not silently serve the PIL class (it did before: only `boxes`, written alike
    in both files, was looked at)."""
    with pytest.raises(ConversionError) as raised:
        convert_tree(tmp_path, tree(), dialect="python")
    message = str(raised.value)
    assert "E206 to_mask is needed from both" in message
    assert "image_processing_tiny.py" in message and "image_processing_pil_tiny.py" in message


def test_a_pil_file_using_no_torch_converts(tmp_path: Path) -> None:
    """Nothing guarded to import: no `from ...utils import` of no check (was a crash, E900)."""
    files = tree()
    files["tiny/image_processing_pil_tiny.py"] = files["tiny/image_processing_pil_tiny.py"].replace(
        "torch.from_numpy(np.asarray(x) > 0)", "np.asarray(x) > 0"
    )
    outputs, _ = convert_tree(tmp_path, files)
    pil_file = outputs["small/image_processing_pil_small.py"]
    assert "import torch" not in pil_file and "is_torch_available" not in pil_file
    assert "return np.asarray(x) > 0" in pil_file


LOGGED = {
    "tiny/image_processing_tiny.py": """
from ...utils import is_torch_available, logging

if is_torch_available():
    import torch


logger = logging.get_logger(__name__)


class TinyImageProcessor:
    def run(self, x):
        logger.info("torch")
        return torch.as_tensor(x)
""",
    "tiny/image_processing_pil_tiny.py": """
import numpy as np

from ...utils import is_torch_available, logging

if is_torch_available():
    import torch

logger = logging.get_logger(__name__)


class TinyImageProcessorPil:
    def run(self, x):
        logger.info("pil")
        return torch.from_numpy(np.asarray(x))
""",
    "small/modular_small.py": """
from ...utils import is_torch_available, logging
from ..tiny.image_processing_pil_tiny import TinyImageProcessorPil
from ..tiny.image_processing_tiny import TinyImageProcessor

if is_torch_available():
    import torch

logger = logging.get_logger(__name__)


class SmallImageProcessor(TinyImageProcessor):
    pass


class SmallImageProcessorPil(TinyImageProcessorPil):
    pass


class SmallProcessor:
    def run(self, x):
        logger.info("processor")
        return torch.as_tensor(x)
""",
}


def test_each_file_writes_logger_as_its_base_file_does(tmp_path: Path) -> None:
    """Upstream keeps a base file's `logger = ...` over the modular file's, file by file: after a guarded
    import, ruff keeps the blank lines each source has above it (mask2former's and moss's files)."""
    outputs, _ = convert_tree(tmp_path, LOGGED)
    assert "    import torch\n\n\nlogger = " in outputs["small/image_processing_small.py"]  # torch base: two
    assert "    import torch\n\nlogger = " in outputs["small/image_processing_pil_small.py"]  # PIL base: one
    assert "    import torch\n\nlogger = " in outputs["small/processing_small.py"]  # no base: the modular's one
    for text in outputs.values():
        assert text.count("logger = ") <= 1


def test_a_feature_extractor_importing_its_check_starts_its_imports_with_no_blank_line(tmp_path: Path) -> None:
    """A feature extractor file whose `...utils` import holds `is_torch_available` already (neucodec, moss):
    upstream writes that import anew first, so the blank lines above the modular file's first import go."""
    base = """
import numpy as np

from ...utils import is_torch_available


class TinyFeatureExtractor:
    def run(self, x):
        import torch

        return torch.as_tensor(np.asarray(x)) if is_torch_available() else x
"""
    modular = """# Licence.
# Second line.

from dataclasses import dataclass

import numpy as np
import torch

from ...utils import is_torch_available
from ..tiny.feature_extraction_tiny import TinyFeatureExtractor


class SmallFeatureExtractor(TinyFeatureExtractor):
    def run(self, x):
        return torch.as_tensor(np.asarray(x)) if is_torch_available() else x
"""
    files = {"tiny/feature_extraction_tiny.py": base, "small/modular_small.py": modular}
    text = convert_tree(tmp_path, files)[0]["small/feature_extraction_small.py"]
    assert "# Second line.\n\nimport numpy as np" in text  # one blank line: the header's, not the import's too
    assert "if is_torch_available():\n    import torch" in text


def test_an_if_elif_import_block_goes_with_the_imports(tmp_path: Path) -> None:
    """embedding_gemma2's `if is_torchvision_v2_available(): ... elif is_torchvision_available(): ...`:
    upstream takes an `if` whose branches only import for an import, written after the file's others."""
    base = """
from ...utils import is_torchvision_available, is_torchvision_v2_available

if is_torchvision_v2_available():
    from torchvision.transforms.v2 import functional as tvF
elif is_torchvision_available():
    from torchvision.transforms import functional as tvF

SIZES = (1, 2)


class TinyVideoProcessor:
    def run(self, x):
        return tvF.resize(x, SIZES)
"""
    modular = """
from ..tiny.video_processing_tiny import TinyVideoProcessor


class SmallPlainVideoProcessor:
    size = 1


class SmallVideoProcessor(TinyVideoProcessor):
    pass
"""
    files = {"tiny/video_processing_tiny.py": base, "small/modular_small.py": modular}
    text = convert_tree(tmp_path, files)[0]["small/video_processing_small.py"]
    block = "if is_torchvision_v2_available():\n    from torchvision.transforms.v2 import functional as tvF\nelif"
    assert block in text and text.index(block) < text.index("class SmallPlainVideoProcessor")


def test_what_a_class_needs_stops_at_the_classes_it_needs(tmp_path: Path) -> None:
    """rt_detr_v2: RTDetrHybridEncoder subclasses RTDetrPreTrainedModel, whose `_init_weights` names
    RTDetrModel, which calls get_contrastive_denoising_training_group. Upstream's order does not follow
    what a class needs through another class: the encoder stays before the function, in file order."""
    base = """
class TinyPreTrainedModel:
    def _init_weights(self, module):
        if isinstance(module, TinyModel):
            module.ready = True


class TinyEncoder(TinyPreTrainedModel):
    def forward(self, x):
        return x


def contrastive_group(x):
    return x


class TinyModel(TinyPreTrainedModel):
    def __init__(self):
        self.encoder = TinyEncoder()

    def forward(self, x):
        return contrastive_group(self.encoder.forward(x))
"""
    modular = """
from ..tiny.modeling_tiny import TinyModel, TinyPreTrainedModel


class SmallPreTrainedModel(TinyPreTrainedModel):
    pass


class SmallModel(TinyModel):
    pass
"""
    files = {"tiny/modeling_tiny.py": base, "small/modular_small.py": modular}
    text = convert_tree(tmp_path, files)[0]["small/modeling_small.py"]
    assert text.index("class SmallEncoder") < text.index("def contrastive_group") < text.index("class SmallModel")


def test_a_class_needed_places_what_it_needs_after_its_user(tmp_path: Path) -> None:
    """pp_ocrv6_small_rec: Block needs Attention and MLP, and Attention needs eager_attention_forward.
    Upstream places Attention, MLP, Block, then what Attention needs (eager_attention_forward)."""
    base = """
class TinyBlock:
    def __init__(self):
        self.attention = TinyAttention()
        self.mlp = TinyMLP()


def eager_attention_forward(x):
    return x


class TinyAttention:
    def forward(self, x):
        return eager_attention_forward(x)


class TinyMLP:
    pass


class TinyEncoder:
    def __init__(self):
        self.block = TinyBlock()
"""
    modular = """
from ..tiny.modeling_tiny import TinyEncoder


class SmallEncoder(TinyEncoder):
    pass
"""
    files = {"tiny/modeling_tiny.py": base, "small/modular_small.py": modular}
    text = convert_tree(tmp_path, files)[0]["small/modeling_small.py"]
    order = [
        text.index(f"{kind} {name}")
        for kind, name in [
            ("class", "SmallAttention"),
            ("class", "SmallMLP"),
            ("class", "SmallBlock"),
            ("def", "eager_attention_forward"),
            ("class", "SmallEncoder"),
        ]
    ]
    assert order == sorted(order)


GUARDED_OUTPUT = {
    "tiny/modeling_tiny.py": """
class TinyOutput:
    loss = None


class TinyModel:
    def forward(self, x):
        return TinyOutput()
""",
    "tiny/image_processing_tiny.py": """
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

    from .modeling_tiny import TinyOutput


def _is_valid(image):
    return image is not None


def validate(images):
    def _is_valid(image):
        return image is not None and len(image) > 0

    return all(_is_valid(image) for image in images)


class TinyImageProcessor:
    def post_process(self, outputs: "TinyOutput", tensor: "torch.Tensor"):
        validate([outputs])
        return outputs.loss
""",
    "small/modular_small.py": """
import torch

from ..tiny.image_processing_tiny import TinyImageProcessor
from ..tiny.modeling_tiny import TinyModel


class SmallOutput:
    loss = torch.zeros(1)


class SmallModel(TinyModel):
    pass


class SmallImageProcessor(TinyImageProcessor):
    def post_process(self, outputs: "SmallOutput", tensor: "torch.Tensor"):
        return super().post_process(outputs, tensor)
""",
}


def test_a_modular_class_a_base_imports_for_type_checking_stays_an_import_there(tmp_path: Path) -> None:
    """lightglue defines LightGlueKeypointMatchingOutput; superglue's image processors import theirs under
    `if TYPE_CHECKING:` for annotations. Upstream keeps that import (only that name of the block) in the
    image processor file, and the class in the modeling file alone."""
    outputs, _ = convert_tree(tmp_path, GUARDED_OUTPUT)
    processor = outputs["small/image_processing_small.py"]
    assert "if TYPE_CHECKING:\n    from .modeling_small import SmallOutput\n" in processor
    assert "class SmallOutput" not in processor and "class SmallOutput" in outputs["small/modeling_small.py"]
    assert "TYPE_CHECKING" not in outputs["small/modeling_small.py"]


def test_a_name_a_nested_function_shadows_is_still_pulled_in_its_file(tmp_path: Path) -> None:
    """superglue's validate_and_format_image_pairs defines a nested `_is_valid_image` over the module's:
    upstream's dependencies are names, so the module's function comes along (efficientloftr, lightglue),
    into the file of its base file's kind only."""
    outputs, _ = convert_tree(tmp_path, GUARDED_OUTPUT)
    processor = outputs["small/image_processing_small.py"]
    assert "def _is_valid(image):\n    return image is not None\n" in processor
    assert processor.index("def _is_valid(image):\n    return image is not None\n") < processor.index("def validate")
    assert "_is_valid" not in outputs["small/modeling_small.py"]


def test_a_class_read_at_run_time_is_not_left_to_a_type_checking_import(tmp_path: Path) -> None:
    """Where the image processor reads the class as a name (here `isinstance`), a `TYPE_CHECKING` import
    would fail when it runs: the class is written there as before."""
    files = dict(GUARDED_OUTPUT)
    files["small/modular_small.py"] = files["small/modular_small.py"].replace(
        "        return super().post_process(outputs, tensor)",
        "        assert isinstance(outputs, SmallOutput)\n        return super().post_process(outputs, tensor)",
    )
    outputs, _ = convert_tree(tmp_path, files)
    processor = outputs["small/image_processing_small.py"]
    assert "isinstance(outputs, SmallOutput)" in processor
    assert (
        "class SmallOutput" in processor
        or "from .modeling_small import SmallOutput\n" in processor.split("if TYPE_CHECKING")[0]
    )


def test_what_a_left_out_definition_needs_is_still_written(tmp_path: Path) -> None:
    """rf_detr: dinov2's and lw_detr's eager_attention_forward differ; upstream keeps dinov2's (W326) but
    still writes the repeat_kv lw_detr's calls, right before the class that wanted it."""
    files = {
        "tiny/modeling_tiny.py": """
def eager(x):
    return x


class TinyLayer:
    def forward(self, x):
        return eager(x)
""",
        "wide/modeling_wide.py": """
def repeat(x, n):
    return x * n


def eager(x):
    return repeat(x, 2)


class WideAttention:
    def forward(self, x):
        return eager(x)
""",
        "small/modular_small.py": """
from ..tiny.modeling_tiny import TinyLayer
from ..wide.modeling_wide import WideAttention


class SmallLayer(TinyLayer):
    pass


class SmallAttention(WideAttention):
    pass
""",
    }
    outputs, warnings = convert_tree(tmp_path, files)
    text = outputs["small/modeling_small.py"]
    assert "W326" in [w.code for w in warnings]
    assert "return x\n" in text and "return repeat(x, 2)" not in text  # the first eager is kept
    assert text.index("class SmallLayer") < text.index("def repeat") < text.index("class SmallAttention")


def test_a_modular_helper_copied_into_a_later_file_comes_with_its_deferred_user(tmp_path: Path) -> None:
    """molmo2: build_resized_image calls resize_and_normalize_image; both serve the image and the video
    processors. In the video file upstream writes them together, after the file's own Kwargs class."""
    files = {
        "tiny/modeling_tiny.py": "class TinyModel:\n    pass\n",
        "small/modular_small.py": """
from ...processing_utils import VideosKwargs
from ..tiny.modeling_tiny import TinyModel


def inner(x):
    return x


def outer(x):
    return inner(x)


class SmallImageProcessor:
    def run(self, x):
        return outer(x)


class SmallVideoProcessorKwargs(VideosKwargs, total=False):
    fps: int


class SmallVideoProcessor:
    valid_kwargs = SmallVideoProcessorKwargs

    def run(self, x):
        return outer(x)


class SmallModel(TinyModel):
    pass


__all__ = ["SmallImageProcessor", "SmallVideoProcessor", "SmallModel"]
""",
    }
    video = convert_tree(tmp_path, files)[0]["small/video_processing_small.py"]
    order = [
        video.index(text)
        for text in ("class SmallVideoProcessorKwargs", "def inner", "def outer", "class SmallVideoProcessor:")
    ]
    assert order == sorted(order)
