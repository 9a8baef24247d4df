"""Proves, on modular programs that hypothesis draws over a plain-Python base model, that the
converter either refuses with located diagnostics or writes a module that behaves exactly like
the overlay (the reference semantics of DESIGN.md, built here without the converter).

For each drawn program (tests/converter/properties/programs.py) in a temporary repository with
`generated/toy/modeling_toy.py` (tests/converter/properties/toy_base.py) and
`modular/modular_zed.py`:

1. `convert_files` returns, or raises ConversionError whose every diagnostic has the modular
   file's path, a line and column >= 1 inside it, a code and a fix; any other exception fails.
2. When it returns, the generated modeling file and the overlay (tests/converter/properties/oracle.py)
   each get, for every class the modular file defines, the same class-level reads, constructor
   call and method calls (same drawn arguments); returned values, raised exceptions (type and
   message), `vars()` of the instances and hasattr of removed members must be equal.
3. Most programs convert: refusals stay under a third (about one in seven is typical), so the
   property is not vacuous.

Mutation self-check. Each of these converter mistakes was injected in a scratch process by
monkeypatching one function (no converter file was edited) and made this test fail within its
60 examples, with the observation shown:
- a missed dependency (trace.Tracer.pull skipping `bump`): NameError: name 'bump' is not defined;
- super() arguments ignored (binding.binding binding every parameter to the caller's variable
  of the same name): NameError or different numbers;
- an `__init__` tail assignment always replaced in place (init_merge.movable always true):
  AttributeError reading an attribute the base sets later;
- `del self.x` removing the assignment before the right one (init_merge.deletable - 1):
  different `vars()`;
- `x = AttributeError()` or a `raise AttributeError` method not treated as removal
  (members.removes_attribute / removes_method false): the class keeps the member;
- the lowercase form not renamed (rename.Rename.text), or forms renamed inside words
  (`toys` -> `zeds`): `describe()` and `label()` return different strings.
Mistakes that make a modular redefinition lose to the base definition show up the same way as a
missed dependency or a wrong number, since every base method reads helpers and constants.

Known disagreements are pinned as strict xfails in test_known_converter_bugs.py and kept out of
the strategy (programs.py lists them).

Run: python -m pytest tests/converter/properties -q
"""

from __future__ import annotations

import re
from collections import Counter

from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

from converter import ConversionError
from tests.converter.properties.oracle import MODULAR, Script, assert_behaves_like_overlay, convert
from tests.converter.properties.programs import ClassSpec, Program, call_arguments, programs

EXAMPLES = 60


def check_diagnostics(error: ConversionError, modular_source: str) -> None:
    lines = modular_source.splitlines()
    assert error.diagnostics
    for diagnostic in error.diagnostics:
        assert diagnostic.path == MODULAR, diagnostic
        assert 1 <= diagnostic.line <= len(lines), diagnostic
        assert 1 <= diagnostic.col <= len(lines[diagnostic.line - 1]) + 1, diagnostic
        assert re.fullmatch(r"E\d{3}", diagnostic.code), diagnostic
        assert diagnostic.message.strip() and diagnostic.fix.strip(), diagnostic


@st.composite
def script(draw: st.DrawFn, spec: ClassSpec) -> Script:
    init = draw(call_arguments(spec.init))
    calls = tuple((name, draw(call_arguments(signature))) for name, signature in spec.methods)
    return Script(spec.name, init, calls, spec.removed, spec.docstring)


def test_drawn_programs_convert_to_overlay_equivalent_code_or_are_refused_with_located_diagnostics() -> None:
    outcomes: Counter[str] = Counter()

    # derandomize: CI explores the same programs every run; known mismatches (test_known_converter_bugs)
    # that the strategy does not fully avoid must not make CI flaky
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(program=programs(), data=st.data())
    def check(program: Program, data: st.DataObject) -> None:
        source = program.modular_source()
        note(source)
        try:
            text = convert(source)
        except ConversionError as error:
            check_diagnostics(error, source)
            outcomes["refused"] += 1
            codes = ", ".join(sorted({d.code for d in error.diagnostics}))
            event("refused", f"{codes} ({'risky' if program.risky else 'ordinary'} draw)")
            return
        outcomes["converted"] += 1
        note(text)
        scripts = [data.draw(script(spec), label=spec.name) for spec in program.classes]
        assert_behaves_like_overlay(source, text, scripts)

    check()
    assert outcomes["refused"] * 3 < outcomes["refused"] + outcomes["converted"], outcomes
