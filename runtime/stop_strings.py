"""`stop_strings`: stop a row once its text ends with one of the strings (needs the tokenizer).

    criteria = StopStringCriteria(tokenizer, ["\\nUser:", "</s>"])
    done = criteria(input_ids)                  # (B,) bool

The rule is transformers 5.23.0's `StopStringCriteria`: each token stands for its "clean" text
(what it adds to a decoded string, found by decoding it after a fixed prefix, or its bytes for
byte-level and byte-fallback vocabularies), and a row matches when a stop string occurs in the
concatenated clean texts of its last tokens *and ends inside the last token*, so a string that
appeared earlier does not stop the row again. transformers encodes this as tensor lookups so it
can be compiled; here it is plain string search over the last few tokens, with each token's
clean text computed once, when it first appears.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import torch

from runtime.generation_config import GenerationError
from runtime.messages import short_repr

_STATIC_PREFIX = "abcdef"  # transformers' prefix: decoding it first keeps a token's leading space


@functools.cache
def _byte_decoder() -> dict[str, int]:
    """GPT-2's byte-level alphabet, character -> byte (transformers' `bytes_to_unicode`, inverted)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    printable += list(range(ord("®"), ord("ÿ") + 1))
    codes, extra = list(printable), 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return {chr(code): byte for byte, code in zip(printable, codes, strict=True)}


def _has_type(node: Any, kind: str) -> bool:
    if isinstance(node, dict):
        return node.get("type") == kind or any(_has_type(value, kind) for value in node.values())
    return isinstance(node, list) and any(_has_type(value, kind) for value in node)


def matching_mode(backend: Any) -> str | None:
    """'byte_level', 'byte_fallback' or None (plain text), from the tokenizer's decoder, as transformers."""
    decoder = getattr(backend, "decoder", None)
    if decoder is None:
        return None
    if type(decoder).__name__ == "ByteLevel":
        return "byte_level"
    try:
        state = json.loads(decoder.__getstate__())
    except (AttributeError, TypeError, ValueError):
        return None
    if _has_type(state, "ByteFallback"):
        return "byte_fallback"
    return "byte_level" if _has_type(state, "ByteLevel") else None


def checked_stop_strings(value: object) -> list[str]:
    """`stop_strings` as a list: a non-empty string or a non-empty list of them."""
    strings = [value] if isinstance(value, str) else value
    if not isinstance(strings, (list, tuple)) or not strings or not all(isinstance(s, str) and s for s in strings):
        raise GenerationError(f"stop_strings must be a non-empty string or list of them, got {short_repr(value, 60)}")
    return list(strings)


class StopStringCriteria:
    """(B, T) ids -> (B,) bool: which rows now end with a stop string (see the module docstring)."""

    def __init__(self, tokenizer: Any, stop_strings: str | list[str]) -> None:
        backend = getattr(tokenizer, "backend_tokenizer", None)
        if backend is None:
            raise GenerationError(
                "stop_strings needs the model's tokenizer: pass tokenizer= to generate "
                f"(a runtime Tokenizer), got {type(tokenizer).__name__}"
            )
        self.backend = backend
        self.mode = matching_mode(backend)
        strings = checked_stop_strings(stop_strings)
        self.targets = tuple(s.encode("utf-8") for s in strings) if self.mode else tuple(strings)
        self.window = max(len(target) for target in self.targets)  # a match spans at most this many tokens
        base = backend.encode(_STATIC_PREFIX, add_special_tokens=False).ids
        self.base_tokens = [backend.id_to_token(index) for index in base]
        self._clean: dict[int, str | bytes | None] = {}

    def token_text(self, token_id: int) -> str | bytes | None:
        """What `token_id` adds to the text (bytes in a byte mode); None for an id the vocabulary lacks."""
        if token_id not in self._clean:
            self._clean[token_id] = self._clean_text(self.backend.id_to_token(token_id))
        return self._clean[token_id]

    def _clean_text(self, token: str | None) -> str | bytes | None:
        if token is None:
            return None
        if self.mode == "byte_level" and all(char in _byte_decoder() for char in token):
            return bytes(_byte_decoder()[char] for char in token)
        if self.mode == "byte_fallback" and len(token) == 6 and token.startswith("<0x") and token.endswith(">"):
            try:
                return bytes([int(token[3:5], 16)])
            except ValueError:
                pass
        tokens = [*self.base_tokens, token]
        decoder = self.backend.decoder
        text = decoder.decode(tokens) if decoder is not None else " ".join(tokens)
        text = text[text.index(_STATIC_PREFIX) + len(_STATIC_PREFIX) :] if _STATIC_PREFIX in text else text
        return text.encode("utf-8") if self.mode else text

    def _row_matches(self, row: list[int]) -> bool:
        pieces = [self.token_text(token) for token in row]
        if pieces[-1] is None:
            return False
        while None in pieces:  # an unknown id breaks any match through it
            pieces = pieces[pieces.index(None) + 1 :]
        text = pieces[0][:0].join(pieces)
        last_start = len(text) - len(pieces[-1])
        # a match must end inside the last token: it starts after last_start - len(target)
        return any(text.find(target, max(0, last_start - len(target) + 1)) != -1 for target in self.targets)

    def __call__(self, input_ids: torch.Tensor) -> torch.Tensor:
        rows = input_ids[:, -self.window :].tolist()
        return torch.tensor([self._row_matches(row) for row in rows], dtype=torch.bool, device=input_ids.device)
