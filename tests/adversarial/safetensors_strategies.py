"""Hypothesis strategies for whole safetensors files, valid and hostile.

`safetensors_files()` draws a few tensors laid out back to back (the valid case), then breaks
the file in zero or more ways: entries with a wrong dtype, shape or offsets, serde's alternative
spellings (an entry as a 3-list, a dtype as `{name: null}`), missing, duplicated or extra fields,
duplicate tensor names, every form of `__metadata__`, overlapping, gapped, straddling or random
byte ranges, a header length that is off, huge or cut, JSON that is truncated, wrapped, nested
past serde's depth limit, or holds NaN or a lone surrogate, non-UTF-8 bytes, and a data section
one byte short or long. tests/adversarial/test_checkpoints.py feeds them to our reader and to the
`safetensors` library and requires the same verdict.
"""

from __future__ import annotations

import json
import math
import struct

from hypothesis import strategies as st

BITS = {
    "BOOL": 8,
    "U8": 8,
    "I8": 8,
    "F8_E5M2": 8,
    "F8_E4M3": 8,
    "F8_E8M0": 8,
    "F8_E4M3FNUZ": 8,
    "F8_E5M2FNUZ": 8,
    "I16": 16,
    "U16": 16,
    "F16": 16,
    "BF16": 16,
    "I32": 32,
    "U32": 32,
    "F32": 32,
    "C64": 64,
    "F64": 64,
    "I64": 64,
    "U64": 64,
    "F4": 4,
    "F6_E2M3": 6,
    "F6_E3M2": 6,
}
NAMES = st.sampled_from(["a", "b", "c", "", "w.0", "é", "a:b", "__metadata__"])
ODD_DIMS = [2**62, 2**63 - 1, 2**63, 2**64 - 1, 2**64, -1, 1.0, True, "2", None]
DIMS = st.one_of(st.integers(0, 4), st.sampled_from(ODD_DIMS))


class Obj(list):
    """A JSON object written as its pairs, so that duplicate keys survive."""


def dump(value: object) -> str:
    if isinstance(value, Obj):
        return "{" + ",".join(f"{json.dumps(k)}:{dump(v)}" for k, v in value) + "}"
    if isinstance(value, list):
        return "[" + ",".join(dump(v) for v in value) + "]"
    return json.dumps(value)


@st.composite
def _entry(draw: st.DrawFn, dtype: str, shape: list[int], begin: int, end: int) -> object:
    """One header entry, most often as written, else broken in one way."""
    mutation = draw(st.sampled_from(["none"] * 6 + ["dtype", "shape", "offsets", "seq", "missing", "dup", "extra"]))
    fields: list[tuple[str, object]] = [("dtype", dtype), ("shape", shape), ("data_offsets", [begin, end])]
    if mutation == "dtype":
        odd = ["f32", "F7", "", 5, None, ["F32"], Obj([(dtype, None)]), Obj([(dtype, 1)]), Obj([])]
        fields[0] = ("dtype", draw(st.sampled_from(odd)))
    elif mutation == "shape":
        fields[1] = ("shape", draw(st.one_of(st.lists(DIMS, max_size=3), st.sampled_from(["1", None, Obj([]), 3]))))
    elif mutation == "offsets":
        offsets = st.one_of(st.lists(DIMS, max_size=3), st.sampled_from([None, "0", Obj([]), [begin, -0.0]]))
        fields[2] = ("data_offsets", draw(offsets))
    elif mutation == "seq":  # serde also reads a struct from a sequence of its fields
        return [value for _, value in fields] + draw(st.sampled_from([[], [], [1]]))
    elif mutation == "missing":
        fields.pop(draw(st.integers(0, 2)))
    elif mutation == "dup":
        fields.append(draw(st.sampled_from(fields)))
    elif mutation == "extra":
        value = draw(st.sampled_from([1, -1, 2**64, 1.5, "s", None, [], Obj([]), Obj([("k", 1), ("k", 2)])]))
        fields.insert(draw(st.integers(0, 3)), (draw(st.sampled_from(["x", "x", "dtype_"])), value))
    return Obj(fields)


