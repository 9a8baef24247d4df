"""Benchmark: the converter on the modular files shipped inside the transformers wheel (not a CI test).

    python utils/bench_upstream.py                  # summary table, differences, timings, JSON report
    python utils/bench_upstream.py -j 2 --show 20   # 2 worker processes, first lines of 20 failing files
    python utils/bench_upstream.py --models olmo2,aria --json /tmp/r.json   # a subset (bases as shipped)

The wheel (`pip download --no-deps transformers==5.23.0`) is cached in `.cache/upstream/` and
reused. Its `transformers/models` is copied to a scratch directory (the rest of the package linked
beside it, for the library modules classes inherit from), every `*/modular_*.py` is
converted there in dependency order with the tree layout (`converter/run.py --tree`; bases
first, so later levels read their regenerated parents) and written, and each file upstream's
own converter generated (the 🚨 header naming the modular file) is compared with ours:

    converted       our conversion of its modular file succeeded (else: refused with a
                    diagnostic, or traceback when the converter crashed, E900)
    definitions     the same top-level names (classes, functions, assignments)
    ast             `ast.dump` equal (comments and layout aside)
    bytes           equal after formatting both sides with the same ruff settings (isort + format,
                    line length 119)

Files whose difference comes from upstream behaviour we deliberately do not copy are counted in
their own category with the reason, not as failures to fix: refusals in DELIBERATE (a super()
call whose arguments upstream would discard), and converted files whose AST equals upstream's
once DROPPED, DECORATED and upstream's moves (MOVERS) are undone (see upstream_flaws). Other refusals
are limitations of the converter and are counted as such, grouped by their message with the names
abstracted.
"""

from __future__ import annotations

import argparse
import ast
import collections
import concurrent.futures
import contextlib
import difflib
import gc
import itertools
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from converter.diagnostics import Diagnostic  # noqa: E402
from converter.dialect import RULES  # noqa: E402
from converter.layout import DIALECTS, TREE_KINDS, Layout  # noqa: E402
from converter.pipeline.convert import convert_what_converts  # noqa: E402
from converter.write.format import find_ruff  # noqa: E402
from converter.write.write import pending_changes, write_changes  # noqa: E402

VERSION = "5.23.0"
CACHE = REPO_ROOT / ".cache" / "upstream"
MARKER = "This file was automatically generated from src/transformers/models/"
#: What the unpacked cache holds (see unpack_models); a new value unpacks into a new directory.
UNPACK_LAYOUT = "library"
RUFF_ARGS = ("--isolated", "--no-cache", "--line-length", "119", "--target-version", "py311")

#: Refusals that stand for upstream behaviour we deliberately do not copy: code -> {text of the
#: message -> reason}, first match wins ("" matches any). Other refusals (most E203 causes) are
#: limitations of ours and counted as such (see refusal_pattern).
DELIBERATE = {
    "E207": {
        "is a local variable of": "upstream gives `del <local>` a meaning Python code cannot have (drop a base assignment)",
        "": "upstream deletes an attribute the base __init__ still uses",
    },
    "E208": {"": "upstream binds **super_kwargs where the base signature cannot take it exactly"},
    "E213": {"": "upstream gives an override the base method's @staticmethod, which the modular code drops"},
    "E214": {"": "upstream turns Parent.__init__() without the instance (a TypeError in Python) into super()"},
    "E212": {"": "upstream removes a member that a parent class of the base still defines (the class inherits it)"},
    "E206": {
        "which define it differently": "upstream keeps one of two different base definitions needed under one name, "
        "so code from the other base calls the wrong one"
    },
    "E203": {
        "no argument for '": "upstream discards arguments of a super() call it unrolls (no argument for a base parameter)",
        "another value than this method's": "upstream discards arguments of a super() call it unrolls (a base "
        "parameter gets another value than the override's variable of that name, which the override then uses)",
        "positional arguments and the base takes at most": "upstream discards arguments of a super() call that Python "
        "would refuse (TypeError: too many positional arguments)",
        "keywords the base does not take": "upstream discards arguments of a super() call that Python would refuse "
        "(TypeError: unexpected keyword)",
        "so the override returns None": "upstream returns the value of a super() call whose value the modular code discards",
        "super() there has no instance": "upstream unrolls super() in a staticmethod, where Python cannot run it",
        "so it runs twice": "upstream applies once a decorator that the modular code applies twice",
        "which Python looks up as a global here": "upstream lets an override read a local variable of the base body",
    },
}
DROPPED = "upstream drops top-level code of the modular file that its own output does not use (we keep it)"
DECORATED = "upstream gives an override without decorators the base method's decorators, which change what a call does"
POST_INIT = (
    "upstream moves self.post_init() to the end of __init__, after statements the modular code runs after it "
    "(it then initialises what they create), once where the modular code runs it twice"
)
MODULE_BASE = (
    "upstream drops a class's extra `nn.Module` base and turns `nn.Module.__init__(self)` into `super().__init__()`, "
    "which runs the `__init__` of the other base that the modular code skips"
)
SUPER_FIRST = (
    "upstream moves what an override does before super().__init__() after the base's own super().__init__() "
    "call (the parent's __init__ then runs first)"
)
SELFLESS_CALL = (
    "upstream turns `Ancestor.method(args)` without the instance (Python passes the first argument as self) "
    "into `super().method(args)`"
)
MOVED_UP = (
    "upstream moves an override's `self.x = ...` up to the base's assignment of `self.x`, before base statements "
    "that read `self.x` or that it reads (they then compute something else)"
)


