"""Unroll `super().method(...)` calls of a modular override into the base method's body.

A call is unrolled when the base class itself defines `method`; otherwise it reaches the base
class's own bases, which the merged class keeps, so it stays a call (`super().__init__()` to
`nn.Module`, `super().post_init()` to `PreTrainedModel`). An unrolled call must be a statement
of its own at the top level of the method, or in the body of a `with` block there (the inlined body
then runs inside the block, as the call did):

    super().method(args)             -> the body; a final `return expr` is dropped (kept as `expr`
                                        when it may have side effects)
    out = super().method(args)       -> the body, its final `return expr` becoming `out = expr`
    return super().method(args)      -> the body with its returns (when nothing can follow)

Arguments are bound to the base parameters (positional, keyword, defaults): a parameter passed
the caller's variable of the same name needs nothing; one passed another variable is renamed in
the inlined body when that is provably exact (neither name is rebound there); anything else
becomes `param = argument` before the body. The inlined body must not read a module-level name
the override binds locally, nor set a local the override reads afterwards. Everything else is
refused with E203 and the reason: early returns, `*args`/`**kwargs` that cannot be bound
statically, generator or async base methods, super() in nested functions or inside expressions,
decorated base methods except where converter/merge/decorators.py shows inlining exact (the unrolled
method may then take the base's decorators). `super().__init__(...)` in `__init__` also merges the
statements after it (see converter/merge/init_merge.py); `**super_kwargs` overrides are in
converter/merge/signature.py.

In the transformers dialect (`layout.upstream`) a method's body is the one upstream's converter writes
(converter/merge/upstream_super.py: the parent's body unbound, merged with what follows the call); the
exact unroll here still runs, to say where that body means something else (converter/merge/super_drift.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import libcst as cst

from converter.diagnostics import ConversionError, Diagnostic
from converter.merge import decorators
from converter.merge.binding import Binding, bind_arguments, plan_bindings, self_name
from converter.merge.init_merge import merge_init_tail
from converter.merge.override import CallSite, Override
from converter.merge.signature import check_super_kwargs_uses, merge_signature, param_names, uses_super_kwargs
from converter.merge.super_drift import unroll_with_drifts
from converter.syntax.names import bound_names, code_of, mentions, read_visit


def super_method(call: cst.Call) -> str | None:
    """`method` for a call `super().method(...)`, else None."""
    func = call.func
    if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Call):
        inner = func.value.func
        if isinstance(inner, cst.Name) and inner.value == "super":
            return func.attr.value
    return None


class FindSuperCalls(cst.CSTVisitor):
    """Calls to a base-class method through super(), with their nesting depth inside the statement,
    and the names of those read without a call; `methods` are the names looked for."""

    def __init__(self, methods: Mapping[str, object]) -> None:
        self.methods = methods
        self.depth = 0
        self.calls: list[tuple[cst.Call, int]] = []
        self.referenced: list[str] = []  # methods read as `super().name`, not called

    @property
    def references(self) -> int:
        return len(self.referenced)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.depth += 1

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.depth -= 1

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self.depth += 1

    def leave_Lambda(self, original_node: cst.Lambda) -> None:
        self.depth -= 1

    def visit_Call(self, node: cst.Call) -> None:
        if super_method(node) in self.methods:
            self.calls.append((node, self.depth))

    def visit_Attribute(self, node: cst.Attribute) -> None:
        name = super_method(cst.Call(func=node)) if isinstance(node.value, cst.Call) else None
        if name in self.methods:
            self.referenced.append(name)


def unroll_method(function: cst.FunctionDef, override: Override) -> cst.FunctionDef:
    """`function` (an original modular node) with every super() call to the base class unrolled."""
    if not isinstance(function.body, cst.IndentedBlock):
        # `def f(self): return super().f()` on one line: the same statements, one per line.
        lines = [cst.SimpleStatementLine([small]) for small in function.body.body]
        function = function.with_changes(body=cst.IndentedBlock(body=lines))
    where = f"{override.class_name}.{function.name.value}"
    if uses_super_kwargs(function):
        base = override.base_methods.get(function.name.value)
        if base is None:
            raise ConversionError([nothing_to_extend(function, override, where)])
        check_super_kwargs_uses(function, override.parsed, where)
        signature = merge_signature(function, base, override.parsed, where)
    else:
        signature = function
    assert isinstance(function.body, cst.IndentedBlock)
    if override.parsed.layout.upstream:
        return unroll_with_drifts(function, signature, override, lambda: unroll_exactly(function, signature, override))
    return unroll_exactly(function, signature, override)


def unroll_exactly(function: cst.FunctionDef, signature: cst.FunctionDef, override: Override) -> cst.FunctionDef:
    """`signature` with the body of `function` (indented), its super() calls unrolled exactly."""
    assert isinstance(function.body, cst.IndentedBlock)
    getters = readable_properties(function, override)
    body, signature = unroll_block(list(function.body.body), (), function, signature, override, getters, nested=False)
    empty = [cst.SimpleStatementLine([cst.Pass()])]
    return signature.with_changes(body=function.body.with_changes(body=body or empty))


def unroll_block(
    statements: list[cst.BaseStatement],
    after: tuple[cst.BaseStatement, ...],
    function: cst.FunctionDef,
    signature: cst.FunctionDef,
    override: Override,
    getters: Mapping[str, cst.BaseExpression],
    nested: bool,
) -> tuple[list[cst.BaseStatement], cst.FunctionDef]:
    """(`statements` with their super() calls unrolled, the signature as the inlining leaves it);
    `after` is what runs after the block in `function`; `nested` for a `with` block's body."""
    body: list[cst.BaseStatement] = []
    for index, statement in enumerate(statements):
        following = (*statements[index + 1 :], *after)
        if isinstance(block := calling_with_block(statement, override), cst.With):
            inner, signature = unroll_block(
                list(block.body.body), following, function, signature, override, getters, nested=True
            )
            body.append(block.with_changes(body=block.body.with_changes(body=inner)))
            continue
        site = call_site(statement, index, function, override, getters, following, nested)
        if site is None:
            body.append(inline_property_reads(statement, getters))
            continue
        merges_init = site.method == "__init__" == function.name.value and isinstance(site.small, cst.Expr)
        if merges_init and nested:
            fix = "call super().__init__(...) at the top level of __init__"
            raise override.refuse(site.call, site.what, "it is inside a with block", fix)
        assignments, inlined, adopted = inline_call(site, signature, override)
        if adopted is not None:
            signature = signature.with_changes(decorators=adopted)
        if merges_init:
            post = statements[index + 1 :]
            check_no_more_calls(post, index + 1, function, override)
            inlined = merge_init_tail(inlined, post, self_name(function), override)
        body += with_leading_lines(statement, [*assignments, *inlined])
        if merges_init:
            break
    return body, signature


