"""Hostile modular files in the transformers dialect (converter/dialect/): upstream-style modular files
built at random from the constructs upstream's rules act on (super() calls kept, discarded or
returned, `del self.x`, `x = AttributeError()`, a method raising AttributeError, `**super_kwargs`,
`Parent.method(self, ...)`, decorators, `self.post_init()`, a staticmethod overridden, a definition
repeated), then cut at random (a line deleted, repeated or indented).

Each converts, or is refused with located diagnostics (`path:line:col`, inside the file), never a
crash (E900) and never an exception out of the run; what converts parses, and each drift warning
points into the modular file. The run with `--lint` agrees with the conversion.

Run: python -m pytest tests/adversarial/test_dialect_input.py -q
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from converter.diagnostics import format_diagnostics
from converter.layout import Layout
from converter.pipeline.convert import convert_what_converts
from converter.run import main

CONFIG = """\
from ...configuration_utils import PreTrainedConfig


class TinyConfig(PreTrainedConfig):
    model_type = "tiny"
    attribute_map = {"width": "hidden_size"}

    def __init__(self, hidden_size=8, layers=2, use_bias=True, **kwargs):
        self.hidden_size = hidden_size
        self.layers = layers
        self.use_bias = use_bias
        super().__init__(**kwargs)


__all__ = ["TinyConfig"]
"""

MODELING = """\
import torch
from torch import nn

from ...modeling_utils import PreTrainedModel
from ...utils import auto_docstring, can_return_tuple
from .configuration_tiny import TinyConfig


def helper(x):
    return x * 2