@dataclass
class FileResult:
    path: str
    modular: str
    status: str  # converted, refused, traceback, skipped (a base was refused), missing (not produced)
    definitions: bool = False
    ast: bool = False
    bytes: bool = False
    deliberate: str = ""
    limitation: str = ""
    diagnostic: str = ""
    cause: str = ""
    diff: list[str] = field(default_factory=list)
    theirs: str = field(default="", repr=False)


def fetch_wheel(cache: Path) -> Path:
    """The transformers wheel in `cache`, downloaded with pip when missing."""
    wheels = sorted(cache.glob(f"transformers-{VERSION}-*.whl"))
    if not wheels:
        cache.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "pip", "download", "--no-deps", f"transformers=={VERSION}", "-d", str(cache)]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        wheels = sorted(cache.glob(f"transformers-{VERSION}-*.whl"))
    return wheels[0]


def unpack_models(wheel: Path, cache: Path) -> Path:
    """The wheel's `transformers` package, unpacked once into the cache; its `models` directory.

    The whole package is unpacked, not only `models`: the MRO check reads the library modules a
    model's classes inherit from (`from ...modeling_layers import GradientCheckpointingLayer`).
    A cache written by another layout (its `.complete` marker says which) is unpacked again."""
    target = cache / f"unpacked-{VERSION}-{UNPACK_LAYOUT}"
    marker = target / ".complete"
    if not marker.is_file() or marker.read_text(encoding="utf-8") != UNPACK_LAYOUT:
        shutil.rmtree(target, ignore_errors=True)
        with zipfile.ZipFile(wheel) as archive:
            members = [name for name in archive.namelist() if name.startswith("transformers/")]
            archive.extractall(target, members)
        marker.write_text(UNPACK_LAYOUT, encoding="utf-8")
    return target / "transformers" / "models"


