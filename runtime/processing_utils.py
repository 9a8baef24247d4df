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
    inputs = processor(images=[image], text=[prompt], return_tensors="pt")
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, ClassVar

from runtime.chat_template import render_chat_template
from runtime.hub import read_json_file, resolve_file
from runtime.image_processing_utils import PROCESSOR_NAME, BaseImageProcessor, BatchFeature
from runtime.tokenization_utils import Tokenizer

CHAT_TEMPLATE_FILE = "chat_template.jinja"
LEGACY_CHAT_TEMPLATE_FILE = "chat_template.json"


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
        if self.chat_template is not None:
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
        tokenize: bool = False,
        return_dict: bool = False,
        return_tensors: str | None = None,
        **kwargs: Any,
    ) -> str | list[str] | Any:
        """The prompt text of one conversation (a list of them: a list of prompts).

        With `tokenize=True`, the prompts go through `__call__` with the images found in the
        messages (`{"type": "image", "image": <PIL image or array>}`); returns `input_ids`, or the
        whole `BatchFeature` with `return_dict=True`.
        """
        template = chat_template or self.chat_template
        if template is None:
            raise ValueError("this processor has no chat template; pass chat_template=...")
        batched = bool(conversation) and isinstance(conversation[0], (list, tuple))
        conversations = conversation if batched else [conversation]
        variables = {**self.tokenizer.special_tokens_map, **kwargs}
        prompts = [
            render_chat_template(template, list(chat), add_generation_prompt, **variables) for chat in conversations
        ]
        if not tokenize:
            return prompts if batched else prompts[0]
        images = [[item["image"] for item in _content_items(chat) if "image" in item] for chat in conversations]
        call_kwargs: dict[str, Any] = {"return_tensors": return_tensors}
        if self.tokenizer.bos_token is not None and prompts[0].startswith(self.tokenizer.bos_token):
            call_kwargs["add_special_tokens"] = False
        out = self(text=prompts, images=images if any(images) else None, **call_kwargs)
        return out if return_dict else out["input_ids"]

    def decode(self, *args: Any, **kwargs: Any) -> str:
        return self.tokenizer.decode(*args, **kwargs)

    def batch_decode(self, *args: Any, **kwargs: Any) -> list[str]:
        return self.tokenizer.batch_decode(*args, **kwargs)

    @property
    def model_input_names(self) -> list[str]:
        return ["input_ids", "attention_mask", *self.image_processor.model_input_names]


def _content_items(chat: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [item for message in chat if isinstance(message.get("content"), list) for item in message["content"]]
