"""Hostile checkpoints get one clear refusal, read nothing outside the folder and echo nothing.

Proves, on a tiny Llama checkpoint written here (no network, no transformers):
- `ESCAPING_NAMES`: a shard name in model.safetensors.index.json that is not a plain relative path
  ('../x', an absolute path, 'sub/../../x', NUL, '', a number, a list, a drive or UNC path) is a
  `CheckpointError` naming the index and the entry, and no file outside the folder is opened;
- `SYMLINKS`: weights, shards or config.json that are symlinks (or sit under a symlinked folder)
  resolving outside the folder are refused, broken symlinks are `FileNotFoundError`; links inside
  the folder, and a Hub cache snapshot (snapshots/<rev>/f -> ../../blobs/<hash>), still load;
- `NO_ECHO`: errors about a file's content never quote it (no header-length integer made of the
  file's first 8 bytes, no dtype, metadata or JSON text);
- `STRICT_FILES` and `test_reader_agrees_with_the_safetensors_library`: the reader refuses exactly
  what `safetensors.safe_open` refuses (overlapping, straddling, gapped or trailing bytes, depth,
  NaN, lone surrogates, duplicate fields, ...), on a table and on hypothesis-generated files, and
  reads the same tensors when both accept;
- `KINDS`: a tensor whose kind of dtype differs from the model's (I32 or BOOL for a float weight,
  a float for an integer buffer) is mismatched, by name; F16 for F32 still converts;
- `BROKEN_LAYOUT`: bad indexes, absent or empty shards, directories, FIFOs, duplicate tensors give
  `CheckpointError` or `FileNotFoundError`/`OSError` naming the file;
- error messages listing tensors stay short (first 20, then "... and N more").
Run: python -m pytest tests/adversarial/test_checkpoints.py -q
"""

from __future__ import annotations

import json
import os
import shutil
import struct
from collections.abc import Callable
from pathlib import Path

import huggingface_hub
import pytest
import safetensors
import torch
from hypothesis import HealthCheck, given, settings
from safetensors.torch import load_file, save_file
from torch import nn

from generated.llama import LlamaConfig, LlamaForCausalLM
from runtime import modeling_utils
from runtime.configuration_utils import PretrainedConfig
from runtime.hub import UnsafePathError
from runtime.modeling_utils import CheckpointError, PreTrainedModel
from runtime.safetensors_io import SafetensorsFile
from tests.adversarial.safetensors_strategies import safetensors_files
from tests.models.helpers import tiny_llama_kwargs

INDEX = "model.safetensors.index.json"
SECRET = "SECRET-7f3a9c"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("pristine") / "ckpt"
    LlamaForCausalLM(LlamaConfig(**tiny_llama_kwargs())).save_pretrained(path)
    return path


@pytest.fixture
def ckpt(pristine: Path, tmp_path: Path) -> Path:
    """A fresh copy of the tiny checkpoint, with a copy of its weights outside the folder."""
    shutil.copytree(pristine, tmp_path / "ckpt")
    (tmp_path / "other").mkdir()
    shutil.copy(pristine / "model.safetensors", tmp_path / "other" / "model.safetensors")
    (tmp_path / "other" / "config.json").write_text((pristine / "config.json").read_text())
    return tmp_path / "ckpt"


