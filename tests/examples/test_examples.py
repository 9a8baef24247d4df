"""The examples run end to end (offline, CPU, seconds): examples/idefics2_chat.py builds a tiny
Idefics2 checkpoint with its processor, loads both back and chats about a generated image;
examples/idefics_chat.py runs the IDEFICS model card's flow on a tiny checkpoint, the image from a
local http server or a local file, and transformers gives the same tokens on that checkpoint;
examples/llava_next_video_chat.py chats about an image and a short video through a tiny
LLaVA-NeXT-Video, whose checkpoint transformers loads and generates the same tokens from.
Run: python -m pytest tests/examples -q
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import PIL.Image
import pytest
import torch

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


IDEFICS_SHAPES = (
    "input_ids (1, 15), attention_mask (1, 15), pixel_values (1, 1, 3, 32, 32), image_attention_mask (1, 15, 1)"
)


@pytest.mark.parametrize("image_source", ["http", "file"])
def test_idefics_chat_runs_the_model_card(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], image_source: str
) -> None:
    """examples/idefics_chat.py: the model card's flow on a tiny IDEFICS, the image from a local
    http server or a local file."""
    argv = ["--out", str(tmp_path / "tiny-idefics"), "--image-source", image_source]
    replies = load_example("idefics_chat").main(argv)
    printed = capsys.readouterr().out
    assert IDEFICS_SHAPES in printed
    assert "3. generate(max_length=40) -> (1, " in printed
    assert len(replies) == 1 and replies[0].startswith("In this picture from Asterix and Obelix , we can see")
    assert (tmp_path / "tiny-idefics" / "model.safetensors").is_file()


def test_idefics_chat_checkpoint_gives_transformers_tokens(tmp_path: Path) -> None:
    """The example's checkpoint, loaded by transformers 5.23.0 (model and processor), generates the
    example's tokens (float32, greedy)."""
    transformers = pytest.importorskip("transformers")
    example = load_example("idefics_chat")
    example.build_checkpoint(tmp_path / "tiny-idefics")
    example.draw_image(tmp_path / "Idefix.png")
    prompts = [[str(tmp_path / "Idefix.png"), example.PROMPT]]  # a path: ours reads it, transformers needs PIL
    ours = example.run_model_card(tmp_path / "tiny-idefics", prompts[0][0], torch.float32)
    model = transformers.IdeficsForVisionText2Text.from_pretrained(tmp_path / "tiny-idefics", dtype=torch.float32)
    processor = transformers.AutoProcessor.from_pretrained(tmp_path / "tiny-idefics")
    inputs = processor(text=[[PIL.Image.open(prompts[0][0]), example.PROMPT]], return_tensors="pt")
    generated = model.generate(**inputs, max_length=40, do_sample=False)
    assert processor.batch_decode(generated, skip_special_tokens=True) == ours


LLAVA_NEXT_VIDEO_SHAPES = (
    "input_ids (1, 31), attention_mask (1, 31), pixel_values (1, 5, 3, 28, 28), image_sizes (1, 2), "
    "pixel_values_videos (1, 4, 3, 28, 28)"
)


def test_llava_next_video_chat_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """examples/llava_next_video_chat.py: one image and a 4-frame video in one chat turn."""
    replies = load_example("llava_next_video_chat").main(["--out", str(tmp_path / "tiny-llava-next-video")])
    printed = capsys.readouterr().out
    assert "1. chat template -> 'USER: <image> <video> What is in this image and this video?\\nASSISTANT:'" in printed
    assert LLAVA_NEXT_VIDEO_SHAPES in printed
    assert "(8 new)" in printed
    assert len(replies) == 1 and replies[0]
    assert (tmp_path / "tiny-llava-next-video" / "processor_config.json").is_file()


def test_llava_next_video_chat_checkpoint_gives_transformers_tokens(tmp_path: Path) -> None:
    """transformers 5.23.0 loads the example's model and, on the example's processor outputs,
    generates the example's tokens (float32, greedy). Its own processor needs torchvision here."""
    transformers = pytest.importorskip("transformers")
    example = load_example("llava_next_video_chat")
    example.build_checkpoint(tmp_path / "tiny")
    processor = example.LlavaNextVideoProcessor.from_pretrained(tmp_path / "tiny")
    content = [{"type": "image"}, {"type": "video"}, {"type": "text", "text": "What is in this video?"}]
    prompt = processor.apply_chat_template([{"role": "user", "content": content}], add_generation_prompt=True)
    image = PIL.Image.fromarray(example.draw_frame((20, 30)))
    inputs = processor(images=[image], videos=[example.make_video()], text=prompt)
    ours = example.LlavaNextVideoForConditionalGeneration.from_pretrained(tmp_path / "tiny").eval()
    reference = transformers.LlavaNextVideoForConditionalGeneration.from_pretrained(tmp_path / "tiny").eval()
    expected = reference.generate(**inputs, max_new_tokens=6, do_sample=False)
    assert torch.equal(ours.generate(**inputs, max_new_tokens=6, do_sample=False), expected)


def test_idefics2_finetune_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """examples/idefics2_finetune.py: QLoRA steps on a tiny 4-bit Idefics2 lower the loss (only the
    assistant tokens are labelled), and the saved adapter reloads for generation."""
    pytest.importorskip("peft")
    pytest.importorskip("bitsandbytes")
    losses, reply = load_example("idefics2_finetune").main(["--out", str(tmp_path / "tiny"), "--steps", "4"])
    printed = capsys.readouterr().out
    assert "14 tokens learnt" in printed
    assert losses[-1] < losses[0] and reply
    assert (tmp_path / "tiny" / "adapter" / "adapter_model.safetensors").is_file()