class TinyMLP(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.up = nn.Linear(config.hidden_size, config.hidden_size, bias=config.use_bias)
        self.act = nn.GELU()

    def forward(self, x):
        return self.act(self.up(helper(x)))


class TinyPreTrainedModel(PreTrainedModel):
    config: TinyConfig
    base_model_prefix = "model"


class TinyModel(TinyPreTrainedModel):
    def __init__(self, config: TinyConfig, layer_idx: int = 0):
        super().__init__(config)
        self.layer_idx = layer_idx
        self.mlp = TinyMLP(config)
        self.norm = nn.LayerNorm(config.hidden_size)
        self.post_init()

    @can_return_tuple
    @auto_docstring
    def forward(self, x, mask=None):
        h = self.mlp(x)
        if mask is not None:
            h = h * mask
        return self.norm(h)

    @staticmethod
    def shape(x):
        return x.shape


__all__ = ["TinyModel", "TinyPreTrainedModel"]
"""

HEADER = """\
import torch
from torch import nn

from ...utils import auto_docstring
from ..tiny.configuration_tiny import TinyConfig
from ..tiny.modeling_tiny import TinyMLP, TinyModel, TinyPreTrainedModel, helper
"""

CONFIG_BODIES = [
    'model_type = "small"',
    "use_bias = AttributeError()",
    "attribute_map = AttributeError()",
    "def __init__(self, extra=1, **super_kwargs):\n    super().__init__(**super_kwargs)\n    self.extra = extra",
    "def __init__(self, hidden_size=16, **kwargs):\n    self.hidden_size = hidden_size\n    super().__init__(**kwargs)",
    "def __init__(self, **kwargs):\n    del self.layers\n    super().__init__(**kwargs)",
    "def __init__(self, **kwargs):\n    TinyConfig.__init__(**kwargs)",
]
MLP_BODIES = [
    "pass",
    "def __init__(self, config):\n    super().__init__(config)\n    self.down = nn.Linear(8, 8)",
    "def __init__(self, config):\n    super().__init__(config)\n    del self.act",
    "def __init__(self, config):\n    self.up = nn.Linear(4, 4)\n    super().__init__(config)",
    "def __init__(self, config):\n    super().__init__(config)\n    self.up = nn.Linear(2, 2)\n    self.extra = self.up",
    "def forward(self, x):\n    return super().forward(x) + 1",
    "def forward(self, x):\n    out = super().forward(x)\n    return out * 2",
    "def forward(self, x):\n    super().forward(x)",
    "def forward(self, x):\n    raise AttributeError('no forward')",
    "def forward(self, x):\n    return TinyMLP.forward(self, x)",
    "def forward(self, x):\n    return helper(super().forward(x))",
]
MODEL_BODIES = [
    "pass",
    "def __init__(self, config):\n    super().__init__(config)\n    self.extra = nn.Linear(8, 8)\n    self.post_init()",
    "def __init__(self, config, layer_idx=3):\n    super().__init__(config, layer_idx)",
    "def __init__(self, config):\n    TinyModel.__init__(self, config)\n    del self.norm",
    "def __init__(self, config):\n    super().__init__(config)\n    self.layer_idx = config.layers\n    self.post_init()",
    "def __init__(self, config):\n    self.head = nn.Linear(8, 8)\n    super().__init__(config)",
    "def forward(self, x, mask=None):\n    return super().forward(x, mask)",
    "def forward(self, x, **super_kwargs):\n    return super().forward(x, **super_kwargs)",
    "@auto_docstring\ndef forward(self, x, mask=None):\n    h = super().forward(x, mask)\n    return h + 1",
    "def forward(self, *args, **kwargs):\n    return TinyModel.forward(self, *args, **kwargs)",
    "def shape(self, x):\n    return super().shape(x)",
    "@staticmethod\ndef shape(x):\n    return super().shape(x)",
    "def shape(self, x):\n    raise AttributeError()",
    "norm = AttributeError()",
    "def forward(self, x):\n    return super().forward(x, x, x, x)",
]
CLASSES = [
    ("SmallConfig", "TinyConfig", CONFIG_BODIES),
    ("SmallMLP", "TinyMLP", MLP_BODIES),
    ("SmallPreTrainedModel", "TinyPreTrainedModel", ["pass", 'base_model_prefix = "small"']),
    ("SmallModel", "TinyModel", MODEL_BODIES),
]
EXTRAS = [
    "def helper(x):\n    return x + 1",
    "def helper(x):\n    return super().helper(x)",
    '__all__ = ["SmallConfig", "SmallModel", "SmallPreTrainedModel"]',
    '__all__ = ["SmallModel", "Missing"]',
    "SmallAlias = SmallModel",
    "class SmallModel(TinyModel):\n    pass",
    "class SmallHead(SmallModel):\n    def forward(self, x):\n        return super().forward(x) * 3",
]


def indented(text: str) -> str:
    return textwrap.indent(text, "    ")


@st.composite
def upstream_style_modular(draw: st.DrawFn) -> str:
    """A modular file as upstream writes them, then maybe cut: a line deleted, repeated or indented."""
    blocks = [HEADER]
    for name, base, bodies in CLASSES:
        if draw(st.booleans()) or name == "SmallModel":
            members = draw(st.lists(st.sampled_from(bodies), min_size=1, max_size=3))
            blocks.append(f"class {name}({base}):\n" + "\n\n".join(indented(member) for member in members))
    blocks += draw(st.lists(st.sampled_from(EXTRAS), max_size=2))
    lines = "\n\n\n".join(blocks).splitlines()
    cut = draw(st.sampled_from(["none", "none", "delete", "repeat", "indent"]))
    if cut != "none":
        index = draw(st.integers(0, len(lines) - 1))
        if cut == "delete":
            del lines[index]
        elif cut == "repeat":
            lines.insert(index, lines[index])
        else:
            lines[index] = "    " + lines[index]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("dialect") / "models"
    for path, text in {
        "tiny/configuration_tiny.py": CONFIG,
        "tiny/modeling_tiny.py": MODELING,
        "small/modular_small.py": HEADER,
    }.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).parent.joinpath("__init__.py").touch()
        (root / path).write_text(text, encoding="utf-8")
    return root


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(source=upstream_style_modular())
def test_an_upstream_style_modular_file_converts_or_is_refused_cleanly(
    source: str, tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    modular = tree / "small" / "modular_small.py"
    modular.write_text(source, encoding="utf-8")
    line_count = len(source.splitlines())
    models, diagnostics = convert_what_converts([modular], tree, layout=Layout(tree=True, dialect="transformers"))
    assert not [d for d in diagnostics if d.code == "E900"], format_diagnostics(diagnostics)
    for diagnostic in diagnostics:
        assert diagnostic.code.startswith("E"), diagnostic
        assert diagnostic.path.endswith(".py") and diagnostic.line >= 1 and diagnostic.col >= 1, diagnostic
        if diagnostic.path.endswith("modular_small.py"):
            assert diagnostic.line <= line_count + 1, diagnostic
    assert bool(models) != bool(diagnostics)
    warnings = [warning for model in models for warning in model.warnings]
    for model in models:
        for file in model.files:
            if file.path.endswith(".py"):
                ast.parse(file.text)
    for warning in warnings:
        assert warning.code.startswith("W") and warning.path.endswith("modular_small.py"), warning
        assert 1 <= warning.line <= line_count and warning.col >= 1, warning
    # --lint reports the same warnings and writes nothing; exit 1 for warnings or errors, else 0
    capsys.readouterr()
    code = main(["--tree", str(tree), "--dialect", "transformers", "--lint", str(modular)])
    out, err = capsys.readouterr()
    assert code == (1 if warnings or diagnostics else 0), out + err
    assert "Traceback" not in out + err and " E900 " not in out + err
    assert sorted(p.name for p in (tree / "small").glob("*.py")) == ["__init__.py", "modular_small.py"]
    for warning in warnings:
        assert f":{warning.line}:{warning.col}: {warning.code} " in out + err, out + err


def test_the_base_tree_converts_a_plain_subclass(tree: Path) -> None:
    """The fixture is a working tree: a modular file that only subclasses converts, with no warning."""
    modular = tree / "small" / "modular_small.py"
    modular.write_text(HEADER + "\n\nclass SmallModel(TinyModel):\n    pass\n", encoding="utf-8")
    models, diagnostics = convert_what_converts([modular], tree, layout=Layout(tree=True, dialect="transformers"))
    assert not diagnostics and len(models) == 1
    text = next(file.text for file in models[0].files if file.path.endswith("modeling_small.py"))
    assert "class SmallModel(SmallPreTrainedModel):" in text and "self.post_init()" in text