def calling_with_block(statement: cst.BaseStatement, override: Override) -> cst.With | None:
    """`statement` when it is a plain (not async) `with` block that calls super() only in its body."""
    if not isinstance(statement, cst.With) or statement.asynchronous is not None:
        return None
    if not isinstance(statement.body, cst.IndentedBlock):
        return None
    in_items = FindSuperCalls(override.base_methods)
    for item in statement.items:
        read_visit(item, in_items)
    in_body = FindSuperCalls(override.base_methods)
    read_visit(statement.body, in_body)
    if in_items.calls or in_items.references or not in_body.calls:
        return None
    return statement


def nothing_to_extend(function: cst.FunctionDef, override: Override, where: str) -> Diagnostic:
    """E208 for `**super_kwargs` over a method the base class does not define itself (a config
    whose constructor its fields make, say); passing `self` to super() again is the usual slip."""
    name = function.name.value
    message = f"{where} extends {override.base_class}.{name} with **super_kwargs, but {override.base_class} defines no {name}"
    fix = "write the full signature"
    finder = FindSuperCalls({name: None})
    read_visit(function.body, finder)
    for call, _ in finder.calls:
        first = call.args[0] if call.args else None
        if first is not None and first.keyword is None and code_of(first.value) == self_name(function):
            fix += f", and do not pass {self_name(function)} to super().{name}(): it passes it already"
            break
    return override.parsed.diagnostic(function, "E208", message, fix)


