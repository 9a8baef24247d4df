"""Pass merge_classes: a modular class that subclasses a base-model class becomes a full class.

    class MistralConfig(LlamaConfig):          class MistralConfig(PretrainedConfig):
        model_type = "mistral"          ->         <LlamaConfig's body, renamed, with
        sliding_window: int | None = 4096           model_type replaced in place and
        mlp_bias = AttributeError()                 sliding_window after the base's fields,
                                                    mlp_bias removed>

- The class keeps the base class's bases (renamed) in place of the model base, plus its own
  other bases (`GenerationMixin`), without repeats (converter/merge/classes/class_bases.py), provided that keeps
  the class's method resolution order (converter/merge/classes/mro.py; else E215). Two model bases: E201.
- Methods replace the base method of the same name in place (see converter/merge/unroll.py for the
  super() calls inside them); new methods are appended. A method whose body only raises
  AttributeError removes the inherited one.
- Attributes and the docstring replace the base's in place; new ones go after the base's last
  attribute. `x = 1` over a base field `x: int = 0` keeps the annotation (`x: int = 1`), since the
  field stays a field in the overlay. `x = AttributeError()` removes `x` (E202 if the base has none).
- References to imported base names elsewhere in the modular code become the renamed names
  (`LlamaRMSNorm` -> `MistralRMSNorm`). When the modular file redefines that renamed name, the
  reference would silently switch to the new class, unlike the overlay: E205. Annotations are
  exempt (they change no behaviour).
- An explicit `Base.method(self, ...)` means "do not unroll": a runtime base (`nn.Module.__init__`)
  stays as written; a model class stays a call to the renamed class, which is then pulled into
  the output, unless the modular file redefines that name (`LlamaAttention.forward(self, ...)` in
  `MistralAttention` would call itself): E204, use super() to unroll.
- Removing a member that a parent class of the base class defines too (`ToyModel.score` over
  `ToyThing.score`) would only expose the parent's member: E212.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import libcst as cst

from converter.diagnostics import ConversionError, Diagnostic
from converter.layout import Library
from converter.merge.classes.class_bases import BasesCheck, flattened_bases
from converter.merge.classes.library_members import library_members
from converter.merge.decorators import without_no_inherit
from converter.merge.members import classify_members, member_kind, member_name, removes_attribute, removes_method
from converter.merge.override import Override
from converter.merge.parent_calls import parent_calls_to_super, selfless_parent_calls
from converter.merge.unroll import strip_docstring
from converter.merge.upstream_bases import upstream_bases
from converter.merge.upstream_classes import UpstreamClasses
from converter.merge.upstream_members import upstream_removes
from converter.read.parse import ParsedModule
from converter.read.resolve import is_model_import
from converter.rename.namespace import BaseDefinition, BaseNamespace
from converter.rename.prefixes import cased_name, common_partial_suffix, lowercase_name, mapped_names
from converter.rename.rename import RenamedModule
from converter.rename.renamer import Rename
from converter.syntax.names import CollectMentions, bound_names, code_of, mentioned_names, substitute_names


@dataclass(frozen=True)
class ModularStatement:
    """A top-level statement of the modular file after merging; `origin` is the statement as written."""

    node: cst.BaseStatement
    origin: cst.BaseStatement
    base: BaseDefinition | None


@dataclass(frozen=True)
class MergedModule:
    renamed: RenamedModule
    statements: tuple[ModularStatement, ...]


def merge_classes(renamed: RenamedModule) -> MergedModule:
    """Merge every modular class with its base class; raises ConversionError (E201-E209)."""
    parsed = renamed.resolved.parsed
    if not renamed.namespaces:
        return MergedModule(renamed, tuple(ModularStatement(s, s, None) for s in parsed.module.body))
    defined = bound_names([s for s in parsed.module.body if not is_import_line(s)])
    check = BasesCheck(renamed, lambda statement: model_base_of(statement, renamed))
    upstream = UpstreamClasses(renamed, check) if parsed.layout.upstream else None
    diagnostics: list[Diagnostic] = []
    statements = []
    for statement in parsed.module.body:
        try:
            statements += merge_statement(statement, renamed, defined, check, upstream)
        except ConversionError as error:
            diagnostics += error.diagnostics
    if diagnostics:
        raise ConversionError(diagnostics)
    if upstream is not None:
        upstream.judge([s.node for s in statements if isinstance(s.node, cst.ClassDef)])
    if parsed.layout.tree and upstream is None:
        # upstream writes a class it does not merge as the modular file does, its
        # `Ancestor.method(self, ...)` calls included (those of a merged class: upstream_calls.py)
        statements = explicit_calls_to_super(statements, renamed)
    return MergedModule(renamed, tuple(statements))


def explicit_calls_to_super(statements: list[ModularStatement], renamed: RenamedModule) -> list[ModularStatement]:
    """In a tree, `Ancestor.method(self, ...)` becomes `super().method(...)` where exact (parent_calls.py)."""
    classes = {s.node.name.value: s.node for s in statements if isinstance(s.node, cst.ClassDef)}

    def lookup(name: str) -> cst.ClassDef | None:
        if name in classes:
            return classes[name]
        for namespace in renamed.namespaces:
            definition = namespace.definition(name)
            if definition is not None and isinstance(definition.node, cst.ClassDef):
                return definition.node
        return None

    return [
        dataclasses.replace(s, node=parent_calls_to_super(s.node, lookup)) if isinstance(s.node, cst.ClassDef) else s
        for s in statements
    ]


def is_import_line(statement: cst.BaseStatement) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and all(
        isinstance(small, (cst.Import, cst.ImportFrom)) for small in statement.body
    )


def merge_statement(
    statement: cst.BaseStatement,
    renamed: RenamedModule,
    defined: frozenset[str],
    check: BasesCheck,
    upstream: UpstreamClasses | None = None,
) -> Iterator[ModularStatement]:
    if isinstance(statement, cst.SimpleStatementLine) and any(is_model_import(s) for s in statement.body):
        kept = [small for small in statement.body if not is_model_import(small)]
        if kept:
            yield ModularStatement(statement.with_changes(body=kept), statement, None)
        return
    parsed = renamed.resolved.parsed
    model_base = find_model_base(statement, renamed) if isinstance(statement, cst.ClassDef) else None
    skip = {id(model_base[0].value)} if model_base else set()
    diagnostics = [*check_alias_uses(statement, renamed, defined, skip)]
    if diagnostics:
        raise ConversionError(diagnostics)
    node, base = statement, None
    if model_base is not None:
        assert isinstance(statement, cst.ClassDef)
        arg, base = model_base
        if upstream is None:
            check_removals(statement, arg, base, renamed)
        else:
            for member, name, _ in removed_members(statement, base, renamed, upstream_removes):
                upstream.removed(member, name, statement.name.value)
        node = merge_class(statement, arg, base, parsed, check, upstream)
    aliases = {alias: target for alias in renamed.aliases if (target := renamed.target(alias)) != alias}
    [node] = substitute_names([node], {alias: aliases[alias] for alias in sorted(aliases)})
    if isinstance(node, cst.ClassDef) and isinstance(statement, cst.ClassDef) and upstream is None:
        check_parent_calls(statement, node, parsed)
    yield ModularStatement(node, statement, base)


def check_parent_calls(statement: cst.ClassDef, merged: cst.ClassDef, parsed: ParsedModule) -> None:
    """E214: `Parent.__init__()` and the like without the instance, a TypeError in Python."""
    parents = {code_of(arg.value) for arg in (*statement.bases, *merged.bases)}
    calls = selfless_parent_calls(statement, parents)
    if calls:
        func = calls[0].func
        assert isinstance(func, cst.Attribute)
        written = code_of(calls[0])
        message = f"{written} passes no instance: Python raises TypeError (missing 'self')"
        fix = f"write super().{func.attr.value}(...), or pass self first: {code_of(func)}(self, ...)"
        raise ConversionError([parsed.diagnostic(calls[0], "E214", message, fix)])


def model_base_of(statement: cst.ClassDef, renamed: RenamedModule) -> BaseDefinition | None:
    found = find_model_base(statement, renamed)
    return found[1] if found is not None else None


def find_model_base(statement: cst.ClassDef, renamed: RenamedModule) -> tuple[cst.Arg, BaseDefinition] | None:
    """The base argument naming a base-model class, with that class; E201 when there are two."""
    found = []
    for arg in statement.bases:
        item = renamed.aliases.get(arg.value.value) if isinstance(arg.value, cst.Name) else None
        if item is None:
            continue
        target = renamed.target(item.alias)
        namespace = renamed.namespace(item.model)
        if renamed.resolved.parsed.layout.upstream and item.stem:  # the class of the file imported from
            definition = namespace.definition_in(target or "", item.stem)
        else:
            definition = namespace.definition(target or "")
        if definition is not None and isinstance(definition.node, cst.ClassDef):
            found.append((arg, definition))
    if len(found) > 1:
        names = " and ".join(arg.value.value for arg, _ in found if isinstance(arg.value, cst.Name))
        message = f"{statement.name.value} has two model bases, {names}"
        fix = "inherit from one model class; move shared code into a runtime mixin"
        raise ConversionError([renamed.resolved.parsed.diagnostic(found[1][0], "E201", message, fix)])
    return found[0] if found else None


def check_removals(statement: cst.ClassDef, arg: cst.Arg, base: BaseDefinition, renamed: RenamedModule) -> None:
    """E212: removing a member that a parent class of the base class defines too.

    Dropping it from the merged body would expose the parent's member, where the overlay's class
    has none. Parents are looked up among the base model's classes, then in the body of each
    library class the base class names as a base (`PretrainedConfig`, whose fields the runtime
    refuses to remove too); classes outside the library (`nn.Module`) are not inspected.
    """
    base_class = base.node
    assert isinstance(base_class, cst.ClassDef)
    written = arg.value.value if isinstance(arg.value, cst.Name) else base_class.name.value
    diagnostics = []
    for member, name, parent in removed_members(statement, base, renamed, removes):
        if parent is not None:
            where, what = statement.name.value, f"{parent}.{name}"
            message = (
                f"{where} removes {name}, but {parent}, a parent class of {written}, defines {name} too: "
                f"the generated {where} would inherit {what} instead of having no {name}"
            )
            fix = f"override {name} in {where} with what it should do, or delete these lines to keep {written}.{name}"
            diagnostics.append(renamed.resolved.parsed.diagnostic(member, "E212", message, fix))
    if diagnostics:
        raise ConversionError(diagnostics)


def removes(member: cst.BaseStatement, base: cst.BaseStatement | None) -> bool:
    """The repository's removals (members.py): `x = AttributeError()`, a method raising AttributeError."""
    return removes_attribute(member) or removes_method(member)


