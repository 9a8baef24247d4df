"""converter/syntax/ (scopes, walk, fields) against libcst's public ScopeProvider: the same scopes, bindings and reads,
each read resolving to the same bindings, and the same `analyse_statement` answers, on the
repository's modular and generated files, on tricky hand-written code and on generated snippets;
and no private libcst name anywhere under converter/."""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable, Iterable
from pathlib import Path

import libcst as cst
import libcst.helpers
import libcst.metadata
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from libcst.metadata import MetadataWrapper, ScopeProvider

from converter.syntax.fields import VISIT_ORDERS, visit_order
from converter.syntax.names import analyse_statement, code_nodes, code_of, first_names
from converter.syntax.scopes import GlobalScope
from converter.syntax.walk import module_scopes, scopes_by_statement

ROOT = Path(__file__).resolve().parents[2]


def every_node(node: cst.CSTNode) -> list[cst.CSTNode]:
    found, stack = [], [node]
    while stack:
        current = stack.pop()
        found.append(current)
        stack.extend(current.children)
    return found


def describe(module: cst.Module, global_scope: object, scopes: Iterable[object]) -> list[object]:
    """Every scope with its bindings and reads as plain data, in no particular order: nodes by identity
    (those parsed from string annotations by code), scopes by kind and the node that opens them."""
    in_tree = {id(node) for node in every_node(module)}

    def key(node: object) -> object:
        if not isinstance(node, cst.CSTNode):
            return None
        return id(node) if id(node) in in_tree else ("new", type(node).__name__, code_of(node))

    def scope_id(scope: object) -> str:
        if scope is global_scope:
            return "global"
        return str((type(scope).__name__, key(getattr(scope, "node", None))))

    def binding(assignment: object) -> tuple[object, ...]:
        kind = type(assignment).__name__
        return (assignment.name, str(key(getattr(assignment, "node", None))), kind, scope_id(assignment.scope))  # type: ignore[attr-defined]

    described = []
    for scope in scopes:
        reads = sorted(
            (str(key(a.node)), a.is_annotation, a.is_type_hint, str(sorted(map(binding, a.referents))))
            for a in scope.accesses  # type: ignore[attr-defined]
        )
        bindings = sorted(map(binding, scope.assignments))  # type: ignore[attr-defined]
        described.append((scope_id(scope), scope_id(scope.parent), str(bindings), str(reads)))  # type: ignore[attr-defined]
    return sorted(described)


def libcst_scopes(module: cst.Module) -> tuple[object, list[object]]:
    """The global scope and every scope of `module`, from libcst's public ScopeProvider."""
    found = MetadataWrapper(module, unsafe_skip_copy=True).resolve(ScopeProvider)
    return found[module], list({id(scope): scope for scope in found.values() if scope is not None}.values())


def libcst_analysis(statement: cst.BaseStatement) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """`analyse_statement` computed from libcst's scopes, as converter/syntax/names.py did before scopes.py."""
    global_scope, scopes = libcst_scopes(cst.Module(body=[statement]))
    defines = {assignment.name.split(".")[0] for assignment in global_scope.assignments}  # type: ignore[attr-defined]
    uses: set[str] = set()
    for scope in scopes:
        for access in scope.accesses:  # type: ignore[attr-defined]
            if not access.referents or any(
                isinstance(ref.scope, libcst.metadata.GlobalScope) for ref in access.referents
            ):
                uses.update(first_names(access.node))
    return tuple(sorted(defines)), tuple(sorted(uses - defines))


def outcome(action: Callable[[], object]) -> object:
    try:
        return action()
    except Exception as error:  # both sides must fail alike where libcst refuses (`nonlocal` at module level)
        return ("raises", type(error).__name__)


def assert_same_as_libcst(module: cst.Module, statements: bool = True) -> None:
    """The module's scopes, and `analyse_statement` of each top-level statement, as libcst has them;
    `scopes_by_statement` gives the same scopes, and owners as a walk of each statement has them."""
    ours = outcome(lambda: describe(module, *module_scopes(module)))
    assert ours == outcome(lambda: describe(module, *libcst_scopes(module)))
    assert ours == outcome(lambda: describe(module, *scopes_by_statement(module)[:2]))
    if not (isinstance(ours, tuple) and ours[:1] == ("raises",)):
        assert_owners(module)
    for statement in module.body if statements else ():
        assert outcome(lambda s=statement: analyse_statement(s)) == outcome(lambda s=statement: libcst_analysis(s))