def scratch_tree(models: Path, scratch_dir: Path) -> Path:
    """A copy of `models` at `<scratch_dir>/models` (the converter writes beside the modular files),
    with the rest of the library package linked beside it, not copied (the converter only reads
    it): `<scratch_dir>` stands for `transformers/`, where the tree's relative imports lead. Caches a
    tool may have left in the unpacked wheel (`.ruff_cache`, `__pycache__`) are not copied."""
    scratch = scratch_dir / "models"
    shutil.copytree(models, scratch, ignore=shutil.ignore_patterns(".ruff_cache", "__pycache__"))
    for entry in sorted(models.parent.iterdir()):
        if entry.name != "models":
            (scratch_dir / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    return scratch


def shipped_generated(models: Path) -> dict[str, str]:
    """Generated file (relative to `models`) -> its modular file, for every file upstream generated."""
    found = {}
    for modular in sorted(models.glob("*/modular_*.py")):
        directory, model = modular.parent.name, modular.stem.removeprefix("modular_")
        for kind in TREE_KINDS:
            path = modular.parent / f"{kind}_{model}.py"
            if path.is_file() and f"{MARKER}{directory}/{modular.name}" in path.read_text(encoding="utf-8"):
                found[f"{directory}/{path.name}"] = f"{directory}/{modular.name}"
    return found


def ruff_normalize(texts: Mapping[str, str]) -> dict[str, str]:
    """Every text sorted (isort) and formatted by ruff with the same settings, in one run per step."""
    ruff = find_ruff()
    with tempfile.TemporaryDirectory(prefix="bench-upstream-") as directory:
        root = Path(directory)
        names = {}
        for index, (key, text) in enumerate(sorted(texts.items())):
            names[key] = f"f{index}.py"
            (root / names[key]).write_text(text, encoding="utf-8")
        files = sorted(names.values())
        for args in (("check", "--fix", "--select", "I", "--exit-zero", *RUFF_ARGS), ("format", *RUFF_ARGS)):
            subprocess.run([ruff, *args, *files], cwd=root, capture_output=True, check=False)
        return {key: (root / name).read_text(encoding="utf-8") for key, name in names.items()}


def top_level_names(tree: ast.Module) -> list[str]:
    names = []
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            names.append(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names += [target.id for target in targets if isinstance(target, ast.Name)]
    return sorted(set(names))


def parse(text: str) -> ast.Module | None:
    try:
        return ast.parse(text)
    except SyntaxError:
        return None


@dataclass(frozen=True)
class Dumped:
    """A module's AST and the `ast.dump` of each of its top-level statements, dumped once (dumping
    costs more than parsing): its own dump and `normalized` ones are put together from them."""

    tree: ast.Module
    dumps: tuple[str, ...]

    @property
    def dump(self) -> str:
        """`ast.dump(self.tree)`."""
        return module_dump(self.dumps)


def dumped(text: str) -> Dumped:
    tree = ast.parse(text)
    return Dumped(tree, tuple(ast.dump(node) for node in tree.body))


def module_dump(dumps: Iterable[str]) -> str:
    """`ast.dump(ast.Module(body, []))`, given the dumps of the statements of `body`."""
    return f"Module(body=[{', '.join(dumps)}], type_ignores=[])"


def compare(
    result: FileResult, theirs: str, ours: str, theirs_formatted: str, ours_formatted: str
) -> tuple[Dumped, Dumped] | None:
    """Fill in `result`; both files dumped (for `upstream_flaws`), None where one does not parse."""
    result.theirs = theirs
    their_tree, our_tree = parse(theirs), parse(ours)
    if their_tree is None or our_tree is None:
        result.cause = "our output does not parse" if our_tree is None else "upstream file does not parse"
        return None
    their, our = (Dumped(tree, tuple(map(ast.dump, tree.body))) for tree in (their_tree, our_tree))
    their_names, our_names = top_level_names(their_tree), top_level_names(our_tree)
    result.definitions = their_names == our_names
    result.ast = their.dump == our.dump
    result.bytes = theirs_formatted == ours_formatted
    if result.bytes:
        return their, our
    lines = difflib.unified_diff(
        theirs_formatted.splitlines(), ours_formatted.splitlines(), "upstream", "ours", n=0, lineterm=""
    )
    result.diff = [line for line in lines if not line.startswith("@@")][2:]
    result.cause = cause_of(their_names, our_names, result)
    return their, our


#: (result, theirs, ours, both formatted, modular file, whether deliberate differences excuse it)
Pending = tuple[FileResult, str, str, tuple[str, str], Path, bool]


def compare_each(pending: Sequence[Pending], jobs: int) -> None:
    """Fill in each (result, theirs, ours, both formatted, modular file) by `compared`, in `jobs` processes."""
    if jobs > 1 and len(pending) > 1:
        with concurrent.futures.ProcessPoolExecutor(jobs, initializer=gc.disable) as pool:
            filled = list(pool.map(compared, pending, chunksize=4))
    else:
        filled = [compared(item) for item in pending]
    for (result, theirs, *_), done in zip(pending, filled, strict=True):
        vars(result).update(vars(done), theirs=theirs)


def compared(item: Pending) -> FileResult:
    """The result of a converted file compared with upstream's, and the deliberate differences that
    explain it where the ASTs differ; `theirs` left out (the caller has it)."""
    result, theirs, ours, formatted, modular, excuse = item
    both = compare(result, theirs, ours, *formatted)
    if not result.ast and excuse:
        result.deliberate = upstream_flaws(theirs, ours, modular, both)
    result.theirs = ""
    return result


def upstream_flaws(theirs: str, ours: str, modular: Path, both: tuple[Dumped, Dumped] | None = None) -> str:
    """The deliberate differences (DROPPED, DECORATED and the MOVERS) that alone explain why
    `ours` differs from `theirs`: their ASTs are equal, imports aside, once upstream's changes are
    made to ours (or undone in theirs); "" when other differences remain. `both`: the two files
    dumped, where `compare` has done it."""
    their, our = both or (dumped(theirs), dumped(ours))
    their_tree, our_tree = their.tree, our.tree
    own = set(top_level_names(ast.parse(modular.read_text(encoding="utf-8"))))
    extra = set(top_level_names(our_tree)) - set(top_level_names(their_tree))
    if not extra <= own:
        return ""
    our_methods = {key: node for key, node in methods(our_tree)}
    stripped = {key for key, node in methods(their_tree) if node.decorator_list and key in our_methods}
    stripped = {key for key in stripped if not our_methods[key].decorator_list}
    target = normalized(their_tree, set(), stripped, their.dumps)
    found = [(DROPPED, bool(extra)), (DECORATED, bool(stripped))]
    if normalized(our_tree, extra, set(), our.dumps) != target:
        alone = {}  # our file with one move made, for each move that changes it
        for reason, mover in MOVERS.items():
            tree = ast.parse(ours)
            if mover(tree):
                alone[reason] = tree
        combinations = (moves for size in range(1, len(alone) + 1) for moves in itertools.combinations(alone, size))
        moves = next(
            (moves for moves in combinations if upstream_moved(ours, moves, extra, our.dumps, alone) == target), None
        )
        if moves is None:
            return ""
        found += [(reason, reason in moves) for reason in MOVERS]
    return "; ".join(reason for reason, present in found if present)


def upstream_moved(
    ours: str,
    moves: Sequence[str],
    dropped: set[str],
    dumps: Sequence[str] | None = None,
    alone: Mapping[str, ast.Module] | None = None,
) -> str:
    """`normalized` of our file with upstream's `moves` made (see MOVERS); "" when one of
    them changes nothing (it does not explain the difference then). `dumps`: those of our
    file's statements (the moves change classes only); `alone`: our file parsed with one move
    made, for the moves that change it (each used once)."""
    if alone is not None and len(moves) == 1 and moves[0] in alone:
        changed = alone[moves[0]]
    else:
        changed = ast.parse(ours)
        for reason in moves:
            if not MOVERS[reason](changed):
                return ""
    if dumps is not None:
        dumps = [
            None if isinstance(node, ast.ClassDef) else dump for node, dump in zip(changed.body, dumps, strict=True)
        ]
    return normalized(changed, dropped, set(), dumps)


def function_bodies(tree: ast.Module, name: str | None = None) -> list[list[ast.stmt]]:
    """The bodies of the methods of top-level classes (only those called `name`, when given)."""
    return [node.body for (_, method), node in methods(tree) if name is None or method == name]


def post_init_last(tree: ast.Module) -> bool:
    """Move `self.post_init()` to the end of each `__init__`, once, as upstream does; whether one moved."""
    moved = False
    for body in function_bodies(tree, "__init__"):
        calls = [i for i, statement in enumerate(body) if is_self_call(statement, "post_init")]
        if calls and (len(calls) > 1 or calls[0] != len(body) - 1):
            call = body[calls[0]]
            body[:] = [statement for i, statement in enumerate(body) if i not in calls] + [call]
            moved = True
    return moved


def assignments_moved_up(tree: ast.Module) -> bool:
    """Replace the first `self.x = ...` of a method body with a later one, as upstream merges an
    override's assignment into the base body it inlines; whether one moved."""
    moved = False
    for body in function_bodies(tree):
        index = 0
        while index < len(body):
            attribute = assigned_self_attribute(body[index])
            first = next(
                (i for i in range(index) if attribute and assigned_self_attribute(body[i]) == attribute), None
            )
            if first is not None:
                body[first] = body.pop(index)
                moved = True
            else:
                index += 1
    return moved


def module_base_dropped(tree: ast.Module) -> bool:
    """Drop the trailing `nn.Module` base of classes with several bases and write their
    `nn.Module.__init__(self, ...)` calls `super().__init__(...)`, as upstream does; whether one changed."""
    changed = False
    for node in tree.body:
        if not (isinstance(node, ast.ClassDef) and len(node.bases) > 1 and ast.unparse(node.bases[-1]) == "nn.Module"):
            continue
        node.bases.pop()
        for call in ast.walk(node):
            if (
                isinstance(call, ast.Call)
                and ast.unparse(call.func) == "nn.Module.__init__"
                and call.args
                and ast.unparse(call.args[0]) == "self"
            ):
                call.func = ast.Attribute(ast.Call(ast.Name("super", ast.Load()), [], []), "__init__", ast.Load())
                call.args.pop(0)
        changed = True
    return changed


def is_self_call(statement: ast.stmt, method: str) -> bool:
    """`self.<method>()` as a statement of its own, without arguments."""
    call = statement.value if isinstance(statement, ast.Expr) else None
    func = call.func if isinstance(call, ast.Call) and not call.args and not call.keywords else None
    return (
        isinstance(func, ast.Attribute)
        and func.attr == method
        and isinstance(func.value, ast.Name)
        and func.value.id == "self"
    )


def is_super_init(statement: ast.stmt) -> bool:
    """`super().__init__(...)` as a statement of its own."""
    call = statement.value if isinstance(statement, ast.Expr) else None
    func = call.func if isinstance(call, ast.Call) else None
    inner = func.value if isinstance(func, ast.Attribute) and func.attr == "__init__" else None
    return isinstance(inner, ast.Call) and isinstance(inner.func, ast.Name) and inner.func.id == "super"


def super_init_first(tree: ast.Module) -> bool:
    """Move `super().__init__(...)` to the start of each `__init__` whose earlier statements only
    assign attributes of `self`, as upstream does; whether one moved."""
    moved = False
    for body in function_bodies(tree, "__init__"):
        calls = [i for i, statement in enumerate(body) if is_super_init(statement)]
        if calls and calls[0] > 0 and all(assigned_self_attribute(statement) for statement in body[: calls[0]]):
            body.insert(0, body.pop(calls[0]))
            moved = True
    return moved


def selfless_calls_to_super(tree: ast.Module) -> bool:
    """Write `Ancestor.method(args)` calls in methods, whose first argument is not `self`,
    `super().method(args)`, as upstream does; whether one changed."""
    changed = False
    for _, method in methods(tree):
        for call in ast.walk(method):
            func = call.func if isinstance(call, ast.Call) else None
            if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)):
                continue
            first = call.args[0] if call.args else None
            if not func.value.id[:1].isupper() or (isinstance(first, ast.Name) and first.id == "self"):
                continue
            func.value = ast.Call(ast.Name("super", ast.Load()), [], [])
            changed = True
    return changed


