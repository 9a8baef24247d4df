"""Config fields a modular file removes (`mlp_bias = AttributeError()`), aliases (`attribute_map`) or
gives new defaults mean the same in the generated model and in the overlay oracle, and when the
oracle fails it says so, at the modular file and line.

Each case is a small modular file over this repository's Llama, converted into a temporary
repository (converter/run.py --repo-root) and composed as an overlay from the same file:
- removing `mlp_bias` and overriding the MLP's `__init__` without super(), so nothing reads it:
  converts, and both models have the same state_dict and give bit-identical logits (full forward
  and cached decoding);
- removing it while the inherited MLP still reads it: building either model raises the same
  AttributeError naming the class and the field, and the overlay's error says the ORACLE failed,
  at the line of modular/modular_llama.py that reads it;
- an alias and new defaults: the same config (to_dict) from the same keywords;
- an overlay that cannot even be built says the ORACLE failed, at the modular file and line, and
  its tracebacks show that line's source.
Run: python -m pytest tests/equivalence/test_config_removal.py -q
"""

from __future__ import annotations

import linecache
import re
import shutil
import textwrap
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch

from converter.run import main as convert
from tests.equivalence.overlay import MODULAR_DIR, build_overlay, import_generated, oracle_errors
from tests.models.helpers import decode_in_steps, padded_batch

REPO = Path(__file__).resolve().parents[2]
HEADER = """
from torch import nn

from generated.llama.configuration_llama import LlamaConfig
from generated.llama.modeling_llama import LlamaForCausalLM, LlamaMLP
"""
REMOVES_MLP_BIAS = """

class {Name}Config(LlamaConfig):
    model_type = "{name}"
    mlp_bias = AttributeError()
"""
OWN_MLP_INIT = """

class {Name}MLP(LlamaMLP):
    def __init__(self, config: {Name}Config) -> None:
        nn.Module.__init__(self)  # not super().__init__(): LlamaMLP's reads config.mlp_bias
        self.hidden_size = config.hidden_size
        self.intermediate_size = config.intermediate_size
        self.gate_proj = nn.Linear(self.hidden_size, self.intermediate_size, bias=False)
        self.up_proj = nn.Linear(self.hidden_size, self.intermediate_size, bias=False)
        self.down_proj = nn.Linear(self.intermediate_size, self.hidden_size, bias=True)
        self.act_fn = nn.functional.silu
"""
CAUSAL_LM = """

class {Name}ForCausalLM(LlamaForCausalLM):
    pass
"""
ALIASED = """

class {Name}Config(LlamaConfig):
    model_type = "{name}"
    attribute_map = {{"n_layer": "num_hidden_layers"}}
    hidden_size = 64
    rms_norm_eps: float = 1e-5
"""
TINY = {
    "vocab_size": 40,
    "hidden_size": 16,
    "intermediate_size": 24,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "num_key_value_heads": 1,
    "pad_token_id": 0,
}


def converted(tmp_path: Path, name: str, *parts: str) -> tuple[Path, ModuleType, dict[str, object]]:
    """Write `modular_<name>.py` from `parts`, convert it, and return it with the generated package
    and the overlay."""
    fields = {"name": name, "Name": name.capitalize()}
    modular = tmp_path / "modular" / f"modular_{name}.py"
    modular.parent.mkdir(parents=True)
    modular.write_text("".join(textwrap.dedent(part).format(**fields) for part in parts).lstrip(), encoding="utf-8")
    shutil.copytree(REPO / "generated" / "llama", tmp_path / "generated" / "llama")
    assert convert(["--repo-root", str(tmp_path), str(modular)]) == 0
    return modular, import_generated(tmp_path, name), build_overlay(name, (modular.parent, MODULAR_DIR))


def shapes(model: torch.nn.Module) -> dict[str, torch.Size]:
    return {name: tensor.shape for name, tensor in model.state_dict().items()}


def pair(generated: ModuleType, overlay: dict[str, object], name: str, **kwargs: Any) -> tuple[Any, Any]:
    """The overlay model and the generated one, with the overlay's weights, in eval mode."""
    Name = name.capitalize()
    torch.manual_seed(0)
    with oracle_errors(name):
        reference = overlay[f"{Name}ForCausalLM"](overlay[f"{Name}Config"](**kwargs))
    ours = getattr(generated, f"{Name}ForCausalLM")(getattr(generated, f"{Name}Config")(**kwargs))
    assert shapes(ours) == shapes(reference)
    ours.load_state_dict(reference.state_dict())
    return reference.eval(), ours.eval()