def removed_members(
    statement: cst.ClassDef,
    base: BaseDefinition,
    renamed: RenamedModule,
    removal: Callable[[cst.BaseStatement, cst.BaseStatement | None], bool],
) -> Iterator[tuple[cst.BaseStatement, str, str | None]]:
    """(member, its name, the parent class of the base class that defines it too, if any) for each
    member of `statement` that `removal` says removes a member of the base class."""
    base_class = base.node
    assert isinstance(base_class, cst.ClassDef)
    present = {member_name(s): s for s in strip_docstring(base_class.body)}
    namespace = renamed.namespace(base.model)
    for member in strip_docstring(statement.body):
        name = member_name(member)
        if name is None or name not in present or not removal(member, present[name]):
            continue
        parent = parent_defining(base_class, name, namespace) or library_parent_defining(
            base_class, name, namespace, renamed.resolved.library
        )
        yield member, name, parent


def parent_defining(class_def: cst.ClassDef, name: str, namespace: BaseNamespace) -> str | None:
    """The first class among the (transitive) model bases of `class_def` whose body defines `name`."""
    seen: set[str] = set()
    work = [arg.value.value for arg in class_def.bases if isinstance(arg.value, cst.Name) and arg.keyword is None]
    while work:
        parent = work.pop(0)
        definition = namespace.definition(parent) if parent not in seen else None
        seen.add(parent)
        if definition is None or not isinstance(definition.node, cst.ClassDef):
            continue
        if name in {member_name(s) for s in statements_of(definition.node.body)}:
            return parent
        work += [a.value.value for a in definition.node.bases if isinstance(a.value, cst.Name) and a.keyword is None]
    return None