MOVERS = {
    POST_INIT: post_init_last,
    MOVED_UP: assignments_moved_up,
    MODULE_BASE: module_base_dropped,
    SUPER_FIRST: super_init_first,
    SELFLESS_CALL: selfless_calls_to_super,
}


def assigned_self_attribute(statement: ast.stmt) -> str:
    """`x` for `self.x = ...` (one target) or `self.x: T = ...`; "" otherwise."""
    if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
        target = statement.targets[0]
    elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
        target = statement.target
    else:
        return ""
    is_self = isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == "self"
    return target.attr if is_self else ""


def methods(tree: ast.Module) -> list[tuple[tuple[str, str], ast.FunctionDef | ast.AsyncFunctionDef]]:
    """((class, method), node) for the methods of the top-level classes."""
    return [
        ((node.name, item.name), item)
        for node in tree.body
        if isinstance(node, ast.ClassDef)
        for item in node.body
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))
    ]


def normalized(
    tree: ast.Module,
    dropped: set[str],
    undecorated: set[tuple[str, str]],
    dumps: Sequence[str | None] | None = None,
) -> str:
    """The dump of the module's AST without imports, without the top-level `dropped` names, with the
    `undecorated` methods' decorators removed. `dumps`: the dump of each statement, where known."""
    parts = []
    for index, node in enumerate(tree.body):
        if isinstance(node, (ast.Import, ast.ImportFrom)) or set(top_level_names(ast.Module([node], []))) & dropped:
            continue
        known = dumps[index] if dumps is not None else None
        if isinstance(node, ast.ClassDef) and any(name == node.name for name, _ in undecorated):
            known = undecorated_dump(node, undecorated)
        parts.append(ast.dump(node) if known is None else known)
    return module_dump(parts)


