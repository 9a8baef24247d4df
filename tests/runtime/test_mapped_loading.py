"""Loading through a private mapping of the safetensors file (runtime/safetensors_io.py `mapped`).

Proves, on the toy model (tests/runtime/toy_model.py): parameters equal the file's tensors, and
those stored in the loaded dtype view the file's mapping (no copy) while a narrow float32 output
embedding is a column-major copy (a wide one is mapped); in-place updates (`param.data.add_`, an optimizer step) and
saving over the same folder never change the file; tensors whose offsets are not aligned for
their dtype, files that cannot be mapped, and dtype conversions are read into fresh tensors
instead (one copy); tied weights stay one parameter; a mapped tensor outlives its file handle; a
file that changes size before it is mapped is refused by name without quoting its bytes.
Run: python -m pytest tests/runtime/test_mapped_loading.py -q
"""

from __future__ import annotations

import hashlib
import json
import mmap
import struct
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from runtime import safetensors_io
from runtime.safetensors_io import CheckpointError, SafetensorsFile
from tests.runtime.toy_model import ToyConfig, ToyForCausalLM

IDS = torch.tensor([[1, 2, 3, 0, 10, 4]])
needs_proc_maps = pytest.mark.skipif(sys.platform != "linux", reason="reads the mappings from /proc/self/maps")


def saved(tmp_path: Path, **config: object) -> Path:
    torch.manual_seed(0)
    ToyForCausalLM.from_config(ToyConfig(**config)).save_pretrained(tmp_path / "ckpt")
    return tmp_path / "ckpt"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def mapped_ranges(path: Path) -> list[tuple[int, int]]:
    """Address ranges at which this process maps `path`."""
    ranges = []
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split()
            if len(fields) >= 6 and Path(fields[5]) == path.resolve():
                start, stop = (int(x, 16) for x in fields[0].split("-"))
                ranges.append((start, stop))
    return ranges


def views_file(tensor: torch.Tensor, path: Path) -> bool:
    return any(start <= tensor.data_ptr() < stop for start, stop in mapped_ranges(path))


def rewrite_unaligned(path: Path, misalign: int) -> None:
    """Rewrite a safetensors file so that its data starts `misalign` bytes past a multiple of 8
    (the header padded with spaces, as the format allows): every tensor is then unaligned."""
    raw = path.read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.dumps(json.loads(raw[8 : 8 + length])).encode()
    header += b" " * ((misalign - 8 - len(header)) % 8)
    path.write_bytes(struct.pack("<Q", len(header)) + header + raw[8 + length :])


# -- what is mapped -------------------------------------------------------------------------------


@needs_proc_maps
def test_parameters_equal_the_file_and_view_its_mapping(tmp_path: Path) -> None:
    path = saved(tmp_path)
    loaded = ToyForCausalLM.from_pretrained(path)
    stored = load_file(path / "model.safetensors")
    for name, param in loaded.named_parameters():
        assert torch.equal(param, stored[name]), name
        # the float32 output embedding is copied column-major (runtime.modeling_utils.decode_friendly)
        assert views_file(param, path / "model.safetensors") is (name != "lm_head.weight"), name
    assert loaded.lm_head.weight.t().is_contiguous()


@needs_proc_maps
def test_a_wide_output_embedding_keeps_the_files_layout(tmp_path: Path) -> None:
    """From hidden 1024 (COLUMN_MAJOR_BELOW) the transposing copy no longer pays: it is mapped too."""
    path = saved(tmp_path, vocab_size=16, hidden_size=1024, num_layers=1)
    loaded = ToyForCausalLM.from_pretrained(path)
    assert loaded.lm_head.weight.is_contiguous() and views_file(loaded.lm_head.weight, path / "model.safetensors")


@needs_proc_maps
def test_tied_weights_stay_one_parameter(tmp_path: Path) -> None:
    path = saved(tmp_path, tie_word_embeddings=True)
    loaded = ToyForCausalLM.from_pretrained(path)
    embedding = load_file(path / "model.safetensors")["model.embed_tokens.weight"]
    assert loaded.lm_head.weight is loaded.model.embed_tokens.weight
    assert torch.equal(loaded.lm_head.weight, embedding) and loaded.lm_head.weight.t().is_contiguous()
    assert views_file(loaded.model.norm.weight, path / "model.safetensors")


# -- the file is never written --------------------------------------------------------------------


def test_in_place_updates_do_not_reach_the_file(tmp_path: Path) -> None:
    path = saved(tmp_path)
    before = digest(path / "model.safetensors")
    loaded = ToyForCausalLM.from_pretrained(path)
    with torch.no_grad():
        for param in loaded.parameters():
            param.data.add_(1)
    assert digest(path / "model.safetensors") == before
    again = ToyForCausalLM.from_pretrained(path)
    assert torch.equal(loaded.model.norm.weight, again.model.norm.weight + 1)


