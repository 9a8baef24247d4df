"""Repository consistency check: every file under generated/ equals a fresh conversion.

    python utils/check_modular_conversion.py             # verdict, with a diff per stale file
    python utils/check_modular_conversion.py --fix       # rewrite stale files, remove strays
    python utils/check_modular_conversion.py --no-cache  # re-check every model

It converts every modular/modular_*.py in memory, in dependency order, and compares with
generated/: a stale or missing file, a file of a model's package that its modular file does not
produce (an old output, a hand-added file, a temporary file of an interrupted write), and a package
with no modular file all fail the check (converter/write/write.py says what the converter owns).

Exit codes:
    0  generated/ is up to date (with --fix: made so)
    1  stale: a diff per stale file, a line per extra file or package, and the fixing command
    2  no verdict: a modular file does not convert (the diagnostic is printed), no modular file
       was found, a generated path cannot be read or (with --fix) written, or an internal error.
       Never 1: a failure of the check is not a stale file.

A content-hash cache (.cache/modular_check.json) makes a re-run with nothing changed finish in
well under a second. Each model's key hashes everything its conversion reads: its modular file,
the modular file and generated package of every model it builds on (found from the parsed imports,
anywhere in the file, transitively), its own generated package (every entry), runtime/ (the MRO
check reads the classes models inherit from there), and the converter itself (its source,
templates, ruff, libcst, jinja2 and Python versions). A model whose imports cannot be parsed is
always re-checked. The cache is only trusted in the file this checker wrote (same inode): a cache
that arrived by a commit or a copy is ignored, and so is any cache it cannot read or understand
(with a one-line warning).
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import stat
import sys
import traceback
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import converter  # noqa: E402
from converter.diagnostics import ConversionError, format_diagnostics  # noqa: E402
from converter.layout import REPO as REPO_LAYOUT  # noqa: E402
from converter.pipeline.convert import convert_models  # noqa: E402
from converter.write.emit import GENERATED_DIR, TEMPLATES_DIR  # noqa: E402
from converter.write.journal import OutputError, recover, stage  # noqa: E402
from converter.write.write import (  # noqa: E402
    IGNORED,
    FileChange,
    Stray,
    output_directories,
    pending_changes,
    stray_entries,
    stray_lines,
    unified_diff,
    write_changes,
)

EXIT_CLEAN, EXIT_STALE, EXIT_ERROR = 0, 1, 2
CACHE_FILE = Path(".cache") / "modular_check.json"
CACHE_VERSION = 2
CACHE_LIMIT = 2**20  # bytes: a cache holds one hash per model
MODULAR_LIMIT = 16 * 2**20  # bytes: a larger modular file is not scanned for imports (never cached)
#: model -> the other models its modular file imports from; None where they cannot be read
Graph = Mapping[str, "frozenset[str] | None"]


def modular_files(repo: Path) -> dict[str, Path]:
    return {path.stem.removeprefix("modular_"): path for path in sorted((repo / "modular").glob("modular_*.py"))}


def imported_models(source: bytes) -> frozenset[str] | None:
    """The models a modular file imports from, read off CPython's parse (never executed): every
    import statement anywhere in the file (under `if TYPE_CHECKING:`, in `try`, in functions), in
    every form (`from generated.llama.modeling_llama import X`, `from generated.llama import X`,
    `from generated import llama`, `import generated.llama.modeling_llama as m`, relative forms
    naming `generated`). None when the file does not parse or imports `*` from generated."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarning: invalid escapes, the converter reports them
            tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    found: set[str] = set()
    for node in ast.walk(tree):  # iterative: deep input cannot overflow the stack here
        if isinstance(node, ast.ImportFrom):
            parts = (node.module or "").split(".")
            target = REPO_LAYOUT.model_import_from(node.level, node.module or "")
            found |= {target.model} if target is not None and target.model else set()
            found |= after_generated(parts)
            if parts[-1] == GENERATED_DIR:  # `from generated import llama`: the names are models
                if any(alias.name == "*" for alias in node.names):
                    return None
                found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.Import):
            for alias in node.names:
                found |= after_generated(alias.name.split("."))
    return frozenset(found)


def after_generated(parts: Sequence[str]) -> set[str]:
    """The model a dotted module path names after its `generated` part, if any."""
    return {parts[i + 1] for i, part in enumerate(parts[:-1]) if part == GENERATED_DIR and parts[i + 1]}


def base_graph(files: Mapping[str, Path]) -> Graph:
    """Model -> the other models its modular file imports from (None: unknown, never cached)."""
    graph: dict[str, frozenset[str] | None] = {}
    for model, path in files.items():
        try:
            status = os.stat(path)
            readable = stat.S_ISREG(status.st_mode) and status.st_size <= MODULAR_LIMIT  # a FIFO would block
            imported = imported_models(path.read_bytes()) if readable else None
        except OSError:
            imported = None
        graph[model] = None if imported is None else imported - {model}
    return graph


