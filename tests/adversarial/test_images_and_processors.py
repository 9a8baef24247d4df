"""Hostile image sources, image-processor configs and processor calls get a clean refusal.

What this proves, case by case (each table row is one hostile input and its exact outcome):
- downloads (a local server on 127.0.0.1, tests/adversarial/hostile_http.py, in a child process
  under a memory cap): a body or a header that drips a byte at a time stops at the total deadline,
  an endless body or a terabyte Content-Length at the size cap, each naming the environment
  variable of the limit; a status line that is not HTTP, a short body, redirects to file:, ftp:
  and data: URLs or in a loop, a web page and a truncated PNG are `ImageLoadError`s naming the URL
  and never quoting what the server sent;
- decoding: decompression bombs (a PNG header announcing 12000x12000, 1x10^8 or 20000x20000
  pixels) are refused before any pixel is decoded; 0x0 images, text files, directories, devices,
  bad base64, data URIs of other media types are `ImageLoadError`s; animated GIFs, multi-page TIFFs,
  CMYK, P, LA, I;16, 1-bit and 1xN images load as RGB;
- containment: processor_config.json, preprocessor_config.json and chat_template.json symlinked
  outside the processor's folder are refused by name (the tokenizer's files are in
  test_tokenizer_and_templates.py);
- the local-read switch: MODULAR_MODELS_ALLOW_LOCAL_IMAGES=0 (or `ImageLoadLimits(allow_local=False)`)
  stops paths and file:// URLs, in `load_image` and in processors, with the same message whether
  the file exists or not, while URLs and base64 still load;
- configs (in a child process under a memory cap): absurd, negative, zero or ill-typed
  `image_seq_len`, `size`, `max_image_size`, `resample`, `rescale_factor`, `image_mean/std`,
  `do_*` values in processor_config.json or preprocessor_config.json, and the same at call time,
  are `ProcessorError`s naming the file (or the call) and the field, before anything is allocated;
- calls: mismatched image and `<image>` counts, empty or ill-typed text and image lists, lists of
  the wrong depth, images of the wrong type, rank or dtype, empty images, NaN pixels, meta
  tensors, unknown options: `ProcessorError` or `ImageLoadError`/`ImageTypeError` saying where.
Run: python -m pytest tests/adversarial/test_images_and_processors.py -q
"""

from __future__ import annotations

import base64
import json
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import PIL.Image
import pytest
import torch
from tokenizers import Tokenizer as BackendTokenizer
from tokenizers import models, pre_tokenizers, trainers

from generated.idefics2 import Idefics2ImageProcessor, Idefics2Processor
from generated.idefics3 import Idefics3ImageProcessor, Idefics3Processor
from runtime.image_loading import ImageLoadError, ImageLoadLimits, ImageTypeError, load_image
from runtime.image_processing_utils import ProcessorError
from runtime.tokenization_utils import Tokenizer
from tests.adversarial.capped import run_capped
from tests.adversarial.hostile_http import png_bytes, serve_hostile

SECRET = "SECRET-CONTENT-7f3a"
pytestmark = pytest.mark.filterwarnings("ignore:Palette images with Transparency")  # PIL's advice, not ours
SPECIAL_TOKENS = ["<unk>", "<s>", "</s>", "<pad>", "<fake_token_around_image>", "<image>", "<end_of_utterance>"]
SPECIAL_TOKENS += ["<global-img>", *(f"<row_{i}_col_{j}>" for i in range(1, 9) for j in range(1, 9))]
TEMPLATE = "{% for m in messages %}{{ m['role'] }}:{% for c in m['content'] %}{{ c['text'] if c['type'] == 'text' else '<image>' }}{% endfor %}\n{% endfor %}"


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header announces `width` x `height` pixels (its data is a few zero bytes): what a
    decompression bomb looks like before anything is decoded."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )


