"""Reading safetensors files tensor by tensor, mapped or straight into their final tensors; writing them.

The format is an 8-byte little-endian header length, a JSON header mapping each name to
`{"dtype", "shape", "data_offsets": [begin, end]}` (offsets into the data that follows, plus an
optional `"__metadata__"` of strings), then the data. Two ways to get a tensor, both one copy of
the weights at most:

    with SafetensorsFile(path) as f:
        for name in f.names():
            tensor = f.mapped(name)       # no copy: a view of a private mapping of the file, or None
            tensor = f.read(name)         # a fresh tensor, filled with `readinto`

`mapped` maps the file copy-on-write (MAP_PRIVATE): the pages come from the page cache when the
tensor is first used, and writing into the tensor (an optimizer step, `add_`) copies the pages it
touches, so the file is never written. It gives None where a view cannot be made (an offset that
is not a multiple of the dtype's size, a packed dtype, a file system that cannot map): `read`
then. A mapped tensor keeps the mapping alive after `close()`. As with any mapped file, the file
must not be rewritten in place (truncated, `cp` over it) while such tensors live: reading a page
cut off the file ends the process (SIGBUS). Replacing it (a new file renamed over it, or
`save_pretrained`, which unlinks first) is safe: the mapping keeps the old file.

The header is checked whole when the file is opened, before any data is read, exactly as
strictly as the `safetensors` library checks it (tests/adversarial/test_checkpoints.py compares
the two on generated hostile files): at most 100 MB of JSON the library parses
(runtime/safetensors_header.py), then byte ranges that tile the data section in order with no
gap, overlap or trailing byte, each holding exactly its shape and dtype. Every
problem raises `CheckpointError` (a `ValueError`) naming the file, and the tensor where there is
one; messages never quote the file's bytes.

Writing goes through the `safetensors` package, so the files are exactly what transformers reads.
"""

from __future__ import annotations

import mmap
import os
import struct
import sys
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

import torch

