"""Repository consistency check: every file under generated/ equals a fresh conversion.

    python utils/check_modular_conversion.py          # exit 0 clean, 1 stale (with diffs), 2 conversion failed
    python utils/check_modular_conversion.py --fix    # rewrite the stale files

It converts every modular/modular_*.py in memory, in dependency order, compares with generated/,
and also reports generated packages that have no modular source and modular files that were
never generated. A conversion that fails makes the check fail (exit 2, with the diagnostic);
it never passes silently.

A content-hash cache (.cache/modular_check.json) makes a re-run with nothing changed finish in
well under a second. Each model's key hashes its modular file, the modular files of every model
it builds on (transitively, so a change to a base re-checks every model built on it), its
generated files, the converter's and templates' source, and the ruff version.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from collections.abc import Iterable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from converter.diagnostics import ConversionError, format_diagnostics  # noqa: E402
from converter.pipeline import convert_models  # noqa: E402
from converter.write import pending_changes, unified_diff, write_changes  # noqa: E402

CACHE_FILE = Path(".cache") / "modular_check.json"
BASE_IMPORT = re.compile(r"^\s*from\s+generated\.(\w+)\.", re.MULTILINE)


def modular_files(repo: Path) -> dict[str, Path]:
    return {path.stem.removeprefix("modular_"): path for path in sorted((repo / "modular").glob("modular_*.py"))}


def bases_of(path: Path) -> list[str]:
    """The models a modular file imports from (read as text: the file is never executed)."""
    own = path.stem.removeprefix("modular_")
    return sorted({model for model in BASE_IMPORT.findall(path.read_text()) if model != own})


def ancestry(model: str, files: dict[str, Path]) -> list[str]:
    """`model` and every model it builds on, transitively, sorted."""
    seen: set[str] = set()
    stack = [model]
    while stack:
        current = stack.pop()
        if current in seen or current not in files:
            continue
        seen.add(current)
        stack.extend(bases_of(files[current]))
    return sorted(seen)


def tool_fingerprint(repo: Path) -> str:
    """Hash of everything besides the model files that shapes the output."""
    from importlib.metadata import version

    digest = hashlib.sha256(version("ruff").encode())
    for path in sorted([*(repo / "converter").glob("*.py"), *(repo / "templates").glob("*")]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def model_key(model: str, files: dict[str, Path], repo: Path, tools: str) -> str:
    digest = hashlib.sha256(tools.encode())
    for name in ancestry(model, files):
        digest.update(name.encode() + b"\0" + files[name].read_bytes())
    for path in sorted((repo / "generated" / model).glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def load_cache(path: Path) -> dict[str, str]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def orphans(repo: Path, files: dict[str, Path]) -> list[str]:
    """Generated packages with no modular source."""
    packages = [p for p in sorted((repo / "generated").iterdir()) if p.is_dir() and (p / "__init__.py").exists()]
    return [
        f"generated/{p.name}/ has no modular source modular/modular_{p.name}.py"
        for p in packages
        if p.name not in files
    ]


def check(repo: Path, fix: bool, use_cache: bool) -> int:
    files = modular_files(repo)
    problems = orphans(repo, files)
    tools = tool_fingerprint(repo)
    keys = {model: model_key(model, files, repo, tools) for model in files}
    cache_path = repo / CACHE_FILE
    cached = load_cache(cache_path) if use_cache else {}
    todo = sorted(model for model in files if cached.get(model) != keys[model])
    needed = sorted({name for model in todo for name in ancestry(model, files)})
    try:
        models = convert_models([files[name] for name in needed], repo) if needed else ()
    except ConversionError as error:
        print(format_diagnostics(error.diagnostics), file=sys.stderr)
        print("check failed: a modular file does not convert (fix the error above)", file=sys.stderr)
        return 2
    changes = [change for change in pending_changes(models, repo) if change.display_path.split("/")[1] in todo]
    report(problems, changes, fix)
    if fix and changes:
        write_changes(changes)
        keys = {model: model_key(model, files, repo, tools) for model in files}
        changes = []
    if not problems and not changes:
        cache_path.parent.mkdir(exist_ok=True)
        cache_path.write_text(json.dumps(keys, indent=1, sort_keys=True))
        print(f"generated/ is up to date ({len(files)} models, {len(todo)} re-checked)")
        return 0
    return 1


def report(problems: Iterable[str], changes: list, fix: bool) -> None:
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if not changes:
        return
    if fix:
        for change in changes:
            print(f"fixed {change.display_path}")
        return
    sys.stdout.write("".join(unified_diff(change) for change in changes))
    sources = " ".join(sorted({change.modular_path for change in changes}))
    print(f"{len(changes)} generated file(s) stale or missing", file=sys.stderr)
    print(
        f"fix: python converter/run.py {sources}   (or: python utils/check_modular_conversion.py --fix)",
        file=sys.stderr,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check that generated/ equals a fresh conversion of modular/.")
    parser.add_argument("--fix", action="store_true", help="rewrite stale generated files")
    parser.add_argument("--no-cache", action="store_true", help="re-check every model, ignoring the hash cache")
    parser.add_argument("--repo-root", type=Path, default=REPO, help="repository root (default: %(default)s)")
    args = parser.parse_args(argv)
    return check(args.repo_root.resolve(), fix=args.fix, use_cache=not args.no_cache)


if __name__ == "__main__":
    sys.exit(main())