def write_processor(folder: Path, model: str = "idefics3") -> Path:
    """A tiny processor checkpoint (our save_pretrained writes transformers 5's layout)."""
    backend = BackendTokenizer(models.WordLevel(unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.train_from_iterator(
        ["user : what is it ? a red cat"], trainer=trainers.WordLevelTrainer(special_tokens=SPECIAL_TOKENS)
    )
    tokenizer = Tokenizer(backend, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>")
    if model == "idefics3":
        image_processor = Idefics3ImageProcessor(size={"longest_edge": 64}, max_image_size={"longest_edge": 32})
        processor: Any = Idefics3Processor(image_processor, tokenizer, image_seq_len=2, chat_template=TEMPLATE)
    else:
        image_processor = Idefics2ImageProcessor(size={"shortest_edge": 30, "longest_edge": 60})
        processor = Idefics2Processor(image_processor, tokenizer, image_seq_len=2, chat_template=TEMPLATE)
    processor.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def processor(tmp_path_factory: pytest.TempPathFactory) -> Idefics3Processor:
    return Idefics3Processor.from_pretrained(write_processor(tmp_path_factory.mktemp("processor")))


# ---- downloads from a hostile server, in a capped child: (route, words of the error) ----

DOWNLOAD_CASES = [
    ("/drip", "not complete after 1.0 s (MODULAR_MODELS_DOWNLOAD_DEADLINE)"),
    ("/drip-headers", "not complete after 1.0 s (MODULAR_MODELS_DOWNLOAD_DEADLINE)"),
    ("/endless", "more than the 1048576 bytes accepted (MODULAR_MODELS_MAX_DOWNLOAD_BYTES)"),
    ("/huge-length", "the server announces 1000000000000 bytes, more than the 1048576 bytes accepted"),
    ("/short-length", "the body stopped 9923 bytes short"),
    ("/bad-status", "the server's answer is not HTTP (BadStatusLine)"),
    ("/redirect-file", "it redirects to a file: URL; only http(s) redirects are followed"),
    ("/redirect-ftp", "it redirects to a ftp: URL"),
    ("/redirect-data", "it redirects to a data: URL"),
    ("/redirect-loop", "HTTP 302 Found (a redirect loop?)"),
    ("/absent", "HTTP 404 Not Found"),
    ("/html", "is not an image PIL can read (38 bytes, UnidentifiedImageError)"),
    ("/truncated-png", "cannot decode the image: it is truncated"),
]
DOWNLOAD_SCRIPT = """
import json, os
os.environ["MODULAR_MODELS_DOWNLOAD_DEADLINE"] = "1.0"
os.environ["MODULAR_MODELS_MAX_DOWNLOAD_BYTES"] = str(2**20)
from runtime.image_loading import ImageLoadLimits, load_image
from tests.adversarial.hostile_http import serve_hostile
results = {}
with serve_hostile(interval_s=0.05, stop_after_s=20) as base:
    for route in ROUTES:
        try:
            results[route] = ["loaded", str(load_image(base + route, timeout=0.5).size)]
        except Exception as error:
            results[route] = [type(error).__name__, str(error).replace(base, "BASE")]
    limits = ImageLoadLimits(deadline_s=0.5)  # the argument, not the environment
    try:
        load_image(base + "/drip", limits=limits)
    except Exception as error:
        results["argument"] = [type(error).__name__, str(error).replace(base, "BASE")]
    results["/png"] = ["loaded", str(load_image(base + "/png").size)]
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def downloads() -> dict[str, list[str]]:
    """Every DOWNLOAD_CASES route loaded once, in one child capped at 1 GiB and 90 s."""
    routes = [route for route, _ in DOWNLOAD_CASES]
    result = run_capped(f"ROUTES = {routes!r}\n{DOWNLOAD_SCRIPT}", memory_mib=1024, timeout_s=90)
    assert result.returncode == 0, result.output[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(("route", "words"), DOWNLOAD_CASES, ids=[route for route, _ in DOWNLOAD_CASES])
def test_hostile_downloads_stop_cleanly(downloads: dict[str, list[str]], route: str, words: str) -> None:
    kind, message = downloads[route]
    assert kind == "ImageLoadError" and f"BASE{route}" in message and words in message, (kind, message)
    assert "NOT-HTTP" not in message and "garbage" not in message and len(message) < 400, message


def test_download_limits_come_from_arguments_too(downloads: dict[str, list[str]]) -> None:
    assert downloads["argument"] == [
        "ImageLoadError",
        "cannot download the image at 'BASE/drip': not complete after 0.5 s (MODULAR_MODELS_DOWNLOAD_DEADLINE)",
    ]
    assert downloads["/png"] == ["loaded", "(8, 6)"]  # a well-behaved server still works


def test_a_bad_environment_setting_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODULAR_MODELS_MAX_DOWNLOAD_BYTES", "lots")
    with pytest.raises(ImageLoadError, match="MODULAR_MODELS_MAX_DOWNLOAD_BYTES='lots': expected a number"):
        load_image("http://127.0.0.1:9/x.png")


# ---- decompression bombs, in a capped child: (file content, words of the error) ----

BOMB_CASES = {
    "12000x12000 (over PIL's limit)": "12000x12000 = 144000000 pixels, more than the 89478485 accepted (MODULAR_MODELS_MAX_IMAGE_PIXELS); refused before decoding",
    "1x100000000": "1x100000000 = 100000000 pixels, more than the 89478485 accepted",
    "20000x20000 (twice PIL's limit)": "more pixels than PIL accepts (PIL.Image.MAX_IMAGE_PIXELS); refused",
}
BOMB_SCRIPT = """
import io, json
from runtime.image_loading import load_image
from runtime.image_processing_utils import ProcessorError
from generated.idefics3 import Idefics3ImageProcessor
results = {}
for name, size, path in CASES:
    open(path, "wb").write(PNG[name])
    try:
        results[name] = ["loaded", str(load_image(path).size)]
    except Exception as error:
        results[name] = [type(error).__name__, str(error)]
import PIL.Image
try:  # an image already in memory, larger than the limit: the processor refuses it before resizing
    Idefics3ImageProcessor()(PIL.Image.new("L", (9500, 9500)))
except ProcessorError as error:
    results["in memory"] = ["ProcessorError", str(error)]
print(json.dumps(results))
"""


def test_decompression_bombs_are_refused_before_decoding(tmp_path: Path) -> None:
    sizes = {"12000x12000 (over PIL's limit)": (12000, 12000), "1x100000000": (1, 100_000_000)}
    sizes["20000x20000 (twice PIL's limit)"] = (20000, 20000)
    cases = [(name, size, str(tmp_path / f"bomb{i}.png")) for i, (name, size) in enumerate(sizes.items())]
    pngs = {name: png_header(*size) for name, size in sizes.items()}
    result = run_capped(f"PNG = {pngs!r}\nCASES = {cases!r}\n{BOMB_SCRIPT}", memory_mib=1024, timeout_s=60)
    assert result.returncode == 0, result.output[-3000:]
    results = json.loads(result.stdout.strip().splitlines()[-1])
    for name, path in ((name, path) for name, _, path in cases):
        kind, message = results[name]
        assert kind == "ImageLoadError" and repr(path) in message and BOMB_CASES[name] in message, (name, message)
    assert results["in memory"] == [
        "ProcessorError",
        "images[0][0]: 9500x9500 pixels, more than the 89478485 accepted",
    ]


# ---- local sources: (id, how to make the source from tmp_path, error, words) ----


def _write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def _saved(path: Path, image: PIL.Image.Image, **options: Any) -> str:
    image.save(path, **options)
    return str(path)


SOURCE_CASES: list[tuple[str, Callable[[Path], Any], type[Exception], str]] = [
    ("0x0 PNG header", lambda d: _write(d / "zero.png", png_header(0, 0)), ImageLoadError, "is not an image PIL can read"),
    ("a text file", lambda d: _write(d / "notes.txt", SECRET.encode()), ImageLoadError, "is not an image PIL can read (UnidentifiedImageError)"),
    ("a truncated PNG", lambda d: _write(d / "half.png", png_bytes((64, 64))[:60]), ImageLoadError, "cannot decode the image"),
    ("a directory", lambda d: str(d), ImageLoadError, "is a directory or a special file"),
    ("/dev/null", lambda d: "/dev/null", ImageLoadError, "is a directory or a special file"),
    ("a missing file", lambda d: str(d / "missing.png"), ImageLoadError, "not an existing file, and not base64-encoded data"),
    ("a missing file:// URL", lambda d: (d / "missing.png").as_uri(), ImageLoadError, "no image file at"),
    ("a file:// URL on another host", lambda d: "file://server/etc/hostname", ImageLoadError, "must name a local file, not one on 'server'"),
    ("an ftp URL", lambda d: "ftp://127.0.0.1/x.png", ImageLoadError, "not an http(s) or file:// URL"),
    ("not base64", lambda d: "!!not base64!!", ImageLoadError, "not base64-encoded data"),
    ("base64 of the wrong length", lambda d: "not a thing", ImageLoadError, "not base64-encoded data"),
    ("base64 of text", lambda d: base64.b64encode(SECRET.encode()).decode(), ImageLoadError, "its base64 decoding is not an image"),
    ("an empty string", lambda d: "", ImageLoadError, "not base64-encoded data"),
    ("a data URI of text/plain", lambda d: "data:text/plain;base64," + base64.b64encode(png_bytes()).decode(), ImageLoadError, "its media type is 'text/plain'"),
    ("a data URI without a comma", lambda d: "data:image/png;base64", ImageLoadError, "it has no ','"),
    ("a data URI not in base64", lambda d: "data:image/png,rawbytes", ImageLoadError, "it is not base64-encoded"),
    ("None", lambda d: None, ImageTypeError, "got NoneType"),
    ("a dict", lambda d: {"url": "x"}, ImageTypeError, "got dict"),
    ("bytes", lambda d: png_bytes(), ImageTypeError, "got bytes"),
    ("a pathlib.Path", lambda d: d / "x.png", ImageTypeError, "got PosixPath"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("make", "error", "words"), [case[1:] for case in SOURCE_CASES], ids=[case[0] for case in SOURCE_CASES]
)
def test_bad_sources_are_refused(
    tmp_path: Path, make: Callable[[Path], Any], error: type[Exception], words: str
) -> None:
    with pytest.raises(error) as caught:
        load_image(make(tmp_path))
    assert words in str(caught.value) and SECRET not in str(caught.value), str(caught.value)
    assert isinstance(caught.value, (OSError, ValueError))  # what callers caught before


def test_a_base64_string_over_the_size_cap_is_refused_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODULAR_MODELS_MAX_DOWNLOAD_BYTES", "1000")
    with pytest.raises(ImageLoadError, match=r"a string of 4000 characters .* more than 1000 bytes of base64"):
        load_image("A" * 4000)


ODD_IMAGES: list[tuple[str, Callable[[Path], str], tuple[int, int]]] = [
    ("an animated GIF", lambda d: _saved(d / "a.gif", PIL.Image.new("P", (8, 6), 1), save_all=True, append_images=[PIL.Image.new("P", (8, 6), 2)]), (8, 6)),
    ("a multi-page TIFF", lambda d: _saved(d / "m.tiff", PIL.Image.new("RGB", (8, 6)), save_all=True, append_images=[PIL.Image.new("RGB", (8, 6))]), (8, 6)),
    ("CMYK JPEG", lambda d: _saved(d / "c.jpg", PIL.Image.new("CMYK", (8, 6), (0, 50, 100, 0))), (8, 6)),
    ("I;16 PNG", lambda d: _saved(d / "i16.png", PIL.Image.new("I;16", (8, 6), 30000)), (8, 6)),
    ("LA PNG", lambda d: _saved(d / "la.png", PIL.Image.new("LA", (8, 6), (10, 20))), (8, 6)),
    ("P PNG with transparency", lambda d: _saved(d / "p.png", PIL.Image.new("P", (8, 6), 3), transparency=3), (8, 6)),
    ("1-bit PNG", lambda d: _saved(d / "b.png", PIL.Image.new("1", (8, 6), 1)), (8, 6)),
    ("1x5000 PNG", lambda d: _saved(d / "thin.png", PIL.Image.new("RGB", (1, 5000))), (1, 5000)),
]  # fmt: skip


@pytest.mark.parametrize(("make", "size"), [case[1:] for case in ODD_IMAGES], ids=[case[0] for case in ODD_IMAGES])
def test_odd_but_valid_images_load_as_rgb(tmp_path: Path, make: Callable[[Path], str], size: tuple[int, int]) -> None:
    image = load_image(make(tmp_path))
    assert image.mode == "RGB" and image.size == size


# ---- the switch for servers: no local reads ----


def test_local_reads_can_be_turned_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, processor: Idefics3Processor
) -> None:
    path = _saved(tmp_path / "cat.png", PIL.Image.new("RGB", (8, 6)))
    encoded = base64.b64encode(Path(path).read_bytes()).decode()
    off = ImageLoadLimits(allow_local=False)
    for source in (path, Path(path).as_uri()):
        with pytest.raises(ImageLoadError, match=r"MODULAR_MODELS_ALLOW_LOCAL_IMAGES=0"):
            load_image(source, limits=off)
    assert load_image(encoded, limits=off).size == (8, 6)
    monkeypatch.setenv("MODULAR_MODELS_ALLOW_LOCAL_IMAGES", "0")
    with pytest.raises(ImageLoadError, match="local paths are not read") as existing:
        load_image(path)
    with pytest.raises(ImageLoadError, match="local paths are not read") as missing:
        load_image(str(tmp_path / "absent.png"))
    assert str(existing.value).replace("cat.png", "absent.png") == str(missing.value)  # no existence oracle
    with pytest.raises(ImageLoadError, match="file:// URLs are not read"):
        processor(images=[Path(path).as_uri()], text="<image> what is it ?")
    with pytest.raises(ImageLoadError, match="local paths are not read"):
        processor.apply_chat_template([{"role": "user", "content": [{"type": "image", "path": path}]}], tokenize=True)
    with serve_hostile() as base_url:
        assert load_image(f"{base_url}/png").size == (8, 6)  # URLs still load
    assert processor(images=[encoded], text="<image>")["pixel_values"].shape[0] == 1  # and base64


@pytest.mark.parametrize("name", ["processor_config.json", "preprocessor_config.json", "chat_template.json"])
def test_processor_files_symlinked_outside_the_folder_are_refused(tmp_path: Path, name: str) -> None:
    folder = write_processor(tmp_path / "processor")
    config = json.loads((folder / "processor_config.json").read_text())
    content = {"chat_template.json": {"chat_template": SECRET}, "processor_config.json": config}
    (tmp_path / "outside.json").write_text(json.dumps(content.get(name, config["image_processor"])))
    (folder / "chat_template.jinja").unlink()  # else chat_template.json is not read
    (folder / name).unlink(missing_ok=True)
    (folder / name).symlink_to(tmp_path / "outside.json")
    with pytest.raises(OSError, match=f"'{name}' resolves outside the folder") as caught:
        Idefics3Processor.from_pretrained(folder)
    assert SECRET not in str(caught.value)


# ---- processor configs with absurd values, in a capped child: (id, file, field edits, words) ----

CONFIG_CASES: list[tuple[str, str, dict[str, Any], str]] = [
    ("image_seq_len 10**9", "processor_config.json", {"image_seq_len": 10**9}, "processor_config.json: image_seq_len=1000000000 must be between 1 and 4096"),
    ("image_seq_len -1", "processor_config.json", {"image_seq_len": -1}, "image_seq_len=-1 must be between"),
    ("image_seq_len 0", "processor_config.json", {"image_seq_len": 0}, "image_seq_len=0 must be between"),
    ("image_seq_len a string", "processor_config.json", {"image_seq_len": "64"}, "image_seq_len must be an integer, got str"),
    ("image_seq_len a float", "processor_config.json", {"image_seq_len": 1.5}, "image_seq_len must be an integer, got float"),
    ("image_seq_len true", "processor_config.json", {"image_seq_len": True}, "image_seq_len must be an integer, got bool"),
    ("size.longest_edge 10**9", "image_processor", {"size": {"longest_edge": 10**9}}, "processor_config.json: image_processor: size.longest_edge=1000000000 must be an integer between 1 and 8192"),
    ("size height/width 10**5", "image_processor", {"size": {"height": 10**5, "width": 10**5}}, "size.height=100000 must be"),
    ("size.longest_edge 0", "image_processor", {"size": {"longest_edge": 0}}, "size.longest_edge=0 must be"),
    ("size.longest_edge negative", "image_processor", {"size": {"longest_edge": -5}}, "size.longest_edge=-5 must be"),
    ("size.longest_edge a string", "image_processor", {"size": {"longest_edge": "big"}}, "size.longest_edge='big' must be"),
    ("size a number", "image_processor", {"size": 5}, "size must be a dict of edges"),
    ("max_image_size 0", "image_processor", {"max_image_size": {"longest_edge": 0}}, "max_image_size.longest_edge=0 must be"),
    ("max_image_size 10**9", "image_processor", {"max_image_size": {"longest_edge": 10**9}}, "max_image_size.longest_edge=1000000000"),
    ("max_image_size 1 under size 1456", "image_processor", {"max_image_size": {"longest_edge": 1}, "size": {"longest_edge": 1456}}, "size up to 1456 with max_image_size.longest_edge=1 would split an image into more than 64x64 tiles"),
    ("max_image_size without longest_edge", "image_processor", {"max_image_size": {}}, "max_image_size must hold 'longest_edge'"),
    ("resample 99", "image_processor", {"resample": 99}, "resample must be one of PIL's filters"),
    ("resample a name", "image_processor", {"resample": "bilinear"}, "resample must be one of PIL's filters"),
    ("rescale_factor a string", "image_processor", {"rescale_factor": "x"}, "rescale_factor must be a positive number"),
    ("rescale_factor 0", "image_processor", {"rescale_factor": 0}, "rescale_factor must be a positive number"),
    ("image_mean of 7 values", "image_processor", {"image_mean": [0.5] * 7}, "image_mean must be a number or a list of 1 to 4 numbers"),
    ("image_std zero", "image_processor", {"image_std": [0, 0, 0]}, "image_std must not be zero"),
    ("do_resize a string", "image_processor", {"do_resize": "no"}, "do_resize must be true or false"),
    ("image_processor a number", "processor_config.json", {"image_processor": 5}, "image_processor must be a JSON object, got int"),
    ("preprocessor_config.json size 10**9", "preprocessor_config.json", {"size": {"longest_edge": 10**9}}, "preprocessor_config.json: size.longest_edge=1000000000"),
]  # fmt: skip
CALL_OPTION_CASES: dict[str, tuple[dict[str, Any], str]] = {
    "call image_seq_len 10**9": ({"image_seq_len": 10**9}, "Idefics3Processor: image_seq_len=1000000000 must be between"),
    "call size 10**5": ({"size": {"height": 10**5, "width": 10**5}}, "Idefics3ImageProcessor options: size.height=100000"),
    "call max_image_size 1": ({"max_image_size": {"longest_edge": 1}, "size": {"longest_edge": 1456}}, "more than 64x64 tiles"),
    "call image_seq_len 4096 with 64x64 tiles": ({"image_seq_len": 4096, "size": {"longest_edge": 2048}}, "an image would expand to 11276288 tokens, more than 262144"),
}  # fmt: skip
CONFIG_SCRIPT = """
import json, shutil
from pathlib import Path
import numpy as np
from generated.idefics3 import Idefics3Processor
from tests.adversarial.test_images_and_processors import write_processor
base = write_processor(Path(TMP) / "base")
image = np.zeros((3, 20, 30), dtype=np.uint8)
results = {}
for name, filename, edits in CASES:
    folder = Path(TMP) / name.replace("/", "-").replace(" ", "-")
    shutil.copytree(base, folder)
    config = json.loads((folder / "processor_config.json").read_text())
    if filename == "preprocessor_config.json":
        (folder / filename).write_text(json.dumps({**config["image_processor"], **edits}))
    elif filename == "image_processor":
        config["image_processor"].update(edits)
    else:
        config.update(edits)
    (folder / "processor_config.json").write_text(json.dumps(config))
    try:
        Idefics3Processor.from_pretrained(folder)(images=[image], text=["<image> what"])
        results[name] = ["loaded", ""]
    except Exception as error:
        results[name] = [type(error).__name__, str(error)]
processor = Idefics3Processor.from_pretrained(base)
for name, options in CALLS.items():
    try:
        processor(images=[image], text=["<image> what"], **{"max_image_size": {"longest_edge": 32}, **options})
        results[name] = ["processed", ""]
    except Exception as error:
        results[name] = [type(error).__name__, str(error)]
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def config_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """Every CONFIG_CASES and CALL_OPTION_CASES case run once, in one child capped at 2 GiB and 120 s."""
    cases = [[name, filename, edits] for name, filename, edits, _ in CONFIG_CASES]
    calls = {name: options for name, (options, _) in CALL_OPTION_CASES.items()}
    script = (
        f"TMP = {str(tmp_path_factory.mktemp('configs'))!r}\nCASES = {cases!r}\nCALLS = {calls!r}\n{CONFIG_SCRIPT}"
    )
    result = run_capped(script, memory_mib=2048, timeout_s=120)
    assert result.returncode == 0, result.output[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("words", [case[3] for case in CONFIG_CASES], ids=[case[0] for case in CONFIG_CASES])
def test_absurd_configs_are_refused_by_file_and_field(
    config_results: dict[str, list[str]], request: pytest.FixtureRequest, words: str
) -> None:
    kind, message = config_results[request.node.callspec.id]
    assert kind == "ProcessorError" and words in message and len(message) < 400, (kind, message)


@pytest.mark.parametrize("name", list(CALL_OPTION_CASES))
def test_absurd_call_options_are_refused(config_results: dict[str, list[str]], name: str) -> None:
    kind, message = config_results[name]
    assert kind == "ProcessorError" and CALL_OPTION_CASES[name][1] in message, (kind, message)


# ---- processor calls: (id, call, error, words) ----

IMAGE = np.zeros((3, 20, 30), dtype=np.uint8)
CALL_CASES: list[tuple[str, Callable[[Any], Any], type[Exception], str]] = [
    ("more images than <image> tokens", lambda p: p(images=[IMAGE, IMAGE], text=["<image> what"]), ProcessorError, "Found 1 <image> tokens and 2 images"),
    ("images but no <image> token", lambda p: p(images=[IMAGE], text=["what"]), ProcessorError, "Found 0 <image> tokens and 1 images"),
    ("<image> tokens but no images", lambda p: p(text=["<image> what"]), ProcessorError, "no images were passed"),
    ("one list per prompt, counts differ", lambda p: p(images=[[IMAGE], [IMAGE]], text=["<image> what"]), ProcessorError, "images [1, 1] differ"),
    ("neither text nor images", lambda p: p(), ProcessorError, "either `text` or `images`"),
    ("text an empty list", lambda p: p(text=[]), ProcessorError, "text must be a string or a non-empty list of strings, got an empty list"),
    ("text a number", lambda p: p(text=5), ProcessorError, "got type int"),
    ("text holding a number", lambda p: p(text=["a", 5]), ProcessorError, "text[1] has type int"),
    ("images an empty list", lambda p: p(images=[]), ProcessorError, "got an empty list"),
    ("images one empty sample", lambda p: p(images=[[]]), ProcessorError, "images holds no image"),
    ("images three lists deep", lambda p: p(images=[[[IMAGE]]], text=["<image>"]), ImageTypeError, "got list"),
    ("images a dict", lambda p: p(images={"url": "x"}, text=["<image>"]), ImageTypeError, "got dict"),
    ("images holding None", lambda p: p(images=[None], text=["<image>"]), ImageTypeError, "got NoneType"),
    ("an image string that names nothing", lambda p: p(images=["no such thing"], text=["<image>"]), ImageLoadError, "not base64-encoded data"),
    ("a 1-D array", lambda p: p(images=[np.zeros(10, np.uint8)], text=["<image>"]), ProcessorError, "images[0][0]: an image has 2 or 3 dimensions, got shape (10,)"),
    ("a 5-D array", lambda p: p(images=[np.zeros((1, 1, 3, 4, 4), np.uint8)], text=["<image>"]), ProcessorError, "got shape (1, 1, 3, 4, 4)"),
    ("a 0x0 array", lambda p: p(images=[np.zeros((3, 0, 0), np.uint8)], text=["<image>"]), ProcessorError, "images[0][0]: the image has no pixels (0x0)"),
    ("a 0x0 PIL image", lambda p: p(images=[PIL.Image.new("RGB", (0, 0))], text=["<image>"]), ProcessorError, "the image has no pixels (0x0)"),
    ("a 0x5 PIL image, second sample", lambda p: p(images=[[IMAGE], [PIL.Image.new("RGB", (0, 5))]], text=["<image>", "<image>"]), ProcessorError, "images[1][0]: the image has no pixels (0x5)"),
    ("a bool array", lambda p: p(images=[np.zeros((3, 8, 8), bool)], text=["<image>"]), ProcessorError, "pixels must be integers or floats, got dtype bool"),
    ("a complex array", lambda p: p(images=[np.zeros((3, 8, 8), complex)], text=["<image>"]), ProcessorError, "got dtype complex128"),
    ("an object array", lambda p: p(images=[np.zeros((3, 8, 8), object)], text=["<image>"]), ProcessorError, "got dtype object"),
    ("a string array", lambda p: p(images=[np.full((3, 8, 8), "a")], text=["<image>"]), ProcessorError, "got dtype <U1"),
    ("NaN pixels", lambda p: p(images=[np.full((3, 8, 8), np.nan, np.float32)], text=["<image>"]), ProcessorError, "holds NaN or infinite values"),
    ("infinite pixels, no resizing", lambda p: p(images=[np.full((3, 8, 8), np.inf)], text=["<image>"], do_resize=False, do_image_splitting=False), ProcessorError, "holds NaN or infinite values"),
    ("a 2-channel array", lambda p: p(images=[np.zeros((2, 8, 8), np.uint8)], text=["<image>"]), ProcessorError, "cannot tell the channel axis"),
    ("a meta tensor", lambda p: p(images=[torch.zeros(3, 8, 8, device="meta")], text=["<image>"]), ProcessorError, "a meta torch.strided tensor"),
    ("values over 255", lambda p: p(images=[np.full((3, 8, 8), 60000, np.uint16)], text=["<image>"]), ProcessorError, "values outside [0, 255]"),
    ("an unknown option", lambda p: p(images=[IMAGE], text=["<image>"], sizee=3), ProcessorError, "got unknown options ['sizee']"),
    ("a message that is not a dict", lambda p: p.apply_chat_template([5]), ValueError, "conversation[0] has type int"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("call", "error", "words"), [case[1:] for case in CALL_CASES], ids=[case[0] for case in CALL_CASES]
)
def test_bad_calls_are_refused_saying_where(
    processor: Idefics3Processor, call: Callable[[Any], Any], error: type[Exception], words: str
) -> None:
    with pytest.raises(error) as caught:
        call(processor)
    assert words in str(caught.value) and len(str(caught.value)) < 700, str(caught.value)


GOOD_ODD_INPUTS: list[tuple[str, Any]] = [
    ("a tensor that requires grad", torch.zeros(3, 8, 8, requires_grad=True)),
    ("a bfloat16 tensor", torch.zeros(3, 8, 8, dtype=torch.bfloat16)),
    ("a 1x5000 image", PIL.Image.new("RGB", (1, 5000))),
    ("a 5000x1 image", PIL.Image.new("RGB", (5000, 1))),
    ("an LA image", PIL.Image.new("LA", (9, 7))),
    ("an I;16 image", PIL.Image.new("I;16", (9, 7))),
]


@pytest.mark.parametrize("model", ["idefics2", "idefics3"])
@pytest.mark.parametrize("image", [case[1] for case in GOOD_ODD_INPUTS], ids=[case[0] for case in GOOD_ODD_INPUTS])
def test_odd_but_valid_inputs_are_processed(tmp_path: Path, model: str, image: Any) -> None:
    cls = Idefics2Processor if model == "idefics2" else Idefics3Processor
    out = cls.from_pretrained(write_processor(tmp_path, model))(
        images=[image], text=["<image> what"], return_tensors="pt"
    )
    assert out["pixel_values"].ndim == 5 and torch.isfinite(out["pixel_values"]).all()


def test_error_types_keep_what_callers_caught() -> None:
    assert issubclass(ProcessorError, ValueError)
    assert issubclass(ImageLoadError, OSError) and issubclass(ImageLoadError, ValueError)
    assert issubclass(ImageTypeError, TypeError) and issubclass(ImageTypeError, ImageLoadError)
