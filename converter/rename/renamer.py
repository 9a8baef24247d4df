"""The rename rule as values: `Rename` (one base model's old -> new names and how a word of text
is renamed) and `RenameModel` (a transformer that applies it to every identifier, string piece and
comment of a tree). converter/rename/rename.py says the rule and decides which renames a module gets.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import libcst as cst

from converter.layout import is_sibling_import
from converter.syntax.names import NODE, SEQUENCE, VALUE_KINDS, node_fields, value_kind

N = TypeVar("N", bound=cst.CSTNode)

#: Nodes with nothing to rename below them, about a third of a tree: not walked.
LEAVES = frozenset({cst.SimpleWhitespace, cst.Newline})


@dataclass(frozen=True)
class Rename:
    """One base model's rename: `old_model` -> `new_model`, with their CamelCase forms."""

    old_model: str
    new_model: str
    old_camel: str
    new_camel: str
    any_case: bool = False  # prose (strings, comments) in a tree: every casing, as upstream (prose())
    #: f-string text is renamed too; not in the transformers dialect: upstream's renamer visits names,
    #: plain strings and comments only (`f"... initialize `CLIPTextConfig`"` stays in altclip)
    fstrings: bool = True

    def prose(self, value: str, identifier: bool = False) -> str:
        """A string literal's source or a comment: the rule; in a tree, upstream's rule instead, in one
        pass: its three forms as `text` maps them, any other casing (`RoBERTa`) to the new CamelCase
        name, after anything but a letter or digit. In an `identifier`, the lowercase model name
        followed by a lowercase letter stays, as upstream renames names (`use_mambapy` in
        falcon_mamba), while prose is renamed even inside a word (`sample` -> `sam2ple`)."""
        if not self.any_case or self.old_model == self.new_model:
            return self.text(value)
        forms = {self.old_model: self.new_model, self.old_model.upper(): self.new_model.upper()}
        forms[self.old_camel] = self.new_camel
        # An UPPER CamelCase name (`T5`) is one form: alone as a word it becomes the new UPPER name
        # (`SWITCH_TRANSFORMERS`), starting a longer name the new CamelCase one (`SwitchTransformersModel`).
        upper_camel = len(forms) == 2

        def replace(match: re.Match[str]) -> str:
            found, after = match[1], match[2]
            if identifier and found == self.old_model and after.islower():
                return found + after
            if upper_camel and found.isupper() and not after.isalpha():
                return self.new_model.upper() + after
            return forms.get(found, self.new_camel) + after

        return any_case_pattern(tuple(forms)).sub(replace, value)

    def name(self, value: str) -> str:
        """An identifier: the rule; in a tree, upstream's any-casing rule (`prose`), which renames names too
        (`Dinov3ViTDropPath` -> `EomtDinov3DropPath` for the dinov3_vit base, whose CamelCase name is `DINOv3ViT`)."""
        return self.prose(value, identifier=True) if self.any_case else self.text(value)

    def text(self, value: str) -> str:
        """`value` (an identifier, a string literal's source or a comment) with the rule applied."""
        pairs = (
            (self.old_camel, self.new_camel),
            (self.old_model, self.new_model),
            (self.old_model.upper(), self.new_model.upper()),
        )
        for before, after in pairs:
            if before != after:
                value = word_pattern(before).sub(after.replace("\\", "\\\\"), value)
        return value


@functools.cache
def any_case_pattern(forms: tuple[str, ...]) -> re.Pattern[str]:
    """Upstream's (`preserve_case_replace`): any casing of a form, not after a letter or digit."""
    alternatives = "|".join(re.escape(form) for form in forms)
    return re.compile(rf"(?<![a-z0-9])({alternatives})(.|$)", re.IGNORECASE | re.DOTALL)


@functools.cache
def word_pattern(word: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![A-Za-z0-9]){re.escape(word)}(?![a-z])")


