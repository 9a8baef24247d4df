"""What the walks know of libcst's trees, from its public API only: which fields of a node may hold
nodes, the order a libcst visitor visits them in (learned from public visits), and the nodes that hold
no code (trivia)."""

from __future__ import annotations

import dataclasses
import functools
import typing

import libcst as cst

# What the walks (walk.py, names.py) know of libcst's trees: which fields of a node may hold
# nodes, the order a libcst visitor visits them in, and the nodes that hold no code.


@functools.cache
def node_fields(node_type: type[cst.CSTNode]) -> tuple[str, ...]:
    """The fields of `node_type` that may hold nodes: not those typed as text or flags (`Name.value`,
    `SimpleWhitespace.value`, `EmptyLine.indent`), which most nodes of a tree have."""
    return tuple(field.name for field in dataclasses.fields(node_type) if not is_scalar(field.type))


def is_scalar(annotation: object) -> bool:
    """`str`, `bool`, `int`, a `Literal`, or an optional one of them."""
    if annotation in (str, bool, int, type(None)):
        return True
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return True
    return origin is typing.Union and all(is_scalar(arg) for arg in typing.get_args(annotation))


NODE, SEQUENCE, OTHER = "node", "sequence", "other"
#: type -> NODE, SEQUENCE (list or tuple) or OTHER; isinstance against CSTNode, an ABC, is slow.
VALUE_KINDS: dict[type, str] = {}


def value_kind(value_type: type) -> str:
    kind = (
        NODE if issubclass(value_type, cst.CSTNode) else SEQUENCE if issubclass(value_type, (list, tuple)) else OTHER
    )
    VALUE_KINDS[value_type] = kind
    return kind


def visit_order(node: cst.CSTNode) -> tuple[str, ...]:
    """The fields of `node` in the order a libcst visitor visits them, but those that hold only
    whitespace and punctuation (`PUNCTUATION_FIELDS`): not always the order they are declared in (an
    `IfExp` visits `body` before `test`). Learned from one visit of a node of its type, which calls
    `on_visit_attribute` for each field (None ones too), kept in VISIT_ORDERS. A type that visits a
    field only when it is set (FormattedStringExpression's `format_spec`) is kept in PARTIAL_ORDERS
    with the fields not seen, and learned again from the first node that sets one of them."""
    kind = type(node)
    order = VISIT_ORDERS.get(kind)
    if order is not None:
        return order
    partial = PARTIAL_ORDERS.get(kind)
    if partial is not None and not any(holds_nodes(getattr(node, name)) for name in partial[1]):
        return partial[0]
    probe = FieldOrder(node)
    node.visit(probe)
    visited = dict.fromkeys(probe.fields)
    order = tuple(name for name in visited if not name.startswith(PUNCTUATION_FIELDS))
    unseen = tuple(name for name in node_fields(kind) if name not in visited)
    if not unseen:
        VISIT_ORDERS[kind] = order
        PARTIAL_ORDERS.pop(kind, None)
    elif partial is None or len(unseen) < len(partial[1]):
        PARTIAL_ORDERS[kind] = (order, unseen)
    return order


class FieldOrder(cst.CSTVisitor):
    """The fields of `node`, in the order a visit of it enters them; it enters none of its children."""

    def __init__(self, node: cst.CSTNode) -> None:
        super().__init__()
        self.node = node
        self.fields: list[str] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        return node is self.node

    def on_visit_attribute(self, original_node: cst.CSTNode, attribute: str) -> None:
        if original_node is self.node:
            self.fields.append(attribute)


def holds_nodes(value: object) -> bool:
    """A node, or a sequence that is not empty (a node field's sequences hold nodes)."""
    what = VALUE_KINDS.get(type(value)) or value_kind(type(value))
    return what is NODE or (what is SEQUENCE and len(value) > 0)  # type: ignore[arg-type]


VISIT_ORDERS: dict[type[cst.CSTNode], tuple[str, ...]] = {}
PARTIAL_ORDERS: dict[type[cst.CSTNode], tuple[tuple[str, ...], tuple[str, ...]]] = {}
#: Prefixes of the fields that hold whitespace and punctuation only.
PUNCTUATION_FIELDS = (
    "whitespace",
    "lpar",
    "rpar",
    "lbracket",
    "rbracket",
    "lbrace",
    "rbrace",
    "leading_lines",
    "lines_after_decorators",
    "trailing_whitespace",
    "leading_whitespace",
    "header",
    "footer",
)
#: Node types that hold nothing but whitespace and comments.
TRIVIA: frozenset[type[cst.CSTNode]] = frozenset(
    {
        cst.SimpleWhitespace,
        cst.ParenthesizedWhitespace,
        cst.TrailingWhitespace,
        cst.Newline,
        cst.EmptyLine,
        cst.Comment,
        cst.Comma,
        cst.Dot,
        cst.LeftParen,
        cst.RightParen,
        cst.LeftSquareBracket,
        cst.RightSquareBracket,
        cst.LeftCurlyBrace,
        cst.RightCurlyBrace,
        cst.AssignEqual,
        cst.Colon,
        cst.Semicolon,
        *(
            operator
            for base in (cst.BaseBinaryOp, cst.BaseBooleanOp, cst.BaseCompOp, cst.BaseUnaryOp, cst.BaseAugOp)
            for operator in base.__subclasses__()
        ),
    }
)
#: Nodes that hold no name, string or binding: whitespace, punctuation, operators, numbers.
SKIPPED: frozenset[type[cst.CSTNode]] = TRIVIA | {cst.Integer, cst.Float, cst.Imaginary, cst.ImportStar}
#: The nodes after which libcst's visitor advances the current scope's count (its `on_leave`).
ASSIGNMENT_LIKE: frozenset[type[cst.CSTNode]] = frozenset(
    {
        cst.AnnAssign,
        cst.AsName,
        cst.Assign,
        cst.AugAssign,
        cst.ClassDef,
        cst.CompFor,
        cst.FunctionDef,
        cst.Global,
        cst.Import,
        cst.ImportFrom,
        cst.NamedExpr,
        cst.Nonlocal,
        cst.Parameters,
        cst.WithItem,
        cst.TypeVar,
        cst.TypeAlias,
        cst.TypeVarTuple,
        cst.ParamSpec,
    }
)