def readable_properties(function: cst.FunctionDef, override: Override) -> Mapping[str, cst.BaseExpression]:
    """The base properties whose reads, `super().name`, in `function` become the expression the
    getter returns (parenthesized): exact when the getter is `@property` with a body of one
    `return <expr>`, both methods spell `self` alike, and the expression reads no module-level
    name `function` binds locally. `super()` in the expression still reaches the base's own bases,
    which the merged class keeps. The reads must also be in the method itself (not in a nested
    function): `call_site` refuses any other read with the reason."""
    if self_name(function) != "self":
        return {}
    local = param_names(function) | bound_names(suite(function.body))
    getters = {}
    for name, base in override.base_methods.items():
        getter = property_getter(base)
        if getter is not None and self_name(base) == "self" and not (mentions([getter]) - {"self"}) & local:
            getters[name] = getter
    return getters


def inline_property_reads(
    statement: cst.BaseStatement, getters: Mapping[str, cst.BaseExpression]
) -> cst.BaseStatement:
    """`statement` with its reads of the base properties in `getters` replaced (see readable_properties);
    the very node when it reads none."""
    finder = FindSuperCalls(getters)
    read_visit(statement, finder)
    return statement.visit(InlinePropertyReads(getters)) if finder.referenced else statement


def property_getter(base: cst.FunctionDef) -> cst.BaseExpression | None:
    """The expression a base `@property` returns, when its body is `return <expr>` alone."""
    decorators = [decorator.decorator for decorator in base.decorators]
    if len(decorators) != 1 or not (isinstance(decorators[0], cst.Name) and decorators[0].value == "property"):
        return None
    body = [statement for statement in strip_docstring(base.body) if not is_pass(statement)]
    if len(body) != 1 or not isinstance(body[0], cst.SimpleStatementLine) or len(body[0].body) != 1:
        return None
    small = body[0].body[0]
    return small.value if isinstance(small, cst.Return) and small.value is not None else None


class InlinePropertyReads(cst.CSTTransformer):
    """`super().name` -> `(<getter expression>)` outside nested functions, lambdas and classes."""

    def __init__(self, getters: Mapping[str, cst.BaseExpression]) -> None:
        self.getters = getters
        self.depth = 0
        self.left = 0  # reads of super() attributes that stay

    @classmethod
    def left_in(cls, statement: cst.BaseStatement, getters: Mapping[str, cst.BaseExpression]) -> int:
        """How many `super().name` reads in `statement` would stay."""
        transformer = cls(getters)
        statement.visit(transformer)
        return transformer.left

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.depth += 1

    def leave_FunctionDef(self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef) -> cst.FunctionDef:
        self.depth -= 1
        return updated_node

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self.depth += 1

    def leave_Lambda(self, original_node: cst.Lambda, updated_node: cst.Lambda) -> cst.Lambda:
        self.depth -= 1
        return updated_node

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.depth += 1

    def leave_ClassDef(self, original_node: cst.ClassDef, updated_node: cst.ClassDef) -> cst.ClassDef:
        self.depth -= 1
        return updated_node

    def leave_Attribute(self, original_node: cst.Attribute, updated_node: cst.Attribute) -> cst.BaseExpression:
        name = super_method(cst.Call(func=original_node)) if isinstance(original_node.value, cst.Call) else None
        if name is None:
            return updated_node
        getter = self.getters.get(name) if not self.depth and not original_node.value.args else None
        if getter is None:  # in a nested scope, super(C, self).name, or not a readable property
            self.left += 1
            return updated_node
        return getter.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])


