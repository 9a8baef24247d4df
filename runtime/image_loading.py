"""Images from where users keep them: a PIL image, a local path, an http(s) or file:// URL, base64.

The rules are transformers' `load_image` (transformers/image_utils.py), so a processor given the
same string reads the same pixels: a string starting with `http://` or `https://` is downloaded;
else an existing file is opened; else the string is decoded as base64 (a `data:image/...;base64,`
prefix is dropped first). Beyond transformers, a `file://` URL opens the file it names. The image
is then turned upright (its EXIF orientation) and converted to RGB (alpha dropped, not composited).

    load_image("photo.jpg"), load_image("https://example.com/cat.png"), load_image("data:image/png;base64,iVBO...")

Downloads use urllib with a timeout; a failure raises an `OSError` naming the URL.
"""

from __future__ import annotations

import base64
import os
import urllib.error
import urllib.parse
import urllib.request
from io import BytesIO
from typing import Any

import numpy as np
import PIL.Image
import PIL.ImageOps
import torch

DOWNLOAD_TIMEOUT = 10.0  # seconds; transformers waits forever by default


def is_valid_image(image: Any) -> bool:
    return isinstance(image, (PIL.Image.Image, np.ndarray, torch.Tensor))


def fetch_images(images: Any, timeout: float | None = DOWNLOAD_TIMEOUT) -> Any:
    """`fetch_image` on every image of a (nested) list, keeping its structure, as transformers'
    image processors read their input."""
    if isinstance(images, (list, tuple)):
        return [fetch_images(image, timeout) for image in images]
    return fetch_image(images, timeout)


def fetch_image(image: Any, timeout: float | None = DOWNLOAD_TIMEOUT) -> Any:
    """A string -> the PIL image it names (`load_image`); an image (PIL, array, tensor) unchanged.
    Anything else is a TypeError, as in transformers (a `pathlib.Path` too: pass `str(path)`)."""
    if isinstance(image, str):
        return load_image(image, timeout)
    if is_valid_image(image):
        return image
    raise _not_an_image(image)


def load_image(image: Any, timeout: float | None = DOWNLOAD_TIMEOUT) -> Any:
    """A string or PIL image -> a PIL image upright (EXIF orientation) in RGB, as transformers'
    `load_image`; arrays and tensors unchanged."""
    if isinstance(image, str):
        image = open_image_source(image, timeout)
    elif not is_valid_image(image):
        raise _not_an_image(image)
    if isinstance(image, PIL.Image.Image):
        return PIL.ImageOps.exif_transpose(image).convert("RGB")
    return image


def open_image_source(source: str, timeout: float | None = DOWNLOAD_TIMEOUT) -> PIL.Image.Image:
    """The image an http(s) or file:// URL, a path, or a base64 string (data URI or bare) names."""
    if source.startswith(("http://", "https://")):
        return _open_bytes(download(source, timeout), source)
    if source.startswith("file://"):
        source = urllib.request.url2pathname(urllib.parse.urlparse(source).path)
        if not os.path.isfile(source):
            raise FileNotFoundError(f"no image file at {source!r} (from a file:// URL)")
    if os.path.isfile(source):
        return PIL.Image.open(source)
    encoded = source.split(",")[1] if source.startswith("data:image/") else source
    try:
        return PIL.Image.open(BytesIO(base64.decodebytes(encoded.encode())))
    except Exception as error:
        shown = source if len(source) <= 80 else f"{source[:77]}..."
        raise ValueError(
            f"cannot load an image from {shown!r}: it is not an http(s) or file:// URL, not an existing file, "
            f"and not a base64-encoded image ({error})"
        ) from error


def download(url: str, timeout: float | None = DOWNLOAD_TIMEOUT) -> bytes:
    """The body at `url` (redirects followed); an OSError naming the URL when it cannot be read."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.read()
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise OSError(f"cannot download the image at {url}: {error}") from error


def _not_an_image(image: Any) -> TypeError:
    return TypeError(
        "an image must be a PIL image, an array, a tensor, or a string (a path, an http(s) or file:// URL, "
        f"base64), got {type(image).__name__}"
    )


def _open_bytes(data: bytes, url: str) -> PIL.Image.Image:
    try:
        return PIL.Image.open(BytesIO(data))
    except PIL.UnidentifiedImageError as error:
        raise PIL.UnidentifiedImageError(f"the content at {url} is not an image ({len(data)} bytes)") from error
