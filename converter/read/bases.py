"""Base models: the generated packages a modular file inherits from, read and parsed once per run.

`BaseLoader` is built before the passes; what it loads is handed to `resolve_bases` as data. It reads
`generated/<model>/<kind>_<model>.py` from disk, or, for a model converted earlier in the same
run, takes the formatted texts of that conversion instead (the files on disk may be stale).
Every package is parsed at most once per loader.

    loader = BaseLoader(repo_root)
    loader.add_texts({"generated/llama/modeling_llama.py": text, ...})   # earlier in this run
    bases = loader.bases(["llama"])       # Bases: what resolve_bases gets, a frozen value
    bases.package("llama")                # BasePackage, or None when there is no such model
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import libcst as cst

from converter.diagnostics import ConversionError
from converter.layout import KIND_ORDER, REPO, TREE_KINDS, Layout, Library, model_of_stem, stem_of
from converter.read.parse import parse_checked, parse_source
from converter.read.source import read_source

GENERATED = "generated"
#: The provenance map beside a model's generated files (converter/write/provenance.py writes it).
SIDECAR = "provenance.json"
MODEL_NAME = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class BaseFile:
    """One generated file of a base model: `generated/llama/modeling_llama.py`, kind `modeling`."""

    path: str
    kind: str
    module: cst.Module

    @property
    def stem(self) -> str:
        return stem_of(self.path)


@dataclass(frozen=True)
class BasePackage:
    """Every generated file of one model, configuration first (the order of `KIND_ORDER`)."""

    model: str
    files: tuple[BaseFile, ...]

    def file(self, stem: str) -> BaseFile | None:
        return next((file for file in self.files if file.stem == stem), None)


@dataclass(frozen=True)
class Bases:
    """The base packages one modular file imports from, loaded before the passes run (passes read no file).

    `packages` holds the models that exist; `available` names every generated model, for messages.
    `library` says where library modules are, which the MRO check reads lazily, cached per process
    (converter/merge/classes/ancestry.py): only a merged class with several bases needs them.
    """

    packages: Mapping[str, BasePackage]
    available: tuple[str, ...]
    library: Library | None = None

    def package(self, model: str) -> BasePackage | None:
        return self.packages.get(model)


class BaseLoader:
    """Reads and caches base packages; in-memory texts from this run take precedence over disk.
    In-memory texts (`texts`, `add_texts`) are this run's formatted outputs, which CPython has
    parsed: libcst parses them without that check again (`parse_base`); files on disk get it.

    In a tree layout (converter/layout.py) a model's files are `<directory>/<kind>_<model>.py`
    under the root, for any directory; the loader maps models to directories once.
    """

    def __init__(self, repo_root: Path, texts: Mapping[str, str] | None = None, layout: Layout = REPO) -> None:
        self.repo_root = repo_root
        self.layout = layout
        self.texts: dict[str, str] = dict(texts or {})
        self.read_texts: dict[str, dict[str, str]] = {}  # model -> its files as read from disk
        self.cache: dict[str, BasePackage | None] = {}
        self.tree_directories: dict[str, str] | None = None

    def add_texts(self, texts: Mapping[str, str]) -> None:
        """Outputs of models converted earlier in this run (repo-relative path -> formatted text), which
        format.py has parsed with CPython: they are not checked again before libcst parses them."""
        for path in sorted(texts):
            if self.texts.get(path) == texts[path]:
                continue
            self.texts[path] = texts[path]
            model = self.model_of_path(path)
            if model:
                self.cache.pop(model, None)

    def model_of_path(self, path: str) -> str:
        """The model an output path belongs to ("" for none): `generated/<model>/...`, or `<dir>/<kind>_<model>.py`."""
        parts = path.split("/")
        if self.layout.tree:
            return model_of_stem(parts[-1].removesuffix(".py")) if path.endswith(".py") else ""
        return parts[1] if len(parts) == 3 else ""

    def directories(self) -> dict[str, str]:
        """Tree layout: model -> the directory (relative to the root) holding its files, scanned once."""
        if self.tree_directories is None:
            found: dict[str, str] = {}
            for directory in sorted(self.repo_root.iterdir()) if self.repo_root.is_dir() else ():
                if directory.is_dir() and not directory.name.startswith(("_", ".")):
                    for child in sorted(directory.glob("*.py")):
                        model = model_of_stem(child.stem)
                        if model and kind_of_path(child.name, model) in TREE_KINDS:
                            found.setdefault(model, directory.name)
            self.tree_directories = found
        return self.tree_directories

    def package(self, model: str) -> BasePackage | None:
        if model not in self.cache:
            self.cache[model] = self.load(model) if MODEL_NAME.fullmatch(model) else None
        return self.cache[model]

    def bases(self, models: Iterable[str]) -> Bases:
        """The packages of `models` (those that exist), each parsed at most once per loader."""
        packages = {model: package for model in models if (package := self.package(model)) is not None}
        return Bases(packages, self.available(), self.layout.library(self.repo_root))

    def available(self) -> tuple[str, ...]:
        """Model names with a generated package, on disk or in memory, sorted."""
        if self.layout.tree:
            return tuple(sorted({*self.directories(), *filter(None, map(self.model_of_path, self.texts))}))
        names = {path.split("/")[1] for path in self.texts if path.count("/") == 2}
        directory = self.repo_root / GENERATED
        if directory.is_dir():
            names |= {child.name for child in directory.iterdir() if (child / "__init__.py").is_file()}
        return tuple(sorted(names))

    def load(self, model: str) -> BasePackage | None:
        texts = self.package_texts(model)
        if texts is None:
            return None
        files = []
        for path in sorted(texts, key=lambda path: kind_rank(kind_of_path(path, model), self.layout)):
            ours = self.texts.get(path) == texts[path]  # an output of this run, CPython parsed it
            files.append(BaseFile(path, kind_of_path(path, model), parse_base(path, texts[path], checked=ours)))
        return BasePackage(model, tuple(files))

    def package_texts(self, model: str) -> dict[str, str] | None:
        if self.layout.tree:
            return self.tree_package_texts(model)
        prefix = f"{GENERATED}/{model}/"
        in_memory = {path: text for path, text in self.texts.items() if path.startswith(prefix)}
        if in_memory:
            return {path: text for path, text in in_memory.items() if is_model_file(path, model)}
        if model not in self.read_texts:  # read once: parsing and the provenance map both need them
            directory = self.repo_root / GENERATED / model
            if not (directory / "__init__.py").is_file():
                return None
            paths = sorted(f"{prefix}{child.name}" for child in directory.glob(f"*_{model}.py"))
            texts = {path: read_base(self.repo_root / path, path) for path in paths if is_model_file(path, model)}
            self.read_texts[model] = texts
        return dict(self.read_texts[model])

    def sidecar(self, model: str) -> str | None:
        """The text of `generated/<model>/provenance.json` (converter/write/provenance.py), from this
        run or from disk; None where there is none or it cannot be read (the map is then rebuilt
        without the base's chains, never an error)."""
        path = f"{GENERATED}/{model}/{SIDECAR}"
        if path in self.texts or self.layout.tree:
            return self.texts.get(path)
        try:
            return read_source(self.repo_root / path, path) if (self.repo_root / path).is_file() else None
        except ConversionError:
            return None

    def tree_package_texts(self, model: str) -> dict[str, str] | None:
        in_memory = {path: text for path, text in self.texts.items() if self.model_of_path(path) == model}
        directory = self.directories().get(model)
        children = (self.repo_root / directory).glob(f"*_{model}.py") if directory is not None else ()
        paths = sorted(f"{directory}/{child.name}" for child in children)
        on_disk = [path for path in paths if path not in in_memory and self.is_tree_file(path, model)]
        texts = {path: read_base(self.repo_root / path, path) for path in on_disk}
        texts.update({path: text for path, text in in_memory.items() if self.is_tree_file(path, model)})
        return texts or None

    def is_tree_file(self, path: str, model: str) -> bool:
        return path.endswith(f"_{model}.py") and kind_of_path(path, model) in TREE_KINDS


def is_model_file(path: str, model: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return name.endswith(f"_{model}.py") and kind_of_path(path, model) != ""


def kind_of_path(path: str, model: str) -> str:
    return path.rsplit("/", 1)[-1].removesuffix(f"_{model}.py")


def kind_rank(kind: str, layout: Layout = REPO) -> tuple[int, str]:
    order = TREE_KINDS if layout.tree else KIND_ORDER
    return (order.index(kind) if kind in order else len(order), kind)


BASE_FIX = "regenerate the base model with python converter/run.py --all"


def read_base(path: Path, display_path: str) -> str:
    """The text of a base file; raises ConversionError (E107) as source.py reads a modular file."""
    try:
        return read_source(path, display_path)
    except ConversionError as error:
        raise as_base_error(error, "cannot read base file") from None


def parse_base(path: str, text: str, checked: bool = False) -> cst.Module:
    """libcst's tree of a base file, checked as a modular file is (parse.parse_source); raises E107.
    `checked`: the text is an output of this run, which CPython parsed once formatted (format.py),
    from modular files and bases checked so: CPython is not asked again (a twentieth of a run)."""
    try:
        return parse_checked(text, path) if checked else parse_source(text, path)
    except ConversionError as error:
        raise as_base_error(error, "base file does not parse") from None


def as_base_error(error: ConversionError, what: str) -> ConversionError:
    """The diagnostics of reading or parsing a base file, as E107 with the fix for base files."""
    return ConversionError(
        dataclasses.replace(diagnostic, code="E107", message=f"{what}: {diagnostic.message}", fix=BASE_FIX)
        for diagnostic in error.diagnostics
    )