def undecorated_dump(node: ast.ClassDef, undecorated: set[tuple[str, str]]) -> str:
    """`ast.dump` of the class with the `undecorated` methods' decorators removed: removed for the
    dump and put back (a deep copy costs more than the dump)."""
    saved = []
    for item in node.body:
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and (node.name, item.name) in undecorated:
            saved.append((item, item.decorator_list))
            item.decorator_list = []
    try:
        return ast.dump(node)
    finally:
        for item, decorators in saved:
            item.decorator_list = decorators


def cause_of(their_names: Sequence[str], our_names: Sequence[str], result: FileResult) -> str:
    """A coarse cause for grouping differences: the first kind of difference found."""
    missing = sorted(set(their_names) - set(our_names))
    extra = sorted(set(our_names) - set(their_names))
    if missing:
        return "definitions missing from ours"
    if extra:
        return "extra definitions in ours"
    if result.ast:
        return "comments only (AST identical)"
    first = next((line for line in result.diff if line[:1] in "+-"), "")
    text = first[1:].strip()
    if text.startswith(("from ", "import ")):
        return "imports differ"
    if text.startswith(("#",)):
        return "comments differ"
    if text.startswith(('"""', "r'''", 'r"""')) or text.endswith('"""'):
        return "docstrings differ"
    if text.startswith("@"):
        return "decorators differ"
    if text.startswith(("class ", "def ")):
        return "signatures or class headers differ"
    return "bodies differ"


def deliberate_reason(diagnostic: Diagnostic) -> str:
    """Why the refusal stands for upstream behaviour we deliberately do not copy; "" when it does not."""
    reasons = DELIBERATE.get(diagnostic.code, {})
    return next((why for text, why in reasons.items() if text in diagnostic.message), "")


def refusal_pattern(diagnostic: Diagnostic) -> str:
    """The diagnostic's message with names abstracted, for grouping refusals by reason."""
    message = re.sub(
        r"super\(\)\.\w+(\(\))?( in \w+)?",
        lambda m: "super().<m>" + (m[1] or "") + (" in <m>" if m[2] else ""),
        diagnostic.message,
    )
    message = re.sub(r"'[^']*'", "'<x>'", message)
    message = re.sub(r"\b[A-Z]\w*\.\w+\b", "<base>.<m>", message)
    message = re.sub(r"[\w./]+\.py\b", "<file>", message)
    message = re.sub(r"\b(carry) (?!the )\w+", r"\1 <x>", message)
    message = re.sub(r"\b(?!E\d)[A-Za-z_]*[A-Z][a-z]\w*\b", "<Name>", message)
    message = re.sub(r"<Name>(, <Name>)+", "<Names>", re.sub(r"\b\d+\b", "<n>", message))
    return f"{diagnostic.code} {message}"


def summarize_diagnostic(diagnostic: Diagnostic) -> str:
    return f"{diagnostic.path}:{diagnostic.line}:{diagnostic.col}: {diagnostic.code} {diagnostic.message}"


def calibrate() -> float:
    """Seconds one process takes for a fixed pure-Python workload, the best of three, taken before a run:
    how fast this (shared) machine is at the time, so that wall times of runs made at different times
    can be compared."""
    best = float("inf")
    for _ in range(3):
        began = time.perf_counter()
        table: dict[int, int] = {}
        for number in range(1_000_000):
            table[number % 1021] = table.get(number % 1021, 0) + number
        best = min(best, time.perf_counter() - began)
    return best