def unreadable_reference(
    statement: cst.BaseStatement, override: Override, getters: Mapping[str, cst.BaseExpression] | None
) -> tuple[str, str]:
    """(why, fix) for a `super().name` read that cannot be replaced (see readable_properties)."""
    finder = FindSuperCalls(override.base_methods)
    read_visit(statement, finder)
    name = next((name for name in finder.referenced if name not in (getters or {})), finder.referenced[0])
    base = override.base_methods.get(name)
    if base is None or property_getter(base) is None:
        why = "it is referenced without being called"
        if base is not None and any(
            isinstance(d.decorator, cst.Name) and d.decorator.value == "property" for d in base.decorators
        ):
            why = f"{override.base_class}.{name} is a property whose body is more than one `return <expr>`"
        return why, "call the method: super().method(...), or read the base property's body into this one"
    return (
        f"the base property {name} cannot be read here exactly (it is in a nested function, `self` is spelled "
        "otherwise, or the property reads a module-level name this method binds locally)",
        "read it in the method body itself, as `self`, without shadowing the names it reads",
    )


def check_no_more_calls(
    post: Sequence[cst.BaseStatement], start: int, function: cst.FunctionDef, override: Override
) -> None:
    for offset, statement in enumerate(post):
        site = call_site(statement, start + offset, function, override)
        if site is not None:
            why = "it follows super().__init__(), whose tail is merged"
            raise override.refuse(site.call, site.what, why, "call it before super().__init__()")


def call_site(
    statement: cst.BaseStatement,
    index: int,
    function: cst.FunctionDef,
    override: Override,
    getters: Mapping[str, cst.BaseExpression] | None = None,
    after: tuple[cst.BaseStatement, ...] | None = None,
    nested: bool = False,
) -> CallSite | None:
    """The unrollable super() call of a body statement, None when it has none (reads of the base
    properties in `getters` aside, which `inline_property_reads` replaces); E203 when misplaced."""
    finder = FindSuperCalls(override.base_methods)
    read_visit(statement, finder)
    if not finder.calls:
        if finder.references and (not getters or InlinePropertyReads.left_in(statement, getters)):
            raise override.refuse(statement, "super().method", *unreadable_reference(statement, override, getters))
        return None
    call, depth = finder.calls[0]
    what = f"super().{super_method(call)}() in {function.name.value}"
    if depth:
        raise override.refuse(call, what, "it is inside a nested function", "call it from the method body itself")
    small = direct_statement(statement, call)
    if small is None or len(finder.calls) > 1 or finder.references > len(finder.calls):
        fix = "make the call a statement of its own: `out = super().method(...)`, then use `out`"
        raise override.refuse(call, what, "it is part of an expression or a block", fix)
    check_super_arguments(call, override, what)
    method = super_method(call)
    assert method is not None
    if after is None:
        after = tuple(function.body.body[index + 1 :]) if isinstance(function.body, cst.IndentedBlock) else ()
    return CallSite(statement, small, call, method, index, function, after, nested)


def direct_statement(statement: cst.BaseStatement, call: cst.Call) -> cst.BaseSmallStatement | None:
    """The small statement when it is `call`, `x = call`, `x: T = call` or `return call`."""
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return None
    small = statement.body[0]
    if isinstance(small, (cst.Expr, cst.Assign, cst.AnnAssign, cst.Return)) and small.value is call:
        return small
    return None


