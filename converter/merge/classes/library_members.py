"""The members a library class defines in its own body (`runtime.configuration_utils.PretrainedConfig`'s
fields, say), read with `ast` and never executed, for E212 (converter/merge/merge.py `check_removals`).

    library_members(library, "runtime.configuration_utils", "PretrainedConfig")
    # frozenset({"model_type", "use_cache", "tie_word_embeddings", ..., "derive", "to_dict", ...})

None where the module or the class cannot be read (not a library module, a syntax error, ...).
"""

from __future__ import annotations

import ast

from converter.layout import Library
from converter.merge.classes.ancestry import library_facts

#: (path, class) -> its members; a library file is parsed once per process
_MEMBERS: dict[tuple[str, str], frozenset[str] | None] = {}


def library_members(library: Library, module: str, name: str) -> frozenset[str] | None:
    """Names class `name` of library module `module` binds in its body: annotated or assigned
    attributes, methods and nested classes."""
    path = library.module_file(module.split("."))
    if path is None or library_facts(path) is None:  # library_facts: readable and parseable
        return None
    key = (str(path), name)
    if key not in _MEMBERS:
        tree = ast.parse(path.read_bytes())
        found = [node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == name]
        _MEMBERS[key] = frozenset(member for node in found for member in body_names(node)) if found else None
    return _MEMBERS[key]


def body_names(class_def: ast.ClassDef) -> list[str]:
    names: list[str] = []
    for statement in class_def.body:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(statement.name)
        elif isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
            names.append(statement.target.id)
        elif isinstance(statement, ast.Assign):
            names += [target.id for target in statement.targets if isinstance(target, ast.Name)]
    return names
