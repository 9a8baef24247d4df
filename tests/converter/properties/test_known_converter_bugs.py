"""Minimal programs on which the converter accepts the modular file but the generated module does
not behave like the overlay (or on which it fails on its own output). The first five were found
by the property in test_synthetic_programs.py and shrunk by hand; the last four by reasoning
about definition-time name lookups and removal, then confirmed with the same oracle. Each test states the expected behaviour and is a strict xfail: when
the converter is fixed it passes, pytest reports XPASS as a failure, and the matching exclusion in
tests/converter/properties/programs.py (its docstring lists them) should then be lifted.

All run over the Toy base of tests/converter/properties/toy_base.py.
Run: python -m pytest tests/converter/properties -q
"""

from __future__ import annotations

import textwrap

import pytest

from tests.converter.properties.oracle import Script, assert_behaves_like_overlay, convert


def behaves_like_overlay(source: str, *scripts: Script) -> None:
    source = textwrap.dedent(source)
    assert_behaves_like_overlay(source, convert(source), scripts)


def thing(*calls: tuple[str, tuple[object, ...]], removed: tuple[str, ...] = (), name: str = "ZedThing") -> Script:
    """Construct `name(3)`, then call each (method, positional arguments)."""
    return Script(name, ((3,), {}), tuple((method, (args, {})) for method, args in calls), removed, None)


def test_a_string_literal_bound_into_an_fstring_still_converts() -> None:
    source = """
        from generated.toy.modeling_toy import ToyHelper


        class ZedHelper(ToyHelper):
            def describe(self, prefix="h"):
                return super().describe()
    """
    behaves_like_overlay(source, thing(("describe", ()), name="ZedHelper"))


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="converter bug: `self.width = ...` is appended, then `del self.width` removes only the base "
    "assignment, so the generated instance keeps width (the overlay has none)",
)
def test_del_after_the_tail_reassigned_the_attribute() -> None:
    source = """
        from generated.toy.modeling_toy import ToyThing


        class ZedThing(ToyThing):
            def __init__(self, width, depth=2, name="toy"):
                super().__init__(width, depth, name)
                self.width = self.depth
                del self.width
    """
    behaves_like_overlay(source, thing())


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="converter bug: `del self.width` removes the base assignment although an earlier tail "
    "statement reads self.width: construction raises AttributeError (overlay: bonus == width + 1)",
)
def test_del_after_the_tail_read_the_attribute() -> None:
    source = """
        from generated.toy.modeling_toy import ToyThing


        class ZedThing(ToyThing):
            def __init__(self, width, depth=2, name="toy"):
                super().__init__(width, depth, name)
                self.bonus = self.width + 1
                del self.width
    """
    behaves_like_overlay(source, thing())


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="converter bug: `self.extra = self.extra + 1` replaces the base assignment in place, so it "
    "reads self.extra before it is set: construction raises AttributeError (overlay: bump(width) + 1)",
)
def test_a_tail_assignment_reading_the_attribute_it_replaces() -> None:
    source = """
        from generated.toy.modeling_toy import ToyThing


        class ZedThing(ToyThing):
            def __init__(self, width, depth=2, name="toy"):
                super().__init__(width, depth, name)
                self.extra = self.extra + 1
    """
    behaves_like_overlay(source, thing(("check", (1,))))


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="converter bug: a **super_kwargs override whose first parameter is `this` gets the base "
    "signature `(self, x, bonus=0)` but keeps `this` in its body: NameError on every call",
)
def test_super_kwargs_override_spelling_self_differently() -> None:
    source = """
        from generated.toy.modeling_toy import ToyThing


        class ZedThing(ToyThing):
            def check(this, bonus=0, **super_kwargs):
                out = super().check(**super_kwargs)
                return (out, bonus)
    """
    behaves_like_overlay(source, Script("ZedThing", ((3,), {}), (("check", ((), {"x": 1})),), (), None))


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="converter bug: WINDOW, redefined in the modular file, reaches inherited code read at "
    "definition time (`limit = WINDOW * 10`, `def pair(self, a, b=WINDOW)`): 90 and 9 where the overlay "
    "has 40 and 4; the converter should refuse or keep the base value",
)
def test_a_constant_redefinition_reaching_definition_time_reads_in_inherited_code() -> None:
    source = """
        from generated.toy.modeling_toy import ToyThing

        WINDOW = 9


        class ZedThing(ToyThing):
            pass
    """
    behaves_like_overlay(source, thing(("pair", (0,))))


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="converter bug: with ZedThing and ZedModel both in the modular file, the generated "
    "`class ZedModel(ZedThing)` inherits the modular ZedThing (factor 5); the overlay's ZedModel "
    "inherits the base one (factor 2), since class bases are bound at definition time",
)
def test_a_redefined_parent_class_reaching_an_inherited_class_statement() -> None:
    source = """
        from generated.toy.modeling_toy import ToyModel, ToyThing


        class ZedThing(ToyThing):
            factor = 5


        class ZedModel(ToyModel):
            pass
    """
    behaves_like_overlay(source, thing(("score", (0,)), name="ZedModel"))


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="converter bug: removing ToyModel.score (which overrides ToyThing.score) drops it from the "
    "merged body, exposing ZedThing.score: hasattr is True and score(0) returns 4 (overlay: no score)",
)
def test_removing_a_method_that_overrides_a_parent_method() -> None:
    source = """
        from generated.toy.modeling_toy import ToyModel


        class ZedModel(ToyModel):
            def score(self):
                raise AttributeError("Zed has no score")
    """
    behaves_like_overlay(source, thing(("score", (0,)), removed=("score",), name="ZedModel"))


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="converter bug: SCALE, redefined after ZedThing in the modular file, is moved before it, "
    "so `bonus = SCALE + 1` in the class body is 6 in the generated file and 4 in the overlay",
)
def test_a_helper_redefined_after_a_definition_time_use() -> None:
    source = """
        from generated.toy.modeling_toy import ToyThing


        class ZedThing(ToyThing):
            bonus = SCALE + 1


        SCALE = 5
    """
    behaves_like_overlay(source, thing())