def check_super_arguments(call: cst.Call, override: Override, what: str) -> None:
    """super() or super(ThisClass, self) only."""
    assert isinstance(call.func, cst.Attribute) and isinstance(call.func.value, cst.Call)
    args = call.func.value.args
    names = [arg.value.value if isinstance(arg.value, cst.Name) else "" for arg in args]
    if args and (len(args) != 2 or names[0] != override.class_name):
        raise override.refuse(call, what, "super() names another class", "write super() without arguments")


def inline_call(
    site: CallSite, signature: cst.FunctionDef, override: Override
) -> tuple[list[cst.BaseStatement], list[cst.BaseStatement], list[cst.Decorator] | None]:
    """(argument bindings, the base body fitted to the call's statement, the unrolled method's
    decorators when they change) that replace `site`."""
    base = override.base_methods[site.method]
    check_inlinable(base, site, override)
    body = [s for s in strip_docstring(base.body) if not is_pass(s)]
    bindings: Sequence[Binding] = bind_arguments(site, base, signature, override)
    adopted, contexts = judge_decorators(site, signature, base, bindings, override)
    plan = plan_bindings(bindings, body, base, self_name(base), self_name(site.function))
    check_hygiene(site, signature, body, plan.assigned, override)
    body = resolve_returns(site, plan.apply(body), override)
    if contexts:
        items = [cst.WithItem(context) for context in contexts]
        body = [cst.With(items=items, body=cst.IndentedBlock(body=body))]
    return list(plan.assignments), body, adopted


def judge_decorators(
    site: CallSite, signature: cst.FunctionDef, base: cst.FunctionDef, bindings: Sequence[Binding], override: Override
) -> tuple[list[cst.Decorator] | None, tuple[cst.BaseExpression, ...]]:
    """(the unrolled method's decorators when the base's join them, the context managers the inlined
    body runs in); E203 when the base's decorators forbid inlining."""
    if not base.decorators:
        return None, ()
    own = list(signature.decorators)
    same_method = site.method == site.function.name.value
    through = same_method and passes_through(site, signature, base, bindings)
    source = f"{override.base_class}.{site.method}"
    verdict = decorators.judge(base, own, through, source)
    if verdict.refusal is not None and same_method and discards_the_result(site, base):
        why = f"it discards the value {source} returns, so the override returns None"
        fix = f"write `return super().{site.method}(...)`, or override the whole method"
        raise override.refuse(site.call, site.what, why, fix)
    if verdict.refusal is not None:
        why, fix = verdict.refusal
        if fix == decorators.INLINE_FIX:
            fix = pass_through_fix(site, base, source)
        raise override.refuse(site.call, site.what, why, fix)
    if not same_method:
        return None, verdict.contexts
    if through:
        return decorators.merged_decorators(own, base.decorators), verdict.contexts
    documentation = [d for d in base.decorators if decorators.is_documentation(d)]
    return (None if own else documentation), verdict.contexts


def pass_through_fix(site: CallSite, base: cst.FunctionDef, source: str) -> str:
    """The one form that keeps a decorated base's decorators: the override of the same method with
    the base's parameters (defaults included), whose only statement hands them on unchanged."""
    params = base.params
    if isinstance(params.star_arg, cst.Param) or params.posonly_params:
        return f"override the whole method ({source} takes *args or positional-only parameters)"
    arguments = [p.name.value for p in params.params[1:]]
    arguments += [f"{p.name.value}={p.name.value}" for p in params.kwonly_params]
    if isinstance(params.star_kwarg, cst.Param):
        arguments.append(f"**{params.star_kwarg.name.value}")
    call = f"return super().{site.method}({', '.join(arguments)})"
    signature = code_of(params).strip()
    if site.method != site.function.name.value:
        return f"override the whole method; only {site.method} itself may reach {source}, as `{call}` alone"
    return f"override the whole method, or give it {source}'s parameters `({signature})` and make `{call}` its only statement"


