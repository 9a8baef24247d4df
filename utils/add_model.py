"""Scaffold a new model: its modular file and its test declaration, from a base model.

    python utils/add_model.py qwen3 --from qwen2        # modular/modular_qwen3.py + tests/models/specs/qwen3.py
    python utils/add_model.py qwen3 --declaration-only  # only the declaration, for an existing modular file

The modular file holds one `class <Name>X(<Base>X): pass` per public class of the base, each with
the base's methods (its hooks) listed in a comment, and the base's module-level functions that a
definition in the file would replace everywhere (DESIGN rule 6). They are read with `ast` from
generated/<base>/, the base's modular file unrolled, which is what the new file imports from:
nothing is imported or executed. The declaration (tests/models/specs/<name>.py) is the base's with
the new names; it names a transformers reference only where transformers 5.23.0 ships a model of
that name, and otherwise says why the parity tests skip. Both come from templates/new_model/.
Next steps are printed: convert, check, test (docs/adding_a_model.md).

Refused, with one line on stderr and nothing written (a file is never overwritten):
    exit 2  usage: a name that is not a lowercase identifier of at most 100 characters, a Python
            keyword, a model that exists (a modular file, a generated package or a declaration),
            a name the renamer cannot tell from an existing model's (`qwen` beside `qwen2`: a rename
            of qwen would rewrite Qwen2 names too; `llama_2` and `llama2` both give `Llama2`), a
            class name that would shadow a name the base imports, an unknown base, or a path that
            cannot be written
    exit 1  the base cannot be scaffolded from yet: its generated package is missing, or it has no
            test declaration (the fixing command is printed)
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import keyword
import sys
import textwrap
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import jinja2

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # run as a script, Python puts utils/ (not the repository) on sys.path

from converter.read.bases import MODEL_NAME  # noqa: E402  (what the converter accepts as a model name)
from converter.read.locate import MAX_MODEL_NAME  # noqa: E402
from converter.rename.rename import camelize  # noqa: E402  (the renamer's default CamelCase prefix)

TEMPLATES = REPO / "templates" / "new_model"
SPECS = Path("tests/models/specs")
FILE_ORDER = ("configuration", "modeling", "image_processing", "processing")
MAIN_CLASSES = ("ForCausalLM", "ForConditionalGeneration", "VisionModel")
EXIT_OK, EXIT_FIX_BASE, EXIT_ERROR = 0, 1, 2
WIDTH = 119


class Refusal(Exception):
    """A refusal: the message and the exit code."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class BaseClass:
    """A public class of the base: the file it lives in, its name and its methods."""

    stem: str
    name: str
    methods: tuple[str, ...]


@dataclass(frozen=True)
class Base:
    """What the scaffold needs of the base model, read from generated/<base>/ with ast."""

    model: str
    camel: str
    classes: tuple[BaseClass, ...]
    functions: tuple[str, ...]
    bound: frozenset[str]  # every other name the base's files bind (imports, constants)


def existing_models(repo: Path) -> set[str]:
    """Every model the repository knows: modular files, generated packages and declarations."""
    modular = {path.stem.removeprefix("modular_") for path in (repo / "modular").glob("modular_*.py")}
    generated = {path.name for path in (repo / "generated").iterdir() if (path / "__init__.py").is_file()}
    declared = {path.stem for path in (repo / SPECS).glob("*.py") if path.stem != "__init__"}
    return modular | generated | declared


