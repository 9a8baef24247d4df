"""The reference semantics of a modular file, built without the converter (the equivalence oracle).

DESIGN.md defines what a modular file means: take each base module's source, rename it
(Llama -> Mistral, llama -> mistral, LLAMA -> MISTRAL), execute it into one fresh namespace,
then execute the modular file's definitions into the same namespace with each imported base
name bound to the renamed object it shadows. Python looks globals up at call time, so inherited
methods reach the modular overrides.

A base that is itself modular is composed the same way from its own modular file, recursively,
so the oracle never reads a converter output. The renaming here is deliberately simple (whole
words in the source text) and independent of the converter's syntax-tree renaming.

    namespace = build_overlay("mistral")
    model = namespace["MistralForCausalLM"](namespace["MistralConfig"](hidden_size=32, ...))

Failures of the oracle say so. Each modular file's text is compiled on its own, under a file name
that names the oracle and the file (`[ORACLE overlay of mistral] modular/modular_llama.py`), and
registered with `linecache`: renaming keeps every line where it was, so a traceback through
overlay code shows the modular file, its real line number and the (renamed) source line.
`build_overlay` adds a note to whatever building raises, and `oracle_errors()` does the same for
code that runs overlay models:

    with oracle_errors("mistral"):
        reference = namespace["MistralForCausalLM"](config)
    # AttributeError: MistralConfig has no field 'mlp_bias'
    # ORACLE failed running the overlay of mistral (the modular definition executed as Python,
    # tests/equivalence/overlay.py), not the generated model: at modular/modular_llama.py:175 ...
"""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import linecache
import re
import sys
import types
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MODULAR_DIR = REPO / "modular"
_BASE_IMPORT = re.compile(r"^generated\.(?P<model>\w+)\.(?P<kind>\w+)$")
ORACLE_TAG = "[ORACLE overlay of {model}]"
# compiled file name -> (modular file, overlay model) of every chunk executed so far
_ORIGINS: dict[str, tuple[Path | None, str]] = {}


@dataclass(frozen=True)
class BaseImport:
    model: str
    names: tuple[tuple[str, str], ...]  # (imported name, local alias)


@dataclass(frozen=True)
class Chunk:
    """Source text executed into the overlay's namespace: a modular file (import lines blanked,
    renamed; its line numbers are the file's), or, with no `origin`, lines the overlay writes."""

    text: str
    origin: Path | None


@dataclass(frozen=True)
class SubOverlay:
    """Another base model's overlay, executed into a namespace of its own (as a Python import
    would) and bound to `name` in the overlay's namespace."""

    name: str
    composition: Composition


@dataclass(frozen=True)
class Composition:
    """What `build_overlay` executes, in order."""

    parts: tuple[Chunk | SubOverlay, ...]

    def renamed(self, old: str, new: str, modular_dirs: Sequence[Path]) -> Composition:
        def one(part: Chunk | SubOverlay) -> Chunk | SubOverlay:
            if isinstance(part, SubOverlay):
                name = rename(part.name, old, new, modular_dirs)
                return SubOverlay(name, part.composition.renamed(old, new, modular_dirs))
            return replace(part, text=rename(part.text, old, new, modular_dirs))

        return Composition(tuple(one(part) for part in self.parts))


def modular_file(model: str, modular_dirs: Sequence[Path] = (MODULAR_DIR,)) -> Path:
    """`modular_<model>.py` from the first of `modular_dirs` that has it."""
    for directory in modular_dirs:
        path = Path(directory) / f"modular_{model}.py"
        if path.is_file():
            return path
    raise FileNotFoundError(f"no modular_{model}.py in {', '.join(str(d) for d in modular_dirs)}")


def camel_prefix(model: str, modular_dirs: Sequence[Path] = (MODULAR_DIR,)) -> str:
    """The CamelCase prefix of a model's classes: the spelling of the model name that starts a
    class name of its modular file (`Idefics2` from `Idefics2VisionConfig`), else its first config
    class's name without `Config`."""
    source = modular_file(model, modular_dirs).read_text()
    classes = [node.name for node in ast.parse(source).body if isinstance(node, ast.ClassDef)]
    compact = model.replace("_", "").lower()  # gpt_neox -> GptNeox...: the underscores are gone
    for name in classes:
        if name.lower().startswith(compact):
            return name[: len(compact)]
    for name in classes:
        if name.endswith("Config"):
            return name[: -len("Config")]
    return model.capitalize()


def rename(source: str, old: str, new: str, modular_dirs: Sequence[Path] = (MODULAR_DIR,)) -> str:
    """Rename model `old` to `new` in source text: CamelCase, lowercase and UPPER forms. Lines
    stay where they are (no replacement holds a newline)."""
    old_camel, new_camel = camel_prefix(old, modular_dirs), camel_prefix(new, modular_dirs)
    for before, after in ((old_camel, new_camel), (old, new), (old.upper(), new.upper())):
        source = re.sub(rf"(?<![A-Za-z0-9]){re.escape(before)}(?![a-z])", after, source)
    return source


def split_modular(source: str) -> tuple[list[BaseImport], str]:
    """The `from generated.<model>... import ...` statements, and the source without them (each of
    their lines left blank, so every other line keeps its number)."""
    tree = ast.parse(source)
    imports: list[BaseImport] = []
    lines = source.splitlines(keepends=True)
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and (match := _BASE_IMPORT.match(node.module)):
            names = tuple((alias.name, alias.asname or alias.name) for alias in node.names)
            imports.append(BaseImport(match["model"], names))
            for index in range(node.lineno - 1, node.end_lineno or node.lineno):
                lines[index] = "\n"
    return imports, "".join(lines)