def ancestry(model: str, graph: Graph) -> list[str] | None:
    """`model` and every model it builds on, transitively, sorted; None when an import is unknown.
    A base with no modular file is listed (its generated package is an input) but not followed."""
    seen: set[str] = set()
    stack = [model]
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        if current in graph:
            bases = graph[current]
            if bases is None:
                return None
            stack.extend(bases)
    return sorted(seen)


def hash_file(digest: hashlib._Hash, path: Path, label: str, follow: bool = False) -> None:
    """Add `label`, the entry's kind and, for a regular file, its bytes (streamed; never opening a
    FIFO or device, which could block) or, for a symlink, its target (with `follow`: what it points
    to, as a reader of the file sees it). Raises OSError."""
    mode = (os.stat if follow else os.lstat)(path).st_mode
    digest.update(f"\0{label}\0{stat.S_IFMT(mode)}\0".encode(errors="surrogateescape"))  # any file name
    if stat.S_ISLNK(mode):
        digest.update(os.readlink(path).encode(errors="surrogateescape"))
    elif stat.S_ISREG(mode):
        with path.open("rb") as handle:
            while chunk := handle.read(2**20):
                digest.update(chunk)


def hash_directory(
    digest: hashlib._Hash, directory: Path, label: str, pattern: str = "*", follow: bool = False
) -> None:
    """The directory's own kind, then every entry matching `pattern` (recursively for `**/...`) by
    name and content (`follow`: through symlinks), __pycache__ left out. Raises OSError."""
    if not os.path.lexists(directory):
        digest.update(f"\0{label}\0missing".encode())
        return
    hash_file(digest, directory, label)  # a package replaced by a symlink to a copy is not the same
    if directory.is_symlink() or not directory.is_dir():
        return
    for path in sorted(directory.glob(pattern)):
        if not IGNORED & set(path.relative_to(directory).parts):
            hash_file(digest, path, f"{label}/{path.relative_to(directory).as_posix()}", follow)


def tool_fingerprint(repo: Path) -> str:
    """Hash of everything besides the model files that shapes the output: the converter that runs
    (not the one under `repo`), its templates, the tools it calls, Python, and `repo`'s runtime/
    (the MRO check reads the classes models inherit from there)."""
    from importlib.metadata import PackageNotFoundError, version

    digest = hashlib.sha256(f"{sys.version}\0{sys.implementation.cache_tag}".encode())
    for package in ("ruff", "libcst", "jinja2"):
        try:
            digest.update(f"\0{package}={version(package)}".encode())
        except PackageNotFoundError:
            digest.update(f"\0{package} missing".encode())
    hash_file(digest, Path(__file__).resolve(), "checker", follow=True)
    hash_directory(digest, Path(converter.__file__).resolve().parent, "converter", "**/*.py", follow=True)
    hash_directory(digest, TEMPLATES_DIR, "templates", "**/*", follow=True)
    hash_directory(digest, repo / "runtime", "runtime", "**/*.py", follow=True)
    return digest.hexdigest()


def model_key(model: str, files: Mapping[str, Path], graph: Graph, repo: Path, tools: str) -> str | None:
    """The cache key of `model` (see the module docstring); None when it cannot be computed."""
    models = ancestry(model, graph)
    if models is None:
        return None
    digest = hashlib.sha256(f"{tools}\0{model}".encode())
    try:
        hash_file(digest, repo / GENERATED_DIR, "generated")
        for name in models:
            if name in files:
                hash_file(digest, files[name], f"modular/{name}", follow=True)
            hash_directory(digest, repo / GENERATED_DIR / name, f"generated/{name}")
    except OSError:
        return None
    return digest.hexdigest()