from runtime.messages import short_repr
from runtime.safetensors_header import U64, HeaderEntry, parse_header


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or does not fit the model; the message names the file."""


def _dtypes(names: dict[str, str]) -> dict[str, torch.dtype]:
    # getattr: a torch without one of these dtypes simply cannot read tensors stored in it
    return {key: getattr(torch, name) for key, name in names.items() if hasattr(torch, name)}


# Every dtype name of the safetensors format, with its bits per element.
FORMAT_BITS: dict[str, int] = {
    **dict.fromkeys(["F64", "C64", "I64", "U64"], 64),
    **dict.fromkeys(["F32", "I32", "U32"], 32),
    **dict.fromkeys(["F16", "BF16", "I16", "U16"], 16),
    **dict.fromkeys(["F8_E4M3", "F8_E5M2", "F8_E4M3FNUZ", "F8_E5M2FNUZ", "F8_E8M0", "I8", "U8", "BOOL"], 8),
    **{"F6_E2M3": 6, "F6_E3M2": 6, "F4": 4},
}
# Those torch holds one byte-addressable element of.
DTYPES: dict[str, torch.dtype] = _dtypes(
    {
        "F64": "float64",
        "F32": "float32",
        "F16": "float16",
        "BF16": "bfloat16",
        "F8_E4M3": "float8_e4m3fn",
        "F8_E5M2": "float8_e5m2",
        "F8_E4M3FNUZ": "float8_e4m3fnuz",
        "F8_E5M2FNUZ": "float8_e5m2fnuz",
        "F8_E8M0": "float8_e8m0fnu",
        "C64": "complex64",
        "I64": "int64",
        "I32": "int32",
        "I16": "int16",
        "I8": "int8",
        "U64": "uint64",
        "U32": "uint32",
        "U16": "uint16",
        "U8": "uint8",
        "BOOL": "bool",
    }
)
# Two 4-bit floats per byte: torch's shape halves the last dimension of the stored one.
PACKED_DTYPES: dict[str, torch.dtype] = _dtypes({"F4": "float4_e2m1fn_x2"})
MAX_HEADER_BYTES = 100_000_000  # the library's cap
_I64 = 2**63  # torch sizes are signed 64-bit


@dataclass(frozen=True)
class TensorInfo:
    dtype: torch.dtype
    shape: tuple[int, ...]  # torch's shape (for F4, the last dimension is halved)
    begin: int  # absolute file offset
    end: int

    def part(self, index: int, start: int, stop: int) -> TensorInfo:
        """The contiguous part `[index, start:stop]` of a tensor of two or more dimensions."""
        rows = self.shape[0] * self.shape[1]
        row_bytes = (self.end - self.begin) // rows if rows else 0
        begin = self.begin + (index * self.shape[1] + start) * row_bytes
        return TensorInfo(self.dtype, (stop - start, *self.shape[2:]), begin, begin + (stop - start) * row_bytes)


def _nbytes(entry: HeaderEntry) -> int:
    """The bytes `entry` holds; `ValueError` when its element count overflows 64 bits, as in the library."""
    count = 1
    for dim in entry.shape:  # left to right, as the library multiplies
        count *= dim
        if count >= U64:
            raise ValueError("its shape overflows 64 bits")
    bits = count * FORMAT_BITS[entry.dtype]
    if bits % 8:
        raise ValueError(f"{entry.dtype} data does not end on a byte boundary")
    return bits // 8


def _torch_problem(entry: HeaderEntry) -> str | None:
    """Why torch cannot hold `entry` (checked after the layout, as the library does when reading)."""
    if entry.dtype not in DTYPES and entry.dtype not in PACKED_DTYPES:
        return f"dtype {entry.dtype} has no torch equivalent"
    if entry.dtype in PACKED_DTYPES and entry.shape[-1] % 2:
        return f"{entry.dtype} packs pairs: torch needs an even last dimension"
    shape = (*entry.shape[:-1], entry.shape[-1] // 2) if entry.dtype in PACKED_DTYPES else entry.shape
    if any(dim >= _I64 for dim in shape):
        return "a dimension is beyond torch's signed 64-bit sizes"
    return None


class SafetensorsFile:
    """An open safetensors file whose header has been read and checked."""

    def __init__(self, path: str | os.PathLike) -> None:
        if sys.byteorder != "little":  # the format is little-endian and read without conversion
            raise NotImplementedError("reading safetensors needs a little-endian machine")
        self.path = Path(path)
        self._handle: BinaryIO = open(self.path, "rb")  # noqa: SIM115 - closed by close()
        self._view: memoryview | None = None  # of the private mapping, made on first `mapped`
        self._unmappable = False
        try:
            self.tensors, self.metadata = self._read_header()
        except Exception:
            self._handle.close()
            raise

    def _fail(self, message: str) -> CheckpointError:
        return CheckpointError(f"{self.path}: {message}")

    def _read_header(self) -> tuple[dict[str, TensorInfo], dict[str, str]]:
        self.size = size = os.fstat(self._handle.fileno()).st_size
        prefix = self._handle.read(8)
        if len(prefix) < 8:
            raise self._fail("not a safetensors file (shorter than its 8-byte header length)")
        (header_len,) = struct.unpack("<Q", prefix)
        # the length itself is not quoted: for a file that is not safetensors it is 8 of its bytes
        if header_len > MAX_HEADER_BYTES:
            raise self._fail(f"not a safetensors file (its header length is over {MAX_HEADER_BYTES} bytes)")
        if header_len > size - 8:
            raise self._fail(f"not a safetensors file, or truncated (its header runs past the end, {size} bytes)")
        try:
            entries, metadata = parse_header(self._handle.read(header_len), set(FORMAT_BITS))
        except ValueError as error:
            raise self._fail(str(error)) from None
        return self._place(entries, 8 + header_len, size), metadata

    def _place(self, entries: dict[str, HeaderEntry], data_start: int, size: int) -> dict[str, TensorInfo]:
        """Check that the entries tile the data section in order; absolute offsets for each."""
        end = 0
        for name, entry in sorted(entries.items(), key=lambda item: (item[1].begin, item[1].end)):
            if entry.begin != end or entry.end < entry.begin:
                problem = (
                    "leave a gap or overlap another tensor" if entry.end >= entry.begin else "end before they begin"
                )
                raise self._fail(f"tensor {short_repr(name)}: data_offsets {problem}")
            try:
                nbytes = _nbytes(entry)
            except ValueError as error:
                raise self._fail(f"tensor {short_repr(name)}: {error}") from None
            if entry.end - entry.begin != nbytes:
                shape = list(entry.shape)[:8]
                raise self._fail(
                    f"tensor {short_repr(name)}: data_offsets {[entry.begin, entry.end]} do not hold {shape} of {entry.dtype}"
                )
            if data_start + entry.end > size:
                raise self._fail(
                    f"tensor {short_repr(name)} ends at byte {data_start + entry.end} but the file has {size}: truncated"
                )
            end = entry.end
        if data_start + end != size:
            raise self._fail(f"{size - data_start - end} bytes after the last tensor: not a whole safetensors file")
        for name, entry in entries.items():
            problem = _torch_problem(entry)
            if problem:
                raise self._fail(f"tensor {short_repr(name)}: {problem}")
        return {name: self._info(entry, data_start) for name, entry in entries.items()}

    @staticmethod
    def _info(entry: HeaderEntry, data_start: int) -> TensorInfo:
        begin, end = data_start + entry.begin, data_start + entry.end
        if entry.dtype in PACKED_DTYPES:
            return TensorInfo(PACKED_DTYPES[entry.dtype], (*entry.shape[:-1], entry.shape[-1] // 2), begin, end)
        return TensorInfo(DTYPES[entry.dtype], entry.shape, begin, end)

    def names(self) -> list[str]:
        return sorted(self.tensors)

    def read(self, name: str, out: torch.Tensor | None = None, *, part: TensorInfo | None = None) -> torch.Tensor:
        """`name`'s data, read directly into the storage of a new tensor, or of `out`.

        `out` (contiguous, on the CPU, of the tensor's dtype and shape) lets a caller reuse one
        scratch buffer for every read, e.g. when it copies each tensor on into another dtype or
        layout: allocating and freeing a temporary per tensor fragments the heap. `part` reads a
        contiguous part of the tensor instead (see `TensorInfo.part`).
        """
        info = self._part(name, part)
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

    def read_rows(
        self, name: str, start: int, stop: int, out: torch.Tensor, *, part: TensorInfo | None = None
    ) -> torch.Tensor:
        """Rows [start, stop) of `name` (or of its `part`) along the first dimension, read into
        contiguous `out`. Lets a caller stream a large tensor through a small buffer (the file is
        row-major).
        """
        info = self._part(name, part)
        row_bytes = (info.end - info.begin) // max(info.shape[0], 1)
        view = memoryview(out.view(-1).view(torch.uint8).numpy())
        if view.nbytes != (stop - start) * row_bytes:
            raise ValueError(f"{self.path}: tensor {name!r}: `out` does not hold rows {start}:{stop}")
        self._handle.seek(info.begin + start * row_bytes)
        if self._handle.readinto(view) != view.nbytes:
            raise self._fail(f"tensor {name!r}: short read (file changed or truncated)")
        return out

    def _part(self, name: str, part: TensorInfo | None) -> TensorInfo:
        """`name`'s TensorInfo, or `part` once checked to lie inside it."""
        info = self.tensors[name]
        if part is not None and not (info.begin <= part.begin <= part.end <= info.end and part.dtype == info.dtype):
            raise ValueError(f"{self.path}: the part {part} is not inside tensor {name!r}")
        return info if part is None else part

    def mapped(self, name: str, *, part: TensorInfo | None = None) -> torch.Tensor | None:
        """`name`'s data (or its `part`'s) as a view of a private copy-on-write mapping of the
        file, without reading it; None where no view can be made (see the module docstring)."""
        info = self._part(name, part)
        if info.dtype in PACKED_DTYPES.values() or info.begin % info.dtype.itemsize:
            return None  # unaligned for its dtype: kernels may assume alignment
        if info.end == info.begin:
            return torch.empty(info.shape, dtype=info.dtype)
        view = self._mapping()
        if view is None:
            return None
        count = (info.end - info.begin) // info.dtype.itemsize
        # frombuffer keeps `view` (and so the mapping) alive as long as the tensor
        return torch.frombuffer(view, dtype=info.dtype, count=count, offset=info.begin).view(info.shape)

    def _mapping(self) -> memoryview | None:
        """A writable view of the whole file mapped MAP_PRIVATE; None where it cannot be mapped."""
        if self._view is None and not self._unmappable:
            try:
                mapping = mmap.mmap(self._handle.fileno(), 0, access=mmap.ACCESS_COPY)
            except (OSError, ValueError):
                self._unmappable = True
                return None
            mapped_size = len(mapping)
            if mapped_size != self.size:  # checked against the header, so it must not have changed
                mapping.close()
                raise self._fail(f"file changed size while it was read ({self.size} bytes, then {mapped_size})")
            # a memoryview holds the mapping open: mapping.close() would refuse while tensors view it
            self._view = memoryview(mapping)
        return self._view

    def drop_pages(self, name: str, *, part: TensorInfo | None = None) -> None:
        """Give back the memory of the pages of `name` (or its `part`) read through the mapping,
        for a tensor copied on into another layout or dtype. Only for data no tensor views: its
        pages would be read again from the file, losing any write into them."""
        if self._view is None or not hasattr(mmap, "MADV_DONTNEED"):
            return
        info = self._part(name, part)
        start = -(-info.begin // mmap.PAGESIZE) * mmap.PAGESIZE  # whole pages inside the tensor only
        stop = info.end // mmap.PAGESIZE * mmap.PAGESIZE
        if stop > start:
            self._view.obj.madvise(mmap.MADV_DONTNEED, start, stop - start)  # type: ignore[union-attr]

    def close(self) -> None:
        self._handle.close()
        self._view = None  # the mapping itself lives on while mapped tensors view it

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
