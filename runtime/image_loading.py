"""Images from where users keep them: a PIL image, a local path, an http(s) or file:// URL, base64.

The rules are transformers' `load_image` (transformers/image_utils.py), so a processor given the
same string reads the same pixels: a string starting with `http://` or `https://` is downloaded;
else an existing file is opened; else the string is decoded as base64 (a `data:image/...;base64,`
prefix is dropped first). Beyond transformers, a `file://` URL opens the file it names. The image
is then turned upright (its EXIF orientation) and converted to RGB (alpha dropped, not composited).

    load_image("photo.jpg"), load_image("https://example.com/cat.png"), load_image("data:image/png;base64,iVBO...")

Strings are untrusted input, so loading is bounded by `ImageLoadLimits` (defaults below, each
overridable by an environment variable, read at every call, or per call with `limits=`):

| limit | default | environment variable |
| --- | --- | --- |
| each socket read waits at most `timeout` (an argument) | 10 s | - |
| the whole download, connection to last byte | 60 s | MODULAR_MODELS_DOWNLOAD_DEADLINE |
| bytes downloaded, or decoded from base64 | 64 MiB | MODULAR_MODELS_MAX_DOWNLOAD_BYTES |
| pixels of an image, checked before it is decoded | 89,478,485 (PIL's) | MODULAR_MODELS_MAX_IMAGE_PIXELS |
| local paths and file:// URLs are read | yes | MODULAR_MODELS_ALLOW_LOCAL_IMAGES=0 turns it off |

Only http(s) is fetched, and only http(s) redirects are followed. Every failure is an
`ImageLoadError` (an `OSError` and a `ValueError`, what callers caught before) naming the source
and the limit or the problem, never echoing what a server or file sent; an argument that is not
an image at all is an `ImageTypeError` (also a `TypeError`, as in transformers).
"""

from __future__ import annotations

import base64
import os
import re
import urllib.error
import urllib.parse
import urllib.request
import warnings
from dataclasses import dataclass, fields
from io import BytesIO
from typing import Any

import numpy as np
import PIL.Image
import PIL.ImageOps
import torch

from runtime.http_fetch import FetchError, fetch

DOWNLOAD_TIMEOUT = 10.0  # seconds per socket read; transformers waits forever by default
DOWNLOAD_DEADLINE = 60.0  # seconds for a whole download
MAX_DOWNLOAD_BYTES = 64 * 2**20
MAX_IMAGE_PIXELS = 89_478_485  # PIL's default MAX_IMAGE_PIXELS (a 3-channel 8-bit image of 256 MiB)
ENVIRONMENT = {
    "allow_local": "MODULAR_MODELS_ALLOW_LOCAL_IMAGES",
    "deadline_s": "MODULAR_MODELS_DOWNLOAD_DEADLINE",
    "max_bytes": "MODULAR_MODELS_MAX_DOWNLOAD_BYTES",
    "max_pixels": "MODULAR_MODELS_MAX_IMAGE_PIXELS",
}
BASE64 = re.compile(r"[A-Za-z0-9+/=\s]*")


class ImageLoadError(OSError, ValueError):
    """An image source that cannot be read: a download that failed or went over its limits, a
    file or string that is not an image, an image too large, a local read that is turned off."""


class ImageTypeError(ImageLoadError, TypeError):
    """An argument that is not an image nor a string naming one (a dict, None, a Path, bytes)."""


@dataclass(frozen=True)
class ImageLoadLimits:
    """Bounds on reading one image from a string (see the module docstring's table)."""

    allow_local: bool = True
    deadline_s: float = DOWNLOAD_DEADLINE
    max_bytes: int = MAX_DOWNLOAD_BYTES
    max_pixels: int = MAX_IMAGE_PIXELS

    @classmethod
    def from_env(cls) -> ImageLoadLimits:
        """The module defaults, each replaced by its environment variable where that is set."""
        values: dict[str, Any] = {}
        for field in fields(cls):
            raw = os.environ.get(ENVIRONMENT[field.name], "").strip()
            if raw:
                values[field.name] = _parse_setting(ENVIRONMENT[field.name], raw, field.name)
        return cls(**values)


