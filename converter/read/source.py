"""Reading a source file before any parser sees it: a regular file of bounded size, in UTF-8.

The converter reads modular files and the generated files of base models. Either may be broken or
hostile, so every way a file can be unreadable is a diagnostic at `path:line:col` with a fix, never
a traceback: not found, a dangling symlink, a directory, a FIFO or device (opened without blocking,
never read), permission denied, larger than `MAX_SOURCE_BYTES` (libcst needs about 300 bytes of
memory and 10 microseconds per byte of source), not UTF-8 (at the line and column of the first bad
byte; a UTF-16 file; a coding cookie naming another encoding), a NUL byte. A UTF-8 byte order mark
is dropped, as Python does. Lines are counted as Python counts them (`\\r\\n`, `\\r` or `\\n`).
Messages name the file and never quote its bytes.

    text = read_source(Path("modular/modular_llama.py"), "modular/modular_llama.py")
"""

from __future__ import annotations

import codecs
import errno
import os
import re
import stat
from encodings import aliases, normalize_encoding
from pathlib import Path

from converter.diagnostics import ConversionError, Diagnostic

#: The largest source file read, in bytes: ten times the largest modular file of transformers (168 KB).
MAX_SOURCE_BYTES = 2 * 2**20

UNREADABLE, NOT_UTF8, NUL_BYTE, TOO_LARGE = "E004", "E005", "E006", "E008"

#: PEP 263: a comment on line 1 or 2 naming the file's encoding.
CODING_COOKIE = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*(?P<name>[-\w.]+)")
BLANK_OR_COMMENT = re.compile(rb"^[ \t\f]*(?:#|\r|\n|$)")
NEWLINE = re.compile(r"\r\n|\r|\n")
BYTES_NEWLINE = re.compile(rb"\r\n|\r|\n")
UTF16_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def read_source(path: Path, display_path: str) -> str:
    """The text of the file at `path` (shown as `display_path`); raises ConversionError: E004
    unreadable, E005 not UTF-8, E006 NUL byte, E008 too large."""
    return decode_source(read_bytes(path, display_path), display_path)


def read_bytes(path: Path, display_path: str) -> bytes:
    """The bytes of a regular file of at most MAX_SOURCE_BYTES; raises ConversionError (E004, E008)."""
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below, unread.
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:
        raise file_error(display_path, why_unopenable(path, error)) from None
    with os.fdopen(descriptor, "rb") as file:
        kind = os.fstat(file.fileno()).st_mode
        if not stat.S_ISREG(kind):
            raise file_error(display_path, DIRECTORY if stat.S_ISDIR(kind) else SPECIAL)
        try:
            data = file.read(MAX_SOURCE_BYTES + 1)
        except OSError as error:
            raise file_error(display_path, (f"cannot be read ({error.strerror})", CHECK)) from None
    if len(data) > MAX_SOURCE_BYTES:
        message = f"the file is larger than {MAX_SOURCE_BYTES // 2**20} MiB, the most the converter reads"
        fix = "split it: a modular file holds only what differs from its base model"
        raise ConversionError([Diagnostic(display_path, 1, 1, TOO_LARGE, message, fix)])
    return data


CHECK = "check the path"
DIRECTORY = ("it is a directory", "pass the path of a file")
SPECIAL = ("it is not a regular file (a FIFO, socket or device)", "pass the path of a regular file")
DANGLING = ("it is a dangling symlink (its target does not exist)", "point the symlink at a file, or replace it")


def why_unopenable(path: Path, error: OSError) -> tuple[str, str]:
    """(what is wrong, the fix) for a path that cannot be opened, in a few words each."""
    if isinstance(error, FileNotFoundError):
        broken = dangling_link(path)
        if broken == path:
            return DANGLING
        if broken is not None:
            return f"its folder {broken.name}/ is a dangling symlink", "point the symlink at a folder"
        return "not found", CHECK
    reasons = {
        errno.EACCES: ("permission denied", "make the file readable"),
        errno.EPERM: ("permission denied", "make the file readable"),
        errno.EISDIR: DIRECTORY,
        errno.ELOOP: ("it is a symlink loop", "point the symlink at a file"),
        errno.ENOTDIR: ("a part of its path is not a folder", CHECK),
        errno.ENAMETOOLONG: ("its path is too long", CHECK),
    }
    return reasons.get(error.errno or 0, (f"cannot be opened ({error.strerror or type(error).__name__})", CHECK))


