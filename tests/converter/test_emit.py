"""Proves what every generated file contains: the header, the modular docstring (modeling file only),
`__all__` split per file, and a package `__init__.py` re-exporting every public name; plus the
errors for names defined twice and for a bad `__all__`.

Run: python -m pytest tests/converter/test_emit.py -q
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable

import pytest

from converter import ConversionError
from tests.converter.conftest import header

Convert = Callable[..., dict[str, str]]
CONFIG = "generated/toy/configuration_toy.py"
MODELING = "generated/toy/modeling_toy.py"
INIT = "generated/toy/__init__.py"

SOURCE = '''
"""Toy: the model docstring."""


class ToyConfig:
    pass


class ToyModel:
    pass


class _Cache:
    pass


def make_model():
    return ToyModel()
'''


def test_every_file_starts_with_the_header(convert: Convert) -> None:
    outputs = convert(SOURCE)
    assert sorted(outputs) == [INIT, CONFIG, MODELING]
    for text in outputs.values():
        assert text.startswith(header("toy"))
    assert "regenerate with\n#     python converter/run.py modular/modular_toy.py\n" in outputs[MODELING]


def test_modular_docstring_follows_the_header_in_the_modeling_file_only(convert: Convert) -> None:
    outputs = convert(SOURCE)
    assert outputs[MODELING].startswith(header("toy") + '\n"""Toy: the model docstring."""\n')
    assert "the model docstring" not in outputs[CONFIG]


def test_without_all_each_file_exports_its_public_classes(convert: Convert) -> None:
    outputs = convert(SOURCE)
    assert outputs[CONFIG].endswith('\n__all__ = ["ToyConfig"]\n')
    assert outputs[MODELING].endswith('\n__all__ = ["ToyModel"]\n')


def test_listed_all_is_split_by_file_in_listed_order(convert: Convert) -> None:
    outputs = convert(SOURCE + '\n\n__all__ = ["make_model", "ToyModel", "ToyConfig"]\n')
    assert outputs[CONFIG].endswith('\n__all__ = ["ToyConfig"]\n')
    assert outputs[MODELING].endswith('\n__all__ = ["make_model", "ToyModel"]\n')
    assert outputs[MODELING].count("__all__") == 1


def test_init_reexports_every_exported_name(convert: Convert) -> None:
    outputs = convert(SOURCE + '\n\n__all__ = ["make_model", "ToyModel", "ToyConfig"]\n')
    assert outputs[INIT] == header("toy") + textwrap.dedent(
        '''\
        """The generated toy model: re-exports the public names of configuration_toy, modeling_toy."""

        from .configuration_toy import ToyConfig
        from .modeling_toy import ToyModel, make_model

        __all__ = ["ToyConfig", "make_model", "ToyModel"]
        '''
    )


def test_all_listing_an_undefined_name_is_refused(convert: Convert) -> None:
    with pytest.raises(ConversionError) as caught:
        convert('class ToyModel:\n    pass\n\n\n__all__ = ["ToyModel", "ToyMissing"]\n')
    [diagnostic] = caught.value.diagnostics
    assert (diagnostic.line, diagnostic.col, diagnostic.code) == (5, 1, "E040")
    assert "ToyMissing" in diagnostic.message


def test_all_that_is_not_a_literal_list_is_refused(convert: Convert) -> None:
    with pytest.raises(ConversionError) as caught:
        convert('class ToyModel:\n    pass\n\n\n__all__ = [name for name in ("ToyModel",)]\n')
    assert [d.code for d in caught.value.diagnostics] == ["E041"]


def test_class_defined_twice_is_refused(convert: Convert) -> None:
    with pytest.raises(ConversionError) as caught:
        convert("class ToyModel:\n    pass\n\n\nclass ToyModel:\n    x = 1\n")
    [diagnostic] = caught.value.diagnostics
    assert (diagnostic.line, diagnostic.col, diagnostic.code) == (5, 1, "E010")
    assert diagnostic.message == "ToyModel is defined twice (first on line 1)"
