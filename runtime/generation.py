"""Token generation with the KV cache: greedy or sampled, batched with left padding.

    tokens = model.generate(input_ids, attention_mask=mask, max_new_tokens=20)   # (B, T + new)

The loop is written out: one prefill step over the prompt, then one step per new token that
feeds only that token and reads the rest from the cache. Position ids follow the padding mask
(`cumsum - 1`), as transformers computes them, so left-padded rows match unpadded ones.
"""

from __future__ import annotations

from typing import Any

import torch

from runtime.cache import DynamicCache


def _eos_tensor(eos_token_id: int | list[int] | None, device: torch.device) -> torch.Tensor | None:
    if eos_token_id is None:
        return None
    ids = [eos_token_id] if isinstance(eos_token_id, int) else list(eos_token_id)
    return torch.tensor(ids, dtype=torch.long, device=device)


def sample_next_token(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = 50,
    top_p: float | None = 1.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Draw one token per row of (B, V) float32 logits: temperature, then top-k, then top-p."""
    if temperature != 1.0:
        logits = logits / temperature
    if top_k is not None and 0 < top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, -float("inf"))
    if top_p is not None and top_p < 1.0:
        sorted_logits, sorted_idx = torch.sort(logits, descending=False)
        cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
        remove_sorted = cumulative <= (1 - top_p)
        remove_sorted[..., -1:] = False  # always keep the most likely token
        remove = remove_sorted.scatter(1, sorted_idx, remove_sorted)
        logits = logits.masked_fill(remove, -float("inf"))
    probs = logits.softmax(dim=-1)
    return torch.multinomial(probs, num_samples=1, generator=generator).squeeze(1)


class GenerationMixin:
    """Adds `generate` to a causal LM whose forward takes input_ids, attention_mask, position_ids,
    past_key_values, use_cache and logits_to_keep, and returns an object with `.logits`."""

    @torch.no_grad()
    def generate(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        max_new_tokens: int = 20,
        do_sample: bool = False,
        temperature: float = 1.0,
        top_k: int | None = 50,
        top_p: float | None = 1.0,
        eos_token_id: int | list[int] | None = None,
        pad_token_id: int | None = None,
        generator: torch.Generator | None = None,
        **model_kwargs: Any,
    ) -> torch.Tensor:
        """Return (B, T + generated) token ids. Extra `model_kwargs` (e.g. pixel_values) go to the
        prefill step only: later steps read everything they need from the cache."""
        config = self.config.get_text_config()
        eos = _eos_tensor(eos_token_id if eos_token_id is not None else config.eos_token_id, input_ids.device)
        pad = pad_token_id if pad_token_id is not None else config.pad_token_id
        if pad is None:
            pad = int(eos[0]) if eos is not None and eos.numel() else 0
        batch, prompt_len = input_ids.shape
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        position_ids = (attention_mask.long().cumsum(-1) - 1).masked_fill(attention_mask == 0, 0)
        cache = DynamicCache(self.config, reserve=prompt_len + max_new_tokens)
        unfinished = torch.ones(batch, dtype=torch.bool, device=input_ids.device)
        tokens, step_ids = input_ids, input_ids
        for _ in range(max_new_tokens):
            outputs = self(
                input_ids=step_ids,
                attention_mask=attention_mask,
                position_ids=position_ids,
                past_key_values=cache,
                use_cache=True,
                logits_to_keep=1,
                **model_kwargs,
            )
            model_kwargs = {}
            logits = outputs.logits[:, -1, :].float()
            if do_sample:
                next_tokens = sample_next_token(logits, temperature, top_k, top_p, generator)
            else:
                next_tokens = logits.argmax(dim=-1)
            next_tokens = torch.where(unfinished, next_tokens, torch.full_like(next_tokens, pad))
            tokens = torch.cat([tokens, next_tokens[:, None]], dim=-1)
            if eos is not None:
                unfinished = unfinished & ~torch.isin(next_tokens, eos)
                if not bool(unfinished.any()):
                    break
            step_ids = next_tokens[:, None]
            attention_mask = torch.cat([attention_mask, attention_mask.new_ones(batch, 1)], dim=-1)
            position_ids = position_ids[:, -1:] + 1
        return tokens
