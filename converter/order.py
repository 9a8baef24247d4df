"""Definition order of a transformers tree (converter/layout.py): the modular file's order, each pulled
base definition just before the first definition that needs it.

The repository orders a generated file like its main base (trace.py); upstream's converter keeps
the modular file's order instead, inserting before each modular definition everything pulled from
the bases that it needs, transitively, and that is not placed yet, in base order. Only the order changes: every definition still comes after what it needs at import
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

    def closure(index: int) -> set[int]:
        """The pulled definitions `index` needs, transitively, not placed yet."""
        found: set[int] = set()
        stack = [index]
        while stack:
            for name in definitions[stack.pop()].uses:
                dependency = provider.get(name)
                if dependency is not None and dependency not in is_modular | done | found:
                    found.add(dependency)
                    stack.append(dependency)
        return found

    for index in [*modular, *(i for i in placeable if i not in is_modular)]:
        if index in done:
            continue
        needed = sorted(closure(index) - {index})
        out += needed
        done.update(needed)
        out.append(index)
        done.add(index)
    slots, placed = iter(out), set(placeable)
    reordered = [definitions[next(slots)] if index in placed else d for index, d in enumerate(definitions)]
    return dataclasses.replace(gathered, definitions=tuple(reordered))
