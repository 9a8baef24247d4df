"""A small tokenizer on the `tokenizers` library, reading and writing what transformers 5 writes.

    tokenizer = Tokenizer.from_pretrained("path/to/checkpoint")     # tokenizer.json + tokenizer_config.json
    batch = tokenizer(["a prompt", "a longer prompt"], padding=True, return_tensors="pt")
    tokenizer.batch_decode(batch["input_ids"], skip_special_tokens=True)

Encoding, special tokens (the post-processor in `tokenizer.json`, e.g. a BOS token) and decoding
are the `tokenizers` library's, as in transformers' `TokenizersBackend`; this class adds padding
(`padding_side` from the config or per call), truncation, tensors and the special-token names.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import tokenizers
import torch

from runtime.hub import read_json_file, resolve_file
from runtime.image_processing_utils import BatchFeature

TOKENIZER_FILE = "tokenizer.json"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
SPECIAL_TOKEN_NAMES = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")


def _token_text(token: Any) -> str | None:
    """A special token as tokenizer_config.json stores it: a string or an AddedToken dict."""
    return token.get("content") if isinstance(token, dict) else token


def clean_up_tokenization(text: str) -> str:
    """Drop the spaces a word-level decoder leaves before punctuation and English contractions."""
    for spaced, joined in ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't")):
        text = text.replace(spaced, joined)
    for suffix in ("'m", "'s", "'ve", "'re"):
        text = text.replace(" " + suffix, suffix)
    return text


class Tokenizer:
    """A `tokenizers.Tokenizer` with the special tokens and options of its `tokenizer_config.json`."""

    def __init__(self, tokenizer: tokenizers.Tokenizer, **config: Any) -> None:
        self.backend_tokenizer = tokenizer
        self.config = dict(config)
        self.padding_side: str = config.get("padding_side", "right")
        self.truncation_side: str = config.get("truncation_side", "right")
        self.clean_up_tokenization_spaces: bool = bool(config.get("clean_up_tokenization_spaces", False))
        for name in SPECIAL_TOKEN_NAMES:
            setattr(self, name, _token_text(config.get(name)))
        self.chat_template: str | dict[str, str] | None = config.get("chat_template")

    @classmethod
    def from_pretrained(cls, path_or_repo_id: str | os.PathLike, **hub_kwargs: Any) -> Tokenizer:
        tokenizer = tokenizers.Tokenizer.from_file(str(resolve_file(path_or_repo_id, TOKENIZER_FILE, **hub_kwargs)))
        config = read_json_file(path_or_repo_id, TOKENIZER_CONFIG_FILE, **hub_kwargs) or {}
        return cls(tokenizer, **config)

    def save_pretrained(self, save_directory: str | os.PathLike) -> None:
        directory = Path(save_directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.backend_tokenizer.save(str(directory / TOKENIZER_FILE))
        config = {key: value for key, value in self.config.items() if key != "chat_template"}
        config.update({name: getattr(self, name) for name in SPECIAL_TOKEN_NAMES if getattr(self, name) is not None})
        config.setdefault("tokenizer_class", "TokenizersBackend")
        text = json.dumps(config, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        (directory / TOKENIZER_CONFIG_FILE).write_text(text, encoding="utf-8")

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
        return_tensors: str | None = None,
    ) -> BatchFeature:
        """`input_ids` and `attention_mask`, one row per text (a single string gives flat lists)."""
        single = isinstance(text, str)
        encodings = self.backend_tokenizer.encode_batch(
            [text] if single else list(text), add_special_tokens=add_special_tokens
        )
        rows = [encoding.ids for encoding in encodings]
        if truncation and max_length is not None:
            rows = [row[:max_length] if self.truncation_side == "right" else row[-max_length:] for row in rows]
        masks = [[1] * len(row) for row in rows]
        if padding:
            width = max_length if padding == "max_length" and max_length is not None else max(map(len, rows))
            rows, masks = self._pad(rows, masks, width, padding_side or self.padding_side)
        data: dict[str, Any] = {"input_ids": rows[0] if single else rows}
        if return_attention_mask:
            data["attention_mask"] = masks[0] if single else masks
        return BatchFeature(data, tensor_type=return_tensors)

    def _pad(
        self, rows: list[list[int]], masks: list[list[int]], width: int, side: str
    ) -> tuple[list[list[int]], list[list[int]]]:
        if self.pad_token_id is None:
            raise ValueError("padding needs a pad token; set pad_token in tokenizer_config.json")
        if side not in ("left", "right"):
            raise ValueError(f"padding_side must be 'left' or 'right', got {side!r}")
        padded_rows, padded_masks = [], []
        for row, mask in zip(rows, masks, strict=True):
            fill = width - len(row)
            if side == "left":
                padded_rows.append([self.pad_token_id] * fill + row)
                padded_masks.append([0] * fill + mask)
            else:
                padded_rows.append(row + [self.pad_token_id] * fill)
                padded_masks.append(mask + [0] * fill)
        return padded_rows, padded_masks

    def decode(self, token_ids: int | Sequence[int] | torch.Tensor, skip_special_tokens: bool = False) -> str:
        if isinstance(token_ids, torch.Tensor):
            token_ids = token_ids.tolist()
        ids = [token_ids] if isinstance(token_ids, int) else [int(index) for index in token_ids]
        text = self.backend_tokenizer.decode(ids, skip_special_tokens=skip_special_tokens)
        is_bpe = type(self.backend_tokenizer.model).__name__ == "BPE"
        return clean_up_tokenization(text) if self.clean_up_tokenization_spaces and not is_bpe else text

    def batch_decode(
        self, sequences: Sequence[Sequence[int]] | torch.Tensor, skip_special_tokens: bool = False
    ) -> list[str]:
        return [self.decode(sequence, skip_special_tokens=skip_special_tokens) for sequence in sequences]
