"""The IDEFICS model card's flow, end to end and offline, on a tiny random IDEFICS.

    python examples/idefics_chat.py [--out DIR] [--image-source http|file] [--dtype bfloat16|float32]

Builds a checkpoint directory the way a Hub repo looks (config.json + model.safetensors, and the
processor: processor_config.json, tokenizer.json, tokenizer_config.json), with a WordLevel
tokenizer trained on the spot and random weights (the cross-attention gates perturbed away from
their zero initialisation, so the images matter). Then runs the model card's steps as the card
writes them: load the model with `from_pretrained(checkpoint, dtype=...)` and the processor from
the same folder; prompts = [[image, "In this picture from Asterix and Obelix, we can see"]], the
image a URL served from 127.0.0.1 (or a local file path); processor(prompts) -> generate(...,
max_length=...) -> batch_decode, printing each step's shapes. The weights are random, so the
continuation is gibberish.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import PIL.Image
import torch
from tokenizers import Tokenizer as BackendTokenizer
from tokenizers import models, pre_tokenizers

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    # Run as a script, Python puts examples/ (not the repository) on sys.path.
    sys.path.insert(0, str(REPO_ROOT))

from generated.idefics import (  # noqa: E402
    IdeficsConfig,
    IdeficsForVisionText2Text,
    IdeficsImageProcessor,
    IdeficsProcessor,
)
from runtime.tokenization_utils import Tokenizer  # noqa: E402

PROMPT = "In this picture from Asterix and Obelix, we can see"
# The base vocabulary, then IDEFICS's two added tokens: its decoupled embedding gives the ids past
# `vocab_size` (here, as in idefics-9b, the last `additional_vocab_size` = 2 ids) their own rows.
SPECIAL_TOKENS = ["<unk>", "<s>", "</s>", "<end_of_utterance>"]
WORDS = "In this picture from Asterix and Obelix , we can see a dog the village Gaul menhir .".split()
BASE_VOCAB = SPECIAL_TOKENS + WORDS
ADDED_TOKENS = ["<fake_token_around_image>", "<image>"]
IMAGE_SIZE = 32  # the vision encoder's (and the image processor's) square side


def build_tokenizer() -> Tokenizer:
    backend = BackendTokenizer(models.WordLevel({token: i for i, token in enumerate(BASE_VOCAB)}, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = Tokenizer(backend, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<unk>")
    tokenizer.add_special_tokens(SPECIAL_TOKENS)  # kept whole, skipped when decoding
    tokenizer.add_special_tokens(ADDED_TOKENS)  # ids len(BASE_VOCAB), len(BASE_VOCAB) + 1
    return tokenizer


def tiny_config(tokenizer: Tokenizer) -> IdeficsConfig:
    """Two decoder layers with a gated cross-attention after each, a 2-layer CLIP vision encoder
    and a 1-layer Perceiver resampler pooling each image into 4 latents."""
    vision = {"embed_dim": 32, "image_size": IMAGE_SIZE, "patch_size": 8, "intermediate_size": 37}
    vision |= {"num_hidden_layers": 2, "num_attention_heads": 4}
    perceiver = {"resampler_n_latents": 4, "resampler_depth": 1, "resampler_n_heads": 2, "resampler_head_dim": 8}
    return IdeficsConfig(
        vocab_size=len(BASE_VOCAB),
        additional_vocab_size=len(ADDED_TOKENS),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=128,
        cross_layer_interval=1,
        use_resampler=True,
        vision_config=vision,
        perceiver_config=perceiver,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )


def build_checkpoint(directory: Path) -> None:
    """Random weights (gates and all) and the processor, saved as a Hub repo would hold them."""
    tokenizer = build_tokenizer()
    torch.manual_seed(3)
    model = IdeficsForVisionText2Text(tiny_config(tokenizer))
    with torch.no_grad():  # the gates start at zero, which would hide the images: open them
        for name, parameter in model.named_parameters():
            if "alpha" in name:
                parameter.normal_(0.0, 1.0)
    model.save_pretrained(directory)
    processor = IdeficsProcessor(IdeficsImageProcessor(image_size=IMAGE_SIZE), tokenizer)
    processor.save_pretrained(directory)


def draw_image(path: Path) -> None:
    """A grey menhir on green grass under a blue sky, 60 x 90 pixels, saved as PNG."""
    rows, cols = np.mgrid[0:60, 0:90]
    image = np.zeros((60, 90, 3), dtype=np.uint8)
    image[rows < 35] = (90, 150, 230)
    image[rows >= 35] = (60, 160, 60)
    menhir = ((cols - 45) / 9) ** 2 + ((rows - 35) / 25) ** 2 < 1
    image[menhir & (rows < 50)] = (150, 150, 150)
    PIL.Image.fromarray(image).save(path)


@contextlib.contextmanager
def serve_directory(directory: Path) -> Iterator[str]:
    """Serve `directory` over http on 127.0.0.1 (a free port) from a thread; yields the base URL."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # no request log on stderr
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def run_model_card(checkpoint: Path, image: str, dtype: torch.dtype, max_length: int = 40) -> list[str]:
    """The model card's code, with `checkpoint` a local folder and `image` a URL or a path."""
    model = IdeficsForVisionText2Text.from_pretrained(checkpoint, dtype=dtype)
    processor = IdeficsProcessor.from_pretrained(checkpoint)
    parameters = sum(parameter.numel() for parameter in model.parameters())
    print(f"1. from_pretrained -> {parameters} parameters in {model.dtype}, {type(processor).__name__}")

    prompts = [[image, PROMPT]]
    inputs = processor(prompts, return_tensors="pt")
    shapes = ", ".join(f"{name} {tuple(value.shape)}" for name, value in inputs.items())
    print(f"2. processor([[{image!r}, {PROMPT!r}]]) -> {shapes}")

    generated_ids = model.generate(**inputs, max_length=max_length)
    new = generated_ids.shape[1] - inputs["input_ids"].shape[1]
    print(f"3. generate(max_length={max_length}) -> {tuple(generated_ids.shape)} token ids ({new} new)")

    generated_text = processor.batch_decode(generated_ids, skip_special_tokens=True)
    print(f"4. batch_decode -> {generated_text}")
    return generated_text


def main(argv: list[str] | None = None) -> list[str]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="where to write the checkpoint (default: a temporary directory)")
    parser.add_argument("--image-source", choices=["http", "file"], default="http")
    parser.add_argument("--dtype", choices=["bfloat16", "float32"], default="bfloat16")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as temporary:
        checkpoint = args.out or Path(temporary) / "tiny-idefics"
        build_checkpoint(checkpoint)
        print(f"wrote {checkpoint}: {', '.join(sorted(path.name for path in checkpoint.iterdir()))}")
        images = Path(temporary) / "images"
        images.mkdir()
        draw_image(images / "Idefix.png")
        dtype = getattr(torch, args.dtype)
        if args.image_source == "file":
            return run_model_card(checkpoint, str(images / "Idefix.png"), dtype)
        with serve_directory(images) as base_url:
            return run_model_card(checkpoint, f"{base_url}/Idefix.png", dtype)


if __name__ == "__main__":
    main()
