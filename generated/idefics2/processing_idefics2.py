# ----------------------------------------------------------------------------------------------------
# This file was generated from modular/modular_idefics2.py by the modular converter. Do not edit it by hand:
# edit modular/modular_idefics2.py instead, then regenerate with
#     python converter/run.py modular/modular_idefics2.py
# ----------------------------------------------------------------------------------------------------

import re
from itertools import accumulate
from typing import Any

from runtime.image_loading import load_image
from runtime.image_processing_utils import BatchFeature, ProcessorError
from runtime.processing_utils import ProcessorMixin, TrackedText, check_processor_options, checked_text
from runtime.tokenization_utils import Tokenizer

from .image_processing_idefics2 import Idefics2ImageProcessor


class Idefics2Processor(ProcessorMixin):
    """Images through `Idefics2ImageProcessor`; each `<image>` in the text becomes
    `<fake_token_around_image>` + `image_seq_len` x `<image>` + `<fake_token_around_image>` (five
    such groups when images are split), then the tokenizer. Matches transformers 5.23.0
    `Idefics2Processor` (`input_ids`, `attention_mask`, `pixel_values`, `pixel_attention_mask`).
    """

    image_processor_class = Idefics2ImageProcessor
    processor_keys = ("image_seq_len",)
    images_kwargs: dict[str, Any] = {}  # options this processor always passes to its image processor

    def __init__(
        self,
        image_processor: Idefics2ImageProcessor,
        tokenizer: Tokenizer,
        image_seq_len: int = 64,
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
        return load_image(image)

    def expand_prompts(
        self, text: list[str], image_inputs: BatchFeature | None, image_seq_len: int
    ) -> list[TrackedText]:
        fake, image = self.fake_image_token, self.image_token
        image_str = f"{fake}{image * image_seq_len}{fake}"
        if self.image_processor.do_image_splitting:
            image_str = image_str * 5  # 4 crops + the whole image
        closing_fake = re.compile(rf"{re.escape(fake)}(?=[^\s<])")
        # adjacent images share one fake token; a word right after an image starts after a space
        return [
            TrackedText(sample)
            .sub(re.escape(image), image_str)
            .sub(re.escape(fake + fake), fake)
            .sub(closing_fake, f"{fake} ")
            for sample in text
        ]


__all__ = ["Idefics2Processor"]
