"""Command line of the modular converter.

    python converter/run.py modular/modular_llama.py           # (re)write generated/llama/
    python converter/run.py --all                              # every modular/modular_*.py, bases first
    python converter/run.py --all --check                      # exit 1 + diff when generated/ is stale
    python converter/run.py --diff modular/modular_gemma2.py   # show what would change, write nothing
    python converter/run.py --all -j 4                         # models of one level in 4 processes
    python converter/run.py --tree path/to/transformers/models --all     # a transformers-style tree
    python converter/run.py --tree models models/mistral/modular_mistral.py
    python converter/run.py --where generated/gemma2/modeling_gemma2.py:120   # where that line came from
    python converter/run.py --where-traceback < traceback.txt  # annotate each generated frame

Models are converted in dependency order (a model after the models it imports from); a model
inherits from this run's output of its base when the base is converted in the same run, else
from the base's files under generated/. Prints one summary line per model on stdout
(`gemma2: modular 120 lines -> generated 580 lines (21%) (...)`), diagnostics on stderr, and a
progress line on stderr when it is a terminal. A failing run writes nothing. `-j N` output is
byte-identical to `-j 1`.

The converter owns generated/ (converter/write/write.py): a conversion removes the files of a model's
package that it no longer produces, and `--all` also removes packages that have no modular file;
`--check` and `--diff` report them instead. Writes are atomic across a run (converter/write/journal.py):
a run that was killed while writing is finished, or its temporary files removed, by the next
writing run, which says so on stderr.

Exit codes:
    0  written, or (with --check / --diff) nothing to do
    1  a conversion error (diagnostics on stderr, nothing written), or with --check a stale,
       missing or extra generated file
    2  the run could not do its job: no modular file found, a root that is not a directory, a
       generated path that cannot be read or written (named; nothing half-written), a usage
       error, or an internal error

`--where FILE:LINE` answers from `generated/<model>/provenance.json` (converter/write/where.py),
without converting: the modular file and line the code was written at on the first line, then
each generated file it went through; exit 0, or 2 when it cannot answer (not a generated file, no
map, a map older than the file). `--where-traceback` copies a traceback from stdin to stdout and
adds each generated frame's origin below it.

`--dialect transformers` (with `--tree`) converts transformers' own modular files by upstream's rules
(converter/dialect/): each place where a rule changes what the modular code would do as Python is a
drift warning on stderr (`path:line:col: W301 ... [super-unbound]`, then the fix). `--lint` converts
and prints the drifts on stdout, one per rule application, writing nothing: exit 0 when there are
none, 1 when there are (as --check does for stale files).

With `--tree`, the files are laid out as in transformers (converter/layout.py): each modular file
sits beside its outputs (`<model>/<kind>_<model>.py`), and bases are imported relatively
(`from ..llama.modeling_llama import LlamaMLP`); `--all` takes every `*/modular_*.py` of the tree.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    # Run as a script, Python puts converter/ (not the repository) on sys.path.
    sys.path.insert(0, str(REPO_ROOT))

from converter.diagnostics import ConversionError, Diagnostic, format_diagnostic, format_diagnostics  # noqa: E402
from converter.dialect import RULES  # noqa: E402
from converter.layout import DIALECTS, REPO, Layout  # noqa: E402
from converter.pipeline.convert import convert_models  # noqa: E402
from converter.write.emit import RUN_COMMAND, EmittedModel, count_lines  # noqa: E402
from converter.write.journal import OutputError, leftovers, recover  # noqa: E402
from converter.write.where import WhereError, annotate_traceback, parse_place, where  # noqa: E402
from converter.write.write import (  # noqa: E402
    FileChange,
    Stray,
    bounded,
    output_directories,
    pending_changes,
    stray_entries,
    stray_lines,
    unified_diff,
    write_changes,
)

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2  # 1: diagnostics, or with --check stale files
EXIT_CODES = """exit codes: 0 written or up to date; 1 conversion errors (nothing written) or, with --check,
stale/missing/extra generated files; 2 nothing found, unreadable or unwritable path, usage or internal error"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="converter/run.py",
        description="Unroll modular model files into standalone files under generated/.",
        epilog=EXIT_CODES,
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
    parser.add_argument(
        "--dialect",
        choices=DIALECTS,
        default="python",
        help="python (default): modular files mean what Python means; transformers (with --tree): upstream's "
        "rules, with a warning wherever they change that meaning",
    )
    mode.add_argument("--lint", action="store_true", help="print the dialect's drift warnings, write nothing")
    mode.add_argument("--where", metavar="FILE:LINE", help="where a line of a generated file was written")
    mode.add_argument("--where-traceback", action="store_true", help="annotate a traceback read from stdin")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; returns the exit code (see the module docstring)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.where is not None or args.where_traceback:
        if args.files or args.all or args.tree is not None:
            parser.error("--where and --where-traceback take no modular files, --all or --tree")
        return answer_where(args)
    if bool(args.files) == args.all or args.jobs < 1:
        parser.error("pass modular files or --all (not both), and -j of at least 1")
    if args.dialect != "python" and args.tree is None:
        parser.error(
            f"--dialect {args.dialect} is for transformers' own files: pass --tree path/to/transformers/models"
        )
    try:
        code = run(args)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return code
    except BrokenPipeError:
        return stdout_closed()
    except OutputError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as error:  # noqa: BLE001 - a bug must not exit 1, which means "stale"
        traceback.print_exc()
        print(f"internal error: {type(error).__name__}; please report it with the command line", file=sys.stderr)
        return EXIT_ERROR