def run_bench(
    jobs: int, scratch_parent: Path | None, only: Sequence[str] = (), keep: bool = False, dialect: str = "python"
) -> tuple[dict[str, object], list[FileResult]]:
    """Convert and compare every model, or only the model directories in `only` (their bases are
    then read from the files the wheel ships, as generated by upstream). `keep`: leave the scratch
    tree (our outputs beside upstream's modular files) in place and print where it is. `dialect`
    (converter/dialect/): in the transformers dialect nothing is excused as a deliberate difference
    (the dialect is meant to reproduce upstream), and the drift warnings are counted per rule and file."""
    calibration_s, load_before = calibrate(), os.getloadavg()[0]
    start = time.perf_counter()
    wheel = fetch_wheel(CACHE)
    models = unpack_models(wheel, CACHE)
    shipped = shipped_generated(models)
    if only:
        shipped = {path: modular for path, modular in shipped.items() if path.split("/")[0] in only}
    setup_s = time.perf_counter() - start
    if scratch_parent is not None:
        Path(scratch_parent).mkdir(parents=True, exist_ok=True)
    if keep:
        kept = tempfile.mkdtemp(prefix="bench-scratch-", dir=scratch_parent)
        print(f"scratch tree (kept): {kept}/models", file=sys.stderr)
    scratch_context = (
        contextlib.nullcontext(kept)
        if keep
        else tempfile.TemporaryDirectory(prefix="bench-scratch-", dir=scratch_parent)
    )
    with scratch_context as scratch_dir:
        scratch = scratch_tree(models, Path(scratch_dir))
        modular_files = sorted(path for path in scratch.glob("*/modular_*.py") if not only or path.parent.name in only)
        theirs = {path: (models / path).read_text(encoding="utf-8") for path in shipped}
        convert_start = time.perf_counter()
        converted, diagnostics = convert_what_converts(
            modular_files, scratch, jobs, layout=Layout(tree=True, dialect=dialect)
        )
        convert_s = time.perf_counter() - convert_start
        write_changes(pending_changes(converted, scratch))
        ours = {file.path: file.text for model in converted for file in model.files}
        compare_start = time.perf_counter()
        # A file equal to upstream's as written is equal after formatting too (ruff formats each file
        # alone, and both batches format in a root without directories): only the others are formatted.
        differing = [path for path, text in ours.items() if path in shipped and text != theirs[path]]
        formatted = ruff_normalize(
            {
                f"{side}/{path}": texts[path]
                for path in differing
                for side, texts in (("ours", ours), ("theirs", theirs))
            }
        )
    by_modular: dict[str, list[Diagnostic]] = collections.defaultdict(list)

    def owner(diagnostic: Diagnostic) -> str:
        """The modular file a diagnostic counts for (E090 and E091 name the output file)."""
        return shipped.get(diagnostic.path, diagnostic.path)

    for diagnostic in diagnostics:
        by_modular[owner(diagnostic)].append(diagnostic)
    converted_modular = {model.modular_path for model in converted}
    results = []
    pending: list[Pending] = []
    for path, modular in sorted(shipped.items()):
        result = FileResult(path, modular, "converted")
        problems = by_modular.get(modular, [])
        if problems:
            first = problems[0]
            result.status = "traceback" if any(d.code == "E900" for d in problems) else "refused"
            result.diagnostic = summarize_diagnostic(first)
            result.cause = f"{result.status}: {first.code}"
            if dialect != "python":
                result.limitation = refusal_pattern(first)
            elif all(deliberate_reason(d) for d in problems):
                result.deliberate = deliberate_reason(first)
            elif result.status == "refused":
                limit = next(d for d in problems if not deliberate_reason(d))
                result.limitation = refusal_pattern(limit)
        elif modular not in converted_modular:
            result.status = "skipped"
            result.cause = "skipped: a base model of it was refused"
        elif path not in ours:
            result.status = "missing"
            result.cause = "file not produced by ours"
        elif ours[path] == theirs[path]:
            result.theirs, result.definitions, result.ast, result.bytes = theirs[path], True, True, True
        else:
            pair = (formatted[f"theirs/{path}"], formatted[f"ours/{path}"])
            pending.append((result, theirs[path], ours[path], pair, models / modular, dialect == "python"))
        results.append(result)
    compare_each(pending, jobs)
    compare_s = time.perf_counter() - compare_start
    usage_self = resource.getrusage(resource.RUSAGE_SELF)
    usage_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    rusage_self, rusage_children = usage_self.ru_maxrss, usage_children.ru_maxrss
    cpu_s = sum(u.ru_utime + u.ru_stime for u in (usage_self, usage_children))
    modular_count = len(modular_files)
    drifts = {
        model.modular_path: [summarize_diagnostic(warning) for warning in model.warnings]
        for model in converted
        if model.warnings
    }
    drift_rules = collections.Counter(RULES[w.code].name for model in converted for w in model.warnings)
    reproduced = reproduced_modular(results)
    drift_rules_reproduced = collections.Counter(
        RULES[w.code].name for model in converted if model.modular_path in reproduced for w in model.warnings
    )
    summary = {
        "transformers": VERSION,
        "dialect": dialect,
        "modular_files": modular_count,
        "modular_converted": len(converted),
        "modular_refused": len({owner(d) for d in diagnostics} - {owner(d) for d in diagnostics if d.code == "E900"}),
        "modular_traceback": len({d.path for d in diagnostics if d.code == "E900"}),
        "generated_files": len(results),
        "files_converted": sum(r.status == "converted" for r in results),
        "files_refused": sum(r.status == "refused" for r in results),
        "files_traceback": sum(r.status == "traceback" for r in results),
        "files_missing": sum(r.status == "missing" for r in results),
        "files_skipped": sum(r.status == "skipped" for r in results),
        "files_deliberate": sum(bool(r.deliberate) for r in results),
        "files_deliberate_refused": sum(bool(r.deliberate) and r.status == "refused" for r in results),
        "files_dropped": sum(DROPPED in r.deliberate for r in results),
        "files_decorated": sum(DECORATED in r.deliberate for r in results),
        "files_post_init": sum(POST_INIT in r.deliberate for r in results),
        "files_moved_up": sum(MOVED_UP in r.deliberate for r in results),
        "files_module_base": sum(MODULE_BASE in r.deliberate for r in results),
        "files_super_first": sum(SUPER_FIRST in r.deliberate for r in results),
        "files_selfless_call": sum(SELFLESS_CALL in r.deliberate for r in results),
        "files_limitation": sum(bool(r.limitation) for r in results),
        "definitions_same": sum(r.definitions for r in results),
        "ast_identical": sum(r.ast for r in results),
        "byte_identical": sum(r.bytes for r in results),
        "wall_s": round(time.perf_counter() - start, 2),
        "calibration_s": round(calibration_s, 3),
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "setup_s": round(setup_s, 2),
        "convert_s": round(convert_s, 2),
        "compare_s": round(compare_s, 2),
        "cpu_s": round(cpu_s, 2),
        "jobs": jobs,
        "peak_rss_mib_self": round(rusage_self / 1024, 1),
        "peak_rss_mib_children": round(rusage_children / 1024, 1),
        "refusals_by_code": dict(collections.Counter(d.code for d in diagnostics).most_common()),
        "limitations": dict(collections.Counter(r.limitation for r in results if r.limitation).most_common()),
        "causes": dict(collections.Counter(r.cause for r in results if not r.bytes).most_common()),
        "drift_warnings": sum(drift_rules.values()),
        "drift_files": len(drifts),
        "drift_rules": dict(sorted(drift_rules.items(), key=lambda item: (-item[1], item[0]))),
        # the warnings of modular files whose generated files are all byte-identical to upstream's: each
        # says what upstream's shipped files do, where the modular code as Python would differ
        "drift_rules_reproduced": {name: drift_rules_reproduced[name] for name in drift_rules},
        "drifts": drifts,
    }
    return summary, results


