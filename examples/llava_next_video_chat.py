"""Chat about an image and a short video through a tiny random LLaVA-NeXT-Video, end to end and offline.

    python examples/llava_next_video_chat.py [--out DIR]

Builds a checkpoint directory the way a Hub repo looks (config.json + model.safetensors, and the
processor: processor_config.json with the image and video processors, tokenizer.json,
tokenizer_config.json, chat_template.jinja), with a WordLevel tokenizer trained on the spot, a
CLIP vision tower and a Llama text model with random weights; loads it back with `from_pretrained`
and runs the steps of the transformers docs: chat template -> processor -> generate -> decode, on a
generated image and a generated 4-frame video, printing each step's shapes. The weights are
random, so the reply is gibberish.
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

from generated.llava_next_video import (  # noqa: E402
    LlavaNextVideoConfig,
    LlavaNextVideoForConditionalGeneration,
    LlavaNextVideoImageProcessor,
    LlavaNextVideoProcessor,
    LlavaNextVideoVideoProcessor,
)
from runtime.tokenization_utils import Tokenizer  # noqa: E402

# The layout of llava-hf/LLaVA-NeXT-Video-7B-hf's template: image and video blocks where they stand.
CHAT_TEMPLATE = (
    "{% for message in messages %}{{ message['role'].upper() + ':' }}"
    "{% for content in message['content'] %}{% if content['type'] == 'image' %}{{ ' <image>' }}"
    "{% elif content['type'] == 'video' %}{{ ' <video>' }}{% else %}{{ ' ' + content['text'] }}{% endif %}"
    "{% endfor %}{{ '\n' }}{% endfor %}{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"
)
SPECIAL_TOKENS = ["<unk>", "<s>", "</s>", "<pad>", "<image>", "<video>"]
CORPUS = ["USER: What is in this image and this video? ASSISTANT: a red disc on blue, and a disc that moves right."]
IMAGE_SIZE, PATCH_SIZE = 28, 14  # the tower's input and patch edges: 2 x 2 patches per tile
GRID_PINPOINTS = [[28, 56], [56, 28], [56, 56]]  # anyres resolutions, multiples of IMAGE_SIZE
FRAMES = 4


def train_tokenizer() -> Tokenizer:
    backend = BackendTokenizer(models.WordLevel(unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.train_from_iterator(CORPUS, trainer=trainers.WordLevelTrainer(special_tokens=SPECIAL_TOKENS))
    return Tokenizer(backend, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>")


def tiny_config(tokenizer: Tokenizer) -> LlavaNextVideoConfig:
    text = {"model_type": "llama", "vocab_size": len(tokenizer), "hidden_size": 32, "intermediate_size": 64}
    text |= {"num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2}
    text |= {"max_position_embeddings": 512, "pad_token_id": tokenizer.pad_token_id}
    text |= {"bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id}
    vision = {"model_type": "clip_vision_model", "hidden_size": 32, "intermediate_size": 37}
    vision |= {"num_hidden_layers": 2, "num_attention_heads": 4, "image_size": IMAGE_SIZE, "patch_size": PATCH_SIZE}
    return LlavaNextVideoConfig(
        text_config=text,
        vision_config=vision,
        image_grid_pinpoints=GRID_PINPOINTS,
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        video_token_index=tokenizer.convert_tokens_to_ids("<video>"),
    )


def build_checkpoint(directory: Path) -> None:
    """Random weights and a processor, saved as a Hub repo would hold them."""
    tokenizer = train_tokenizer()
    torch.manual_seed(3)
    LlavaNextVideoForConditionalGeneration(tiny_config(tokenizer)).save_pretrained(directory)
    sizes = {"size": {"shortest_edge": IMAGE_SIZE}, "crop_size": {"height": IMAGE_SIZE, "width": IMAGE_SIZE}}
    processor = LlavaNextVideoProcessor(
        LlavaNextVideoImageProcessor(**sizes, image_grid_pinpoints=GRID_PINPOINTS),
        tokenizer,
        video_processor=LlavaNextVideoVideoProcessor(**sizes),
        patch_size=PATCH_SIZE,
        vision_feature_select_strategy="default",  # the tower's CLS feature is dropped ...
        num_additional_image_tokens=1,  # ... and counted here, as llava-hf checkpoints say
        chat_template=CHAT_TEMPLATE,
    )
    processor.save_pretrained(directory)


def draw_frame(center: tuple[int, int], height: int = 48, width: int = 80) -> np.ndarray:
    """A red disc at `center` (row, column) on a blue background, (height, width, 3) uint8."""
    rows, cols = np.mgrid[0:height, 0:width]
    frame = np.zeros((height, width, 3), dtype=np.uint8)
    frame[..., 2] = 200
    frame[(rows - center[0]) ** 2 + (cols - center[1]) ** 2 < 12**2] = (220, 30, 30)
    return frame


def make_video() -> list[PIL.Image.Image]:
    """`FRAMES` frames of the disc moving right, as PIL images."""
    return [PIL.Image.fromarray(draw_frame((24, 20 + 12 * step), 40, 64)) for step in range(FRAMES)]


def chat(directory: Path, max_new_tokens: int = 8) -> list[str]:
    processor = LlavaNextVideoProcessor.from_pretrained(directory)
    model = LlavaNextVideoForConditionalGeneration.from_pretrained(directory).eval()
    print(f"loaded {directory}: {sum(p.numel() for p in model.parameters())} parameters")

    image, video = PIL.Image.fromarray(draw_frame((24, 40))), make_video()
    content = [{"type": "image"}, {"type": "video"}, {"type": "text", "text": "What is in this image and this video?"}]
    prompt = processor.apply_chat_template([{"role": "user", "content": content}], add_generation_prompt=True)
    print(f"1. chat template -> {prompt!r}")

    inputs = processor(images=[image], videos=[video], text=prompt)  # tensors: this processor's default
    shapes = ", ".join(f"{name} {tuple(value.shape)}" for name, value in inputs.items())
    print(f"2. processor({image.width}x{image.height} image, {len(video)}-frame video, prompt) -> {shapes}")

    generated = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
    new = generated.shape[1] - inputs["input_ids"].shape[1]
    print(f"3. generate -> {tuple(generated.shape)} token ids ({new} new)")

    replies = processor.batch_decode(generated[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    print(f"4. batch_decode -> {replies}")
    return replies


def main(argv: list[str] | None = None) -> list[str]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="where to write the checkpoint (default: a temporary directory)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as temporary:
        directory = args.out or Path(temporary) / "tiny-llava-next-video"
        build_checkpoint(directory)
        print(f"wrote {directory}: {', '.join(sorted(path.name for path in directory.iterdir()))}")
        return chat(directory)


if __name__ == "__main__":
    main()