def check_name(name: str, others: set[str]) -> None:
    """Refuse a name that cannot be a model's (see the module docstring)."""
    if not MODEL_NAME.fullmatch(name) or len(name) > MAX_MODEL_NAME:
        raise Refusal(f"model name {name!r}: use a lowercase identifier (a-z, 0-9, _) of at most 100 characters")
    if keyword.iskeyword(name):
        raise Refusal(f"model name {name!r} is a Python keyword: generated.{name} could not be imported")
    if name in others:
        raise Refusal(f"model {name!r} exists: pick another name (nothing is overwritten)")
    for other in sorted(others):
        if other.replace("_", "") == name.replace("_", ""):
            raise Refusal(
                f"model name {name!r} gives the classes of {other!r} ({camelize(other)}...): pick another name"
            )
        if other.startswith(name) and not other[len(name)].islower():
            raise Refusal(
                f"model name {name!r} begins {other!r}: renaming {name} (for a model built on it) would also "
                f"rewrite {camelize(other)}... names, since the renamer replaces a name wherever no lowercase follows"
            )


def read_base(repo: Path, base: str) -> Base:
    """The base's public classes with their methods, its functions and its other names, by ast."""
    if not (repo / "modular" / f"modular_{base}.py").is_file():
        known = sorted(path.stem.removeprefix("modular_") for path in (repo / "modular").glob("modular_*.py"))
        raise Refusal(f"unknown base {base!r}: no modular/modular_{base}.py (bases: {', '.join(known)})")
    files = sorted((repo / "generated" / base).glob("*.py"), key=lambda path: file_rank(path, base))
    trees = [(path.stem, parse_generated(path, base)) for path in files if path.name != "__init__.py"]
    if not trees:
        raise Refusal(
            f"generated/{base}/ is missing: run `python converter/run.py modular/modular_{base}.py` first",
            EXIT_FIX_BASE,
        )
    names = [node.name for _, tree in trees for node in tree.body if isinstance(node, ast.ClassDef)]
    camel = class_prefix(names, base)
    classes, functions, bound = [], [], set()
    for stem, tree in trees:
        for node in tree.body:
            # a decorated class (an output @dataclass) cannot be subclassed with `pass` exactly (E209):
            # the new model gets it renamed wherever its code uses it
            if isinstance(node, ast.ClassDef) and node.name.startswith(camel) and not node.decorator_list:
                methods = (item.name for item in node.body if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef))
                classes.append(BaseClass(stem, node.name, tuple(methods)))
            elif isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
                functions.append(node.name)
            bound |= bound_names(node)
    return Base(base, camel, tuple(classes), tuple(functions), frozenset(bound - {c.name for c in classes}))


def parse_source(path: Path, fix: str) -> ast.Module:
    """`path` parsed (never imported); a file that cannot be read or parsed is refused with `fix`."""
    try:
        return ast.parse(path.read_text(encoding="utf-8"), str(path))
    except (OSError, UnicodeDecodeError, SyntaxError) as error:
        why = f"{path.parent.name}/{path.name} cannot be read ({type(error).__name__}): {fix}"
        raise Refusal(why, EXIT_FIX_BASE) from None


def parse_generated(path: Path, base: str) -> ast.Module:
    """A generated file of the base: one that cannot be read or parsed is a stale package."""
    return parse_source(path, f"regenerate it with `python converter/run.py modular/modular_{base}.py`")


def file_rank(path: Path, base: str) -> tuple[int, str]:
    """Configuration first, then modeling, image processing, processing: the reading order."""
    kind = path.stem.removesuffix(f"_{base}")
    return (FILE_ORDER.index(kind) if kind in FILE_ORDER else len(FILE_ORDER), path.name)


def class_prefix(names: Sequence[str], model: str) -> str:
    """The spelling of `model` that starts its class names (`Idefics2` in Idefics2Config)."""
    compact = model.replace("_", "")
    for name in names:
        if name.lower().startswith(compact):
            return name[: len(compact)]
    return camelize(model)


