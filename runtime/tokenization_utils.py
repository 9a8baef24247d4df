"""A small tokenizer on the `tokenizers` library, reading and writing what transformers 5 writes.

    tokenizer = Tokenizer.from_pretrained("path/to/checkpoint")     # tokenizer.json + tokenizer_config.json
    batch = tokenizer(["a prompt", "a longer prompt"], padding=True, return_tensors="pt")
    tokenizer.batch_decode(batch["input_ids"], skip_special_tokens=True)
    tokenizer.apply_chat_template(messages, return_assistant_tokens_mask=True)  # input_ids, assistant_masks

Encoding, special tokens (the post-processor in `tokenizer.json`, e.g. a BOS token) and decoding
are the `tokenizers` library's, as in transformers' `TokenizersBackend`; this class adds padding
(`padding_side` from the config or per call), truncation, tensors, character offsets
(`offset_mapping`, `char_to_token`), the special-token names and the chat template.

Files are read through `resolve_file` (which keeps them inside the checkpoint folder) and checked
before use: a tokenizer.json or tokenizer_config.json that is not UTF-8, not JSON, of the wrong
shape, or with fields of the wrong type, and calls with arguments of the wrong type, raise a
`TokenizerError` naming the file (or the argument) and the field; template problems are
`ChatTemplateError`s. Neither echoes a file's content.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import tokenizers
import torch

from runtime.chat_template import (
    CHAT_TEMPLATE_FILE,
    assistant_mask_from_char_to_token,
    chat_template_and_label,
    normalize_conversations,
    read_chat_templates,
    render_conversations,
    select_chat_template,
)
from runtime.hub import read_json_file, resolve_file
from runtime.image_processing_utils import BatchFeature
from runtime.tokenizer_checks import (
    SPECIAL_TOKEN_NAMES,
    TokenizerError,
    check_lengths,
    check_tokenizer_config,
    checked_ids,
    checked_texts,
    load_backend_tokenizer,
)

TOKENIZER_FILE = "tokenizer.json"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"


def _token_text(token: Any) -> str | None:
    """A special token as tokenizer_config.json stores it: a string or an AddedToken dict."""
    return token.get("content") if isinstance(token, dict) else token


def _named_templates(template: Any) -> str | dict[str, str] | None:
    """A chat template as tokenizer_config.json may store it: a string, or a list of
    `{"name": ..., "template": ...}` (several named templates) -> a dict by name."""
    if isinstance(template, list):
        return {entry["name"]: entry["template"] for entry in template}
    return template


def clean_up_tokenization(text: str) -> str:
    """Drop the spaces a word-level decoder leaves before punctuation and English contractions."""
    for spaced, joined in ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't")):
        text = text.replace(spaced, joined)
    for suffix in ("'m", "'s", "'ve", "'re"):
        text = text.replace(" " + suffix, suffix)
    return text


@dataclass(frozen=True)
class EncodedRow:
    """One text's tokens as returned: `encoding.ids[start:stop]` (truncation) between `left_pad`
    and `right_pad` padding tokens; maps characters to token positions in the returned row."""

    encoding: tokenizers.Encoding
    start: int
    stop: int
    left_pad: int = 0
    right_pad: int = 0

    def __len__(self) -> int:
        return self.left_pad + self.stop - self.start + self.right_pad

    def padded(self, width: int, side: str) -> EncodedRow:
        if side not in ("left", "right"):
            raise ValueError(f"padding_side must be 'left' or 'right', got {side!r}")
        fill = max(width - len(self), 0)
        return replace(self, left_pad=fill) if side == "left" else replace(self, right_pad=fill)

    def ids(self, pad_id: int | None) -> list[int]:
        return [pad_id] * self.left_pad + self.encoding.ids[self.start : self.stop] + [pad_id] * self.right_pad

    def attention_mask(self) -> list[int]:
        return [0] * self.left_pad + [1] * (self.stop - self.start) + [0] * self.right_pad

    def offsets(self) -> list[tuple[int, int]]:
        kept = self.encoding.offsets[self.start : self.stop]
        return [(0, 0)] * self.left_pad + kept + [(0, 0)] * self.right_pad

    def char_to_token(self, char_index: int) -> int | None:
        """The position of the token holding this character of the text; None when no token does
        (whitespace a pre-tokenizer drops, a character truncated away)."""
        index = self.encoding.char_to_token(char_index)
        if index is None or not self.start <= index < self.stop:
            return None
        return index - self.start + self.left_pad


class BatchEncoding(BatchFeature):
    """A tokenizer's output: the features by name, and `char_to_token` as in transformers."""

    def __init__(self, data: dict[str, Any], rows: list[EncodedRow], tensor_type: str | None = None) -> None:
        super().__init__(data, tensor_type=tensor_type)
        self._rows = rows

    def char_to_token(self, batch_or_char_index: int, char_index: int | None = None) -> int | None:
        """`char_to_token(char)` for the first text, `char_to_token(batch_index, char)` for any."""
        if char_index is None:
            batch_or_char_index, char_index = 0, batch_or_char_index
        return self._rows[batch_or_char_index].char_to_token(char_index)


