"""The transformers dialect's class-level rules (W320-W325): each gives upstream's output, and records a
drift exactly where the output does something else than the modular code does as Python.

python -m pytest tests/converter/test_dialect_classes.py -q
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from converter.diagnostics import ConversionError
from tests.converter.dialect_tree import convert_tree

BASE = """\
import torch
from torch import nn

from ...modeling_layers import GradientCheckpointingLayer
from ...modeling_utils import PreTrainedModel
from ...utils import auto_docstring


class TinyRotary(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.dim = config.dim

    @staticmethod
    def compute(config, device=None):
        return config.dim

    @torch.no_grad()
    def forward(self, x):
        return x * self.dim


class TinyLayer(GradientCheckpointingLayer):
    def __init__(self, config):
        super().__init__()
        self.dim = config.dim


class TinyPreTrainedModel(PreTrainedModel):
    base_model_prefix = "model"


class TinyEncoder(TinyPreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.layers = 2

    @property
    def size(self):
        return self.layers

    @auto_docstring
    def describe(self):
        return "tiny"
"""

LIBRARY = {
    "modeling_layers.py": """\
from torch import nn


class GradientCheckpointingLayer(nn.Module):
    gradient_checkpointing = False

    def __call__(self, *args, **kwargs):
        return super().__call__(*args, **kwargs)
""",
    "modeling_utils.py": """\
from torch import nn


class PreTrainedModel(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config

    def post_init(self):
        pass
""",
    "utils.py": """\
def auto_docstring(obj):
    return obj
""",
}


def convert(
    tmp_path: Path, modular: str, base: str = BASE, kind: str = "modeling", library: dict[str, str] = LIBRARY
) -> tuple[str, list[tuple[int, str, str]]]:
    """The generated `kind` file of `modular` over `base`, and its drifts as (line, code, message)."""
    root = tmp_path / "transformers" / "models"
    for name, text in library.items():
        (root.parent).mkdir(parents=True, exist_ok=True)
        (root.parent / name).write_text(text, encoding="utf-8")
    (root.parent / "__init__.py").touch()
    outputs, warnings = convert_tree(root, {f"tiny/{kind}_tiny.py": base, "small/modular_small.py": modular})
    return outputs[f"small/{kind}_small.py"], [(w.line, w.code, w.message) for w in warnings]


def line_of(modular: str, snippet: str) -> int:
    """The 1-based line of the modular file where `snippet` first appears."""
    return modular[: modular.index(snippet)].count("\n") + 1


def class_text(text: str, name: str) -> str:
    """The source of class `name` in a generated file, dedented."""
    start = text.index(f"class {name}")
    end = text.find("\n\n\nclass ", start)
    end = text.find("\n\n\n__all__", start) if end < 0 else end
    return textwrap.dedent(text[start:end]).strip() + "\n"


HEADER = "import torch\nfrom torch import nn\n\nfrom ..tiny.modeling_tiny import TinyEncoder, TinyLayer, TinyPreTrainedModel, TinyRotary\n"


# -- W320 selfless-parent-call ----------------------------------------------------------------------


def test_a_call_without_instance_becomes_super_and_drifts(tmp_path: Path) -> None:
    modular = HEADER + textwrap.dedent("""

        class SmallRotary(TinyRotary):
            def __init__(self, config):
                nn.Module.__init__()
                self.dim = config.dim * 2
        """)
    text, drifts = convert(tmp_path, modular)
    assert "def __init__(self, config):\n        super().__init__()\n        self.dim = config.dim * 2\n" in text
    assert drifts == [
        (
            line_of(modular, "nn.Module.__init__()"),
            "W320",
            "nn.Module.__init__() passes no instance: Python raises TypeError (missing 'self'), "
            "where upstream's super().__init__() passes self",
        )
    ]


def test_a_call_with_another_first_argument_stays_a_call_and_drifts(tmp_path: Path) -> None:
    """`SmallPreTrainedModel.__init__(config)`: a call to super(), not the parent's body unrolled."""
    modular = HEADER + textwrap.dedent("""

        class SmallPreTrainedModel(TinyPreTrainedModel):
            pass


        class SmallEncoder(TinyEncoder):
            def __init__(self, config):
                SmallPreTrainedModel.__init__(config)
                self.layers = 3
        """)
    text, drifts = convert(tmp_path, modular)
    assert "    def __init__(self, config):\n        super().__init__(config)\n        self.layers = 3\n" in text
    assert [(line, code) for line, code, _ in drifts] == [(line_of(modular, "SmallPreTrainedModel.__init__"), "W320")]
    assert "Python binds config to self and shifts the other positional arguments left" in drifts[0][2]


def test_a_call_whose_shifted_arguments_leave_a_parameter_unset_says_typeerror(tmp_path: Path) -> None:
    """`SmallPreTrainedModel.__init__(config)` binds config to self and leaves its `config` unset."""
    modular = HEADER + textwrap.dedent("""

        class SmallPreTrainedModel(TinyPreTrainedModel):
            def __init__(self, config):
                super().__init__(config)


        class SmallEncoder(TinyEncoder):
            def __init__(self, config):
                SmallPreTrainedModel.__init__(config)
                self.layers = 3
        """)
    _, drifts = convert(tmp_path, modular)
    assert [(line, code) for line, code, _ in drifts] == [(line_of(modular, "SmallPreTrainedModel.__init__"), "W320")]
    assert "Python binds config to self and raises TypeError (missing 'config')" in drifts[0][2]


def test_a_call_passing_self_to_the_first_base_does_not_drift(tmp_path: Path) -> None:
    modular = HEADER + textwrap.dedent("""

        class SmallRotary(TinyRotary):
            def __init__(self, config):
                nn.Module.__init__(self)
                self.dim = config.dim * 2
        """)
    text, drifts = convert(tmp_path, modular)
    assert "        super().__init__()\n        self.dim = config.dim * 2\n" in text
    assert drifts == []


def test_the_checkpointing_rule_reaches_nn_module_through_a_class_without_init(tmp_path: Path) -> None:
    """`nn.Module.__init__(self)` beside GradientCheckpointingLayer (which has no __init__): the same."""
    modular = HEADER + textwrap.dedent("""

        class SmallLayer(TinyLayer):
            def __init__(self, config):
                nn.Module.__init__(self)
                self.dim = 3
        """)
    text, drifts = convert(tmp_path, modular)
    assert (
        "class SmallLayer(GradientCheckpointingLayer):\n    def __init__(self, config):\n        super().__init__()\n"
        in text
    )
    assert drifts == []


def test_the_checkpointing_rule_drifts_where_that_layer_defines_init(tmp_path: Path) -> None:
    """W324: `nn.Module.__init__(self)` becomes super().__init__(), which now runs the layer's own __init__."""
    library = dict(LIBRARY)
    library["modeling_layers.py"] = library["modeling_layers.py"].replace(
        "    gradient_checkpointing = False\n",
        "    def __init__(self):\n        super().__init__()\n        self.checkpointing = False\n",
    )
    modular = HEADER + textwrap.dedent("""

        class SmallLayer(TinyLayer):
            def __init__(self, config):
                nn.Module.__init__(self)
                self.dim = 3
        """)
    text, drifts = convert(tmp_path, modular, library=library)
    assert (
        "class SmallLayer(GradientCheckpointingLayer):\n    def __init__(self, config):\n        super().__init__()\n"
        in text
    )
    assert drifts == [
        (
            line_of(modular, "nn.Module.__init__(self)"),
            "W324",
            "nn.Module.__init__(self) becomes super().__init__(), which reaches GradientCheckpointingLayer.__init__ instead",
        )
    ]


def test_a_call_skipping_a_parent_that_defines_the_method_drifts(tmp_path: Path) -> None:
    """`PreTrainedModel.post_init(self)` in a class whose first base defines post_init: super() reaches it."""
    modular = HEADER + textwrap.dedent("""

        class SmallPreTrainedModel(TinyPreTrainedModel):
            def post_init(self):
                self.ready = True


        class SmallEncoder(TinyEncoder):
            def __init__(self, config):
                PreTrainedModel.post_init(self)
        """)
    modular = "from ...modeling_utils import PreTrainedModel\n" + modular
    text, drifts = convert(tmp_path, modular)
    assert "    def __init__(self, config):\n        super().post_init()\n" in text
    assert [(line, code) for line, code, _ in drifts] == [(line_of(modular, "PreTrainedModel.post_init"), "W320")]
    assert "reaches SmallPreTrainedModel.post_init instead" in drifts[0][2]


def test_only_the_statements_before_the_super_call_are_rewritten(tmp_path: Path) -> None:
    modular = HEADER + textwrap.dedent("""

        class SmallRotary(TinyRotary):
            def __init__(self, config):
                nn.Module.train(self)
                super().__init__(config)
                nn.Module.train(self)
        """)
    text, drifts = convert(tmp_path, modular)
    # The parent's body starts with super().__init__(), which upstream then moves first (W313's rule).
    expected = """\
        def __init__(self, config):
            super().__init__()
            super().train()
            self.dim = config.dim
            nn.Module.train(self)
    """
    assert textwrap.indent(textwrap.dedent(expected), "    ") in text
    assert drifts == []


def test_the_python_dialect_still_refuses_a_call_without_instance(tmp_path: Path) -> None:
    modular = HEADER + textwrap.dedent("""

        class SmallRotary(TinyRotary):
            def __init__(self, config):
                nn.Module.__init__()
        """)
    with pytest.raises(ConversionError, match="E214"):
        convert_tree(tmp_path, {"tiny/modeling_tiny.py": BASE, "small/modular_small.py": modular}, dialect="python")


# -- W321 decorators-inherited, W322 staticmethod-inherited -------------------------------------------


def test_an_override_of_a_staticmethod_takes_the_decorator_and_drifts(tmp_path: Path) -> None:
    modular = HEADER + textwrap.dedent("""

        class SmallRotary(TinyRotary):
            def compute(config, device=None):
                return config.dim * 2
        """)
    text, drifts = convert(tmp_path, modular)
    assert "    @staticmethod\n    def compute(config, device=None):\n        return config.dim * 2\n" in text
    assert drifts == [
        (
            line_of(modular, "def compute"),
            "W322",
            "SmallRotary.compute takes @staticmethod from TinyRotary.compute, where Python makes the override "
            "an instance method, passing the instance as 'config'",
        )
    ]


def test_an_undecorated_override_takes_the_base_decorators_and_drifts(tmp_path: Path) -> None:
    modular = HEADER + textwrap.dedent("""

        class SmallRotary(TinyRotary):
            def forward(self, x):
                return x + self.dim
        """)
    text, drifts = convert(tmp_path, modular)
    assert "    @torch.no_grad()\n    def forward(self, x):\n        return x + self.dim\n" in text
    assert drifts == [
        (
            line_of(modular, "def forward"),
            "W321",
            "SmallRotary.forward takes @torch.no_grad() from TinyRotary.forward, which the override "
            "does not apply in Python",
        )
    ]


def test_no_inherit_decorator_on_a_method_keeps_none_of_the_base_decorators_and_is_dropped(tmp_path: Path) -> None:
    modular = HEADER + textwrap.dedent("""
        from ...utils import no_inherit_decorator


        class SmallRotary(TinyRotary):
            @no_inherit_decorator
            def forward(self, x):
                return x + self.dim
        """)
    library = {**LIBRARY, "utils.py": LIBRARY["utils.py"] + "\n\ndef no_inherit_decorator(obj):\n    return obj\n"}
    text, drifts = convert(tmp_path, modular, library=library)
    assert "    def forward(self, x):\n        return x + self.dim\n" in text
    assert "no_grad" not in class_text(text, "SmallRotary") and "no_inherit_decorator" not in text
    assert drifts == []


def test_a_property_override_without_decorator_becomes_a_property(tmp_path: Path) -> None:
    modular = HEADER + textwrap.dedent("""

        class SmallEncoder(TinyEncoder):
            def size(self):
                return 3
        """)
    text, drifts = convert(tmp_path, modular)
    assert "    @property\n    def size(self):\n        return 3\n" in text
    assert [(line, code) for line, code, _ in drifts] == [(line_of(modular, "def size"), "W321")]


def test_documentation_decorators_and_own_decorators_do_not_drift(tmp_path: Path) -> None:
    modular = HEADER + textwrap.dedent("""

        class SmallEncoder(TinyEncoder):
            def describe(self):
                return "small"


        class SmallRotary(TinyRotary):
            @torch.enable_grad()
            def forward(self, x):
                return x

            def compute(self, device=None):
                return 1
        """)
    text, drifts = convert(tmp_path, modular)
    assert "    @auto_docstring\n    def describe(self):\n" in text
    assert "    @torch.enable_grad()\n    def forward(self, x):\n" in text
    assert [(line, code) for line, code, _ in drifts] == [
        (line_of(modular, "def compute"), "W322")
    ]  # only the staticmethod override


# -- W323 member-removed ------------------------------------------------------------------------------

REMOVAL_BASE = """\
class TinyMixin:
    def describe(self):
        return "mixin"

    def resize(self):
        return 1


class TinyModel(TinyMixin):
    size = 3

    def describe(self):
        return "tiny"

    def resize(self):
        return 2

    def extra(self):
        return 3
"""


def test_a_removed_member_a_parent_still_defines_drifts_instead_of_refusing(tmp_path: Path) -> None:
    modular = textwrap.dedent("""\
        from ..tiny.modeling_tiny import TinyModel


        class SmallModel(TinyModel):
            size = AttributeError()

            def describe(self):
                raise AttributeError("not needed")
        """)
    text, drifts = convert(tmp_path, modular, base=REMOVAL_BASE)
    assert "class SmallModel(SmallMixin):\n    def resize(self):\n        return 2\n\n    def extra(self):" in text
    assert drifts == [
        (
            line_of(modular, "def describe"),
            "W323",
            "SmallModel removes describe, but SmallMixin defines describe too: the generated SmallModel inherits "
            "SmallMixin.describe",
        )
    ]


def test_a_method_raising_another_error_is_removed_and_drifts(tmp_path: Path) -> None:
    modular = textwrap.dedent("""\
        from ..tiny.modeling_tiny import TinyModel


        class SmallModel(TinyModel):
            size = 4

            def extra(self):
                raise NotImplementedError("no extra")
        """)
    text, drifts = convert(tmp_path, modular, base=REMOVAL_BASE)
    assert "def extra" not in text
    assert drifts == [
        (
            line_of(modular, "def extra"),
            "W323",
            "SmallModel.extra raises NotImplementedError in Python, but upstream removes the method: the generated "
            "SmallModel has no extra",
        )
    ]


def test_a_raising_method_upstream_does_not_match_stays_a_method(tmp_path: Path) -> None:
    """Upstream's test reads the source: the first method of a body (no blank line above it), or one
    with a docstring first, is kept as written; so is its AttributeError, without drift."""
    modular = textwrap.dedent('''\
        from ..tiny.modeling_tiny import TinyModel


        class SmallModel(TinyModel):
            def extra(self):
                raise AttributeError("not needed")

            def resize(self):
                """Not here."""
                raise NotImplementedError("no resize")
        ''')
    text, drifts = convert(tmp_path, modular, base=REMOVAL_BASE)
    assert '    def extra(self):\n        raise AttributeError("not needed")\n' in text
    assert '    def resize(self):\n        """Not here."""\n        raise NotImplementedError("no resize")\n' in text
    assert drifts == []


def test_a_removal_no_parent_defines_does_not_drift(tmp_path: Path) -> None:
    modular = textwrap.dedent("""\
        from ..tiny.modeling_tiny import TinyModel


        class SmallModel(TinyModel):
            size = AttributeError()

            def extra(self):
                raise AttributeError("not needed")
        """)
    text, drifts = convert(tmp_path, modular, base=REMOVAL_BASE)
    assert "size = " not in class_text(text, "SmallModel") and "def extra" not in text
    assert drifts == []


# -- W325 super-kwargs --------------------------------------------------------------------------------

KWARGS_BASE = """\
class TinyBlock:
    def forward(self, x, mask=None, *, cache=None, **kwargs):
        return x

    def norm(self, x, eps=1e-6, **kwargs):
        return x
"""


def merged_signature(text: str, name: str) -> str:
    """The `def <name>(...)` line of a generated file, joined on one line."""
    start = text.index(f"def {name}(")
    return " ".join(text[start : text.index(":\n", start)].split()).replace("( ", "(").replace(", )", ")")


def test_super_kwargs_appends_new_parameters_and_drifts_where_positions_move(tmp_path: Path) -> None:
    modular = textwrap.dedent("""\
        from ..tiny.modeling_tiny import TinyBlock


        class SmallBlock(TinyBlock):
            def norm(self, scale=2.0, **super_kwargs):
                return super().norm(**super_kwargs)
        """)
    text, drifts = convert(tmp_path, modular, base=KWARGS_BASE)
    assert merged_signature(text, "norm") == "def norm(self, x, eps=1e-6, scale=2.0, **kwargs)"
    assert drifts == [
        (
            line_of(modular, "def norm"),
            "W325",
            "SmallBlock.norm merges the base signature into **super_kwargs as upstream does: its parameter 'scale' "
            "takes the positional argument 1 in Python, which the generated signature gives to 'x'",
        )
    ]


def test_super_kwargs_keeps_the_comma_written_before_it_as_a_trailing_comma(tmp_path: Path) -> None:
    """The base has no **kwargs, so the override's `config,` ends the merged parameters with a comma:
    ruff then writes one parameter per line, as upstream's llava_next_video `__init__`."""
    base = "class TinyModel:\n    def __init__(self, config):\n        self.config = config\n"
    modular = textwrap.dedent("""\
        from ..tiny.modeling_tiny import TinyModel


        class SmallModel(TinyModel):
            def __init__(self, config: dict, **super_kwargs):
                super().__init__(config, **super_kwargs)
                self.extra = 1
        """)
    text, _ = convert(tmp_path, modular, base=base)
    assert "    def __init__(\n        self,\n        config: dict,\n    ):\n" in text


def test_super_kwargs_drops_the_base_keyword_only_parameters_and_drifts(tmp_path: Path) -> None:
    modular = textwrap.dedent("""\
        from ..tiny.modeling_tiny import TinyBlock


        class SmallBlock(TinyBlock):
            def forward(self, *, scale=2.0, **super_kwargs):
                return super().forward(**super_kwargs)
        """)
    text, drifts = convert(tmp_path, modular, base=KWARGS_BASE)
    assert merged_signature(text, "forward") == "def forward(self, x, mask=None, *, scale=2.0, **kwargs)"
    assert [(line, code) for line, code, _ in drifts] == [(line_of(modular, "def forward"), "W325")]
    assert "the base's parameter 'cache' is left out" in drifts[0][2]


def test_super_kwargs_without_self_drifts_as_a_typeerror_in_python(tmp_path: Path) -> None:
    """d_fine's `def forward(**super_kwargs)`: Python passes the instance positionally to a function
    that takes no positional parameter."""
    modular = textwrap.dedent("""\
        from ..tiny.modeling_tiny import TinyBlock


        class SmallBlock(TinyBlock):
            def forward(**super_kwargs):
                return super().forward(**super_kwargs)
        """)
    text, drifts = convert(tmp_path, modular, base=KWARGS_BASE)
    assert merged_signature(text, "forward") == "def forward(self, x, mask=None, **kwargs)"
    assert [(line, code) for line, code, _ in drifts] == [(line_of(modular, "def forward"), "W325")]
    assert (
        "takes no positional parameter, not even the instance: every call through an instance raises TypeError"
        in (drifts[0][2])
    )


def test_super_kwargs_with_keyword_only_additions_does_not_drift(tmp_path: Path) -> None:
    modular = textwrap.dedent("""\
        from ..tiny.modeling_tiny import TinyBlock


        class SmallBlock(TinyBlock):
            def norm(self, *, scale=2.0, **super_kwargs):
                return super().norm(**super_kwargs)
        """)
    text, drifts = convert(tmp_path, modular, base=KWARGS_BASE)
    assert merged_signature(text, "norm") == "def norm(self, x, eps=1e-6, *, scale=2.0, **kwargs)"
    assert drifts == []


def test_super_kwargs_in_the_python_dialect_keeps_its_refusals(tmp_path: Path) -> None:
    modular = textwrap.dedent("""\
        from ..tiny.modeling_tiny import TinyBlock


        class SmallBlock(TinyBlock):
            def norm(self, **super_kwargs):
                out = super().norm(**super_kwargs)
                return out, super_kwargs
        """)
    files = {"tiny/modeling_tiny.py": KWARGS_BASE, "small/modular_small.py": modular}
    with pytest.raises(ConversionError, match="E208"):
        convert_tree(tmp_path, files, dialect="python")


# -- W327 field-annotation-dropped --------------------------------------------------------------------

CONFIG_BASE = """\
class TinyConfig:
    model_type = "tiny"
    softcap: float | None = None
"""


def test_an_unannotated_override_of_a_field_is_written_as_is_and_drifts(tmp_path: Path) -> None:
    modular = textwrap.dedent("""\
        from ..tiny.configuration_tiny import TinyConfig


        class SmallConfig(TinyConfig):
            model_type = "small"
            softcap = 30.0
        """)
    text, drifts = convert(tmp_path, modular, base=CONFIG_BASE, kind="configuration")
    assert '    model_type = "small"\n    softcap = 30.0\n' in text
    assert drifts == [
        (
            line_of(modular, "softcap = 30.0"),
            "W327",
            "SmallConfig.softcap replaces the base field `softcap: float | None = None` without its annotation: "
            "the generated SmallConfig declares softcap as a plain class attribute, not a field",
        )
    ]


# -- class bodies as upstream builds them (documentation only: no drift) --------------------------------

DOC_BASE = '''\
class TinyConfig:
    """Tiny docs."""

    model_type = "tiny"
    size: int = 1
    size: int = 2
'''


def test_a_triple_quoted_string_anywhere_in_the_class_is_its_docstring(tmp_path: Path) -> None:
    modular = textwrap.dedent('''\
        from ..tiny.configuration_tiny import TinyConfig


        class SmallConfig(TinyConfig):
            model_type = "small"

            r"""
            Small docs.
            """
        ''')
    text, drifts = convert(tmp_path, modular, base=DOC_BASE, kind="configuration")
    assert class_text(text, "SmallConfig") == textwrap.dedent('''\
        class SmallConfig:
            r"""
            Small docs.
            """

            model_type = "small"
            size: int = 2
        ''')
    assert drifts == []


def test_a_removal_the_modular_parent_makes_too_does_not_drift(tmp_path: Path) -> None:
    """The generated parent is the modular file's class, which removes the member as well."""
    base = textwrap.dedent("""\
        class TinyPreTrainedModel:
            def get_extra(self):
                return 1


        class TinyModel(TinyPreTrainedModel):
            def get_extra(self):
                return 2
        """)
    modular = textwrap.dedent("""\
        from ..tiny.modeling_tiny import TinyModel, TinyPreTrainedModel


        class SmallPreTrainedModel(TinyPreTrainedModel):
            prefix = "small"

            def get_extra(self):
                raise AttributeError("no extra")


        class SmallModel(TinyModel):
            prefix = "small"

            def get_extra(self):
                raise AttributeError("no extra")
        """)
    text, drifts = convert(tmp_path, modular, base=base)
    assert "get_extra" not in text
    assert drifts == []


# -- attributes and methods merge apart (no drift) --------------------------------------------------


def test_a_method_over_a_base_attribute_comes_last_and_the_attribute_stays(tmp_path: Path) -> None:
    """Upstream merges attributes and methods separately: the base's `base_model_prefix` stays with the
    attributes, the modular property joins the new methods at the end (it wins, as in Python)."""
    modular = HEADER + textwrap.dedent("""

        class SmallPreTrainedModel(TinyPreTrainedModel):
            @property
            def base_model_prefix(self):
                return "small"

            def layers_twice(self):
                return 2
        """)
    text, drifts = convert(tmp_path, modular)
    body = class_text(text, "SmallPreTrainedModel")
    assert body.index('base_model_prefix = "model"') < body.index("def base_model_prefix(self):")
    assert body.index("def base_model_prefix(self):") < body.index("def layers_twice")
    assert drifts == []


def test_an_attribute_over_a_base_method_joins_the_attributes_and_the_method_goes(tmp_path: Path) -> None:
    """A modular attribute named like a base property: upstream writes it after the base's attributes
    and leaves the property out (the attribute wins, as in Python)."""
    modular = HEADER + textwrap.dedent("""

        class SmallEncoder(TinyEncoder):
            def describe(self):
                return "small"

            size: int = 4
        """)
    text, drifts = convert(tmp_path, modular)
    body = class_text(text, "SmallEncoder")
    assert "def size" not in body
    assert body.startswith("class SmallEncoder(SmallPreTrainedModel):\n    size: int = 4\n\n    def __init__")
    assert drifts == []


def test_python_dialect_still_replaces_a_base_method_in_place(tmp_path: Path) -> None:
    """The default dialect is unchanged: the attribute takes the property's place."""
    modular = HEADER + textwrap.dedent("""

        class SmallEncoder(TinyEncoder):
            size = 4
        """)
    root = tmp_path / "transformers" / "models"
    for name, text in LIBRARY.items():
        root.parent.mkdir(parents=True, exist_ok=True)
        (root.parent / name).write_text(text, encoding="utf-8")
    outputs, _ = convert_tree(root, {"tiny/modeling_tiny.py": BASE, "small/modular_small.py": modular}, "python")
    body = class_text(outputs["small/modeling_small.py"], "SmallEncoder")
    assert body.index("def __init__") < body.index("size = 4") < body.index("def describe")


# -- unmerged classes keep their parent calls --------------------------------------------------------


def test_a_class_merging_no_model_base_keeps_an_explicit_parent_call(tmp_path: Path) -> None:
    """`PreTrainedModel._init_weights(self, module)` in a class over a library base only: upstream
    writes the class as the modular file does (no super() rewrite, no drift)."""
    modular = HEADER.replace("TinyRotary\n", "TinyRotary\nfrom ...modeling_utils import PreTrainedModel\n") + (
        textwrap.dedent("""

        class SmallPreTrainedModel(PreTrainedModel):
            def post_init(self):
                PreTrainedModel.post_init(self)
                self.ready = True
        """)
    )
    text, drifts = convert(tmp_path, modular)
    assert "        PreTrainedModel.post_init(self)\n        self.ready = True\n" in text
    assert drifts == []


# -- W341 bases-switched (converter/merge/upstream_bases.py) -----------------------------------------------------------------------------

MIXIN_LIBRARY = {
    **LIBRARY,
    "processing_utils.py": """\
class ProcessorMixin:
    def save(self):
        return "saved"


class OmniModalProcessorMixin(ProcessorMixin):
    pass


class StandaloneProcessorMixin:
    pass
""",
}

MIXIN_BASE = """\
from ...processing_utils import ProcessorMixin


class TinyProcessor(ProcessorMixin):
    def __call__(self, text):
        return text
"""


def test_a_base_is_switched_for_the_modular_base_ending_with_its_name(tmp_path: Path) -> None:
    """`ProcessorMixin` (the merged base's) gives way to `OmniModalProcessorMixin`, which subclasses it: the
    method resolution order is the same, no drift."""
    modular = textwrap.dedent("""\
        from ...processing_utils import OmniModalProcessorMixin
        from ..tiny.processing_tiny import TinyProcessor


        class SmallProcessor(OmniModalProcessorMixin, TinyProcessor):
            pass
        """)
    text, drifts = convert(tmp_path, modular, MIXIN_BASE, "processing", MIXIN_LIBRARY)
    assert "class SmallProcessor(OmniModalProcessorMixin):\n" in text
    assert drifts == []


def test_a_switched_base_the_modular_base_does_not_subclass_drifts(tmp_path: Path) -> None:
    modular = textwrap.dedent("""\
        from ...processing_utils import StandaloneProcessorMixin
        from ..tiny.processing_tiny import TinyProcessor


        class SmallProcessor(StandaloneProcessorMixin, TinyProcessor):
            pass
        """)
    text, drifts = convert(tmp_path, modular, MIXIN_BASE, "processing", MIXIN_LIBRARY)
    assert "class SmallProcessor(StandaloneProcessorMixin):\n" in text
    assert drifts == [
        (
            line_of(modular, "StandaloneProcessorMixin, TinyProcessor"),
            "W341",
            "SmallProcessor is written SmallProcessor(StandaloneProcessorMixin), TinyProcessor's bases switched for "
            "the modular bases: it leaves out TinyProcessor's own bases, which Python's class inherits through "
            "TinyProcessor (ProcessorMixin in a Python-exact merge)",
        )
    ]


# -- module order: only upstream's VARIABLES_AT_THE_BEGINNING go first --------------------------------


def test_a_modular_assignment_comes_before_its_first_user_and_logger_first(tmp_path: Path) -> None:
    """`SmallOutput = TinyOutput`-style aliases are placed like pulled definitions (before the first class
    using them); only `logger` (upstream's VARIABLES_AT_THE_BEGINNING) goes first. Order only: no drift."""
    modular = HEADER + textwrap.dedent("""
        from ...utils import auto_docstring

        logger = auto_docstring(None)


        class SmallRotary(TinyRotary):
            pass


        SMALL_SCALE = 3


        class SmallEncoder(TinyEncoder):
            def __init__(self, config):
                super().__init__(config)
                self.layers = SMALL_SCALE
                logger.info(self.layers)
        """)
    text, drifts = convert(tmp_path, modular)
    assert text.index("logger = ") < text.index("class SmallRotary")
    assert text.index("class SmallRotary") < text.index("SMALL_SCALE = 3") < text.index("class SmallEncoder")
    assert drifts == []


def test_what_a_class_of_its_own_pulls_is_grouped_by_source_file(tmp_path: Path) -> None:
    """A class without a model base pulls functions from two base files: upstream groups them by file, the
    files in the order of their alphabetically first name (`a_helper` of zzz before `b_helper` of aaa)."""
    files = {
        "aaa/modeling_aaa.py": "def b_helper(x):\n    return x\n",
        "zzz/modeling_zzz.py": "def a_helper(x):\n    return x\n",
        "small/modular_small.py": textwrap.dedent("""\
            from torch import nn

            from ..aaa.modeling_aaa import b_helper
            from ..zzz.modeling_zzz import a_helper


            class SmallThing(nn.Module):
                def forward(self, x):
                    return a_helper(b_helper(x))
            """),
    }
    outputs, drifts = convert_tree(tmp_path / "transformers" / "models", files)
    text = outputs["small/modeling_small.py"]
    assert text.index("def a_helper") < text.index("def b_helper") < text.index("class SmallThing")
    assert drifts == []


def test_an_attribute_assigned_twice_is_written_once_with_the_last_value(tmp_path: Path) -> None:
    """Upstream keeps one line per class attribute: where it first stands (the base's line, for an
    override), with the last value the modular class writes; Python would run both lines and end with
    the same class, so no drift."""
    modular = HEADER + textwrap.dedent("""

        class SmallPreTrainedModel(TinyPreTrainedModel):
            base_model_prefix = "first"
            mode = "a"
            base_model_prefix = "small"
            mode = "b"
            extra = 1
        """)
    text, drifts = convert(tmp_path, modular)
    body = class_text(text, "SmallPreTrainedModel")
    assert body.count("base_model_prefix") == 1 and 'base_model_prefix = "small"' in body
    assert body.count("mode =") == 1 and 'mode = "b"' in body
    assert body.index("base_model_prefix") < body.index("mode =") < body.index("extra = 1")
    assert drifts == []
