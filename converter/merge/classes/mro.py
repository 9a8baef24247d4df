"""The bases a merged class gets must keep its method resolution order (E215).

Merging writes a model base's own bases in its place (converter/merge/classes/class_bases.py). That can change
the MRO, or leave none:

    class SamTwoWayAttentionBlock(nn.Module)                       # sam/modeling_sam.py
    class GradientCheckpointingLayer(nn.Module)                    # transformers/modeling_layers.py
    class Sam2TwoWayAttentionBlock(SamTwoWayAttentionBlock, GradientCheckpointingLayer)   # modular
      -> (nn.Module, GradientCheckpointingLayer)    TypeError: no consistent MRO
      -> (GradientCheckpointingLayer)               what this check writes

Exact means: the flattened class's MRO (C3) equals the modular class's MRO without the classes
merged away (its model base, and the model bases other classes of the file merge), each class
named as the generated file names it (`identity`: a base model's class whose renamed name the
modular file defines is that modular class). The modular class's MRO is taken as Python computes
it when the modular file runs, or as the generated file names classes (DESIGN rule 6: a base
model's class the modular file redefines without merging it is the modular class wherever it is
a base); the flattened list must match one of them, and be consistent in the generated file. The
list as flattened is kept when exact; else a base that flattening brought in is dropped when
another base of the list inherits it (`nn.Module` beside `GradientCheckpointingLayer`).

Classes whose bases cannot be read (converter/merge/classes/ancestry.py: torch's, a library class defined
dynamically) are taken as subclasses of `object` alone, which they may not be: an external class
may subclass other external classes (never the library's: torch does not import transformers),
a library class not found may subclass any class outside the model files and the modular file.
So the answer must also hold if any one such class subclasses any one other class it may (the
hypotheses under which the modular class itself has no MRO are impossible, since Python created
it). Where it does not, the converter refuses (E215) instead of guessing. Two or more such hidden
relations at once are not tried.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from converter.merge.classes.ancestry import EXTERNAL, LIBRARY, MODULAR, OBJECT, UNKNOWN, Ancestry, ClassKey

Bases = Callable[[ClassKey], tuple[ClassKey, ...]]
Hypothesis = Mapping[ClassKey, tuple[ClassKey, ...]]


def linearize(
    key: ClassKey, bases_of: Bases, memo: dict[ClassKey, tuple[ClassKey, ...] | None]
) -> tuple[ClassKey, ...] | None:
    """The C3 linearization of `key` (what Python's `__mro__` is), or None where Python raises TypeError."""
    if key in memo:
        return memo[key]
    memo[key] = None  # a cycle through `key` has no linearization
    bases = bases_of(key)
    parents = [linearize(base, bases_of, memo) for base in bases]
    if any(parent is None for parent in parents):
        return None
    merged = c3_merge([list(parent) for parent in parents if parent is not None] + [list(bases)])
    memo[key] = (key, *merged) if merged is not None else None
    return memo[key]


def c3_merge(sequences: list[list[ClassKey]]) -> list[ClassKey] | None:
    """Python's merge: repeatedly take the first head that is in no sequence's tail."""
    result: list[ClassKey] = []
    while True:
        sequences = [sequence for sequence in sequences if sequence]
        if not sequences:
            return result
        head = next((s[0] for s in sequences if not any(s[0] in other[1:] for other in sequences)), None)
        if head is None:
            return None
        result.append(head)
        sequences = [sequence[1:] if sequence[0] == head else sequence for sequence in sequences]


@dataclass(frozen=True)
class Flattening:
    """One merged class: `entries` are its flattened bases (`introduced`: from the model base), each
    named by the class the generated file means by it; `identity` says what a class of the modular
    world is in the generated file: a base model's class whose renamed name the modular file
    defines is that modular class (`LlamaModel` merged into `MistralModel`), another merged class
    is gone (None), any other class is itself."""

    cls: ClassKey
    entries: tuple[ClassKey, ...]
    written: tuple[ClassKey, ...]
    introduced: tuple[bool, ...]
    identity: Callable[[ClassKey], ClassKey | None]
    replaced: Callable[[ClassKey], ClassKey]


@dataclass(frozen=True)
class Verdict:
    """The indices of the entries to write, or why none can be written exactly."""

    kept: tuple[int, ...] | None
    reason: str = ""


class World:
    """MROs under one hypothesis about the classes whose bases cannot be read; `replaced` says which
    class a base of a class not of the modular file is (`keep`, or rule 6: see the module docstring)."""

    def __init__(self, ancestry: Ancestry, hypothesis: Hypothesis, replaced: Callable[[ClassKey], ClassKey]) -> None:
        self.ancestry = ancestry
        self.hypothesis = hypothesis
        self.replaced = replaced
        self.memo: dict[ClassKey, tuple[ClassKey, ...] | None] = {}

    def bases(self, key: ClassKey) -> tuple[ClassKey, ...]:
        if key in self.hypothesis:
            return self.hypothesis[key]
        found = self.ancestry.bases(key)
        if found is None:
            return () if key == OBJECT else (OBJECT,)
        if key.kind == MODULAR:  # its model base is the class it merges, whatever replaces that name
            return found
        return tuple(self.replaced(base) for base in found)

    def mro(self, key: ClassKey) -> tuple[ClassKey, ...] | None:
        return linearize(key, self.bases, self.memo)

    def flat_mro(self, key: ClassKey, flattening: Flattening) -> tuple[ClassKey, ...] | None:
        """The MRO `key` has in the generated file: its modular MRO without merged classes, renamed
        (every other class of the file is exact, by this check)."""
        mro = self.mro(key)
        if mro is None:
            return None
        renamed = [flattening.identity(k) for k in mro[1:]]
        return tuple(dict.fromkeys([flattening.identity(key) or key, *(k for k in renamed if k is not None)]))

    def flattened_mro(self, flattening: Flattening, kept: Sequence[int]) -> tuple[ClassKey, ...] | None:
        """The MRO of the generated class whose bases are the `kept` entries."""
        bases = [flattening.entries[index] for index in kept]
        parents = [self.flat_mro(base, flattening) for base in bases]
        if any(parent is None for parent in parents):
            return None
        merged = c3_merge([list(parent) for parent in parents if parent is not None] + [bases])
        return (flattening.cls, *merged) if merged is not None else None


def exact_bases(ancestry: Ancestry, flattening: Flattening) -> Verdict:
    """Which flattened bases to write so that the class keeps its MRO (see the module docstring)."""
    generated = World(ancestry, {}, flattening.replaced)
    python = World(ancestry, {}, keep)
    everything = tuple(range(len(flattening.entries)))
    candidates = [everything]
    dropped = tuple(i for i in everything if not any(redundant(w, flattening, i) for w in (generated, python)))
    if dropped != everything:
        candidates.append(dropped)
    depends, reasons = [], []
    for kept in candidates:
        if generated.flattened_mro(flattening, kept) is None:
            reasons.append(inexact(generated, flattening, kept))
            continue
        verdicts = []
        for world in (generated, python):
            verdicts.append(judge(world, flattening, kept))
            if not verdicts[-1]:
                return Verdict(kept)
        depends += [verdict for verdict in verdicts if verdict.startswith("whether")]
        reasons.append(verdicts[0])
    return Verdict(None, (depends or reasons)[-1])


def keep(key: ClassKey) -> ClassKey:
    """Classes as Python names them when the modular file runs: no class is replaced."""
    return key


def judge(plain: World, flattening: Flattening, kept: Sequence[int]) -> str:
    """Why the `kept` bases are not exact in `plain`'s world, under some possible hypothesis about
    the classes whose bases cannot be read; "" when they are exact under every one."""
    worlds = [plain, *(World(plain.ancestry, h, plain.replaced) for h in hypotheses(plain, flattening))]
    possible = [world for world in worlds if world.mro(flattening.cls) is not None]
    if not possible:
        return f"{flattening.cls} itself has no consistent method resolution order"
    failing = [world for world in possible if not exact_in(world, flattening, kept)]
    if not failing:
        return ""
    if plain in failing:
        return inexact(plain, flattening, kept)
    return depends_on(failing[0].hypothesis, flattening, kept)


def exact_in(world: World, flattening: Flattening, kept: Sequence[int]) -> bool:
    target = world.flat_mro(flattening.cls, flattening)
    return target is not None and world.flattened_mro(flattening, kept) == target


def redundant(world: World, flattening: Flattening, index: int) -> bool:
    """An introduced base that is an ancestor of another base of the list (`nn.Module` beside
    GradientCheckpointingLayer), in the generated file or before merging (a base model's
    PreTrainedModel beside the modular PreTrainedModel that merges it): writing it is at best
    useless, before its subclass a TypeError."""
    if not flattening.introduced[index]:
        return False
    entry, written = flattening.entries[index], world.replaced(flattening.written[index])
    for other, key in enumerate(flattening.entries):
        if other == index:
            continue
        flat, original = world.flat_mro(key, flattening), world.mro(world.replaced(flattening.written[other]))
        if (flat is not None and entry in flat[1:]) or (original is not None and written in original[1:]):
            return True
    return False


def hypotheses(world: World, flattening: Flattening) -> Iterable[Hypothesis]:
    """One class whose bases cannot be read subclassing one other class it may subclass."""
    visible = sorted(visible_classes(world, flattening))
    for unknown in (key for key in visible if not key.known):
        below = descendants(world, visible, unknown)
        for parent in visible:
            if parent != unknown and parent != OBJECT and parent not in below and may_subclass(unknown, parent):
                yield {unknown: (parent,)}


def may_subclass(child: ClassKey, parent: ClassKey) -> bool:
    """An external class subclasses external classes only; a library class not found may subclass
    any class outside the model files and the modular file."""
    if child.kind == EXTERNAL:
        return parent.kind == EXTERNAL
    return parent.kind in (EXTERNAL, UNKNOWN, LIBRARY)


def visible_classes(world: World, flattening: Flattening) -> set[ClassKey]:
    """Every class the modular class and the flattened entries reach through their bases."""
    seen: set[ClassKey] = set()
    work = [flattening.cls, *flattening.entries]
    while work:
        key = work.pop()
        if key not in seen:
            seen.add(key)
            work += world.bases(key)
    return seen


def descendants(world: World, visible: Iterable[ClassKey], key: ClassKey) -> set[ClassKey]:
    return {other for other in visible if key in (world.mro(other) or ())[1:]}


def names(flattening: Flattening, kept: Sequence[int]) -> str:
    return "(" + ", ".join(str(flattening.entries[index]) for index in kept) + ")"


def depends_on(hypothesis: Hypothesis, flattening: Flattening, kept: Sequence[int]) -> str:
    [(child, (parent,))] = hypothesis.items()
    why = "is defined outside the library" if child.kind == EXTERNAL else "could not be found in the library"
    return (
        f"whether the bases {names(flattening, kept)} keep the method resolution order of "
        f"{flattening.cls} depends on whether {child} subclasses {parent}, which the converter "
        f"cannot read ({child} {why})"
    )


def inexact(world: World, flattening: Flattening, kept: Sequence[int]) -> str:
    written = names(flattening, kept)
    if world.flattened_mro(flattening, kept) is None:
        return f"its flattened bases {written} have no consistent method resolution order"
    return f"its flattened bases {written} give it another method resolution order than {flattening.cls} has"
