"""The JSON header of a safetensors file, read exactly as the `safetensors` library reads it.

    entries, metadata = parse_header(raw_bytes)    # ValueError saying what is wrong

The library parses with serde_json into fixed types, so it refuses more than Python's `json`:
bytes that are not UTF-8, NaN or Infinity, numbers out of the f64 range, lone surrogate escapes,
nesting 128 deep, a `__metadata__` given twice or holding a non-string, an entry missing a field
or giving one twice, a dtype it does not know, a shape or offset that is not an unsigned 64-bit
integer ("-0" and 1.0 included). It also accepts two spellings Python code would not expect: an
entry as the list `[dtype, shape, data_offsets]` and a dtype as `{"F32": null}`; it ignores
unknown entry fields; a tensor name given twice keeps its last entry (each must be valid).

Speed: a checkpoint header can hold hundreds of thousands of entries (up to the library's 100 MB
cap), so the common case is parsed by `json` without hooks. That parse cannot see duplicate keys,
so it is trusted only when every ':' of the text is accounted for by a key it kept (or sits
inside a string it kept): otherwise, or when the text holds a \\u escape or a "-0", the header is
parsed again keeping every pair, and checked fully.

Messages never quote the header (names excepted, cut short by `short_repr`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from runtime.messages import short_repr

FIELDS = ("dtype", "shape", "data_offsets")
MAX_JSON_DEPTH = 127  # serde_json refuses deeper nesting
U64 = 2**64
_NEGATIVE_ZERO = re.compile(r"-0(?![.\deE])")


@dataclass(frozen=True)
class HeaderEntry:
    """One tensor as the header describes it (offsets relative to the data section)."""

    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int


class _Pairs(list):
    """A JSON object as the list of its (key, value) pairs: duplicate keys stay visible."""


class _Census:
    """What a parse kept: pairs, and ':' inside kept strings (see the module docstring)."""

    def __init__(self) -> None:
        self.colons = 0

    def count(self, text: str) -> None:
        self.colons += 1 + text.count(":")  # a key: its separator and its own colons


def _parse_int(text: str) -> int | float:
    # serde_json reads what does not fit u64 (or i64 when negative) as a float, and "-0" as -0.0
    value = int(text)
    if text.startswith("-") and value == 0:
        return -0.0
    return value if -(2**63) <= value < U64 else _parse_float(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError("number out of range")
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _loads(text: str, **hooks: Any) -> Any:
    try:
        data = json.loads(text, parse_float=_parse_float, parse_constant=_refuse_constant, **hooks)
    except json.JSONDecodeError as error:
        raise ValueError(f"header is not valid JSON ({error.msg} at char {error.pos})") from None
    except (ValueError, RecursionError) as error:  # number out of range, NaN, nesting past Python's stack
        raise ValueError(f"header is not valid JSON ({type(error).__name__}: {str(error)[:60]})") from None
    if not isinstance(data, (dict, _Pairs)):
        raise ValueError("header is not a JSON object")
    return data


def _walk(value: object, depth: int, census: _Census | None) -> None:
    """Check a value the format does not interpret (an unknown field) as serde would parse it."""
    stack = [(value, depth)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                raise ValueError(f"header nests deeper than {MAX_JSON_DEPTH} levels")
            items = value.items() if isinstance(value, dict) else value
            for item in items:
                if isinstance(value, _Pairs) or isinstance(value, dict):
                    key, item = item
                    if census is not None:
                        census.count(key)
                    _check_string(key)
                stack.append((item, depth + 1))
        elif isinstance(value, str):
            _check_string(value)
            if census is not None:
                census.colons += value.count(":")
        elif isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < U64:
            try:
                float(value)
            except OverflowError:
                raise ValueError("header holds a number out of range") from None


def _check_string(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("header holds a lone UTF-16 surrogate escape") from None


def _items(value: dict | _Pairs) -> Any:
    return value.items() if isinstance(value, dict) else value


def _is_object(value: object) -> bool:
    return isinstance(value, (dict, _Pairs))


def _is_array(value: object) -> bool:
    return isinstance(value, list) and not isinstance(value, _Pairs)


def _fields(entry: object, census: _Census | None) -> tuple[object, object, object]:
    """(dtype, shape, data_offsets) of an entry: an object, or serde's sequence form."""
    if _is_array(entry) and len(entry) == 3:  # type: ignore[arg-type]
        return entry[0], entry[1], entry[2]  # type: ignore[index]
    if not _is_object(entry):
        raise ValueError("entry is not an object with dtype, shape and data_offsets")
    fields: dict[str, object] = {}
    for key, value in _items(entry):  # type: ignore[arg-type]
        if census is not None:
            census.count(key)
        if key in FIELDS:
            if key in fields:
                raise ValueError(f"entry gives {key} twice")
            fields[key] = value
        else:  # ignored, as by the library, once it parses
            _walk(value, 3, census)
    missing = [key for key in FIELDS if key not in fields]
    if missing:
        raise ValueError(f"entry lacks {', '.join(missing)}")
    return fields["dtype"], fields["shape"], fields["data_offsets"]