def bound_names(node: ast.stmt) -> set[str]:
    """The names a top-level statement binds."""
    if isinstance(node, ast.Import | ast.ImportFrom):
        return {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
        return {node.name}
    targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
    return {target.id for target in targets if isinstance(target, ast.Name)}


def check_shadowing(base: Base, camel: str) -> None:
    """Refuse a prefix whose class names are names the base already binds (`PretrainedConfig`)."""
    for item in base.classes:
        new = camel + item.name[len(base.camel) :]
        if new in base.bound:
            raise Refusal(
                f"the new class {new} is a name generated/{base.model}/ already uses: pick another model name"
            )


def hook_lines(label: str, names: Sequence[str], indent: str) -> list[str]:
    """`# hooks: a, b, c` wrapped to the line length; nothing when there are no names."""
    if not names:
        return []
    text = f"{label}: {', '.join(names)}"
    width = WIDTH - len(indent) - 2
    return [f"{indent}# {line}" for line in textwrap.wrap(text, width, subsequent_indent="  ")]


def render_modular(base: Base, name: str, camel: str) -> str:
    """The scaffolded modular file (templates/new_model/modular.py.jinja)."""
    imports: dict[str, list[str]] = {}
    for item in base.classes:
        imports.setdefault(item.stem, []).append(item.name)
    classes = [
        {
            "name": camel + item.name[len(base.camel) :],
            "base": item.name,
            "hooks": hook_lines("hooks", item.methods, "    "),
        }
        for item in base.classes
    ]
    template = environment().get_template("modular.py.jinja")
    return template.render(
        name=name,
        camel=camel,
        base=base.model,
        base_camel=base.camel,
        imports=[(stem, sorted(names, key=isort_key)) for stem, names in sorted(imports.items())],
        classes=classes,
        functions=hook_lines("functions", base.functions, ""),
    )


def reference_of(name: str, camel: str, main: str) -> str | None:
    """`camel` when transformers ships `<camel><main>` in transformers/models/<name>/modeling_<name>.py
    (read as text: transformers is not imported), else None."""
    return camel if f"\nclass {camel}{main}(" in transformers_source(name) else None


def render_declaration(repo: Path, base: Base, name: str, camel: str) -> str:
    """The scaffolded declaration (templates/new_model/spec.py.jinja): the base's, renamed, with a
    transformers reference where transformers ships this model, else the reason parity skips."""
    if not (repo / SPECS / f"{base.model}.py").is_file():
        raise Refusal(
            f"the base {base.model!r} has no test declaration: write {SPECS}/{base.model}.py first "
            f"(`python utils/add_model.py {base.model} --declaration-only`)",
            EXIT_FIX_BASE,
        )
    suffixes = [item.name[len(base.camel) :] for item in base.classes]
    main = next((suffix for suffix in MAIN_CLASSES if suffix in suffixes), MAIN_CLASSES[0])
    reference = reference_of(name, camel, main)
    heads = ""
    if reference is not None:
        source = transformers_source(name)
        found = [s for s in suffixes if s.startswith("For") and s != main and f"\nclass {camel}{s}(" in source]
        heads = tuple_literal(found)
    template = environment().get_template("spec.py.jinja")
    return template.render(name=name, camel=camel, base=base.model, main=main, reference=reference, heads=heads)


def isort_key(name: str) -> tuple[int, str]:
    """ruff's (isort's) order of imported names: CONSTANTS (CLIPMLP too), then Classes, then the rest."""
    return (0 if name.isupper() else 1 if name[:1].isupper() else 2, name)


def tuple_literal(names: Sequence[str]) -> str:
    """`("A", "B")`, `("A",)`: a tuple of strings as ruff formats it."""
    return "(" + ", ".join(f'"{name}"' for name in names) + ("," if len(names) == 1 else "") + ")"


def transformers_source(name: str) -> str:
    """transformers/models/<name>/modeling_<name>.py as text ("" when there is none)."""
    found = importlib.util.find_spec("transformers")
    if found is None or found.origin is None:
        return ""
    source = Path(found.origin).parent / "models" / name / f"modeling_{name}.py"
    return source.read_text(encoding="utf-8") if source.is_file() else ""


def main_base_of(repo: Path, name: str) -> str:
    """The model a modular file imports most names from (its main base, as the overlay reads it)."""
    path = repo / "modular" / f"modular_{name}.py"
    counts: dict[str, int] = {}
    for node in parse_source(path, "fix the modular file first").body:
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("generated."):
            model = node.module.split(".")[1]
            counts[model] = counts.get(model, 0) + len(node.names)
    if not counts:
        raise Refusal(
            f"modular/modular_{name}.py imports from no model: write {SPECS}/{name}.py by hand "
            f"(the fields are in {SPECS}/__init__.py)",
            EXIT_FIX_BASE,
        )
    return max(counts, key=lambda model: (counts[model], -list(counts).index(model)))


def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


def write_new(files: dict[Path, str]) -> None:
    """Create every file, none of which may exist; on any failure remove those created."""
    created: list[Path] = []
    try:
        for path, text in files.items():
            with open(path, "x", encoding="utf-8") as handle:
                created.append(path)
                handle.write(text)
    except BaseException as error:
        for path in created:
            path.unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise Refusal(f"cannot write {error.filename}: {error.strerror}; nothing written") from None
        raise


def plan(repo: Path, name: str, base_name: str | None, declaration_only: bool) -> dict[Path, str]:
    """The files to create, rendered; raises Refusal before anything is written."""
    modular = repo / "modular" / f"modular_{name}.py"
    if declaration_only:
        return plan_declaration(repo, name, base_name)
    if base_name is None:
        raise Refusal("name the base model: --from <base> (or --declaration-only for an existing modular file)")
    check_name(name, existing_models(repo))
    base = read_base(repo, base_name)
    camel = camelize(name)
    check_shadowing(base, camel)
    return {
        modular: render_modular(base, name, camel),
        repo / SPECS / f"{name}.py": render_declaration(repo, base, name, camel),
    }


def plan_declaration(repo: Path, name: str, base_name: str | None) -> dict[Path, str]:
    """`--declaration-only`: the declaration of an existing modular file, from its base's."""
    modular = repo / "modular" / f"modular_{name}.py"
    if not MODEL_NAME.fullmatch(name) or not modular.is_file():
        raise Refusal(f"--declaration-only: there is no modular/modular_{name}.py")
    if (repo / SPECS / f"{name}.py").exists():
        raise Refusal(f"{SPECS}/{name}.py exists (nothing is overwritten)")
    base = read_base(repo, base_name or main_base_of(repo, name))
    tree = parse_source(modular, "fix the modular file first")
    camel = class_prefix([node.name for node in tree.body if isinstance(node, ast.ClassDef)], name)
    return {repo / SPECS / f"{name}.py": render_declaration(repo, base, name, camel)}


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; returns the exit code (see the module docstring)."""
    parser = argparse.ArgumentParser(
        prog="utils/add_model.py",
        description="Scaffold modular/modular_<name>.py and tests/models/specs/<name>.py from a base model.",
        epilog="exit codes: 0 written; 1 the base needs fixing first; 2 usage (a refused name or base) or unwritable",
    )
    parser.add_argument("name", help="the new model's name, e.g. qwen3 (a lowercase identifier)")
    parser.add_argument("--from", dest="base", help="the base model, e.g. qwen2")
    parser.add_argument("--declaration-only", action="store_true", help="write only the test declaration")
    args = parser.parse_args(argv)
    try:
        files = plan(REPO, args.name, args.base, args.declaration_only)
        write_new(files)
    except Refusal as refusal:
        print(f"error: {refusal}", file=sys.stderr)
        return refusal.code
    except Exception as error:  # noqa: BLE001 - a bug must not exit 1, which means "fix the base first"
        traceback.print_exc()
        print(f"internal error: {type(error).__name__}; nothing written", file=sys.stderr)
        return EXIT_ERROR
    for path in files:
        print(f"wrote {path.relative_to(REPO)}")
    target = f"modular/modular_{args.name}.py"
    print(
        f"next: python converter/run.py {target} && python utils/check_modular_conversion.py "
        f"&& python -m pytest -q -k {args.name}   (docs/adding_a_model.md)"
    )
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