def library_parent_defining(
    class_def: cst.ClassDef, name: str, namespace: BaseNamespace, library: Library | None
) -> str | None:
    """The first library class among the direct bases of `class_def` (as its model file imports
    them) whose own body defines `name`."""
    for arg in class_def.bases:
        binding = namespace.binding(arg.value.value) if isinstance(arg.value, cst.Name) else None
        if library is None or binding is None or arg.keyword is not None or not binding.key[0]:
            continue
        module, imported = binding.key
        if name in (library_members(library, module, imported) or ()):
            return arg.value.value
    return None


def check_alias_uses(
    statement: cst.BaseStatement, renamed: RenamedModule, defined: frozenset[str], skip: set[int]
) -> Iterator[Diagnostic]:
    """E204/E205: a reference to an imported base name whose renamed name this file redefines."""
    shadowed = {alias: target for alias in renamed.aliases if (target := renamed.target(alias)) in defined}
    # Most statements mention no shadowed alias: one quick walk (names.py) spares them the three visits.
    if not shadowed or not any(n.value in shadowed and id(n) not in skip for n in mentioned_names(statement)):
        return
    mentions, annotations, explicit = CollectMentions(), CollectAnnotationNames(), CollectExplicitCalls()
    for visitor in (mentions, annotations, explicit):
        statement.visit(visitor)
    parsed = renamed.resolved.parsed
    for node in mentions.nodes:
        if node.value not in shadowed or id(node) in skip or id(node) in annotations.ids:
            continue
        alias, target = node.value, shadowed[node.value]
        if id(node) in explicit.methods:
            method = explicit.methods[id(node)]
            message = f"{alias}.{method}(self, ...) would call {target}.{method} itself in the generated file"
            yield parsed.diagnostic(node, "E204", message, f"write super().{method}(...) to unroll the base method")
        else:
            message = f"{alias} is renamed to {target}, which this file redefines: the reference would change meaning"
            yield parsed.diagnostic(node, "E205", message, f"write {target} to use the class defined here")


