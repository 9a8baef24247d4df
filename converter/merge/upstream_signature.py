"""`**super_kwargs` as upstream merges it (transformers dialect, W325 super-kwargs).

Upstream's `replace_class_node` gives an override written `def f(self, ..., **super_kwargs)` the
base method's regular parameters, in their order, with the override's regular parameters (its
first aside) replacing those of the same name in place and the others appended; the override's
positional-only, `*args` and keyword-only parameters; and the base's `**kwargs` (or none):

    base:      def forward(self, hidden_states, mask=None, *, cache=None, **kwargs)
    modular:   def forward(self, scale=1.0, *, extra=None, **super_kwargs)
    upstream:  def forward(self, hidden_states, mask=None, scale=1.0, *, extra=None, **kwargs)

Each parameter keeps the comma written after it: an override parameter written before
`**super_kwargs` keeps its comma, which is a trailing comma when the base has no `**kwargs`, and ruff
then writes one parameter per line (upstream's llava_next_video `__init__`).

As Python, the override binds positional arguments to its own parameters, and every base parameter
by keyword through `**super_kwargs`. `super_signature_drifts` says where the two differ; a
positional call the modular code refuses and the generated code accepts is no drift (the calls the
modular code accepts behave the same).
"""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from converter.dialect import drift
from converter.merge.upstream_calls import is_call_to_super
from converter.read.parse import ParsedModule
from converter.syntax.names import CollectMentions

SUPER_KWARGS = "super_kwargs"


def upstream_signature(
    function: cst.FunctionDef, base: cst.FunctionDef, parsed: ParsedModule, where: str
) -> cst.FunctionDef:
    """`function` with upstream's merged signature (see the module docstring); one W325 drift for the
    first difference from what Python binds."""
    own, base_params = function.params, base.params
    merged = {param.name.value: param for param in base_params.params}
    merged.update((param.name.value, param) for param in own.params[1:])
    params = own.with_changes(params=list(merged.values()), star_kwarg=base_params.star_kwarg)
    why = next(super_signature_drifts(function, base), None)
    if why is not None:
        drift(
            parsed, function, "W325", f"{where} merges the base signature into **super_kwargs as upstream does: {why}"
        )
    returns = function.returns if function.returns is not None else base.returns
    return function.with_changes(params=params, returns=returns)


def super_signature_drifts(function: cst.FunctionDef, base: cst.FunctionDef) -> Iterator[str]:
    """Why upstream's merged signature binds a call the modular override accepts otherwise."""
    own, base_params = function.params, base.params
    if not own.params and not own.posonly_params:
        yield (
            "as Python the override takes no positional parameter, not even the instance: every call through an "
            "instance raises TypeError"
        )
        return
    base_regular = [param.name.value for param in base_params.params]
    own_regular = [param.name.value for param in own.params]
    merged = list(dict.fromkeys([*base_regular, *own_regular[1:]]))
    for index, name in enumerate(own_regular[1:], start=1):
        if merged.index(name) != index:
            taken = merged[index]
            yield (
                f"its parameter {name!r} takes the positional argument {index} in Python, which the generated "
                f"signature gives to {taken!r}"
            )
            return
    lost = [p.name.value for p in (*base_params.posonly_params, *base_params.kwonly_params)]
    lost = [name for name in lost if name not in {p.name.value for p in (*own.params, *own.kwonly_params)}]
    if isinstance(base_params.star_arg, cst.Param):
        lost.append(f"*{base_params.star_arg.name.value}")
    if lost:
        yield f"the base's parameter {lost[0]!r} is left out, which Python passes on through **super_kwargs"
        return
    repeated = sorted({p.name.value for p in own.kwonly_params} & set(base_regular))
    if repeated:
        yield f"{repeated[0]!r} is both a base parameter and a keyword-only parameter of the override"


def undefined_super_kwargs(function: cst.FunctionDef, parsed: ParsedModule, where: str) -> None:
    """W325 where `super_kwargs` is read other than in `super().<method>(**super_kwargs)` statements
    upstream unrolls: the generated method names the base's `**kwargs` instead, so it is undefined."""
    if not isinstance(function.body, cst.IndentedBlock):
        return
    name = function.name.value
    for statement in function.body.body:
        if is_call_to_super(statement, name):
            continue
        collector = CollectMentions()
        statement.visit(collector)
        found = next((node for node in collector.nodes if node.value == SUPER_KWARGS), None)
        if found is not None:
            message = f"{where} reads super_kwargs outside a super().{name}(...) statement upstream unrolls: it is undefined in the generated method"
            drift(parsed, found, "W325", message)
            return
