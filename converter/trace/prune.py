"""Transformers dialect: what upstream keeps of a module (W330, converter/dialect/rules.py).

Upstream's converter (transformers' utils/modular_model_converter.py, `create_modules`) builds each
generated file from the modular file's classes alone: every class, then what it needs, transitively
(functions, assignments, base definitions). A top-level function or assignment that no class needs,
and any other top-level statement (an expression, a loop), is left out; imports are then pruned to
what the kept code uses, so `logger = logging.get_logger(__name__)` goes with its `logging` import
when nothing logs. An assignment to an item or attribute of a module-level variable
(`REGISTRY["x"] = f`) belongs to that variable: kept when it is, right after it.

`drop_unused` applies that rule to the gathered module. Dropping a definition nothing uses changes
nothing, so the drift W330 is recorded only for a dropped modular statement that runs code when it
executes: a call (other than a few known to be pure: `logging.get_logger`, builtin constructors), a
decorator, a statement other than an assignment or a definition.

    logger = logging.get_logger(__name__)     # dropped when unused, no drift
    register_backend("toy", toy_forward)      # dropped: W330
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence

import libcst as cst
from libcst.helpers import get_full_name_for_node

from converter.dialect import drift
from converter.merge.merge import MergedModule, ModularStatement
from converter.read.gather import NOT_PLACED, Definition, DefinitionKind, GatheredModule
from converter.syntax.names import bound_names, code_of

#: Calls that only build a value: dropping one whose result nothing uses changes nothing.
PURE_CALLS = frozenset(
    {
        "logging.get_logger",
        "TypeVar",
        "typing.TypeVar",
        "tuple",
        "list",
        "dict",
        "set",
        "frozenset",
        "range",
        "len",
        "str",
        "int",
        "float",
        "bool",
        "sorted",
        "zip",
        "enumerate",
        "object",
    }
)
#: A module `__getattr__` (deprecated aliases) is kept: upstream writes it to the processing file.
MODULE_HOOKS = ("__getattr__",)


def drop_unused(gathered: GatheredModule, merged: MergedModule) -> GatheredModule:
    """`gathered` without the top-level definitions no class of the modular file needs (see above);
    W330 for each dropped modular statement that runs code."""
    definitions = list(gathered.definitions)
    modular = {id(statement.node): statement for statement in merged.statements}
    kept = reached(definitions, roots(definitions, modular, gathered.exports or ()))
    dropped = [d for index, d in enumerate(definitions) if index not in kept]
    parsed = merged.renamed.resolved.parsed
    for definition in dropped:
        statement = modular.get(id(definition.node))
        if statement is not None:
            effect = effect_of(statement.origin)
            if effect:
                drift(parsed, statement.origin, "W330", f"{describe(statement)} is dropped: {effect}")
    definitions = attached([d for index, d in enumerate(definitions) if index in kept])
    return dataclasses.replace(gathered, definitions=tuple(definitions))


def attached(definitions: Sequence[Definition]) -> list[Definition]:
    """Each assignment into a variable (`X[k] = v`) named as upstream names it (by its code), and made
    a use of the definition of `X`, so that it goes wherever `X` goes, after it."""
    providers = {name: index for index, d in enumerate(definitions) for name in d.defines}
    out = list(definitions)
    for index, definition in enumerate(definitions):
        target = assigned_into(definition.node)
        if target is None or definition.defines or target not in providers:
            continue
        name = code_of(definition.node).strip()
        out[index] = dataclasses.replace(definition, defines=(name,), name=name)
        owner = out[providers[target]]
        out[providers[target]] = dataclasses.replace(owner, uses=tuple(sorted({*owner.uses, name})))
    return out


def roots(
    definitions: Sequence[Definition], modular: Mapping[int, ModularStatement], exports: Iterable[str]
) -> set[int]:
    """What upstream writes whatever uses it: the modular file's classes, the module hooks, the names
    `__all__` lists, guarded imports (`if is_torch_available(): import torch`), docstring and imports."""
    listed = set(exports) | set(MODULE_HOOKS)
    found = set()
    for index, definition in enumerate(definitions):
        own_class = definition.kind is DefinitionKind.CLASS and id(definition.node) in modular
        if own_class or definition.kind in NOT_PLACED or set(definition.defines) & listed:
            found.add(index)
        elif is_import_block(definition.node):
            found.add(index)
    return found


def reached(definitions: Sequence[Definition], start: set[int]) -> set[int]:
    """`start` and every definition it uses, transitively; a statement that assigns into a variable
    (`X[k] = v`, `X.a = v`) is reached with that variable."""
    providers: dict[str, list[int]] = {}
    for index, definition in enumerate(definitions):
        for name in definition.defines:
            providers.setdefault(name, []).append(index)
    followers: dict[int, list[int]] = {}
    for index, definition in enumerate(definitions):
        target = assigned_into(definition.node)
        if target is not None and not definition.defines:
            for provider in providers.get(target, ()):
                followers.setdefault(provider, []).append(index)
    found = set(start)
    stack = list(found)
    while stack:
        index = stack.pop()
        nexts = [p for name in definitions[index].uses for p in providers.get(name, ())]
        for other in [*nexts, *followers.get(index, ())]:
            if other not in found:
                found.add(other)
                stack.append(other)
    return found


def assigned_into(node: cst.BaseStatement) -> str | None:
    """`X` for `X[...] = v` or `X.attr = v` (one target), else None."""
    if not (isinstance(node, cst.SimpleStatementLine) and len(node.body) == 1):
        return None
    small = node.body[0]
    if not isinstance(small, cst.Assign) or len(small.targets) != 1:
        return None
    target = small.targets[0].target
    if isinstance(target, (cst.Subscript, cst.Attribute)) and isinstance(target.value, cst.Name):
        return target.value.value
    return None


def is_import_block(node: cst.BaseStatement) -> bool:
    """`if <test>:` whose body only imports (a guarded import: it goes with the imports)."""
    if not isinstance(node, cst.If) or not isinstance(node.body, cst.IndentedBlock):
        return False
    return all(
        isinstance(line, cst.SimpleStatementLine)
        and all(isinstance(s, (cst.Import, cst.ImportFrom)) for s in line.body)
        for line in node.body.body
    )


def effect_of(node: cst.BaseStatement) -> str:
    """Why executing `node` could do more than bind names ("" when it cannot): the calls it makes
    when it runs, its decorators, or a statement that is no definition."""
    if isinstance(node, (cst.FunctionDef, cst.ClassDef)):
        if node.decorators:
            return f"its decorator @{code_of(node.decorators[0].decorator).strip()} no longer runs"
        calls = impure_calls(definition_time_parts(node))
    elif isinstance(node, cst.SimpleStatementLine) and all(
        isinstance(small, (cst.Assign, cst.AnnAssign, cst.AugAssign)) for small in node.body
    ):
        calls = impure_calls(node.body)
    elif isinstance(node, cst.SimpleStatementLine) and all(is_constant_expression(s) for s in node.body):
        return ""
    else:
        return "the statement no longer runs"
    return f"the call {calls[0]}(...) no longer runs" if calls else ""


def definition_time_parts(node: cst.FunctionDef | cst.ClassDef) -> list[cst.CSTNode]:
    """What a def or class statement evaluates when it runs (its body, for a class)."""
    if isinstance(node, cst.ClassDef):
        return [*node.bases, *node.keywords, node.body]
    params = node.params
    return [p.default for p in (*params.posonly_params, *params.params, *params.kwonly_params) if p.default]


def impure_calls(nodes: Iterable[cst.CSTNode]) -> list[str]:
    """Names of the calls `nodes` make when they run (lambda and function bodies aside), but PURE_CALLS."""
    found: list[str] = []
    stack = list(nodes)
    while stack:
        node = stack.pop(0)
        if isinstance(node, (cst.Lambda, cst.FunctionDef)):
            continue
        if isinstance(node, cst.Call):
            name = get_full_name_for_node(node.func) or code_of(node.func).strip()
            if name not in PURE_CALLS:
                found.append(name)
        stack.extend(node.children)
    return found


def is_constant_expression(small: cst.BaseSmallStatement) -> bool:
    """A bare string or number on its own line (`"notes"`, `...`): evaluating it does nothing."""
    if isinstance(small, cst.Pass):
        return True
    return isinstance(small, cst.Expr) and isinstance(
        small.value, (cst.SimpleString, cst.ConcatenatedString, cst.Integer, cst.Float, cst.Ellipsis)
    )


def describe(statement: ModularStatement) -> str:
    """`function helper, which no class uses,`, `` `X = f()`, which no class uses, `` or the statement."""
    node = statement.origin
    if isinstance(node, cst.FunctionDef):
        return f"function {node.name.value}, which no class uses,"
    text = code_of(node).strip().splitlines()[0] if code_of(node).strip() else ""
    text = f"`{text if len(text) <= 60 else text[:57] + '...'}`"
    names = bound_names([node])
    return f"{text}, whose {', '.join(sorted(names))} no class uses," if names else f"{text} (no class needs it)"