def reproduced_modular(results: Sequence[FileResult]) -> set[str]:
    """The modular files whose generated files are all byte-identical to the ones upstream ships."""
    outcomes: dict[str, bool] = {}
    for result in results:
        outcomes[result.modular] = outcomes.get(result.modular, True) and result.bytes
    return {modular for modular, reproduced in outcomes.items() if reproduced}


def rule_examples(drifts: Mapping[str, Sequence[str]], reproduced: set[str], count: int) -> dict[str, list[str]]:
    """Up to `count` drift warnings per rule code, from distinct modular files, those whose outputs
    upstream ships byte for byte first (their warning is true of the shipped file), in path order."""
    examples: dict[str, list[str]] = {}
    seen: dict[str, set[str]] = {}
    order = sorted(drifts, key=lambda modular: (modular not in reproduced, modular))
    for modular in order:
        for warning in drifts[modular]:
            code = warning.split(": ", 1)[1].split(" ", 1)[0]
            files = seen.setdefault(code, set())
            if modular not in files and len(examples.setdefault(code, [])) < count:
                files.add(modular)
                mark = "reproduced" if modular in reproduced else "differs"
                examples[code].append(f"[{mark}] {warning}")
    return dict(sorted(examples.items()))


def print_report(
    summary: Mapping[str, object], results: Sequence[FileResult], show: int, lines: int, examples: int = 0
) -> None:
    total = summary["generated_files"]
    deliberate_rows = [
        ("deliberately not copied (all)", summary["files_deliberate"], total),
        ("  refused: upstream flaw", summary["files_deliberate_refused"], total),
        ("  upstream drops unused code", summary["files_dropped"], total),
        ("  upstream adds base decorators", summary["files_decorated"], total),
        ("  upstream moves self.post_init() last", summary["files_post_init"], total),
        ("  upstream moves an assignment up", summary["files_moved_up"], total),
        ("  upstream drops an nn.Module base", summary["files_module_base"], total),
        ("  upstream runs super().__init__() first", summary["files_super_first"], total),
        ("  upstream makes a selfless parent call super()", summary["files_selfless_call"], total),
    ]
    rows = [
        ("modular files converted", summary["modular_converted"], summary["modular_files"]),
        ("modular files refused (diagnostic)", summary["modular_refused"], summary["modular_files"]),
        ("modular files traceback", summary["modular_traceback"], summary["modular_files"]),
        ("generated files converted", summary["files_converted"], total),
        ("generated files refused", summary["files_refused"], total),
        *(deliberate_rows if summary.get("dialect", "python") == "python" else []),
        ("refused (converter limitation)", summary["files_limitation"], total),
        ("generated files traceback", summary["files_traceback"], total),
        ("generated files not produced", summary["files_missing"], total),
        ("generated files skipped (base refused)", summary["files_skipped"], total),
        ("same top-level definitions", summary["definitions_same"], total),
        ("AST-identical", summary["ast_identical"], total),
        ("byte-identical after ruff", summary["byte_identical"], total),
    ]
    width = max(len(row[0]) for row in rows)
    print(f"transformers {summary['transformers']} modular corpus, dialect {summary.get('dialect', 'python')}")
    for label, count, out_of in rows:
        share = f"{100 * int(count) / int(out_of):5.1f}%" if out_of else "  -  "  # type: ignore[call-overload]
        print(f"  {label:<{width}}  {count:>4} / {out_of:<4} {share}")
    print(
        f"  wall {summary['wall_s']} s (convert {summary['convert_s']} s, compare {summary['compare_s']} s, "
        f"-j {summary['jobs']}, CPU {summary['cpu_s']} s in all processes); peak RSS {summary['peak_rss_mib_self']} MiB self, "
        f"{summary['peak_rss_mib_children']} MiB largest child"
    )
    if "calibration_s" in summary:
        start_load, end_load = summary["load_average"]  # type: ignore[misc]
        print(
            f"  machine: calibration {summary['calibration_s']} s (bench_upstream.calibrate; lower is faster), "
            f"load average {start_load} before the run, {end_load} after"
        )
    drift_rules = summary.get("drift_rules") or {}
    if drift_rules:
        print(
            f"drift warnings: {summary['drift_warnings']} in {summary['drift_files']} modular files, by rule "
            "(in brackets: in modular files whose outputs are all byte-identical to upstream's):"
        )
        reproduced_counts = summary.get("drift_rules_reproduced") or {}
        for name, count in drift_rules.items():  # type: ignore[union-attr]
            print(f"  {count:>4}  ({reproduced_counts.get(name, 0):>4})  {name}")  # type: ignore[union-attr]
        if examples:
            print(f"drift warnings, {examples} per rule ([reproduced]: upstream ships these outputs byte for byte):")
            drifts = summary["drifts"]
            for code, found in rule_examples(drifts, reproduced_modular(results), examples).items():  # type: ignore[arg-type]
                print(f"  {code} {RULES[code].name}")
                for warning in found:
                    print(f"    {warning[:300]}")
    print("refused (converter limitation), by reason (files):")
    for reason, count in summary["limitations"].items():  # type: ignore[union-attr]
        print(f"  {count:>4}  {reason[:150]}")
    print("causes of difference (files):")
    for cause, count in summary["causes"].items():  # type: ignore[union-attr]
        print(f"  {count:>4}  {cause}")
    failing = [r for r in results if not r.bytes]
    for result in failing[:show]:
        print(f"--- {result.path} ({result.cause})")
        if result.diagnostic:
            print(f"    {result.diagnostic}")
        for line in result.diff[:lines]:
            print(f"    {line[:160]}")