class CollectAnnotationNames(cst.CSTVisitor):
    def __init__(self) -> None:
        self.ids: set[int] = set()

    def visit_Annotation(self, node: cst.Annotation) -> None:
        mentions = CollectMentions()
        node.annotation.visit(mentions)
        self.ids.update(id(name) for name in mentions.nodes)


class CollectExplicitCalls(cst.CSTVisitor):
    """`Base.method(self, ...)`: id of the `Base` name -> method."""

    def __init__(self) -> None:
        self.methods: dict[int, str] = {}

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and node.args:
            first = node.args[0].value
            if isinstance(first, cst.Name) and first.value == "self":
                self.methods[id(func.value)] = func.attr.value


def merge_class(
    statement: cst.ClassDef,
    arg: cst.Arg,
    base: BaseDefinition,
    parsed: ParsedModule,
    check: BasesCheck,
    upstream: UpstreamClasses | None = None,
) -> cst.ClassDef:
    base_class = base.node
    assert isinstance(base_class, cst.ClassDef)
    # In a transformers tree (converter/layout.py) class decorators register or document the class
    # (`@auto_docstring`, `@use_kernel_forward_from_hub(...)`); upstream re-applies the base's to the
    # merged class unless the modular class has its own. The repository refuses (E209).
    if base_class.decorators and not parsed.layout.tree:
        message = f"cannot merge {statement.name.value} exactly: its base {base_class.name.value} is decorated"
        fix = "define the class in full in the modular file"
        raise ConversionError([parsed.diagnostic(arg, "E209", message, fix)])
    if parsed.layout.tree:
        base_class = prose_renamed(base_class, statement.name.value, mapped_names(parsed.path.resolve().parent.parent))
    written = arg.value.value if isinstance(arg.value, cst.Name) else base_class.name.value
    flat = flattened_bases(statement, arg, base_class)

    def exact() -> list[cst.Arg]:
        return (
            check.bases(statement, arg, base, flat) if check.needed(statement, flat) else [item.arg for item in flat]
        )

    own = statement
    if upstream is None:
        bases = exact()
    else:
        bases = upstream_bases(parsed, statement, arg, base_class, exact, upstream.bases, upstream.descends)
        own = upstream.before_merge(statement, base_class, bases)
    override = Override(parsed, statement.name.value, written, methods_of(base_class))
    body = merge_body(own, base_class, override)
    keywords = {keyword_name(k): k for k in (*base_class.keywords, *statement.keywords)}
    merged = base_class.with_changes(
        name=statement.name,
        bases=bases,
        keywords=[k.with_changes(comma=cst.MaybeSentinel.DEFAULT) for k in keywords.values()],
        body=indented(base_class.body, body),
        decorators=class_decorators(statement, base_class),
        leading_lines=leading_comments(statement, base_class, parsed.layout.tree),
    )
    return upstream.after_merge(merged) if upstream is not None else merged


