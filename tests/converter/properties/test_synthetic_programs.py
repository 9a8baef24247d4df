"""Proves, on modular programs that hypothesis draws over a plain-Python base model, that the
converter either refuses with located diagnostics or writes a module that behaves exactly like
the overlay (the reference semantics of DESIGN.md, built here without the converter).

For each drawn program (tests/converter/properties/programs.py) in a temporary repository with
`generated/toy/modeling_toy.py` (tests/converter/properties/toy_base.py) and
`modular/modular_zed.py`:

1. `convert_files` returns, or raises ConversionError whose every diagnostic has a path, a line
   and column >= 1 inside the modular file, a code and a fix; any other exception fails.
2. When it returns, the generated modeling file and the overlay each get, for every class the
   modular file defines, the same class-level reads, constructor call and method calls (same
   drawn arguments); the returned values, raised exceptions (type and message), `vars()` of the
   instances and the presence of removed members must be equal.
3. Most programs convert (the strategy is not vacuous): refusals stay under a third.

Mutation self-check (what these properties catch; each was reasoned through against the
base, and the first three were tried as one-line edits of converter/ that were then reverted):
- a missed dependency (trace.py not pulling `bump`, `WINDOW` or `ZedHelper`): the generated
  module raises NameError where the overlay returns;
- the base definition winning over a modular redefinition (`combine`, `SCALE`, `label`):
  inherited methods return different numbers or strings;
- a wrong merge: an `__init__` tail statement moved before a base statement it depends on, a
  `del self.x` removing the wrong assignment, a replaced method left in place, a super()
  argument bound to the wrong parameter or default: different `vars()` or return values;
- a wrong rename (a CamelCase/lower/UPPER form missed, or `toys`/`mytoy` renamed): `label`,
  `describe` and the default `name` give different strings, or a name is undefined;
- removal not done, or done on the wrong member: hasattr differs;
- a traceback instead of a diagnostic, or a diagnostic without a position or fix: step 1.

Run: python -m pytest tests/converter/properties -q
"""

from __future__ import annotations

import re
import tempfile
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

from converter import ConversionError, convert_files
from tests.converter.properties.oracle import Script, generated_namespace, overlay_namespace
from tests.converter.properties.programs import ClassSpec, Program, call_arguments, programs
from tests.converter.properties.toy_base import BASE_SOURCE

MODULAR = "modular/modular_zed.py"
GENERATED = "generated/zed/modeling_zed.py"
EXAMPLES = 60


def convert(modular_source: str) -> str:
    """The generated modeling file for `modular_source` over the Toy base; raises ConversionError."""
    with tempfile.TemporaryDirectory(prefix="converter-properties-") as directory:
        repo = Path(directory)
        files = {
            "generated/__init__.py": "",
            "generated/toy/__init__.py": "",
            "generated/toy/modeling_toy.py": BASE_SOURCE,
            MODULAR: modular_source,
        }
        for path, text in files.items():
            (repo / path).parent.mkdir(parents=True, exist_ok=True)
            (repo / path).write_text(text, encoding="utf-8")
        return convert_files([repo / MODULAR], repo)[repo / GENERATED]


def check_diagnostics(error: ConversionError, modular_source: str) -> None:
    lines = modular_source.splitlines()
    assert error.diagnostics
    for diagnostic in error.diagnostics:
        assert diagnostic.path == MODULAR, diagnostic
        assert 1 <= diagnostic.line <= len(lines), diagnostic
        assert 1 <= diagnostic.col <= len(lines[diagnostic.line - 1]) + 1, diagnostic
        assert re.fullmatch(r"E\d{3}", diagnostic.code), diagnostic
        assert diagnostic.message.strip() and diagnostic.fix.strip(), diagnostic


def behaviour(namespace: dict[str, object], scripts: list[Script]) -> list[tuple[object, ...]]:
    return [(script.class_name, *step) for script in scripts for step in script.run(namespace)]


def assert_behaves_like_overlay(modular_source: str, text: str, scripts: list[Script]) -> None:
    removed = {script.class_name: script.removed for script in scripts}
    expected = behaviour(overlay_namespace(BASE_SOURCE, modular_source, removed), scripts)
    assert behaviour(generated_namespace(text), scripts) == expected


@st.composite
def script(draw: st.DrawFn, spec: ClassSpec) -> Script:
    init = draw(call_arguments(spec.init))
    calls = tuple((name, draw(call_arguments(signature))) for name, signature in spec.methods)
    return Script(spec.name, init, calls, spec.removed, spec.docstring)


def test_drawn_programs_convert_to_overlay_equivalent_code_or_are_refused_with_located_diagnostics() -> None:
    outcomes: Counter[str] = Counter()

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(program=programs(), data=st.data())
    def check(program: Program, data: st.DataObject) -> None:
        source = program.modular_source()
        note(source)
        try:
            text = convert(source)
        except ConversionError as error:
            check_diagnostics(error, source)
            outcomes["refused"] += 1
            event("refused", ", ".join(sorted({d.code for d in error.diagnostics})))
            return
        outcomes["converted"] += 1
        note(text)
        scripts = [data.draw(script(spec), label=spec.name) for spec in program.classes]
        assert_behaves_like_overlay(source, text, scripts)

    check()
    assert outcomes["refused"] * 3 < outcomes["refused"] + outcomes["converted"], outcomes
