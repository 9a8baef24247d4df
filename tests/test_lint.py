"""The hand-written code passes the repository's ruff configuration (pyproject.toml): lint rules and
formatting, for every folder a person edits. generated/ is excluded there: the converter formats
what it writes (and tests/converter checks that).

Run: python -m pytest tests/test_lint.py -q
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HAND_WRITTEN = ["converter", "runtime", "modular", "utils", "tests", "examples"]


@pytest.mark.parametrize(
    "command", [["check", "--no-fix"], ["format", "--check"]], ids=["ruff check", "ruff format --check"]
)
def test_hand_written_code_is_clean(command: list[str]) -> None:
    folders = [name for name in HAND_WRITTEN if (REPO / name).is_dir()]
    result = subprocess.run(
        [sys.executable, "-m", "ruff", *command, *folders],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    fix = f"fix: python -m ruff {'check --fix' if command[0] == 'check' else 'format'} {' '.join(folders)}"
    assert result.returncode == 0, f"{result.stdout}{result.stderr}\n{fix}"
