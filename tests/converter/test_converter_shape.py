"""The converter's shape: one package per stage, imports only backwards, no import cycles.

Every import counts, wherever it is written (top level, inside a function, under
`if TYPE_CHECKING:`): a cycle hidden in a function body is still a cycle a reader must untangle.

    python -m pytest -q tests/converter/test_converter_shape.py
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

CONVERTER = Path(__file__).resolve().parents[2] / "converter"

#: The stages in pipeline order: a module of a stage imports only from earlier stages, its own
#: stage and the shared leaves.
STAGES = ("read", "rename", "merge", "trace", "write", "pipeline")
#: Modules any stage may import; they import no stage.
LEAVES = ("diagnostics", "layout", "syntax", "dialect")
#: What may stay at the top of `converter/`: the leaves, the package and the command line.
TOP = {"__init__", "run", "diagnostics", "layout"}


def module_name(path: Path) -> str:
    parts = path.relative_to(CONVERTER.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(CONVERTER.rglob("*.py"))}


def imported(path: Path, known: set[str]) -> Iterator[str]:
    """Every converter module `path` imports, resolved to a module (not a name inside one)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module is not None and node.level == 0:
            targets = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        else:
            continue
        for target in targets:
            if target in known:
                yield target
                break


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: set(imported(path, known)) - {name} for name, path in found.items()}


def stage_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_at_most_a_handful_of_modules_stay_at_the_top() -> None:
    top = {path.stem for path in CONVERTER.glob("*.py")}
    assert top <= TOP, f"move these into a stage package: {sorted(top - TOP)}"
    packages = {path.name for path in CONVERTER.iterdir() if (path / "__init__.py").exists()}
    assert packages == {*STAGES, "syntax", "dialect"}


@pytest.mark.parametrize("stage", [*STAGES, "syntax"])
def test_each_stage_says_what_comes_in_and_what_goes_out(stage: str) -> None:
    docstring = ast.get_docstring(ast.parse((CONVERTER / stage / "__init__.py").read_text(encoding="utf-8")))
    assert docstring is not None and "In:" in docstring and "Out:" in docstring, f"converter/{stage}/__init__.py"


def test_stages_import_only_earlier_stages_and_leaves() -> None:
    wrong = []
    for module, targets in graph().items():
        stage = stage_of(module)
        for target in sorted(targets):
            if module in ("converter", "converter.run"):  # the package and the command line use every stage
                continue
            target_stage = stage_of(target)
            if stage in LEAVES:
                if target_stage not in LEAVES:
                    wrong.append(f"leaf {module} imports {target}")
            elif target_stage in STAGES and STAGES.index(target_stage) > STAGES.index(stage):
                wrong.append(f"{module} ({stage}) imports the later stage {target}")
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles() -> None:
    edges = graph()
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the stack, 2: done

    def visit(module: str, stack: list[str]) -> None:
        state[module] = 1
        stack.append(module)
        for target in sorted(edges[module]):
            if state.get(target) == 1:
                cycles.append(stack[stack.index(target) :] + [target])
            elif target not in state:
                visit(target, stack)
        stack.pop()
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [])
    assert not cycles, "\n".join(" -> ".join(cycle) for cycle in cycles)


def test_the_package_imports_nothing_but_its_entry_points() -> None:
    """`import converter` re-exports convert_files and the diagnostics, nothing else; and no module
    imports the package itself, which would hide a cycle through its re-exports."""
    edges = graph()
    assert edges["converter"] == {"converter.diagnostics", "converter.pipeline.convert"}
    assert not [module for module, targets in edges.items() if "converter" in targets]


def test_the_values_stages_hand_each_other_are_frozen_dataclasses() -> None:
    """The values `converter/pipeline/convert.py` lists: a pass returns one, the next reads it."""
    import dataclasses

    from converter.merge.merge import MergedModule
    from converter.pipeline import convert
    from converter.read.bases import Bases
    from converter.read.gather import GatheredModule
    from converter.read.parse import ParsedModule
    from converter.read.resolve import ResolvedModule
    from converter.rename.rename import RenamedModule
    from converter.write.emit import EmittedModel
    from converter.write.imports import ImportPlan
    from converter.write.split import SplitModule

    values = [ParsedModule, Bases, ResolvedModule, RenamedModule, MergedModule, GatheredModule]
    values += [SplitModule, ImportPlan, EmittedModel]
    for value in values:
        assert dataclasses.is_dataclass(value) and value.__dataclass_params__.frozen, value.__name__  # type: ignore[attr-defined]
        assert value.__name__ in (convert.__doc__ or ""), f"{value.__name__} is not in the pass list"
