"""The transformers dialect: upstream's modular rules, each named, each reported where it drifts.

The default dialect gives a modular file Python's meaning (DESIGN.md, "The modular contract"):
what cannot be unrolled exactly is refused. transformers' own modular files were written for
upstream's converter, whose rules differ (`super().method(...)` copies the parent's body without
binding its arguments, `del self.x` drops a line, decorators carry over, `self.post_init()` moves
last, ...). `--dialect transformers` (converter/run.py, with `--tree`) applies those rules, each an
entry of `RULES` (rules.py) applied by the pass that owns that part of the merge, and records a
*drift* wherever an application changes what the modular code would do as Python: a warning with
`path:line:col`, the rule's code and one sentence. `--lint` prints the drifts without writing.

A pass records a drift with `drift(parsed, node, code, message)`; `convert_model` collects them
(`collecting()`) into `EmittedModel.warnings`, so they travel back from worker processes with the
files. A pass asks `parsed.layout.upstream` whether the dialect is on; the default dialect never
records anything.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol

import libcst as cst

from converter.diagnostics import Diagnostic
from converter.dialect.rules import RULES, Rule


class ParsedModule(Protocol):
    """What a drift needs of the modular file (converter/read/parse.py's ParsedModule; this package is a
    leaf, which imports no stage)."""

    def diagnostic(self, node: cst.CSTNode, code: str, message: str, fix: str) -> Diagnostic: ...

    def diagnostic_at(self, line: int, col: int, code: str, message: str, fix: str) -> Diagnostic: ...


__all__ = ["RULES", "Rule", "collecting", "drift", "drift_at", "rule_of"]

_DRIFTS: ContextVar[list[Diagnostic] | None] = ContextVar("drifts", default=None)


@contextmanager
def collecting() -> Iterator[list[Diagnostic]]:
    """Collect the drifts recorded while the block runs (nested blocks collect their own)."""
    found: list[Diagnostic] = []
    token = _DRIFTS.set(found)
    try:
        yield found
    finally:
        _DRIFTS.reset(token)


def drift(parsed: ParsedModule, node: cst.CSTNode, code: str, message: str) -> None:
    """Record that applying rule `code` at `node` (a node of the modular file) changes what the
    modular code would do as Python; `message` is one sentence saying how."""
    rule = rule_of(code)
    record(parsed.diagnostic(node, code, message, rule.fix))


def drift_at(parsed: ParsedModule, line: int, col: int, code: str, message: str) -> None:
    """`drift` at a 1-based line and column of the modular file."""
    rule = rule_of(code)
    record(parsed.diagnostic_at(line, col, code, message, rule.fix))


def record(diagnostic: Diagnostic) -> None:
    found = _DRIFTS.get()
    if found is not None and diagnostic not in found:
        found.append(diagnostic)


def rule_of(code: str) -> Rule:
    try:
        return RULES[code]
    except KeyError:
        raise ValueError(f"no dialect rule {code!r}; add it to converter/dialect/rules.py") from None
