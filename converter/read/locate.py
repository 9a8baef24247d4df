"""Which files may feed generated/ (or a tree's model folders), and the model each one names.

A modular file's name says where its outputs go: `modular/modular_llama.py` writes
`generated/llama/`. So a file is taken only from where modular files belong, by its real path
(symlinks followed): in this repository, directly inside `<repo>/modular/` (where that folder
points, if it is a symlink); in a transformers-style tree (`--tree`), directly inside a folder of
the tree (`<tree>/<folder>/modular_<model>.py`, its outputs beside it). Anything else is refused
with the reason and the fix, before it is read:

    E004  not found, a dangling symlink, a directory, not a regular file (source.py reads the rest)
    E003  outside the repository; inside it but not in modular/ (`scratch/modular_llama.py` would
          overwrite generated/llama/); a symlink to a file elsewhere
    E002  a name that is not `modular_<model>.py` with <model> a lowercase identifier of at most
          100 characters that is no Python keyword (`generated.class` cannot be imported) and, in a
          tree, that file names cannot mistake for another model (`image_processing_pil_x.py`)

    located = locate_modular(Path("modular/modular_llama.py"), repo_root, REPO)
    located.path, located.display_path, located.model   # real path, "modular/modular_llama.py", "llama"
"""

from __future__ import annotations

import keyword
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from converter.diagnostics import ConversionError, Diagnostic
from converter.layout import REPO, TREE_INFRASTRUCTURE, TREE_KINDS, Layout, model_of_stem
from converter.read.source import DIRECTORY, SPECIAL, file_error, why_unopenable

MODULAR_NAME = re.compile(r"modular_(?P<model>[a-z][a-z0-9_]*)\.py")
MAX_MODEL_NAME = 100  # as runtime/auto.py's model_type
MODULAR_FOLDER = "modular"


@dataclass(frozen=True)
class Located:
    """A modular file where it belongs: its real path, its path as diagnostics show it, its model."""

    path: Path
    display_path: str
    model: str


def locate_modular(path: Path, repo_root: Path, layout: Layout = REPO) -> Located:
    """The modular file at `path` (as given: relative to the working directory, links unresolved);
    raises ConversionError (E002-E004) where it may not feed a run at `repo_root`."""
    given = Path(os.path.abspath(path))
    shown = display_path_of(given, repo_root) or str(path)
    try:
        kind = os.stat(given).st_mode
    except OSError as error:
        raise file_error(shown, why_unopenable(given, error)) from None
    if not stat.S_ISREG(kind):
        raise file_error(shown, DIRECTORY if stat.S_ISDIR(kind) else SPECIAL)
    real = Path(os.path.realpath(given))
    root = Path(os.path.realpath(repo_root))
    display_path = placed(given, real, root, shown, layout)
    return Located(real, display_path, model_name(real.name, display_path, layout))


def placed(given: Path, real: Path, root: Path, shown: str, layout: Layout) -> str:
    """The display path of the real file `real` where it lies where modular files belong; else E003."""
    folder = real.parent
    if layout.tree and folder.parent == root:
        return real.relative_to(root).as_posix()
    if not layout.tree and folder == Path(os.path.realpath(root / MODULAR_FOLDER)):
        return f"{MODULAR_FOLDER}/{real.name}"
    where = "<tree>/<folder>/" if layout.tree else f"{MODULAR_FOLDER}/"
    inside = real == root or root in real.parents
    target = real.relative_to(root).as_posix() if inside else "a file outside the repository"
    if real != given and os.path.islink(given):
        message = f"is a symlink to {target}, and modular files are read only from {where}"
        fix = f"replace the symlink by the file itself, in {where}"
    elif inside:
        message = f"is not in {where}: only {where}modular_<model>.py files are converted"
        fix = f"move it into {where} to convert it (its name says which model's files it writes)"
    else:
        message = f"is outside the {'tree' if layout.tree else 'repository'} {root}"
        fix = f"move it to {root}/{where} or pass --{'tree' if layout.tree else 'repo-root'} of the one that holds it"
    raise ConversionError([Diagnostic(shown, 1, 1, "E003", f"modular file {message}", fix)])


def model_name(name: str, display_path: str, layout: Layout = REPO) -> str:
    """The model a modular file's name gives; raises ConversionError (E002) where it gives none."""
    match = MODULAR_NAME.fullmatch(name)
    model = match.group("model") if match else ""
    fix = "name the file modular_<model>.py with <model> in lowercase letters, digits and underscores"
    if not model:
        problem = f"cannot take a model name from {name[:120]!r}"
    elif len(model) > MAX_MODEL_NAME:
        problem = f"the model name is {len(model)} characters long, more than {MAX_MODEL_NAME}"
    elif keyword.iskeyword(model):
        problem = f"the model name {model!r} is a Python keyword: its package could not be imported"
        fix = f"rename the file, for example modular_{model}_model.py"
    elif layout.tree and (
        model in TREE_INFRASTRUCTURE or any(model_of_stem(f"{k}_{model}") != model for k in TREE_KINDS)
    ):
        problem = f"the model name {model!r} would be read as another model's in the tree's file names"
        fix = "rename the file"
    else:
        return model
    raise ConversionError([Diagnostic(display_path, 1, 1, "E002", problem, fix)])


def display_path_of(path: Path, repo_root: Path) -> str | None:
    """`path` relative to `repo_root` with POSIX slashes (no link resolved), or None when it lies outside."""
    try:
        return Path(os.path.abspath(path)).relative_to(os.path.abspath(repo_root)).as_posix()
    except ValueError:
        return None