def statement_owners(module: cst.Module) -> dict[int, int]:
    """The oracle for `scopes_by_statement`'s owners: id of every node under `module.body[i]` -> i,
    by a walk of each statement; a node object two statements share belongs to the last of them."""
    owner: dict[int, int] = {}
    for index, statement in enumerate(module.body):
        stack: list[cst.CSTNode] = [statement]
        while stack:
            node = stack.pop()
            owner[id(node)] = index
            stack += code_nodes(node)
    return owner


def assert_owners(module: cst.Module) -> None:
    """Every module-level binding and every read of `scopes_by_statement` has the oracle's owner."""
    global_scope, scopes, owners = scopes_by_statement(module)
    expected = statement_owners(module)
    nodes = [a.node for a in global_scope.assignments] + [a.node for s in scopes for a in s.accesses]
    assert [owners.get(id(node)) for node in nodes] == [expected.get(id(node)) for node in nodes]


TRICKY = textwrap.dedent(
    """
    from __future__ import annotations
    import os.path
    import a.b.c
    import typing
    import typing as t
    from typing import TYPE_CHECKING, Literal, NewType, TypeVar, cast
    from typing import cast as convert
    from typing_extensions import Literal as Lit
    from .sibling import *
    from . import relative
    from ..package.module import thing as other_thing

    T = TypeVar("T", bound="Base")
    UserId = NewType("UserId", "int")
    list = list(range(3))
    value = typing.cast("Optional[Base]", None)
    plain = cast("Base", os.path.join("a", "b"))
    renamed = convert("Base", a.b.c.d(a.b.x))
    aliased = t.cast("t.List[Base]", relative.attr.deep)
    choice: Literal["left", "right"] = "left"
    other: Lit["up"] | "Base" = "up"
    nested: "typing.Dict[str, 'Base']" = {}
    concatenated: "typing.List" "[Base]" = []
    broken: "not valid python (" = None
    walrus_in_string: "(hidden := Base)" = None
    import_in_string: "import shadowed" = None
    assign_in_string: "bound = Base" = None
    alias: t.Optional["Base"] = None
    CONSTANT = [y for x in CONSTANT for y in x if y]
    squares = {k: v for k, v in zip(range(3), range(3))}
    walrus = [last := item for item in range(3)]
    generator = sum(i for i in range(3) if (found := i))
    pick = a if b else c
    message = f"{pick!r:>{width}} {a.b.c}"
    if (n := len(list)) > 1:
        del n
    if TYPE_CHECKING:
        from torch import Tensor
    typing_shadow = typing
    os.path.sep = "/"
    a.b.c.d = os.getcwd().upper


    def outer(x, /, y: "Tensor" = CONSTANT, *args: T, z=lambda q: q + y, **kwargs) -> "Base":
        global counter
        counter = 1
        state = 0

        def inner():
            nonlocal state
            state += counter
            return state, os.path.sep, os.getcwd()

        try:
            import math
        except (ImportError, ValueError) as error:
            raise RuntimeError(error) from None
        else:
            pass
        finally:
            del x
        with open(y) as handle, open(z) as (first, second):
            pass
        for index, (key, item) in enumerate(kwargs.items()):
            total = sum(i * index for i in range(key))
        else:
            total = -1
        return inner, math.pi, handle, first, total, (lambda: state)()


    @decorate(CONSTANT)
    @functools.wraps(outer)
    class Base(Parent, metaclass=Meta):
        attribute = CONSTANT
        derived = [attribute for _ in range(3)]
        other = (lambda: attribute)()

        def method(self, option=attribute) -> Base:
            return attribute, self.attribute, Base

        class Inner:
            def deep(self):
                return Base.attribute, outer

        @staticmethod
        def typed(value: "Inner") -> typing.Optional["Inner"]:
            local: "Base" = value
            return local


    def shadow():
        print(len)
        len = 3
        return len


    def uses_global_later():
        global late
        return late, typing.cast(late, 1)


    late = 1


    def matcher(command):
        match command:
            case [action, *rest]:
                return action, rest
            case {"key": found, **others}:
                return found, others
            case Point(x=0, y=py) as point if py > 0:
                return point
            case _:
                return None


    async def asynchronous(items):
        async for item in items:
            async with item as entered:
                await entered
        return [x async for x in items]
    """
)

