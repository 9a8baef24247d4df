"""Command line of the modular converter.

    python converter/run.py modular/modular_llama.py           # (re)write generated/llama/
    python converter/run.py --all                              # every modular/modular_*.py, bases first
    python converter/run.py --all --check                      # exit 1 + diff when generated/ is stale
    python converter/run.py --diff modular/modular_gemma2.py   # show what would change, write nothing
    python converter/run.py --all -j 4                         # models of one level in 4 processes
    python converter/run.py --tree path/to/transformers/models --all     # a transformers-style tree
    python converter/run.py --tree models models/mistral/modular_mistral.py

Models are converted in dependency order (a model after the models it imports from); a model
inherits from this run's output of its base when the base is converted in the same run, else
from the base's files under generated/. Prints one summary line per model on stdout
(`gemma2: modular 120 lines -> generated 580 lines (21%) (...)`), diagnostics on stderr, and a
progress line on stderr when it is a terminal. Exit code 0 on success, 1 on any diagnostic or
(with --check) stale file. A failing run writes nothing. `-j N` output is byte-identical to `-j 1`.

With `--tree`, the files are laid out as in transformers (converter/layout.py): each modular file
sits beside its outputs (`<model>/<kind>_<model>.py`), and bases are imported relatively
(`from ..llama.modeling_llama import LlamaMLP`); `--all` takes every `*/modular_*.py` of the tree.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    # Run as a script, Python puts converter/ (not the repository) on sys.path.
    sys.path.insert(0, str(REPO_ROOT))

from converter.diagnostics import ConversionError, format_diagnostics  # noqa: E402
from converter.emit import RUN_COMMAND, EmittedModel, count_lines  # noqa: E402
from converter.layout import REPO, TREE  # noqa: E402
from converter.pipeline import convert_models  # noqa: E402
from converter.write import FileChange, pending_changes, unified_diff, write_changes  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="converter/run.py", description="Unroll modular model files into standalone files under generated/."
    )
    parser.add_argument("files", nargs="*", type=Path, help="modular files, e.g. modular/modular_llama.py")
    parser.add_argument("--all", action="store_true", help="convert every modular/modular_*.py of the repository")
    parser.add_argument("-j", "--jobs", type=int, default=1, help="worker processes (default: %(default)s)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="exit 1 with a diff if generated files are stale")
    mode.add_argument("--diff", action="store_true", help="print the diff against generated/, write nothing")
    parser.add_argument("--repo-root", type=Path, default=REPO_ROOT, help="repository root (default: %(default)s)")
    parser.add_argument(
        "--tree", type=Path, help="a transformers-style models directory: modular files beside their outputs"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    repo_root = (args.tree if args.tree is not None else args.repo_root).resolve()
    layout = TREE if args.tree is not None else REPO
    if bool(args.files) == args.all or args.jobs < 1:
        parser.error("pass modular files or --all (not both), and -j of at least 1")
    pattern = "*/modular_*.py" if layout.tree else "modular/modular_*.py"
    files = sorted(repo_root.glob(pattern)) if args.all else args.files
    progress = Progress(sys.stderr) if len(files) > 1 and sys.stderr.isatty() else None
    try:
        models = convert_models(files, repo_root, args.jobs, progress, layout)
    except ConversionError as error:
        if progress is not None:
            progress.clear()
        print(format_diagnostics(error.diagnostics), file=sys.stderr)
        count = len(error.diagnostics)
        print(f"{count} error{'s' if count != 1 else ''}; nothing written", file=sys.stderr)
        return 1
    changes = pending_changes(models, repo_root)
    for model in models:
        print(summary(model))
    if args.check:
        return report_stale(changes, repo_root, args.all)
    if args.diff:
        sys.stdout.write("".join(unified_diff(change) for change in changes))
        return 0
    write_changes(changes)
    for change in changes:
        print(f"  wrote {change.display_path}")
    return 0


def summary(model: EmittedModel) -> str:
    """`gemma2: modular 120 lines -> generated 580 lines (21%) (configuration_gemma2.py, modeling_gemma2.py)`.

    Non-blank lines; the percentage is the modular file's size relative to what it generates.
    """
    files = [file for file in model.files if not file.path.endswith("/__init__.py")]
    lines = sum(count_lines(file.text) for file in files)
    names = ", ".join(file.path.rsplit("/", 1)[-1] for file in files)
    ratio = f"{round(100 * model.modular_lines / lines)}%" if lines else "-"
    return f"{model.model}: modular {model.modular_lines} lines -> generated {lines} lines ({ratio}) ({names})"


class Progress:
    """`[3/5] gemma2` on one rewritten terminal line; cleared when the last model is done."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def __call__(self, done: int, total: int, model: str) -> None:
        line = f"[{done}/{total}] {model}" if done < total else ""
        self.stream.write(f"\r\033[K{line}")
        self.stream.flush()

    def clear(self) -> None:
        self.stream.write("\r\033[K")
        self.stream.flush()


def report_stale(changes: Sequence[FileChange], repo_root: Path, all_models: bool = False) -> int:
    if not changes:
        return 0
    sys.stdout.write("".join(unified_diff(change) for change in changes))
    print(f"{len(changes)} generated file{'s are' if len(changes) != 1 else ' is'} stale or missing", file=sys.stderr)
    print(f"fix: {fix_command(changes, repo_root, all_models)}", file=sys.stderr)
    return 1


def fix_command(changes: Sequence[FileChange], repo_root: Path, all_models: bool = False) -> str:
    """The exact command that regenerates the stale files."""
    root = "" if repo_root == REPO_ROOT else f" --repo-root {repo_root}"
    if all_models:
        return f"{RUN_COMMAND}{root} --all"
    modular_paths = sorted({change.modular_path for change in changes})
    return f"{RUN_COMMAND}{root} {' '.join(modular_paths)}"


if __name__ == "__main__":
    sys.exit(main())
