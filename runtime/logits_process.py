"""Logits processors and warpers: each maps (ids so far, (B, V) scores) to new (B, V) scores.

    processors = build_logits_processors(config, prompt_len=T, attention_mask=mask, eos_ids=[2], vocab_size=V)
    scores = processors(input_ids, logits)       # (B, V) float32, -inf where a token is ruled out

Each class computes exactly what the transformers 5.23.0 class of the same name computes, in the
same order (`build_logits_processors` follows `GenerationMixin._get_logits_processor`): first
the processors that apply to every decoding (repetition penalty, n-gram blocking, bad words,
minimum lengths, suppressed tokens), then, when sampling, the warpers (temperature, top-k, top-p,
min-p, typical-p). Bad option values raise `GenerationError` naming the option, before any step.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import torch

from runtime.generation_config import GenerationConfig, GenerationError
from runtime.messages import short_repr

Processor = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _token_list(name: str, value: object, vocab_size: int) -> list[int]:
    """A non-empty list of token ids in [0, vocab_size), else `GenerationError` naming `name`."""
    if not isinstance(value, (list, tuple)) or not value or not all(_is_int(t) and 0 <= t < vocab_size for t in value):
        raise GenerationError(
            f"{name} must be a non-empty list of token ids in [0, {vocab_size}), got {short_repr(value, 60)}"
        )
    return [int(t) for t in value]


def _mask_of(token_ids: list[int], vocab_size: int, device: torch.device) -> torch.Tensor:
    """(V,) bool: True at each of `token_ids`."""
    mask = torch.zeros(vocab_size, dtype=torch.bool, device=device)
    mask[torch.tensor(token_ids, dtype=torch.long, device=device)] = True
    return mask


class LogitsProcessorList(list):
    """Processors applied in order."""

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        for processor in self:
            scores = processor(input_ids, scores)
        return scores


class MinLengthLogitsProcessor:
    """EOS ids get -inf while the sequence (prompt included) is shorter than `min_length`."""

    def __init__(self, min_length: int, eos_mask: torch.Tensor) -> None:
        self.min_length, self.eos_mask = min_length, eos_mask

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if input_ids.shape[-1] < self.min_length:
            return scores.masked_fill(self.eos_mask, -math.inf)
        return scores


class MinNewTokensLengthLogitsProcessor(MinLengthLogitsProcessor):
    """EOS ids get -inf until `min_new_tokens` tokens follow the `prompt_len` prompt tokens."""

    def __init__(self, prompt_len: int, min_new_tokens: int, eos_mask: torch.Tensor) -> None:
        super().__init__(prompt_len + min_new_tokens, eos_mask)


class RepetitionPenaltyLogitsProcessor:
    """Scores of tokens already in the row are divided by `penalty` (multiplied when negative).
    Left padding is skipped (`padding`: (B,) count per row), as transformers' prompt_ignore_length."""

    def __init__(self, penalty: float, padding: torch.Tensor | None) -> None:
        self.penalty, self.padding = penalty, padding

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        vocab_size = scores.shape[-1]
        if self.padding is not None:  # padding positions point at an extra, dropped column
            positions = torch.arange(input_ids.shape[1], device=input_ids.device)
            input_ids = input_ids.masked_fill(positions[None, :] < self.padding[:, None], vocab_size)
        padded = torch.nn.functional.pad(scores, (0, 1))
        seen = torch.gather(padded, 1, input_ids)
        seen = torch.where(seen < 0, seen * self.penalty, seen / self.penalty)
        return padded.scatter(1, input_ids, seen)[..., :vocab_size]


class NoRepeatNGramLogitsProcessor:
    """A token that would repeat an n-gram already in the row (prompt included) gets -inf."""

    def __init__(self, ngram_size: int) -> None:
        self.ngram_size = ngram_size

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        length, n = input_ids.shape[-1], self.ngram_size
        if length < n:
            return scores
        prefix = input_ids[:, length + 1 - n :]  # (B, n-1): the n-gram's start, if it continued here
        windows = input_ids.unfold(dimension=1, size=n, step=1)  # (B, W, n)
        matches = (windows[..., :-1] == prefix.unsqueeze(1)).all(dim=-1)  # (B, W)
        vocab_size = scores.shape[-1]
        banned = scores.new_zeros((scores.shape[0], vocab_size + 1), dtype=torch.bool)
        banned.scatter_(1, torch.where(matches, windows[..., -1].clamp(max=vocab_size), vocab_size), True)
        return scores.masked_fill(banned[:, :vocab_size], -math.inf)


