"""Pass 3, split: assign every definition to one output file kind, by class kind and dependency tracing.

Classes go by name, first match in `KIND_RULES` (a class also takes the kind of a base that
has one, so `class Foo(LlamaConfig)` is a configuration class). Helpers (functions, constants,
any other statement) follow the classes that use them, transitively: a helper used by a
configuration class lives in the configuration file, one used only by modeling classes in the
modeling file. Statements nothing uses (`logger = ...`) land in the default kind's file, never
dropped. A file imports what it needs from files of earlier kinds (see the imports pass).

    KIND_RULES + DEFAULT_KIND:  configuration (`*Config`) < image_processing (`*ImageProcessor`)
                                < processing (`*Processor`) < modeling (everything else)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import libcst as cst

from converter.diagnostics import ConversionError
from converter.layout import DEFAULT_KIND, KIND_ORDER, KIND_RULES, KindRule, kind_order_of, kind_rules_of
from converter.read.gather import NOT_PLACED, Definition, DefinitionKind, GatheredModule
from converter.rename.prefixes import model_types
from converter.rename.rename import camelize
from converter.syntax.names import mentions
from converter.trace.order import AT_THE_BEGINNING


@dataclass(frozen=True)
class OutputPlan:
    """What one output file holds: definitions in source order and its `__all__` names."""

    kind: str
    definitions: tuple[Definition, ...]
    exports: tuple[str, ...]


@dataclass(frozen=True)
class SplitModule:
    """Output files in `KIND_ORDER` (only non-empty ones); `homes` maps a top-level name to its file's kind.

    `guarded` holds a tree's guarded imports (`if is_torch_available(): import torch`), which go
    with the imports of each file that uses them (see `guarded_imports`), not among its definitions.
    """

    gathered: GatheredModule
    files: tuple[OutputPlan, ...]
    homes: Mapping[str, str]
    guarded: tuple[Definition, ...] = ()


def split_by_kind(gathered: GatheredModule) -> SplitModule:
    """Place every class, helper and leftover statement; raises ConversionError (E040, E050)."""
    guarded = guarded_imports(gathered) if gathered.parsed.layout.tree else ()
    placeable = [d for d in gathered.definitions if d.kind not in NOT_PLACED and d not in guarded]
    rules = kind_rules_of(gathered.parsed.layout)
    order = kind_order_of(gathered.parsed.layout)
    tree = gathered.parsed.layout.tree
    # in the repository, a class's own model prefix takes no part in its kind: LlavaNextVideoProcessor
    # is the model's Processor, LlavaNextVideoVideoProcessor its VideoProcessor
    prefix = "" if tree else camelize(gathered.parsed.model)
    if gathered.parsed.layout.upstream:
        prefix = cased_model_name(gathered)
    imported_by_kind: dict[str, set[str]] = {}  # names a guarded import variant gives the files of a kind
    for definition in guarded:
        if definition.variant is not None:
            imported_by_kind.setdefault(definition.variant, set()).update(definition.defines)
    kinds = place_definitions(
        placeable,
        rules,
        order,
        classes_follow=tree,
        copies=tree,
        prefix=prefix,
        stay=staying(gathered),
        imported=imported_by_kind,
    )
    homes = {
        name: kinds[index][0]
        for index, d in enumerate(placeable)
        if d.variant is None and kinds[index]  # no kind: a variant serves every file using it
        for name in d.defines
    }
    files = []
    ordered: dict[str, list[int]] = {}
    for kind in order:
        indices = [index for index in range(len(placeable)) if kind in kinds[index]]
        if gathered.parsed.layout.upstream:
            indices = copies_before_first_user(indices, kind, placeable, kinds, gathered.parsed.pulled)
            indices = ordered[kind] = torch_classes_copied(indices, kind, placeable, ordered, prefix)
        members = tuple(placeable[index] for index in indices)
        if members:
            files.append(OutputPlan(kind, members, exports_of(gathered, kind, members, homes)))
    parsed = gathered.parsed
    if not files:
        fix = "define at least one class in the modular file"
        raise ConversionError([parsed.diagnostic_at(1, 1, "E050", "the modular file defines nothing", fix)])
    check_exports(gathered, homes)
    return SplitModule(gathered, tuple(files), homes, guarded)


def staying(gathered: GatheredModule) -> frozenset[str]:
    """Transformers dialect: the names the modular file's `__all__` lists, whose classes stay in the file
    of their own kind; files of earlier kinds import them from there (imports.py)."""
    return frozenset(gathered.exports or ()) if gathered.parsed.layout.upstream else frozenset()


def cased_model_name(gathered: GatheredModule) -> str:
    """Transformers dialect: the model's CamelCase name, which upstream takes off a class name before
    matching its kind (`Sam2VideoProcessor` of sam2_video is a `Processor`, written to
    processing_sam2_video.py): the prefix of the config class whose `model_type` is the model, else the
    capitalised model name."""
    model = gathered.parsed.model
    return model_types([gathered.parsed.module]).get(model) or camelize(model)


def copies_before_first_user(
    indices: Sequence[int],
    kind: str,
    placeable: Sequence[Definition],
    kinds: Sequence[tuple[str, ...]],
    pulled: frozenset[cst.CSTNode] = frozenset(),
) -> list[int]:
    """Transformers dialect: upstream builds each file on its own, each class preceded by what it needs.
    A helper copied into several files sits where its first user put it in the module; in a file
    that user is not in, it goes right before its first user there instead (with its copied helpers
    before it): qwen3_omni_moe's `_get_feat_extract_output_lengths` comes after the processor's
    kwargs classes in processing_qwen3_omni_moe.py, just before the processor. A helper of the modular
    file's own (not `pulled` from a base) whose first user is such a deferred helper goes with it
    (molmo2's resize_and_normalize_image, called by build_resized_image)."""
    members = set(indices)
    deferred = {index for index in indices if deferrable(index, kind, placeable, kinds, members)}
    if not deferred:
        return list(indices)
    grown = True
    while grown:  # a modular helper whose first user is a deferred one goes with it
        more = {
            index
            for index in indices
            if index not in deferred
            and placeable[index].node not in pulled
            and first_user_deferred(index, placeable, kinds, deferred)
        }
        deferred |= more
        grown = bool(more)
    out: list[int] = []
    placed: set[int] = set()

    def place(index: int) -> None:
        if index in placed:
            return
        placed.add(index)
        for other in sorted(deferred - placed):
            if set(placeable[index].uses) & set(placeable[other].defines):
                place(other)
        out.append(index)

    for index in indices:
        if index not in deferred:
            place(index)
    return out + [index for index in indices if index not in placed]


#: The kind whose file upstream writes its own copy of the image processor file's classes into, and that file's kind.
PIL_KIND, TORCH_KIND = "image_processing_pil", "image_processing"


def torch_classes_copied(
    indices: Sequence[int], kind: str, placeable: Sequence[Definition], ordered: Mapping[str, list[int]], prefix: str
) -> list[int]:
    """Transformers dialect: the PIL image processor file's own order, with the classes of the image processor
    file it needs (`YolosImageProcessorKwargs`) placed as upstream copies them there (its
    replace_unprotected_image_processing_imports): the class of position i in the image processor file
    goes right before the PIL file's own definition of position i if that is a class or function, else
    right after it (the file's leading `logger` not counted in either)."""
    torch = ordered.get(TORCH_KIND)
    if kind != PIL_KIND or not torch:
        return list(indices)
    shared = set(torch)
    copied = [
        index
        for index in indices
        if index in shared
        and placeable[index].kind is DefinitionKind.CLASS
        and placeable[index].name.removeprefix(prefix).endswith(TORCH_CLASS_SUFFIXES)
    ]
    if not copied:
        return list(indices)
    own = [index for index in indices if index not in copied]
    counted = [index for index in own if not set(placeable[index].defines) & set(AT_THE_BEGINNING)]
    numbered = [index for index in torch if not set(placeable[index].defines) & set(AT_THE_BEGINNING)]
    before: dict[int, list[int]] = {}
    after: dict[int, list[int]] = {}
    for index in sorted(copied, key=numbered.index):
        position = numbered.index(index)
        if position >= len(counted):
            after.setdefault(counted[-1] if counted else -1, []).append(index)
            continue
        anchor = counted[position]
        is_code = placeable[anchor].kind in (DefinitionKind.CLASS, DefinitionKind.FUNCTION)
        (before if is_code else after).setdefault(anchor, []).append(index)
    out = after.get(-1, [])
    for index in own:
        out += [*before.get(index, []), index, *after.get(index, [])]
    return out


#: The classes upstream writes to the image processor file, by name (its find_file_type).
TORCH_CLASS_SUFFIXES = ("ImageProcessorKwargs", "ImageProcessor")


def first_user_deferred(
    index: int, placeable: Sequence[Definition], kinds: Sequence[tuple[str, ...]], deferred: set[int]
) -> bool:
    """A function in several files whose first user (in module order) is a deferred helper."""
    users = copied_function_users(index, placeable, kinds)
    return bool(users) and users[0] in deferred


def deferrable(
    index: int, kind: str, placeable: Sequence[Definition], kinds: Sequence[tuple[str, ...]], members: set[int]
) -> bool:
    """A function in several files whose first user (in module order) is in another file than `kind`'s,
    and that some definition of this file uses (assignments such as `logger` stay first, as upstream
    writes them)."""
    users = copied_function_users(index, placeable, kinds)
    return bool(users) and kind not in kinds[users[0]] and any(user in members for user in users)


def copied_function_users(index: int, placeable: Sequence[Definition], kinds: Sequence[tuple[str, ...]]) -> list[int]:
    """The definitions using function `index`, in module order, when it is copied into several files; else none."""
    definition = placeable[index]
    if definition.kind is not DefinitionKind.FUNCTION or len(kinds[index]) < 2:
        return []
    names = set(definition.defines)
    return [other for other, d in enumerate(placeable) if other != index and set(d.uses) & names]


def guarded_imports(gathered: GatheredModule) -> tuple[Definition, ...]:
    """Top-level `if <test>:` statements (no else; in the transformers dialect, `elif` and `else` branches
    that only import too, as upstream's `if is_torchvision_v2_available(): ... elif ...:`) whose body
    only imports and whose test reads only imported names, builtins and the names earlier such blocks
    import (`if TYPE_CHECKING:`, `if is_torch_available():`). Upstream writes them after each file's imports, pruned to the names
    the file uses; evaluating the test there instead of in its place changes nothing, since imports
    are all it reads."""
    imported = {name for d in gathered.definitions if d.kind is DefinitionKind.IMPORT for name in d.defines}
    found = []
    for definition in gathered.definitions:
        node = definition.node
        if not isinstance(node, cst.If) or not imports_only(node):
            continue
        if node.orelse is not None and not gathered.parsed.layout.upstream:
            continue
        reads = {name for name in definition.uses if name not in definition.defines}
        if reads <= imported:
            found.append(definition)
            imported.update(definition.defines)
    return tuple(found)


def imports_only(node: cst.If | cst.Else) -> bool:
    """Whether every branch of `node` (`if`, then each `elif` and `else`) holds import lines only."""
    if not isinstance(node.body, cst.IndentedBlock):
        return False
    lines = node.body.body
    if not all(
        isinstance(line, cst.SimpleStatementLine)
        and all(isinstance(small, (cst.Import, cst.ImportFrom)) for small in line.body)
        for line in lines
    ):
        return False
    orelse = node.orelse if isinstance(node, cst.If) else None
    return orelse is None or imports_only(orelse)


def place_definitions(
    placeable: Sequence[Definition],
    rules: Sequence[KindRule] = KIND_RULES,
    order: Sequence[str] = KIND_ORDER,
    classes_follow: bool = False,
    copies: bool = False,
    prefix: str = "",
    stay: frozenset[str] = frozenset(),
    imported: Mapping[str, set[str]] | None = None,
) -> list[tuple[str, ...]]:
    """The kinds of each definition: classes by `classify`, the rest by who uses them.

    A helper lives in the first file kind that uses it and is imported by the later ones; with
    `copies` (a transformers tree, as upstream writes it), every file kind that uses it gets its
    own copy. With `classes_follow` (a tree too), a class no rule matches (`XImageProcessorKwargs`)
    is placed like a helper, unless `stay` names it: the transformers dialect keeps a class the modular
    file's `__all__` lists in the file of its own kind, and the files using it import it from there
    (upstream's processing_sam2_video.py imports Sam2VideoInferenceSession from its modeling file).
    Nothing uses a module `__getattr__` (the deprecated-alias hook of a tree's processor kwargs); in a
    tree it goes to the `processing` file when there is one, with what it uses. Other unused
    statements go to the default kind.
    """
    class_kinds: dict[str, str] = {}
    kinds = [""] * len(placeable)
    for index, definition in enumerate(placeable):
        if definition.kind is DefinitionKind.CLASS and definition.variant is None:
            kind = classify(definition, class_kinds, rules, prefix)
            class_kinds[definition.name] = kind
            kinds[index] = "" if classes_follow and kind == DEFAULT_KIND and definition.name not in stay else kind
    if classes_follow and ALIAS_HOOK_KIND in kinds:
        for index, definition in enumerate(placeable):
            if definition.defines == (ALIAS_HOOK,) and definition.kind is not DefinitionKind.CLASS:
                kinds[index] = ALIAS_HOOK_KIND
    fixed = {index for index, kind in enumerate(kinds) if kind and placeable[index].kind is DefinitionKind.CLASS}
    # a guarded import gives a file only names its classes read in string annotations, never at run time
    imported = {
        kind: {name for name in names if not any(name in mentions([placeable[i].node]) for i in roots_of(kinds, kind))}
        for kind, names in (imported or {}).items()
    }
    reached = {
        kind: trace(placeable, providers_of(placeable, kind, imported.get(kind)), roots_of(kinds, kind), fixed)
        for kind in order
    }
    # a variant stands for the definition of the same name in its kind's file: neither is left unused
    varied = {
        name
        for i, d in enumerate(placeable)
        if d.variant is not None and any(i in r for r in reached.values())
        for name in d.defines
    }
    unused = [
        i
        for i, kind in enumerate(kinds)
        if not kind
        and placeable[i].variant is None
        and not set(placeable[i].defines) & varied
        and not any(i in r for r in reached.values())
    ]
    roots = [*roots_of(kinds, DEFAULT_KIND), *unused]
    reached[DEFAULT_KIND] = trace(placeable, providers_of(placeable, DEFAULT_KIND), roots, fixed)
    placed: list[tuple[str, ...]] = []
    for index, kind in enumerate(kinds):
        if index in fixed:
            placed.append((kind,))
        else:
            users = tuple(k for k in order if index in reached[k])
            placed.append(users if copies else users[:1])
    return placed


#: A module-level `__getattr__` and the file kind it goes to in a transformers tree.
ALIAS_HOOK = "__getattr__"
ALIAS_HOOK_KIND = "processing"


def classify(
    definition: Definition, class_kinds: Mapping[str, str], rules: Sequence[KindRule] = KIND_RULES, prefix: str = ""
) -> str:
    """First match over the class name, then its bases: a local base's kind, or a `KIND_RULES` suffix
    of the name with the model's `prefix` taken off (`Video` in LlavaNextVideo is no kind)."""
    for name in (definition.name, *definition.bases):
        local_kind = class_kinds.get(name)
        if local_kind is not None and local_kind != DEFAULT_KIND:
            return local_kind
        short = name.rsplit(".", 1)[-1]
        short = short[len(prefix) :] if prefix and short.startswith(prefix) else short
        for rule in rules:
            if short.endswith(rule.class_suffix):
                return rule.kind
    return DEFAULT_KIND


def providers_of(
    placeable: Sequence[Definition], kind: str | None = None, imported: set[str] | None = None
) -> dict[str, list[int]]:
    """name -> the definitions binding it, for a file of `kind`: a variant of that kind (the transformers
    dialect, converter/trace/trace.py add_variant) instead of the others, no variant of another kind;
    none for the `imported` names, which a guarded import variant of that kind gives the file."""
    providers: dict[str, list[int]] = {}
    for index, definition in enumerate(placeable):
        if definition.variant is None or definition.variant == kind:
            for name in definition.defines:
                providers.setdefault(name, []).append(index)
    for name, indices in providers.items():
        own = [index for index in indices if placeable[index].variant is not None]
        if own:
            providers[name] = own
    for name in imported or ():
        providers.pop(name, None)
    return providers


def roots_of(kinds: Sequence[str], kind: str) -> list[int]:
    return [index for index, own in enumerate(kinds) if own == kind]


def trace(
    placeable: Sequence[Definition],
    providers: Mapping[str, list[int]],
    roots: Iterable[int],
    fixed: set[int] | None = None,
) -> set[int]:
    """Roots plus every definition they use, transitively, but those of a fixed kind (by default, classes)."""
    reached = set(roots)
    stack = list(reached)
    while stack:
        for name in placeable[stack.pop()].uses:
            for index in providers.get(name, ()):
                is_fixed = placeable[index].kind is DefinitionKind.CLASS if fixed is None else index in fixed
                if index not in reached and not is_fixed:
                    reached.add(index)
                    stack.append(index)
    return reached


def exports_of(
    gathered: GatheredModule, kind: str, members: Sequence[Definition], homes: Mapping[str, str]
) -> tuple[str, ...]:
    """The listed `__all__` names living in this file (listed order), else its public classes."""
    if gathered.exports is not None:
        return tuple(name for name in gathered.exports if homes.get(name) == kind)
    classes = (d.name for d in members if d.kind is DefinitionKind.CLASS)
    return tuple(name for name in classes if not name.startswith("_"))


def check_exports(gathered: GatheredModule, homes: Mapping[str, str]) -> None:
    """E040: `__all__` lists a name the modular file does not define."""
    missing = [name for name in gathered.exports or () if name not in homes]
    if not missing:
        return
    statement = next(d for d in gathered.definitions if d.kind is DefinitionKind.ALL)
    message = f"__all__ lists {', '.join(missing)}, not defined in this file"
    fix = "define the names or remove them from __all__"
    raise ConversionError([gathered.parsed.diagnostic_at(statement.line, statement.col, "E040", message, fix)])
