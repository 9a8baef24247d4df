"""Proves generated/ is what the converter makes of modular/: every modular/modular_*.py is converted
in memory (bases first, as `--all` does) and each output compared with the file under generated/. A mismatch (a hand edit, or a
modular change without regenerating) fails with a unified diff and the command that fixes it.

Run: python -m pytest tests/converter/test_generated_up_to_date.py -q
"""

from __future__ import annotations

import difflib

import pytest

from converter import convert_files
from tests.converter.conftest import REPO_ROOT

MODULAR_FILES = sorted((REPO_ROOT / "modular").glob("modular_*.py"))


@pytest.mark.skipif(not MODULAR_FILES, reason="modular/ has no modular_*.py files yet")
def test_generated_files_match_a_fresh_conversion() -> None:
    outputs = convert_files(MODULAR_FILES, REPO_ROOT)
    problems = []
    for path, text in sorted(outputs.items()):
        relative = path.relative_to(REPO_ROOT).as_posix()
        on_disk = path.read_text(encoding="utf-8") if path.is_file() else None
        if on_disk != text:
            old = "/dev/null" if on_disk is None else f"a/{relative}"
            lines = difflib.unified_diff((on_disk or "").splitlines(True), text.splitlines(True), old, f"b/{relative}")
            problems.append("".join(lines))
    if problems:
        pytest.fail("".join(problems) + "\nfix: python converter/run.py --all", pytrace=False)
