"""The bases of a merged class (for merge_classes, converter/merge/merge.py).

    class LlamaForCausalLM(LlamaPreTrainedModel, GenerationMixin)             # base model
    class MistralForCausalLM(LlamaForCausalLM, GenerationMixin)               # modular
      -> class MistralForCausalLM(MistralPreTrainedModel, GenerationMixin)

The model base's own bases (renamed) take its place; a base written twice is kept once, where it
comes first. When that brings new bases into a class that has others, the result must keep the
class's method resolution order: converter/merge/classes/mro.py checks it, drops a brought-in base that another
base already inherits (`nn.Module` beside `GradientCheckpointingLayer`), or refuses (E215).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import libcst as cst

from converter.diagnostics import ConversionError
from converter.merge.classes.ancestry import MODEL, MODULAR, Ancestry, ClassKey
from converter.merge.classes.class_facts import UNREADABLE, cst_dotted
from converter.merge.classes.mro import Flattening, exact_bases
from converter.rename.namespace import BaseDefinition
from converter.rename.rename import RenamedModule
from converter.syntax.names import code_of


@dataclass(frozen=True)
class FlatBase:
    """One base of a merged class: `arg` as written, from the modular class's bases (`introduced`
    False) or the model base class's (True), at `index` there."""

    arg: cst.Arg
    introduced: bool
    index: int


def flattened_bases(statement: cst.ClassDef, model_arg: cst.Arg, base_class: cst.ClassDef) -> list[FlatBase]:
    """The base class's bases in place of the model base; the first of any repeated base is kept."""
    flat: list[FlatBase] = []
    seen: set[str] = set()
    for own_index, arg in enumerate(statement.bases):
        introduced = arg is model_arg
        candidates = enumerate(base_class.bases) if introduced else [(own_index, arg)]
        for index, candidate in candidates:
            text = code_of(candidate.value)
            if candidate.keyword is None and text not in seen:
                seen.add(text)
                flat.append(FlatBase(candidate.with_changes(comma=cst.MaybeSentinel.DEFAULT), introduced, index))
    return flat


class BasesCheck:
    """The MRO check (converter/merge/classes/mro.py) of one modular file's merged classes; reads nothing (library
    modules included) until a class needs it. `model_base` gives a modular class's model base."""

    def __init__(self, renamed: RenamedModule, model_base: Callable[[cst.ClassDef], BaseDefinition | None]) -> None:
        self.renamed = renamed
        self.model_base = model_base

    def needed(self, statement: cst.ClassDef, flat: Sequence[FlatBase]) -> bool:
        """Merging brought bases into a list of two or more, beside bases of the modular class's own
        (the bases of a lone model base, or a lone base, keep the MRO)."""
        written = sum(arg.keyword is None for arg in statement.bases)
        introduced = any(item.introduced for item in flat)
        return self.renamed.resolved.library is not None and written > 1 and len(flat) > 1 and introduced

    @functools.cached_property
    def ancestry(self) -> Ancestry:
        resolved = self.renamed.resolved
        assert resolved.library is not None
        return Ancestry(resolved.parsed, resolved.packages, resolved.library)

    @functools.cached_property
    def modular_classes(self) -> frozenset[str]:
        return frozenset(s.name.value for s in self.renamed.resolved.parsed.module.body if isinstance(s, cst.ClassDef))

    @functools.cached_property
    def mergers(self) -> Mapping[ClassKey, frozenset[str]]:
        """Each base model class that classes of this file merge -> the names of those classes."""
        found: dict[ClassKey, set[str]] = {}
        for statement in self.renamed.resolved.parsed.module.body:
            if not isinstance(statement, cst.ClassDef):
                continue
            try:
                base = self.model_base(statement)
            except ConversionError:  # two model bases: reported where the class is merged
                base = None
            if base is not None and isinstance(base.original, cst.ClassDef):
                key = ClassKey(MODEL, base.model, base.original.name.value)
                found.setdefault(key, set()).add(statement.name.value)
        return {key: frozenset(names) for key, names in found.items()}

    def identity(self, key: ClassKey, merged_here: ClassKey) -> ClassKey | None:
        """What `key` is in the generated file, for the class merging `merged_here`: gone (None) if it
        is `merged_here`; the modular class of its renamed name, if the file defines one; gone if
        another class merges it; else itself."""
        if key == merged_here:
            return None
        modular = self.modular_namesake(key)
        if modular is not None:
            return modular
        return None if key in self.mergers else key

    def replaced(self, key: ClassKey) -> ClassKey:
        """A base model's class that the modular file redefines under its renamed name without
        merging it (`LlavaPreTrainedModel` beside `class AriaPreTrainedModel(LlamaPreTrainedModel)`)
        is the modular class wherever it is a base, as the generated file has it (DESIGN rule 6)."""
        modular = self.modular_namesake(key)
        return modular if modular is not None and modular.name not in self.mergers.get(key, ()) else key

    def written_key(self, statement: cst.ClassDef, original: cst.ClassDef, model: str, item: FlatBase) -> ClassKey:
        """The class a flattened base is where it is written: in the modular file, or (brought in) in
        the base model's file, before renaming."""
        arg = original.bases[item.index] if item.introduced else statement.bases[item.index]
        dotted = cst_dotted(arg.value) if not arg.star else UNREADABLE
        return self.ancestry.in_model(model, dotted) if item.introduced else self.ancestry.in_modular(dotted)

    def generated_key(
        self, item: FlatBase, written: ClassKey, identity: Callable[[ClassKey], ClassKey | None]
    ) -> ClassKey:
        """The class a flattened base names in the generated file: a brought-in base's renamed name
        is the modular file's when the modular file binds it (`PocketTTSGenerationMixin` renamed to
        the `GradiumPhononTTSGenerationMixin` it imports), else the base model's class, renamed."""
        renamed = cst_dotted(item.arg.value) if not item.arg.star else UNREADABLE
        if item.introduced and renamed.split(".")[0] in self.ancestry.modular_names:
            written = self.ancestry.in_modular(renamed)
        return identity(written) or written

    def modular_namesake(self, key: ClassKey) -> ClassKey | None:
        """The modular class named as base model class `key` is, renamed."""
        if key.kind != MODEL:
            return None
        renamed = self.renamed.namespace(key.module).renamed(key.name)
        return ClassKey(MODULAR, "", renamed) if renamed in self.modular_classes else None

    def bases(
        self, statement: cst.ClassDef, model_arg: cst.Arg, base: BaseDefinition, flat: Sequence[FlatBase]
    ) -> list[cst.Arg]:
        """The flattened bases to write (some brought-in ones dropped); E215 when none keep the MRO."""
        original = base.original
        assert isinstance(original, cst.ClassDef)
        identity = functools.partial(self.identity, merged_here=ClassKey(MODEL, base.model, original.name.value))
        written = [self.written_key(statement, original, base.model, item) for item in flat]
        entries = tuple(self.generated_key(item, key, identity) for item, key in zip(flat, written, strict=True))
        cls = self.ancestry.modular_key(statement.name.value)
        introduced = tuple(item.introduced for item in flat)
        flattening = Flattening(cls, entries, tuple(written), introduced, identity, self.replaced)
        verdict = exact_bases(self.ancestry, flattening)
        if verdict.kept is not None:
            return [flat[index].arg for index in verdict.kept]
        merged = code_of(model_arg.value)
        message = f"cannot merge {merged} into {cls} exactly: {verdict.reason}"
        fix = f"define {cls} in full, with the bases it should have, instead of inheriting {merged}"
        raise ConversionError([self.renamed.resolved.parsed.diagnostic(model_arg, "E215", message, fix)])