def discards_the_result(site: CallSite, base: cst.FunctionDef) -> bool:
    """The override is `super().method(...)` alone, as a statement, and the base returns a value."""
    statements = strip_docstring(site.function.body)
    if len(statements) != 1 or statements[0] is not site.statement or not isinstance(site.small, cst.Expr):
        return False
    final = final_return(strip_docstring(base.body))
    return final is not None and final.value is not None


def passes_through(
    site: CallSite, signature: cst.FunctionDef, base: cst.FunctionDef, bindings: Sequence[Binding]
) -> bool:
    """The override is `return super().method(...)` alone, handing its own parameters on unchanged."""
    statements = strip_docstring(site.function.body)
    if len(statements) != 1 or statements[0] is not site.statement or not isinstance(site.small, cst.Return):
        return False
    return all(item.value is None for item in bindings) and parameter_shape(signature) == parameter_shape(base)


def parameter_shape(function: cst.FunctionDef) -> tuple[tuple[str, str, str], ...]:
    """Kind, name and default of each parameter after the first (annotations aside)."""
    params = function.params
    kinds = [
        *(("positional", p) for p in [*params.posonly_params, *params.params][1:]),
        *(("*", p) for p in [params.star_arg] if isinstance(p, cst.Param)),
        *(("keyword", p) for p in params.kwonly_params),
        *(("**", p) for p in [params.star_kwarg] if isinstance(p, cst.Param)),
    ]
    return tuple((kind, p.name.value, code_of(p.default) if p.default else "") for kind, p in kinds)


def check_inlinable(base: cst.FunctionDef, site: CallSite, override: Override) -> None:
    source = f"{override.base_class}.{site.method}"
    if (refused := decorators.method_kind_refusal(base, source)) is not None:
        raise override.refuse(site.call, site.what, *refused)
    if base.asynchronous is not None or contains_yield(base):
        raise override.refuse(site.call, site.what, f"{source} is async or a generator", "override the whole method")


def contains_yield(function: cst.FunctionDef) -> bool:
    finder = FindOwnNodes((cst.Yield,))
    read_visit(function.body, finder)
    return bool(finder.found)


class FindOwnNodes(cst.CSTVisitor):
    """Nodes of the given types in a function's own scope (nested functions and classes excluded)."""

    def __init__(self, types: tuple[type[cst.CSTNode], ...]) -> None:
        self.types = types
        self.found: list[cst.CSTNode] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        if isinstance(node, self.types):
            self.found.append(node)
        return not isinstance(node, (cst.FunctionDef, cst.ClassDef, cst.Lambda))


def strip_docstring(body: cst.BaseSuite) -> list[cst.BaseStatement]:
    statements = list(body.body) if isinstance(body, cst.IndentedBlock) else [cst.SimpleStatementLine(body.body)]
    first = statements[0] if statements else None
    if isinstance(first, cst.SimpleStatementLine) and len(first.body) == 1 and isinstance(first.body[0], cst.Expr):
        if isinstance(first.body[0].value, (cst.SimpleString, cst.ConcatenatedString)):
            return statements[1:]
    return statements


def is_pass(statement: cst.BaseStatement) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and all(isinstance(s, cst.Pass) for s in statement.body)