def dangling_link(path: Path) -> Path | None:
    """The first of `path` and its folders (from the root down) that is a symlink to nothing."""
    for part in [*reversed(path.parents), path]:
        if os.path.islink(part) and not os.path.exists(part):
            return part
    return None


def file_error(display_path: str, reason: tuple[str, str]) -> ConversionError:
    message, fix = reason
    return ConversionError([Diagnostic(display_path, 1, 1, UNREADABLE, f"cannot read the file: {message}", fix)])


def decode_source(data: bytes, display_path: str) -> str:
    """`data` as text: UTF-8, without a byte order mark, without NUL; raises ConversionError (E005, E006)."""
    fix = "save the file as UTF-8 (without a coding line naming another encoding)"
    if data.startswith(UTF16_BOMS):
        message = "the file is UTF-16 or UTF-32 text (it starts with such a byte order mark), not UTF-8"
        raise ConversionError([Diagnostic(display_path, 1, 1, NOT_UTF8, message, fix)])
    data = data.removeprefix(codecs.BOM_UTF8)
    cookie = foreign_cookie(data)
    if cookie is not None:
        line, col, name = cookie
        message = f"the file declares the encoding {name!r}; the converter reads UTF-8 only"
        raise ConversionError([located(data, line, col, NOT_UTF8, message, fix, display_path)])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line, col = byte_position(data, error.start)
        message = "the file is not UTF-8: the bytes here do not decode"
        raise ConversionError([located(data, line, col, NOT_UTF8, message, fix, display_path)]) from None
    nul = text.find("\0")
    if nul >= 0:
        line, col = text_position(text, nul)
        wide = " (the file looks like UTF-16 without a byte order mark)" if text.count("\0") * 4 > len(text) else ""
        message = f"the file contains a NUL byte{wide}, which Python source may not"
        raise ConversionError([located(data, line, col, NUL_BYTE, message, fix, display_path)])
    return text


def foreign_cookie(data: bytes) -> tuple[int, int, str] | None:
    """(line, col, name) of a PEP 263 coding cookie naming an encoding other than UTF-8."""
    lines = BYTES_NEWLINE.split(data, maxsplit=2)[:2]
    for number, line in enumerate(lines, start=1):
        match = CODING_COOKIE.match(line)
        if match is not None:
            name = match.group("name").decode("ascii", "replace")
            if is_utf8(name):
                return None
            col = len(line[: match.start("name")].decode("utf-8", "replace")) + 1
            return number, col, name[:40]
        if not BLANK_OR_COMMENT.match(line):
            return None  # the cookie may only follow a comment or blank line
    return None


def is_utf8(name: str) -> bool:
    """Whether a coding cookie's encoding name means UTF-8 to Python (`utf-8`, `UTF8`, `utf_8`, `utf-8-unix`)."""
    key = normalize_encoding(name).lower()
    return aliases.aliases.get(key, key) in ("utf_8", "utf_8_sig") or key.startswith("utf_8_")


def byte_position(data: bytes, offset: int) -> tuple[int, int]:
    """1-based (line, column in characters) of byte `offset` of `data`, valid UTF-8 before it."""
    before = data[:offset]
    line = 1 + sum(1 for _ in BYTES_NEWLINE.finditer(before))
    start = max(before.rfind(b"\n"), before.rfind(b"\r")) + 1
    return line, len(before[start:].decode("utf-8", "replace")) + 1


def text_position(text: str, index: int) -> tuple[int, int]:
    """1-based (line, column) of character `index` of `text`."""
    before = text[:index]
    start = max(before.rfind("\n"), before.rfind("\r")) + 1
    return 1 + sum(1 for _ in NEWLINE.finditer(before)), index - start + 1


def source_lines(text: str) -> list[str]:
    """The lines of `text` as Python counts them (`str.splitlines` also splits at form feeds and more)."""
    return NEWLINE.split(text)


def located(data: bytes, line: int, col: int, code: str, message: str, fix: str, display_path: str) -> Diagnostic:
    """A diagnostic at (line, col) of undecodable `data`, with its line (decoded leniently) for the caret."""
    lines = BYTES_NEWLINE.split(data, maxsplit=line)
    text = lines[line - 1].decode("utf-8", "replace") if line <= len(lines) else ""
    return Diagnostic(display_path, line, col, code, message, fix, text)
