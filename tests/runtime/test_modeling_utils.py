"""`PreTrainedModel` on a toy model (tests/runtime/toy_model.py), independent of generated files.

Proves: weights initialise as transformers does; save then load gives the same state and outputs
(tied and untied, single file and sharded, with a dtype change); every kind of bad checkpoint gives
one error naming each problem, or with strict=False a report; loading leaves nothing on the meta
device and keeps computed buffers; a checkpoint loads through a Hub repo id (download faked);
loading peaks at about one copy of the weights.
Run: python -m pytest tests/runtime/test_modeling_utils.py -q
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import huggingface_hub
import pytest
import torch
from huggingface_hub import errors
from safetensors.torch import load_file, save_file

from runtime.modeling_utils import CheckpointError
from tests.runtime.toy_model import ToyConfig, ToyForCausalLM, ToyModel

REPO = Path(__file__).resolve().parents[2]
IDS = torch.tensor([[1, 2, 3, 0, 10, 4]])


def saved(tmp_path: Path, **config: object) -> tuple[ToyForCausalLM, Path]:
    torch.manual_seed(0)
    model = ToyForCausalLM.from_config(ToyConfig(**config)).eval()
    model.save_pretrained(tmp_path / "ckpt")
    return model, tmp_path / "ckpt"


def assert_same_model(expected: ToyForCausalLM, actual: ToyForCausalLM) -> None:
    want, got = expected.state_dict(), actual.state_dict()
    assert list(got) == list(want)
    for name in want:
        assert torch.equal(got[name], want[name].to(got[name].dtype)), name
    with torch.no_grad():
        torch.testing.assert_close(actual(IDS), expected(IDS).to(actual.dtype))


def rewrite_weights(path: Path, edit: object) -> None:
    tensors = load_file(path / "model.safetensors")
    edit(tensors)  # type: ignore[operator]
    save_file(tensors, path / "model.safetensors", metadata={"format": "pt"})


# -- initialisation -------------------------------------------------------------------------------


def test_init_weights_follow_transformers() -> None:
    torch.manual_seed(0)
    model = ToyForCausalLM(ToyConfig(vocab_size=200, hidden_size=64, initializer_range=0.5))
    base = model.model
    assert torch.equal(base.norm.weight, torch.ones(64)) and torch.equal(base.pre_norm.weight, torch.zeros(64))
    assert torch.equal(base.embed_tokens.weight[0], torch.zeros(64))  # padding row
    assert torch.equal(base.layers[0].bias, torch.zeros(64))
    assert abs(base.embed_tokens.weight[1:].std().item() - 0.5) < 0.05
    assert abs(model.lm_head.weight.std().item() - 0.5) < 0.05


def test_ties_only_when_config_says_so() -> None:
    tied = ToyForCausalLM(ToyConfig(tie_word_embeddings=True))
    untied = ToyForCausalLM(ToyConfig(tie_word_embeddings=False))
    assert tied.lm_head.weight is tied.model.embed_tokens.weight
    assert untied.lm_head.weight is not untied.model.embed_tokens.weight
    assert tied.num_parameters() == untied.num_parameters() - 11 * 8


def test_accessors() -> None:
    model = ToyForCausalLM(ToyConfig())
    assert model.get_input_embeddings() is model.model.embed_tokens
    assert model.get_output_embeddings() is model.lm_head
    assert ToyModel(ToyConfig()).get_output_embeddings() is None
    replacement = torch.nn.Embedding(11, 8)
    model.set_input_embeddings(replacement)
    assert model.model.embed_tokens is replacement
    assert model.dtype == torch.float32 and model.device == torch.device("cpu")


def test_from_config_dtype_and_attn_implementation() -> None:
    model = ToyForCausalLM.from_config(ToyConfig(), dtype="bfloat16", attn_implementation="eager")
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}
    assert model.config._attn_implementation == "eager"
    with pytest.raises(ValueError, match="valid names"):
        ToyForCausalLM.from_config(ToyConfig(), attn_implementation="fastest")


# -- round trips ----------------------------------------------------------------------------------


@pytest.mark.parametrize("tied", [False, True], ids=["untied", "tied"])
def test_round_trip(tmp_path: Path, tied: bool) -> None:
    model, path = saved(tmp_path, tie_word_embeddings=tied)
    loaded = ToyForCausalLM.from_pretrained(path)
    assert_same_model(model, loaded)
    assert ("lm_head.weight" in load_file(path / "model.safetensors")) is not tied
    assert (loaded.lm_head.weight is loaded.model.embed_tokens.weight) is tied
    assert not loaded.training


def test_saved_config_names_architecture_and_dtype(tmp_path: Path) -> None:
    _, path = saved(tmp_path)
    config = json.loads((path / "config.json").read_text())
    assert config["architectures"] == ["ToyForCausalLM"] and config["dtype"] == "float32"
    assert config["model_type"] == "toy"


def test_checkpoint_that_also_holds_the_tied_target_loads(tmp_path: Path) -> None:
    model, path = saved(tmp_path, tie_word_embeddings=True)
    rewrite_weights(path, lambda t: t.update({"lm_head.weight": t["model.embed_tokens.weight"].clone()}))
    loaded = ToyForCausalLM.from_pretrained(path)
    assert loaded.lm_head.weight is loaded.model.embed_tokens.weight
    assert_same_model(model, loaded)


def test_sharded_round_trip_writes_a_sorted_index(tmp_path: Path) -> None:
    model, _ = saved(tmp_path, num_layers=3)
    model.save_pretrained(tmp_path / "sharded", max_shard_size=400)
    index = json.loads((tmp_path / "sharded" / "model.safetensors.index.json").read_text())
    weight_map = index["weight_map"]
    assert list(weight_map) == sorted(model.state_dict())
    assert index["metadata"]["total_size"] == sum(t.numel() * t.element_size() for t in model.state_dict().values())
    shards = sorted(set(weight_map.values()))
    assert len(shards) > 2 and shards[0] == f"model-00001-of-{len(shards):05d}.safetensors"
    assert not (tmp_path / "sharded" / "model.safetensors").exists()
    assert_same_model(model, ToyForCausalLM.from_pretrained(tmp_path / "sharded"))


@pytest.mark.parametrize("dtype", [torch.bfloat16, "bfloat16"], ids=["torch-dtype", "name"])
def test_dtype_conversion_on_load(tmp_path: Path, dtype: object) -> None:
    model, path = saved(tmp_path)
    loaded = ToyForCausalLM.from_pretrained(path, dtype=dtype)
    assert {p.dtype for p in loaded.parameters()} == {torch.bfloat16}
    assert torch.equal(loaded.lm_head.weight, model.lm_head.weight.to(torch.bfloat16))


def test_dtype_auto_takes_the_config_dtype(tmp_path: Path) -> None:
    ToyForCausalLM.from_config(ToyConfig(), dtype=torch.float16).save_pretrained(tmp_path / "half")
    assert ToyForCausalLM.from_pretrained(tmp_path / "half", dtype="auto").dtype == torch.float16
    assert ToyForCausalLM.from_pretrained(tmp_path / "half").dtype == torch.float32


def test_loaded_model_has_no_meta_tensors_and_keeps_computed_buffers(tmp_path: Path) -> None:
    model, path = saved(tmp_path)
    loaded = ToyForCausalLM.from_pretrained(path)
    assert all(p.device.type == "cpu" for p in loaded.parameters())
    assert torch.equal(loaded.model.position_scale, model.model.position_scale)


def test_repo_id_goes_through_the_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model, path = saved(tmp_path)
    asked: list[tuple[str, str, str | None]] = []

    def fake_download(repo_id: str, filename: str, **kwargs: object) -> str:
        asked.append((repo_id, filename, kwargs.get("revision")))  # type: ignore[arg-type]
        if not (path / filename).exists():
            raise errors.EntryNotFoundError(f"{filename} not in {repo_id}")
        return str(path / filename)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    loaded = ToyForCausalLM.from_pretrained("org/toy", revision="v1")
    assert_same_model(model, loaded)
    assert ("org/toy", "config.json", "v1") in asked and ("org/toy", "model.safetensors", "v1") in asked


# -- bad checkpoints ------------------------------------------------------------------------------


def test_missing_unexpected_and_misshaped_tensors_are_named_in_one_error(tmp_path: Path) -> None:
    _, path = saved(tmp_path)

    def edit(tensors: dict[str, torch.Tensor]) -> None:
        del tensors["model.norm.weight"]
        tensors["model.extra.weight"] = torch.zeros(2)
        tensors["model.layers.0.weight"] = torch.zeros(3, 5)

    rewrite_weights(path, edit)
    with pytest.raises(CheckpointError) as caught:
        ToyForCausalLM.from_pretrained(path)
    message = str(caught.value)
    assert "missing" in message and "model.norm.weight" in message
    assert "unexpected" in message and "model.extra.weight" in message
    assert "model.layers.0.weight: checkpoint (3, 5) vs model (8, 8)" in message


def test_strict_false_reports_instead_and_initialises(tmp_path: Path) -> None:
    model, path = saved(tmp_path)

    def edit(tensors: dict[str, torch.Tensor]) -> None:
        del tensors["model.norm.weight"]
        tensors["model.extra.weight"] = torch.zeros(2)
        tensors["model.layers.0.weight"] = torch.zeros(3, 5)

    rewrite_weights(path, edit)
    with pytest.warns(UserWarning, match="model.norm.weight"):
        loaded = ToyForCausalLM.from_pretrained(path, strict=False)
    info = loaded.loading_info
    assert "model.norm.weight" in info["missing"] and info["unexpected"] == ["model.extra.weight"]
    assert len(info["mismatched"]) == 1 and info["mismatched"][0].startswith("model.layers.0.weight")
    assert torch.equal(loaded.model.norm.weight, torch.ones(8))  # initialised as a fresh model would
    assert loaded.model.layers[0].weight.shape == (8, 8) and loaded.model.layers[0].weight.device.type == "cpu"
    assert torch.equal(loaded.model.layers[0].bias, model.model.layers[0].bias)  # kept from the checkpoint


def test_a_misshaped_tensor_is_not_also_reported_missing(tmp_path: Path) -> None:
    _, path = saved(tmp_path)
    rewrite_weights(path, lambda t: t.update({"model.layers.0.weight": torch.zeros(3, 5)}))
    with pytest.warns(UserWarning):
        loaded = ToyForCausalLM.from_pretrained(path, strict=False)
    assert loaded.loading_info["missing"] == []


def test_truncated_checkpoint_names_file_and_tensor(tmp_path: Path) -> None:
    _, path = saved(tmp_path)
    data = (path / "model.safetensors").read_bytes()
    (path / "model.safetensors").write_bytes(data[:-10])
    with pytest.raises(ValueError, match=r"model\.safetensors: tensor '[\w.]+' ends at byte"):
        ToyForCausalLM.from_pretrained(path)


def test_config_with_a_wrong_type_names_field_and_value(tmp_path: Path) -> None:
    _, path = saved(tmp_path)
    config = json.loads((path / "config.json").read_text())
    (path / "config.json").write_text(json.dumps({**config, "hidden_size": "big"}))
    with pytest.raises(ValueError, match="hidden_size='big'"):
        ToyForCausalLM.from_pretrained(path)


def test_pickle_only_folder_is_refused(tmp_path: Path) -> None:
    _, path = saved(tmp_path)
    (path / "model.safetensors").unlink()
    (path / "pytorch_model.bin").write_bytes(b"\x80\x04 not really a pickle")
    with pytest.raises(ValueError, match="only safetensors"):
        ToyForCausalLM.from_pretrained(path)


def test_folder_without_weights_is_file_not_found(tmp_path: Path) -> None:
    _, path = saved(tmp_path)
    (path / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        ToyForCausalLM.from_pretrained(path)


# -- memory ---------------------------------------------------------------------------------------

MEASURE_LOAD = """
import sys
sys.path.insert(0, {repo!r})
import torch

