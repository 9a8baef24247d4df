# ----------------------------------------------------------------------------------------------------
# This file was generated from modular/modular_idefics.py by the modular converter. Do not edit it by hand:
# edit modular/modular_idefics.py instead, then regenerate with
#     python converter/run.py modular/modular_idefics.py
# ----------------------------------------------------------------------------------------------------

import os
from typing import Any
from urllib.parse import urlparse

import torch

from runtime.image_loading import load_image
from runtime.image_processing_utils import BatchFeature, ProcessorError
from runtime.processing_utils import ProcessorMixin
from runtime.tokenization_utils import Tokenizer

from .image_processing_idefics import IdeficsImageProcessor


def is_url(string: str) -> bool:
    """Whether `string` is a URL and nothing else, by transformers' rule: no space, a scheme and a
    host (`https://host/a.png`; `file:///a.png` and `data:` URIs have no host)."""
    if " " in string:
        return False
    parsed = urlparse(string)
    return bool(parsed.scheme and parsed.netloc)


def image_attention_mask(
    input_ids: torch.Tensor, image_token_id: int | None, eos_token_id: int | None, num_images: int
) -> torch.Tensor:
    """(B, T) ids -> (B, T, num_images) int64, 1 where text token t cross-attends to image i.

    As transformers builds it (m4's `image_attention_mask_for_packed_input_ids`, then
    `incremental_to_binary_attention_mask`): a token sees only the latest image at or before it
    (an `<image>` token sees its own image), images counted from 0 per row; tokens before the
    first image see none, and so do tokens after an end-of-sequence token until the next image
    (packed documents). An image numbered `num_images` or more (a literal `<image>` in the text)
    is seen by no token. Padding is not special: pad tokens after an image see it.
    """
    positions = torch.arange(input_ids.shape[1]).expand_as(input_ids)
    is_image = input_ids == image_token_id
    latest = is_image.cumsum(dim=1) - 1  # (B, T) the latest image at or before t, -1 before the first
    if eos_token_id is not None:
        no_position = torch.full_like(input_ids[:, :1], -1)
        last_image_at = torch.where(is_image, positions, -1).cummax(dim=1).values
        last_eos_at = torch.where(input_ids == eos_token_id, positions, -1).cummax(dim=1).values
        last_eos_before = torch.cat([no_position, last_eos_at[:, :-1]], dim=1)  # strictly before t
        latest = latest.masked_fill(last_eos_before > last_image_at, -1)
    return (latest[..., None] == torch.arange(num_images)).long()


