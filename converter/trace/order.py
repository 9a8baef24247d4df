"""Definition order of a transformers tree (converter/layout.py): the modular file's classes in its
order, each preceded by what it needs that is not placed yet, in upstream's relative order.

The repository orders a generated file like its main base (trace.py); upstream's converter keeps
the modular file's class order instead. Before each class come the definitions it needs,
transitively: pulled from the bases, or the modular file's own functions and assignments (which
upstream does not place in modular order). A merged class orders them by their position in the
file of its base class, the modular file's own after them, a class among them right after its
own dependencies (see relative_order). Only the order changes: every definition still comes
after what it needs at import time.

    modular:  MistralMLP, MistralAttention, MistralDecoderLayer
    tree:     MistralMLP, rotate_half, apply_rotary_pos_emb, ..., MistralAttention, MistralRMSNorm, ...
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence

import libcst as cst

from converter.layout import file_kind, stem_of
from converter.merge.merge import MergedModule, is_import_line
from converter.read.gather import NOT_PLACED, Definition, DefinitionKind, GatheredModule
from converter.rename.namespace import BaseNamespace
from converter.syntax.names import bound_names
from converter.trace.definition_time import CollectDefinitionTimeNames

#: The assignments upstream writes first in a generated file (its VARIABLES_AT_THE_BEGINNING).
AT_THE_BEGINNING = ("logger", "_CHECKPOINT_FOR_DOC", "_CONFIG_FOR_DOC")


def order_like_upstream(gathered: GatheredModule, merged: MergedModule) -> GatheredModule:
    """`gathered` with its classes in modular order, what they need (pulled, or the modular file's own
    functions and assignments) before its first user; first, in the transformers dialect, upstream's
    AT_THE_BEGINNING assignments (`logger`), in the repository's tree the modular file's used
    assignments that need nothing defined here."""
    definitions = list(gathered.definitions)
    placeable = [index for index, d in enumerate(definitions) if d.kind not in NOT_PLACED]
    modular_ids = modular_ranks(merged)
    modular = sorted(
        (i for i in placeable if id(definitions[i].node) in modular_ids),
        key=lambda i: modular_ids[id(definitions[i].node)],
    )
    if not modular:
        return gathered
    # upstream places the modular file's classes in its order; its functions and assignments are
    # placed like pulled definitions, before the first class that needs them (unused ones last)
    anchors = [i for i in modular if definitions[i].kind is DefinitionKind.CLASS]
    is_modular = set(anchors)
    provider: dict[str, int] = {}
    variants: dict[tuple[str, str], int] = {}  # (name, file kind) -> the variant files of that kind get
    for index in placeable:
        for name in definitions[index].defines:
            if definitions[index].variant is None:
                provider.setdefault(name, index)
            else:
                variants.setdefault((name, definitions[index].variant), index)
    variant_kinds = {kind for _, kind in variants}
    out: list[int] = []
    done: set[int] = set()

    # what the modular file itself names: its own definitions and what it imports from base models;
    # upstream does not place a name a class of its own only reads as a global
    # before that class (a forward reference, flagged F821): it comes where what uses it is placed
    visible = bound_names([s.origin for s in merged.statements if not is_import_line(s.origin)])
    visible |= {target for alias in merged.renamed.aliases if (target := merged.renamed.target(alias))}
    unmerged = {id(statement.node) for statement in merged.statements if statement.base is None}
    own_names = {name for index in modular for name in definitions[index].defines}
    upstream = merged.renamed.resolved.parsed.layout.upstream
    # the renamed name of each explicit base import -> the model it is imported from
    imported = {
        target: item.model
        for alias, item in merged.renamed.aliases.items()
        if (target := merged.renamed.target(alias))
    }

    read_when_defined: dict[int, frozenset[str]] = {}  # index -> definition_time_names, on first need

    def foreign_class(name: str, index: int, mapper: BaseNamespace) -> bool:
        """A pulled class that the file of merged class `index`'s base does not define: upstream's mapper
        of that file does not know it (it shares functions the modular file imports, not classes), so
        it is not placed before `index`, unless `index` reads it when it is defined."""
        dependency = provider.get(name)
        if dependency is None or definitions[dependency].kind is not DefinitionKind.CLASS:
            return False
        if name in own_names or mapper.definition(name) is not None:
            return False
        if index not in read_when_defined:
            read_when_defined[index] = definition_time_names(definitions[index].node)
        return name not in read_when_defined[index]

    def closure(index: int, mapper: BaseNamespace | None, kind: str | None = None) -> set[int]:
        """The pulled definitions `index` needs, transitively, not placed yet. Upstream follows a
        modular function's names within the file of the class being placed (`mapper`; an assignment,
        which needs its names when the module runs, keeps them all):
        one pulled from another base file comes later, before a class of that file needing it. A
        modular function or assignment placed already is walked through for what it needs (upstream
        augments a class's dependencies with its functions' own)."""
        found: set[int] = set()
        walked: set[int] = {index}
        stack = [index]
        while stack:
            current = stack.pop()
            uses = definitions[current].uses
            own = id(definitions[current].node) in unmerged
            if current == index and own:
                uses = tuple(name for name in uses if name in visible)
            elif current == index and mapper is not None and upstream:
                uses = tuple(name for name in uses if not foreign_class(name, index, mapper))
            elif own and mapper is not None and upstream and definitions[current].kind is DefinitionKind.FUNCTION:
                uses = tuple(name for name in uses if name in own_names or mapper.definition(name) is not None)
            for name in uses:
                dependency = variants.get((name, kind or ""), provider.get(name))
                if dependency is None or dependency in is_modular or dependency in walked:
                    continue
                if dependency not in done:
                    found.add(dependency)
                # placed already: walked through when what it needs may be a variant of this kind
                elif kind not in variant_kinds and (
                    not upstream or mapper is None or id(definitions[dependency].node) not in unmerged
                ):
                    continue
                walked.add(dependency)
                stack.append(dependency)
        return found

    bases = {id(statement.node): statement.base for statement in merged.statements}
    modular_rank = {index: rank for rank, index in enumerate(modular)}
    rest = [i for i in modular if i not in is_modular] + [i for i in placeable if i not in set(modular)]
    # upstream's VARIABLES_AT_THE_BEGINNING (`logger = logging.get_logger(__name__)`, ...) go first, the
    # modular file's or pulled; its other assignments come before their first user, like pulled ones
    top = [i for i in modular if set(definitions[i].defines) & set(AT_THE_BEGINNING)] if upstream else []
    if not upstream:  # the repository's tree: the modular file's used assignments needing nothing defined here
        used = {name for index in placeable for name in definitions[index].uses}
        top = [
            i
            for i in modular
            if definitions[i].kind is DefinitionKind.ASSIGNMENT
            and set(definitions[i].defines) & used
            and not set(definitions[i].uses) & set(provider)
        ]
    top += [i for i in placeable if definitions[i].defines == ("logger",) and i not in top]  # pulled too
    for index in [*top, *anchors, *rest]:
        if index in done:
            continue
        base = bases.get(id(definitions[index].node))
        mapper = merged.renamed.namespace(base.model) if base is not None else None
        kind = definitions[index].variant or (file_kind(base.path, base.model) if base is not None else None)
        needed = relative_order(
            closure(index, mapper, kind) - {index},
            definitions,
            mapper,
            modular_rank,
            merged.renamed.namespaces if upstream else None,
            imported,
            stem_of(base.path) if upstream and base is not None else None,
        )
        out += needed
        done.update(needed)
        out.append(index)
        done.add(index)
    slots, placed = iter(out), set(placeable)
    reordered = [definitions[next(slots)] if index in placed else d for index, d in enumerate(definitions)]
    return dataclasses.replace(gathered, definitions=tuple(reordered))


def definition_time_names(node: cst.CSTNode) -> frozenset[str]:
    """The names `node` reads when its statement runs (bases, decorators, class body, defaults)."""
    collector = CollectDefinitionTimeNames("")
    node.visit(collector)
    return frozenset(read.node.value for read in collector.found)


def modular_ranks(merged: MergedModule) -> dict[int, int]:
    """id of each modular statement -> its rank in the modular file; a class or function defined twice
    (the transformers dialect keeps the last: redefined.py) ranks where it is first defined."""
    first: dict[str, int] = {}
    ranks = {}
    for rank, statement in enumerate(merged.statements):
        node = statement.node
        name = node.name.value if isinstance(node, (cst.ClassDef, cst.FunctionDef)) else None
        ranks[id(node)] = first.setdefault(name, rank) if name is not None else rank
    return ranks


def relative_order(
    needed: set[int],
    definitions: Sequence[Definition],
    mapper: BaseNamespace | None,
    modular: Mapping[int, int],
    namespaces: Sequence[BaseNamespace] | None = None,
    imported: Mapping[str, str] | None = None,
    stem: str | None = None,
) -> list[int]:
    """Upstream's order for what a merged class pulls in, by the file of the class's base (`mapper`, and
    its file `stem` in the transformers dialect: a name two files of the model define ranks where that file has it):
    each class needed comes right after its own dependencies; within each group, pulled definitions
    by their position in that file (names it does not define last, in reverse alphabetical order),
    then the modular file's own definitions (`modular`: index -> rank) in modular order. Without a
    base class: pulled definitions in the traced order (in the transformers dialect, given the base
    `namespaces`: by_source_file), then the modular file's own in modular order."""
    if mapper is None:
        own = sorted(set(needed) & set(modular), key=modular.__getitem__)
        pulled = [i for i in needed if i not in modular]
        if namespaces is None:
            return sorted(pulled) + own
        return by_source_file(pulled, definitions, namespaces, imported or {}) + own
    name = {index: definitions[index].name for index in needed}
    own = {
        index: mapper.definition_in(name[index], stem) if stem is not None else mapper.definition(name[index])
        for index in needed
    }

    def key(index: int) -> tuple[float, ...]:
        found = own[index]
        return (*found.rank, 0) if found is not None else (math.inf, math.inf, 0)

    def sort(indices: Iterable[int]) -> list[int]:
        group = list(indices)
        pulled = sorted((i for i in group if i not in modular), key=lambda index: name[index], reverse=True)
        return sorted(pulled, key=key) + sorted((i for i in group if i in modular), key=modular.__getitem__)

    classes = sorted(
        (i for i in needed if own[i] is not None and isinstance(own[i].original, cst.ClassDef)),
        key=lambda index: (index in modular, *key(index)),
    )
    out: list[int] = []
    remaining = set(needed)
    for index in classes:
        dependencies = class_dependencies(mapper, name[index])
        before = sort(i for i in remaining if name[i] in dependencies and i != index)
        out += before
        remaining -= {index, *before} if index in remaining else set(before)
        if index not in out:
            out.append(index)
    return out + sort(remaining)


