"""Diagnostics: what went wrong, where, and how to fix it.

Every pass reports problems as `Diagnostic` values and raises `ConversionError` carrying all
of them at once, so a run shows every error of a stage instead of the first one. The command
line prints them in the compiler style users know::

    modular/modular_llama.py:3:11: E001 syntax error: invalid syntax
        class LlamaConfig(:
                  ^
    fix: correct the syntax at the marked position, then rerun the converter

Codes, by the pass that reports them:

    E001-E004  parse          syntax error (CPython's parser first, then libcst's), bad file name,
                              a file not where modular files belong (outside the repository, or not
                              in modular/), unreadable (not found, dangling symlink, directory, ...)
    E005-E008  parse          not UTF-8 (at the first bad byte), a NUL byte, nested deeper than
                              libcst and the passes can follow (nesting.py), a file over 2 MiB
    E010       gather         a class or function defined twice
    E011       pipeline       two modular files for one model
    E020       imports        a file would import from a file of a later kind
    E030-E032  imports        star import, relative import, import from modular/ (or a leftover model)
    E040-E041  split/gather   `__all__` lists an undefined name / is not a literal list
    E050       split          the modular file defines nothing
    E090       format         ruff failed, or its output does not parse
    E091       format         the output uses a name its file neither defines nor imports
    E101-E105  resolve_bases  unknown base model, module or name; a name bound twice; an import form
                              that cannot be resolved
    E106       schedule       a cycle between modular files (`a -> b -> a`)
    E107       bases          a base file that cannot be read or parsed
    E201       merge_classes  a class with two model bases
    E202       merge_classes  `x = AttributeError()` for an attribute the base class does not have
    E203       unroll         a super() call that cannot be unrolled exactly (the message says why)
    E204-E205  merge_classes  a reference to a base name that the renamed file would redirect
    E206       trace          two different definitions (or imports) needed under one name
    E207       init_merge     `del self.x` that cannot remove exactly one base assignment; `del x` of a base local
    E208       signature      `**super_kwargs` misuse
    E209       merge_classes  a decorated base class
    E210       trace          a value the modular file redefines by assignment, read by inherited code
                              when that code is defined (a class body, a default argument, a decorator,
                              a module-level statement): Python gives it the base's value there
    E211       trace          modular code that reads, at definition time, a name the file defines only
                              further down (the converter would move that definition up)
    E212       merge_classes  removing a member that a parent class of the base class defines too, a
                              base model's or the runtime's (`PretrainedConfig`): the merged class would
                              expose the parent's member
    E213       merge_classes  an override dropping the base method's @staticmethod or @classmethod
    E214       merge_classes  `Parent.__init__()` (a base's instance dunder method) called without the instance
    E215       merge_classes  a class whose bases, once the model base is replaced by its own bases, would
                              not keep its method resolution order (or whose order depends on classes the
                              converter cannot read, such as torch's): converter/merge/classes/mro.py
    E216       init_merge     an `__init__` tail that replaces or deletes a base statement reading a field
                              the modular file removes (`x = AttributeError()`): super().__init__() raises there

Definition time: DESIGN rule 6 (the modular definition wins everywhere) matches plain Python only
where code looks a name up when it runs. For a value read once, when a statement executes, the
converter refuses (E210, E211) rather than pick one. Modular classes and functions replace the
base ones everywhere, definition-time reads in inherited code included (class bases, class
attributes naming them, decorators): `class GemmaModel(GemmaPreTrainedModel)` inherits the
modular GemmaPreTrainedModel, as every inheriting model relies on.
    E900       workers        the converter itself crashed on this file (a bug; the traceback follows)
    E901       workers        the worker process converting this file died (-j N), or its result
                              could not come back
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Diagnostic:
    """One problem at `path:line:col` (both 1-based); `source_line` feeds the caret display."""

    path: str
    line: int
    col: int
    code: str
    message: str
    fix: str
    source_line: str = ""

    def sort_key(self) -> tuple[str, int, int, str, str]:
        return (self.path, self.line, self.col, self.code, self.message)


class ConversionError(Exception):
    """Raised by a pass (or the whole run) with every diagnostic it found, in a stable order."""

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics: tuple[Diagnostic, ...] = tuple(sorted(diagnostics, key=Diagnostic.sort_key))
        super().__init__(format_diagnostics(self.diagnostics))


def format_diagnostic(diagnostic: Diagnostic) -> str:
    """`path:line:col: CODE message`, the source line with a caret under `col`, then `fix: ...`.

    The line shows at most SHOWN characters around `col`, its control and format characters (a
    terminal escape, a bidirectional override) as `?`, so a hostile line prints short and harmless."""
    message = diagnostic.message if len(diagnostic.message) <= 1000 else diagnostic.message[:997] + "..."
    lines = [f"{diagnostic.path}:{diagnostic.line}:{diagnostic.col}: {diagnostic.code} {message}"]
    source, col = shown_line(diagnostic.source_line.rstrip("\r\n"), diagnostic.col)
    if source:
        lines.append(f"    {source}")
        # Tabs stay tabs so the caret lines up with the character above it in any terminal.
        prefix = "".join(char if char == "\t" else " " for char in source[: max(col - 1, 0)])
        lines.append(f"    {prefix}^")
    lines.append(f"fix: {diagnostic.fix}")
    return "\n".join(lines)


SHOWN = 160


def shown_line(source: str, col: int) -> tuple[str, int]:
    """(the part of `source` shown around `col`, made printable; the caret's column in it)."""
    if len(source) > SHOWN:
        start = max(0, min(col - 1 - SHOWN // 2, len(source) - SHOWN))
        lead = "..." if start else ""
        source, col = (
            lead + source[start : start + SHOWN] + ("..." if start + SHOWN < len(source) else ""),
            col - start + len(lead),
        )
    printable = "".join("?" if char != "\t" and unicodedata.category(char) in UNPRINTABLE else char for char in source)
    return printable, col


UNPRINTABLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


#: The most diagnostics printed in full; a run with more (one undefined name used 5,000 times)
#: ends with how many are left out.
MAX_PRINTED = 100


def format_diagnostics(diagnostics: Iterable[Diagnostic]) -> str:
    found = list(diagnostics)
    printed = [format_diagnostic(diagnostic) for diagnostic in found[:MAX_PRINTED]]
    if len(found) > MAX_PRINTED:
        printed.append(f"... and {len(found) - MAX_PRINTED} more diagnostics")
    return "\n".join(printed)
