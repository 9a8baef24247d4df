"""What the model tests need to know about each model: one declaration per modular file.

`tests/models/specs/<model>.py` holds `SPEC = ModelSpec(...)` for `modular/modular_<model>.py`.
The parity tests (tests/models/), the equivalence tests and the structure tests
(tests/equivalence/) are parametrized from the modular files present and these declarations: a
modular file is tested as soon as it exists, and a structure test fails, naming the file to
create and the command that writes it, when a modular file has no declaration (or a declaration
no modular file). A new model gets both from `python utils/add_model.py <name> --from <base>`.

    from tests.models.specs import TEXT, declared_specs
    for spec in declared_specs(TEXT):   # the text decoders whose modular file exists
        print(spec.model, spec.class_name("ForCausalLM"), spec.reference_name("ForCausalLM"))
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from tests.models.helpers import ROPE_VARIANTS

REPO = Path(__file__).resolve().parents[3]
MODULAR_DIR = REPO / "modular"
SPECS_DIR = Path(__file__).resolve().parent

TEXT = "text"  # a decoder-only language model: <Prefix>ForCausalLM
VISION = "vision"  # a vision encoder: <Prefix>VisionModel
VISION_LANGUAGE = "vision-language"  # images and text in, text out: <Prefix>ForConditionalGeneration
# images reach the text through gated cross-attention layers (Flamingo, IDEFICS): <Prefix>ForVisionText2Text
CROSS_ATTENTION_VLM = "cross-attention vision-language"
MAIN_CLASS = {
    TEXT: "ForCausalLM",
    VISION: "VisionModel",
    VISION_LANGUAGE: "ForConditionalGeneration",
    CROSS_ATTENTION_VLM: "ForVisionText2Text",
}
MAIN_CONFIG = {TEXT: "Config", VISION: "VisionConfig", VISION_LANGUAGE: "Config", CROSS_ATTENTION_VLM: "Config"}
ALL_ROPE_TYPES = tuple(ROPE_VARIANTS)

Switch = st.SearchStrategy | Sequence[Any]


@dataclass(frozen=True)
class ModelSpec:
    """The test declaration of one model.

    model: the name of modular/modular_<model>.py and generated/<model>/.
    prefix: the CamelCase prefix of our classes (`Qwen2` in Qwen2Config, Qwen2ForCausalLM).
    kind: TEXT, VISION, VISION_LANGUAGE or CROSS_ATTENTION_VLM; it picks the main class
        (MAIN_CLASS) and the tests.
    reference: the prefix of the transformers 5.23.0 classes the parity tests compare with
        (`Qwen2` for transformers.Qwen2ForCausalLM); None when transformers has no such model,
        and then `no_reference` says why, which is the reason the parity tests skip with.
    heads: class suffixes of the task heads both transformers and our package have
        (`ForSequenceClassification`, ...); the structure tests check the list is exactly that.
    config: tiny config overrides for the parity tests: for text models on top of
        tests/models/helpers.py's `tiny_llama_kwargs`; for vision-language models tested by
        tests/models/test_vision_language.py, sub-config overrides (`{"text_config": {...}}`) on
        top of that file's tiny text and vision configs, and top-level fields.
    loss_config: further overrides for the loss parity test only (Mixtral turns its router
        logits on there, so the load-balancing loss is compared too).
    backends: attention backends the model supports and the parity tests run.
    rope_types: the rope types the model accepts; equivalence draws only these.
    switches: the model's own config fields for equivalence to draw: field name -> hypothesis
        strategy or list of values; a dotted name (`text_config.sliding_window`) sets a field of
        a sub-config. Every name must be a field of the model's config.
    bf16_atol: the largest |logit difference| with transformers allowed when both run in
        bfloat16 (measured per model, with margin); None where no bf16 parity test runs.
    bf16_atol_by_backend: `bf16_atol` for the backends that round differently from eager in bf16
        (flex_attention keeps its scores in float32).
    image_sizes: for a vision-language model whose images arrive as `pixel_values` with a
        `pixel_attention_mask` and fill `<image>` tokens (the Idefics2 family), the padded image
        sizes (height, width) tests/models/test_vision_language.py compares at; empty for a
        model with its own parity file, tests/models/test_<model>.py.
    """

    model: str
    prefix: str
    kind: str
    reference: str | None
    no_reference: str = ""
    heads: tuple[str, ...] = ()
    config: Mapping[str, Any] = field(default_factory=dict)
    loss_config: Mapping[str, Any] = field(default_factory=dict)
    backends: tuple[str, ...] = ("eager", "sdpa")
    rope_types: tuple[str, ...] = ALL_ROPE_TYPES
    switches: Mapping[str, Switch] = field(default_factory=dict)
    bf16_atol: float | None = None
    bf16_atol_by_backend: Mapping[str, float] = field(default_factory=dict)
    image_sizes: tuple[tuple[int, int], ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in MAIN_CLASS:
            raise ValueError(f"{self.model}: kind={self.kind!r}; valid: {', '.join(MAIN_CLASS)}")
        if (self.reference is None) != bool(self.no_reference):
            raise ValueError(f"{self.model}: give either `reference` or the reason in `no_reference`, not both")
        unknown = sorted(set(self.rope_types) - set(ALL_ROPE_TYPES))
        if unknown:
            raise ValueError(f"{self.model}: unknown rope types {unknown}; valid: {', '.join(ALL_ROPE_TYPES)}")

    @property
    def main_class(self) -> str:
        """The class suffix the tests build: `ForCausalLM`, `VisionModel` or `ForConditionalGeneration`."""
        return MAIN_CLASS[self.kind]

    def class_name(self, suffix: str) -> str:
        """Our class: `Qwen2ForCausalLM` for suffix `ForCausalLM`."""
        return self.prefix + suffix

    def reference_name(self, suffix: str) -> str:
        """The transformers class for `suffix`; only for a spec with a reference."""
        assert self.reference is not None, f"{self.model} has no transformers reference: {self.no_reference}"
        return self.reference + suffix

    def ours(self, suffix: str) -> type:
        """Our generated class for `suffix` (imported from generated.<model>)."""
        return getattr(importlib.import_module(f"generated.{self.model}"), self.class_name(suffix))

    def theirs(self, suffix: str) -> type:
        """The transformers class for `suffix` (transformers is a test-only dependency)."""
        return getattr(importlib.import_module("transformers"), self.reference_name(suffix))

    def draw_switches(self, draw: st.DrawFn) -> dict[str, Any]:
        """One value per declared switch, by dotted name."""
        return {name: draw(as_strategy(values)) for name, values in sorted(self.switches.items())}


def as_strategy(values: Switch) -> st.SearchStrategy:
    """A switch's strategy: itself, or a choice among its listed values."""
    return values if isinstance(values, st.SearchStrategy) else st.sampled_from(list(values))