def by_source_file(
    pulled: Sequence[int],
    definitions: Sequence[Definition],
    namespaces: Sequence[BaseNamespace],
    imported: Mapping[str, str],
) -> list[int]:
    """Upstream's order for what a class of the modular file's own (no base class) pulls in: grouped by
    the base file each comes from (the model the modular file imports it from, in `imported`; one
    pulled through another comes from a file already in the group, else the first defining it), the
    files in the order of their alphabetically first name, each group by position in its file
    (upstream's ModularFileMapper.compute_relative_order)."""
    ordered = sorted(pulled, key=lambda i: definitions[i].name)
    homes = {i: [ns for ns in namespaces if ns.definition(definitions[i].name) is not None] for i in ordered}
    explicit = {imported.get(definitions[i].name) for i in ordered} - {None}
    groups: dict[str, list[tuple[tuple[float, ...], int]]] = {}
    for index in ordered:
        name, candidates = definitions[index].name, homes[index]
        home = next((ns for ns in candidates if ns.model == imported.get(name)), None)
        home = home or next((ns for ns in candidates if ns.model in explicit), None)
        home = home or (candidates[0] if candidates else None)
        found = home.definition(name) if home is not None else None
        rank: tuple[float, ...] = found.rank if found is not None else (math.inf, math.inf)
        groups.setdefault(home.model if home is not None else "", []).append((rank, index))
    return [index for group in groups.values() for _, index in sorted(group)]


def class_dependencies(mapper: BaseNamespace, name: str) -> set[str]:
    """The names a definition of `mapper` needs within that model: what it uses, then what the functions
    and assignments among them use, transitively, but not what a class among them needs (upstream's
    recursive dependencies stop at classes; each class needed places its own in turn: pp_ocrv6's
    Block needs Attention, and Attention then needs eager_attention_forward)."""
    found: set[str] = set()
    stack = [name]
    while stack:
        current = stack.pop()
        definition = mapper.definition(current)
        if definition is None or (current != name and isinstance(definition.original, cst.ClassDef)):
            continue
        for use in definition.uses:
            if use not in found and mapper.definition(use) is not None:
                found.add(use)
                stack.append(use)
    return found
