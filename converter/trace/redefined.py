"""Transformers dialect: a class or function the modular file defines twice (E010 in the default dialect).

Upstream's converter keeps the modular file's classes and functions in a dict keyed by name: the
later definition replaces the earlier one, at the earlier one's place. As Python, the earlier
definition is what the statements between the two see when they run: a class between them that
subclasses the name (or a decorator naming it) gets the earlier one. W333 is recorded where such a
statement exists; otherwise the later definition is what every use sees in Python too.

    class GotOcr2PreTrainedModel(SamPreTrainedModel): ...                   # line 179
    class GotOcr2VisionEncoder(SamVisionEncoder, GotOcr2PreTrainedModel): ...  # the first one, as Python
    class GotOcr2PreTrainedModel(LlavaPreTrainedModel): ...                 # line 217, kept at line 179
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import libcst as cst

from converter.dialect import drift
from converter.merge.merge import ModularStatement
from converter.read.parse import ParsedModule
from converter.syntax.names import mentions


def one_definition_per_name(parsed: ParsedModule, statements: Sequence[ModularStatement]) -> list[ModularStatement]:
    """`statements` with each class or function defined twice kept once: the last definition, in the
    first one's place (W333 where a statement between them reads the name when it runs)."""
    first: dict[str, int] = {}
    out: list[ModularStatement | None] = list(statements)
    for index, statement in enumerate(statements):
        name = defined_name(statement.origin)
        if name is None:
            continue
        if name not in first:
            first[name] = index
            continue
        place = first[name]
        readers = [s for s in statements[place + 1 : index] if name in definition_time_names(s.origin)]
        if readers:
            reader = defined_name(readers[0].origin) or "a statement"
            message = (
                f"{name} is defined twice: the generated file keeps only this definition, in place of the one at "
                f"line {parsed.position(statements[place].origin)[0]}, which {reader} (line "
                f"{parsed.position(readers[0].origin)[0]}) uses when it is defined"
            )
            drift(parsed, statement.origin, "W333", message)
        out[place] = dataclasses.replace(statement)
        out[index] = None
    return [statement for statement in out if statement is not None]


def defined_name(node: cst.BaseStatement) -> str | None:
    return node.name.value if isinstance(node, (cst.ClassDef, cst.FunctionDef)) else None


def definition_time_names(node: cst.BaseStatement) -> frozenset[str]:
    """Names a statement reads when it runs, roughly: the bases, keywords and decorators of a class or
    function, the whole of any other statement."""
    if isinstance(node, cst.ClassDef):
        return mentions([*node.bases, *node.keywords, *node.decorators])
    if isinstance(node, cst.FunctionDef):
        return mentions(node.decorators)
    return mentions([node])