def status(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key + ":"))  # kB

# ru_maxrss would not do: across exec it keeps the peak of the parent (pytest); this resets the
# peak (VmHWM) to the current RSS instead
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
base = status("VmRSS")
from tests.runtime.toy_model import ToyForCausalLM
model = ToyForCausalLM.from_pretrained({path!r}, dtype={dtype!r})
for param in model.parameters():  # a mapped weight arrives when it is first read
    param.sum()
print(status("VmHWM") - base)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="reads peak RSS from /proc/self/status")
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"], ids=["mapped", "converted"])
def test_loading_peaks_at_about_one_copy_of_the_weights(tmp_path: Path, dtype: str) -> None:
    """Peak RSS growth while loading ~200 MB of fp32 weights (48 linear layers), then reading
    each once, stays under 1.3x the weights as loaded: mapped as stored, or converted to bf16."""
    config = ToyConfig(vocab_size=64, hidden_size=1024, num_layers=48)
    model = ToyForCausalLM.from_config(config)
    model.save_pretrained(tmp_path / "big")
    weight_bytes = sum(p.numel() * getattr(torch, dtype).itemsize for p in model.parameters())
    del model
    code = textwrap.dedent(MEASURE_LOAD.format(repo=str(REPO), path=str(tmp_path / "big"), dtype=dtype))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    growth = int(result.stdout.split()[-1])
    assert weight_bytes > 95e6
    # the lower bound proves the measurement saw the weights arrive at all
    assert 0.9 * weight_bytes < growth < 1.3 * weight_bytes, (
        f"peak growth {growth / 1e6:.0f} MB for {weight_bytes / 1e6:.0f} MB of weights"
    )