def set_dotted(kwargs: dict[str, Any], name: str, value: Any) -> None:
    """`kwargs["text_config"]["sliding_window"] = value` for name `text_config.sliding_window`."""
    *parents, last = name.split(".")
    for parent in parents:
        kwargs = kwargs.setdefault(parent, {})
    kwargs[last] = value


def modular_models() -> list[str]:
    """The models with a modular file, sorted: what the tests collect."""
    return sorted(path.stem.removeprefix("modular_") for path in MODULAR_DIR.glob("modular_*.py"))


def declared_models() -> list[str]:
    """The models with a declaration file, sorted."""
    return sorted(path.stem for path in SPECS_DIR.glob("*.py") if path.stem != "__init__")


@cache
def spec_of(model: str) -> ModelSpec:
    """The declaration of `model` (tests/models/specs/<model>.py: SPEC)."""
    spec = importlib.import_module(f"tests.models.specs.{model}").SPEC
    assert spec.model == model, f"tests/models/specs/{model}.py declares model={spec.model!r}"
    return spec


def declared_specs(kind: str | None = None) -> list[ModelSpec]:
    """Declarations of the models whose modular file exists (of one kind, or all).

    Collection is driven by modular/: a declaration whose modular file is not written yet is
    not collected, and a modular file without a declaration fails in tests/equivalence/test_structure.py.
    """
    declared = set(declared_models())
    specs = [spec_of(model) for model in modular_models() if model in declared]
    return [spec for spec in specs if kind is None or spec.kind == kind]


def missing_declaration_message(model: str) -> str:
    """What to do about a modular file without a declaration."""
    return (
        f"modular/modular_{model}.py has no test declaration: create tests/models/specs/{model}.py "
        f"(`python utils/add_model.py {model} --declaration-only` writes one from its base's)"
    )
