"""The hand-written safetensors reader: it reads exactly what the `safetensors` package writes, for
every dtype and shape, and rejects each kind of malformed file with a `ValueError` naming the file
(and the tensor, where there is one) when the file is opened.
Run: python -m pytest tests/runtime/test_safetensors_io.py -q
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
import safetensors.torch
import torch

from runtime.safetensors_io import DTYPES, SafetensorsFile, load_file, save_file

SHAPES = [(), (0, 3), (5,), (2, 3, 4)]


def sample(dtype: torch.dtype, shape: tuple[int, ...]) -> torch.Tensor:
    values = torch.randn(shape, generator=torch.Generator().manual_seed(0)) * 50
    return values > 0 if dtype == torch.bool else values.to(dtype)


def same_bits(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Bitwise equality that also works for float8, which torch.equal does not support."""
    return (
        a.dtype == b.dtype
        and a.shape == b.shape
        and torch.equal(a.reshape(-1).view(torch.uint8), b.reshape(-1).view(torch.uint8))
    )


def raw_file(path: Path, header: object, data: bytes = b"", header_len: int | None = None) -> Path:
    encoded = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(encoded) if header_len is None else header_len) + encoded + data)
    return path


@pytest.mark.parametrize("name", list(DTYPES))
def test_reads_what_safetensors_writes(tmp_path: Path, name: str) -> None:
    tensors = {f"t{i}": sample(DTYPES[name], shape) for i, shape in enumerate(SHAPES)}
    safetensors.torch.save_file(tensors, tmp_path / "x.safetensors", metadata={"format": "pt"})
    with SafetensorsFile(tmp_path / "x.safetensors") as f:
        assert f.metadata == {"format": "pt"} and f.names() == sorted(tensors)
        for key, tensor in tensors.items():
            assert same_bits(f.read(key), tensor), key


def test_safetensors_reads_what_we_write(tmp_path: Path) -> None:
    tensors = {name: sample(dtype, (3, 2)) for name, dtype in DTYPES.items()}
    save_file(tensors, tmp_path / "x.safetensors")
    theirs = safetensors.torch.load_file(tmp_path / "x.safetensors")
    ours = load_file(tmp_path / "x.safetensors")
    assert all(same_bits(theirs[name], tensor) and same_bits(ours[name], tensor) for name, tensor in tensors.items())
    assert SafetensorsFile(tmp_path / "x.safetensors").metadata == {"format": "pt"}


def test_each_read_is_a_fresh_writable_tensor(tmp_path: Path) -> None:
    save_file({"w": torch.ones(4)}, tmp_path / "x.safetensors")
    with SafetensorsFile(tmp_path / "x.safetensors") as f:
        first, second = f.read("w"), f.read("w")
    first.add_(1)
    assert torch.equal(second, torch.ones(4))


def test_read_into_a_scratch_buffer(tmp_path: Path) -> None:
    save_file({"a": torch.arange(6.0).reshape(2, 3), "b": torch.ones(4)}, tmp_path / "x.safetensors")
    scratch = torch.empty(64, dtype=torch.uint8)
    with SafetensorsFile(tmp_path / "x.safetensors") as f:
        a = f.read("a", out=scratch[:24].view(torch.float32).view(2, 3))
        assert torch.equal(a, torch.arange(6.0).reshape(2, 3)) and a.data_ptr() == scratch.data_ptr()
        with pytest.raises(ValueError, match="'b' is \\(4,\\) torch.float32; `out` must match"):
            f.read("b", out=torch.empty(4, dtype=torch.float16))


def test_file_shorter_than_the_length_prefix(tmp_path: Path) -> None:
    (tmp_path / "x.safetensors").write_bytes(b"\x01\x02")
    with pytest.raises(ValueError, match=r"x\.safetensors: not a safetensors file"):
        SafetensorsFile(tmp_path / "x.safetensors")


def test_header_length_beyond_the_file(tmp_path: Path) -> None:
    # the length is not quoted: for a file that is not safetensors it is 8 bytes of its content
    path = raw_file(tmp_path / "x.safetensors", {}, header_len=10**6)
    with pytest.raises(ValueError, match=r"x\.safetensors: not a safetensors file, or truncated") as caught:
        SafetensorsFile(path)
    assert "1000000" not in str(caught.value)


def test_garbage_header(tmp_path: Path) -> None:
    path = tmp_path / "x.safetensors"
    path.write_bytes(struct.pack("<Q", 6) + b"\xff{oops")
    with pytest.raises(ValueError, match=r"x\.safetensors: header is not UTF-8 \(bad byte at offset 0\)"):
        SafetensorsFile(path)


def test_header_that_is_not_an_object(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="header is not a JSON object"):
        SafetensorsFile(raw_file(tmp_path / "x.safetensors", [1, 2]))


@pytest.mark.parametrize(
    "entry",
    [
        {"dtype": "F7", "shape": [2], "data_offsets": [0, 8]},
        {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]},
        {"dtype": "F32", "shape": [2], "data_offsets": [0]},
        {"dtype": ["F32"], "shape": [2], "data_offsets": [0, 8]},
        "F32",
    ],
    ids=["unknown-dtype", "negative-dim", "one-offset", "dtype-not-a-string", "not-an-object"],
)
def test_malformed_entry_names_the_tensor(tmp_path: Path, entry: object) -> None:
    path = raw_file(tmp_path / "x.safetensors", {"w": entry}, bytes(8))
    with pytest.raises(ValueError, match=r"x\.safetensors: tensor 'w': (dtype|shape|data_offsets|entry) "):
        SafetensorsFile(path)


def test_offsets_that_disagree_with_the_shape(tmp_path: Path) -> None:
    path = raw_file(
        tmp_path / "x.safetensors", {"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, bytes(12)
    )
    with pytest.raises(ValueError, match=r"tensor 'w': data_offsets \[0, 8\] do not hold \[3\] of F32"):
        SafetensorsFile(path)


def test_offsets_outside_the_file(tmp_path: Path) -> None:
    header = {"w": {"dtype": "F32", "shape": [2], "data_offsets": [100, 108]}}
    with pytest.raises(ValueError, match=r"x\.safetensors: tensor 'w': data_offsets leave a gap"):
        SafetensorsFile(raw_file(tmp_path / "x.safetensors", header, bytes(8)))


def test_truncated_file_names_the_file_and_the_cut_tensor(tmp_path: Path) -> None:
    save_file({"a": torch.zeros(4), "b": torch.ones(100)}, tmp_path / "x.safetensors")
    data = (tmp_path / "x.safetensors").read_bytes()
    (tmp_path / "x.safetensors").write_bytes(data[:-4])
    with pytest.raises(ValueError, match=r"x\.safetensors: tensor 'b' ends at byte \d+ but the file has \d+"):
        SafetensorsFile(tmp_path / "x.safetensors")


def test_metadata_must_be_strings(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="__metadata__ must map strings to strings"):
        SafetensorsFile(raw_file(tmp_path / "x.safetensors", {"__metadata__": {"format": 1}}))
