"""Pass rename: rename each base model to the new model in everything inherited from it.

The rule, applied to every identifier (names, attributes, parameters, keywords, class and
function names, import paths), every string literal (docstrings included) and every comment of
the base package's syntax tree, one token at a time, never to printed text:

    A form of the old name is replaced where it starts a word and does not continue one:
    it is not preceded by a letter or digit (an underscore or any other character is fine)
    and not followed by a lowercase letter. The CamelCase form is replaced first, then the
    lowercase form, then the UPPER form.

    Llama -> Gemma2:  LlamaMLP -> Gemma2MLP, _LlamaCache -> _Gemma2Cache, modeling_llama ->
    modeling_gemma2, "llama" -> "gemma2", LLAMA_DOCS -> GEMMA2_DOCS, Llama2 -> Gemma22;
    unchanged: MyLlamaTokenizer, flamingo, Llamas, llamafy.

    Names a base file imports from outside its model (torch, runtime, any package) are never
    renamed, nor are those import statements: `from tokenizers import LlamaTokenizer` keeps
    `LlamaTokenizer` everywhere, since the imported module defines it under that name.

This is the rule of the reference semantics (tests/equivalence/overlay.py renames source text
with the same boundaries), so the converter and the oracle agree on every token. The CamelCase
forms are read off class names: the old one is the prefix shared by the base package's classes
(`Llama` in LlamaConfig, LlamaModel), the new one the prefix of the modular classes that subclass
base classes (`class Gemma2MLP(GemmaMLP)` gives `Gemma2`); both fall back to the capitalised
model name (`gpt_neox` -> `GptNeox`).

In a tree (the transformers layout) the rename follows upstream's converter instead: each base
*file* has its own new names, read off the modular classes that subclass its classes
(converter/rename/prefixes.py: `class AriaTextForCausalLM(LlamaForCausalLM)` renames modeling_llama
llama -> aria_text, Llama -> AriaText), and names, strings and comments alike are renamed in any
casing after anything but a letter or digit (`Rename.prose`: `Dinov3ViTDropPath` -> `EomtDinov3DropPath`
for the dinov3_vit base, whose config class is `DINOv3ViTConfig`). In the transformers dialect a
hub-kernel function is never renamed (converter/rename/kernels.py), nor is the text of an f-string
(upstream's renamer visits names, plain strings and comments).
"""

from __future__ import annotations

import dataclasses
import functools
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import libcst as cst

from converter.layout import is_sibling_import
from converter.read.bases import BasePackage
from converter.read.resolve import BaseImport, ResolvedModule
from converter.rename.kernels import kernel_functions
from converter.rename.namespace import BaseNamespace, build_renamed_namespace
from converter.rename.prefixes import file_prefixes, mapped_names, model_types
from converter.rename.renamer import Rename
from converter.syntax.names import bound_names


def external_names(module: cst.Module) -> frozenset[str]:
    """The names `module` imports from outside its model (renaming keeps them)."""
    imports = [s for s in module.body if isinstance(s, cst.SimpleStatementLine)]
    external = [small for s in imports for small in s.body if isinstance(small, (cst.Import, cst.ImportFrom))]
    return bound_names([cst.SimpleStatementLine([small]) for small in external if not is_relative(small)])


def is_relative(small: cst.Import | cst.ImportFrom) -> bool:
    """A sibling import (`from .configuration_llama import ...`), renamed with the model."""
    return is_sibling_import(small)


@dataclass(frozen=True)
class RenamedModule:
    """The resolved modular file with one renamed namespace per base package (main first)."""

    resolved: ResolvedModule
    namespaces: tuple[BaseNamespace, ...]
    new_camel: str

    def namespace(self, model: str) -> BaseNamespace:
        return next(namespace for namespace in self.namespaces if namespace.model == model)

    @functools.cached_property
    def aliases(self) -> Mapping[str, BaseImport]:
        """Local name in the modular file -> the base import that binds it."""
        return {item.alias: item for item in self.resolved.imports}

    @functools.cached_property
    def visit_order(self) -> Mapping[tuple[str, str], int]:
        """(model, file stem) -> where the modular file first imports from that base file: the files
        upstream's converter visits, in its order (a package import: stem "")."""
        order: dict[tuple[str, str], int] = {}
        for item in self.resolved.imports:
            namespace = self.namespace(item.model)
            stem = next((s for s, _, _ in namespace.files if s == item.stem), "")
            order.setdefault((item.model, stem), len(order))
        return order

    def target(self, alias: str) -> str | None:
        """The renamed name a base import alias stands for (`LlamaMLP` -> `MistralMLP`), else None."""
        item = self.aliases.get(alias)
        return None if item is None else self.namespace(item.model).renamed(item.name, item.stem or None)


def rename_bases(resolved: ResolvedModule) -> RenamedModule:
    """Rename every base package of `resolved`; a no-op for root models."""
    new_model = resolved.parsed.model
    new_camel = new_camel_prefix(resolved)
    namespaces = []
    tree = resolved.parsed.layout.tree
    prefixes, known = tree_prefixes(resolved) if tree else ({}, {})
    for package in resolved.packages:
        # each base gets the prefix of the modular classes built on it: in glm4v_moe, Glm4v -> Glm4vMoe
        # but Glm4Moe -> Glm4vMoeText (its text part); a base no class subclasses gets the common one
        own_camel = new_camel_prefix(resolved, package.model) or new_camel
        upstream = resolved.parsed.layout.upstream
        rename = Rename(package.model, new_model, old_camel_prefix(package), own_camel, tree, fstrings=not upstream)
        files = tuple((file.path, file.kind, file.module) for file in package.files)
        imported = [external_names(file.module) for file in package.files]
        renames = None
        verbatim = (
            kernel_functions(f.module for f in package.files) if resolved.parsed.layout.upstream else frozenset()
        )
        if tree:
            renames = [tree_rename(package.model, file.stem, new_model, prefixes, known) for file in package.files]
            renames = [dataclasses.replace(r, fstrings=not upstream) for r in renames]
            rename = renames[0]
            aliases = modular_aliases(resolved.parsed.module)
            imported = [
                frozenset(n for n in names if aliases.get(n, n) != file_rename.name(n))
                for names, file_rename in zip(imported, renames, strict=True)
            ]
        namespaces.append(build_renamed_namespace(package.model, rename, files, imported, renames, verbatim))
    return RenamedModule(resolved, tuple(namespaces), new_camel)