def stdout_closed() -> int:
    """The reader of stdout went away (`run.py --all | head -1`): stop without a traceback. The
    files were written (all at once) before the first line was printed."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
    print("error: stdout was closed before the run finished reporting", file=sys.stderr)
    return EXIT_ERROR


def answer_where(args: argparse.Namespace) -> int:
    """`--where FILE:LINE` or `--where-traceback`: answers from the provenance maps, nothing converted."""
    try:
        if args.where_traceback:
            sys.stdout.writelines(annotate_traceback(sys.stdin, args.repo_root))
            return EXIT_OK
        path, line = parse_place(args.where)
        print("\n".join(where(path, line, args.repo_root).lines()))
    except WhereError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK


def run(args: argparse.Namespace) -> int:
    """Convert, then check, diff or write; raises OutputError where a generated path cannot be used."""
    option = "--tree" if args.tree is not None else "--repo-root"
    repo_root = (args.tree if args.tree is not None else args.repo_root).resolve()
    layout = Layout(tree=True, dialect=args.dialect) if args.tree is not None else REPO
    if not repo_root.is_dir():
        return refuse(f"{option} {repo_root} is not a directory")
    pattern = "*/modular_*.py" if layout.tree else "modular/modular_*.py"
    files = sorted(repo_root.glob(pattern)) if args.all else args.files
    if not files:
        return refuse(f"no modular files: {repo_root}/{pattern} matches nothing; is {option} the right directory?")
    writing = not (args.check or args.diff or args.lint)
    if writing:
        for message in recover(output_directories(repo_root, layout.tree), repo_root):
            print(message, file=sys.stderr)
    progress = Progress(sys.stderr) if len(files) > 1 and sys.stderr.isatty() else None
    try:
        models = convert_models(files, repo_root, args.jobs, progress, layout)
    except ConversionError as error:
        if progress is not None:
            progress.clear()
        print(format_diagnostics(error.diagnostics), file=sys.stderr)
        count = len(error.diagnostics)
        print(f"{count} error{'s' if count != 1 else ''}; nothing written", file=sys.stderr)
        return EXIT_FINDINGS
    if args.lint:
        return lint(models)
    print_drifts(models, sys.stderr)
    every_model = {path.stem.removeprefix("modular_") for path in files} if args.all and not layout.tree else None
    changes = pending_changes(models, repo_root)
    strays = stray_entries(models, repo_root, every_model)
    if writing:  # before anything is printed: a closed stdout must not stop the writes
        write_changes(changes, strays, repo_root)
    for model in models:
        print(summary(model))
    if not writing:
        return report(changes, strays, repo_root, args.all, args.check, layout)
    for change in changes:
        print(f"  wrote {change.display_path}")
    for line in stray_lines(strays, "  ", removed=True):
        print(line)
    return EXIT_OK


def drifts_of(models: Sequence[EmittedModel]) -> list[Diagnostic]:
    """Every drift warning of the run, each message ending with its rule's name."""
    return [
        dataclasses.replace(warning, message=f"{warning.message} [{RULES[warning.code].name}]")
        for model in models
        for warning in model.warnings
    ]


