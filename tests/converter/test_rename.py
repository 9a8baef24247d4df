"""Proves the rename pass: the word rule (CamelCase, lowercase, UPPER, only at word boundaries),
applied on the syntax tree to identifiers, strings, docstrings, f-strings and comments of inherited
code; names imported from outside the model kept; CamelCase prefixes read off class names.

Run: python -m pytest tests/converter/test_rename.py -q
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import libcst as cst
import pytest

from converter.rename.rename import external_names
from converter.rename.renamer import Rename, RenameModel
from tests.converter.conftest import block, dedent

Inherit = Callable[..., dict[str, str]]
MODELING = "generated/toy/modeling_toy.py"
LLAMA_TO_GEMMA2 = Rename("llama", "gemma2", "Llama", "Gemma2")


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("LlamaMLP", "Gemma2MLP"),
        ("Llama", "Gemma2"),
        ("_LlamaCache", "_Gemma2Cache"),
        ("modeling_llama", "modeling_gemma2"),
        ("llama_rope", "gemma2_rope"),
        ("LLAMA_DOCS", "GEMMA2_DOCS"),
        ("Llama2", "Gemma22"),
        ('"llama"', '"gemma2"'),
        ("# Llama-2-7B defaults", "# Gemma2-2-7B defaults"),
    ],
)
def test_a_form_is_renamed_where_a_word_starts(before: str, after: str) -> None:
    assert LLAMA_TO_GEMMA2.text(before) == after


@pytest.mark.parametrize("word", ["MyLlamaTokenizer", "flamingo", "Llamas", "llamafy", "xllama"])
def test_a_form_inside_another_word_is_left_alone(word: str) -> None:
    assert LLAMA_TO_GEMMA2.text(word) == word


def test_a_new_name_that_contains_the_old_one_is_not_renamed_twice() -> None:
    assert Rename("gemma", "gemma2", "Gemma", "Gemma2").text("GemmaMLP gemma GEMMA") == "Gemma2MLP gemma2 GEMMA2"


BASE = {
    "tiny": {
        "modeling": '''
        """Tiny: a base model."""

        from torch import nn

        from runtime.tokenizers import TinyTokenizer


        class TinyLayer(nn.Module):
            """The tiny layer; TINY_SIZE wide."""

            model_type = "tiny"  # tiny's type

            def describe(self, tiny_name: str) -> str:
                # a tiny comment
                return f"TinyLayer {tiny_name} of tiny"

            def tokenizer(self) -> TinyTokenizer:
                return TinyTokenizer(name_or_path="tiny")


        __all__ = ["TinyLayer"]
        '''
    }
}


def test_inherited_identifiers_strings_docstrings_and_comments_are_renamed(inherit: Inherit) -> None:
    outputs = inherit(
        "from generated.tiny.modeling_tiny import TinyLayer\n\n\nclass ToyLayer(TinyLayer):\n    pass\n", BASE
    )
    assert block(outputs[MODELING], "ToyLayer") == dedent(
        '''
        class ToyLayer(nn.Module):
            """The toy layer; TOY_SIZE wide."""

            model_type = "toy"  # toy's type

            def describe(self, toy_name: str) -> str:
                # a toy comment
                return f"ToyLayer {toy_name} of toy"

            def tokenizer(self) -> TinyTokenizer:
                return TinyTokenizer(name_or_path="toy")
        '''
    )


def test_names_imported_from_outside_the_model_keep_their_names(inherit: Inherit) -> None:
    outputs = inherit(
        "from generated.tiny.modeling_tiny import TinyLayer\n\n\nclass ToyLayer(TinyLayer):\n    pass\n", BASE
    )
    assert "from runtime.tokenizers import TinyTokenizer\n" in outputs[MODELING]


def test_the_new_prefix_comes_from_the_classes_that_subclass_base_classes(inherit: Inherit) -> None:
    source = "from generated.tiny.modeling_tiny import TinyLayer\n\n\nclass ToyLMLayer(TinyLayer):\n    pass\n"
    outputs = inherit(source, BASE, model="toy_lm")
    text = outputs["generated/toy_lm/modeling_toy_lm.py"]
    assert "class ToyLMLayer(nn.Module):" in text
    assert 'return f"ToyLMLayer {toy_lm_name} of toy_lm"' in text


def test_without_a_subclass_the_prefix_is_the_capitalised_model_name(inherit: Inherit) -> None:
    source = """
        from generated.tiny.modeling_tiny import TinyLayer


        def make_layer():
            return TinyLayer()
        """
    outputs = inherit(source, BASE, model="toy_lm")
    assert "class ToyLmLayer(nn.Module):" in outputs["generated/toy_lm/modeling_toy_lm.py"]


def test_model_prefixes_with_underscores_are_read_off_class_names() -> None:
    from converter.rename.rename import prefix_matching

    assert prefix_matching(["MiniCPMV4_6Model", "MiniCPMV4_6Config", "Other"], "minicpmv4_6") == ["MiniCPMV4_6"] * 2
    assert prefix_matching(["Gemma2MLP"], "gemma2") == ["Gemma2"]


def test_each_base_model_gets_the_prefix_of_the_classes_built_on_it(inherit: Inherit) -> None:
    """A vision-language file: its text classes subclass one base (`ToyTextLayer(TinyLayer)`), its
    other classes another; each base is renamed with the prefix of the classes built on it."""
    other_modeling = (
        "from torch import nn\n\n\nclass OtherScale(nn.Module):\n    pass\n\n\n"
        "class OtherHead(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.scale = OtherScale()\n"
    )
    other = {"other": {"modeling": other_modeling}}
    source = (
        "from generated.other.modeling_other import OtherHead\n"
        "from generated.tiny.modeling_tiny import TinyLayer\n\n\n"
        "class ToyTextLayer(TinyLayer):\n    pass\n\n\n"
        "class ToyTextNorm(TinyLayer):\n    pass\n\n\n"
        "class ToyHead(OtherHead):\n    pass\n"
    )
    text = inherit(source, {**BASE, **other}, model="toy")["generated/toy/modeling_toy.py"]
    assert "class ToyHead(nn.Module):" in text and "class ToyScale(nn.Module):" in text
    assert "class ToyTextLayer(nn.Module):" in text and 'return f"ToyTextLayer {toy_name} of toy"' in text


def test_prose_of_an_upper_camel_name_in_a_tree() -> None:
    """Upstream's rule when the CamelCase name is all UPPER (`T5`): alone as a word it becomes the
    new UPPER name, starting a longer name the new CamelCase one; other names keep their forms."""
    t5 = Rename("t5", "switch_transformers", "T5", "SwitchTransformers", any_case=True)
    assert t5.prose("# T5 uses a T5LayerNorm, see t5.md") == (
        "# SWITCH_TRANSFORMERS uses a SwitchTransformersLayerNorm, see switch_transformers.md"
    )
    llama = Rename("llama", "gemma2", "Llama", "Gemma2", any_case=True)
    assert llama.prose("# LLAMA and Llama and llama, LlamaModel") == "# GEMMA2 and Gemma2 and gemma2, Gemma2Model"


RENAMED_SOURCE = dedent(
    '''
    """Llama model."""
    import torch
    from tokenizers import LlamaTokenizer
    from .configuration_llama import LlamaConfig

    # Copied from transformers.models.llama.modeling_llama.rotate
    def rotate(x: "LlamaConfig", tokenizer: LlamaTokenizer):  # llama helper
        import llama_kernels
        return f"llama {x!r} {LLAMA_SIZE}" + (  # keep Llama
            LlamaConfig
        )


    class LlamaMLP(torch.nn.Module):
        config_class = LlamaConfig
        base_model_prefix = "llama"

        def forward(self, x):
            # Copied from transformers.models.llama
            return self.llama_act(x)
    '''
)


@pytest.mark.parametrize("any_case", [False, True])
def test_apply_gives_what_the_visitor_gives(any_case: bool) -> None:
    """`RenameModel.apply` (a field walk) builds the tree `visit` builds: same node types, fields and
    sequence types, the `# Copied from` lines dropped alike; unchanged subtrees are shared."""
    module = cst.parse_module(RENAMED_SOURCE)
    renamer = RenameModel(Rename("llama", "gemma2", "Llama", "Gemma2", any_case=any_case), external_names(module))
    for statement in module.body:
        visited, applied = statement.visit(renamer), renamer.apply(statement)
        assert same_tree(visited, applied)
    assert renamer.apply(module).code == module.visit(renamer).code
    function = module.body[4]
    assert renamer.apply(function).params.params[0].name is function.params.params[0].name  # `x`, kept


def same_tree(first: object, second: object) -> bool:
    if isinstance(first, cst.CSTNode):
        fields = [field.name for field in dataclasses.fields(first)]
        return type(first) is type(second) and all(
            same_tree(getattr(first, name), getattr(second, name)) for name in fields
        )
    if isinstance(first, (list, tuple)):
        return (
            type(first) is type(second)
            and len(first) == len(second)  # type: ignore[arg-type]
            and all(map(same_tree, first, second))  # type: ignore[call-overload]
        )
    return type(first) is type(second) and first == second
