"""Streamers: `generate(..., streamer=s)` hands `s` the tokens as they are chosen.

    streamer = TextStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
    model.generate(**inputs, max_new_tokens=100, streamer=streamer)     # prints words as they come

    streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, timeout=60)
    Thread(target=model.generate, kwargs={**inputs, "streamer": streamer}).start()
    for text in streamer: ...                                            # another thread reads

transformers 5.23.0's interface: `generate` calls `put(prompt_ids)` once, `put(new_token_ids)`
after each step, and `end()` when it stops. Text comes out a word at a time (up to the last space
of what decodes so far, a whole line at a newline, each CJK character at once), so the pieces
joined equal the decoded generation. Only one sequence can stream: a batch of several rows, beam
search or several return sequences raise `GenerationError` before the first step.
"""

from __future__ import annotations

from queue import Queue
from typing import Any

import torch

from runtime.generation_config import GenerationError

# CJK blocks: each such character is a word of its own (transformers' `_is_chinese_char`)
_CJK = (
    (0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F),
)  # fmt: skip


class BaseStreamer:
    """What `generate` calls: `put` with a (1, T) or (T,) tensor of token ids, then `end`."""

    def put(self, value: torch.Tensor) -> None:
        raise NotImplementedError

    def end(self) -> None:
        raise NotImplementedError


class TextStreamer(BaseStreamer):
    """Prints the generated text to stdout a word at a time; `skip_prompt` leaves the prompt out,
    `decode_kwargs` (e.g. skip_special_tokens=True) go to `tokenizer.decode`."""

    def __init__(self, tokenizer: Any, skip_prompt: bool = False, **decode_kwargs: Any) -> None:
        self.tokenizer = tokenizer
        self.skip_prompt = skip_prompt
        self.decode_kwargs = decode_kwargs
        self.token_cache: list[int] = []
        self.print_len = 0  # characters of the cache's text already handed out
        self.next_tokens_are_prompt = True

    def put(self, value: torch.Tensor) -> None:
        """Decode the tokens so far and hand out the finished words among them."""
        if value.ndim > 1 and value.shape[0] > 1:
            raise GenerationError("TextStreamer only supports batch size 1")
        value = value[0] if value.ndim > 1 else value
        if self.skip_prompt and self.next_tokens_are_prompt:
            self.next_tokens_are_prompt = False
            return
        self.token_cache.extend(value.tolist())
        text = self.tokenizer.decode(self.token_cache, **self.decode_kwargs)
        if text.endswith("\n"):  # a finished line: start a fresh cache
            printable = text[self.print_len :]
            self.token_cache, self.print_len = [], 0
        elif text and any(low <= ord(text[-1]) <= high for low, high in _CJK):
            printable = text[self.print_len :]
            self.print_len += len(printable)
        else:  # up to the last space: the last word may still grow
            printable = text[self.print_len : text.rfind(" ") + 1]
            self.print_len += len(printable)
        self.on_finalized_text(printable)

    def end(self) -> None:
        """Hand out what is left, then signal the end."""
        printable = ""
        if self.token_cache:
            printable = self.tokenizer.decode(self.token_cache, **self.decode_kwargs)[self.print_len :]
            self.token_cache, self.print_len = [], 0
        self.next_tokens_are_prompt = True
        self.on_finalized_text(printable, stream_end=True)

    def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
        """Print `text`; a newline after the last piece."""
        print(text, flush=True, end=None if stream_end else "")


class TextIteratorStreamer(TextStreamer):
    """Puts the text pieces in a queue that another thread iterates over; iteration ends when
    generation does. `timeout` (seconds) bounds each wait, raising `queue.Empty` when it passes
    (so a reader is not stuck forever when generate fails in its thread)."""

    def __init__(self, tokenizer: Any, skip_prompt: bool = False, timeout: float | None = None, **decode_kwargs: Any):
        super().__init__(tokenizer, skip_prompt, **decode_kwargs)
        self.text_queue: Queue[str | None] = Queue()
        self.stop_signal = None
        self.timeout = timeout

    def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
        self.text_queue.put(text, timeout=self.timeout)
        if stream_end:
            self.text_queue.put(self.stop_signal, timeout=self.timeout)

    def __iter__(self) -> TextIteratorStreamer:
        return self

    def __next__(self) -> str:
        value = self.text_queue.get(timeout=self.timeout)
        if value is self.stop_signal:
            raise StopIteration
        return value