def test_an_optimizer_step_does_not_reach_the_file(tmp_path: Path) -> None:
    path = saved(tmp_path)
    before = digest(path / "model.safetensors")
    loaded = ToyForCausalLM.from_pretrained(path).train()
    optimizer = torch.optim.SGD(loaded.parameters(), lr=0.1)
    loaded(IDS).square().mean().backward()
    optimizer.step()
    assert digest(path / "model.safetensors") == before
    stored = load_file(path / "model.safetensors")
    assert not torch.equal(loaded.model.layers[0].weight, stored["model.layers.0.weight"])


def test_saving_over_the_folder_it_was_loaded_from(tmp_path: Path) -> None:
    path = saved(tmp_path)
    loaded = ToyForCausalLM.from_pretrained(path)
    with torch.no_grad():
        loaded.model.norm.weight.add_(1)
    expected = {name: t.clone() for name, t in loaded.state_dict().items()}
    loaded.save_pretrained(path)  # unlinks the mapped file first: the mapping keeps the old one
    assert all(torch.equal(t, expected[name]) for name, t in loaded.state_dict().items())
    again = ToyForCausalLM.from_pretrained(path)
    assert all(torch.equal(t, expected[name]) for name, t in again.state_dict().items())


# -- read instead of mapped -----------------------------------------------------------------------


@needs_proc_maps
@pytest.mark.parametrize("misalign", [1, 2])
def test_unaligned_offsets_are_read_into_aligned_tensors(tmp_path: Path, misalign: int) -> None:
    path = saved(tmp_path)
    # copies: safetensors' own tensors view the file, which is rewritten in place next
    stored = {name: t.clone() for name, t in load_file(path / "model.safetensors").items()}
    rewrite_unaligned(path / "model.safetensors", misalign)
    with SafetensorsFile(path / "model.safetensors") as checkpoint:
        assert checkpoint.mapped("model.norm.weight") is None
    loaded = ToyForCausalLM.from_pretrained(path)
    for name, param in loaded.named_parameters():
        assert torch.equal(param, stored[name]), name
        assert param.data_ptr() % param.element_size() == 0 and not views_file(param, path / "model.safetensors")


@needs_proc_maps
def test_a_dtype_change_is_one_converted_copy(tmp_path: Path) -> None:
    path = saved(tmp_path)
    stored = load_file(path / "model.safetensors")
    loaded = ToyForCausalLM.from_pretrained(path, dtype=torch.bfloat16)
    for name, param in loaded.named_parameters():
        assert param.dtype == torch.bfloat16 and torch.equal(param, stored[name].bfloat16()), name
        assert not views_file(param, path / "model.safetensors"), name
    assert loaded.lm_head.weight.is_contiguous()  # column-major only in float32


def test_a_half_file_loads_as_float32(tmp_path: Path) -> None:
    path = saved(tmp_path)
    half = {name: t.half() for name, t in load_file(path / "model.safetensors").items()}  # copies
    save_file(half, path / "model.safetensors", metadata={"format": "pt"})
    loaded = ToyForCausalLM.from_pretrained(path, dtype=torch.float32)
    for name, param in loaded.named_parameters():
        assert param.dtype == torch.float32 and torch.equal(param, half[name].float()), name
    assert loaded.lm_head.weight.t().is_contiguous()  # transposed from the mapped half weight


def test_a_file_that_cannot_be_mapped_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = saved(tmp_path)
    stored = load_file(path / "model.safetensors")

    def refuse(*args: object, **kwargs: object) -> mmap.mmap:
        raise OSError("this file system cannot map files")

    monkeypatch.setattr(safetensors_io.mmap, "mmap", refuse)
    loaded = ToyForCausalLM.from_pretrained(path)
    assert all(torch.equal(param, stored[name]) for name, param in loaded.named_parameters())
    assert loaded.lm_head.weight.t().is_contiguous()


# -- the reader -----------------------------------------------------------------------------------


def test_a_mapped_tensor_outlives_its_file_handle(tmp_path: Path) -> None:
    save_file({"a": torch.arange(6.0).reshape(2, 3), "b": torch.ones(4)}, tmp_path / "x.safetensors")
    with SafetensorsFile(tmp_path / "x.safetensors") as checkpoint:
        a = checkpoint.mapped("a")
    del checkpoint
    assert a is not None and torch.equal(a, torch.arange(6.0).reshape(2, 3))
    a.add_(1)  # private pages: the file keeps its values
    assert torch.equal(load_file(tmp_path / "x.safetensors")["a"], torch.arange(6.0).reshape(2, 3))


def test_a_file_that_changes_size_before_it_is_mapped_is_refused(tmp_path: Path) -> None:
    save_file({"w": torch.ones(4)}, tmp_path / "x.safetensors")
    with SafetensorsFile(tmp_path / "x.safetensors") as checkpoint:
        with open(tmp_path / "x.safetensors", "ab") as grow:
            grow.write(b"SECRET" * 100)
        with pytest.raises(CheckpointError, match="x.safetensors: file changed size") as error:
            checkpoint.mapped("w")
    assert "SECRET" not in str(error.value)
