"""Run a snippet of Python in a child process under a memory cap and a wall-clock deadline.

Resource cases (a huge `max_new_tokens`, an absurd `hidden_size`, an endless download) must fail
fast with a clear error. Run in-process, a regression would eat the machine instead of failing;
run here, it dies against the cap (or the deadline) and the test fails with what the child said.

    result = run_capped("from runtime... import ...; ...", memory_mib=2048, timeout_s=60)
    assert result.returncode == 0, result.output
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class CappedResult:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return f"exit {self.returncode}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


def _limit(memory_bytes: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))


def run_capped(code: str, *, memory_mib: int = 2048, timeout_s: float = 120.0) -> CappedResult:
    """Run `code` with `python -c` in the repository root, its address space capped at `memory_mib`.

    A child killed by the deadline raises `subprocess.TimeoutExpired` (the test fails with it).
    """
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1"}
    completed = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        preexec_fn=lambda: _limit(memory_mib * 2**20),
        check=False,
    )
    return CappedResult(completed.returncode, completed.stdout, completed.stderr)