class IdeficsProcessor(ProcessorMixin):
    """Prompts interleaving text and images -> `input_ids`, `attention_mask`, `pixel_values`
    (samples, images, 3, H, W) and `image_attention_mask` (samples, tokens, images), torch tensors,
    as transformers 5.23.0 `IdeficsProcessor` builds them:

        processor(prompts)      # prompts = [[image, "In this picture we can see"], ["User:", url, "Hi"]]
        processor(prompts[0])   # one sample

    Each sample starts with the BOS token; an image becomes `<fake_token_around_image><image>
    <fake_token_around_image>` (after another image, `<image><fake_token_around_image>`: the two
    share a fake token), and texts are stripped of spaces at both ends and go in verbatim, with
    `<end_of_utterance>` between two texts in a row when `add_end_of_utterance_token`. An image is
    anything but a string (a PIL image, an array, a tensor), or a string that is a URL (loaded by
    the runtime's `load_image`, within its limits); beyond transformers, also a `file://` URL or
    the path of an existing file (transformers reads those as text). Samples are padded to the
    longest (`padding`, `padding_side`, `truncation`, `max_length` go to the tokenizer) and to the
    most images; pixels of images whose `<image>` token was truncated away are zeros.
    """

    image_processor_class = IdeficsImageProcessor
    text_options = ("padding", "truncation", "max_length", "padding_side", "add_special_tokens")

    def __init__(
        self,
        image_processor: IdeficsImageProcessor,
        tokenizer: Tokenizer,
        image_size: int = 224,
        add_end_of_utterance_token: bool | None = None,
        chat_template: str | None = None,
    ) -> None:
        # transformers 5.23.0 takes `image_size` and `add_end_of_utterance_token` here and uses
        # neither (the image processor sizes images, each call decides on <end_of_utterance>)
        super().__init__(image_processor, tokenizer, chat_template)
        self.fake_image_token = "<fake_token_around_image>"
        self.image_token = "<image>"
        self.end_of_utterance_token = "<end_of_utterance>"
        self.image_token_id = tokenizer.convert_tokens_to_ids(self.image_token)
        # transformers looks for <end_of_utterance> under a special_tokens_map key its 5.x
        # tokenizers never fill (nor ours): the default of add_end_of_utterance_token is off
        trained_with = tokenizer.special_tokens_map.get("additional_special_tokens", [])
        self.tokenizer_was_trained_with_end_of_utterance_token = self.end_of_utterance_token in trained_with

    def __call__(
        self,
        images: Any = None,
        text: Any = None,
        add_eos_token: bool = False,
        add_end_of_utterance_token: bool | None = None,
        return_tensors: str | None = "pt",
        **kwargs: Any,
    ) -> BatchFeature:
        """`images` alone are the prompts (the model card's `processor(prompts)`, which transformers
        5.23.0 fails on); `text` alone too; both: one image, or one list of images, per text.
        Options: the image processor's (`size`, `do_normalize`, ...) and `text_options`."""
        if return_tensors not in ("pt", None):
            raise ProcessorError(
                f"{type(self).__name__} returns torch tensors only, got return_tensors={return_tensors!r}"
            )
        samples = self.samples_of(images, text)
        images_kwargs, text_kwargs = self.split_kwargs(kwargs)
        self.check_text_options(text_kwargs)
        if add_end_of_utterance_token is None:
            add_end_of_utterance_token = self.tokenizer_was_trained_with_end_of_utterance_token
        prompts, sample_images = [], []
        for sample in samples:
            prompt, images_of_sample = self.expand_sample(sample, add_eos_token, add_end_of_utterance_token)
            prompts.append(prompt)
            sample_images.append(self.pixels_of(images_of_sample, images_kwargs))
        encoding = self.tokenizer(prompts, **{"add_special_tokens": False, "padding": "longest", **text_kwargs})
        input_ids, attention_mask = self.stacked(encoding["input_ids"]), self.stacked(encoding["attention_mask"])
        num_images = max(1, *(len(pixels) for pixels in sample_images))
        pixel_values = torch.stack(
            [self.padded_pixels(ids, pixels, num_images) for ids, pixels in zip(input_ids, sample_images, strict=True)]
        )
        if any(len(pixels) for pixels in sample_images):
            image_mask = image_attention_mask(input_ids, self.image_token_id, self.tokenizer.eos_token_id, num_images)
        else:  # text only: no token sees an image (transformers' dtype: bool)
            image_mask = torch.zeros(*input_ids.shape, 1, dtype=torch.bool)
        data = {"input_ids": input_ids, "attention_mask": attention_mask, "pixel_values": pixel_values}
        return BatchFeature({**data, "image_attention_mask": image_mask})

    def samples_of(self, images: Any, text: Any) -> list[list[Any]]:
        """The samples, each a list of texts and images."""
        if images is None and text is None:
            raise ProcessorError("You need to specify either `text` or `images` and `text`.")
        if images is not None and text is not None:
            prompts = self.paired(images, text)
        else:
            prompts = images if text is None else text
        if isinstance(prompts, str):
            prompts = [prompts]  # transformers would read a string as a sample of one-character texts
        if not isinstance(prompts, (list, tuple)) or not prompts:
            raise ProcessorError(
                f"prompts must be a non-empty list (of lists) of texts and images, got {prompts!r:.80}"
            )
        if not any(isinstance(item, (list, tuple)) for item in prompts):
            return [list(prompts)]  # one sample
        if not all(isinstance(sample, (list, tuple)) for sample in prompts):
            raise ProcessorError("a batch of prompts must hold one list of texts and images per sample")
        return [list(sample) for sample in prompts]

    def paired(self, images: Any, text: Any) -> list[list[Any]]:
        """transformers' image-text-to-text pairing: [image, text] per sample, or [text, *images]
        when `images` holds one list per text."""
        images = list(images) if isinstance(images, (list, tuple)) else [images]
        text = [text] if isinstance(text, str) else text
        if not isinstance(text, (list, tuple)) or len(text) != len(images) or not images:
            raise ProcessorError(
                "When providing both images and text arguments, the number of text prompts should be the same as "
                "the number of images. If you want to have several images per prompt, images should be nested as "
                "such: images=[[img1, img2], [img3, img4], ...] for text=[prompt1, prompt2, ...]."
            )
        if not all(isinstance(sample, str) for sample in text):
            raise ProcessorError("When using the image-text-to-text behavior, the prompts should only contain text.")
        if isinstance(images[0], (list, tuple)):
            return [[sample, *sample_images] for sample_images, sample in zip(images, text, strict=True)]
        return [[image, sample] for image, sample in zip(images, text, strict=True)]

    def check_text_options(self, text_kwargs: dict[str, Any]) -> None:
        unknown = sorted(set(text_kwargs) - set(self.text_options))
        if unknown:
            image_options = [*self.image_processor.config_keys, *self.image_processor.call_only_keys]
            raise ProcessorError(
                f"{type(self).__name__} got unsupported options {[name[:40] for name in unknown[:10]]}; image options: "
                f"{image_options}, text options: {list(self.text_options)}, and add_eos_token, "
                "add_end_of_utterance_token, return_tensors='pt'"
            )

    def expand_sample(
        self, sample: list[Any], add_eos_token: bool, add_end_of_utterance_token: bool
    ) -> tuple[str, list[Any]]:
        """(the sample's prompt text, its images in order)."""
        fake, image_token = self.fake_image_token, self.image_token
        prompt, images, last_was_image = self.tokenizer.bos_token or "", [], False
        for index, item in enumerate(sample):
            last_was_text = index > 0 and not last_was_image
            image = self.image_of(item)
            if image is None:
                if add_end_of_utterance_token and last_was_text:
                    prompt += self.end_of_utterance_token
                prompt += item.strip(" ")
            else:
                prompt += f"{image_token}{fake}" if last_was_image else f"{fake}{image_token}{fake}"
                images.append(image)
            last_was_image = image is not None
        if add_eos_token:
            if self.tokenizer.eos_token is None:
                raise ProcessorError("add_eos_token=True needs a tokenizer with an eos_token")
            prompt += self.tokenizer.eos_token
        return prompt, images

    def image_of(self, item: Any) -> Any:
        """The image `item` stands for, or None when it is a text."""
        if not isinstance(item, str):
            return item
        source = item.strip(" ")
        if is_url(source) or source.startswith("file://") or os.path.isfile(source):
            return load_image(source)
        return None

    def pixels_of(self, images: list[Any], images_kwargs: dict[str, Any]) -> torch.Tensor | list[Any]:
        """(images, 3, H, W) pixels of one sample's images ([] without images)."""
        return self.image_processor(images, return_tensors="pt", **images_kwargs) if images else []

    def stacked(self, rows: list[list[int]]) -> torch.Tensor:
        if len({len(row) for row in rows}) > 1:
            raise ProcessorError(
                f"the prompts have {sorted({len(row) for row in rows})} tokens; pad them (padding=True, the default)"
            )
        return torch.tensor(rows, dtype=torch.long)

    def padded_pixels(
        self, input_ids: torch.Tensor, pixels: torch.Tensor | list[Any], num_images: int
    ) -> torch.Tensor:
        """(num_images, C, H, W): the sample's images that still have an `<image>` token after
        truncation, then zeros (C, H, W from the image processor's defaults when none is left)."""
        kept = pixels[: min(int((input_ids == self.image_token_id).sum()), num_images)]
        if len(kept) == 0:
            size = self.image_processor.image_size
            return torch.zeros(num_images, self.image_processor.image_num_channels, size, size)
        padded = torch.zeros(num_images, *kept.shape[1:])
        padded[: len(kept)] = kept
        return padded

    @property
    def model_input_names(self) -> list[str]:
        return ["input_ids", "attention_mask", "pixel_values", "image_attention_mask"]


__all__ = ["IdeficsProcessor"]