def check_hygiene(
    site: CallSite,
    signature: cst.FunctionDef,
    body: Sequence[cst.BaseStatement],
    assigned: frozenset[str],
    override: Override,
) -> None:
    """The inlined body and the override must not see each other's variables."""
    base = override.base_methods[site.method]
    statements = list(site.function.body.body) if isinstance(site.function.body, cst.IndentedBlock) else []
    own = param_names(signature) | bound_names(statements)
    free = mentions(body) - bound_names(body, nested=True) - param_names(base)
    if clash := sorted(free & own):
        why = f"the base body reads the module-level name {clash[0]!r}, which this method binds locally"
        raise override.refuse(site.call, site.what, why, f"rename the local variable {clash[0]!r}")
    targets = bound_names([site.small]) if not isinstance(site.small, cst.Expr) else frozenset()
    clobbered = (bound_names(body) | assigned) - targets
    after = site.after
    for name in sorted(clobbered & mentions(after)):
        first = next(statement for statement in after if name in mentions([statement]))
        if deletes_local(first, name):
            message = (
                f"del {name}: {name} is a local variable of {override.base_class}.{site.method}, not of this method"
                " (Python raises UnboundLocalError here), and the unrolled body keeps the base's assignment"
            )
            fix = f"remove `del {name}`: an unused local of the base body is harmless"
            raise ConversionError([override.parsed.diagnostic(first, "E207", message, fix)])
        if not read_before_rebinding(name, after):
            continue
        if name not in own:
            why = f"this method reads {name!r}, a local variable of the base body, which Python looks up as a global here"
            raise override.refuse(site.call, site.what, why, f"bind {name!r} in this method before using it")
        if name in assigned and name not in bound_names(body):
            why = (
                f"it gives the base parameter {name!r} another value than this method's {name!r}, used after the call"
            )
            fix = f"pass {name} as {name} (a differently named variable in this method also works)"
            raise override.refuse(site.call, site.what, why, fix)
        why = f"the base body sets {name!r}, which this method uses after the call"
        raise override.refuse(site.call, site.what, why, f"rename {name!r} in this method")


def read_before_rebinding(name: str, statements: Sequence[cst.BaseStatement]) -> bool:
    """Whether running `statements` may read `name` before binding it anew (what it held is then lost)."""
    for index, statement in enumerate(statements):
        if name not in mentions([statement]):
            continue
        if rebinds_without_reading(statement, name):
            return False
        if loops_over(statement, name):  # binds it, unless the loop runs no iteration
            return read_before_rebinding(name, statements[index + 1 :])
        if isinstance(statement, cst.If) and not branch_reads(statement, name):
            continue  # its branches rebind before reading, or leave it; what follows decides
        return True
    return False


def branch_reads(statement: cst.If, name: str) -> bool:
    """Whether an `if` may read `name` before rebinding it: in a test, or in a branch."""
    if name in mentions([statement.test]) or read_before_rebinding(name, suite(statement.body)):
        return True
    orelse = statement.orelse
    if isinstance(orelse, cst.If):
        return branch_reads(orelse, name)
    return orelse is not None and read_before_rebinding(name, suite(orelse.body))


def suite(body: cst.BaseSuite) -> list[cst.BaseStatement]:
    return list(body.body) if isinstance(body, cst.IndentedBlock) else [cst.SimpleStatementLine(body.body)]


def loops_over(statement: cst.BaseStatement, name: str) -> bool:
    """`for name in iterable:` with no `else`, the iterable not reading `name`."""
    return (
        isinstance(statement, cst.For)
        and isinstance(statement.target, cst.Name)
        and statement.target.value == name
        and statement.orelse is None
        and name not in mentions([statement.iter])
    )


def rebinds_without_reading(statement: cst.BaseStatement, name: str) -> bool:
    """`name = value` (or `name: T = value`) that does not read `name`: what `name` held before is lost."""
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return False
    small = statement.body[0]
    if isinstance(small, cst.Assign):
        targets = [target.target for target in small.targets]
        read: list[cst.CSTNode] = [small.value]
    elif isinstance(small, cst.AnnAssign) and small.value is not None:
        targets, read = [small.target], [small.value, small.annotation]
    else:
        return False
    named: list[cst.CSTNode] = []
    others: list[cst.CSTNode] = []
    for target in targets:
        elements = [e.value for e in target.elements] if isinstance(target, (cst.Tuple, cst.List)) else [target]
        for element in elements:  # `name = ...` or `name, other = ...`
            is_name = isinstance(element, cst.Name) and element.value == name
            (named if is_name else others).append(element)
    return bool(named) and name not in mentions([*read, *others])


