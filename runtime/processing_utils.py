"""Processors: an image processor, a tokenizer and a chat template behind one call.

A model's processor (generated, e.g. `Idefics2Processor`) names its image processor class and
the options it saves (`processor_keys`, e.g. `image_seq_len`) and defines `__call__`; this base
loads and saves the directory layout transformers 5 writes and reads the older ones:

    processor_config.json   {"image_processor": {...}, "image_seq_len": 64, "processor_class": ...}
    preprocessor_config.json  (older checkpoints: the image processor on its own)
    tokenizer.json, tokenizer_config.json
    chat_template.jinja       (with additional_chat_templates/*.jinja; or chat_template.json, or a
                              "chat_template" key in either config)

    processor = Idefics2Processor.from_pretrained("path/to/checkpoint")
    prompt = processor.apply_chat_template(messages, add_generation_prompt=True)
    inputs = processor(images=[image], text=[prompt], return_tensors="pt")   # image: PIL, array, path, URL, ...
    inputs = processor.apply_chat_template(messages, tokenize=True, return_dict=True, return_assistant_tokens_mask=True)

`TrackedText` lets a processor expand its prompts (`<image>` -> many tokens) while keeping track of
where the caller's characters went, which is how assistant masks survive the expansion.

Configs and calls are checked before anything is sized by them: `image_seq_len` (at most
`MAX_IMAGE_SEQ_LEN`), the tokens one image expands to (`MAX_IMAGE_TOKENS`, checked by the model's
processor before it builds the expansion), `text` (a string or a non-empty list of strings), and
options neither the image processor nor the tokenizer takes; a `ProcessorError` (a ValueError)
names the file or argument and the field.
"""

from __future__ import annotations

import bisect
import inspect
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
    chat_template_and_label,
    check_named_templates,
    normalize_conversations,
    read_chat_templates,
    render_conversations,
    select_chat_template,
    template_variables,
)
from runtime.hub import read_json_file
from runtime.image_checks import ProcessorError
from runtime.image_processing_utils import PROCESSOR_NAME, BaseImageProcessor, BatchFeature
from runtime.tokenization_utils import CHAT_TEMPLATE_FILE, Tokenizer
from runtime.tokenizer_checks import checked_texts

LEGACY_CHAT_TEMPLATE_FILE = "chat_template.json"
IMAGE_KEYS = ("image", "url", "path", "base64")  # where an image block of a message holds its image
TRACKED_PROMPTS = "tracked_prompts"
MAX_IMAGE_SEQ_LEN = 2**12  # tokens per image (tile); real processors use 64 to a few hundred
MAX_IMAGE_TOKENS = 2**18  # tokens one image may expand to, all its tiles together (Idefics3: 17 x 169)
PROCESSOR_OPTION_LIMITS = {"image_seq_len": (1, MAX_IMAGE_SEQ_LEN)}  # option -> (smallest, largest)
PROCESSOR_OPTION_LIMITS["patch_size"] = (1, 2**12)  # LLaVA: the vision tower's patch edge, in pixels
PROCESSOR_OPTION_LIMITS["num_additional_image_tokens"] = (0, MAX_IMAGE_SEQ_LEN)  # LLaVA: CLS and such
TOKENIZER_OPTIONS = frozenset(inspect.signature(Tokenizer.__call__).parameters) - {"self", "text"}


def _read_json(path_or_repo_id: str | os.PathLike, filename: str, **hub_kwargs: Any) -> dict[str, Any]:
    return read_json_file(path_or_repo_id, filename, error=ProcessorError, **hub_kwargs) or {}


def load_chat_template(
    path_or_repo_id: str | os.PathLike, tokenizer: Tokenizer, **hub_kwargs: Any
) -> tuple[str | dict[str, str] | None, str | None]:
    """(the first of chat_template.jinja (with additional_chat_templates/), chat_template.json,
    processor_config.json, tokenizer_config.json that holds a template; the file it came from)."""
    templates, origin = read_chat_templates(path_or_repo_id, **hub_kwargs)
    if templates is not None:
        return templates, origin
    for filename in (LEGACY_CHAT_TEMPLATE_FILE, PROCESSOR_NAME):
        template = _read_json(path_or_repo_id, filename, **hub_kwargs).get("chat_template")
        if template is not None:
            source = str(Path(str(path_or_repo_id), filename))
            check_named_templates(template, f"{source}: chat_template")
            return template, source
    return tokenizer.chat_template, tokenizer.chat_template_origin


