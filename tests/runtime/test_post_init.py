"""The one post_init rule (runtime/modeling_utils.py): `post_init()` runs once, after the outermost
`__init__` of `Model(config)` returns, so modules a subclass adds after `super().__init__(config)`
are initialised and tied; an explicit `self.post_init()` inside `__init__` is deferred; loading a
checkpoint initialises nothing and still ties. A modular subclass of Llama adding a Linear after
`super().__init__(config)`, converted into a temporary repository, gets it initialised by
`_init_weights` identically in the generated model and in the overlay.
Run: python -m pytest tests/runtime/test_post_init.py -q
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn

from converter.run import main as convert
from runtime.modeling_utils import PreTrainedModel
from tests.equivalence.overlay import MODULAR_DIR, build_overlay, import_generated, oracle_errors
from tests.runtime.toy_model import ToyConfig, ToyForCausalLM, ToyModel

REPO = Path(__file__).resolve().parents[2]


class CountingModel(ToyModel):
    """ToyModel (which calls self.post_init() at the end of its __init__, transformers-style),
    counting post_init runs and weight inits, with a module added after super().__init__()."""

    def __init__(self, config: ToyConfig) -> None:
        self.post_inits = 0
        self.inits = 0
        super().__init__(config)
        self.extra = nn.Linear(config.hidden_size, 3)

    def post_init(self) -> None:
        self.post_inits += int(not self.__dict__.get("_constructing", False))
        super().post_init()

    def _init_weights(self, module: nn.Module) -> None:
        self.inits += 1
        super()._init_weights(module)


class HeadAfterSuper(ToyModel):
    """A head whose lm_head is created after super().__init__(), tied to the embedding."""

    _tied_weights_keys = {"lm_head.weight": "embed_tokens.weight"}

    def __init__(self, config: ToyConfig) -> None:
        super().__init__(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)


def test_a_module_added_after_super_init_is_initialised() -> None:
    model = CountingModel(ToyConfig(initializer_range=0.0))
    assert torch.count_nonzero(model.extra.weight) == 0 and torch.count_nonzero(model.extra.bias) == 0


def test_post_init_runs_once_after_the_outermost_init() -> None:
    model = CountingModel(ToyConfig())
    assert model.post_inits == 1
    assert model.inits == len(list(model.modules()))
    assert "_constructing" not in vars(model)


def test_post_init_on_a_finished_model_runs_at_once() -> None:
    model = CountingModel(ToyConfig())
    model.post_init()
    assert model.post_inits == 2


class Outer(PreTrainedModel):
    """A composite model: CountingModel built inside its __init__ (as a vision tower would be)."""

    config_class = ToyConfig

    def __init__(self, config: ToyConfig) -> None:
        super().__init__(config)
        self.inner = CountingModel(config)
        self.inner_post_inits_when_built = self.inner.post_inits


def test_a_model_built_inside_another_is_initialised_when_its_own_construction_ends() -> None:
    outer = Outer(ToyConfig())
    assert outer.inner_post_inits_when_built == 1  # done before the outer model went on
    assert outer.inner.post_inits == 1  # the outer post_init is the outer model's own


def test_loading_a_composite_model_initialises_nothing(tmp_path: Path) -> None:
    Outer(ToyConfig()).save_pretrained(tmp_path)
    loaded = Outer.from_pretrained(tmp_path)
    assert loaded.inner.inits == 0 and loaded.inner.post_inits == 1


def test_a_weight_tied_after_super_init_is_tied() -> None:
    model = HeadAfterSuper(ToyConfig(tie_word_embeddings=True))
    assert model.lm_head.weight is model.embed_tokens.weight


def test_loading_initialises_nothing_and_ties(tmp_path: Path) -> None:
    ToyForCausalLM(ToyConfig(tie_word_embeddings=True)).save_pretrained(tmp_path)
    calls: list[nn.Module] = []
    original = ToyForCausalLM._init_weights

    def counting(self: ToyForCausalLM, module: nn.Module) -> None:
        calls.append(module)
        original(self, module)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ToyForCausalLM, "_init_weights", counting)
        loaded = ToyForCausalLM.from_pretrained(tmp_path)
    assert calls == []
    assert loaded.lm_head.weight is loaded.model.embed_tokens.weight


MODULAR_TOY = """
from torch import nn

from generated.llama.configuration_llama import LlamaConfig
from generated.llama.modeling_llama import LlamaForCausalLM


class PostinitConfig(LlamaConfig):
    model_type = "postinit"


class PostinitForCausalLM(LlamaForCausalLM):
    def __init__(self, config: PostinitConfig) -> None:
        super().__init__(config)
        self.value_head = nn.Linear(config.hidden_size, 1)
"""
TINY = {
    "vocab_size": 40,
    "hidden_size": 16,
    "intermediate_size": 24,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "num_key_value_heads": 1,
    "tie_word_embeddings": True,
}


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, dict[str, object]]:
    """The generated package and the overlay of MODULAR_TOY (a temporary repository whose base is
    this repository's generated Llama)."""
    repo = tmp_path_factory.mktemp("repo")
    shutil.copytree(REPO / "generated" / "llama", repo / "generated" / "llama")
    modular = repo / "modular" / "modular_postinit.py"
    modular.parent.mkdir()
    modular.write_text(textwrap.dedent(MODULAR_TOY).lstrip(), encoding="utf-8")
    assert convert(["--repo-root", str(repo), str(modular)]) == 0
    return import_generated(repo, "postinit"), build_overlay("postinit", (repo / "modular", MODULAR_DIR))


@pytest.mark.parametrize("side", ["generated", "overlay"])
def test_a_linear_added_by_a_modular_subclass_is_initialised(
    converted: tuple[object, dict[str, object]], side: str
) -> None:
    generated, overlay = converted
    namespace = vars(generated) if side == "generated" else overlay
    with oracle_errors("postinit"):
        model = namespace["PostinitForCausalLM"](namespace["PostinitConfig"](initializer_range=0.0, **TINY))
    assert torch.count_nonzero(model.value_head.weight) == 0 and torch.count_nonzero(model.value_head.bias) == 0
    assert model.lm_head.weight is model.model.embed_tokens.weight


def test_the_generated_model_and_the_overlay_initialise_identically(
    converted: tuple[object, dict[str, object]],
) -> None:
    generated, overlay = converted
    states = []
    for namespace in (vars(generated), overlay):
        torch.manual_seed(0)
        with oracle_errors("postinit"):
            model = namespace["PostinitForCausalLM"](namespace["PostinitConfig"](**TINY))
        states.append(model.state_dict())
    assert states[0].keys() == states[1].keys()
    assert all(torch.equal(states[0][name], states[1][name]) for name in states[0])
    assert states[0]["value_head.bias"].abs().sum() == 0 and states[0]["value_head.weight"].std() > 0
