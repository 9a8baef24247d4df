"""`resolve_file`: local directories are read as they are; anything else goes to huggingface_hub,
whose errors become `FileNotFoundError` / `OSError` naming the repo and the file. Never touches
the network: Hub calls are faked, or made with `local_files_only=True`.
Run: python -m pytest tests/runtime/test_hub.py -q
"""

from __future__ import annotations

from pathlib import Path

import huggingface_hub
import pytest
from huggingface_hub import errors

from runtime.hub import resolve_file


def fake_hub(monkeypatch: pytest.MonkeyPatch, error: Exception | None = None) -> list[dict[str, object]]:
    """Replace hf_hub_download; return the list its calls are recorded in."""
    calls: list[dict[str, object]] = []

    def download(repo_id: str, filename: str, **kwargs: object) -> str:
        calls.append({"repo_id": repo_id, "filename": filename, **kwargs})
        if error is not None:
            raise error
        return f"/cache/{repo_id}/{filename}"

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", download)
    return calls


def test_local_directory_is_used_as_is(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    assert resolve_file(tmp_path, "config.json") == tmp_path / "config.json"
    assert resolve_file(str(tmp_path), "config.json") == tmp_path / "config.json"


def test_missing_local_file_names_directory_and_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=rf"{tmp_path} has no file 'model.safetensors'"):
        resolve_file(tmp_path, "model.safetensors")
    assert resolve_file(tmp_path, "model.safetensors", missing_ok=True) is None


def test_a_file_is_not_a_model_directory(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match="is a file"):
        resolve_file(tmp_path / "config.json", "config.json")


def test_local_directory_never_reaches_the_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = fake_hub(monkeypatch)
    assert resolve_file(tmp_path, "config.json", missing_ok=True) is None
    assert calls == []


def test_repo_id_is_downloaded_with_the_hub_options(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = fake_hub(monkeypatch)
    path = resolve_file("org/model", "config.json", revision="v2", cache_dir="/c", local_files_only=True, token="t")
    assert path == Path("/cache/org/model/config.json")
    assert calls == [
        {
            "repo_id": "org/model",
            "filename": "config.json",
            "revision": "v2",
            "cache_dir": "/c",
            "local_files_only": True,
            "token": "t",
        }
    ]


def test_file_missing_from_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_hub(monkeypatch, errors.EntryNotFoundError("404"))
    with pytest.raises(
        FileNotFoundError, match="no file 'model.safetensors' in Hub repo 'org/model' at revision 'v2'"
    ):
        resolve_file("org/model", "model.safetensors", revision="v2")
    assert resolve_file("org/model", "model.safetensors", missing_ok=True) is None


def test_unreachable_hub_is_an_error_even_with_missing_ok(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_hub(monkeypatch, errors.LocalEntryNotFoundError("offline"))
    with pytest.raises(
        OSError, match="cannot get 'config.json' in Hub repo 'org/model': the Hub could not be reached"
    ):
        resolve_file("org/model", "config.json", missing_ok=True)


def test_not_cached_with_local_files_only(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_hub(monkeypatch, errors.LocalEntryNotFoundError("not cached"))
    assert resolve_file("org/model", "model.safetensors", local_files_only=True, missing_ok=True) is None
    with pytest.raises(OSError, match="it is not in the local cache"):
        resolve_file("org/model", "config.json", local_files_only=True)


def test_other_hub_errors_become_oserror(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_hub(monkeypatch, ConnectionError("connection refused"))
    with pytest.raises(OSError, match="cannot get 'config.json' in Hub repo 'org/model': connection refused"):
        resolve_file("org/model", "config.json")


def test_path_that_is_neither_directory_nor_repo_id(tmp_path: Path) -> None:
    # the real hf_hub_download: it rejects the id before any network access
    with pytest.raises(FileNotFoundError, match="neither a local directory nor a valid Hub repo id"):
        resolve_file(tmp_path / "no" / "such" / "dir", "config.json", local_files_only=True)