@pytest.mark.parametrize("overrides", [{}, {"num_hidden_layers": 1, "tie_word_embeddings": True}])
def test_a_removed_field_nothing_reads_converts_and_equals_the_overlay(tmp_path: Path, overrides: dict) -> None:
    _, generated, overlay = converted(tmp_path, "nobias", HEADER, REMOVES_MLP_BIAS, OWN_MLP_INIT, CAUSAL_LM)
    reference, ours = pair(generated, overlay, "nobias", **{**TINY, **overrides})
    assert "mlp_bias" not in ours.config.to_dict() and "mlp_bias" not in reference.config.to_dict()
    assert "model.layers.0.mlp.down_proj.bias" in ours.state_dict()  # the override's own MLP
    input_ids, mask = padded_batch(TINY["vocab_size"], [5, 3, 6])
    with torch.no_grad():
        expected = reference(input_ids, attention_mask=mask).logits
        assert torch.equal(ours(input_ids, attention_mask=mask).logits, expected)
        assert torch.equal(decode_in_steps(ours, input_ids, mask, 3), decode_in_steps(reference, input_ids, mask, 3))


def test_a_removed_field_inherited_code_reads_fails_identically(tmp_path: Path) -> None:
    _, generated, overlay = converted(tmp_path, "stillreads", HEADER, REMOVES_MLP_BIAS, CAUSAL_LM)
    with pytest.raises(AttributeError) as ours:
        generated.StillreadsForCausalLM(generated.StillreadsConfig(**TINY))
    with pytest.raises(AttributeError) as oracle, oracle_errors("stillreads"):
        overlay["StillreadsForCausalLM"](overlay["StillreadsConfig"](**TINY))
    assert str(ours.value) == str(oracle.value) == "StillreadsConfig has no field 'mlp_bias'"
    [note] = oracle.value.__notes__
    assert note.startswith("ORACLE failed running the overlay of stillreads") and "not the generated model" in note
    place = re.search(r"at modular/modular_llama\.py:(\d+) in __init__: (.*)$", note)
    assert place is not None and "config.mlp_bias" in place[2]
    line = (MODULAR_DIR / "modular_llama.py").read_text().splitlines()[int(place[1]) - 1]
    assert line.strip() == place[2]


def test_an_alias_and_new_defaults_mean_the_same_in_both(tmp_path: Path) -> None:
    _, generated, overlay = converted(tmp_path, "aliased", HEADER, ALIASED, CAUSAL_LM)
    for kwargs in ({}, {"n_layer": 3, "num_attention_heads": 4}):
        ours, reference = generated.AliasedConfig(**kwargs), overlay["AliasedConfig"](**kwargs)
        assert ours.to_dict() == reference.to_dict()
        assert (ours.hidden_size, ours.rms_norm_eps, ours.n_layer) == (64, 1e-5, kwargs.get("n_layer", 32))
        assert "n_layer" not in ours.to_dict()


BROKEN = """

class {Name}Config(LlamaConfig):
    model_type = "{name}"

    use_cache = AttributeError()
"""


def test_an_overlay_that_cannot_be_built_says_the_oracle_failed_where(tmp_path: Path) -> None:
    modular = tmp_path / "modular_broken.py"
    modular.write_text(textwrap.dedent(HEADER + BROKEN).format(name="broken", Name="Broken"), encoding="utf-8")
    with pytest.raises(TypeError, match="removes 'use_cache', which every config has") as caught:
        build_overlay("broken", (tmp_path, MODULAR_DIR))
    lines = modular.read_text().splitlines(keepends=True)
    number = lines.index("class BrokenConfig(LlamaConfig):\n") + 1
    [note] = caught.value.__notes__
    assert note.startswith("ORACLE failed building the overlay of broken")
    assert note.endswith(
        f"not the generated model: at {modular}:{number} in <module>: class BrokenConfig(LlamaConfig):"
    )
    frames = traceback.extract_tb(caught.value.__traceback__)
    frame = next(f for f in frames if f.filename.startswith("[ORACLE overlay of broken]"))
    assert (frame.filename, frame.lineno) == (f"[ORACLE overlay of broken] {modular}", number)
    assert linecache.getline(frame.filename, frame.lineno) == lines[number - 1]