def _dtype(value: object, known: set[str], census: _Census | None) -> str:
    """A dtype name, also in serde's other spelling of a unit variant: {"F32": null}."""
    if _is_object(value) and len(value) == 1:  # type: ignore[arg-type]
        ((name, unit),) = list(_items(value))  # type: ignore[arg-type]
        if unit is None:
            value = name
            if census is not None:
                census.count(name)
    if not isinstance(value, str) or value not in known:
        # the value is not quoted: it is content, not a name
        raise ValueError(f"dtype is not a safetensors dtype name ({', '.join(sorted(known))})")
    return value


def _u64_list(value: object) -> bool:
    return _is_array(value) and all(
        type(item) is int and 0 <= item < U64  # type() excludes bool
        for item in value  # type: ignore[union-attr]
    )


def _entry(value: object, known: set[str], census: _Census | None) -> HeaderEntry:
    dtype, shape, offsets = _fields(value, census)
    name = _dtype(dtype, known, census)
    if not _u64_list(shape):
        raise ValueError("shape is not a list of unsigned 64-bit integers")
    if not (_u64_list(offsets) and len(offsets) == 2):  # type: ignore[arg-type]
        raise ValueError("data_offsets is not a pair of unsigned 64-bit integers")
    return HeaderEntry(name, tuple(shape), offsets[0], offsets[1])  # type: ignore[arg-type,index]


def _metadata(value: object, census: _Census | None) -> dict[str, str]:
    if value is None:
        return {}
    if not _is_object(value) or not all(isinstance(v, str) for _, v in _items(value)):  # type: ignore[arg-type]
        raise ValueError("__metadata__ must map strings to strings")
    if census is not None:
        for key, text in _items(value):  # type: ignore[arg-type]
            census.count(key)
            census.colons += text.count(":")
    return dict(_items(value))  # type: ignore[arg-type]


def _split(header: dict | _Pairs, known: set[str], census: _Census | None) -> tuple[dict[str, HeaderEntry], dict]:
    entries: dict[str, HeaderEntry] = {}
    metadata: dict[str, str] | None = None
    for name, value in _items(header):
        if census is not None:
            census.count(name)
        if name == "__metadata__":
            if metadata is not None:
                raise ValueError("__metadata__ is given twice")
            metadata = _metadata(value, census)
            continue
        try:
            entries[name] = _entry(value, known, census)
        except ValueError as error:
            raise ValueError(f"tensor {short_repr(name)}: {error}") from None
    return entries, metadata or {}


def parse_header(raw: bytes, known_dtypes: set[str]) -> tuple[dict[str, HeaderEntry], dict[str, str]]:
    """Tensor entries and `__metadata__` of a header; `ValueError` for anything the library refuses
    at parse time (offsets are checked against each other and the file by the caller)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"header is not UTF-8 (bad byte at offset {error.start})") from None
    if "\\u" not in text and not _NEGATIVE_ZERO.search(text):
        census = _Census()
        entries, metadata = _split(_loads(text), known_dtypes, census)
        if census.colons == text.count(":"):  # nothing was dropped: no duplicate key anywhere
            return entries, metadata
    header = _loads(text, object_pairs_hook=_Pairs, parse_int=_parse_int)
    _walk(header, 1, None)  # depth and lone surrogates anywhere
    return _split(header, known_dtypes, None)
