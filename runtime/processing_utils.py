"""Processors: an image processor, a tokenizer and a chat template behind one call.

A model's processor (generated, e.g. `Idefics2Processor`) names its image processor class and
the options it saves (`processor_keys`, e.g. `image_seq_len`) and defines `__call__`; this base
loads and saves the directory layout transformers 5 writes and reads the older ones:

    processor_config.json   {"image_processor": {...}, "image_seq_len": 64, "processor_class": ...}
    preprocessor_config.json  (older checkpoints: the image processor on its own)
    tokenizer.json, tokenizer_config.json
    chat_template.jinja       (or chat_template.json, or a "chat_template" key in either config)

    processor = Idefics2Processor.from_pretrained("path/to/checkpoint")
    prompt = processor.apply_chat_template(messages, add_generation_prompt=True)
    inputs = processor(images=[image], text=[prompt], return_tensors="pt")   # image: PIL, array, path, URL, ...
    inputs = processor.apply_chat_template(messages, tokenize=True, return_dict=True, return_assistant_tokens_mask=True)

`TrackedText` lets a processor expand its prompts (`<image>` -> many tokens) while keeping track of
where the caller's characters went, which is how assistant masks survive the expansion.
"""

from __future__ import annotations

import bisect
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from runtime.chat_template import (
    Span,
    assistant_mask_from_offsets,
    normalize_conversations,
    render_conversations,
    select_chat_template,
    template_variables,
)
from runtime.hub import read_json_file, resolve_file
from runtime.image_processing_utils import PROCESSOR_NAME, BaseImageProcessor, BatchFeature
from runtime.tokenization_utils import CHAT_TEMPLATE_FILE, Tokenizer

LEGACY_CHAT_TEMPLATE_FILE = "chat_template.json"
IMAGE_KEYS = ("image", "url", "path", "base64")  # where an image block of a message holds its image
TRACKED_PROMPTS = "tracked_prompts"


def _read_json(path_or_repo_id: str | os.PathLike, filename: str, **hub_kwargs: Any) -> dict[str, Any]:
    return read_json_file(path_or_repo_id, filename, **hub_kwargs) or {}


def load_chat_template(path_or_repo_id: str | os.PathLike, tokenizer: Tokenizer, **hub_kwargs: Any) -> str | None:
    """The first of chat_template.jinja, chat_template.json, processor_config.json, tokenizer_config.json."""
    path = resolve_file(path_or_repo_id, CHAT_TEMPLATE_FILE, missing_ok=True, **hub_kwargs)
    if path is not None:
        return path.read_text(encoding="utf-8")
    for filename in (LEGACY_CHAT_TEMPLATE_FILE, PROCESSOR_NAME):
        template = _read_json(path_or_repo_id, filename, **hub_kwargs).get("chat_template")
        if template is not None:
            return template
    return tokenizer.chat_template


@dataclass(frozen=True)
class TrackedText:
    """A prompt rewritten by substitutions (each `<image>` expanded, ...) that remembers where each
    character of the original went, so spans found in the original can be found in the result.

        prompt = TrackedText("a<image>b").sub("<image>", "<i><i>")
        prompt.text == "a<i><i>b" and prompt.position(8) == 7   # where "b" went

    A character moves by what the matches ending at or before it added, as in transformers'
    `text_replacement_offsets`; a character inside a match stays where the match starts plus its offset.
    """

    text: str
    steps: tuple[tuple[tuple[int, int], ...], ...] = ()  # per substitution: (match end, total growth) per match

    def sub(self, pattern: str | re.Pattern[str], replacement: str | Callable[[re.Match[str]], str]) -> TrackedText:
        """`re.sub(pattern, ...)` recording each match; a string replacement is literal (no group references)."""
        pieces, ends, last, growth = [], [], 0, 0
        for match in re.finditer(pattern, self.text):
            new = replacement if isinstance(replacement, str) else replacement(match)
            pieces += [self.text[last : match.start()], new]
            growth += len(new) - (match.end() - match.start())
            ends.append((match.end(), growth))
            last = match.end()
        pieces.append(self.text[last:])
        return TrackedText("".join(pieces), (*self.steps, tuple(ends)))

    def position(self, char: int) -> int:
        """Where character `char` of the original text is in `text` (len(original) -> len(text))."""
        for ends in self.steps:
            index = bisect.bisect_right(ends, char, key=lambda end: end[0])
            char += ends[index - 1][1] if index else 0
        return char