class Tokenizer:
    """A `tokenizers.Tokenizer` with the special tokens and options of its `tokenizer_config.json`."""

    def __init__(self, tokenizer: tokenizers.Tokenizer, **config: Any) -> None:
        check_tokenizer_config(config, "Tokenizer(...)")
        self.backend_tokenizer = tokenizer
        self.name_or_path: str | None = None
        self.chat_template_origin: str | None = None  # the file the chat template was read from
        self.config = dict(config)
        self.padding_side: str = config.get("padding_side", "right")
        self.truncation_side: str = config.get("truncation_side", "right")
        self.clean_up_tokenization_spaces: bool = bool(config.get("clean_up_tokenization_spaces", False))
        for name in SPECIAL_TOKEN_NAMES:
            setattr(self, name, _token_text(config.get(name)))
        self.chat_template: str | dict[str, str] | None = _named_templates(config.get("chat_template"))

    @classmethod
    def from_pretrained(cls, path_or_repo_id: str | os.PathLike, **hub_kwargs: Any) -> Tokenizer:
        """tokenizer.json and tokenizer_config.json; the chat template from chat_template.jinja and
        additional_chat_templates/*.jinja (where transformers 5 writes them), else the config's
        `chat_template`."""
        tokenizer = load_backend_tokenizer(resolve_file(path_or_repo_id, TOKENIZER_FILE, **hub_kwargs))
        config_file = Path(str(path_or_repo_id), TOKENIZER_CONFIG_FILE)
        config = read_json_file(path_or_repo_id, TOKENIZER_CONFIG_FILE, error=TokenizerError, **hub_kwargs) or {}
        check_tokenizer_config(config, str(config_file))
        origin = str(config_file) if config.get("chat_template") is not None else None
        templates, template_origin = read_chat_templates(path_or_repo_id, **hub_kwargs)
        if templates is not None:
            config["chat_template"], origin = templates, template_origin
        tokenizer = cls(tokenizer, **config)
        tokenizer.name_or_path, tokenizer.chat_template_origin = str(path_or_repo_id), origin
        return tokenizer

    def save_pretrained(self, save_directory: str | os.PathLike) -> None:
        directory = Path(save_directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.backend_tokenizer.save(str(directory / TOKENIZER_FILE))
        config = {key: value for key, value in self.config.items() if key != "chat_template"}
        config.update({name: getattr(self, name) for name in SPECIAL_TOKEN_NAMES if getattr(self, name) is not None})
        config.setdefault("tokenizer_class", "TokenizersBackend")
        if isinstance(self.chat_template, dict):
            config["chat_template"] = [{"name": name, "template": text} for name, text in self.chat_template.items()]
        text = json.dumps(config, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        (directory / TOKENIZER_CONFIG_FILE).write_text(text, encoding="utf-8")
        if isinstance(self.chat_template, str):
            (directory / CHAT_TEMPLATE_FILE).write_text(self.chat_template, encoding="utf-8")

    # ---- tokens and ids ----

    @property
    def special_tokens_map(self) -> dict[str, str]:
        """The named special tokens; chat templates see them as variables (`bos_token`, ...)."""
        return {name: getattr(self, name) for name in SPECIAL_TOKEN_NAMES if getattr(self, name) is not None}

    def convert_tokens_to_ids(self, tokens: str | Sequence[str]) -> int | list[int] | None:
        """Ids of tokens; a token outside the vocabulary maps to the unknown token's id (None without one)."""
        if isinstance(tokens, str):
            index = self.backend_tokenizer.token_to_id(tokens)
            return index if index is not None else self._id_of(self.unk_token)
        return [self.convert_tokens_to_ids(token) for token in tokens]

    def convert_ids_to_tokens(self, ids: int | Sequence[int]) -> str | list[str]:
        if isinstance(ids, int):
            return self.backend_tokenizer.id_to_token(ids)
        return [self.backend_tokenizer.id_to_token(int(index)) for index in ids]

    def _id_of(self, token: str | None) -> int | None:
        return None if token is None else self.backend_tokenizer.token_to_id(token)

    @property
    def pad_token_id(self) -> int | None:
        return self._id_of(self.pad_token)

    @property
    def eos_token_id(self) -> int | None:
        return self._id_of(self.eos_token)

    @property
    def bos_token_id(self) -> int | None:
        return self._id_of(self.bos_token)

    def add_special_tokens(self, tokens: Sequence[str]) -> int:
        """Add tokens that are never split or normalised and that `skip_special_tokens` drops."""
        added = [tokenizers.AddedToken(token, normalized=False, special=True) for token in tokens]
        return self.backend_tokenizer.add_special_tokens(added)

    def __len__(self) -> int:
        return self.backend_tokenizer.get_vocab_size(with_added_tokens=True)

    # ---- encode and decode ----

    def __call__(
        self,
        text: str | Sequence[str],
        *,
        add_special_tokens: bool = True,
        padding: bool | str = False,
        truncation: bool = False,
        max_length: int | None = None,
        padding_side: str | None = None,
        return_attention_mask: bool = True,
        return_offsets_mapping: bool = False,
        return_tensors: str | None = None,
    ) -> BatchEncoding:
        """`input_ids` and `attention_mask` (and `offset_mapping`: each token's (start, end)
        characters, (0, 0) for padding), one row per text; a single string gives flat lists, or
        tensors with a batch axis of 1, as transformers does."""
        single = isinstance(text, str)
        texts = checked_texts(text)
        check_lengths(padding, max_length)
        encodings = self.backend_tokenizer.encode_batch(texts, add_special_tokens=add_special_tokens)
        rows = [self._truncated(encoding, max_length if truncation else None) for encoding in encodings]
        if padding and padding != "do_not_pad":
            if self.pad_token_id is None:
                raise TokenizerError("padding needs a pad token; set pad_token in tokenizer_config.json")
            width = max_length if padding == "max_length" and max_length is not None else max(map(len, rows))
            rows = [row.padded(width, padding_side or self.padding_side) for row in rows]
        data: dict[str, list[Any]] = {"input_ids": [row.ids(self.pad_token_id) for row in rows]}
        if return_attention_mask:
            data["attention_mask"] = [row.attention_mask() for row in rows]
        if return_offsets_mapping:
            data["offset_mapping"] = [row.offsets() for row in rows]
        if single and return_tensors is None:
            data = {key: value[0] for key, value in data.items()}
        return BatchEncoding(data, rows, tensor_type=return_tensors)

    def _truncated(self, encoding: tokenizers.Encoding, max_length: int | None) -> EncodedRow:
        length = len(encoding.ids)
        if max_length is None or length <= max_length:
            return EncodedRow(encoding, 0, length)
        if self.truncation_side == "left":
            return EncodedRow(encoding, length - max_length, length)
        return EncodedRow(encoding, 0, max_length)

    def decode(self, token_ids: int | Sequence[int] | torch.Tensor, skip_special_tokens: bool = False) -> str:
        """The text of one sequence of ids (an int, a list, a 0-D or 1-D tensor or array); ids the
        vocabulary lacks decode to nothing, as in transformers; anything else is a `TokenizerError`."""
        text = self.backend_tokenizer.decode(checked_ids(token_ids), skip_special_tokens=skip_special_tokens)
        is_bpe = type(self.backend_tokenizer.model).__name__ == "BPE"
        return clean_up_tokenization(text) if self.clean_up_tokenization_spaces and not is_bpe else text

    def batch_decode(
        self, sequences: Sequence[Sequence[int]] | torch.Tensor, skip_special_tokens: bool = False
    ) -> list[str]:
        return [self.decode(sequence, skip_special_tokens=skip_special_tokens) for sequence in sequences]

    # ---- chat templates ----

    def get_chat_template(self, chat_template: str | None = None) -> str:
        """The template to render: `chat_template` itself, or the one of this name, or the tokenizer's
        (its "default" one when it has several)."""
        return select_chat_template(self.chat_template, chat_template, "tokenizer")

    def apply_chat_template(
        self,
        conversation: list[dict[str, Any]] | list[list[dict[str, Any]]],
        chat_template: str | None = None,
        add_generation_prompt: bool = False,
        tokenize: bool = True,
        padding: bool | str = False,
        truncation: bool = False,
        max_length: int | None = None,
        return_tensors: str | None = None,
        return_dict: bool = True,
        return_assistant_tokens_mask: bool = False,
        tokenizer_kwargs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> str | list[str] | list[int] | list[list[int]] | BatchEncoding:
        """transformers' `apply_chat_template`: the prompt of one conversation (a list of them: one
        per conversation), tokenized by default without adding special tokens (the template writes
        them); a `BatchEncoding` with `return_dict=True` (the default), else the `input_ids`.

        With `return_assistant_tokens_mask=True` the output also holds `assistant_masks`: 1 on the
        tokens rendered inside `{% generation %}` blocks. Extra keywords are template variables.

            tokenizer.apply_chat_template(messages, return_assistant_tokens_mask=True)["assistant_masks"]
        """
        return_dict = return_dict and tokenize
        if return_assistant_tokens_mask and not return_dict:
            raise ValueError("`return_assistant_tokens_mask=True` requires `return_dict=True` and `tokenize=True`")
        template, label = chat_template_and_label(
            self.chat_template, chat_template, "tokenizer", self.chat_template_origin
        )
        conversations, batched = normalize_conversations(conversation)
        variables = {**self.special_tokens_map, **kwargs}
        prompts, spans = render_conversations(
            template, conversations, add_generation_prompt, return_assistant_tokens_mask, variables, label
        )
        if not tokenize:
            return prompts if batched else prompts[0]
        options = {"padding": padding, "truncation": truncation, "max_length": max_length, **(tokenizer_kwargs or {})}
        out = self(
            prompts if batched else prompts[0], add_special_tokens=False, return_tensors=return_tensors, **options
        )
        if not return_dict:
            return out["input_ids"]
        if return_assistant_tokens_mask:
            width = [len(row) for row in out._rows]
            masks = [
                assistant_mask_from_char_to_token(spans[i], width[i], partial(out.char_to_token, i))
                for i in range(len(prompts))
            ]
            out["assistant_masks"] = masks if batched or return_tensors else masks[0]
            out.convert_to_tensors(return_tensors)
        return out