DIALECT_ROWS = (
    ("byte-identical after ruff", "byte_identical"),
    ("AST-identical", "ast_identical"),
    ("generated files refused", "files_refused"),
    ("generated files traceback", "files_traceback"),
    ("drift warnings", "drift_warnings"),
    ("wall s", "wall_s"),
)


def print_dialects(summaries: Mapping[str, Mapping[str, object]]) -> None:
    """The dialects side by side: the headline figures, then drift warnings per rule."""
    names = list(summaries)
    rules = dict.fromkeys(rule for summary in summaries.values() for rule in summary["drift_rules"])  # type: ignore[union-attr]
    rows = [(label, [summary[key] for summary in summaries.values()]) for label, key in DIALECT_ROWS]
    rows += [(f"  {rule}", [summary["drift_rules"].get(rule, 0) for summary in summaries.values()]) for rule in rules]  # type: ignore[union-attr]
    width = max(len(label) for label, _ in rows)
    print(f"{'dialect':<{width}}  " + "  ".join(f"{name:>12}" for name in names))
    for label, values in rows:
        print(f"{label:<{width}}  " + "  ".join(f"{value!s:>12}" for value in values))


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1, help="worker processes")
    parser.add_argument("--show", type=int, default=15, help="failing files to show (default: %(default)s)")
    parser.add_argument("--lines", type=int, default=6, help="differing lines per file (default: %(default)s)")
    parser.add_argument("--json", type=Path, default=CACHE / "report.json", help="report (default: %(default)s)")
    parser.add_argument("--scratch", type=Path, help="parent directory of the scratch copy (default: temp)")
    parser.add_argument("--models", default="", help="comma-separated model directories to convert (default: all)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch tree with our outputs, for reading")
    parser.add_argument(
        "--examples", type=int, default=0, help="drift warnings to print per rule (default: %(default)s)"
    )
    parser.add_argument(
        "--dialect",
        choices=(*DIALECTS, "both"),
        default="python",
        help="the converter's dialect (converter/dialect/); both: each, then a table side by side",
    )
    args = parser.parse_args(None if argv is None else list(argv))
    only = [name for name in args.models.split(",") if name]
    reports = {}
    for dialect in DIALECTS if args.dialect == "both" else (args.dialect,):
        summary, results = run_bench(args.jobs, args.scratch, only, args.keep, dialect)
        print_report(summary, results, args.show, args.lines, args.examples)
        files = [{key: value for key, value in asdict(result).items() if key != "theirs"} for result in results]
        reports[dialect] = {"summary": summary, "files": files}
    if len(reports) > 1:
        print_dialects({dialect: report["summary"] for dialect, report in reports.items()})
    args.json.parent.mkdir(parents=True, exist_ok=True)
    report = next(iter(reports.values())) if len(reports) == 1 else reports
    args.json.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"report: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