def compose(model: str, modular_dirs: Sequence[Path] = (MODULAR_DIR,)) -> Composition:
    """What the overlay of `model` executes: its renamed main base, then its own definitions.

    The main base is the model most names are imported from. Names imported from any other model
    come from that model's own overlay, renamed, executed in a namespace of its own (as a Python
    import would), so that model's other definitions do not replace the main base's.
    """
    path = modular_file(model, modular_dirs)
    imports, body = split_modular(path.read_text())
    if not imports:
        return Composition((Chunk(body, path),))
    counts: dict[str, int] = {}
    for base in imports:
        counts[base.model] = counts.get(base.model, 0) + len(base.names)
    main = max(counts, key=lambda name: (counts[name], -list(counts).index(name)))
    parts: list[Chunk | SubOverlay] = list(compose(main, modular_dirs).renamed(main, model, modular_dirs).parts)
    for other in (name for name in counts if name != main):
        sub = compose(other, modular_dirs).renamed(other, model, modular_dirs)
        parts.append(SubOverlay(f"_overlay_{other}", sub))
    bindings = []
    for base in imports:
        for name, alias in base.names:
            renamed = rename(name, base.model, model, modular_dirs)
            target = renamed if base.model == main else f"_overlay_{base.model}[{renamed!r}]"
            bindings.append(f"{alias} = {target}\n")  # the base name is bound to the object it shadows
    parts += [Chunk("".join(bindings), None), Chunk(body, path)]
    return Composition(tuple(parts))


def build_overlay(model: str, modular_dirs: Sequence[Path] = (MODULAR_DIR,)) -> dict[str, object]:
    """Execute the composition of `model` into a fresh module namespace and return it.

    `modular_dirs` are searched in order for each modular file (a test's temporary modular file
    first, then the repository's). Whatever executing raises gets a note saying the ORACLE failed.
    """
    module = types.ModuleType(f"overlay_{model}")
    with oracle_errors(model, "building"):
        execute(compose(model, modular_dirs), module.__dict__, model)
    return module.__dict__


def execute(composition: Composition, namespace: dict[str, object], model: str) -> None:
    for part in composition.parts:
        if isinstance(part, SubOverlay):
            sub: dict[str, object] = {"__name__": f"overlay_{model}.{part.name.removeprefix('_overlay_')}"}
            execute(part.composition, sub, model)
            namespace[part.name] = sub
            continue
        filename = register(part, model)
        # dont_inherit: this file's `from __future__ import annotations` must not reach the modular code
        exec(compile(part.text, filename, "exec", dont_inherit=True), namespace)


def display(path: Path | None) -> str:
    if path is None:
        return "<bindings>"
    return path.relative_to(REPO).as_posix() if path.is_relative_to(REPO) else str(path)


def register(chunk: Chunk, model: str) -> str:
    """The file name `chunk` is compiled under, its text put in `linecache` so tracebacks show it."""
    base = f"{ORACLE_TAG.format(model=model)} {display(chunk.origin)}"
    lines = chunk.text.splitlines(keepends=True)
    filename, copy = base, 1
    while filename in linecache.cache and linecache.cache[filename][2] != lines:
        copy += 1  # the same file composed with another renaming
        filename = f"{base} #{copy}"
    # mtime None: linecache.checkcache() keeps the entry (there is no file to compare with)
    linecache.cache[filename] = (len(chunk.text), None, lines, filename)
    _ORIGINS[filename] = (chunk.origin, model)
    return filename


def oracle_frame(traceback: types.TracebackType | None) -> str | None:
    """`modular/modular_llama.py:175 in __init__: <source line>` for the innermost overlay frame."""
    found = None
    while traceback is not None:
        code = traceback.tb_frame.f_code
        if code.co_filename in _ORIGINS:
            origin, _ = _ORIGINS[code.co_filename]
            line = linecache.getline(code.co_filename, traceback.tb_lineno).strip()
            found = f"{display(origin)}:{traceback.tb_lineno} in {code.co_name}: {line}"
        traceback = traceback.tb_next
    return found


@contextlib.contextmanager
def oracle_errors(model: str, doing: str = "running") -> Iterator[None]:
    """Add a note to an exception raised in overlay code (or, when building, anywhere): it is the
    ORACLE that failed, at which modular file and line; the exception itself is re-raised."""
    try:
        yield
    except Exception as error:
        place = oracle_frame(error.__traceback__)
        if place is not None or doing == "building":
            where = f": at {place}" if place else ""
            error.add_note(
                f"ORACLE failed {doing} the overlay of {model} (the modular definition executed as Python, "
                f"tests/equivalence/overlay.py), not the generated model{where}"
            )
        raise


def import_generated(repo_root: Path, model: str) -> types.ModuleType:
    """The package `generated/<model>/` of a repository other than this one (a test's temporary
    copy), imported under a name of its own so it never replaces this repository's package."""
    directory = repo_root / "generated" / model
    name = f"_generated_{model}_{abs(hash(str(repo_root.resolve())))}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(
        name, directory / "__init__.py", submodule_search_locations=[str(directory)]
    )
    assert spec is not None and spec.loader is not None
    package = importlib.util.module_from_spec(spec)
    sys.modules[name] = package
    try:
        spec.loader.exec_module(package)
    except BaseException:
        del sys.modules[name]  # a later call must not get the half-imported package
        raise
    return package