def _parse_setting(variable: str, raw: str, name: str) -> Any:
    if name == "allow_local":
        if raw.lower() not in ("0", "1", "false", "true", "no", "yes", "off", "on"):
            raise ImageLoadError(f"{variable}={raw[:20]!r}: expected 0 or 1")
        return raw.lower() in ("1", "true", "yes", "on")
    try:
        value = float(raw) if name == "deadline_s" else int(raw)
    except ValueError:
        raise ImageLoadError(f"{variable}={raw[:20]!r}: expected a number") from None
    if not value > 0:
        raise ImageLoadError(f"{variable}={raw[:20]!r}: expected a positive number")
    return value


def is_valid_image(image: Any) -> bool:
    return isinstance(image, (PIL.Image.Image, np.ndarray, torch.Tensor))


def fetch_images(
    images: Any, timeout: float | None = DOWNLOAD_TIMEOUT, *, limits: ImageLoadLimits | None = None
) -> Any:
    """`fetch_image` on every image of a (nested) list, keeping its structure, as transformers'
    image processors read their input."""
    if isinstance(images, (list, tuple)):
        return [fetch_images(image, timeout, limits=limits) for image in images]
    return fetch_image(images, timeout, limits=limits)


def fetch_image(image: Any, timeout: float | None = DOWNLOAD_TIMEOUT, *, limits: ImageLoadLimits | None = None) -> Any:
    """A string -> the PIL image it names (`load_image`); an image (PIL, array, tensor) unchanged.
    Anything else is an `ImageTypeError`, as in transformers (a `pathlib.Path` too: pass `str(path)`)."""
    if isinstance(image, str):
        return load_image(image, timeout, limits=limits)
    if is_valid_image(image):
        return image
    raise _not_an_image(image)


def load_image(image: Any, timeout: float | None = DOWNLOAD_TIMEOUT, *, limits: ImageLoadLimits | None = None) -> Any:
    """A string or PIL image -> a PIL image upright (EXIF orientation) in RGB, as transformers'
    `load_image`; arrays and tensors unchanged. `limits`: `ImageLoadLimits.from_env()` by default."""
    if isinstance(image, str):
        limits = limits or ImageLoadLimits.from_env()
        label = _label(image)
        return _decoded(open_image_source(image, timeout, limits=limits), label, limits)
    if not is_valid_image(image):
        raise _not_an_image(image)
    if isinstance(image, PIL.Image.Image):
        return PIL.ImageOps.exif_transpose(image).convert("RGB")
    return image


def open_image_source(
    source: str, timeout: float | None = DOWNLOAD_TIMEOUT, *, limits: ImageLoadLimits | None = None
) -> PIL.Image.Image:
    """The image (opened, not yet decoded) that an http(s) or file:// URL, a path, or a base64
    string (data URI or bare) names."""
    limits = limits or ImageLoadLimits.from_env()
    if source.startswith(("http://", "https://")):
        return _opened(BytesIO(download(source, timeout, limits=limits)), _label(source))
    if source.startswith("file://"):
        return _opened(_file_url_path(source, limits), _label(source))
    if limits.allow_local and os.path.isfile(source):
        return _opened(source, _label(source))
    if limits.allow_local and os.path.exists(source):
        raise ImageLoadError(f"{_label(source)} is a directory or a special file, not an image file")
    return _opened(BytesIO(_base64_bytes(source, limits)), _label(source), decoded_base64=True)


def _label(source: str) -> str:
    """How messages name a source: short strings (URLs, paths) as they are, long ones cut."""
    if len(source) <= 200:
        return repr(source)
    kind = "a data URI" if source.startswith("data:") else "a string"
    return f"{kind} of {len(source)} characters starting {source[:40]!r}"


def _file_url_path(source: str, limits: ImageLoadLimits) -> str:
    if not limits.allow_local:
        raise ImageLoadError(f"{_label(source)}: file:// URLs are not read ({ENVIRONMENT['allow_local']}=0)")
    parts = urllib.parse.urlparse(source)
    if parts.netloc not in ("", "localhost"):
        raise ImageLoadError(
            f"{_label(source)}: a file:// URL must name a local file, not one on {parts.netloc[:60]!r}"
        )
    path = urllib.request.url2pathname(parts.path)
    if not os.path.isfile(path):
        raise ImageLoadError(f"{_label(source)}: no image file at {path[:200]!r} (from a file:// URL)")
    return path