@st.composite
def _tensors(draw: st.DrawFn) -> tuple[list[tuple[str, object]], int]:
    """Header pairs for a few tensors and the data size the layout asks for."""
    layout = draw(st.sampled_from(["contiguous"] * 4 + ["overlap", "gap", "random"]))
    pairs: list[tuple[str, object]] = []
    offset = 0
    for _ in range(draw(st.integers(0, 4))):
        dtype = draw(st.sampled_from(sorted(BITS)))
        shape = draw(st.lists(st.integers(0, 4), max_size=3))
        nbytes = math.prod(shape) * BITS[dtype] // 8
        begin = {"overlap": max(offset - 1, 0), "gap": offset + 1}.get(layout, offset)
        if layout == "random":
            begin = draw(st.integers(0, 40))
            nbytes = draw(st.sampled_from([nbytes, nbytes, nbytes + 1, max(nbytes - 1, 0), 0]))
        pairs.append((draw(NAMES), draw(_entry(dtype, shape, begin, begin + nbytes))))
        offset = begin + nbytes if layout != "random" else offset + nbytes
    return draw(st.permutations(pairs)) if draw(st.booleans()) else pairs, offset


METADATA = {
    "null": None,
    "empty": Obj([]),
    "strings": Obj([("format", "pt")]),
    "int": Obj([("a", 1)]),
    "list": [],
    "dup-key": Obj([("a", "x"), ("a", "y")]),
}


def _with_metadata(draw: st.DrawFn, pairs: list[tuple[str, object]]) -> list[tuple[str, object]]:
    form = draw(st.sampled_from(["absent"] * 3 + [*METADATA, "twice"]))
    if form != "absent":
        value = METADATA.get(form, Obj([("format", "pt")]))
        pairs.insert(draw(st.integers(0, len(pairs))), ("__metadata__", value))
        if form == "twice":
            pairs.append(("__metadata__", value))
    return pairs


def _text_mutations(text: str) -> list[str]:
    deep = lambda depth: text.replace("}", ', "z": ' + "[" * depth + "]" * depth + "}", 1)  # noqa: E731
    return [
        " " + text + "\t\n",
        text + "\x0c",
        text[:-1],
        "[" + text + "]",
        text.replace('"a"', '"\\ud800"', 1),
        text.replace('"a"', '"\\ud83d\\ude00"', 1),
        text.replace("}", ', "z": NaN}', 1),
        text.replace("}", ', "z": 1e999}', 1),
        text.replace("}", ', "z": ' + "9" * 400 + "}", 1),
        text.replace('"data_offsets":[0,', '"data_offsets":[-0,', 1),
        text.replace('"a"', '"\\u0061"', 1),
        text.replace('"a"', '"a\\u003a"', 1),
        deep(124),
        deep(126),
        "",
        "null",
        '"x"',
    ]


@st.composite
def safetensors_files(draw: st.DrawFn) -> bytes:
    """The bytes of a whole file: valid about half the time, else broken in one or a few ways."""
    pairs, data_size = draw(_tensors())
    text = dump(Obj(_with_metadata(draw, pairs)))
    text = draw(st.sampled_from([text] * 14 + _text_mutations(text)))
    raw = text.encode("utf-8", "surrogatepass")
    if draw(st.integers(0, 19)) == 0:
        raw = raw[:1] + b"\xff" + raw[1:]
    size = max(data_size + draw(st.sampled_from([0] * 6 + [1, -1, 3])), 0)
    data = draw(st.binary(min_size=size, max_size=size))
    length = max(len(raw) + draw(st.sampled_from([0] * 10 + [1, -1, 8])), 0)
    odd_prefix = [struct.pack("<Q", 2**63), struct.pack("<Q", 100_000_001), b"\x01\x02"]
    prefix = struct.pack("<Q", length) if draw(st.integers(0, 29)) else draw(st.sampled_from(odd_prefix))
    return prefix + raw + data