def print_drifts(models: Sequence[EmittedModel], stream: TextIO) -> list[Diagnostic]:
    found = drifts_of(models)
    if found:
        print(format_diagnostics(found), file=stream)
        print(drift_count(found), file=stream)
    return found


def drift_count(found: Sequence[Diagnostic]) -> str:
    """`12 drift warnings: 7 super-unbound, 5 post-init-last`."""
    names = collections.Counter(RULES[warning.code].name for warning in found)
    counts = ", ".join(
        f"{count} {name}" for name, count in sorted(names.items(), key=lambda item: (-item[1], item[0]))
    )
    return f"{len(found)} drift warning{'s' if len(found) != 1 else ''}: {counts}"


def lint(models: Sequence[EmittedModel]) -> int:
    """--lint: the drifts on stdout, the count on stderr; exit 1 when there are any."""
    found = drifts_of(models)
    for warning in found:  # every one: the lint's output is its job (stderr's are bounded)
        print(format_diagnostic(warning))
    print(drift_count(found) if found else "no drift warnings", file=sys.stderr)
    return EXIT_FINDINGS if found else EXIT_OK


def refuse(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_ERROR


def summary(model: EmittedModel) -> str:
    """`gemma2: modular 120 lines -> generated 580 lines (21%) (configuration_gemma2.py, modeling_gemma2.py)`.

    Non-blank lines; the percentage is the modular file's size relative to what it generates.
    """
    files = [file for file in model.files if file.path.endswith(".py") and not file.path.endswith("/__init__.py")]
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


def report(
    changes: Sequence[FileChange],
    strays: Sequence[Stray],
    repo_root: Path,
    all_models: bool,
    check: bool,
    layout: Layout = REPO,
) -> int:
    """--diff (exit 0) or --check (exit 1 when anything is stale): diffs and strays on stdout, for a
    check the count and the fixing command on stderr. A tree's leftover temporary files are reported
    too (the repository's are strays)."""
    sys.stdout.write("".join(unified_diff(change) for change in changes))
    sys.stdout.write("".join(line + "\n" for line in stray_lines(strays)))
    for change in changes:
        if change.blocked:
            print(f"error: {change.blocked}; generated files are regular files: remove it", file=sys.stderr)
    left = leftovers(output_directories(repo_root, tree=True), repo_root) if layout.tree else []
    for line in bounded([f"{path} was left by an interrupted write" for path in left]):
        print(line, file=sys.stderr)
    if not check or not (changes or strays or left):
        return EXIT_OK
    count = len(changes) + len(strays) + len(left)
    print(f"{count} generated file{'s are' if count != 1 else ' is'} stale, missing or extra", file=sys.stderr)
    print(f"fix: {fix_command(changes, strays, repo_root, all_models or bool(left), layout)}", file=sys.stderr)
    return EXIT_FINDINGS


def fix_command(
    changes: Sequence[FileChange],
    strays: Sequence[Stray],
    repo_root: Path,
    all_models: bool = False,
    layout: Layout = REPO,
) -> str:
    """The exact command that regenerates the stale files and removes the strays."""
    root = f" --tree {repo_root}" if layout.tree else "" if repo_root == REPO_ROOT else f" --repo-root {repo_root}"
    modular_paths = sorted({change.modular_path for change in changes} | {stray.modular_path for stray in strays})
    if all_models or "" in modular_paths:
        return f"{RUN_COMMAND}{root} --all"
    return f"{RUN_COMMAND}{root} {' '.join(modular_paths)}"


if __name__ == "__main__":
    sys.exit(main())
