"""Chat with an image through a tiny random Idefics2, end to end and offline.

    python examples/idefics2_chat.py [--out DIR]

Builds a checkpoint directory the way a Hub repo looks (config.json + model.safetensors, and the
processor: processor_config.json, tokenizer.json, tokenizer_config.json, chat_template.jinja), with
a WordLevel tokenizer trained on the spot and random weights; loads it back with `from_pretrained`
and runs the steps of the transformers docs: chat template -> processor -> generate -> decode, on a
generated image, printing each step's shapes. The reply streams as it is generated (a
`TextStreamer`, as a chat loop shows it); the weights are random, so the reply is gibberish.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import PIL.Image
import torch
from tokenizers import Tokenizer as BackendTokenizer
from tokenizers import models, pre_tokenizers, trainers

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    # Run as a script, Python puts examples/ (not the repository) on sys.path.
    sys.path.insert(0, str(REPO_ROOT))

from generated.idefics2 import (  # noqa: E402
    Idefics2Config,
    Idefics2ForConditionalGeneration,
    Idefics2ImageProcessor,
    Idefics2Processor,
)
from runtime.streamers import TextStreamer  # noqa: E402
from runtime.tokenization_utils import Tokenizer  # noqa: E402

# The chat template of HuggingFaceM4/idefics2-8b.
CHAT_TEMPLATE = (
    "{% for message in messages %}{{message['role'].capitalize()}}"
    "{% if message['content'][0]['type'] == 'image' %}{{':'}}{% else %}{{': '}}{% endif %}"
    "{% for line in message['content'] %}{% if line['type'] == 'text' %}{{line['text']}}"
    "{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}<end_of_utterance>\n{% endfor %}"
    "{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)
SPECIAL_TOKENS = ["<unk>", "<s>", "</s>", "<pad>", "<fake_token_around_image>", "<image>", "<end_of_utterance>"]
CORPUS = ["User: What is in this image? Assistant: a red circle on a blue square, a green line and a yellow sun."]
IMAGE_SEQ_LEN = 4  # tokens per image: the resampler's latents


def train_tokenizer() -> Tokenizer:
    backend = BackendTokenizer(models.WordLevel(unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.train_from_iterator(CORPUS, trainer=trainers.WordLevelTrainer(special_tokens=SPECIAL_TOKENS))
    return Tokenizer(backend, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>")


def tiny_config(tokenizer: Tokenizer) -> Idefics2Config:
    ids = {name: tokenizer.convert_tokens_to_ids(token) for name, token in (("bos", "<s>"), ("eos", "</s>"))}
    text = {"model_type": "mistral", "vocab_size": len(tokenizer), "hidden_size": 32, "intermediate_size": 64}
    text |= {
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 256,
    }
    text |= {"pad_token_id": tokenizer.pad_token_id, "bos_token_id": ids["bos"], "eos_token_id": ids["eos"]}
    vision = {"hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 2, "num_attention_heads": 4}
    vision |= {"image_size": 32, "patch_size": 8}
    perceiver = {"resampler_n_latents": IMAGE_SEQ_LEN, "resampler_depth": 1, "resampler_n_heads": 4}
    perceiver |= {"resampler_head_dim": 8, "num_key_value_heads": 2}
    image_token_id = tokenizer.convert_tokens_to_ids("<image>")
    return Idefics2Config(
        text_config=text, vision_config=vision, perceiver_config=perceiver, image_token_id=image_token_id
    )


def build_checkpoint(directory: Path) -> None:
    """Random weights and a processor, saved as a Hub repo would hold them."""
    tokenizer = train_tokenizer()
    torch.manual_seed(3)
    Idefics2ForConditionalGeneration(tiny_config(tokenizer)).save_pretrained(directory)
    image_processor = Idefics2ImageProcessor(size={"shortest_edge": 32, "longest_edge": 64})
    processor = Idefics2Processor(image_processor, tokenizer, image_seq_len=IMAGE_SEQ_LEN, chat_template=CHAT_TEMPLATE)
    processor.save_pretrained(directory)


def draw_image() -> PIL.Image.Image:
    """A red disc on a blue background, 48 x 80 pixels."""
    rows, cols = np.mgrid[0:48, 0:80]
    image = np.zeros((48, 80, 3), dtype=np.uint8)
    image[..., 2] = 200
    disc = (rows - 24) ** 2 + (cols - 40) ** 2 < 15**2
    image[disc] = (220, 30, 30)
    return PIL.Image.fromarray(image)


def chat(directory: Path, max_new_tokens: int = 8) -> list[str]:
    processor = Idefics2Processor.from_pretrained(directory)
    model = Idefics2ForConditionalGeneration.from_pretrained(directory).eval()
    print(f"loaded {directory}: {sum(p.numel() for p in model.parameters())} parameters")

    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What is in this image?"}]}]
    prompt = processor.apply_chat_template(messages, add_generation_prompt=True)
    print(f"1. chat template -> {prompt!r}")

    image = draw_image()
    inputs = processor(images=[image], text=prompt, return_tensors="pt")
    shapes = ", ".join(f"{name} {tuple(value.shape)}" for name, value in inputs.items())
    print(f"2. processor({image.width}x{image.height} image, prompt) -> {shapes}")

    print("3. generate, the reply streamed as it comes: ", end="", flush=True)
    streamer = TextStreamer(processor.tokenizer, skip_prompt=True, skip_special_tokens=True)
    generated = model.generate(**inputs, max_new_tokens=max_new_tokens, streamer=streamer)
    print(
        f"   generate -> {tuple(generated.shape)} token ids ({generated.shape[1] - inputs['input_ids'].shape[1]} new)"
    )

    replies = processor.batch_decode(generated[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    print(f"4. batch_decode -> {replies}")
    return replies


def main(argv: list[str] | None = None) -> list[str]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="where to write the checkpoint (default: a temporary directory)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as temporary:
        directory = args.out or Path(temporary) / "tiny-idefics2"
        build_checkpoint(directory)
        print(f"wrote {directory}: {', '.join(sorted(path.name for path in directory.iterdir()))}")
        return chat(directory)


if __name__ == "__main__":
    main()
