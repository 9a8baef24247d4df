# ----------------------------------------------------------------------------------------------------
# This file was generated from modular/modular_idefics3.py by the modular converter. Do not edit it by hand:
# edit modular/modular_idefics3.py instead, then regenerate with
#     python converter/run.py modular/modular_idefics3.py
# ----------------------------------------------------------------------------------------------------

import re
from itertools import accumulate
from typing import Any

from runtime.image_loading import fetch_image
from runtime.image_processing_utils import BatchFeature, ProcessorError
from runtime.processing_utils import (
    ProcessorMixin,
    TrackedText,
    check_image_tokens,
    check_processor_options,
    checked_text,
)
from runtime.tokenization_utils import Tokenizer

from .image_processing_idefics3 import Idefics3ImageProcessor


class Idefics3Processor(ProcessorMixin):
    """Images through `Idefics3ImageProcessor`; each `<image>` becomes one group per tile
    (`<fake_token_around_image><row_r_col_c>` + `image_seq_len` x `<image>`, a newline after each
    row) and then the whole image (`<fake_token_around_image><global-img>` + `image_seq_len` x
    `<image>` + `<fake_token_around_image>`). Matches transformers 5.23.0 `Idefics3Processor`.
    Text holding `<image>` needs images.
    """

    image_processor_class = Idefics3ImageProcessor
    processor_keys = ("image_seq_len",)
    images_kwargs: dict[str, Any] = {"return_row_col_info": True}

    def __init__(
        self,
        image_processor: Idefics3ImageProcessor,
        tokenizer: Tokenizer,
        image_seq_len: int = 169,
        chat_template: str | None = None,
    ) -> None:
        super().__init__(image_processor, tokenizer, chat_template)
        self.fake_image_token = "<fake_token_around_image>"
        self.image_token = "<image>"
        self.end_of_utterance_token = "<end_of_utterance>"
        tokenizer.add_special_tokens([self.fake_image_token, self.image_token, self.end_of_utterance_token])
        self.image_token_id = tokenizer.convert_tokens_to_ids(self.image_token)
        check_processor_options({"image_seq_len": image_seq_len}, type(self).__name__)
        self.image_seq_len = image_seq_len
        self.global_image_tag = "<global-img>"

    def __call__(
        self,
        images: Any = None,
        text: str | list[str] | None = None,
        image_seq_len: int | None = None,
        return_tensors: str | None = None,
        **kwargs: Any,
    ) -> BatchFeature:
        """Image options (`do_image_splitting`, ...) go to the image processor, the rest (`padding`,
        `padding_side`, ...) to the tokenizer. Images: one, a flat list (cut by each prompt's
        `<image>` count) or one list per prompt; each a PIL image, an array, a tensor, or a string
        naming one (a path, an http(s) or file:// URL, base64)."""
        if text is None and images is None:
            raise ProcessorError("You must provide either `text` or `images`.")
        images_kwargs, text_kwargs = self.split_kwargs(kwargs)
        text = checked_text(text)  # None or a non-empty list of strings
        image_seq_len = image_seq_len or self.image_seq_len
        check_processor_options({"image_seq_len": image_seq_len}, type(self).__name__)
        inputs, image_inputs = {}, None
        if images is not None:
            counts = [sample.count(self.image_token) for sample in text] if text is not None else None
            images = [[self.load_image(image) for image in sample] for sample in self.group_images(images, counts)]
            image_inputs = self.image_processor(images, **{**self.images_kwargs, **images_kwargs})
        if text is not None:
            prompts = self.expand_prompts(text, image_inputs, image_seq_len)
            inputs.update(self.tokenize_prompts(prompts, **text_kwargs))
        if image_inputs is not None:
            names = self.image_processor.model_input_names
            inputs.update({key: value for key, value in image_inputs.items() if key in names})
        return BatchFeature(inputs, tensor_type=return_tensors)

    def group_images(self, images: Any, counts: list[int] | None) -> list[list[Any]]:
        """One list of images per prompt; `counts` are the prompts' `<image>` counts (None without text)."""
        if not isinstance(images, (list, tuple)):
            images = [[images]]
        elif images and not isinstance(images[0], (list, tuple)):
            if counts is not None and sum(counts) != len(images):
                raise ProcessorError(
                    f"The total number of {self.image_token} tokens in the prompts should be the same as the number "
                    f"of images passed. Found {sum(counts)} {self.image_token} tokens and {len(images)} images."
                )
            bounds = [0, *accumulate(counts)] if counts is not None else [0, len(images)]
            images = [list(images[start:end]) for start, end in zip(bounds, bounds[1:], strict=False)]
        if counts is not None and [len(sample) for sample in images] != counts:
            raise ProcessorError(
                f"The number of images in the text {counts} and images {[len(s) for s in images]} differ."
            )
        return images

    def load_image(self, image: Any) -> Any:
        return fetch_image(image)

    def expand_prompts(
        self, text: list[str], image_inputs: BatchFeature | None, image_seq_len: int
    ) -> list[TrackedText]:
        if image_inputs is None:
            if any(self.image_token in sample for sample in text):
                count = sum(sample.count(self.image_token) for sample in text)
                raise ProcessorError(f"Found {count} {self.image_token} tokens in the text but no images were passed.")
            return [TrackedText(sample) for sample in text]
        grids = list(zip(sum(image_inputs["rows"], []), sum(image_inputs["cols"], []), strict=True))
        for rows, cols in grids:  # before any prompt is built: tiles times tokens can be large
            check_image_tokens((rows * cols + 1) * image_seq_len, type(self).__name__)
        replacements = iter([self.image_prompt(rows, cols, image_seq_len) for rows, cols in grids])
        image_token = re.escape(self.image_token)
        return [TrackedText(sample).sub(image_token, lambda _: next(replacements)) for sample in text]

    def image_prompt(self, rows: int, cols: int, image_seq_len: int) -> str:
        fake, image_tokens = self.fake_image_token, self.image_token * image_seq_len
        whole = f"{fake}{self.global_image_tag}{image_tokens}{fake}"
        if rows == 0 and cols == 0:
            return whole
        grid = "".join(
            "".join(f"{fake}<row_{r + 1}_col_{c + 1}>{image_tokens}" for c in range(cols)) + "\n" for r in range(rows)
        )
        return f"{grid}\n{whole}"


__all__ = ["Idefics3Processor"]