class NoBadWordsLogitsProcessor:
    """The last token of each banned sequence gets -inf where the row ends with the rest of it;
    single-token sequences always. As transformers, a banned [eos] alone is dropped (`eos_ids`)."""

    def __init__(self, bad_words_ids: list[list[int]], eos_ids: list[int], vocab_size: int, device: torch.device):
        sequences = [s for s in bad_words_ids if not (len(s) == 1 and s[0] in eos_ids)]
        self.single = _mask_of([s[0] for s in sequences if len(s) == 1], vocab_size, device)
        self.longer = [(torch.tensor(s[:-1], device=device), s[-1]) for s in sequences if len(s) > 1]

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        banned = self.single.expand_as(scores).clone()
        for prefix, last in self.longer:
            if prefix.shape[0] <= input_ids.shape[1]:
                banned[:, last] |= (input_ids[:, -prefix.shape[0] :] == prefix).all(dim=-1)
        return scores.masked_fill(banned, -math.inf)


class SuppressTokensLogitsProcessor:
    """The given tokens always get -inf."""

    def __init__(self, mask: torch.Tensor) -> None:
        self.mask = mask

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        return scores.masked_fill(self.mask, -math.inf)


class SuppressTokensAtBeginLogitsProcessor(SuppressTokensLogitsProcessor):
    """The given tokens get -inf at the first generated position (length `begin_index`) only."""

    def __init__(self, mask: torch.Tensor, begin_index: int) -> None:
        super().__init__(mask)
        self.begin_index = begin_index

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        return super().__call__(input_ids, scores) if input_ids.shape[-1] == self.begin_index else scores


class TemperatureLogitsWarper:
    def __init__(self, temperature: float) -> None:
        self.temperature = temperature

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        return scores / self.temperature


class TopKLogitsWarper:
    """Keeps the `top_k` highest scores (ties with the k-th kept too)."""

    def __init__(self, top_k: int, min_tokens_to_keep: int = 1) -> None:
        self.top_k = max(top_k, min_tokens_to_keep)

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        kth = torch.topk(scores, min(self.top_k, scores.shape[-1]))[0][..., -1, None]
        return scores.masked_fill(scores < kth, -math.inf)


class TopPLogitsWarper:
    """Keeps the smallest set of most likely tokens whose probability reaches `top_p`."""

    def __init__(self, top_p: float, min_tokens_to_keep: int = 1) -> None:
        self.top_p, self.min_tokens_to_keep = top_p, min_tokens_to_keep

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        sorted_logits, sorted_indices = torch.sort(scores, descending=False)
        cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
        remove_sorted = cumulative <= (1 - self.top_p)
        remove_sorted[..., -self.min_tokens_to_keep :] = False
        remove = remove_sorted.scatter(1, sorted_indices, remove_sorted)
        return scores.masked_fill(remove, -math.inf)


class MinPLogitsWarper:
    """Drops tokens less likely than `min_p` times the most likely one."""

    def __init__(self, min_p: float, min_tokens_to_keep: int = 1) -> None:
        self.min_p, self.min_tokens_to_keep = min_p, min_tokens_to_keep

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        probs = torch.softmax(scores, dim=-1)
        remove = probs < self.min_p * probs.amax(dim=-1, keepdim=True)
        kept = torch.topk(probs, min(self.min_tokens_to_keep, probs.shape[-1]), dim=-1).indices
        remove.scatter_(-1, kept, False)
        return scores.masked_fill(remove, -math.inf)


class TypicalLogitsWarper:
    """Locally typical sampling: keeps the tokens whose surprise is closest to the entropy, up to
    probability mass `mass`."""

    def __init__(self, mass: float, min_tokens_to_keep: int = 1) -> None:
        self.mass, self.min_tokens_to_keep = mass, min_tokens_to_keep

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        normalized = torch.nn.functional.log_softmax(scores, dim=-1)
        p = torch.exp(normalized)
        entropy = -(normalized * p).nansum(-1, keepdim=True)
        shifted = torch.abs((-normalized) - entropy)
        sorted_scores, sorted_indices = torch.sort(shifted, descending=False)
        cumulative = scores.gather(-1, sorted_indices).softmax(dim=-1).cumsum(dim=-1)
        last = (cumulative < self.mass).sum(dim=1).clamp_(max=sorted_scores.shape[-1] - 1)
        remove_sorted = sorted_scores > sorted_scores.gather(1, last.view(-1, 1))
        remove_sorted[..., : self.min_tokens_to_keep] = False
        remove = remove_sorted.scatter(1, sorted_indices, remove_sorted)
        return scores.masked_fill(remove, -math.inf)


def _checked_number(config: GenerationConfig, name: str, ok: Callable[[float], bool], expected: str) -> Any:
    value = config.get(name)
    if value is not None and (not _is_real(value) or not ok(value)):
        raise GenerationError(f"{name} must be {expected}, got {short_repr(value, 40)}")
    return value


