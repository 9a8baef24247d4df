"""Run the converter or the checker in a child process whose file system misbehaves on purpose.

Permissions do not stop root, and a full disk cannot be made without privileges, so the failures
are simulated where the converter meets the operating system (`os.open`, `os.write`, `io.open`,
`os.mkdir`, `os.replace`), for paths under one target only; a kill is a SIGKILL the process sends
itself right after the n-th call of an `os` function, at an exact point of a write, not a timing.

    result = run_faulty("read-only", repo / "generated" / "toy", "run", "--repo-root", str(repo), "--all")
    result = run_faulty("kill-at-replace-2", repo, "run", ...)   # killed after the 2nd os.replace

Modes: plain (nothing), read-only (creating, writing or renaming onto the target fails with
EACCES), unreadable (opening it for reading fails with EACCES), full-disk (writes to files opened
under it fail with ENOSPC), kill-at-<os function>-<n>.
"""

from __future__ import annotations

import builtins
import errno
import importlib.util
import io
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
CHECKER = REPO_ROOT / "utils" / "check_modular_conversion.py"


def run_faulty(mode: str, target: Path, tool: str, *argv: str) -> subprocess.CompletedProcess[str]:
    """`tool` ("run": converter/run.py, "check": the checker) with `argv`, in a child under `mode`;
    a child that hangs past the deadline fails the test (subprocess.TimeoutExpired)."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    command = [sys.executable, "-m", "tests.adversarial.faulty_fs", mode, str(target), tool, *argv]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=env, check=False, cwd=REPO_ROOT)


def under(target: str) -> Callable[[Any], bool]:
    def inside(path: Any) -> bool:
        if not isinstance(path, (str, bytes, os.PathLike)):
            return False
        resolved = os.path.realpath(os.fsdecode(path))
        return resolved == target or resolved.startswith(target + os.sep)

    return inside


def deny(path: Any, code: int = errno.EACCES) -> None:
    raise OSError(code, os.strerror(code), os.fsdecode(path))


def read_only(inside: Callable[[Any], bool]) -> None:
    real_open, real_mkdir, real_replace = os.open, os.mkdir, os.replace
    writing = os.O_CREAT | os.O_WRONLY | os.O_RDWR

    def fake_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & writing and "dir_fd" not in kwargs and inside(path):
            deny(path)
        return real_open(path, flags, *args, **kwargs)

    def fake_mkdir(path: Any, *args: Any, **kwargs: Any) -> None:
        return deny(path) if inside(path) else real_mkdir(path, *args, **kwargs)

    def fake_replace(source: Any, destination: Any, **kwargs: Any) -> None:
        return deny(destination) if inside(destination) else real_replace(source, destination, **kwargs)

    os.open, os.mkdir, os.replace = fake_open, fake_mkdir, fake_replace  # type: ignore[assignment]


def unreadable(inside: Callable[[Any], bool]) -> None:
    real_open = io.open

    def fake_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if "r" in mode and inside(file):
            deny(file)
        return real_open(file, mode, *args, **kwargs)

    io.open = builtins.open = fake_open  # type: ignore[assignment]


def full_disk(inside: Callable[[Any], bool]) -> None:
    real_open, real_write, full = os.open, os.write, set()

    def fake_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        descriptor = real_open(path, flags, *args, **kwargs)
        if "dir_fd" not in kwargs and inside(path):
            full.add(descriptor)
        return descriptor

    def fake_write(descriptor: int, data: Any) -> int:
        if descriptor in full:
            deny(f"<fd {descriptor}>", errno.ENOSPC)
        return real_write(descriptor, data)

    os.open, os.write = fake_open, fake_write  # type: ignore[assignment]


def kill_after(name: str, count: int) -> None:
    real = getattr(os, name)
    calls: list[int] = []

    def killing(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        calls.append(1)
        if len(calls) == count:
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    setattr(os, name, killing)


def main(argv: list[str]) -> int:
    mode, target, tool, *rest = argv
    inside = under(os.path.realpath(target))
    if mode.startswith("kill-at-"):
        _, _, name, count = mode.split("-")
        kill_after(name, int(count))
    elif mode != "plain":
        {"read-only": read_only, "unreadable": unreadable, "full-disk": full_disk}[mode](inside)
    if tool == "run":
        from converter.run import main as tool_main
    else:
        spec = importlib.util.spec_from_file_location("check_modular_conversion", CHECKER)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        tool_main = module.main
    return tool_main(rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
