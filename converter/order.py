"""Definition order of a transformers tree (converter/layout.py): the modular file's order, each pulled
base definition just before the first definition that needs it.

The repository orders a generated file like its main base (trace.py); upstream's converter keeps
the modular file's order instead, inserting what is pulled from the bases (helpers, classes the
modular file does not mention) depth-first before their first user, in base order among
themselves. Only the order changes: every definition still comes after what it needs at import
time, since pulled definitions never need modular ones that follow them (those are new names).

    modular:  MistralMLP, MistralAttention, MistralDecoderLayer
    tree:     MistralMLP, rotate_half, apply_rotary_pos_emb, ..., MistralAttention, MistralRMSNorm, ...
"""

from __future__ import annotations

import dataclasses

from converter.gather import GatheredModule
from converter.merge import MergedModule
from converter.split import NOT_PLACED


def order_like_upstream(gathered: GatheredModule, merged: MergedModule) -> GatheredModule:
    """`gathered` with its definitions in modular order, pulled ones before their first user."""
    definitions = list(gathered.definitions)
    placeable = [index for index, d in enumerate(definitions) if d.kind not in NOT_PLACED]
    modular_ids = {id(statement.node): rank for rank, statement in enumerate(merged.statements)}
    modular = sorted(
        (i for i in placeable if id(definitions[i].node) in modular_ids),
        key=lambda i: modular_ids[id(definitions[i].node)],
    )
    if not modular:
        return gathered
    is_modular = set(modular)
    provider: dict[str, int] = {}
    for index in placeable:
        for name in definitions[index].defines:
            provider.setdefault(name, index)
    out: list[int] = []
    done: set[int] = set()

    def visit(index: int) -> None:
        if index in done:
            return
        done.add(index)
        needed = {provider[name] for name in definitions[index].uses if name in provider} - {index}
        for dependency in sorted(needed - is_modular):
            visit(dependency)
        out.append(index)

    for index in modular:
        visit(index)
    for index in placeable:
        visit(index)
    slots, placed = iter(out), set(placeable)
    reordered = [definitions[next(slots)] if index in placed else d for index, d in enumerate(definitions)]
    return dataclasses.replace(gathered, definitions=tuple(reordered))
