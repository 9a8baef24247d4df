"""QLoRA fine-tuning of a tiny random Idefics2, following the Idefics2 docs, offline on CPU.

    python examples/idefics2_finetune.py [--out DIR] [--steps 8]

1. builds a tiny random checkpoint with its processor (as examples/idefics2_chat.py does);
2. loads it in 4 bits with the docs' settings (`BitsAndBytesConfig(load_in_4bit=True,
   bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=torch.float16)`,
   the model in float16), prepares it for k-bit training and adds LoRA adapters with peft;
3. makes the labels as the docs do: the chat template with `{% generation %}` blocks gives the
   assistant masks, so user turns, padding and `<image>` tokens are -100;
4. trains a few AdamW steps on two image conversations, printing the loss as it goes down;
5. saves the adapter, loads it onto a freshly quantized model and generates an answer.
Needs the extras: pip install -e ".[finetune]".
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch

EXAMPLES = Path(__file__).resolve().parent
for folder in (EXAMPLES.parent, EXAMPLES):  # the repository, and the chat example beside this file
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import peft  # noqa: E402
from idefics2_chat import build_checkpoint, draw_image  # noqa: E402

from generated.idefics2 import Idefics2ForConditionalGeneration, Idefics2Processor  # noqa: E402
from runtime.quantization import BitsAndBytesConfig  # noqa: E402

# HuggingFaceM4/idefics2-8b's template, with the assistant turns in {% generation %} blocks
TRAINING_TEMPLATE = (
    "{% for message in messages %}{{ message['role'].capitalize() + ': ' }}"
    "{% if message['role'] == 'assistant' %}{% generation %}"
    "{% for line in message['content'] %}{{ line['text'] }}{% endfor %}<end_of_utterance>{% endgeneration %}\n"
    "{% else %}{% for line in message['content'] %}{% if line['type'] == 'text' %}{{ line['text'] }}"
    "{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}<end_of_utterance>\n{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)
QUANTIZATION = BitsAndBytesConfig(
    load_in_4bit=True,
    bnb_4bit_quant_type="nf4",
    bnb_4bit_use_double_quant=True,
    bnb_4bit_compute_dtype=torch.float16,
)
LORA = peft.LoraConfig(
    r=8, lora_alpha=8, lora_dropout=0.1, target_modules=".*(text_model|connector).*(q_proj|k_proj|v_proj|down_proj)"
)


def conversations() -> list[list[dict]]:
    image = draw_image()
    question = {"type": "text", "text": "What is in this image?"}
    return [
        [
            {"role": "user", "content": [{"type": "image", "image": image}, question]},
            {"role": "assistant", "content": [{"type": "text", "text": "a red circle on a blue square."}]},
        ],
        [
            {"role": "user", "content": [question, {"type": "image", "image": image.rotate(90)}]},
            {"role": "assistant", "content": [{"type": "text", "text": "a yellow sun."}]},
        ],
    ]


def training_batch(processor: Idefics2Processor) -> dict[str, torch.Tensor]:
    """The processor's features plus labels: only the assistant tokens are learnt (the docs set pad
    and image tokens to -100; the assistant masks also hide the user turns)."""
    batch = processor.apply_chat_template(
        conversations(),
        chat_template=TRAINING_TEMPLATE,
        tokenize=True,
        return_dict=True,
        return_assistant_tokens_mask=True,
        padding=True,
        return_tensors="pt",
    )
    assistant = torch.as_tensor(batch.pop("assistant_masks")).bool()
    labels = batch["input_ids"].masked_fill(~assistant, -100)
    labels[labels == processor.tokenizer.pad_token_id] = -100
    labels[labels == processor.tokenizer.convert_tokens_to_ids("<image>")] = -100
    return {**batch, "labels": labels}


def quantized_model(directory: Path) -> Idefics2ForConditionalGeneration:
    return Idefics2ForConditionalGeneration.from_pretrained(
        directory, torch_dtype=torch.float16, quantization_config=QUANTIZATION
    )


def train(directory: Path, steps: int) -> list[float]:
    processor = Idefics2Processor.from_pretrained(directory)
    model = peft.prepare_model_for_kbit_training(quantized_model(directory))
    model = peft.get_peft_model(model, LORA)
    model.print_trainable_parameters()
    batch = training_batch(processor)
    learnt = int((batch["labels"] != -100).sum())
    print(f"batch: {', '.join(f'{k} {tuple(v.shape)}' for k, v in batch.items())}; {learnt} tokens learnt")
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=5e-3)
    losses = []
    model.train()
    for step in range(steps):
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
        print(f"step {step}: loss {losses[-1]:.4f}")
    model.save_pretrained(directory / "adapter")
    return losses


def generate_with_adapter(directory: Path) -> str:
    processor = Idefics2Processor.from_pretrained(directory)
    model = peft.PeftModel.from_pretrained(quantized_model(directory), directory / "adapter").eval()
    messages = [conversations()[0][0]]
    prompt = processor.apply_chat_template(messages, chat_template=TRAINING_TEMPLATE, add_generation_prompt=True)
    inputs = processor(images=[messages[0]["content"][0]["image"]], text=prompt, return_tensors="pt")
    generated = model.generate(**inputs, max_new_tokens=8)
    reply = processor.batch_decode(generated[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)[0]
    print(f"reloaded adapter; reply: {reply!r}")
    return reply


def main(argv: list[str] | None = None) -> tuple[list[float], str]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="where to write the checkpoint (default: a temporary directory)")
    parser.add_argument("--steps", type=int, default=8)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as temporary:
        directory = args.out or Path(temporary) / "tiny-idefics2"
        build_checkpoint(directory)
        losses = train(directory, args.steps)
        return losses, generate_with_adapter(directory)


if __name__ == "__main__":
    main()
