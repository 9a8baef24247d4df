"""What the unrolling passes share about one modular class: `Override` (the class, its base and the
base's methods) and `CallSite` (one `super().method(...)` statement in an override)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import libcst as cst

from converter.diagnostics import ConversionError
from converter.read.parse import ParsedModule


@dataclass
class UpstreamState:
    """Upstream's SuperTransformer keeps its targets per class (converter/merge/upstream_super.py): an
    assignment or `del` after a super() call in one method applies to the parent bodies unrolled in
    the methods after it (target code -> the modular statement)."""

    assigned: dict[str, cst.BaseStatement] = field(default_factory=dict)
    deleted: dict[str, cst.BaseStatement] = field(default_factory=dict)


@dataclass(frozen=True)
class Override:
    """A modular class overriding methods of a (renamed) base class."""

    parsed: ParsedModule
    class_name: str
    base_class: str  # as the modular file names it (`LlamaMLP`), for messages
    base_methods: Mapping[str, cst.FunctionDef]
    #: what the transformers dialect's super() rule carries from one method to the next
    upstream: UpstreamState = field(default_factory=lambda: UpstreamState(), compare=False)

    def refuse(self, node: cst.CSTNode, what: str, why: str, fix: str) -> ConversionError:
        message = f"cannot unroll {what} exactly: {why}"
        return ConversionError([self.parsed.diagnostic(node, "E203", message, fix)])


@dataclass(frozen=True)
class CallSite:
    """A `super().<method>(...)` statement at `index` in the body of `function` (the original override),
    or, when `nested`, at `index` in the body of a `with` block there. `after` holds the statements
    that run after it in `function` (the rest of its block, then the rest of the enclosing ones)."""

    statement: cst.SimpleStatementLine
    small: cst.BaseSmallStatement
    call: cst.Call
    method: str
    index: int
    function: cst.FunctionDef
    after: tuple[cst.BaseStatement, ...] = ()
    nested: bool = False

    @property
    def what(self) -> str:
        return f"super().{self.method}() in {self.function.name.value}"