def shard(ckpt: Path, mapping: Callable[[str], object] = lambda key: "model-1.safetensors") -> dict:
    """Turn the single file into one shard plus an index; `mapping` names the shard of each key."""
    (ckpt / "model.safetensors").rename(ckpt / "model-1.safetensors")
    keys = sorted(load_file(ckpt / "model-1.safetensors"))
    weight_map = {key: mapping(key) for key in keys}
    (ckpt / INDEX).write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    return weight_map


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every safetensors file the loader opens."""
    paths: list[Path] = []

    class Recording(SafetensorsFile):
        def __init__(self, path: str | os.PathLike) -> None:
            paths.append(Path(path).resolve())
            super().__init__(path)

    monkeypatch.setattr(modeling_utils, "SafetensorsFile", Recording)
    return paths


# -- containment ----------------------------------------------------------------------------------

ESCAPING_NAMES = {
    "dotdot": "../other/model.safetensors",
    "absolute": "{outside}",
    "inner-dotdot": "sub/../../other/model.safetensors",
    "backslash-dotdot": "..\\other\\model.safetensors",
    "nul": "model-1.safetensors\x00.txt",
    "empty": "",
    "drive": "C:\\model.safetensors",
    "unc": "\\\\host\\share\\model.safetensors",
    "number": 5,
    "null": None,
    "list": ["model-1.safetensors"],
    "object": {"file": "model-1.safetensors"},
}


@pytest.mark.parametrize("name", list(ESCAPING_NAMES.values()), ids=list(ESCAPING_NAMES))
def test_shard_names_must_stay_inside_the_folder(ckpt: Path, opened: list[Path], name: object) -> None:
    outside = str(ckpt.parent / "other" / "model.safetensors")
    bad = outside if name == "{outside}" else name
    shard(ckpt, lambda key: bad if key == "model.norm.weight" else "model-1.safetensors")
    with pytest.raises(CheckpointError, match=r"model\.safetensors\.index\.json: weight_map\['model\.norm\.weight'\]"):
        LlamaForCausalLM.from_pretrained(ckpt)
    assert all(path.is_relative_to(ckpt.resolve()) for path in opened)


def test_a_shard_in_a_subfolder_loads(ckpt: Path) -> None:
    shard(ckpt, lambda key: "weights/part.safetensors")
    (ckpt / "weights").mkdir()
    (ckpt / "model-1.safetensors").rename(ckpt / "weights" / "part.safetensors")
    LlamaForCausalLM.from_pretrained(ckpt)


def _link(link: Path, target: Path) -> None:
    link.unlink(missing_ok=True)
    link.symlink_to(target)


def _outside_shard(ckpt: Path) -> None:
    shard(ckpt)
    _link(ckpt / "model-1.safetensors", ckpt.parent / "other" / "model.safetensors")


def _outside_folder(ckpt: Path) -> None:
    shard(ckpt, lambda key: "sub/model.safetensors")
    (ckpt / "sub").symlink_to(ckpt.parent / "other")


SYMLINKS: dict[str, tuple[Callable[[Path], None], type[Exception], str]] = {
    "weights-to-outside": (
        lambda c: _link(c / "model.safetensors", c.parent / "other" / "model.safetensors"),
        CheckpointError,
        "'model.safetensors' resolves outside the folder",
    ),
    "shard-to-outside": (_outside_shard, CheckpointError, "'model-1.safetensors' resolves outside"),
    "shard-under-linked-folder": (_outside_folder, CheckpointError, "'sub/model.safetensors' resolves outside"),
    "config-to-outside": (
        lambda c: _link(c / "config.json", c.parent / "other" / "config.json"),
        UnsafePathError,
        "'config.json' resolves outside",
    ),
    "weights-dangling": (
        lambda c: _link(c / "model.safetensors", c / "gone.safetensors"),
        FileNotFoundError,
        "'model.safetensors' is a broken symlink",
    ),
    "config-dangling": (
        lambda c: _link(c / "config.json", c / "gone.json"),
        FileNotFoundError,
        "'config.json' is a broken symlink",
    ),
    "config-to-proc": (
        lambda c: _link(c / "config.json", Path("/proc/self/environ")),
        UnsafePathError,
        "'config.json' resolves outside",
    ),
}


@pytest.mark.parametrize("case", list(SYMLINKS.values()), ids=list(SYMLINKS))
def test_symlinks_leaving_the_folder_are_refused(ckpt: Path, opened: list[Path], case: tuple) -> None:
    arrange, error, needle = case
    arrange(ckpt)
    with pytest.raises(error, match=needle) as caught:
        LlamaForCausalLM.from_pretrained(ckpt)
    assert str(ckpt) in str(caught.value)
    assert all(path.is_relative_to(ckpt.resolve()) for path in opened)


def test_symlinks_inside_the_folder_load(ckpt: Path) -> None:
    (ckpt / "model.safetensors").rename(ckpt / "real.safetensors")
    (ckpt / "model.safetensors").symlink_to("real.safetensors")
    LlamaForCausalLM.from_pretrained(ckpt)
    (ckpt.parent / "ckpt-link").symlink_to(ckpt)  # the folder itself reached through a link
    LlamaForCausalLM.from_pretrained(ckpt.parent / "ckpt-link")


def hub_snapshot(ckpt: Path, cache: Path) -> Path:
    """huggingface_hub's cache layout: snapshots/<rev>/<file> -> ../../blobs/<hash>."""
    repo = cache / "models--org--toy"
    (repo / "blobs").mkdir(parents=True)
    snapshot = repo / "snapshots" / "0123abcd"
    snapshot.mkdir(parents=True)
    for index, file in enumerate(sorted(ckpt.iterdir())):
        shutil.copy(file, repo / "blobs" / f"blob{index}")
        (snapshot / file.name).symlink_to(Path("..", "..", "blobs", f"blob{index}"))
    return snapshot


