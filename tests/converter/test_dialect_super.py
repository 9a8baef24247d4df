"""The transformers dialect's method bodies: super() calls and `__init__` merging as upstream writes them
(converter/merge/upstream_super.py), each rule application that changes the modular code's meaning
reported as a drift (converter/merge/super_drift.py, W301-W314).

python -m pytest tests/converter/test_dialect_super.py -q
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from converter.diagnostics import ConversionError
from tests.converter.dialect_tree import convert_tree

BASE = """\
from torch import nn


class TinyAttention(nn.Module):
    def __init__(self, config, layer_idx):
        super().__init__()
        self.layer_idx = layer_idx
        self.scaling = config.head_dim**-0.5
        self.q_proj = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout = config.dropout
        self.is_causal = True

    def forward(self, hidden_states, mask=None):
        hidden_states = self.q_proj(hidden_states)
        return hidden_states * self.scaling

    def extra(self, x):
        return x + 1


class TinyModel(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.size = config.hidden_size
        self.proj = nn.Linear(self.size, self.size)
        self.post_init()

    def post_init(self):
        pass


def logged(function):
    return function


class TinyHead(nn.Module):
    def __init__(self, config):
        super().__init__()
        size = config.hidden_size
        self.proj = nn.Linear(size, size)

    @logged
    def forward(self, x):
        return self.proj(x)
"""


def convert(tmp_path: Path, modular: str) -> tuple[str, list[tuple[int, str, str]]]:
    """(the generated modeling file, the drifts as (line, code, message))."""
    files = {"tiny/modeling_tiny.py": BASE, "small/modular_small.py": modular}
    outputs, warnings = convert_tree(tmp_path, files)
    return outputs["small/modeling_small.py"], [(w.line, w.code, w.message) for w in warnings]


def method(text: str, class_name: str, name: str) -> str:
    """The source of `class_name.name` in `text` (decorators aside), dedented."""
    begin = text.index(f"    def {name}(", text.index(f"class {class_name}("))
    end = re.search(r"\n(    [@d]|\S)", text[begin + 1 :])
    return textwrap.dedent(text[begin : begin + 1 + end.start() if end else len(text)]).strip() + "\n"


def test_an_exact_unroll_records_nothing(tmp_path: Path) -> None:
    text, drifts = convert(
        tmp_path,
        """\
        from ..tiny.modeling_tiny import TinyAttention


        class SmallAttention(TinyAttention):
            def __init__(self, config, layer_idx):
                super().__init__(config, layer_idx)
                self.gate = nn.Linear(2, 2)
        """,
    )
    assert drifts == []
    assert "self.is_causal = True\n        self.gate = nn.Linear(2, 2)" in text


def test_super_init_is_unrolled_without_binding(tmp_path: Path) -> None:
    text, drifts = convert(
        tmp_path,
        """\
        from ..tiny.modeling_tiny import TinyAttention


        class SmallAttention(TinyAttention):
            def __init__(self, config, layer_idx):
                super().__init__()
                self.is_causal = False
        """,
    )
    assert method(text, "SmallAttention", "__init__") == textwrap.dedent(
        """\
        def __init__(self, config, layer_idx):
            super().__init__()
            self.layer_idx = layer_idx
            self.scaling = config.head_dim**-0.5
            self.q_proj = nn.Linear(config.hidden_size, config.hidden_size)
            self.dropout = config.dropout
            self.is_causal = False
        """
    )
    assert drifts == [
        (6, "W301", "super().__init__() in __init__ is unrolled as upstream does, although no argument for 'config'")
    ]


def test_an_argument_other_than_the_same_named_variable_drifts(tmp_path: Path) -> None:
    text, drifts = convert(
        tmp_path,
        """\
        from ..tiny.modeling_tiny import TinyAttention


        class SmallAttention(TinyAttention):
            def forward(self, hidden_states, mask=None):
                return super().forward(hidden_states + 1, None)
        """,
    )
    assert method(text, "SmallAttention", "forward").startswith(
        "def forward(self, hidden_states, mask=None):\n    hidden_states = self.q_proj(hidden_states)\n"
    )
    assert [(line, code) for line, code, _ in drifts] == [(6, "W301")]
    assert "hidden_states reads this method's variable hidden_states, not `hidden_states + 1`" in drifts[0][2]


def test_a_discarded_value_keeps_the_parent_return(tmp_path: Path) -> None:
    text, drifts = convert(
        tmp_path,
        """\
        from ..tiny.modeling_tiny import TinyAttention


        class SmallAttention(TinyAttention):
            def forward(self, hidden_states, mask=None):
                super().forward(hidden_states, mask)
        """,
    )
    assert "return hidden_states * self.scaling" in method(text, "SmallAttention", "forward")
    assert [(line, code) for line, code, _ in drifts] == [(6, "W302")]


def test_a_super_call_inside_an_expression_stays_a_call(tmp_path: Path) -> None:
    text, drifts = convert(
        tmp_path,
        """\
        from ..tiny.modeling_tiny import TinyAttention


        class SmallAttention(TinyAttention):
            def forward(self, hidden_states, mask=None):
                return super().extra(hidden_states) * 2
        """,
    )
    assert "return super().extra(hidden_states) * 2" in text
    assert [(line, code) for line, code, _ in drifts] == [(6, "W304")]


def test_a_call_to_a_method_the_parent_does_not_define_stays_without_drift(tmp_path: Path) -> None:
    text, drifts = convert(
        tmp_path,
        """\
        from ..tiny.modeling_tiny import TinyAttention


        class SmallAttention(TinyAttention):
            def forward(self, hidden_states, mask=None):
                return super().zero_grad()
        """,
    )
    assert "return super().zero_grad()" in text and drifts == []


def test_del_removes_the_parent_line(tmp_path: Path) -> None:
    text, drifts = convert(
        tmp_path,
        """\
        from ..tiny.modeling_tiny import TinyModel


        class SmallModel(TinyModel):
            def __init__(self, config):
                super().__init__(config)
                del self.size
        """,
    )
    body = method(text, "SmallModel", "__init__")
    assert "self.size =" not in body and "nn.Linear(self.size, self.size)" in body
    assert [(line, code) for line, code, _ in drifts] == [(7, "W310")]  # self.proj still reads self.size
    assert drifts[0][2].startswith("cannot delete self.size exactly: the base __init__ of TinyModel uses it")


def test_del_of_an_unused_attribute_is_exact(tmp_path: Path) -> None:
    text, drifts = convert(
        tmp_path,
        """\
        from ..tiny.modeling_tiny import TinyAttention


        class SmallAttention(TinyAttention):
            def __init__(self, config, layer_idx):
                super().__init__(config, layer_idx)
                del self.dropout
        """,
    )
    assert "self.dropout" not in method(text, "SmallAttention", "__init__") and drifts == []


def test_del_matching_no_line_is_dropped(tmp_path: Path) -> None:
    text, drifts = convert(
        tmp_path,
        """\
        from ..tiny.modeling_tiny import TinyAttention


        class SmallAttention(TinyAttention):
            def __init__(self, config, layer_idx):
                super().__init__(config, layer_idx)
                del self.missing
        """,
    )
    assert "del self" not in text
    assert [(line, code) for line, code, _ in drifts] == [(7, "W310")]


def test_del_before_the_call_is_dropped(tmp_path: Path) -> None:
    text, drifts = convert(
        tmp_path,
        """\
        from ..tiny.modeling_tiny import TinyAttention


        class SmallAttention(TinyAttention):
            def extra(self, x, unused=None):
                del unused
                del self.dropout
                return x
        """,
    )
    assert "del " not in method(text, "SmallAttention", "extra")
    assert [(line, code) for line, code, _ in drifts] == [(7, "W310")]  # `del unused` changed nothing


def test_post_init_moves_last(tmp_path: Path) -> None:
    text, drifts = convert(
        tmp_path,
        """\
        from ..tiny.modeling_tiny import TinyModel


        class SmallModel(TinyModel):
            def __init__(self, config):
                super().__init__(config)
                self.head = nn.Linear(2, 2)
        """,
    )
    assert method(text, "SmallModel", "__init__").endswith("self.head = nn.Linear(2, 2)\n    self.post_init()\n")
    assert [(line, code) for line, code, _ in drifts] == [(6, "W311")]


def test_post_init_moved_after_plain_values_records_nothing(tmp_path: Path) -> None:
    text, drifts = convert(
        tmp_path,
        """\
        from ..tiny.modeling_tiny import TinyModel


        class SmallModel(TinyModel):
            def __init__(self, config):
                super().__init__(config)
                self.scale = config.scale
        """,
    )
    assert method(text, "SmallModel", "__init__").endswith("self.scale = config.scale\n    self.post_init()\n")
    assert drifts == []


def test_a_repeated_post_init_is_dropped(tmp_path: Path) -> None:
    text, drifts = convert(
        tmp_path,
        """\
        from ..tiny.modeling_tiny import TinyModel


        class SmallModel(TinyModel):
            def __init__(self, config):
                super().__init__(config)
                self.head = nn.Linear(2, 2)
                self.post_init()
        """,
    )
    assert method(text, "SmallModel", "__init__").count("self.post_init()") == 1
    assert sorted((line, code) for line, code, _ in drifts) == [(6, "W311"), (8, "W306")]


def test_an_assignment_replaces_the_parent_line_in_place(tmp_path: Path) -> None:
    text, drifts = convert(
        tmp_path,
        """\
        from ..tiny.modeling_tiny import TinyModel


        class SmallModel(TinyModel):
            def __init__(self, config):
                super().__init__(config)
                self.size = 2 * config.hidden_size
        """,
    )
    body = method(text, "SmallModel", "__init__")
    assert body.index("self.size = 2 * config.hidden_size") < body.index("self.proj")
    assert [(line, code) for line, code, _ in drifts] == [(7, "W312")]  # self.proj now reads the new size


def test_an_assignment_in_place_that_nothing_reads_is_exact(tmp_path: Path) -> None:
    text, drifts = convert(
        tmp_path,
        """\
        from ..tiny.modeling_tiny import TinyAttention


        class SmallAttention(TinyAttention):
            def __init__(self, config, layer_idx):
                super().__init__(config, layer_idx)
                self.is_causal = False
        """,
    )
    assert "self.is_causal = False" in text and drifts == []


def test_statements_before_super_init_run_after_the_parents_own_call(tmp_path: Path) -> None:
    text, drifts = convert(
        tmp_path,
        """\
        from ..tiny.modeling_tiny import TinyAttention


        class SmallAttention(TinyAttention):
            def __init__(self, config, layer_idx):
                self.gate = nn.Linear(2, 2)
                super().__init__(config, layer_idx)
        """,
    )
    assert method(text, "SmallAttention", "__init__").startswith(
        "def __init__(self, config, layer_idx):\n    super().__init__()\n    self.gate = nn.Linear(2, 2)\n"
    )
    assert [(line, code) for line, code, _ in drifts] == [(6, "W313")]


def test_plain_values_before_super_init_move_without_drift(tmp_path: Path) -> None:
    text, drifts = convert(
        tmp_path,
        """\
        from ..tiny.modeling_tiny import TinyAttention


        class SmallAttention(TinyAttention):
            def __init__(self, config, layer_idx):
                layer_idx = layer_idx + 1
                self.flag = True
                super().__init__(config, layer_idx)
        """,
    )
    assert "super().__init__()\n        layer_idx = layer_idx + 1\n        self.flag = True" in text and drifts == []


def test_a_decorated_parent_body_is_copied_without_its_decorators(tmp_path: Path) -> None:
    text, drifts = convert(
        tmp_path,
        """\
        from ..tiny.modeling_tiny import TinyHead


        class SmallHead(TinyHead):
            def forward(self, x):
                x = x + 1
                return super().forward(x)
        """,
    )
    assert "@logged\n    def forward(self, x):\n        x = x + 1\n        return self.proj(x)" in text
    # The override takes the parent's decorator (W321), which now wraps `x = x + 1` too; nothing is dropped.
    assert [(line, code) for line, code, _ in drifts] == [(5, "W321")]


def test_a_decorated_parent_body_in_a_decorated_override_loses_the_parents_decorators(tmp_path: Path) -> None:
    text, drifts = convert(
        tmp_path,
        """\
        import torch

        from ..tiny.modeling_tiny import TinyHead


        class SmallHead(TinyHead):
            @torch.no_grad()
            def forward(self, x):
                x = x + 1
                return super().forward(x)
        """,
    )
    assert "@torch.no_grad()\n    def forward(self, x):\n        x = x + 1\n        return self.proj(x)" in text
    assert [(line, code) for line, code, _ in drifts] == [(10, "W303")]
    assert "TinyHead.forward is decorated (@logged)" in drifts[0][2]


def test_the_copied_body_shares_the_overrides_locals(tmp_path: Path) -> None:
    text, drifts = convert(
        tmp_path,
        """\
        from ..tiny.modeling_tiny import TinyHead


        class SmallHead(TinyHead):
            def __init__(self, config):
                size = 3
                super().__init__(config)
                self.extra = nn.Linear(size, 1)
        """,
    )
    assert method(text, "SmallHead", "__init__") == textwrap.dedent(
        """\
        def __init__(self, config):
            super().__init__()
            size = 3
            size = config.hidden_size
            self.proj = nn.Linear(size, size)
            self.extra = nn.Linear(size, 1)
        """
    )
    assert [(line, code) for line, code, _ in drifts] == [(7, "W305")]
    assert "the base body sets 'size', which this method uses after the call" in drifts[0][2]


def test_the_python_dialect_still_refuses(tmp_path: Path) -> None:
    files = {
        "tiny/modeling_tiny.py": BASE,
        "small/modular_small.py": textwrap.dedent(
            """\
            from ..tiny.modeling_tiny import TinyAttention


            class SmallAttention(TinyAttention):
                def __init__(self, config, layer_idx):
                    super().__init__()
            """
        ),
    }
    with pytest.raises(ConversionError, match="E203"):
        convert_tree(tmp_path, files, dialect="python")