PEP_695 = textwrap.dedent(
    """
    type Alias[K] = dict[K, Alias]
    def generic[T: Bound, *Ts, **P](x: T, *args: *Ts) -> T:
        return x
    class Box[T](Base[T]):
        item: T
        def get[S](self) -> T | S:
            return self.item
    """
)


@pytest.mark.parametrize("source", [TRICKY, PEP_695], ids=["tricky", "pep695"])
def test_tricky_code_matches_libcst(source: str) -> None:
    module = cst.parse_module(source)
    assert_same_as_libcst(module)
    for statement in module.body:  # alone, each misses the others' bindings (imports, typing names)
        assert_same_as_libcst(cst.Module(body=[statement]), statements=False)


def repository_files() -> list[Path]:
    return sorted(path for folder in ("modular", "generated") for path in (ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("path", repository_files(), ids=lambda path: str(path.relative_to(ROOT)))
def test_repository_files_match_libcst(path: Path) -> None:
    assert_same_as_libcst(cst.parse_module(path.read_text(encoding="utf-8")))


def test_shared_nodes_take_the_context_of_their_last_visit() -> None:
    """Transforms share node objects: `x = x` built with one Name is two reads for libcst (the value,
    visited last, makes the Name a read), and one Name in two statements is bound twice."""
    name = cst.Name("x")
    shared = cst.Module(body=[cst.SimpleStatementLine([cst.Assign([cst.AssignTarget(name)], name)])])
    assert_same_as_libcst(shared)
    twice = cst.SimpleStatementLine(
        [cst.Assign([cst.AssignTarget(cst.Name("y"))], cst.Attribute(name, cst.Name("z")))]
    )
    assert_same_as_libcst(cst.Module(body=[twice, twice, *shared.body]))


def test_nonlocal_at_module_level_is_refused_as_by_libcst() -> None:
    module = cst.parse_module("nonlocal x\n")
    assert_same_as_libcst(module)
    with pytest.raises(NotImplementedError):
        module_scopes(module)


def test_the_global_scope_is_one_of_libcst_for_isinstance() -> None:
    """Callers written against libcst's classes check `isinstance(scope, libcst.metadata.GlobalScope)`."""
    global_scope, scopes = module_scopes(cst.parse_module("def f():\n    return x\n"))
    assert isinstance(global_scope, GlobalScope)
    assert isinstance(global_scope, libcst.metadata.GlobalScope)
    assert not any(isinstance(scope, libcst.metadata.GlobalScope) for scope in scopes[1:])


def test_analyses_of_tricky_statements() -> None:
    """What the scope analysis makes of the tricky cases, statement by statement."""
    found = {
        code_of(s).strip().splitlines()[-1 if isinstance(s, cst.ClassDef) else 0]: analyse_statement(s)
        for s in cst.parse_module(TRICKY).body
    }
    # alone, `TypeVar` is not known to come from typing: its string arguments are not annotations
    assert found['T = TypeVar("T", bound="Base")'] == (("T",), ("TypeVar",))
    assert found['choice: Literal["left", "right"] = "left"'] == (("choice",), ("Literal", "left", "right"))
    assert found["list = list(range(3))"] == (("list",), ())
    # libcst counts the inner `for`'s target only after its conditions: `if y` reads a module-level y
    assert found["CONSTANT = [y for x in CONSTANT for y in x if y]"] == (("CONSTANT",), ("y",))
    assert found["pick = a if b else c"] == (("pick",), ("a", "b", "c"))
    assert found["import a.b.c"] == (("a",), ())
    assert found['message = f"{pick!r:>{width}} {a.b.c}"'] == (("message",), ("a", "pick", "width"))


def test_visit_order_is_the_visitors(monkeypatch: pytest.MonkeyPatch) -> None:
    """An IfExp visits `body` before `test`; a format spec, visited only when there is one, is
    learned from the first node that has one."""
    if_exp = cst.parse_expression("a if b else c")
    assert [name for name in visit_order(if_exp) if name in ("test", "body", "orelse")] == ["body", "test", "orelse"]
    plain, spec = cst.parse_expression('f"{a}{b:>{c}}"').parts
    monkeypatch.delitem(VISIT_ORDERS, type(plain), raising=False)  # as if no f-string had been seen
    monkeypatch.setattr("converter.syntax.fields.PARTIAL_ORDERS", {})
    without = visit_order(plain)
    assert "format_spec" not in without
    assert type(plain) not in VISIT_ORDERS
    assert visit_order(spec) == (*without, "format_spec")
    assert visit_order(plain) == VISIT_ORDERS[type(plain)] == visit_order(spec)  # learned for every f-string


NAMES = ("a", "b", "x", "len", "typing", "cast", "T", "Literal")
MODULES = ("typing", "typing_extensions", "os.path", "a.b.c", ".", "..package")


@st.composite
def expressions(draw: st.DrawFn, depth: int = 0) -> str:
    """A Python expression over NAMES: calls, attributes, typing helpers, comprehensions, lambdas."""

    def name() -> str:
        return draw(st.sampled_from(NAMES))

    def sub() -> str:
        return draw(expressions(depth + 1)) if depth < 2 else name()

    forms = [
        lambda: name(),
        lambda: f"{name()}.{name()}.{name()}",
        lambda: f"{sub()}({sub()})",
        lambda: f"{name()}().{name()}",
        lambda: f"{sub()}[{sub()}]",
        lambda: (
            f"{draw(st.sampled_from(('cast', 'typing.cast', 'TypeVar', 'typing.NewType')))}({annotation()}, {sub()})"
        ),
        lambda: f"Literal['{name()}']",
        lambda: f"[{sub()} for {name()} in {sub()} if {sub()}]",
        lambda: f"{{{name()}: {sub()} for {name()}, {name()} in {sub()}}}",
        lambda: f"({sub()} for {name()} in {sub()} for {name()} in {name()})",
        lambda: f"(lambda {name()}, *, {name()}={sub()}: {sub()})",
        lambda: f"({name()} := {sub()})",
        lambda: f"({sub()} if {sub()} else {sub()})",
        lambda: f"f'{{({sub()}):{{{name()}}}}}'",
    ]

    def annotation() -> str:
        choices = [name(), f"'{name()}'", f"'{name()}.{name()}'", f"typing.Optional['{name()}']", f"'(({name()}))'"]
        return draw(st.sampled_from(choices))

    return draw(st.sampled_from(forms))()


@st.composite
def blocks(draw: st.DrawFn, depth: int = 0, in_function: bool = False, in_nested: bool = False) -> list[str]:
    """One to three statements, compound ones (def, class, for, with, try) nested two deep at most."""
    lines: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        lines += draw(statements(depth, in_function, in_nested))
    return lines


@st.composite
def statements(draw: st.DrawFn, depth: int, in_function: bool, in_nested: bool) -> list[str]:
    def name() -> str:
        return draw(st.sampled_from(NAMES))

    def expr() -> str:
        return draw(expressions())

    def body(function: bool = in_function, nested: bool = in_nested) -> list[str]:
        return ["    " + line for line in draw(blocks(depth + 1, function, nested))]

    simple = [
        lambda: [f"{name()} = {expr()}"],
        lambda: [
            f"{name()}: {draw(st.sampled_from((name(), repr(name()), 'Literal[' + repr(name()) + ']')))} = {expr()}"
        ],
        lambda: [f"{name()} += {expr()}", f"del {name()}"],
        lambda: [f"{name()}.{name()} = {name()}[{expr()}] = {name()}, *{name()} = {expr()}"],
        lambda: [
            f"import {draw(st.sampled_from(MODULES[:4]))}",
            f"import {draw(st.sampled_from(MODULES[:4]))} as {name()}",
        ],
        lambda: [f"from {draw(st.sampled_from(MODULES))} import {name()}, {name()} as {name()}"],
        lambda: [expr()],
    ]
    if in_function:
        simple += [lambda: [f"global {name()}"], lambda: [f"return {expr()}"]]
    if in_nested:
        simple.append(lambda: [f"nonlocal {name()}"])
    compound = [
        lambda: [
            f"@{expr()}",
            f"def {name()}({name()}: {expr()}, {name()}={expr()}) -> {expr()}:",
            *body(True, in_function),
        ],
        lambda: [f"class {name()}({expr()}, metaclass={name()}):", *body(False, False)],
        lambda: [f"for {name()}, {name()} in {expr()}:", *body(), "else:", *body()],
        lambda: [f"with {expr()} as {name()}:", *body()],
        lambda: ["try:", *body(), f"except {name()} as {name()}:", *body()],
        lambda: [f"if ({name()} := {expr()}):", *body()],
    ]
    forms = simple + compound if depth < 2 else simple
    return draw(st.sampled_from(forms))()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(blocks())
def test_generated_code_matches_libcst(lines: list[str]) -> None:
    try:
        module = cst.parse_module("\n".join(lines) + "\n")
    except cst.ParserSyntaxError:
        assume(False)
        return
    assert_same_as_libcst(module)


#: Private attributes of libcst objects that code might reach for: set on instances (so no class
#: lists them) or defined on the classes (found below).
KNOWN_PRIVATE = {
    "_computed",
    "_assignment_count",
    "_assignments",
    "_accesses_by_name",
    "_accesses_by_node",
    "_name_prefix",
    "_scope_overwrites",
    "_visit_and_replace_children",
    "_codegen_impl",
    "_index",
}


def libcst_private_attributes() -> set[str]:
    """KNOWN_PRIVATE and every `_name` defined on a class that libcst, its metadata or helpers export."""
    found = set(KNOWN_PRIVATE)
    for module in (cst, libcst.metadata, libcst.helpers):
        for value in vars(module).values():
            if inspect.isclass(value) and value.__module__.startswith("libcst"):
                for cls in value.__mro__:
                    if cls.__module__.startswith("libcst"):
                        found |= {name for name in vars(cls) if name.startswith("_") and not name.endswith("__")}
    return found


def private_libcst_uses(source: str, private: set[str]) -> list[str]:
    """Where `source` imports a private libcst module or name, names a `libcst._` module in a string,
    or reads an attribute in `private` (but of `self` or `cls`, which are its own; `getattr` too) or a
    `_name` of the libcst module itself: "line: what"."""
    found = []
    tree = ast.parse(source)
    aliases = {"libcst"} | {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
        if alias.name == "libcst"
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "libcst":
            parts = [*node.module.split("."), *(alias.name for alias in node.names)]  # type: ignore[union-attr]
            found += [f"{node.lineno}: from {node.module} import {part}" for part in parts if part.startswith("_")]
        elif isinstance(node, ast.Import):
            found += [f"{node.lineno}: import {a.name}" for a in node.names if a.name.startswith("libcst._")]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and "libcst._" in node.value:
            found.append(f"{node.lineno}: {node.value!r}")
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.endswith("__"):
            receiver = node.value.id if isinstance(node.value, ast.Name) else None
            if (node.attr in private and receiver not in ("self", "cls")) or receiver in aliases:
                found.append(f"{node.lineno}: .{node.attr}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id.endswith("attr"):
            names = [arg.value for arg in node.args[1:2] if isinstance(arg, ast.Constant)]
            found += [f"{node.lineno}: {node.func.id}(..., {name!r})" for name in names if name in private]
    return found


def test_the_private_name_check_finds_what_names_py_used() -> None:
    """The private uses names.py had, and none of the own attributes a module may have."""
    private = libcst_private_attributes()
    used = textwrap.dedent(
        """
        import inspect
        import libcst as cst
        from libcst.metadata.scope_provider import _ASSIGNMENT_LIKE_NODES, _gen_dotted_names
        contexts = dict(provided._computed)
        self.scope._assignment_count += 1
        source = inspect.getsource(node_type._visit_and_replace_children)
        skipped = kind.__module__ in ("libcst._nodes.whitespace", "libcst._nodes.op")
        nodes = cst._nodes
        scopes = getattr(provider, "_computed")
        """
    )
    assert len(private_libcst_uses(used, private)) == 9
    own = "self._cache = {}\nfields = node._fields\nname = kind.__name__\nvalue = cls._registry\n"
    assert private_libcst_uses(own, private) == []


def test_no_private_libcst_name_under_converter() -> None:
    private = libcst_private_attributes()
    found = {
        str(path.relative_to(ROOT)): uses
        for path in sorted((ROOT / "converter").rglob("*.py"))
        if (uses := private_libcst_uses(path.read_text(encoding="utf-8"), private))
    }
    assert found == {}