def _base64_bytes(source: str, limits: ImageLoadLimits) -> bytes:
    """The bytes a bare base64 string or an image data URI holds; `ImageLoadError` for anything else."""
    encoded = source
    if source.startswith("data:"):
        header, comma, encoded = source.partition(",")
        media = header[5:].split(";")[0].strip().lower()
        problem = (
            "it has no ','"
            if not comma
            else f"its media type is {media[:40]!r}"
            if not media.startswith("image/")
            else "it is not base64-encoded"
            if ";base64" not in header.lower()
            else None
        )
        if problem:
            raise ImageLoadError(
                f"{_label(source)}: {problem}; an image data URI is 'data:image/<type>;base64,<data>'"
            )
    if not encoded.strip() or not BASE64.fullmatch(encoded) or not _decodable(encoded):
        local = (
            "not an existing file"
            if limits.allow_local
            else f"local paths are not read ({ENVIRONMENT['allow_local']}=0)"
        )
        raise ImageLoadError(
            f"cannot load an image from {_label(source)}: it is not an http(s) or file:// URL, {local}, "
            "and not base64-encoded data"
        )
    if len(encoded) * 3 // 4 > limits.max_bytes:
        raise ImageLoadError(
            f"{_label(source)}: more than {limits.max_bytes} bytes of base64 ({ENVIRONMENT['max_bytes']})"
        )
    return base64.decodebytes(encoded.encode())


def _decodable(encoded: str) -> bool:
    """Whether `base64.decodebytes` (transformers' decoder, which skips whitespace) accepts it:
    the base64 characters must come in groups of four."""
    return len(re.sub(r"[^A-Za-z0-9+/=]", "", encoded)) % 4 == 0


def _opened(file: str | BytesIO, label: str, decoded_base64: bool = False) -> PIL.Image.Image:
    """PIL's lazy open (the header only); `ImageLoadError` when PIL does not recognise an image."""
    try:
        with warnings.catch_warnings():  # the pixel limit is checked next, with a clearer message
            warnings.simplefilter("ignore", PIL.Image.DecompressionBombWarning)
            return PIL.Image.open(file)
    except PIL.Image.DecompressionBombError:
        raise ImageLoadError(f"{label}: more pixels than PIL accepts (PIL.Image.MAX_IMAGE_PIXELS); refused") from None
    except Exception as error:  # UnidentifiedImageError, SyntaxError, struct.error, ... from a plugin
        size = f"{len(file.getvalue())} bytes, " if isinstance(file, BytesIO) else ""
        if decoded_base64:
            raise ImageLoadError(
                f"cannot load an image from {label}: it is not an http(s) or file:// URL, not an existing file, "
                f"and its base64 decoding is not an image PIL can read ({size}{type(error).__name__})"
            ) from None
        raise ImageLoadError(f"{label} is not an image PIL can read ({size}{type(error).__name__})") from None


def _decoded(image: PIL.Image.Image, label: str, limits: ImageLoadLimits) -> PIL.Image.Image:
    """The opened image decoded, upright and RGB, once its size is known to be within the limits."""
    width, height = image.size
    if width <= 0 or height <= 0:
        raise ImageLoadError(f"{label}: the image has no pixels ({width}x{height})")
    if width * height > limits.max_pixels:
        raise ImageLoadError(
            f"{label}: {width}x{height} = {width * height} pixels, more than the {limits.max_pixels} accepted "
            f"({ENVIRONMENT['max_pixels']}); refused before decoding"
        )
    try:
        image.load()
        return PIL.ImageOps.exif_transpose(image).convert("RGB")
    except Exception as error:  # OSError (truncated), SyntaxError, ValueError, struct.error, EOFError, ...
        what = "it is truncated" if "truncated" in str(error) else f"it is corrupt ({type(error).__name__})"
        raise ImageLoadError(f"{label}: cannot decode the image: {what}") from None


def _not_an_image(image: Any) -> ImageTypeError:
    return ImageTypeError(
        "an image must be a PIL image, an array, a tensor, or a string (a path, an http(s) or file:// URL, "
        f"base64), got {type(image).__name__}"
    )


def download(url: str, timeout: float | None = DOWNLOAD_TIMEOUT, *, limits: ImageLoadLimits | None = None) -> bytes:
    """The body at the http(s) `url` (http(s) redirects followed), within `limits`' deadline and
    size; an `ImageLoadError` naming the URL, and the limit's environment variable, otherwise."""
    limits = limits or ImageLoadLimits.from_env()
    try:
        return fetch(url, timeout, limits.deadline_s, limits.max_bytes)
    except FetchError as error:
        variable = f" ({ENVIRONMENT[error.limit]})" if error.limit else ""
        raise ImageLoadError(f"cannot download the image at {_label(url)}: {error}{variable}") from None
