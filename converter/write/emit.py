"""Pass 5, emit: the text of every output file of one model, before formatting.

Each file is: header (templates/header.py.jinja), the modular file's leading comments, the
modular docstring (main file only), imports, definitions in source order, trailing comments
(main file only), `__all__`. The package `__init__.py` comes from templates/init.py.jinja.
Blank lines and import order are left to the format pass. The main file is the modeling file
(or the first file when a model has no modeling file): it also receives unused statements.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import jinja2
import libcst as cst

from converter.diagnostics import Diagnostic
from converter.layout import DEFAULT_KIND
from converter.read.gather import DefinitionKind
from converter.read.parse import ParsedModule
from converter.write.imports import FileImports, ImportPlan
from converter.write.split import OutputPlan

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"
GENERATED_DIR = "generated"
RUN_COMMAND = "python converter/run.py"


@dataclass(frozen=True)
class EmittedFile:
    """One output file: its repo-relative POSIX path and its (not yet formatted) text."""

    path: str
    text: str


@dataclass(frozen=True)
class EmittedModel:
    """Every output file of one modular file, in kind order, `__init__.py` last."""

    model: str
    modular_path: str
    modular_lines: int
    files: tuple[EmittedFile, ...]
    tree: bool = False  # a transformers tree's files (converter/layout.py), formatted as upstream's
    #: The transformers dialect's drift warnings (converter/dialect/), in source order; () otherwise.
    warnings: tuple[Diagnostic, ...] = ()


def emit_model(plan: ImportPlan) -> EmittedModel:
    """Render the files of one model from its import plan."""
    parsed = plan.split.gathered.parsed
    layout = parsed.layout
    directory = layout.output_directory(parsed.display_path, parsed.model)
    kinds = [output.kind for output in plan.split.files]
    main_kind = DEFAULT_KIND if DEFAULT_KIND in kinds else kinds[0]
    files = []
    for output, imports in zip(plan.split.files, plan.imports, strict=True):
        text = render_file(plan, output, imports, is_main=output.kind == main_kind)
        files.append(EmittedFile(f"{directory}/{output.kind}_{parsed.model}.py", text))
    if layout.writes_init:
        files.append(EmittedFile(f"{directory}/__init__.py", render_init(parsed, plan.split.files)))
    lines = count_lines(parsed.source)
    return EmittedModel(parsed.model, parsed.display_path, lines, tuple(files), layout.tree)


def render_file(plan: ImportPlan, output: OutputPlan, imports: FileImports, is_main: bool) -> str:
    gathered = plan.split.gathered
    module = gathered.parsed.module
    parsed = gathered.parsed
    header = parsed.layout.header(parsed.display_path)
    if header is not None:
        return render_tree_file(plan, output, imports, header)
    parts = [render_header(parsed.display_path), comments_of(module.header)]
    if is_main:
        parts += [code(d.node) for d in gathered.definitions if d.kind is DefinitionKind.DOCSTRING]
    parts.append("".join(code(statement) for statement in imports.statements))
    parts += [code(definition.node) for definition in output.definitions]
    if is_main:
        parts.append(comments_of(module.footer))
    parts.append(f"__all__ = [{', '.join(quote(name) for name in output.exports)}]")
    return join_parts(parts)


def render_tree_file(plan: ImportPlan, output: OutputPlan, imports: FileImports, header: str) -> str:
    """A transformers tree's file, as upstream writes it: the header, the modular file's leading comments
    with the blank lines after them, its imports with their own blank lines (upstream leaves out the
    module docstring), definitions each with the blank lines written above it (ruff keeps those between
    two assignments), `__all__`. After the imports, two blank lines (ruff's isort setting), but after
    a guarded import block (`if is_torch_available():`), which isort leaves alone, the blank lines the
    first definition has above it in its source."""
    gathered = plan.split.gathered
    module = gathered.parsed.module
    head = header + header_lines(module.header) + "".join(code(statement) for statement in imports.statements)
    body = "".join(code(definition.node) for definition in output.definitions).strip("\n")
    parts = [body, f"__all__ = [{', '.join(quote(name) for name in output.exports)}]"]
    blank = 2
    if imports.statements and isinstance(imports.statements[-1], cst.If) and output.definitions:
        blank = min(2, blank_lines_above(output.definitions[0].node))
    return head.rstrip("\n") + "\n" * (blank + 1) + join_parts(parts)


def blank_lines_above(node: cst.CSTNode) -> int:
    """The blank lines written above `node` before its first comment line, if any."""
    count = 0
    for line in getattr(node, "leading_lines", ()):
        if line.comment is not None:
            break
        count += 1
    return count


def render_init(parsed: ParsedModule, outputs: Sequence[OutputPlan]) -> str:
    modules = [f"{output.kind}_{parsed.model}" for output in outputs]
    imports = [(module, sorted(o.exports)) for module, o in zip(modules, outputs, strict=True) if o.exports]
    template = environment().get_template("init.py.jinja")
    return template.render(
        header=render_header(parsed.display_path).rstrip("\n"),
        model=parsed.model,
        modules=modules,
        imports=imports,
        all_names=[name for output in outputs for name in output.exports],
    )


def render_header(modular_path: str) -> str:
    return environment().get_template("header.py.jinja").render(source=modular_path, command=RUN_COMMAND)


@functools.cache
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )


def code(node: cst.CSTNode) -> str:
    return cst.Module(body=[]).code_for_node(node)


def comments_of(lines: Sequence[cst.EmptyLine]) -> str:
    """Only the comment lines of a module's header or footer (their blank lines are formatting)."""
    return "".join(f"{line.comment.value}\n" for line in lines if line.comment is not None)


def header_lines(lines: Sequence[cst.EmptyLine]) -> str:
    """A module header as written, its leading blank lines aside: upstream keeps the blank lines
    between the modular file's leading comments and its imports (a tree's files, converter/layout.py)."""
    text = "".join(f"{line.comment.value if line.comment else ''}\n" for line in lines)
    return text.lstrip("\n") if any(line.comment is not None for line in lines) else ""


def quote(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def join_parts(parts: Sequence[str]) -> str:
    """Non-empty parts separated by a blank line; the format pass settles the final spacing."""
    return "\n".join(part.strip("\n") + "\n" for part in parts if part.strip())


def count_lines(text: str) -> int:
    """Non-blank lines, the unit of the run summary."""
    return sum(1 for line in text.splitlines() if line.strip())