def tree_prefixes(resolved: ResolvedModule) -> tuple[dict[tuple[str, str], tuple[str, str]], dict[str, str]]:
    """Upstream's new names per base file (converter/rename/prefixes.py), and the CamelCase names of the
    models whose config classes the modular file and its bases define."""
    modules = [resolved.parsed.module, *(file.module for package in resolved.packages for file in package.files)]
    known = model_types(modules)
    known.update(mapped_names(resolved.parsed.path.resolve().parent.parent))
    classes = [s.name.value for s in resolved.parsed.module.body if isinstance(s, cst.ClassDef)]
    own = most_common(prefix_matching(classes, resolved.parsed.model)) or new_camel_prefix(resolved)
    known.setdefault(resolved.parsed.model, own)
    for package in resolved.packages:
        known.setdefault(package.model, old_camel_prefix(package))
    aliases = {item.alias: item for item in resolved.imports}
    subclasses = []
    for statement in resolved.parsed.module.body:
        if isinstance(statement, cst.ClassDef):
            names = [base.value.value for base in statement.bases if isinstance(base.value, cst.Name)]
            items = [aliases[name] for name in names if name in aliases]
            if items:  # upstream refuses a class with two model bases; the first one counts here
                subclasses.append((statement.name.value, items[0].alias, items[0].model, items[0].stem))
    return file_prefixes(subclasses, resolved.packages, resolved.parsed.model, known), known


def tree_rename(
    model: str,
    stem: str,
    new_model: str,
    prefixes: Mapping[tuple[str, str], tuple[str, str]],
    known: Mapping[str, str],
) -> Rename:
    """One base file's rename in a tree: its model's names to the file's new names, in any casing."""
    new_lower, new_camel = prefixes.get((model, stem)) or (new_model, known[new_model])
    return Rename(model, new_lower, known[model], new_camel, any_case=True)


def modular_aliases(module: cst.Module) -> dict[str, str]:
    """`{"Wav2Vec2BaseModelOutput": "WavLMBaseModelOutput"}` for `WavLMBaseModelOutput = Wav2Vec2BaseModelOutput`
    at the top level of the modular file. In a tree, a name a base imports from the library is
    renamed after all when the modular file binds the renamed name to it, as upstream writes it:
    both names are the same object."""
    aliases: dict[str, str] = {}
    for statement in module.body:
        small = statement.body[0] if isinstance(statement, cst.SimpleStatementLine) and statement.body else None
        if isinstance(small, cst.Assign) and len(small.targets) == 1:
            target, value = small.targets[0].target, small.value
            if isinstance(target, cst.Name) and isinstance(value, cst.Name):
                aliases[value.value] = target.value
    return aliases


def old_camel_prefix(package: BasePackage) -> str:
    """The CamelCase model prefix most classes of the package start with."""
    names = [s.name.value for file in package.files for s in file.module.body if isinstance(s, cst.ClassDef)]
    return most_common(prefix_matching(names, package.model)) or camelize(package.model)


def new_camel_prefix(resolved: ResolvedModule, model: str | None = None) -> str:
    """The prefix of modular classes that subclass a base class: `Gemma2MLP(GemmaMLP)` -> `Gemma2`.
    With `model`: only classes that subclass that base model's, "" when there are none."""
    old = {package.model: old_camel_prefix(package) for package in resolved.packages}
    aliases = {item.alias: item for item in resolved.imports}
    candidates = []
    classes = [s for s in resolved.parsed.module.body if isinstance(s, cst.ClassDef)]
    for statement in classes:
        for base in statement.bases:
            item = aliases.get(base.value.value) if isinstance(base.value, cst.Name) else None
            if item is None or not item.name.startswith(old[item.model]) or model not in (None, item.model):
                continue
            suffix = item.name[len(old[item.model]) :]
            name = statement.name.value
            if suffix and name.endswith(suffix) and len(name) > len(suffix):
                candidates.append(name[: -len(suffix)])
    if model is not None:
        return most_common(candidates) or ""
    own = resolved.parsed.model
    fallback = most_common(prefix_matching([s.name.value for s in classes], own))
    return most_common(candidates) or fallback or camelize(own)


def prefix_matching(names: Iterable[str], model: str) -> list[str]:
    """`Llama` for each name that starts with the model name, case and underscores aside
    (`MiniCPMV4_6` in `MiniCPMV4_6Model` for minicpmv4_6)."""
    compact = model.replace("_", "")
    prefixes = []
    for name in names:
        if not name.lower().replace("_", "").startswith(compact):
            continue
        taken, end = 0, 0
        while taken < len(compact):
            taken += name[end] != "_"
            end += 1
        prefixes.append(name[:end])
    return prefixes


def most_common(candidates: list[str]) -> str | None:
    """The most frequent candidate; the first seen on a tie."""
    if not candidates:
        return None
    counts = Counter(candidates)
    return max(candidates, key=lambda candidate: (counts[candidate], -candidates.index(candidate)))


def camelize(model: str) -> str:
    return "".join(part.capitalize() for part in model.split("_"))
