"""Checkpoint loading and saving on a real generated model (Llama): round trips (single file,
sharded, tied, dtype), the column-major output embedding in float32 only, a base model read from a head
checkpoint, the auto registry. Bad checkpoints and the load peak are tested on a toy model in
test_modeling_utils.py, the safetensors reader in test_safetensors_io.py.
Run: python -m pytest tests/runtime/test_checkpoints.py -q
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from generated.llama import LlamaConfig, LlamaForCausalLM
from runtime.checkpoint_saving import parse_size
from tests.models.helpers import tiny_llama_kwargs

REPO = Path(__file__).resolve().parents[2]


def saved_model(tmp_path: Path, **overrides: object) -> tuple[LlamaForCausalLM, Path]:
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(**tiny_llama_kwargs(**overrides))).eval()
    model.save_pretrained(tmp_path / "ckpt")
    return model, tmp_path / "ckpt"


def same_outputs(a: LlamaForCausalLM, b: LlamaForCausalLM) -> bool:
    """Equal within float tolerance: loading stores Linear weights column-major (decode_friendly),
    so matmuls may sum in another order."""
    ids = torch.tensor([[3, 5, 7, 9, 11]])
    with torch.no_grad():
        return torch.allclose(a(ids).logits, b(ids).logits, rtol=0, atol=1e-5)


@pytest.mark.parametrize("tied", [False, True])
def test_round_trip(tmp_path: Path, tied: bool) -> None:
    model, path = saved_model(tmp_path, tie_word_embeddings=tied)
    loaded = LlamaForCausalLM.from_pretrained(path)
    assert same_outputs(model, loaded)
    assert ("lm_head.weight" in load_file(path / "model.safetensors")) is not tied
    assert (loaded.lm_head.weight is loaded.model.embed_tokens.weight) is tied
    assert all(p.device.type != "meta" for p in loaded.parameters())
    assert loaded.model.rotary_emb.inv_freq.device.type == "cpu" and not loaded.training


def test_sharded_round_trip(tmp_path: Path) -> None:
    model, _ = saved_model(tmp_path)
    model.save_pretrained(tmp_path / "sharded", max_shard_size="20KB")
    index = json.loads((tmp_path / "sharded" / "model.safetensors.index.json").read_text())
    shards = sorted(set(index["weight_map"].values()))
    assert len(shards) > 2 and not (tmp_path / "sharded" / "model.safetensors").exists()
    assert set(index["weight_map"]) == set(model.state_dict())
    assert same_outputs(model, LlamaForCausalLM.from_pretrained(tmp_path / "sharded"))


@pytest.mark.parametrize("tied", [False, True])
def test_only_the_float32_output_embedding_is_stored_column_major(tmp_path: Path, tied: bool) -> None:
    _, path = saved_model(tmp_path, tie_word_embeddings=tied)
    loaded = LlamaForCausalLM.from_pretrained(path)
    assert loaded.lm_head.weight.shape == (99, 32) and loaded.lm_head.weight.t().is_contiguous()
    assert loaded.model.layers[0].mlp.up_proj.weight.is_contiguous()  # as stored
    half = LlamaForCausalLM.from_pretrained(path, dtype=torch.bfloat16)
    assert half.lm_head.weight.is_contiguous()  # column-major is slower in 16 bits


def test_dtype_conversion_on_load(tmp_path: Path) -> None:
    _, path = saved_model(tmp_path)
    loaded = LlamaForCausalLM.from_pretrained(path, dtype="bfloat16")
    assert {p.dtype for p in loaded.parameters()} == {torch.bfloat16}
    loaded(torch.tensor([[3, 4]]))


def test_parse_size() -> None:
    assert parse_size("5GB") == 5 * 10**9 and parse_size("10MB") == 10**7 and parse_size(7) == 7
    with pytest.raises(ValueError, match="max_shard_size"):
        parse_size("lots")


def test_base_model_loads_from_a_head_checkpoint_and_auto_classes_find_it(tmp_path: Path) -> None:
    from runtime.auto import AutoConfig, AutoModel, AutoModelForCausalLM

    model, path = saved_model(tmp_path)
    base = AutoModel.from_pretrained(path)
    assert type(base).__name__ == "LlamaModel" and isinstance(AutoConfig.from_pretrained(path), LlamaConfig)
    assert torch.equal(base.embed_tokens.weight, model.model.embed_tokens.weight)
    assert type(AutoModelForCausalLM.from_pretrained(path)).__name__ == "LlamaForCausalLM"
    with pytest.raises(ValueError, match="unknown model_type 'nonexistent'"):
        AutoConfig.for_model("nonexistent")