def _checked_count(config: GenerationConfig, name: str) -> int | None:
    value = config.get(name)
    if value is not None and (not _is_int(value) or value < 0):
        raise GenerationError(f"{name} must be an integer >= 0, got {short_repr(value, 40)}")
    return value


def _bad_words(config: GenerationConfig, vocab_size: int) -> list[list[int]] | None:
    value = config.bad_words_ids
    if value is None:
        return None
    if not isinstance(value, (list, tuple)) or not value:
        raise GenerationError(
            f"bad_words_ids must be a non-empty list of lists of token ids, got {short_repr(value, 60)}"
        )
    return [_token_list("bad_words_ids", sequence, vocab_size) for sequence in value]


def length_processors(config: GenerationConfig, prompt_len: int, eos_mask: torch.Tensor | None) -> list[Processor]:
    """Minimum lengths (they hold back EOS, so only with EOS ids); `min_new_tokens` counts from the prompt."""
    min_length, min_new = _checked_count(config, "min_length"), _checked_count(config, "min_new_tokens")
    if eos_mask is None:
        return []
    processors: list[Processor] = []
    if min_new:  # transformers' _prepare_generated_length: min_new_tokens replaces min_length
        min_length = prompt_len + min_new
    if min_length:
        processors.append(MinLengthLogitsProcessor(min_length, eos_mask))
    if min_new:
        processors.append(MinNewTokensLengthLogitsProcessor(prompt_len, min_new, eos_mask))
    return processors


def build_logits_processors(
    config: GenerationConfig,
    *,
    prompt_len: int,
    attention_mask: torch.Tensor,
    eos_ids: list[int],
    vocab_size: int,
) -> LogitsProcessorList:
    """The processors transformers builds for `config`, in its order (see the module docstring).
    `attention_mask` is the (B, T) prompt mask (the repetition penalty skips its padding)."""
    device = attention_mask.device
    eos_mask = _mask_of(eos_ids, vocab_size, device) if eos_ids else None
    processors = LogitsProcessorList()
    penalty = _checked_number(config, "repetition_penalty", lambda v: v > 0, "a number > 0")
    if penalty != 1.0:
        padding = (attention_mask != 0).int().argmax(dim=1)
        processors.append(RepetitionPenaltyLogitsProcessor(float(penalty), padding))
    ngram = _checked_count(config, "no_repeat_ngram_size")
    if ngram:
        processors.append(NoRepeatNGramLogitsProcessor(ngram))
    bad_words = _bad_words(config, vocab_size)
    if bad_words is not None:
        processors.append(NoBadWordsLogitsProcessor(bad_words, eos_ids, vocab_size, device))
    processors.extend(length_processors(config, prompt_len, eos_mask))
    if config.suppress_tokens is not None:
        suppressed = _token_list("suppress_tokens", list(config.suppress_tokens), vocab_size)
        processors.append(SuppressTokensLogitsProcessor(_mask_of(suppressed, vocab_size, device)))
    if config.begin_suppress_tokens is not None:
        begin = _token_list("begin_suppress_tokens", list(config.begin_suppress_tokens), vocab_size)
        processors.append(SuppressTokensAtBeginLogitsProcessor(_mask_of(begin, vocab_size, device), prompt_len))
    if config.get("do_sample"):
        processors.extend(sampling_warpers(config, len(eos_ids)))
    return processors


def sampling_warpers(config: GenerationConfig, eos_count: int) -> list[Processor]:
    """Temperature, top-k, top-p, min-p, typical-p (transformers' order). Beam sampling keeps at
    least one token more than there are EOS ids, as transformers does."""
    keep = max(eos_count + 1, 2) if config.get("num_beams") > 1 else 1
    warpers: list[Processor] = []
    temperature, top_k, top_p = config.get("temperature"), config.get("top_k"), config.get("top_p")
    if temperature != 1.0:
        warpers.append(TemperatureLogitsWarper(float(temperature)))
    if top_k:
        warpers.append(TopKLogitsWarper(int(top_k), keep))
    if top_p < 1.0:
        warpers.append(TopPLogitsWarper(float(top_p), keep))
    min_p = _checked_number(config, "min_p", lambda v: 0 <= v <= 1, "a number in [0, 1]")
    if min_p is not None:
        warpers.append(MinPLogitsWarper(float(min_p), keep))
    typical_p = _checked_number(config, "typical_p", lambda v: 0 < v <= 1, "a number in (0, 1]")
    if typical_p < 1.0:
        warpers.append(TypicalLogitsWarper(float(typical_p), keep))
    return warpers