class RenameModel(cst.CSTTransformer):
    """Apply a `Rename` to every identifier, string piece and comment of a tree."""

    def __init__(self, rename: Rename, imported: frozenset[str]) -> None:
        self.rename = rename
        self.imported = imported
        self.names: dict[str, str] = {}
        self.prose: dict[str, str] = {}

    def visit_Import(self, node: cst.Import) -> bool:
        return False

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        return is_sibling_import(node)

    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.Name:
        if original_node.value in self.imported:
            return updated_node
        return updated_node.with_changes(value=self.rename.name(updated_node.value))

    def leave_SimpleString(self, original_node: cst.SimpleString, updated_node: cst.SimpleString) -> cst.SimpleString:
        return updated_node.with_changes(value=self.rename.prose(updated_node.value))

    def leave_FormattedStringText(
        self, original_node: cst.FormattedStringText, updated_node: cst.FormattedStringText
    ) -> cst.FormattedStringText:
        if not self.rename.fstrings:
            return updated_node
        return updated_node.with_changes(value=self.rename.prose(updated_node.value))

    def leave_Comment(self, original_node: cst.Comment, updated_node: cst.Comment) -> cst.Comment:
        return updated_node.with_changes(value=self.rename.prose(updated_node.value))

    def leave_EmptyLine(
        self, original_node: cst.EmptyLine, updated_node: cst.EmptyLine
    ) -> cst.EmptyLine | cst.RemovalSentinel:
        """In a tree, a `# Copied from ...` comment line of base code is dropped, as upstream does: the
        code is generated from the modular file now, not copied."""
        comment = updated_node.comment
        if self.rename.any_case and comment is not None and "# Copied from" in comment.value:
            return cst.RemoveFromParent()
        return updated_node

    def apply(self, node: N) -> N:
        """`node.visit(self)`, several times faster: a walk of node fields with the same rules that
        rebuilds only the nodes something under them changes, so unchanged subtrees are `node`'s own
        objects (as libcst's visitor already keeps the imports it does not enter). Each name and
        string value is renamed once per renamer."""
        renamed = self.renamed_node(node)
        assert renamed is not None, "a `# Copied from` line is only dropped from its parent's sequence"
        return renamed  # type: ignore[return-value]

    def renamed_node(self, node: cst.CSTNode) -> cst.CSTNode | None:
        """`node` renamed (itself when nothing changes); None for a `# Copied from` line to drop."""
        kind = type(node)
        if kind is cst.Import or (kind is cst.ImportFrom and not is_sibling_import(node)):  # type: ignore[arg-type]
            return node
        changes: dict[str, object] = {}
        if kind is cst.Name:
            value = node.value  # type: ignore[attr-defined]
            if value not in self.imported and (new := self.renamed_text(value, self.names, self.rename.name)) != value:
                changes["value"] = new
        elif (
            kind is cst.SimpleString
            or kind is cst.Comment
            or (kind is cst.FormattedStringText and self.rename.fstrings)
        ):
            value = node.value  # type: ignore[attr-defined]
            if (new := self.renamed_text(value, self.prose, self.rename.prose)) != value:
                changes["value"] = new
        for name in node_fields(kind):
            value = getattr(node, name)
            value_type = type(value)
            if value_type in LEAVES:
                continue
            what = VALUE_KINDS.get(value_type) or value_kind(value_type)
            if what is NODE:
                child = self.renamed_node(value)
                assert child is not None, "a `# Copied from` line is only dropped from its parent's sequence"
                if child is not value:
                    changes[name] = child
            elif what is SEQUENCE:
                items = [
                    self.renamed_node(item) if is_node(item) and type(item) not in LEAVES else item for item in value
                ]
                if any(new is not old for new, old in zip(items, value, strict=True)):
                    changes[name] = tuple(item for item in items if item is not None)
        renamed = node.with_changes(**changes) if changes else node
        if kind is cst.EmptyLine and self.rename.any_case:
            comment = renamed.comment  # type: ignore[attr-defined]
            if comment is not None and "# Copied from" in comment.value:
                return None  # leave_EmptyLine's RemoveFromParent
        return renamed

    @staticmethod
    def renamed_text(value: str, cache: dict[str, str], rule: Callable[[str], str]) -> str:
        found = cache.get(value)
        if found is None:
            found = cache[value] = rule(value)
        return found


def is_node(value: object) -> bool:
    return (VALUE_KINDS.get(type(value)) or value_kind(type(value))) is NODE
