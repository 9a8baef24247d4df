"""Pass trace_dependencies: build the standalone module, pulling in every base definition it needs.

Starting from the modular statements (classes merged), every module-level name they use is
resolved, transitively, in this order:

1. the modular file defines or imports it: nothing to pull (the modular definition wins everywhere,
   inside inherited code too);
2. it is the renamed name of an explicit base import (`from generated.llama.modeling_llama import
   repeat_kv` in a file based on gemma): that model's definition, which so replaces the main
   base's one (in the transformers dialect, for a class only where the using code's own model
   does not define one of that name: upstream shares imported functions across base files, not
   imported classes);
3. the namespace the using code comes from (a merged class's base model; the main base for
   modular code), then the main base: a definition is pulled (renamed), an import is carried over.
   In the transformers dialect, a name the bases import (plainly or under an `if` guard) is
   carried over as the base file the modular file imports from first writes it, as upstream does;
   and a library import of the modular file gives way to the definition of a merged class's base
   file (converter/trace/shadowed.py, W340).

A helper used by base code is the one of the user's own base file (its module's global). Two
different definitions (or imports) needed under one name cannot both exist in one module: E206. The
transformers dialect builds each generated file on its own, as upstream does: a definition from a
base file of another kind (the PIL image processor's `convert_coco_poly_to_mask`, not the torch
one's) becomes a variant that the files of that kind get instead (Tracer.add_variant, ParsedModule.
variants); within one kind it keeps the first one pulled in (W326). Imports between base files
and from other models disappear; the split pass later imports the config class from the sibling
`configuration_<model>.py`.

Order: modular docstring, `from __future__` imports, the modular file's imports, carried imports,
then definitions: each at the position of the base definition of the same name (merged classes
take their base's place; pulled ones keep base order), new modular definitions after them in
modular order, then moved just before their first user where a use requires it (a stable
depth-first order, so definitions come before use). `__all__`: the modular file's, else the base
models' `__all__` names the output defines, then the new public modular classes.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import libcst as cst
from libcst.metadata import MetadataWrapper

from converter.diagnostics import ConversionError, Diagnostic
from converter.dialect import drift
from converter.layout import DEFAULT_KIND, TREE_KIND_RULES, TREE_KINDS, file_kind, stem_of
from converter.merge.merge import MergedModule, ModularStatement, is_copied_from
from converter.read.gather import DefinitionKind, kind_of
from converter.read.parse import LazyPositions, ParsedModule
from converter.rename.namespace import BaseDefinition, BaseNamespace, ImportBinding, all_names
from converter.rename.rename import RenamedModule
from converter.syntax.names import analyse_statement, bound_names, code_of, mentions
from converter.trace.definition_time import check_definition_time
from converter.trace.prune import is_import_block
from converter.trace.redefined import base_assignments_kept, one_definition_per_name, per_kind_assignments
from converter.trace.shadowed import base_over_imports, report, without_names

Key = tuple[int, ...]


@dataclass(frozen=True)
class Placed:
    """A definition of the output with what it defines and uses, and its preferred position."""

    node: cst.BaseStatement
    names: tuple[str, ...]
    uses: tuple[str, ...]
    key: Key
    origin: tuple[int, int]


class Tracer:
    """Resolves names to pull, transitively; collects diagnostics instead of stopping at the first."""

    def __init__(
        self, renamed: RenamedModule, modular_bound: frozenset[str], modular_classes: frozenset[str] = frozenset()
    ) -> None:
        self.renamed = renamed
        self.modular_bound = modular_bound
        self.modular_classes = modular_classes
        self.main = renamed.namespaces[0]
        self.explicit = {}
        self.import_order: dict[str, int] = {}
        for item in renamed.resolved.imports:
            self.import_order.setdefault(item.model, len(self.import_order))
            self.explicit.setdefault(renamed.target(item.alias) or "", item.model)
        self.definitions: dict[str, BaseDefinition] = {}
        #: transformers dialect: (name, file kind) -> the definition the files of that kind get instead
        #: of `definitions[name]`, when their base file defines the name otherwise (see add_definition)
        self.variants: dict[tuple[str, str], BaseDefinition] = {}
        self.followed: set[int] = set()  # ids of definitions written alike from another kind's file (follow)
        #: ids of definitions pulled only for a name a nested scope shadows (shadowed_mentions): they go to
        #: the files of their own file's kind only, as upstream finds them in that base file alone
        self.shadow_only: set[int] = set()
        #: transformers dialect: a definition W326 leaves out, with the modular statement whose code needed
        #: it; and for each such statement (by id of its origin), the names that definition uses: upstream
        #: still writes them, before that statement (rf_detr's repeat_kv, which lw_detr's
        #: eager_attention_forward calls, though dinov2's is kept)
        self.rejected: list[tuple[BaseDefinition, cst.CSTNode]] = []
        self.rejected_uses: dict[int, set[str]] = {}
        self.imports: dict[str, ImportBinding] = {}
        self.diagnostics: list[Diagnostic] = []
        self.reported: set[str] = set()

    @functools.cached_property
    def upstream(self) -> bool:
        return self.renamed.resolved.parsed.layout.upstream

    @property
    def visit_order(self) -> Mapping[tuple[str, str], int]:
        return self.renamed.visit_order

    def first_import(self, name: str) -> ImportBinding | BaseDefinition | None:
        """Transformers dialect: the base import of `name` upstream writes, that of the base file the modular
        file imports from first (then the first in that file): a plain import or a guarded one."""
        found: list[tuple[tuple[int, int, int], ImportBinding | BaseDefinition]] = []
        for namespace in self.renamed.namespaces:
            stems = [stem for stem, _, _ in namespace.files]
            candidates: list[ImportBinding | BaseDefinition] = [b for b in namespace.imports if b.name == name]
            candidates += [d for d in namespace.definitions if name in d.names and is_import_block(d.node)]
            for candidate in candidates:
                file, index = candidate.rank
                stem = stems[file] if 0 <= file < len(stems) else ""
                where = self.visit_order.get((namespace.model, stem), len(self.visit_order))
                found.append(((where, file, index), candidate))
        return min(found, key=lambda item: item[0])[1] if found else None

    def rank(self, binding: ImportBinding) -> int:
        """Where the modular file first imports from the base model `binding` comes from (upstream
        writes an import two bases share as the first of them writes it)."""
        return self.import_order.get(self.binding_models.get(id(binding), ""), len(self.import_order))

    @functools.cached_property
    def binding_models(self) -> dict[int, str]:
        """id of each base import binding -> the first base model whose namespace holds it."""
        models: dict[int, str] = {}
        for namespace in self.renamed.namespaces:
            for binding in namespace.imports:
                models.setdefault(id(binding), namespace.model)
        return models

    def pull(self, names: Iterable[str], model: str, origin: cst.CSTNode, path: str | None = None) -> None:
        """Pull `names`, used by code of base model `model` (from base file `path`, when known)."""
        work = [(name, model, path) for name in names]
        shadowed: list[tuple[str, str, str | None]] = []  # names only a nested scope reads (shadowed_mentions)
        while work or shadowed:
            shadow = not work
            name, context, user_path = (work or shadowed).pop(0)
            if name in self.modular_bound:
                own_class = self.upstream and name in self.modular_classes
                guard = guarded_in_file(self.renamed.namespace(context), name, user_path) if own_class else None
                if guard is not None and self.add_guard(guard):
                    work += [(use, guard.model, guard.path) for use in guard.uses if use not in guard.names]
                continue
            namespace = self.renamed.namespace(self.source_model(name, context))
            definition = namespace.definition(name) or self.main.definition(name)
            if user_path is not None and namespace.model == context and name not in self.explicit:
                definition = defined_in_file(namespace, name, user_path) or definition
            guarded_elsewhere = definition is not None and user_path not in (None, definition.path)
            if self.upstream and guarded_elsewhere and is_import_block(definition.node):
                definition = defined_outright(name, (namespace, self.main)) or definition
            if self.upstream and (definition is None or is_import_block(definition.node)):
                first = self.first_import(name)
                if isinstance(first, ImportBinding):
                    self.add_import(name, first, origin)
                    continue
                definition = first or definition
            if self.upstream and definition is not None and user_path is not None:
                binding = self.unvisited_sibling(name, definition, user_path)
                if binding is not None:
                    self.add_import(name, binding, origin)
                    continue
            if definition is not None:
                if self.add_definition(name, definition, origin):
                    if shadow:
                        self.shadow_only.add(id(definition))
                    (shadowed if shadow else work).extend(
                        (use, definition.model, definition.path) for use in definition.uses
                    )
                    if self.upstream:
                        shadowed += [
                            (use, definition.model, definition.path) for use in self.shadowed_mentions(definition)
                        ]
                elif not shadow:
                    self.shadow_only.discard(id(definition))
                for rejected, user in self.rejected:  # what upstream brings for the definition it left out
                    self.rejected_uses.setdefault(id(user), set()).update(rejected.uses)
                    work += [(use, rejected.model, rejected.path) for use in rejected.uses]
                self.rejected.clear()
                continue
            binding = namespace.binding(name) or self.main.binding(name)
            if binding is not None:
                self.add_import(name, binding, origin)
            elif name in namespace.sibling_mismatches and name not in self.reported:
                self.reported.add(name)
                self.diagnostics.append(self.renamed_apart(name, namespace, origin))

    def source_model(self, name: str, context: str) -> str:
        """The base model whose definition of `name` code from base model `context` gets: that of an
        explicit import of the name (rule 2). In the transformers dialect only for a function or an
        assignment: upstream shares the modular file's imported functions with every base file it
        visits, not its imported classes, so a class the using code's own model defines is that
        model's (phi4_multimodal: Phi3DecoderLayer's Phi3MLP, though SiglipMLP, imported, is
        renamed alike)."""
        model = self.explicit.get(name, context)
        if model != context and self.upstream:
            own = self.renamed.namespace(context).definition(name)
            if own is not None and isinstance(own.original, cst.ClassDef):
                return context
        return model

    def unvisited_sibling(self, name: str, definition: BaseDefinition, user_path: str) -> ImportBinding | None:
        """Transformers dialect: `name`, which base file `user_path` imports from its sibling
        `definition.path`, as upstream writes it when the modular file imports nothing from that
        sibling: upstream reads only the base files the modular file imports from, so the base's
        `from .configuration_llama import LlamaConfig` stays an import, of the model's own file of that
        kind (`from .configuration_<model> import <renamed>`), and the definition is not copied."""
        if definition.path == user_path or user_path.rpartition("/")[0] != definition.path.rpartition("/")[0]:
            return None
        if name not in self.renamed.namespace(definition.model).sibling_imported.get(stem_of(user_path), ()):
            return None
        stem = stem_of(definition.path)
        if (definition.model, stem) in self.visit_order:
            return None
        kind = stem.removesuffix(f"_{definition.model}")
        if kind == stem:
            return None
        model = self.renamed.resolved.parsed.model
        statement = cst.parse_statement(f"from .{kind}_{model} import {name}\n")
        assert isinstance(statement, cst.SimpleStatementLine)
        return ImportBinding(name, (f".{kind}_{model}", name), statement)

    def renamed_apart(self, name: str, namespace: BaseNamespace, origin: cst.CSTNode) -> Diagnostic:
        """E217: a tree renames each base file after the modular classes built on it, and the file
        importing `name` got another prefix than the sibling file defining it."""
        original, stem, sibling, defined = namespace.sibling_mismatches[name]
        message = (
            f"the base's {stem}.py uses {original} from {sibling}.py: the modular classes built on {stem}.py "
            f"rename it {name}, but {sibling}.py's names get another prefix ({original} -> {defined}), so no "
            f"file defines {name}"
        )
        fix = f"define `class {name}({original})` in the modular file, or name the classes with {defined}'s prefix"
        return self.renamed.resolved.parsed.diagnostic(origin, "E217", message, fix)

    def add_definition(self, name: str, definition: BaseDefinition, origin: cst.CSTNode) -> bool:
        """True when `definition` is new; E206 when another definition already took `name`."""
        present = self.definitions.get(name)
        clobbered = [bound for bound in definition.names if bound in self.modular_bound]
        if present is None and clobbered:
            message = f"{name} is needed from {definition.path}, whose statement also binds {clobbered[0]}"
            fix = f"define {name} in the modular file too, so the base statement is not needed"
            self.diagnostics.append(self.renamed.resolved.parsed.diagnostic(origin, "E206", message, fix))
            return False
        if present is None:
            for bound in definition.names:
                self.definitions.setdefault(bound, definition)
            return True
        if present is not definition and code_of(present.node) == code_of(definition.node):
            return self.follow(definition, present)
        if present is not definition and code_of(present.node) != code_of(definition.node):
            message = f"{name} is needed from both {present.path} and {definition.path}, which define it differently"
            parsed = self.renamed.resolved.parsed
            added = self.add_variant(name, present, definition) if parsed.layout.upstream else None
            if added is not None:
                return added
            if parsed.layout.upstream:  # upstream keeps the definition its first user pulled in
                drift(parsed, origin, "W326", f"{message}: the generated file keeps the one from {present.path}")
                self.rejected.append((definition, origin))
                return False
            fix = f"define {name} in the modular file (subclass the one you mean), so one definition serves both"
            self.diagnostics.append(parsed.diagnostic(origin, "E206", message, fix))
        return False

    def follow(self, definition: BaseDefinition, present: BaseDefinition) -> bool:
        """True (pull what it uses, from its own file) the first time `definition`, written
        alike in `present`'s place already, comes from a base file of another kind: that file's helpers
        may differ (PIL's `boxes` is torch's, but the `to_mask` it calls is PIL's own)."""
        if file_kind(definition.path, definition.model) == file_kind(present.path, present.model):
            return False
        if id(definition) in self.followed:
            return False
        self.followed.add(id(definition))
        return True

    def shadowed_mentions(self, definition: BaseDefinition) -> tuple[str, ...]:
        """Transformers dialect: the names a function or class of a base file mentions that its file defines
        (not imports) although a nested scope binds them where they are read: upstream's dependencies are
        names, so superglue's `validate_and_format_image_pairs`, whose nested `_is_valid_image` shadows
        the module's, still brings the module's `_is_valid_image`."""
        if not isinstance(definition.original, (cst.FunctionDef, cst.ClassDef)):
            return ()
        namespace = self.renamed.namespace(definition.model)
        stem = stem_of(definition.path)
        found = []
        for name in sorted(mentions([definition.node]) - set(definition.uses) - set(definition.names)):
            if any(not is_import_block(d.node) for d in namespace.in_file(name, stem)):
                found.append(name)
        return tuple(found)

    def add_guard(self, guard: BaseDefinition) -> bool:
        """Transformers dialect: a base file's `if TYPE_CHECKING:` import of a class the modular file defines
        (superglue's image processor imports SuperGlueKeypointMatchingOutput from its modeling file; lightglue
        defines LightGlueKeypointMatchingOutput): upstream keeps that import in the file of the base file's
        kind, whose code only names the class in annotations, and the class goes to the file of its own
        kind alone. The block becomes a variant of that kind. True when it is new."""
        kind = file_kind(guard.path, guard.model)
        if any((bound, kind) in self.variants for bound in guard.names):
            return False
        for bound in guard.names:
            self.variants[bound, kind] = guard
        return True

    def add_variant(self, name: str, present: BaseDefinition, definition: BaseDefinition) -> bool | None:
        """Transformers dialect: upstream builds each generated file on its own, a class's dependencies
        taken from its base file. Two base files of different kinds defining `name` differently
        (detr's torch image processor and its PIL one each define `convert_coco_poly_to_mask`) give each
        file of the modular model its own: `definition` becomes the variant of its file's kind. True when
        it is new (its own dependencies are then pulled from its file), False when it is that variant
        already; None when its kind is the kind of `present`, or has another variant (upstream keeps
        the first: W326)."""
        kind = file_kind(definition.path, definition.model)
        if kind == file_kind(present.path, present.model) or any(
            bound in self.definitions and bound != name for bound in definition.names
        ):
            return None
        if any((bound, kind) in self.variants for bound in definition.names):
            known = self.variants.get((name, kind))
            same = known is not None and (known is definition or code_of(known.node) == code_of(definition.node))
            return False if same else None
        for bound in definition.names:
            self.variants[bound, kind] = definition
        return True

    def add_import(self, name: str, binding: ImportBinding, origin: cst.CSTNode) -> None:
        present = self.imports.setdefault(name, binding)
        if present is not binding and present.key == binding.key and self.rank(binding) < self.rank(present):
            self.imports[name] = binding  # the same import: written as the first base writes it
        if present.key != binding.key:
            first, second = (code_of(b.statement).strip() for b in (present, binding))
            message = f"{name} is imported differently by base models: `{first}` and `{second}`"
            parsed = self.renamed.resolved.parsed
            if parsed.layout.upstream:  # upstream keeps the import its first user pulled in
                drift(parsed, origin, "W326", f"{message}: the generated file keeps `{first}`")
                return
            fix = f"import {name} explicitly in the modular file"
            self.diagnostics.append(self.renamed.resolved.parsed.diagnostic(origin, "E206", message, fix))


def defined_in_file(namespace: BaseNamespace, name: str, user_path: str) -> BaseDefinition | None:
    """The function or assignment named `name` in base file `user_path` itself: what code of that file reads
    as Python (its module's global), and what upstream's mapper of that file gives it. Not a class: upstream
    imports a class of another kind than the file (`DetrImageProcessorKwargs` of an image processor,
    in the PIL one), or copies it there, from the file of its kind."""
    for definition in namespace.in_file(name, stem_of(user_path)):
        if not isinstance(definition.original, cst.ClassDef):
            return definition if not is_import_block(definition.node) else None
    return None


def guarded_in_file(namespace: BaseNamespace, name: str, user_path: str | None) -> BaseDefinition | None:
    """The `if TYPE_CHECKING:` import block binding `name` in base file `user_path`, if any, with only the
    import of `name` (upstream writes the block's other imports once, where first imported)."""
    if user_path is None:
        return None
    for definition in namespace.in_file(name, stem_of(user_path)):
        if is_import_block(definition.node):
            node = definition.node
            if isinstance(node, cst.If) and code_of(node.test).strip() == "TYPE_CHECKING" and node.orelse is None:
                assert isinstance(node.body, cst.IndentedBlock)
                lines = [line for line in node.body.body if name in bound_names([line])]
                block = node.with_changes(body=node.body.with_changes(body=lines))
                uses = tuple(use for use in definition.uses if use not in definition.names)
                return dataclasses.replace(definition, original=block, renamer=None, names=(name,), uses=uses)
    return None


def defined_outright(name: str, namespaces: Iterable[BaseNamespace]) -> BaseDefinition | None:
    """Transformers dialect: the first class or function named `name`. A class defined by one base file
    and imported under `if TYPE_CHECKING:` by a sibling file is the class for code from any other file
    than that sibling, as upstream finds it in the file of the user's base class."""
    for namespace in namespaces:
        for definition in namespace.definitions:
            if name in definition.names and isinstance(definition.original, (cst.ClassDef, cst.FunctionDef)):
                return definition
    return None


def trace_dependencies(merged: MergedModule) -> ParsedModule:
    """The standalone module of a modular file; root models come back unchanged."""
    renamed = merged.renamed
    parsed = renamed.resolved.parsed
    if not renamed.namespaces:
        return parsed
    docstring, imports, exports, definitions = partition(merged.statements)
    if parsed.layout.upstream:
        definitions = one_definition_per_name(parsed, definitions)
        written = definitions
        definitions = base_assignments_kept(parsed, definitions, renamed)
        assignment_variants = per_kind_assignments(written, definitions, renamed)
    else:
        assignment_variants = []
    imports, from_own_files = without_own_file_imports(imports, renamed, definitions)
    shadowed = base_over_imports(renamed, imports, definitions) if parsed.layout.upstream else []
    if shadowed:
        original_imports = imports
        imports = without_names(imports, {s.name for s in shadowed})
    bound = bound_names([s.node for s in [*docstring, *imports, *exports, *definitions]])
    classes = frozenset(s.node.name.value for s in definitions if isinstance(s.node, cst.ClassDef))
    tracer = Tracer(renamed, bound, classes)
    for item in shadowed:
        tracer.pull([item.name], item.model, item.user.origin)
        path = tracer.definitions[item.name].path if item.name in tracer.definitions else item.model
        report(parsed, item, original_imports, path, renamed.resolved.library)
    for name, origin in from_own_files:
        tracer.pull([name], tracer.main.model, origin)
    placed = []
    for index, statement in enumerate(definitions):
        names, uses = analyse_statement(statement.node)
        model = statement.base.model if statement.base is not None else tracer.main.model
        tracer.pull(uses, model, statement.origin, statement.base.path if statement.base is not None else None)
        key = modular_key(statement, names, index, renamed.namespaces)
        placed.append(Placed(statement.node, names, uses, key, parsed.position(statement.origin)))
    for statement in exports:  # a name `__all__` lists that the modular file only inherits, from its base
        for name in all_names(statement.node):
            homes = [ns.model for ns in renamed.namespaces if ns.definition(name) is not None]
            tracer.pull([name], homes[0] if homes else tracer.main.model, statement.origin)
    if tracer.diagnostics:
        raise ConversionError(tracer.diagnostics)
    extra_uses: dict[cst.CSTNode, frozenset[str]] = {}
    for index, statement in enumerate(definitions):
        extra = tracer.rejected_uses.get(id(statement.origin))
        if extra:
            extra_uses[statement.node] = frozenset(extra)
            placed[index] = dataclasses.replace(placed[index], uses=tuple(sorted({*placed[index].uses, *extra})))
    direct_uses = {name: d.uses for d in tracer.definitions.values() for name in d.names}
    direct_uses.update({name: item.uses for item in placed for name in item.names})
    check_definition_time(parsed, merged.statements, tracer.definitions, direct_uses)
    pulled, variants = pulled_definitions(tracer, renamed, import_position(renamed))
    placed += pulled
    for variant, kind in assignment_variants:
        if isinstance(variant, BaseDefinition):
            key, origin = (*base_key(variant, renamed.namespaces), 0), import_position(renamed)
            node, names, uses = variant.node, variant.names, variant.uses
        else:  # the modular file's own statement, for one kind: a copy of its own
            node = variant.node.deep_clone()
            names, uses = analyse_statement(node)
            key = (*modular_key(variant, names, len(definitions), renamed.namespaces)[:-1], 0)
            origin = parsed.position(variant.origin)
        placed.append(Placed(node, names, uses, key, origin))
        variants[node] = kind
    ordered = order_definitions(placed)
    names = frozenset(name for item in ordered for name in item.names)
    all_statement = [s.node for s in exports] or synthesized_all(renamed, ordered, definitions, names)
    carried = carried_imports(tracer, renamed.namespaces)
    futures = unique_statements(s for namespace in renamed.namespaces for s in namespace.futures)
    body = [*(s.node for s in docstring), *futures, *(s.node for s in imports), *carried]
    body += [item.node for item in ordered] + all_statement
    origins = {item.node: item.origin for item in ordered}
    origins.update(import_origins(parsed, [*docstring, *imports, *exports]))
    origins.update({statement: import_position(renamed) for statement in [*futures, *carried, *all_statement]})
    built = standalone(parsed, parsed.module.with_changes(body=body), origins, variants)
    return dataclasses.replace(built, extra_uses=extra_uses, pulled=frozenset(item.node for item in pulled))


def without_own_file_imports(
    imports: Sequence[ModularStatement], renamed: RenamedModule, definitions: Sequence[ModularStatement]
) -> tuple[list[ModularStatement], list[tuple[str, cst.CSTNode]]]:
    """In a tree, `from .modeling_glm4 import Glm4RMSNorm` in modular_glm4.py names a class of the file
    being generated, which a base provides renamed (GlmRMSNorm): the import goes (a file would
    import itself) and the name is pulled like any other, as upstream does. Names the modular file
    defines, or no base provides, keep their import."""
    parsed = renamed.resolved.parsed
    if not parsed.layout.tree:
        return list(imports), []
    defined = bound_names([s.node for s in definitions])
    provided = {name for ns in renamed.namespaces for name in ns.by_name}
    kept: list[ModularStatement] = []
    pulled: list[tuple[str, cst.CSTNode]] = []
    for statement in imports:
        node = statement.node
        if not isinstance(node, cst.SimpleStatementLine):
            kept.append(statement)
            continue
        smalls = []
        for small in node.body:
            own = own_file_names(small, parsed.model, parsed.layout.upstream)
            if own is None:
                smalls.append(small)
                continue
            names = [alias for alias in own if alias.evaluated_alias is None and alias.evaluated_name in provided]
            names = [alias for alias in names if alias.evaluated_name not in defined]
            pulled += [(alias.evaluated_name, small) for alias in names]
            rest = [alias for alias in own if alias not in names]
            if rest:
                assert isinstance(small, cst.ImportFrom)
                rest[-1] = rest[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
                smalls.append(small.with_changes(names=rest))
        if smalls:
            kept.append(dataclasses.replace(statement, node=node.with_changes(body=smalls)))
    return kept, pulled


def own_file_names(small: cst.BaseSmallStatement, model: str, any_kind: bool = False) -> list[cst.ImportAlias] | None:
    """The aliases of `from .modeling_<model> import ...` naming what goes to that file (no class a
    file rule claims: `Glm4Config` lives in a configuration file, maybe hand-written), else None.
    With `any_kind` (the transformers dialect), an import from any of the model's own file kinds
    (`from .image_processing_mask2former import compute_segments` in modular_mask2former.py): upstream
    pulls those names from the bases as well."""
    if not (isinstance(small, cst.ImportFrom) and len(small.relative) == 1 and small.module is not None):
        return None
    kinds = TREE_KINDS if any_kind else (DEFAULT_KIND,)
    if isinstance(small.names, cst.ImportStar) or code_of(small.module) not in {f"{k}_{model}" for k in kinds}:
        return None
    aliases = list(small.names)
    claimed = any(alias.evaluated_name.endswith(suffix) for alias in aliases for _, suffix in TREE_KIND_RULES)
    return None if claimed else aliases


def partition(
    statements: Sequence[ModularStatement],
) -> tuple[list[ModularStatement], list[ModularStatement], list[ModularStatement], list[ModularStatement]]:
    """(docstring, imports, `__all__`, everything else), each in source order."""
    parts: tuple[list[ModularStatement], ...] = ([], [], [], [])
    for index, statement in enumerate(statements):
        kind = kind_of(statement.node, index)
        slot = {DefinitionKind.DOCSTRING: 0, DefinitionKind.IMPORT: 1, DefinitionKind.ALL: 2}.get(kind, 3)
        parts[slot].append(statement)
    return parts[0], parts[1], parts[2], parts[3]


def base_key(definition: BaseDefinition, namespaces: Sequence[BaseNamespace]) -> Key:
    """Where a base definition sits: the main base's definition of the same name wins the place."""
    main = namespaces[0].definition(definition.names[0]) if definition.names else None
    if main is not None:
        return (0, *main.rank)
    index = next(i for i, namespace in enumerate(namespaces) if namespace.model == definition.model)
    return (index, *definition.rank)


def modular_key(
    statement: ModularStatement, names: Sequence[str], index: int, namespaces: Sequence[BaseNamespace]
) -> Key:
    """At the base definition it replaces (by name, else its merged base class); new ones last."""
    for name in names:
        for namespace in namespaces:
            definition = namespace.definition(name)
            if definition is not None:
                return (*base_key(definition, namespaces), 1)
    if statement.base is not None:
        return (*base_key(statement.base, namespaces), 1)
    return (len(namespaces), 0, index, 1)


def pulled_definitions(
    tracer: Tracer, renamed: RenamedModule, origin: tuple[int, int]
) -> tuple[list[Placed], dict[cst.CSTNode, str]]:
    """The pulled definitions as placed in the module, and the kind of each variant among them."""
    unique = {id(definition): definition for definition in tracer.definitions.values()}
    kinds = {id(d): kind for (_, kind), d in tracer.variants.items() if id(d) not in unique}
    kinds.update({id(d): file_kind(d.path, d.model) for d in unique.values() if id(d) in tracer.shadow_only})
    unique.update({id(d): d for d in tracer.variants.values() if id(d) not in unique})
    tree = renamed.resolved.parsed.layout.tree
    placed, variants = [], {}
    for d in sorted(unique.values(), key=lambda d: base_key(d, renamed.namespaces)):
        node = without_copied_from(d.node) if tree else d.node
        placed.append(Placed(node, d.names, d.uses, (*base_key(d, renamed.namespaces), 0), origin))
        if id(d) in kinds:
            variants[node] = kinds[id(d)]
    return placed, variants


def without_copied_from(node: cst.BaseStatement) -> cst.BaseStatement:
    """A pulled definition without the `# Copied from ...` comment above it: in a tree, upstream's
    output drops those markers (the definition is generated now, not copied)."""
    lines = getattr(node, "leading_lines", ())
    kept = [line for line in lines if not is_copied_from(line)]
    return node.with_changes(leading_lines=kept) if len(kept) < len(lines) else node


def order_definitions(placed: Sequence[Placed]) -> list[Placed]:
    """Preferred order, except that a definition's dependencies come first (stable depth-first)."""
    items = sorted(placed, key=lambda item: item.key)
    provider = {name: index for index, item in reversed(list(enumerate(items))) for name in item.names}
    done: set[int] = set()
    active: set[int] = set()
    out: list[Placed] = []

    def visit(index: int) -> None:
        if index in done or index in active:
            return
        active.add(index)
        for dependency in sorted({provider[u] for u in items[index].uses if u in provider} - {index}):
            visit(dependency)
        active.discard(index)
        done.add(index)
        out.append(items[index])

    for index in range(len(items)):
        visit(index)
    return out


def carried_imports(tracer: Tracer, namespaces: Sequence[BaseNamespace]) -> list[cst.SimpleStatementLine]:
    """The base imports pulled code needs, in base order."""
    order = {id(b): (i, j) for i, namespace in enumerate(namespaces) for j, b in enumerate(namespace.imports)}
    bindings = sorted(tracer.imports.values(), key=lambda binding: order.get(id(binding), (len(namespaces), 0)))
    return [binding.statement for binding in bindings]


def unique_statements(statements: Iterable[cst.SimpleStatementLine]) -> list[cst.SimpleStatementLine]:
    seen: dict[str, cst.SimpleStatementLine] = {}
    for statement in statements:
        seen.setdefault(code_of(statement), statement)
    return list(seen.values())


def synthesized_all(
    renamed: RenamedModule, ordered: Sequence[Placed], definitions: Sequence[ModularStatement], names: frozenset[str]
) -> list[cst.BaseStatement]:
    """`__all__` when the modular file has none: the base exports present, then new public classes."""
    exports = [name for namespace in renamed.namespaces for name in namespace.exports if name in names]
    known = {name for namespace in renamed.namespaces for name in namespace.by_name}
    for statement in definitions:
        node = statement.node
        is_new = isinstance(node, cst.ClassDef) and statement.base is None and node.name.value not in known
        if is_new and isinstance(node, cst.ClassDef) and not node.name.value.startswith("_"):
            exports.append(node.name.value)
    exports = list(dict.fromkeys(exports))
    if not exports:
        return []
    return [cst.parse_statement(f"__all__ = [{', '.join(repr(name) for name in exports)}]\n")]


def import_position(renamed: RenamedModule) -> tuple[int, int]:
    """Where pulled code is reported: the first import from a base model."""
    imports = renamed.resolved.imports
    return renamed.resolved.parsed.position(imports[0].node) if imports else (1, 1)


def import_origins(
    parsed: ParsedModule, statements: Sequence[ModularStatement]
) -> Mapping[cst.CSTNode, tuple[int, int]]:
    """Positions of kept modular statements and of their small statements (imports are reported there)."""
    origins: dict[cst.CSTNode, tuple[int, int]] = {}
    for statement in statements:
        origins[statement.node] = parsed.position(statement.origin)
        if isinstance(statement.node, cst.SimpleStatementLine) and isinstance(
            statement.origin, cst.SimpleStatementLine
        ):
            for small in statement.node.body:
                if any(small is original for original in statement.origin.body):
                    origins[small] = parsed.position(small)
    return origins


def standalone(
    parsed: ParsedModule,
    module: cst.Module,
    origins: Mapping[cst.CSTNode, tuple[int, int]],
    variants: Mapping[cst.CSTNode, str] | None = None,
) -> ParsedModule:
    """`parsed` with the module the passes built; positions in it are computed only if a diagnostic needs them."""
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    positions = LazyPositions(wrapper)
    return dataclasses.replace(
        parsed, module=module, wrapper=wrapper, positions=positions, origins=origins, variants=variants or {}
    )