def prose_renamed(base_class: cst.ClassDef, new_name: str, known: Mapping[str, str]) -> cst.ClassDef:
    """In a tree, the strings and comments of a base class whose (renamed) name has another prefix
    than the modular class's speak of the new prefix, as upstream writes them; code is not touched.
    The base file's rename (converter/rename/prefixes.py) gives one prefix per file: `ParakeetConvolutionModule`
    for `class ParakeetEncoderConvolutionModule(FastSpeech2ConformerConvolutionModule)` (`ParakeetEncoder`
    would collide with FastSpeech2ConformerEncoder), whose docstring then says `ParakeetEncoderConfig`.
    Lowercase forms are upstream's (`lowercase_name`): the tree's model type of the prefix (`known`,
    `MiniMaxM3VL` -> `minimax_m3_vl`), else its words (`MiniMaxM3Sparse` -> `mini_max_m3_sparse`)."""
    old_name = base_class.name.value
    suffix = common_partial_suffix(old_name, new_name)
    old, new = old_name.replace(suffix, ""), new_name.replace(suffix, "")
    if not old or not new or old == new:
        return base_class
    old_lower, new_lower = lowercase_name(old, known), lowercase_name(new, known)
    old_cased, new_cased = cased_name(old_lower, known), cased_name(new_lower, known)
    if old_cased == new_cased:
        return base_class
    rename = Rename(old_lower, new_lower, old_cased, new_cased, any_case=True)
    renamed = base_class.visit(ProseOnly(rename))
    assert isinstance(renamed, cst.ClassDef)
    return renamed


class ProseOnly(cst.CSTTransformer):
    """A `Rename` applied to string literals and comments only."""

    def __init__(self, rename: Rename) -> None:
        self.rename = rename

    def leave_SimpleString(self, original_node: cst.SimpleString, updated_node: cst.SimpleString) -> cst.SimpleString:
        return updated_node.with_changes(value=self.rename.prose(updated_node.value))

    def leave_Comment(self, original_node: cst.Comment, updated_node: cst.Comment) -> cst.Comment:
        return updated_node.with_changes(value=self.rename.prose(updated_node.value))


def is_copied_from(line: cst.EmptyLine) -> bool:
    """A `# Copied from ...` marker, which upstream does not carry into generated files."""
    return line.comment is not None and line.comment.value.startswith("# Copied from")


def class_decorators(statement: cst.ClassDef, base_class: cst.ClassDef) -> list[cst.Decorator]:
    """The modular class's decorators, else the base class's. `@no_inherit_decorator` (upstream's
    marker) stands for "none of the base's" and is dropped itself."""
    own = without_no_inherit(statement.decorators)
    return own if own or len(own) < len(statement.decorators) else list(base_class.decorators)


def leading_comments(statement: cst.ClassDef, base_class: cst.ClassDef, tree: bool = False) -> Sequence[cst.EmptyLine]:
    """The modular class's comment lines above it, else the base class's (which describe the code
    merged in). In a tree, the base class's only, as upstream writes a merged class."""
    if tree:
        statement = statement.with_changes(
            leading_lines=[line for line in statement.leading_lines if line.comment is None]
        )
    if any(line.comment is not None for line in statement.leading_lines):
        return statement.leading_lines
    lines = [line for line in base_class.leading_lines if not is_copied_from(line)]
    first = next((index for index, line in enumerate(lines) if line.comment is not None), len(lines))
    return [*statement.leading_lines, *lines[first:]] if first < len(lines) else statement.leading_lines