def deletes_local(statement: cst.BaseStatement, name: str) -> bool:
    """`del name` for a plain variable."""
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return False
    small = statement.body[0]
    return isinstance(small, cst.Del) and isinstance(small.target, cst.Name) and small.target.value == name


def resolve_returns(site: CallSite, body: list[cst.BaseStatement], override: Override) -> list[cst.BaseStatement]:
    """Fit the base body's returns to the statement the call was in."""
    finder = FindOwnNodes((cst.Return,))
    for statement in body:
        read_visit(statement, finder)
    final = final_return(body)
    if isinstance(site.small, cst.Return):
        if not site.after or final is not None or ends_with_raise(body):
            return body
        fix = "assign the result and return it after the block" if site.nested else "make it the last statement"
        raise override.refuse(site.call, site.what, "the base body can fall through", fix)
    early = len(finder.found) - (1 if final is not None else 0)
    if early:
        fix = "override the whole method, or call a smaller base hook"
        raise override.refuse(site.call, site.what, "the base body returns early", fix)
    if isinstance(site.small, cst.Expr):
        if final is None:
            return body
        value = final.value
        kept = [] if value is None or is_pure(value) else [cst.SimpleStatementLine([cst.Expr(value)])]
        return [*body[:-1], *with_leading_lines(body[-1], kept)]
    if final is None or final.value is None:
        raise override.refuse(site.call, site.what, "the base body returns no value", "call it as a statement")
    if is_self_assignment(site.small, final.value):  # `a, b = super().f()` over `return a, b`
        return [*body[:-1], *with_leading_lines(body[-1], [])]
    assigned = site.small.with_changes(value=final.value)
    return [*body[:-1], body[-1].with_changes(body=[assigned])]


def is_self_assignment(small: cst.BaseSmallStatement, value: cst.BaseExpression) -> bool:
    """`x = x` or `a, b = a, b`: an assignment of local names to themselves, which changes nothing
    (attributes are left alone: assigning one may run a property's setter)."""
    if not isinstance(small, cst.Assign) or len(small.targets) != 1:
        return False
    target = small.targets[0].target
    return only_names(target) and only_names(value) and bare(target) == bare(value)


def only_names(node: cst.BaseExpression) -> bool:
    if isinstance(node, (cst.Tuple, cst.List)):
        return all(isinstance(e, cst.Element) and only_names(e.value) for e in node.elements)
    return isinstance(node, cst.Name)


def bare(node: cst.CSTNode) -> str:
    """The code of `node` without whitespace and parentheses."""
    return "".join(ch for ch in code_of(node) if not ch.isspace() and ch not in "()")


def final_return(body: Sequence[cst.BaseStatement]) -> cst.Return | None:
    last = body[-1] if body else None
    if isinstance(last, cst.SimpleStatementLine) and len(last.body) == 1 and isinstance(last.body[0], cst.Return):
        return last.body[0]
    return None


def ends_with_raise(body: Sequence[cst.BaseStatement]) -> bool:
    last = body[-1] if body else None
    return isinstance(last, cst.SimpleStatementLine) and isinstance(last.body[-1], cst.Raise)


def is_pure(value: cst.BaseExpression) -> bool:
    """Evaluating it has no effect: a name, a literal, or a tuple of those."""
    if isinstance(value, cst.Tuple):
        return all(is_pure(element.value) for element in value.elements)
    return isinstance(value, (cst.Name, cst.SimpleString, cst.Integer, cst.Float, cst.Imaginary))


def with_leading_lines(source: cst.BaseStatement, statements: list[cst.BaseStatement]) -> list[cst.BaseStatement]:
    """Comments above `source` move to the first of `statements` (they are lost when there is none)."""
    comments = [line for line in getattr(source, "leading_lines", ()) if line.comment is not None]
    if not statements or not comments:
        return statements
    first = statements[0]
    return [first.with_changes(leading_lines=[*comments, *first.leading_lines]), *statements[1:]]
