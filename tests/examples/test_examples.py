"""The examples run end to end (offline, CPU, seconds): examples/idefics2_chat.py builds a tiny
Idefics2 checkpoint with its processor, loads both back and chats about a generated image.
Run: python -m pytest tests/examples -q
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load_example(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_idefics2_chat_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    replies = load_example("idefics2_chat").main(["--out", str(tmp_path / "tiny-idefics2")])
    printed = capsys.readouterr().out
    assert "1. chat template -> 'User:<image>What is in this image?<end_of_utterance>\\nAssistant:'" in printed
    assert "pixel_values (1, 1, 3, 38, 64), pixel_attention_mask (1, 1, 38, 64)" in printed
    assert "(8 new)" in printed
    assert len(replies) == 1 and replies[0]
    assert (tmp_path / "tiny-idefics2" / "chat_template.jinja").is_file()
