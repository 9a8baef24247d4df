"""In a transformers tree, `Ancestor.method(self, ...)` inside a class becomes `super().method(...)`
where both reach the same method, as upstream's converter writes it.

That holds when `Ancestor` is the class's first base, or is reached from it through classes of the
same file (and its bases) that each have one base and do not define `method` themselves:
`super()` then finds the method where `Ancestor.method` finds it (a subclass could change that only
through a diamond, another subclass of a class in the chain as a later base). The call must be
in the method's own scope (a nested function, lambda or comprehension has no `super()` of its own)
and pass the method's first parameter, never rebound there, as `self`. The repository's layout
keeps the explicit call, which says the same without that argument.
"""

from __future__ import annotations

from collections.abc import Callable

import libcst as cst

from converter.syntax.names import bound_names, code_nodes, code_of

Lookup = Callable[[str], cst.ClassDef | None]


def parent_calls_to_super(class_def: cst.ClassDef, lookup: Lookup) -> cst.ClassDef:
    """`class_def` with `Ancestor.method(self, ...)` calls in its methods written `super().method(...)`
    where that is the same method (`lookup` finds the file's classes by name)."""
    if not class_def.bases or not isinstance(class_def.bases[0].value, (cst.Name, cst.Attribute)):
        return class_def
    first = code_of(class_def.bases[0].value)
    body = class_def.body
    if not isinstance(body, cst.IndentedBlock):
        return class_def

    def reaches(ancestor: str, method: str) -> bool:
        current, seen = first, set()
        while current != ancestor:
            found = lookup(current) if current not in seen else None
            if found is None or len(found.bases) != 1 or defines(found, method):
                return False
            seen.add(current)
            current = code_of(found.bases[0].value)
        return True

    statements = [
        rewrite_method(statement, reaches) if isinstance(statement, cst.FunctionDef) else statement
        for statement in body.body
    ]
    return class_def.with_changes(body=body.with_changes(body=statements))


def defines(class_def: cst.ClassDef, name: str) -> bool:
    """The class body binds `name` (a method or an attribute)."""
    body = class_def.body.body if isinstance(class_def.body, cst.IndentedBlock) else ()
    return name in bound_names(list(body))


def rewrite_method(function: cst.FunctionDef, reaches: Callable[[str, str], bool]) -> cst.FunctionDef:
    params = [*function.params.posonly_params, *function.params.params]
    kinds = {code_of(d.decorator) for d in function.decorators}
    if not params or kinds & {"staticmethod", "classmethod"} or not isinstance(function.body, cst.IndentedBlock):
        return function
    own = params[0].name.value
    if not passes_own_first(function.body, own) or own in bound_names(function.body.body, nested=False):
        return function
    return function.with_changes(body=function.body.visit(ParentCalls(reaches, own)))


def passes_own_first(node: cst.CSTNode, own: str) -> bool:
    """Some call `X.method(own, ...)` occurs under `node` (a quick walk before the transformer)."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, cst.Call) and isinstance(current.func, cst.Attribute) and current.args:
            first = current.args[0].value
            if isinstance(first, cst.Name) and first.value == own:
                return True
        stack += code_nodes(current)
    return False


class ParentCalls(cst.CSTTransformer):
    def __init__(self, reaches: Callable[[str, str], bool], own: str) -> None:
        self.reaches = reaches
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
            first.keyword is None
            and not first.star
            and isinstance(first.value, cst.Name)
            and first.value.value == self.own
            and self.reaches(code_of(func.value), func.attr.value)
        )


COMPREHENSIONS = (cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp)


def selfless_parent_calls(class_def: cst.ClassDef, parents: set[str]) -> list[cst.Call]:
    """Calls `Parent.__method__(...)` in `class_def` (a base class's instance dunder method, taken from
    the class) whose first argument is not the enclosing method's first parameter: Python raises
    TypeError there, since no instance is passed (`nn.Module.__init__()`). In source order."""
    found: list[cst.Call] = []
    stack: list[tuple[cst.CSTNode, str | None]] = [(class_def, None)]
    while stack:
        node, own = stack.pop()
        if isinstance(node, cst.FunctionDef):
            params = [*node.params.posonly_params, *node.params.params]
            own = params[0].name.value if params else ""
        elif isinstance(node, cst.Call) and own is not None and is_selfless_call(node, parents, own):
            found.append(node)
        stack += [(child, own) for child in reversed(code_nodes(node))]
    return found


#: dunder methods Python calls on the class, not on an instance
CLASS_LEVEL = frozenset({"__new__", "__init_subclass__", "__class_getitem__", "__subclasshook__"})


def is_selfless_call(call: cst.Call, parents: set[str], own: str) -> bool:
    func = call.func
    if not (isinstance(func, cst.Attribute) and isinstance(func.value, (cst.Name, cst.Attribute))):
        return False
    method = func.attr.value
    if not (method.startswith("__") and method.endswith("__")) or method in CLASS_LEVEL:
        return False
    if code_of(func.value) not in parents:
        return False
    first = call.args[0] if call.args else None
    passes_self = (
        first is not None
        and first.keyword is None
        and not first.star
        and isinstance(first.value, cst.Name)
        and first.value.value == own
    )
    return not passes_self
