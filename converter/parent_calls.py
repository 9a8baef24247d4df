"""In a transformers tree, `Parent.method(self, ...)` inside a class whose first base is `Parent` becomes
`super().method(...)`, as upstream's converter writes it.

Both reach the same method whenever nothing sits between the class and `Parent` in the instance's
method resolution order, which holds for every class of a generated file (a subclass would need a
diamond, another subclass of `Parent` as a later base, to change it). The call must be in the
method's own scope (a nested function, lambda or comprehension has no `super()` of its own) and
pass the method's first parameter, never rebound there, as `self`. The repository's layout keeps
the explicit call, which says the same without that argument.
"""

from __future__ import annotations

import libcst as cst

from converter.names import bound_names, code_of


def parent_calls_to_super(class_def: cst.ClassDef) -> cst.ClassDef:
    """`class_def` with `FirstBase.method(self, ...)` calls in its methods written `super().method(...)`."""
    if not class_def.bases or not isinstance(class_def.bases[0].value, (cst.Name, cst.Attribute)):
        return class_def
    parent = code_of(class_def.bases[0].value)
    body = class_def.body
    if not isinstance(body, cst.IndentedBlock):
        return class_def
    statements = [
        rewrite_method(statement, parent) if isinstance(statement, cst.FunctionDef) else statement
        for statement in body.body
    ]
    return class_def.with_changes(body=body.with_changes(body=statements))


def rewrite_method(function: cst.FunctionDef, parent: str) -> cst.FunctionDef:
    params = [*function.params.posonly_params, *function.params.params]
    kinds = {code_of(d.decorator) for d in function.decorators}
    if not params or kinds & {"staticmethod", "classmethod"} or not isinstance(function.body, cst.IndentedBlock):
        return function
    own = params[0].name.value
    if own in bound_names(function.body.body, nested=False):
        return function
    return function.with_changes(body=function.body.visit(ParentCalls(parent, own)))


class ParentCalls(cst.CSTTransformer):
    def __init__(self, parent: str, own: str) -> None:
        self.parent = parent
        self.own = own
        self.depth = 0

    def on_visit(self, node: cst.CSTNode) -> bool:
        if isinstance(node, (cst.FunctionDef, cst.ClassDef, cst.Lambda, *COMPREHENSIONS)):
            self.depth += 1
        return True

    def on_leave(self, original_node: cst.CSTNode, updated_node: cst.CSTNode) -> cst.CSTNode:
        if isinstance(original_node, (cst.FunctionDef, cst.ClassDef, cst.Lambda, *COMPREHENSIONS)):
            self.depth -= 1
        if self.depth == 0 and isinstance(updated_node, cst.Call) and self.is_parent_call(updated_node):
            assert isinstance(updated_node.func, cst.Attribute)
            func = updated_node.func.with_changes(value=cst.Call(cst.Name("super")))
            return updated_node.with_changes(func=func, args=updated_node.args[1:])
        return updated_node

    def is_parent_call(self, call: cst.Call) -> bool:
        func = call.func
        if (
            not (isinstance(func, cst.Attribute) and isinstance(func.value, (cst.Name, cst.Attribute)))
            or not call.args
        ):
            return False
        first = call.args[0]
        return (
            code_of(func.value) == self.parent
            and first.keyword is None
            and not first.star
            and isinstance(first.value, cst.Name)
            and first.value.value == self.own
        )


COMPREHENSIONS = (cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp)


def selfless_parent_calls(class_def: cst.ClassDef, parents: set[str]) -> list[cst.Call]:
    """Calls `Parent.__method__(...)` in `class_def` (a base class's instance dunder method, taken from
    the class) whose first argument is not the enclosing method's first parameter: Python raises
    TypeError there, since no instance is passed (`nn.Module.__init__()`)."""
    finder = FindSelflessCalls(parents)
    class_def.visit(finder)
    return finder.found


#: dunder methods Python calls on the class, not on an instance
CLASS_LEVEL = frozenset({"__new__", "__init_subclass__", "__class_getitem__", "__subclasshook__"})


class FindSelflessCalls(cst.CSTVisitor):
    def __init__(self, parents: set[str]) -> None:
        self.parents = parents
        self.selves: list[str] = []
        self.found: list[cst.Call] = []

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        params = [*node.params.posonly_params, *node.params.params]
        self.selves.append(params[0].name.value if params else "")

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.selves.pop()

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if not (isinstance(func, cst.Attribute) and isinstance(func.value, (cst.Name, cst.Attribute))):
            return
        method = func.attr.value
        if not (method.startswith("__") and method.endswith("__")) or method in CLASS_LEVEL:
            return
        if code_of(func.value) not in self.parents or not self.selves:
            return
        first = node.args[0] if node.args else None
        passes_self = (
            first is not None
            and first.keyword is None
            and not first.star
            and isinstance(first.value, cst.Name)
            and first.value.value == self.selves[-1]
        )
        if not passes_self:
            self.found.append(node)
