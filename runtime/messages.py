"""Values shown in error messages, bounded: a hostile value (a huge string, list or integer read
from a file or passed as an argument) must not flood a message, nor fail to print.

    short_repr("x" * 10**6)      # "'xxxxxxxx...xxxxx'" (at most 60 characters)
    short_repr(10**5000)         # '<an integer of 16610 bits>' (Python refuses to print it)
    described([0] * 10**6)       # 'a list of length 1000000'
"""

from __future__ import annotations

import reprlib
from typing import Any

_HUGE_BITS = 128  # integers wider than this are described, not printed


def _huge_integer(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > _HUGE_BITS:
        return f"<{'-' if value < 0 else ''}an integer of {value.bit_length()} bits>"
    return None


def short_repr(value: Any, limit: int = 60) -> str:
    """A repr of `value` of at most `limit` characters. Containers and strings are abbreviated by
    reprlib, without building their whole repr first."""
    huge = _huge_integer(value)
    if huge is not None:
        return huge
    shorter = reprlib.Repr()
    shorter.maxstring = shorter.maxother = limit
    text = shorter.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def described(value: Any, limit: int = 40) -> str:
    """The repr of `value` when it is short and whole, else what it is: 'a list of length 5000',
    'a str of length 300'; nothing of a long value is quoted."""
    huge = _huge_integer(value)
    if huge is not None:
        return huge
    text = short_repr(value, limit + 1)
    if len(text) <= limit and "..." not in text:  # whole: an abbreviation could quote a file's bytes
        return text
    return f"a {type(value).__name__} of length {len(value)}" if hasattr(value, "__len__") else type(value).__name__
