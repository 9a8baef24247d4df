"""A tiny model and a batch for each declared model (tests/models/specs), for the tests that run
every generated model class: dtypes, training, peft.

    for spec in covered_specs():
        model = tiny_model(spec)             # randomly initialised, fp32, eval mode
        batch = tiny_batch(spec, model)      # keyword inputs of its forward (labels for LMs)

Text models use their parity config (tests/models/helpers.py), vision towers a 2-layer encoder on
20x20 images, the Idefics2-style vision-language models (those declaring `image_sizes`) the
config and image/text batch of tests/models/test_vision_language.py, IDEFICS (cross-attention)
those of tests/models/test_idefics.py, and the LLaVA family those of tests/models/llava_family.py
(LLaVA-NeXT and its video model: two images of 16x32 and 32x32 pixels, tiled). A declared model of another kind is listed by
`uncovered_specs()` and its tests skip, naming it.
"""

from __future__ import annotations

from typing import Any

import torch

from tests.models import specs
from tests.models.helpers import tiny_llama_kwargs
from tests.models.specs import TEXT, VISION, VISION_LANGUAGE, ModelSpec, declared_specs

CROSS_ATTENTION = getattr(specs, "CROSS_ATTENTION_VLM", "cross-attention vision-language")
LLAVA_FAMILY = ("llava", "llava_next", "llava_next_video")


def is_covered(spec: ModelSpec) -> bool:
    idefics2_style = spec.kind == VISION_LANGUAGE and bool(getattr(spec, "image_sizes", ()))
    return spec.kind in (TEXT, VISION) or idefics2_style or spec.model in ("idefics", *LLAVA_FAMILY)


def covered_specs() -> list[ModelSpec]:
    return [spec for spec in declared_specs() if is_covered(spec)]


def uncovered_specs() -> list[ModelSpec]:
    return [spec for spec in declared_specs() if not is_covered(spec)]


def tiny_config(spec: ModelSpec, **overrides: Any) -> Any:
    """Our config class for the spec's main class, tiny."""
    if spec.kind == TEXT:
        return spec.ours("Config")(**tiny_llama_kwargs(**{**spec.config, **overrides}))
    if spec.kind == VISION:
        from tests.models.test_vision_language import tiny_vision_kwargs

        return spec.ours("VisionConfig")(**tiny_vision_kwargs(**overrides))
    if spec.kind == CROSS_ATTENTION:
        from tests.models.test_idefics import tiny_kwargs

        return spec.ours("Config")(**tiny_kwargs(**overrides))
    if spec.model in LLAVA_FAMILY:
        from tests.models.llava_family import tiny_kwargs as llava_kwargs

        return spec.ours("Config")(**llava_kwargs(spec.model, **overrides))
    from tests.models.test_vision_language import IMAGE_TOKEN, vlm_kwargs

    return spec.ours("Config")(image_token_id=IMAGE_TOKEN, **vlm_kwargs(spec.model, **overrides))


def tiny_model(spec: ModelSpec, seed: int = 0, **overrides: Any) -> torch.nn.Module:
    torch.manual_seed(seed)
    return spec.ours(spec.main_class)(tiny_config(spec, **overrides)).eval()


def tiny_batch(spec: ModelSpec, model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Inputs for one forward; language models get `labels` (pads and image tokens -100)."""
    generator = torch.Generator().manual_seed(1)
    if spec.kind == VISION:
        return {"pixel_values": torch.randn(2, 3, 20, 20, generator=generator)}
    if spec.model in LLAVA_FAMILY:
        return llava_batch(spec.model)
    if spec.kind in (TEXT, CROSS_ATTENTION):
        if spec.kind == CROSS_ATTENTION:
            from tests.models.test_idefics import image_text_batch as idefics_batch

            batch = idefics_batch()  # rows of 10 tokens, the second left-padded by 3
        else:
            input_ids = torch.randint(3, 99, (2, 9), generator=generator)
            batch = {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)}
            batch["input_ids"][1, :3], batch["attention_mask"][1, :3] = 0, 0  # left padding
        labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
        labels[1, 3] = -100  # predicted from a padding position, whose logits no model defines
        return {**batch, "labels": labels}
    from tests.models.test_vision_language import IMAGE_TOKEN, image_text_batch

    batch = image_text_batch(model)
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    labels[1, 3] = -100  # as above: row 1 is padded on the left
    return {**batch, "labels": labels.masked_fill(labels == IMAGE_TOKEN, -100)}


def output_tensor(spec: ModelSpec, output: Any) -> torch.Tensor:
    """The tensor a test compares: logits for language models, the last hidden state otherwise."""
    return output.last_hidden_state if spec.kind == VISION else output.logits


def scalar_loss(spec: ModelSpec, output: Any) -> torch.Tensor:
    """The model's loss, or for a vision tower a fixed function of its outputs."""
    if spec.kind == VISION:
        return output.last_hidden_state.pow(2).mean()
    return output.loss


def llava_batch(model: str) -> dict[str, torch.Tensor]:
    """LLaVA: one image per row (tests/models/test_llava.py's batch); LLaVA-NeXT: a 16x32 and a 32x32
    image, each row as many `<image>` tokens as transformers' processor puts there."""
    from tests.models import llava_family as family

    if model == "llava":
        from tests.models.test_llava import image_batch

        batch = image_batch()
    else:
        generator = torch.Generator().manual_seed(2)
        sizes = [(16, 32), (32, 32)]
        rows = [[family.IMAGE_TOKEN] * family.next_image_tokens(height, width) for height, width in sizes]
        batch = {**family.left_padded(rows, generator), **family.next_pixels(sizes, generator)}
    return {**batch, "labels": family.loss_labels(batch)}
