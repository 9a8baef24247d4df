"""Reading safetensors files tensor by tensor, straight into their final tensors; writing them.

The format is an 8-byte little-endian header length, a JSON header mapping each name to
`{"dtype", "shape", "data_offsets": [begin, end]}` (offsets into the data that follows, plus an
optional `"__metadata__"` of strings), then the data. Reading with `readinto` into a freshly
allocated tensor keeps loading at one copy of the weights: nothing is memory-mapped and no
intermediate buffer is made.

    with SafetensorsFile(path) as f:
        for name in f.names():
            tensor = f.read(name)

Every inconsistency (header past the end of the file, bad JSON, offsets that disagree with the
shape, a truncated file) raises `ValueError` naming the file and the tensor, when the file is
opened: a checkpoint is checked whole before any of its data is read.

Writing goes through the `safetensors` package, so the files are exactly what transformers reads.
"""

from __future__ import annotations

import json
import math
import os
import struct
import sys
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
    "F8_E4M3": torch.float8_e4m3fn,
    "F8_E5M2": torch.float8_e5m2,
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

    def __init__(self, path: str | os.PathLike) -> None:
        if sys.byteorder != "little":  # the format is little-endian and read without conversion
            raise NotImplementedError("reading safetensors needs a little-endian machine")
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
        size = os.fstat(self._handle.fileno()).st_size
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
        if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
            raise self._fail(f"__metadata__ must map strings to strings, got {metadata!r}")
        data_start = 8 + header_len
        tensors = {name: self._tensor_info(name, entry, data_start, size) for name, entry in header.items()}
        return tensors, metadata

    def _tensor_info(self, name: str, entry: object, data_start: int, size: int) -> TensorInfo:
        """Check one header entry against the file; `begin`/`end` become absolute offsets."""
        fields = entry if isinstance(entry, dict) else {}
        raw_dtype = fields.get("dtype")
        dtype = DTYPES.get(raw_dtype) if isinstance(raw_dtype, str) else None
        shape, offsets = fields.get("shape"), fields.get("data_offsets")
        well_formed = (
            dtype is not None
            and isinstance(shape, list)
            and all(isinstance(d, int) and d >= 0 for d in shape)
            and isinstance(offsets, list)
            and len(offsets) == 2
            and all(isinstance(x, int) for x in offsets)
        )
        if not well_formed:
            raise self._fail(f"tensor {name!r}: malformed header entry {entry!r} (dtypes: {', '.join(DTYPES)})")
        begin, end = offsets
        expected = math.prod(shape) * torch.empty((), dtype=dtype).element_size()
        if begin < 0 or end - begin != expected:
            raise self._fail(f"tensor {name!r}: data_offsets {[begin, end]} do not hold {shape} of {raw_dtype}")
        if data_start + end > size:
            raise self._fail(f"tensor {name!r} ends at byte {data_start + end} but the file has {size}: truncated")
        return TensorInfo(dtype, tuple(shape), data_start + begin, data_start + end)

    def names(self) -> list[str]:
        return sorted(self.tensors)

    def read(self, name: str, out: torch.Tensor | None = None) -> torch.Tensor:
        """`name`'s data, read directly into the storage of a new tensor, or of `out`.

        `out` (contiguous, on the CPU, of the tensor's dtype and shape) lets a caller reuse one
        scratch buffer for every read, e.g. when it copies each tensor on into another dtype or
        layout: allocating and freeing a temporary per tensor fragments the heap.
        """
        info = self.tensors[name]
        if out is not None and not (
            out.dtype == info.dtype and tuple(out.shape) == info.shape and out.is_contiguous() and out.is_cpu
        ):
            raise ValueError(
                f"{self.path}: tensor {name!r} is {info.shape} {info.dtype}; `out` must match, contiguous"
            )
        tensor = torch.empty(info.shape, dtype=info.dtype) if out is None else out
        if info.end == info.begin:
            return tensor
        self._handle.seek(info.begin)
        # a byte view of the tensor's own storage: bfloat16 and float8 have no numpy dtype
        view = memoryview(tensor.view(-1).view(torch.uint8).numpy())
        if self._handle.readinto(view) != info.end - info.begin:
            raise self._fail(f"tensor {name!r}: short read (file changed or truncated)")
        return tensor

    def read_rows(self, name: str, start: int, stop: int, out: torch.Tensor) -> torch.Tensor:
        """Rows [start, stop) of `name` along its first dimension, read into contiguous `out`.

        Lets a caller stream a large tensor through a small buffer (the file is row-major).
        """
        info = self.tensors[name]
        row_bytes = (info.end - info.begin) // max(info.shape[0], 1)
        view = memoryview(out.view(-1).view(torch.uint8).numpy())
        if view.nbytes != (stop - start) * row_bytes:
            raise ValueError(f"{self.path}: tensor {name!r}: `out` does not hold rows {start}:{stop}")
        self._handle.seek(info.begin + start * row_bytes)
        if self._handle.readinto(view) != view.nbytes:
            raise self._fail(f"tensor {name!r}: short read (file changed or truncated)")
        return out

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> SafetensorsFile:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


def load_file(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Every tensor of a safetensors file, in file order."""
    with SafetensorsFile(path) as f:
        return {name: f.read(name) for name in sorted(f.tensors, key=lambda n: f.tensors[n].begin)}


def save_file(
    tensors: dict[str, torch.Tensor], path: str | os.PathLike, metadata: dict[str, str] | None = None
) -> None:
    """Write `tensors` (contiguous, no two sharing storage) with `{"format": "pt"}` metadata."""
    # imported here: loading a checkpoint never needs the safetensors package
    from safetensors.torch import save_file as write

    write(tensors, str(path), metadata={"format": "pt", **(metadata or {})})
