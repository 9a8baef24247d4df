"""The order of a run: modular files grouped in dependency levels, bases before the models built on them.

A model depends on every model it imports from (`from generated.<model>...`). Level 0 holds the
models that depend on no model of the run; level n those whose bases are all in earlier levels.
Models of one level do not depend on each other and may be converted in parallel. A cycle is
E106, naming it: `modular/modular_a.py:3:1: E106 cycle between modular files: a -> b -> a`.
A run schedules its files as scanned (scan.py): the base models each imports from.

    levels = schedule(scanned_modules)     # [[llama], [mistral, gemma], [gemma2]]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from converter.diagnostics import ConversionError
from converter.pipeline.scan import ScannedModule
from converter.read.resolve import base_imports


def schedule(modules: Sequence[ScannedModule]) -> list[list[ScannedModule]]:
    """Dependency levels of `modules` (each level in the given order); raises ConversionError (E106)."""
    by_model = {module.model: module for module in modules}
    depends = {module.model: [m for m in module.bases if m in by_model] for module in modules}
    levels: list[list[ScannedModule]] = []
    placed: set[str] = set()
    while len(placed) < len(modules):
        ready = [m for m in modules if m.model not in placed and all(d in placed for d in depends[m.model])]
        if not ready:
            raise cycle_error([m for m in modules if m.model not in placed], depends)
        levels.append(ready)
        placed.update(module.model for module in ready)
    return levels


def cycle_error(remaining: Sequence[ScannedModule], depends: Mapping[str, list[str]]) -> ConversionError:
    """E106 for one cycle among `remaining`, starting at its first model by name, at its first import
    (found in the file's libcst parse)."""
    names = {module.model for module in remaining}
    path = [min(names)]
    while True:
        following = next(d for d in depends[path[-1]] if d in names)
        if following in path:
            loop = path[path.index(following) :]
            start = loop.index(min(loop))
            cycle = [*loop[start:], *loop[:start], min(loop)]
            break
        path.append(following)
    module = next(m for m in remaining if m.model == cycle[0]).parse()
    node = base_imports(module)[cycle[1]]
    message = f"cycle between modular files: {' -> '.join(cycle)}"
    fix = f"a model cannot inherit from itself, directly or through other models; break the cycle at {cycle[0]}"
    return ConversionError([module.diagnostic(node, "E106", message, fix)])
