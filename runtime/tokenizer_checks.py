"""Checks on tokenizer files and tokenizer arguments, before the `tokenizers` library sees them.

The library reads a broken tokenizer.json with a bare `Exception` quoting serde ("key must be a
string", or a value from the file), and a call with the wrong argument types with a TypeError
from deep inside. These checks say what is wrong in our words, naming the file (or argument) and
the field, and never quote a file's content:

    load_backend_tokenizer(path)                 # TokenizerError: ckpt/tokenizer.json: not valid JSON (...)
    check_tokenizer_config(config, "ckpt/tokenizer_config.json")
    checked_texts(["a", 5])                      # TokenizerError: text[1] has type int; ...
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import tokenizers
import torch

from runtime.chat_template import check_named_templates
from runtime.hub import read_bounded_text
from runtime.messages import described

SPECIAL_TOKEN_NAMES = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")
MAX_TOKENIZER_BYTES = 2**30  # tokenizer.json; the largest published ones are tens of megabytes
MAX_PADDED_LENGTH = 2**24  # tokens per row that `padding="max_length"` may ask for


class TokenizerError(ValueError):
    """A tokenizer file or call that cannot be used; the message names the file or argument."""


def check_tokenizer_config(config: dict[str, Any], source: str) -> None:
    """`TokenizerError` naming `source` and the field for a field of tokenizer_config.json that
    this class reads and that has the wrong type or value."""
    for name in SPECIAL_TOKEN_NAMES:
        token = config.get(name)
        if not (
            token is None
            or isinstance(token, str)
            or (isinstance(token, dict) and isinstance(token.get("content"), str))
        ):
            raise TokenizerError(
                f"{source}: {name} must be a string or an AddedToken dict with a string 'content'; got {type(token).__name__}"
            )
    for name in ("padding_side", "truncation_side"):
        if config.get(name) not in (None, "left", "right"):
            raise TokenizerError(f"{source}: {name} must be 'left' or 'right', got {described(config[name])}")
    if not isinstance(config.get("clean_up_tokenization_spaces", False), bool):
        raise TokenizerError(f"{source}: clean_up_tokenization_spaces must be true or false")
    check_named_templates(config.get("chat_template"), f"{source}: chat_template")


def load_backend_tokenizer(path: Path) -> tokenizers.Tokenizer:
    """The `tokenizers` tokenizer stored in `path` (a tokenizer.json); a `TokenizerError` naming it
    when it is too large, not UTF-8, not JSON, or not a tokenizer the library reads."""
    text = read_bounded_text(path, error=TokenizerError, max_bytes=MAX_TOKENIZER_BYTES, what="tokenizer")
    try:
        return tokenizers.Tokenizer.from_str(text)
    except Exception as error:  # the library raises a bare Exception, with serde's message
        raise TokenizerError(f"{path}: {_why_not_a_tokenizer(text, error)}") from None


def _why_not_a_tokenizer(text: str, error: Exception) -> str:
    """What is wrong with a tokenizer.json the library refused, without quoting its content."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as failure:
        return f"not valid JSON ({failure.msg} at line {failure.lineno} column {failure.colno})"
    except (ValueError, RecursionError) as failure:
        return f"not usable JSON ({type(failure).__name__})"
    if not isinstance(data, dict):
        return f"expected a JSON object, got {type(data).__name__}"
    if not isinstance(data.get("model"), dict):
        return "no 'model' object: not a tokenizer.json written by the tokenizers library"
    # serde's message names the place and the expected type; quoted values come from the file
    reason = re.sub(r'"[^"]*"|`[^`]*`', "...", str(error).splitlines()[0] if str(error) else "")
    return f"not a tokenizer the tokenizers library reads ({reason[:160]})"


def checked_texts(text: Any, error: type[ValueError] = TokenizerError) -> list[str]:
    """A string or a non-empty list of strings -> the list to encode; `error` otherwise."""
    if isinstance(text, str):
        return [text]
    if not isinstance(text, (list, tuple)) or not text:
        kind = "an empty list" if isinstance(text, (list, tuple)) else f"type {type(text).__name__}"
        raise error(f"text must be a string or a non-empty list of strings, got {kind}")
    for index, item in enumerate(text):
        if not isinstance(item, str):
            raise error(f"text[{index}] has type {type(item).__name__}; each text must be a string")
    return list(text)


def check_lengths(padding: Any, max_length: Any) -> None:
    if padding not in (True, False, "longest", "max_length", "do_not_pad"):
        raise TokenizerError(
            f"padding must be True, False, 'longest', 'max_length' or 'do_not_pad', got {described(padding)}"
        )
    if max_length is None:
        return
    if not isinstance(max_length, int) or isinstance(max_length, bool) or max_length < 0:
        raise TokenizerError(f"max_length must be a non-negative integer, got {described(max_length)}")
    if padding == "max_length" and max_length > MAX_PADDED_LENGTH:
        raise TokenizerError(
            f"max_length={max_length} is more than the {MAX_PADDED_LENGTH} tokens a row may be padded to"
        )


def checked_ids(token_ids: Any) -> list[int]:
    """One sequence of token ids as a list of ints in [0, 2**32); `TokenizerError` otherwise."""
    if isinstance(token_ids, (torch.Tensor, np.ndarray)):
        if isinstance(token_ids, torch.Tensor):
            integral = not (token_ids.is_floating_point() or token_ids.is_complex() or token_ids.dtype == torch.bool)
        else:
            integral = token_ids.dtype.kind in "iu"
        if token_ids.ndim > 1 or not integral:
            raise TokenizerError(
                f"token_ids must be one sequence of integers, got a {token_ids.ndim}-D {token_ids.dtype}"
            )
        token_ids = token_ids.tolist()
    ids = [token_ids] if isinstance(token_ids, int) else token_ids
    if isinstance(ids, (str, bytes)) or not isinstance(ids, Sequence):
        raise TokenizerError(f"token_ids must be an int or a sequence of ints, got {type(token_ids).__name__}")
    for index, value in enumerate(ids):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or not 0 <= value < 2**32:
            raise TokenizerError(f"token_ids[{index}] is {described(value)}; token ids are integers in [0, 2**32)")
    return [int(value) for value in ids]