class ProcessorMixin:
    image_processor_class: ClassVar[type[BaseImageProcessor]]
    processor_keys: ClassVar[tuple[str, ...]] = ()

    def __init__(self, image_processor: BaseImageProcessor, tokenizer: Tokenizer, chat_template: str | None = None):
        self.image_processor = image_processor
        self.tokenizer = tokenizer
        self.chat_template = chat_template

    @classmethod
    def from_pretrained(cls, path_or_repo_id: str | os.PathLike, **hub_kwargs: Any) -> ProcessorMixin:
        image_processor = cls.image_processor_class.from_pretrained(path_or_repo_id, **hub_kwargs)
        tokenizer = Tokenizer.from_pretrained(path_or_repo_id, **hub_kwargs)
        config = _read_json(path_or_repo_id, PROCESSOR_NAME, **hub_kwargs)
        options = {key: config[key] for key in cls.processor_keys if key in config}
        chat_template = load_chat_template(path_or_repo_id, tokenizer, **hub_kwargs)
        return cls(image_processor, tokenizer, chat_template=chat_template, **options)

    def save_pretrained(self, save_directory: str | os.PathLike) -> None:
        """The layout transformers 5 writes, so its `AutoProcessor.from_pretrained` reads it back."""
        directory = Path(save_directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.tokenizer.save_pretrained(directory)
        config = {
            "image_processor": self.image_processor.to_dict(),
            **{key: getattr(self, key) for key in self.processor_keys},
            "processor_class": type(self).__name__,
        }
        text = json.dumps(config, indent=2, sort_keys=True) + "\n"
        (directory / PROCESSOR_NAME).write_text(text, encoding="utf-8")
        if isinstance(self.chat_template, str):  # named templates stay in tokenizer_config.json
            (directory / CHAT_TEMPLATE_FILE).write_text(self.chat_template, encoding="utf-8")

    def __call__(self, images: Any = None, text: Any = None, **kwargs: Any) -> BatchFeature:
        raise NotImplementedError(f"{type(self).__name__} must define __call__")

    def split_kwargs(self, kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Options of the image processor vs the tokenizer's (`padding`, `padding_side`, ...)."""
        image_keys = (*self.image_processor.config_keys, *self.image_processor.call_only_keys)
        images_kwargs = {key: value for key, value in kwargs.items() if key in image_keys}
        text_kwargs = {key: value for key, value in kwargs.items() if key not in image_keys}
        return images_kwargs, text_kwargs

    def apply_chat_template(
        self,
        conversation: list[dict[str, Any]] | list[list[dict[str, Any]]],
        chat_template: str | None = None,
        add_generation_prompt: bool = False,
        return_assistant_tokens_mask: bool = False,
        tokenize: bool = False,
        return_tensors: str | None = None,
        return_dict: bool = False,
        processor_kwargs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> str | list[str] | Any:
        """The prompt text of one conversation (a list of them: a list of prompts).

        With `tokenize=True`, the prompts go through `__call__` with the images found in the
        messages (`{"type": "image", ...}` with an `image`, `url`, `path` or `base64` key, or
        OpenAI's `{"type": "image_url", "image_url": {"url": ...}}`); returns `input_ids`, or the
        whole `BatchFeature` with `return_dict=True`, plus `assistant_masks` (1 on the tokens
        rendered inside `{% generation %}` blocks) with `return_assistant_tokens_mask=True`.
        `processor_kwargs` go to `__call__` (`padding`, ...); so do the keywords the template does
        not use, as in transformers; every keyword is also a template variable.
        """
        template = self.resolve_chat_template(chat_template)
        conversations, batched = normalize_conversations(conversation)
        conversations = [[_with_image_blocks(message) for message in chat] for chat in conversations]
        variables = {**self.tokenizer.special_tokens_map, **kwargs}
        prompts, spans = render_conversations(
            template, conversations, add_generation_prompt, return_assistant_tokens_mask, **variables
        )
        if not tokenize:
            return prompts if batched else prompts[0]
        used = template_variables(template)
        call_kwargs = {**(processor_kwargs or {}), **{k: v for k, v in kwargs.items() if k not in used}}
        tensors_in_kwargs = call_kwargs.pop("return_tensors", None)
        return_tensors = return_tensors or tensors_in_kwargs
        if self.tokenizer.bos_token is not None and prompts[0].startswith(self.tokenizer.bos_token):
            call_kwargs["add_special_tokens"] = False
        images = [_images_of(chat) for chat in conversations]
        if given := call_kwargs.pop("images", None):  # images passed in processor_kwargs win, as in transformers
            images = given if batched else [given]
        call_kwargs["images"] = images if any(images) else None
        if return_assistant_tokens_mask and return_dict:
            return self._call_with_assistant_masks(prompts, spans, return_tensors, **call_kwargs)
        out = self(text=prompts, return_tensors=return_tensors, **call_kwargs)
        return out if return_dict else out["input_ids"]

    def _call_with_assistant_masks(
        self, prompts: list[str], spans: list[list[Span]], return_tensors: str | None, **call_kwargs: Any
    ) -> BatchFeature:
        """`__call__`'s output plus `assistant_masks`: the generation spans, moved to where the
        expanded prompts put them (transformers' `text_replacement_offsets`), mark the tokens
        whose characters overlap them."""
        out = self(text=prompts, **{**call_kwargs, "return_offsets_mapping": True, "return_tracked_prompts": True})
        offsets, tracked = out.pop("offset_mapping"), out.pop(TRACKED_PROMPTS)
        out["assistant_masks"] = [
            assistant_mask_from_offsets([tuple(map(prompt.position, span)) for span in prompt_spans], row_offsets)
            for prompt, prompt_spans, row_offsets in zip(tracked, spans, offsets, strict=True)
        ]
        return out.convert_to_tensors(return_tensors)

    def resolve_chat_template(self, chat_template: str | None = None) -> str:
        """`chat_template` itself or the one of this name, else the processor's own."""
        return select_chat_template(self.chat_template, chat_template, "processor")

    def tokenize_prompts(self, prompts: list[TrackedText], **text_kwargs: Any) -> dict[str, Any]:
        """The tokenizer's output on the expanded prompts. With `return_tracked_prompts=True` (what
        `apply_chat_template` asks for assistant masks) the prompts themselves come back too, under
        `tracked_prompts`: they map characters of the caller's text to the expanded one."""
        track = text_kwargs.pop("return_tracked_prompts", False)
        encoding = self.tokenizer([prompt.text for prompt in prompts], **text_kwargs)
        if track:
            encoding[TRACKED_PROMPTS] = prompts
        return encoding

    def decode(self, *args: Any, **kwargs: Any) -> str:
        return self.tokenizer.decode(*args, **kwargs)

    def batch_decode(self, *args: Any, **kwargs: Any) -> list[str]:
        return self.tokenizer.batch_decode(*args, **kwargs)

    @property
    def model_input_names(self) -> list[str]:
        return ["input_ids", "attention_mask", *self.image_processor.model_input_names]


def _images_of(chat: list[dict[str, Any]]) -> list[Any]:
    """The images of a conversation's image blocks, in order, under any of the keys transformers
    reads (an image, a URL, a path, base64; a block holding several gives each)."""
    items = [item for message in chat if isinstance(message.get("content"), list) for item in message["content"]]
    return [item[key] for item in items if item.get("type") == "image" for key in IMAGE_KEYS if key in item]


def _with_image_blocks(message: dict[str, Any]) -> dict[str, Any]:
    """OpenAI's `{"type": "image_url", "image_url": {"url": u}}` -> `{"type": "image", "url": u}`."""
    content = message.get("content")
    if not isinstance(content, list):
        return message
    blocks = [
        {"type": "image", "url": _url_of(item["image_url"])}
        if isinstance(item, dict) and item.get("type") == "image_url" and "image_url" in item
        else item
        for item in content
    ]
    return {**message, "content": blocks}


def _url_of(image_url: Any) -> Any:
    return image_url.get("url", "") if isinstance(image_url, dict) else image_url