def check_processor_options(options: dict[str, Any], source: str) -> None:
    """`ProcessorError` naming `source` and the option for a processor option (`image_seq_len`, ...)
    that is not an integer within `PROCESSOR_OPTION_LIMITS`, before anything is sized by it."""
    for name, (low, high) in PROCESSOR_OPTION_LIMITS.items():
        value = options.get(name)
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool):
            raise ProcessorError(f"{source}: {name} must be an integer, got {type(value).__name__}")
        if not low <= value <= high:
            shown = (
                value
                if value.bit_length() < 64
                else f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
            )
            raise ProcessorError(f"{source}: {name}={shown} must be between {low} and {high}")


def check_image_tokens(count: int, source: str) -> None:
    """`ProcessorError` naming `source` when one image would expand to more than `MAX_IMAGE_TOKENS`
    tokens in the prompt (a processor checks this before it builds the expansion)."""
    if count > MAX_IMAGE_TOKENS:
        raise ProcessorError(
            f"{source}: an image would expand to {count} tokens, more than {MAX_IMAGE_TOKENS} "
            "(image_seq_len times the tiles of max_image_size)"
        )


def checked_text(text: Any) -> list[str] | None:
    """A processor's `text` argument as a list of prompts: None stays None, a string is one prompt,
    a list must be a non-empty list of strings; `ProcessorError` otherwise."""
    return None if text is None else checked_texts(text, error=ProcessorError)


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
        check_named_templates(chat_template, "chat_template")
        self.image_processor = image_processor
        self.tokenizer = tokenizer
        self.chat_template = chat_template
        self.chat_template_origin: str | None = None  # the file the chat template was read from

    @classmethod
    def from_pretrained(cls, path_or_repo_id: str | os.PathLike, **hub_kwargs: Any) -> ProcessorMixin:
        """The image processor, the tokenizer, the options of processor_config.json (checked by
        `check_processor_options`, naming the file) and the chat template (`load_chat_template`)."""
        image_processor = cls.image_processor_class.from_pretrained(path_or_repo_id, **hub_kwargs)
        tokenizer = Tokenizer.from_pretrained(path_or_repo_id, **hub_kwargs)
        config = _read_json(path_or_repo_id, PROCESSOR_NAME, **hub_kwargs)
        options = {key: config[key] for key in cls.processor_keys if key in config}
        check_processor_options(options, str(Path(str(path_or_repo_id), PROCESSOR_NAME)))
        chat_template, origin = load_chat_template(path_or_repo_id, tokenizer, **hub_kwargs)
        processor = cls(image_processor, tokenizer, chat_template=chat_template, **options)
        processor.chat_template_origin = origin
        return processor

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
        template, label = chat_template_and_label(
            self.chat_template, chat_template, "processor", self.chat_template_origin
        )
        conversations, batched = normalize_conversations(conversation)
        conversations = [[_with_image_blocks(message) for message in chat] for chat in conversations]
        variables = {**self.tokenizer.special_tokens_map, **kwargs}
        prompts, spans = render_conversations(
            template, conversations, add_generation_prompt, return_assistant_tokens_mask, variables, label
        )
        if not tokenize:
            return prompts if batched else prompts[0]
        used = template_variables(template, label)
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
        unknown = sorted(set(text_kwargs) - TOKENIZER_OPTIONS)
        if unknown:
            image_options = [*self.image_processor.config_keys, *self.image_processor.call_only_keys]
            raise ProcessorError(
                f"{type(self).__name__} got unknown options {[name[:40] for name in unknown[:10]]}; image options: "
                f"{image_options}, text options: {sorted(TOKENIZER_OPTIONS)}"
            )
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
    reads (an image, a URL, a path, base64; a block holding several gives each). Content items
    that are not dicts are the template's business, not images."""
    items = [item for message in chat if isinstance(message.get("content"), list) for item in message["content"]]
    blocks = [item for item in items if isinstance(item, dict) and item.get("type") == "image"]
    return [block[key] for block in blocks for key in IMAGE_KEYS if key in block]


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
