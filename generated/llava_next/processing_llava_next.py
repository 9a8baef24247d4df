# ----------------------------------------------------------------------------------------------------
# This file was generated from modular/modular_llava_next.py by the modular converter. Do not edit it by hand:
# edit modular/modular_llava_next.py instead, then regenerate with
#     python converter/run.py modular/modular_llava_next.py
# ----------------------------------------------------------------------------------------------------

import re
from typing import Any

from runtime.image_processing_utils import BatchFeature, ProcessorError
from runtime.processing_utils import (
    ProcessorMixin,
    TrackedText,
    check_image_tokens,
    check_processor_options,
    checked_text,
)
from runtime.tokenization_utils import Tokenizer

from .image_processing_llava_next import LlavaNextImageProcessor, select_best_resolution


class LlavaNextProcessor(ProcessorMixin):
    """Each `<image>` becomes the tokens LLaVA-NeXT packs for it: the base tile's patches (plus
    `num_additional_image_tokens`), the grid's without the resize padding, one newline per row;
    less one with the "default" strategy. Matches transformers 5.23.0 `LlavaNextProcessor`.
    """

    image_processor_class = LlavaNextImageProcessor
    processor_keys = ("image_token", "num_additional_image_tokens", "patch_size", "vision_feature_select_strategy")
    images_kwargs: dict[str, Any] = {"do_pad": True}
    return_tensors: str | None = None  # the output's tensor type when a call names none

    def __init__(
        self,
        image_processor: LlavaNextImageProcessor,
        tokenizer: Tokenizer,
        patch_size: int | None = None,
        vision_feature_select_strategy: str | None = None,
        chat_template: str | None = None,
        image_token: str = "<image>",
        num_additional_image_tokens: int = 0,
    ) -> None:
        super().__init__(image_processor, tokenizer, chat_template)
        options = {"patch_size": patch_size, "num_additional_image_tokens": num_additional_image_tokens}
        check_processor_options(options, type(self).__name__)
        if vision_feature_select_strategy not in (None, "default", "full"):
            raise ProcessorError(
                f"{type(self).__name__}: vision_feature_select_strategy must be 'default' or 'full', "
                f"got {vision_feature_select_strategy!r}"
            )
        self.patch_size = patch_size
        self.num_additional_image_tokens = num_additional_image_tokens
        self.vision_feature_select_strategy = vision_feature_select_strategy
        self.image_token = image_token
        self.image_token_id = tokenizer.convert_tokens_to_ids(image_token)

    def __call__(
        self,
        images: Any = None,
        text: str | list[str] | None = None,
        videos: Any = None,
        return_tensors: str | None = None,
        **kwargs: Any,
    ) -> BatchFeature:
        """Image options (`size`, `do_pad`, ...) go to the image processor, the rest (`padding`,
        `padding_side`, ...) to the tokenizer. Images: one, a list, or one list per prompt (all
        taken in order: the i-th `<image>` of the batch is the i-th image); each a PIL image, an
        array, a tensor, or a string naming one (a path, an http(s) or file:// URL, base64)."""
        if images is None and text is None and videos is None:
            raise ProcessorError(f"You need to provide at least one input to call {type(self).__name__}")
        text = checked_text(text)  # None or a non-empty list of strings
        # a call for assistant masks (tracked prompts) is converted by its caller, the runtime
        tensors = return_tensors or (None if kwargs.get("return_tracked_prompts") else self.return_tensors)
        features, replacements, text_kwargs = self.process_media(images, videos, kwargs)
        inputs = {}
        if text is not None:
            prompts = self.expand_prompts(text, replacements)
            inputs.update(self.tokenize_prompts(prompts, **text_kwargs))
            self.check_placeholders_kept(prompts, inputs["input_ids"], list(replacements))
        inputs.update(features)
        return BatchFeature(inputs, tensor_type=tensors)

    def process_media(
        self, images: Any, videos: Any, kwargs: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, tuple[str, list[str]]], dict[str, Any]]:
        """(model inputs of the media, {placeholder token: (media name, one expansion per item)},
        the tokenizer's options). LLaVA has no video processor: `videos` are ignored, as in transformers."""
        images_kwargs, text_kwargs = self.split_kwargs(kwargs)
        features, expansions = self.process_images(images, images_kwargs)
        return features, {self.image_token: ("images", expansions)}, text_kwargs

    def process_images(self, images: Any, images_kwargs: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """(the image processor's model inputs, each image's `<image>` expansion, in order)."""
        if images is None:
            return {}, []
        image_inputs = self.image_processor(images, **{**self.images_kwargs, **images_kwargs})
        expansions = []
        for index in range(len(image_inputs["pixel_values"])):
            count = self.num_image_tokens(image_inputs, index)
            check_image_tokens(count, type(self).__name__)
            expansions.append(self.image_token * count)
        names = self.image_processor.model_input_names
        return {key: value for key, value in image_inputs.items() if key in names}, expansions

    def check_placeholders_kept(
        self, prompts: list[TrackedText], input_ids: list[list[int]], tokens: list[str]
    ) -> None:
        """`ProcessorError` when tokenizing lost placeholder tokens (truncation), as transformers checks."""
        for token in tokens:
            token_id = self.tokenizer.convert_tokens_to_ids(token)
            ids_count = [list(row).count(token_id) for row in input_ids]
            text_count = [prompt.text.count(token) for prompt in prompts]
            if ids_count != text_count:
                raise ProcessorError(
                    f"Mismatch in {token} token count between text and input_ids: got ids={ids_count} and "
                    f"text={text_count}; disable truncation or raise max_length"
                )

    def checked_patch_size(self) -> int:
        if self.patch_size is None:
            raise ProcessorError(f"{type(self).__name__} needs patch_size (the vision tower's) to count image tokens")
        return self.patch_size

    def num_image_tokens(self, image_inputs: BatchFeature, index: int) -> int:
        orig_height, orig_width = image_inputs["image_sizes"][index]
        height, width = image_inputs["pixel_values"][0][0].shape[-2:]
        count = self.number_of_features(int(orig_height), int(orig_width), height, width)
        return count - 1 if self.vision_feature_select_strategy == "default" else count

    def expand_prompts(self, text: list[str], replacements: dict[str, tuple[str, list[str]]]) -> list[TrackedText]:
        """Each placeholder token of the batch, in order, replaced by the next expansion of its media;
        `ProcessorError` when the prompts hold more or fewer placeholders than there are media."""
        prompts = [TrackedText(sample) for sample in text]
        for token, (media, expansions) in replacements.items():
            found = sum(sample.count(token) for sample in text)
            if found and not expansions:
                raise ProcessorError(f"Found {found} {token} tokens in the text but no {media} were passed.")
            if expansions and found != len(expansions):
                raise ProcessorError(
                    f"The total number of {token} tokens in the prompts should be the same as the number of "
                    f"{media} passed. Found total {found} {token} tokens and {len(expansions)} {media}."
                )
            queue = iter(expansions)
            prompts = [prompt.sub(re.escape(token), lambda _, queue=queue: next(queue)) for prompt in prompts]
        return prompts

    def number_of_features(self, orig_height: int, orig_width: int, height: int, width: int) -> int:
        """Tokens of an image of (orig_height, orig_width) whose tiles are (height, width). The grid is
        the image processor's own `image_grid_pinpoints`, not a call's override (as transformers)."""
        patch_size = self.checked_patch_size()
        best_height, best_width = select_best_resolution(
            [orig_height, orig_width], self.image_processor.image_grid_pinpoints
        )
        scale_height, scale_width = best_height // height, best_width // width
        patches_height, patches_width = height // patch_size, width // patch_size
        unpadded, newlines = self.unpadded_features(
            orig_height, orig_width, patches_height * scale_height, patches_width * scale_width
        )
        return unpadded + newlines + patches_height * patches_width + self.num_additional_image_tokens

    def unpadded_features(self, height: int, width: int, current_height: int, current_width: int) -> tuple[int, int]:
        """(grid features once the rows or columns of resize padding are cut off, newline features)."""
        if width / height > current_width / current_height:
            new_height = int(round(height * (current_width / width), 7))
            current_height -= (current_height - new_height) // 2 * 2
        else:
            new_width = int(round(width * (current_height / height), 7))
            current_width -= (current_width - new_width) // 2 * 2
        return current_height * current_width, current_height


__all__ = ["LlavaNextProcessor"]
