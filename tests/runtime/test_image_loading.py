"""`runtime.image_loading` reads images from the same strings as transformers 5.23.0's `load_image`.

PNG and JPEG files written to tmp_path (RGB, RGBA, palette, grayscale, a JPEG with an EXIF
rotation), given as a local path, an http URL served by a local `http.server` on 127.0.0.1, a
base64 string and a data URI, load to the same pixels as transformers' `load_image` (and as the
file opened with PIL, made upright and RGB); a file:// URL, which transformers does not read,
loads as its path. Bad sources fail as transformers' do (a `pathlib.Path` is a TypeError, an
unknown string a ValueError) and a URL that cannot be read is an OSError naming it (both an
`ImageLoadError`, which is both). No test reaches the internet; hostile sources are in
tests/adversarial/test_images_and_processors.py.
Run: python -m pytest tests/runtime/test_image_loading.py -q
"""

from __future__ import annotations

import base64
import socket
from pathlib import Path

import numpy as np
import PIL.Image
import PIL.ImageOps
import pytest

from runtime.image_loading import ImageLoadError, fetch_image, load_image
from tests.http_server import serve_directory

transformers = pytest.importorskip("transformers")
from transformers.image_utils import load_image as reference_load_image  # noqa: E402


def write_images(directory: Path) -> dict[str, Path]:
    """Small images of several modes; the JPEG carries EXIF orientation 6 (rotate 90 degrees to view)."""
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (12, 20, 4), dtype=np.uint8)
    files = {
        "rgb.png": PIL.Image.fromarray(pixels[..., :3]),
        "rgba.png": PIL.Image.fromarray(pixels, mode="RGBA"),
        "gray.png": PIL.Image.fromarray(pixels[..., 0], mode="L"),
        "palette.png": PIL.Image.fromarray(pixels[..., :3]).convert("P"),
        "photo.jpg": PIL.Image.fromarray(pixels[..., :3]),
    }
    for name, image in files.items():
        exif = PIL.Image.Exif()
        if name == "photo.jpg":
            exif[0x0112] = 6
        image.save(directory / name, exif=exif)
    return {name: directory / name for name in files}


def as_array(image: PIL.Image.Image) -> np.ndarray:
    assert isinstance(image, PIL.Image.Image) and image.mode == "RGB"
    return np.asarray(image)


def test_every_source_loads_as_reference(tmp_path: Path) -> None:
    files = write_images(tmp_path)
    with serve_directory(tmp_path) as base_url:
        for name, path in files.items():
            encoded = base64.b64encode(path.read_bytes()).decode()
            suffix = "jpeg" if name.endswith("jpg") else "png"
            sources = [str(path), f"{base_url}/{name}", encoded, f"data:image/{suffix};base64,{encoded}"]
            upright = np.asarray(PIL.ImageOps.exif_transpose(PIL.Image.open(path)).convert("RGB"))
            for source in sources:
                expected = as_array(reference_load_image(source))
                np.testing.assert_array_equal(as_array(load_image(source)), expected, err_msg=source[:60])
                np.testing.assert_array_equal(expected, upright)
            np.testing.assert_array_equal(as_array(load_image(path.as_uri())), upright)
    assert as_array(load_image(str(files["photo.jpg"]))).shape == (20, 12, 3)  # the EXIF rotation applied


def test_images_pass_through_and_fetch_keeps_pil_images_as_they_are(tmp_path: Path) -> None:
    array = np.zeros((3, 4, 4), dtype=np.uint8)
    assert load_image(array) is array and fetch_image(array) is array
    rgba = PIL.Image.open(write_images(tmp_path)["rgba.png"])
    assert fetch_image(rgba) is rgba  # transformers' fetch_images leaves PIL images to the image processor
    np.testing.assert_array_equal(as_array(load_image(rgba)), as_array(reference_load_image(rgba)))


def test_bad_sources_fail_as_reference(tmp_path: Path) -> None:
    path = write_images(tmp_path)["rgb.png"]
    with pytest.raises(TypeError):
        reference_load_image(path)
    with pytest.raises(TypeError, match="got PosixPath"):
        load_image(path)
    missing = str(tmp_path / "missing.png")
    with pytest.raises(ValueError):
        reference_load_image(missing)
    with pytest.raises(ValueError, match="missing.png.*not an existing file"):
        load_image(missing)
    with pytest.raises(ImageLoadError, match="missing.png.*no image file"):  # an OSError
        load_image(Path(missing).as_uri())


def test_unreadable_urls_are_errors_naming_the_url(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not an image")
    with serve_directory(tmp_path) as base_url:
        with pytest.raises(OSError, match=f"{base_url}/absent.png.*404"):
            load_image(f"{base_url}/absent.png")
        with pytest.raises(ImageLoadError, match=f"{base_url}/notes.txt' is not an image"):  # an OSError
            load_image(f"{base_url}/notes.txt")
    with socket.socket() as closed:  # a port nothing listens on: connection refused
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with pytest.raises(OSError, match=f"http://127.0.0.1:{port}/photo.png"):
        load_image(f"http://127.0.0.1:{port}/photo.png")


def test_a_silent_server_times_out() -> None:
    with socket.socket() as listener:  # the kernel accepts connections into the backlog; nothing answers
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/slow.png"
        with pytest.raises(OSError, match=f"{url}.*timed out"):
            load_image(url, timeout=0.2)
