"""`def forward(self, extra, **super_kwargs)`: an override that inherits the base signature and adds to it.

The merged signature is what Python's binding allows. With keyword-only new parameters
(`def forward(self, *, scale=1.0, **super_kwargs)`, the usual form) it is the base signature with
them added after the base's keyword-only parameters: positional calls then reach the base's
parameters, which Python would refuse (a superset of the modular code's calls, each behaving the
same). New regular parameters take positional arguments first, as in Python, and the base's
parameters, which only **super_kwargs can pass, become keyword-only. Defaults are kept.
Inside the override, `super().forward(**super_kwargs)` then binds every base parameter to itself.
The first parameter keeps the override's spelling (`def forward(this, **super_kwargs)` gives
`def forward(this, hidden_states, ...)`), since the override's body names it so.

    base:      def forward(self, hidden_states, mask=None, **kwargs)
    modular:   def forward(self, *, scale=1.0, **super_kwargs):
                   out = super().forward(**super_kwargs)
    merged:    def forward(self, hidden_states, mask=None, *, scale=1.0, **kwargs)
    modular:   def forward(self, scale=1.0, **super_kwargs): ...
    merged:    def forward(self, scale=1.0, *, hidden_states, mask=None, **kwargs)

Refused (E208): a new parameter that repeats a base parameter, `*args` or positional-only
parameters beside `**super_kwargs`, new regular parameters over a base taking `*args`, and any use of `super_kwargs` other than
`super().<method>(**super_kwargs)`.
"""

from __future__ import annotations

from collections.abc import Iterable

import libcst as cst

from converter.diagnostics import ConversionError
from converter.merge.upstream_signature import undefined_super_kwargs, upstream_signature
from converter.read.parse import ParsedModule
from converter.syntax.names import CollectMentions

SUPER_KWARGS = "super_kwargs"


def uses_super_kwargs(function: cst.FunctionDef) -> bool:
    star = function.params.star_kwarg
    return isinstance(star, cst.Param) and star.name.value == SUPER_KWARGS


def is_super_kwargs_call(call: cst.Call) -> bool:
    """`super().<method>(**super_kwargs)` and nothing else."""
    if len(call.args) != 1:
        return False
    arg = call.args[0]
    return arg.star == "**" and isinstance(arg.value, cst.Name) and arg.value.value == SUPER_KWARGS


def merge_signature(
    function: cst.FunctionDef, base: cst.FunctionDef, parsed: ParsedModule, where: str
) -> cst.FunctionDef:
    """`function` with the base signature plus its own new parameters; raises ConversionError (E208).
    The transformers dialect merges them as upstream does (converter/merge/upstream_signature.py)."""
    if parsed.layout.upstream:
        return upstream_signature(function, base, parsed, where)
    params = function.params
    if params.posonly_params or isinstance(params.star_arg, cst.Param):
        refuse(parsed, function, f"{where} takes *args or positional-only parameters beside **super_kwargs")
    new_regular, new_kwonly = list(params.params[1:]), list(params.kwonly_params)
    base_params = base.params
    taken = {p.name.value for p in all_params(base_params)}
    for param in (*new_regular, *new_kwonly):
        if param.name.value in taken:
            refuse(parsed, param, f"{where} repeats the base parameter {param.name.value!r}")
    # the override's own first parameter (`self`, or `this`): its body names it so
    own_first = [params.params[0]] if params.params and base_params.params else []
    base_regular = list(base_params.params[len(own_first) :])
    star_arg = base_params.star_arg
    if new_regular:
        # Python binds positional arguments to the override's own parameters, and the base's reach
        # it only by keyword, through **super_kwargs: they become keyword-only
        if isinstance(star_arg, cst.Param):
            refuse(
                parsed,
                function,
                f"{where} adds positional parameters, and the base's *{star_arg.name.value} "
                "could not receive anything through **super_kwargs; make the new parameters keyword-only",
            )
        positional, kwonly = new_regular, [*base_regular, *base_params.kwonly_params, *new_kwonly]
        star_arg = cst.ParamStar() if kwonly else star_arg
    else:
        # positional calls reach the base's parameters here, where Python would refuse them: a
        # superset of the calls the modular code accepts, each of those behaving the same
        positional, kwonly = base_regular, [*base_params.kwonly_params, *new_kwonly]
        if new_kwonly and not isinstance(star_arg, (cst.Param, cst.ParamStar)):
            star_arg = cst.ParamStar()
    merged = base_params.with_changes(
        params=[strip_comma(p) for p in (*own_first, *positional)],
        kwonly_params=[strip_comma(p) for p in kwonly],
        star_arg=star_arg,
    )
    returns = function.returns if function.returns is not None else base.returns
    return function.with_changes(params=merged, returns=returns)


def check_super_kwargs_uses(function: cst.FunctionDef, parsed: ParsedModule, where: str) -> None:
    """E208 unless `super_kwargs` appears only as `super().<method>(**super_kwargs)` (the transformers
    dialect: a drift where another use is left undefined, converter/merge/upstream_signature.py)."""
    if parsed.layout.upstream:
        undefined_super_kwargs(function, parsed, where)
        return
    collector = CollectMentions()
    function.body.visit(collector)
    uses = collector.names.count(SUPER_KWARGS)
    calls = CountSuperKwargsCalls()
    function.body.visit(calls)
    if uses != calls.count or calls.count == 0:
        message = f"{where} uses super_kwargs other than in super().{function.name.value}(**super_kwargs)"
        refuse(parsed, function, message)


class CountSuperKwargsCalls(cst.CSTVisitor):
    def __init__(self) -> None:
        self.count = 0

    def visit_Call(self, node: cst.Call) -> None:
        self.count += int(is_super_kwargs_call(node))


def all_params(params: cst.Parameters) -> Iterable[cst.Param]:
    yield from (*params.posonly_params, *params.params, *params.kwonly_params)
    for star in (params.star_arg, params.star_kwarg):
        if isinstance(star, cst.Param):
            yield star


def param_names(function: cst.FunctionDef) -> frozenset[str]:
    return frozenset(param.name.value for param in all_params(function.params))


def strip_comma(param: cst.Param) -> cst.Param:
    """The parameter without its comma (the merged order places commas anew), unless a comment
    follows the comma (`x=None,  # unused`), which would be lost with it."""
    comma = param.comma
    if isinstance(comma, cst.Comma) and "#" in cst.Module([]).code_for_node(comma.whitespace_after):
        return param
    return param.with_changes(comma=cst.MaybeSentinel.DEFAULT)


def refuse(parsed: ParsedModule, node: cst.CSTNode, message: str) -> None:
    fix = "write the full signature and pass the base parameters to super() by name"
    raise ConversionError([parsed.diagnostic(node, "E208", message, fix)])
