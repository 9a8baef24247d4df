"""Transformers dialect: a merged class's bases as upstream's `replace_class_node` writes them.

Upstream writes the model base class's own bases (renamed), nothing else: the modular class's other
bases only *switch* one of them, the first base of the base class (a plain name) that shares with one
of them a partial common suffix starting with a capital letter being replaced by it. A modular base
that switches nothing comes after them (then `nn.Module` beside `GradientCheckpointingLayer` goes: W324).

    class Qwen3VLTextModel(Qwen3VLPreTrainedModel, Qwen3Model)     # Qwen3Model(Qwen3PreTrainedModel)
      -> class Qwen3VLTextModel(Qwen3VLPreTrainedModel)            # not also (..., Qwen3VLTextPreTrainedModel)

Where that writes other bases than the exact merge (converter/merge/classes/class_bases.py), the
generated class inherits from other classes than the modular one does in Python: drift W341.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import libcst as cst

from converter.diagnostics import ConversionError
from converter.dialect import drift
from converter.read.parse import ParsedModule
from converter.syntax.names import code_of, dotted_name


def switched_bases(statement: cst.ClassDef, model_arg: cst.Arg, base_class: cst.ClassDef) -> list[cst.Arg]:
    """The base class's bases, each switched for the first other base of `statement` it shares a
    capitalised partial suffix with (`Qwen3VLTextPreTrainedModel` -> `Qwen3VLPreTrainedModel`), then the
    other bases not among them."""
    others = [arg for arg in statement.bases if arg is not model_arg and arg.keyword is None]
    bases: list[cst.Arg] = []
    for arg in base_class.bases:
        if arg.keyword is not None:
            continue
        if isinstance(arg.value, cst.Name):
            for other in others:
                suffix = common_partial_suffix(arg.value.value, dotted_name(other.value) or code_of(other.value))
                if suffix and suffix[0].isupper():
                    arg = arg.with_changes(value=other.value)
                    break
        bases.append(arg.with_changes(comma=cst.MaybeSentinel.DEFAULT))
    switched = {code_of(arg.value) for arg in bases}
    for other in others:  # a modular base that switched nothing comes after them (sam2's GradientCheckpointingLayer)
        if code_of(other.value) not in switched:
            switched.add(code_of(other.value))
            bases.append(other.with_changes(comma=cst.MaybeSentinel.DEFAULT))
    return bases


def common_partial_suffix(first: str, second: str) -> str:
    """The longest common suffix of base `first` and modular base `second`, "" when it is the whole of
    `second` (`first` may end `second`: embedding_gemma2's OmniModalProcessorMixin switches
    Gemma4Processor's ProcessorMixin)."""
    size = 0
    while size < min(len(first), len(second)) and first[-1 - size] == second[-1 - size]:
        size += 1
    suffix = first[len(first) - size :]
    return "" if suffix == second else suffix


def upstream_bases(
    parsed: ParsedModule,
    statement: cst.ClassDef,
    model_arg: cst.Arg,
    base_class: cst.ClassDef,
    exact: Callable[[], list[cst.Arg]],
    tidy: Callable[[list[cst.Arg]], list[cst.Arg]] = list,
    descends: Callable[[str, str], bool] | None = None,
) -> list[cst.Arg]:
    """Upstream's bases for `statement` merged into `base_class`, `tidy` applied (upstream_classes.py drops
    `nn.Module` beside `GradientCheckpointingLayer`); W341 where they are not `exact()`'s (the
    Python-exact bases, or E215 when there are none), unless the bases left out are ancestors of a base
    kept: `descends(name, ancestor)` (the method resolution order is then the same)."""
    bases = tidy(switched_bases(statement, model_arg, base_class))
    try:
        python = names_of(tidy(exact()))
    except ConversionError:
        python = None
    written = names_of(bases)
    if python != written and not same_order(python, written, descends):
        drift(parsed, model_arg, "W341", bases_message(statement, model_arg, written, python))
    return bases


def same_order(python: list[str] | None, written: list[str], descends: Callable[[str, str], bool] | None) -> bool:
    """`written` is `python` less bases that a kept base already inherits (the C3 order is the same)."""
    if python is None or descends is None:
        return False
    dropped = [base for base in python if base not in written]
    kept = [base for base in python if base in written]
    return kept == written and all(any(descends(base, gone) for base in written) for gone in dropped)


def names_of(bases: Sequence[cst.Arg]) -> list[str]:
    return [code_of(arg.value) for arg in bases]


def bases_message(statement: cst.ClassDef, model_arg: cst.Arg, written: list[str], python: list[str] | None) -> str:
    """`X(A)` is written with upstream's bases; what Python's class inherits besides."""
    name, merged = statement.name.value, code_of(model_arg.value)
    head = f"{name} is written {name}({', '.join(written)}), {merged}'s bases switched for the modular bases"
    if python is None:
        return f"{head}, where Python's class inherits {merged} itself"
    dropped = [base for base in python if base not in written]
    if dropped:
        return (
            f"{head}: it leaves out {merged}'s own bases, which Python's class inherits through {merged} "
            f"({', '.join(dropped)} in a Python-exact merge)"
        )
    return f"{head}, where Python's method resolution order is ({', '.join(python)})"
