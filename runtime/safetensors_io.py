"""Reading safetensors files tensor by tensor, straight into their final tensors.

The format is an 8-byte little-endian header length, a JSON header mapping each name to
`{"dtype", "shape", "data_offsets": [begin, end]}` (offsets into the data that follows), then the
data. Reading with `readinto` into a freshly allocated tensor keeps loading at one copy of the
weights: nothing is memory-mapped and no intermediate buffer is made.

    with SafetensorsFile(path) as f:
        for name in f.names():
            tensor = f.read(name)

Every inconsistency (header past the end of the file, bad JSON, offsets that disagree with the
shape, a truncated file) raises `ValueError` naming the file and the tensor.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

import torch

DTYPES: dict[str, torch.dtype] = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}


@dataclass(frozen=True)
class TensorInfo:
    dtype: torch.dtype
    shape: tuple[int, ...]
    begin: int  # absolute file offset
    end: int


class SafetensorsFile:
    """An open safetensors file whose header has been read and checked."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._handle: BinaryIO = open(self.path, "rb")  # noqa: SIM115 - closed by close()
        try:
            self.tensors, self.metadata = self._read_header()
        except Exception:
            self._handle.close()
            raise

    def _fail(self, message: str) -> ValueError:
        return ValueError(f"{self.path}: {message}")

    def _read_header(self) -> tuple[dict[str, TensorInfo], dict[str, str]]:
        size = self.path.stat().st_size
        prefix = self._handle.read(8)
        if len(prefix) < 8:
            raise self._fail("not a safetensors file (shorter than its 8-byte header length)")
        (header_len,) = struct.unpack("<Q", prefix)
        if header_len > size - 8:
            raise self._fail(f"header length {header_len} runs past the end of the file ({size} bytes): truncated?")
        try:
            header = json.loads(self._handle.read(header_len))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise self._fail(f"header is not valid JSON ({error})") from error
        if not isinstance(header, dict):
            raise self._fail("header is not a JSON object")
        metadata = header.pop("__metadata__", None) or {}
        data_start = 8 + header_len
        tensors = {name: self._tensor_info(name, entry, data_start, size) for name, entry in header.items()}
        return tensors, metadata

    def _tensor_info(self, name: str, entry: dict, data_start: int, size: int) -> TensorInfo:
        try:
            dtype = DTYPES[entry["dtype"]]
            shape = tuple(int(d) for d in entry["shape"])
            begin, end = (int(x) for x in entry["data_offsets"])
        except (KeyError, TypeError, ValueError) as error:
            raise self._fail(f"tensor {name!r}: malformed header entry {entry!r} ({error!r})") from error
        expected = math.prod(shape) * torch.empty((), dtype=dtype).element_size()
        if end - begin != expected or begin < 0:
            raise self._fail(f"tensor {name!r}: data_offsets {[begin, end]} do not hold {shape} of {entry['dtype']}")
        if data_start + end > size:
            raise self._fail(f"tensor {name!r} ends at byte {data_start + end} but the file has {size}: truncated")
        return TensorInfo(dtype, shape, data_start + begin, data_start + end)

    def names(self) -> list[str]:
        return sorted(self.tensors)

    def read(self, name: str) -> torch.Tensor:
        """A new tensor holding `name`'s data, read directly into its storage."""
        info = self.tensors[name]
        tensor = torch.empty(info.shape, dtype=info.dtype)
        if info.end == info.begin:
            return tensor
        self._handle.seek(info.begin)
        view = memoryview(tensor.view(-1).view(torch.uint8).numpy())
        if self._handle.readinto(view) != info.end - info.begin:
            raise self._fail(f"tensor {name!r}: short read (file changed or truncated)")
        return tensor

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> SafetensorsFile:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()