def keyword_name(arg: cst.Arg) -> str:
    return arg.keyword.value if arg.keyword is not None else ""


def methods_of(class_def: cst.ClassDef) -> Mapping[str, cst.FunctionDef]:
    statements = statements_of(class_def.body)
    return {s.name.value: s for s in statements if isinstance(s, cst.FunctionDef)}


def statements_of(body: cst.BaseSuite) -> list[cst.BaseStatement]:
    if isinstance(body, cst.IndentedBlock):
        return list(body.body)
    return [cst.SimpleStatementLine([small]) for small in body.body]


def indented(template: cst.BaseSuite, body: Sequence[cst.BaseStatement]) -> cst.IndentedBlock:
    statements = list(body) or [cst.SimpleStatementLine([cst.Pass()])]
    if isinstance(template, cst.IndentedBlock):
        return template.with_changes(body=statements)
    return cst.IndentedBlock(body=statements)


def merge_body(statement: cst.ClassDef, base_class: cst.ClassDef, override: Override) -> list[cst.BaseStatement]:
    """The base body with the modular members merged in (see the module docstring)."""
    base_all, own_all = statements_of(base_class.body), statements_of(statement.body)
    base_rest, own_rest = strip_docstring(base_class.body), strip_docstring(statement.body)
    docstring = own_all[: len(own_all) - len(own_rest)] or base_all[: len(base_all) - len(base_rest)]
    upstream = override.parsed.layout.upstream
    if upstream:
        docstring, own_rest, base_rest = upstream_docstring(own_all, base_all, base_rest)
    base_names = [member_name(s) for s in base_rest]
    members = classify_members(own_rest, base_rest, base_names, override)
    out: list[cst.BaseStatement] = list(docstring)
    emitted: set[str] = set()
    # upstream keeps a base attribute written twice once, where it comes first, with its last value
    last = {n: s for s, n in zip(base_rest, base_names, strict=True) if upstream and member_kind(s) == "attribute"}
    attributes_end = len(out)
    for base_statement, name in zip(base_rest, base_names, strict=True):
        if name is not None and name in members.removed:
            continue
        if name is not None and name in members.replacements:
            if name not in emitted:
                out += members.replacements[name]
            emitted.add(name)
        elif name in last:
            if name not in emitted:
                out.append(last[name])
            emitted.add(name)
        else:
            out.append(base_statement)
        if member_kind(base_statement) == "attribute":
            attributes_end = len(out)
    out[attributes_end:attributes_end] = members.new_attributes
    out += members.new_methods
    if override.parsed.layout.tree:  # upstream writes an empty merged body as `pass`, never `...`
        out = [s for s in out if not is_ellipsis(s)]
    return out


def upstream_docstring(
    own_all: list[cst.BaseStatement], base_all: list[cst.BaseStatement], base_rest: list[cst.BaseStatement]
) -> tuple[list[cst.BaseStatement], list[cst.BaseStatement], list[cst.BaseStatement]]:
    """(docstring, modular members, base members) as upstream splits a class body: its docstring is every
    line that is a triple-quoted string alone, wherever it stands (`model_type = ...` first, say), the
    modular class's if it has one, else the base's. Documentation only: no drift."""
    own_docs = [s for s in own_all if is_docstring_line(s)]
    base_docs = [s for s in base_all if is_docstring_line(s)]
    own_rest = [s for s in own_all if not is_docstring_line(s)]
    return own_docs or base_docs, own_rest, [s for s in base_rest if not is_docstring_line(s)]


def is_docstring_line(statement: cst.BaseStatement) -> bool:
    """Upstream's DOCSTRING_NODE: a line holding only a string with `\"\"\"...\"\"\"` in it."""
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return False
    small = statement.body[0]
    string = small.value if isinstance(small, cst.Expr) else None
    return isinstance(string, cst.SimpleString) and re.search(r'"""[\s\S]*"""', string.value) is not None


def is_ellipsis(statement: cst.BaseStatement) -> bool:
    return (
        isinstance(statement, cst.SimpleStatementLine)
        and len(statement.body) == 1
        and isinstance(statement.body[0], cst.Expr)
        and isinstance(statement.body[0].value, cst.Ellipsis)
    )