def test_a_hub_snapshot_loads_through_its_blob_links(
    ckpt: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    snapshot = hub_snapshot(ckpt, tmp_path / "cache")
    LlamaForCausalLM.from_pretrained(snapshot)  # the snapshot folder given as a local path

    def download(repo_id: str, filename: str, **kwargs: object) -> str:
        if not (snapshot / filename).exists():
            raise huggingface_hub.errors.EntryNotFoundError(filename)
        return str(snapshot / filename)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", download)
    LlamaForCausalLM.from_pretrained("org/toy")
    _link(snapshot / "model.safetensors", ckpt.parent / "other" / "model.safetensors")
    with pytest.raises(CheckpointError, match="resolves outside the folder"):
        LlamaForCausalLM.from_pretrained("org/toy")


# -- no echo of file content ----------------------------------------------------------------------


def _raw(header: bytes, data: bytes = b"") -> bytes:
    return struct.pack("<Q", len(header)) + header + data


NO_ECHO: dict[str, bytes] = {
    "text-file": f"{SECRET} this is not a safetensors file at all".encode(),
    "text-with-small-length": b"\x20\x00\x00\x00\x00\x00\x00\x00" + SECRET.encode() * 4,
    "dtype": _raw(json.dumps({"w": {"dtype": SECRET, "shape": [1], "data_offsets": [0, 4]}}).encode(), bytes(4)),
    "metadata-value": _raw(json.dumps({"__metadata__": {"format": [SECRET]}}).encode()),
    "metadata-type": _raw(json.dumps({"__metadata__": SECRET}).encode()),
    "shape": _raw(json.dumps({"w": {"dtype": "F32", "shape": [SECRET], "data_offsets": [0, 4]}}).encode()),
    "not-json": _raw(f'{{"w": {SECRET}}}'.encode()),
    "not-utf8": _raw(b'{"w": "\xff' + SECRET.encode() + b'"}'),
    "nan": _raw(b'{"w": NaN, "' + SECRET.encode() + b'": 1}'),
}


@pytest.mark.parametrize("content", list(NO_ECHO.values()), ids=list(NO_ECHO))
def test_errors_never_quote_the_file(ckpt: Path, content: bytes) -> None:
    (ckpt / "model.safetensors").write_bytes(content)
    with pytest.raises(CheckpointError, match=r"model\.safetensors: ") as caught:
        LlamaForCausalLM.from_pretrained(ckpt)
    message = str(caught.value)
    assert SECRET not in message and "SECRET" not in message
    # the "header length" made of content, looked for past the path (pytest-201 holds a 20)
    assert str(struct.unpack("<Q", content[:8])[0]) not in message.replace(str(ckpt), "")
    assert len(message) < 400


def test_index_and_config_errors_never_quote_the_file(ckpt: Path) -> None:
    shard(ckpt)
    (ckpt / INDEX).write_text(f'{{"weight_map": {SECRET}}}')
    with pytest.raises(CheckpointError, match="not valid JSON") as caught:
        LlamaForCausalLM.from_pretrained(ckpt)
    assert "SECRET" not in str(caught.value)
    (ckpt / "config.json").write_bytes(b'{"model_type": "llama", "x": "\xff' + SECRET.encode() + b'"}')
    with pytest.raises(ValueError, match="not UTF-8") as caught:
        LlamaForCausalLM.from_pretrained(ckpt)
    assert "SECRET" not in str(caught.value)


# -- as strict as the safetensors library ---------------------------------------------------------


def _entry(dtype: str, shape: list[int], begin: int, end: int) -> dict:
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


STRICT_FILES: dict[str, bytes] = {
    "overlap": _raw(json.dumps({"a": _entry("F32", [1], 0, 4), "b": _entry("F32", [1], 0, 4)}).encode(), bytes(4)),
    "straddle": _raw(json.dumps({"a": _entry("F32", [2], 0, 8), "b": _entry("F32", [2], 4, 12)}).encode(), bytes(12)),
    "gap": _raw(json.dumps({"a": _entry("F32", [1], 0, 4), "b": _entry("F32", [1], 8, 12)}).encode(), bytes(12)),
    "leading-gap": _raw(json.dumps({"a": _entry("F32", [1], 4, 8)}).encode(), bytes(8)),
    "trailing-bytes": _raw(json.dumps({"a": _entry("F32", [1], 0, 4)}).encode(), bytes(5)),
    "reversed": _raw(json.dumps({"a": _entry("F32", [0], 4, 0)}).encode(), bytes(4)),
    "shape-overflow": _raw(json.dumps({"a": _entry("F32", [2**63 - 1, 2**63 - 1, 0], 0, 0)}).encode()),
    "dim-beyond-torch": _raw(json.dumps({"a": _entry("F32", [0, 2**63], 0, 0)}).encode()),
    "offset-beyond-u64": _raw(json.dumps({"a": _entry("F32", [0], 2**64, 2**64)}).encode()),
    "negative-zero": _raw(b'{"a": {"dtype": "F32", "shape": [-0], "data_offsets": [0, 0]}}'),
    "bool-dim": _raw(b'{"a": {"dtype": "F32", "shape": [true], "data_offsets": [0, 4]}}', bytes(4)),
    "float-offset": _raw(b'{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4.0]}}', bytes(4)),
    "duplicate-field": _raw(
        b'{"a": {"dtype": "F32", "dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}', bytes(4)
    ),
    "duplicate-metadata": _raw(b'{"__metadata__": {}, "__metadata__": {}}'),
    "metadata-list": _raw(b'{"__metadata__": []}'),
    "metadata-false": _raw(b'{"__metadata__": false}'),
    "lone-surrogate": _raw(b'{"\\ud800": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}', bytes(4)),
    "nan-in-extra-field": _raw(b'{"a": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0], "x": NaN}}'),
    "too-deep": _raw(
        b'{"a": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0], "x": ' + b"[" * 126 + b"]" * 126 + b"}}"
    ),
    "header-over-100MB": struct.pack("<Q", 100_000_001) + b"{}",
    "header-length-2**63": struct.pack("<Q", 2**63) + b"{}",
    "header-past-the-end": struct.pack("<Q", 10) + b"{}",
    "empty-file": b"",
    "empty-header": _raw(b""),
    "odd-f4": _raw(json.dumps({"a": _entry("F4", [3], 0, 1)}).encode(), bytes(1)),
    "f6": _raw(json.dumps({"a": _entry("F6_E2M3", [4], 0, 3)}).encode(), bytes(3)),
}


def library_accepts(path: Path) -> bool:
    try:
        with safetensors.safe_open(path, "pt") as f:
            for key in f.keys():  # noqa: SIM118 - safe_open has no __iter__
                f.get_tensor(key)
    except Exception:  # noqa: BLE001 - the library raises SafetensorError, TypeError, ...
        return False
    return True


@pytest.mark.parametrize("content", list(STRICT_FILES.values()), ids=list(STRICT_FILES))
def test_refuses_what_the_library_refuses(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "x.safetensors"
    path.write_bytes(content)
    assert not library_accepts(path)
    with pytest.raises(CheckpointError, match=r"x\.safetensors: "):
        SafetensorsFile(path)


def _same_bits(a: torch.Tensor, b: torch.Tensor) -> bool:
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    return a.numel() == 0 or torch.equal(a.reshape(-1).view(torch.uint8), b.reshape(-1).view(torch.uint8))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=safetensors_files())
def test_reader_agrees_with_the_safetensors_library(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "x.safetensors"
    path.write_bytes(content)
    try:
        with safetensors.safe_open(path, "pt") as f:
            theirs = {key: f.get_tensor(key) for key in f.keys()}  # noqa: SIM118
            their_metadata = f.metadata() or {}
    except Exception:  # noqa: BLE001
        theirs = None
    try:
        with SafetensorsFile(path) as f:
            ours = {key: f.read(key) for key in f.names()}
            our_metadata = f.metadata
    except CheckpointError:  # any other exception fails the test: it would be a crash
        ours = None
    assert (theirs is None) == (ours is None), f"library accepts: {theirs is not None}; ours: {ours is not None}"
    if theirs is not None and ours is not None:
        assert our_metadata == their_metadata and set(ours) == set(theirs)
        assert all(_same_bits(ours[key], theirs[key]) for key in theirs)


# -- dtype kinds ----------------------------------------------------------------------------------


def _retype(dtype: torch.dtype) -> Callable[[dict[str, torch.Tensor]], None]:
    def edit(tensors: dict[str, torch.Tensor]) -> None:
        weight = tensors["model.norm.weight"]
        tensors["model.norm.weight"] = weight > 0 if dtype == torch.bool else (weight * 100).to(dtype)

    return edit


KINDS = {
    "int32": torch.int32,
    "bool": torch.bool,
    "uint8": torch.uint8,
    "int64": torch.int64,
    "complex64": torch.complex64,
}


@pytest.mark.parametrize("dtype", list(KINDS.values()), ids=list(KINDS))
def test_a_tensor_of_another_kind_is_mismatched(ckpt: Path, dtype: torch.dtype) -> None:
    tensors = load_file(ckpt / "model.safetensors")
    _retype(dtype)(tensors)
    save_file(tensors, ckpt / "model.safetensors")
    with pytest.raises(CheckpointError, match=r"mismatched tensors \(1\): model\.norm\.weight: checkpoint dtype"):
        LlamaForCausalLM.from_pretrained(ckpt)


def test_float16_still_converts_to_the_model_dtype(ckpt: Path) -> None:
    tensors = {key: value.half() for key, value in load_file(ckpt / "model.safetensors").items()}
    save_file(tensors, ckpt / "model.safetensors")
    assert LlamaForCausalLM.from_pretrained(ckpt).dtype == torch.float32


class CounterConfig(PretrainedConfig):
    model_type = "counter"
    size: int = 4


class CounterModel(PreTrainedModel):
    """A float weight and a persistent integer buffer."""

    config_class = CounterConfig

    def __init__(self, config: CounterConfig) -> None:
        super().__init__(config)
        self.weight = nn.Parameter(torch.ones(config.size))
        self.register_buffer("steps", torch.zeros(config.size, dtype=torch.int64))


def test_a_float_for_an_integer_buffer_is_mismatched(tmp_path: Path) -> None:
    model = CounterModel(CounterConfig())
    model.save_pretrained(tmp_path)
    save_file({"weight": torch.ones(4), "steps": torch.full((4,), 0.5)}, tmp_path / "model.safetensors")
    with pytest.raises(CheckpointError, match=r"steps: checkpoint dtype float32 \(float\) vs model int64"):
        CounterModel.from_pretrained(tmp_path)
    save_file({"weight": torch.ones(4), "steps": torch.arange(4, dtype=torch.int32)}, tmp_path / "model.safetensors")
    assert CounterModel.from_pretrained(tmp_path).steps.tolist() == [0, 1, 2, 3]  # integer to integer is kept


# -- broken layouts -------------------------------------------------------------------------------


def _index(text: str | bytes) -> Callable[[Path], None]:
    def arrange(ckpt: Path) -> None:
        shard(ckpt)
        (ckpt / INDEX).write_bytes(text.encode() if isinstance(text, str) else text)

    return arrange


def _replace_with_dir(name: str, sharded: bool = False) -> Callable[[Path], None]:
    def arrange(ckpt: Path) -> None:
        if sharded:
            shard(ckpt)
        (ckpt / name).unlink()
        (ckpt / name).mkdir()

    return arrange


def _fifo(ckpt: Path) -> None:
    (ckpt / "model.safetensors").unlink()
    os.mkfifo(ckpt / "model.safetensors")


def _twice(ckpt: Path) -> None:
    shard(ckpt, lambda key: "model-2.safetensors" if key == "model.norm.weight" else "model-1.safetensors")
    save_file({"model.norm.weight": torch.ones(32)}, ckpt / "model-2.safetensors")


BROKEN_LAYOUT: dict[str, tuple[Callable[[Path], None], type[Exception], str]] = {
    "index-not-json": (_index("{weight_map"), CheckpointError, r"index\.json: not valid JSON"),
    "index-not-utf8": (_index(b'{"weight_map": "\xff"}'), CheckpointError, r"index\.json: not UTF-8"),
    "index-empty": (_index(""), CheckpointError, r"index\.json: not valid JSON"),
    "index-a-list": (_index("[1, 2]"), CheckpointError, r"index\.json: expected a JSON object, got list"),
    "index-without-weight-map": (_index('{"metadata": {}}'), CheckpointError, r"index\.json: not a safetensors index"),
    "weight-map-a-list": (_index('{"weight_map": ["x"]}'), CheckpointError, r"'weight_map' is missing or not"),
    "index-deeply-nested": (_index("[" * 100_000 + "]" * 100_000), CheckpointError, r"index\.json: not usable JSON"),
    "index-huge-number": (_index('{"weight_map": {}, "n": ' + "9" * 5000 + "}"), CheckpointError, r"index\.json"),
    "index-a-directory": (_replace_with_dir(INDEX, sharded=True), IsADirectoryError, r"index\.json' is a directory"),
    "shard-absent": (
        lambda c: shard(c, lambda key: "model-9.safetensors"),
        FileNotFoundError,
        r"index\.json lists shard 'model-9\.safetensors', which is not there",
    ),
    "shard-empty": (
        lambda c: (shard(c), (c / "model-1.safetensors").write_bytes(b"")),
        CheckpointError,
        "shorter than",
    ),
    "weights-empty": (lambda c: (c / "model.safetensors").write_bytes(b""), CheckpointError, "not a safetensors file"),
    "weights-a-directory": (_replace_with_dir("model.safetensors"), IsADirectoryError, "is a directory"),
    "weights-a-fifo": (_fifo, CheckpointError, "'model.safetensors' is not a regular file"),
    "tensor-in-two-shards": (_twice, CheckpointError, r"gives 'model\.norm\.weight' again"),
}


@pytest.mark.parametrize("case", list(BROKEN_LAYOUT.values()), ids=list(BROKEN_LAYOUT))
def test_broken_layouts_name_the_file(ckpt: Path, case: tuple) -> None:
    arrange, error, needle = case
    arrange(ckpt)
    with pytest.raises(error, match=needle) as caught:
        LlamaForCausalLM.from_pretrained(ckpt)
    assert str(ckpt) in str(caught.value) and len(str(caught.value)) < 500


def test_messages_listing_tensors_stay_short(ckpt: Path) -> None:
    tensors = load_file(ckpt / "model.safetensors")
    tensors.update({f"extra.{i:05d}": torch.zeros(0) for i in range(3000)})
    del tensors["model.norm.weight"]
    save_file(tensors, ckpt / "model.safetensors")
    with pytest.raises(CheckpointError) as caught:
        LlamaForCausalLM.from_pretrained(ckpt)
    message = str(caught.value)
    assert "unexpected tensors (3000): extra.00000, " in message and "... and 2980 more" in message
    assert "missing tensors (1): model.norm.weight" in message and len(message) < 2000
    with pytest.warns(UserWarning) as warned:
        loaded = LlamaForCausalLM.from_pretrained(ckpt, strict=False)
    assert len(str(warned[0].message)) < 2000 and len(loaded.loading_info["unexpected"]) == 3000