def load_cache(path: Path) -> tuple[dict[str, str], bool]:
    """(model -> key of the models last found clean, whether it warned): {} for a cache that is
    missing, or (with a one-line warning) unreadable, of another shape, or not the file this checker
    wrote (another inode)."""
    if not os.path.lexists(path):
        return {}, False
    try:
        status = os.lstat(path)
        if not stat.S_ISREG(status.st_mode) or status.st_size > CACHE_LIMIT:
            raise ValueError("not a small regular file")
        data = json.loads(path.read_bytes())
        if not isinstance(data, dict) or data.get("version") != CACHE_VERSION:
            raise ValueError("not a cache of this checker")
        if data.get("inode") != [status.st_dev, status.st_ino]:
            raise ValueError("not the file this checker wrote here")
        models = data.get("models")
        if not isinstance(models, dict) or not all(isinstance(v, str) for v in models.values()):
            raise ValueError("no model keys")
        return models, False
    except (OSError, ValueError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        warn(f"ignoring the cache {CACHE_FILE.as_posix()} ({reason}); re-checking every model")
        return {}, True


def save_cache(path: Path, keys: Mapping[str, str], quiet: bool = False) -> None:
    """Write the cache atomically, recording its own inode; a failure is a one-line warning (none
    when `quiet`: the load warned already). A symlinked cache directory is not followed (a commit
    could point it anywhere)."""
    temporary = None
    try:
        if path.parent.is_symlink():
            raise OSError(f"{path.parent.name} is a symlink")
        path.parent.mkdir(exist_ok=True)
        temporary = stage(path, b"", path.parent)
        status = os.stat(temporary)
        data = {
            "version": CACHE_VERSION,
            "inode": [status.st_dev, status.st_ino],
            "models": dict(sorted(keys.items())),
        }
        temporary.write_text(json.dumps(data, indent=1), encoding="utf-8")  # in place: the inode stays
        os.replace(temporary, path)
    except OSError as error:
        if temporary is not None:
            temporary.unlink(missing_ok=True)
        if not quiet:
            warn(
                f"cannot write the cache {CACHE_FILE.as_posix()} ({error.strerror or error}); the check is unaffected"
            )


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def check(repo: Path, fix: bool, use_cache: bool) -> int:
    """The check (or the fix) of `repo`; returns the exit code. Raises OutputError, ConversionError."""
    files = modular_files(repo) if repo.is_dir() else {}
    if not files:
        print(
            f"error: no modular files: {repo}/modular/modular_*.py matches nothing; nothing was checked",
            file=sys.stderr,
        )
        return EXIT_ERROR
    if fix:
        for message in recover(output_directories(repo), repo):
            print(message, file=sys.stderr)
    graph = base_graph(files)
    tools = tool_fingerprint(repo)
    keys = {model: model_key(model, files, graph, repo, tools) for model in files}
    cached, warned = load_cache(repo / CACHE_FILE) if use_cache else ({}, False)
    todo = sorted(model for model in files if keys[model] is None or cached.get(model) != keys[model])
    changes, strays = compare(files, graph, todo, repo)
    if fix:
        write_changes(changes, strays, repo)  # prints nothing: "fixed" only once it is done
        for change in changes:
            print(f"fixed {change.display_path}")
        for line in stray_lines(strays, removed=True):
            print(line)
        keys = {model: model_key(model, files, graph, repo, tools) for model in files}
        changes, strays = [], []
    stale = {path.split("/")[1] for path in [*(c.display_path for c in changes), *(s.display_path for s in strays)]}
    save_cache(repo / CACHE_FILE, {m: k for m, k in keys.items() if k is not None and m not in stale}, warned)
    if changes or strays:
        report(changes, strays)
        return EXIT_STALE
    print(f"generated/ is up to date ({len(files)} models, {len(todo)} re-checked)")
    return EXIT_CLEAN


def compare(
    files: Mapping[str, Path], graph: Graph, todo: Sequence[str], repo: Path
) -> tuple[list[FileChange], list[Stray]]:
    """Convert the models of `todo` with every model they build on (bases first, so they inherit
    from this run's output, never from generated/), and compare with generated/. Raises
    ConversionError, OutputError."""
    # a model whose imports are unknown may build on any model: convert them all
    needed = sorted({name for model in todo for name in ancestry(model, graph) or files if name in files})
    models = convert_models([files[name] for name in needed], repo) if needed else ()
    checked = [model for model in models if model.model in todo]
    return pending_changes(checked, repo), stray_entries(checked, repo, every_model=set(files))


def report(changes: Sequence[FileChange], strays: Sequence[Stray]) -> None:
    """A diff per stale file and a line per stray on stdout; the errors and the fix on stderr."""
    sys.stdout.write("".join(unified_diff(change) for change in changes))
    for change in changes:
        if change.blocked:
            print(f"error: {change.blocked}; generated files are regular files: remove it", file=sys.stderr)
    for line in stray_lines(strays, "error: "):
        print(line, file=sys.stderr)
    print(f"{len(changes) + len(strays)} generated file(s) stale, missing or extra", file=sys.stderr)
    print(
        f"fix: {fix_command(changes, strays)}   (or: python utils/check_modular_conversion.py --fix)", file=sys.stderr
    )


def fix_command(changes: Iterable[FileChange], strays: Iterable[Stray]) -> str:
    sources = sorted({item.modular_path for item in [*changes, *strays]})
    if "" in sources:  # a package with no modular file: only a run over every modular file removes it
        return "python converter/run.py --all"
    return f"python converter/run.py {' '.join(sources)}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Check that generated/ equals a fresh conversion of modular/.",
        epilog="exit codes: 0 up to date; 1 stale, missing or extra generated files (diffs and the fix are "
        "printed); 2 no verdict: a conversion failed, nothing was found, a path cannot be read or written, "
        "or an internal error",
    )
    parser.add_argument("--fix", action="store_true", help="rewrite stale generated files, remove extra ones")
    parser.add_argument("--no-cache", action="store_true", help="re-check every model, ignoring the hash cache")
    parser.add_argument("--repo-root", type=Path, default=REPO, help="repository root (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        return check(args.repo_root.resolve(), fix=args.fix, use_cache=not args.no_cache)
    except ConversionError as error:
        print(format_diagnostics(error.diagnostics), file=sys.stderr)
        print("check failed: a modular file does not convert (fix the error above); nothing written", file=sys.stderr)
    except OutputError as error:
        print(f"error: {error}; the check could not complete", file=sys.stderr)
    except Exception as error:  # noqa: BLE001 - a bug must not exit 1, which means "stale"
        traceback.print_exc()
        print(f"internal error: {type(error).__name__}; the check could not complete", file=sys.stderr)
    return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
