"""Checkpoint loading and saving: round trips (single file, sharded, tied, dtype), and every kind
of bad checkpoint gives one error naming the problem. Also that loading holds one copy of the
weights (tests/runtime/test_modeling_utils.py measures the load peak). Run: python -m pytest tests/runtime/test_checkpoints.py -q
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from generated.llama import LlamaConfig, LlamaForCausalLM
from runtime.modeling_utils import CheckpointError, parse_size
from runtime.safetensors_io import SafetensorsFile
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


def test_linear_weights_are_stored_column_major_after_loading(tmp_path: Path) -> None:
    _, path = saved_model(tmp_path)
    loaded = LlamaForCausalLM.from_pretrained(path)
    weight = loaded.model.layers[0].mlp.up_proj.weight
    assert weight.shape == (64, 32) and weight.t().is_contiguous()
    assert load_file(path / "model.safetensors")["model.layers.0.mlp.up_proj.weight"].is_contiguous()


def test_dtype_conversion_on_load(tmp_path: Path) -> None:
    _, path = saved_model(tmp_path)
    loaded = LlamaForCausalLM.from_pretrained(path, dtype="bfloat16")
    assert {p.dtype for p in loaded.parameters()} == {torch.bfloat16}
    loaded(torch.tensor([[3, 4]]))


def rewrite(path: Path, edit: callable) -> None:
    tensors = load_file(path / "model.safetensors")
    edit(tensors)
    save_file(tensors, path / "model.safetensors", metadata={"format": "pt"})


def test_missing_extra_and_misshaped_tensors_are_all_named(tmp_path: Path) -> None:
    _, path = saved_model(tmp_path)

    def edit(tensors: dict) -> None:
        del tensors["model.norm.weight"]
        tensors["model.extra.weight"] = torch.zeros(2)
        tensors["model.layers.0.mlp.up_proj.weight"] = torch.zeros(3, 3)

    rewrite(path, edit)
    with pytest.raises(CheckpointError) as error:
        LlamaForCausalLM.from_pretrained(path)
    message = str(error.value)
    assert "missing" in message and "model.norm.weight" in message
    assert "unexpected" in message and "model.extra.weight" in message
    assert "model.layers.0.mlp.up_proj.weight: checkpoint (3, 3) vs model (64, 32)" in message


def test_strict_false_reports_and_initialises(tmp_path: Path) -> None:
    _, path = saved_model(tmp_path)
    rewrite(path, lambda tensors: tensors.pop("model.norm.weight"))
    with pytest.warns(UserWarning, match="model.norm.weight"):
        loaded = LlamaForCausalLM.from_pretrained(path, strict=False)
    assert loaded.loading_info["missing"] == ["model.norm.weight"]
    assert torch.equal(loaded.model.norm.weight, torch.ones(32))


def test_truncated_file_names_file_and_tensor(tmp_path: Path) -> None:
    _, path = saved_model(tmp_path)
    data = (path / "model.safetensors").read_bytes()
    (path / "model.safetensors").write_bytes(data[: len(data) - 100])
    with pytest.raises(ValueError, match=r"model.safetensors: tensor '.*' ends at byte \d+ but the file has"):
        LlamaForCausalLM.from_pretrained(path)


def test_garbage_header_is_reported(tmp_path: Path) -> None:
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes((10).to_bytes(8, "little") + b"not json!!")
    with pytest.raises(ValueError, match="header is not valid JSON"):
        SafetensorsFile(bad)


def test_wrong_config_type_is_reported(tmp_path: Path) -> None:
    _, path = saved_model(tmp_path)
    config = json.loads((path / "config.json").read_text())
    config["hidden_size"] = "big"
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="hidden_size='big'"):
        LlamaForCausalLM.from_pretrained(path)


def test_pickle_only_checkpoint_is_refused(tmp_path: Path) -> None:
    model, path = saved_model(tmp_path)
    (path / "model.safetensors").unlink()
    (path / "pytorch_model.bin").write_bytes(b"\x80\x04not really")
    with pytest.raises(CheckpointError, match="only safetensors"):
        LlamaForCausalLM.from_pretrained(path)


def test_reader_matches_safetensors_for_every_dtype(tmp_path: Path) -> None:
    tensors = {str(dtype): torch.arange(12).reshape(3, 4).to(dtype)
               for dtype in (torch.float32, torch.float16, torch.bfloat16, torch.float64, torch.int64,
                             torch.int32, torch.int16, torch.int8, torch.uint8, torch.bool)}
    save_file(tensors, tmp_path / "all.safetensors")
    with SafetensorsFile(tmp_path / "all.safetensors") as f:
        for name, tensor in tensors.items():
            assert torch.equal(f.read(name), tensor) and f.read(name).dtype == tensor.dtype


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
