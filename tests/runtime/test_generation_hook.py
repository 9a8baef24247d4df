"""`generate` builds each step's forward arguments with the overridable
`prepare_inputs_for_generation`; the default keeps generate's behaviour token for token.

Proves, on a tiny random generated Llama (hidden 32, 2 layers, 4 heads, vocab 99; no checkpoint,
no network, no transformers):
- the default gives the tokens of the loop generate ran before the hook existed (written out
  below, calling forward with the same arguments), greedy and sampled, with left padding, and
  the tokens of a cache-free greedy loop over the whole sequence;
- the hook is called once per step, with the prompt and `is_first_iteration=True` at prefill,
  then the (B, 1) token just chosen, the grown padding mask, the next positions and the cache
  holding every earlier token; generate's extra inputs reach the hook every step and the
  forward at prefill only;
- a subclass that overrides only the hook changes what generate does: feeding a fixed token
  at every decode step gives the tokens a cache-free loop over that sequence gives, and an
  override that passes an extra input every step reaches the forward every step;
- an override that delegates to the default changes nothing.
Run: python -m pytest tests/runtime/test_generation_hook.py -q
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from generated.llama import LlamaConfig, LlamaForCausalLM
from runtime.cache import DynamicCache
from tests.models.helpers import tiny_llama_kwargs

PROMPT = torch.tensor([[5, 6, 7, 8, 9], [0, 0, 11, 12, 13]])
MASK = torch.tensor([[1, 1, 1, 1, 1], [0, 0, 1, 1, 1]])
FORCED = 7  # the token fed at every decode step by `ForcedInput`


def tiny_llama(cls: type[LlamaForCausalLM] = LlamaForCausalLM, seed: int = 0) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    config = LlamaConfig(**tiny_llama_kwargs())  # hidden 32, 2 layers, 4 heads, vocab 99
    return cls(config).eval()


def same_weights(cls: type[LlamaForCausalLM], model: LlamaForCausalLM) -> LlamaForCausalLM:
    other = cls(model.config).eval()
    other.load_state_dict(model.state_dict())
    return other


@torch.no_grad()
def generate_before_the_hook(
    model: LlamaForCausalLM, input_ids: torch.Tensor, mask: torch.Tensor, new: int, **sampling: Any
) -> torch.Tensor:
    """generate's loop as it was before the hook (no eos): forward called with these arguments."""
    generator = sampling.pop("generator", None)
    position_ids = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 0)
    cache = DynamicCache(model.config, reserve=input_ids.shape[1] + new)
    tokens, step_ids = input_ids, input_ids
    for _ in range(new):
        step = {"attention_mask": mask, "position_ids": position_ids, "past_key_values": cache}
        logits = model(input_ids=step_ids, **step, use_cache=True, logits_to_keep=1).logits[:, -1, :].float()
        if sampling:
            logits = logits / sampling["temperature"]
            kth = torch.topk(logits, sampling["top_k"], dim=-1).values[..., -1:]
            probs = logits.masked_fill(logits < kth, -float("inf")).softmax(dim=-1)
            next_tokens = torch.multinomial(probs, num_samples=1, generator=generator).squeeze(1)
        else:
            next_tokens = logits.argmax(dim=-1)
        tokens = torch.cat([tokens, next_tokens[:, None]], dim=-1)
        step_ids = next_tokens[:, None]
        mask = torch.cat([mask, mask.new_ones(mask.shape[0], 1)], dim=-1)
        position_ids = position_ids[:, -1:] + 1
    return tokens


@torch.no_grad()
def greedy_without_cache(model: LlamaForCausalLM, tokens: torch.Tensor, mask: torch.Tensor, feed: Any) -> list:
    """Greedy tokens from full forwards over the sequence so far; `feed(token)` is what gets appended."""
    chosen = []
    for _ in range(6):
        position_ids = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 0)
        logits = model(input_ids=tokens, attention_mask=mask, position_ids=position_ids).logits[:, -1]
        chosen.append(logits.argmax(dim=-1))
        tokens = torch.cat([tokens, feed(chosen[-1])[:, None]], dim=-1)
        mask = torch.cat([mask, mask.new_ones(mask.shape[0], 1)], dim=-1)
    return torch.stack(chosen, dim=1).tolist()


class Recording(LlamaForCausalLM):
    """Records what the hook is given and what it returns; changes nothing."""

    def __init__(self, config: LlamaConfig) -> None:
        super().__init__(config)
        self.calls: list[tuple[dict[str, Any], dict[str, Any]]] = []

    def prepare_inputs_for_generation(self, input_ids: torch.Tensor, **kwargs: Any) -> dict[str, Any]:
        inputs = super().prepare_inputs_for_generation(input_ids, **kwargs)
        seen = kwargs["past_key_values"].get_seq_length()
        given = {**kwargs, "input_ids": input_ids.clone(), "cached": seen, "mask": kwargs["attention_mask"].clone()}
        self.calls.append((given, dict(inputs)))
        return inputs


class ForcedInput(LlamaForCausalLM):
    """Feeds FORCED instead of the chosen token at every decode step."""

    def prepare_inputs_for_generation(self, input_ids: torch.Tensor, **kwargs: Any) -> dict[str, Any]:
        if not kwargs["is_first_iteration"]:
            input_ids = torch.full_like(input_ids, FORCED)
        return super().prepare_inputs_for_generation(input_ids, **kwargs)


class ExtrasEveryStep(LlamaForCausalLM):
    """Passes generate's extra inputs to every step's forward, not only the prefill's."""

    def prepare_inputs_for_generation(self, input_ids: torch.Tensor, **kwargs: Any) -> dict[str, Any]:
        return super().prepare_inputs_for_generation(input_ids, **{**kwargs, "is_first_iteration": True})

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        self.forwarded = [*getattr(self, "forwarded", []), kwargs.get("output_hidden_states")]
        return super().forward(*args, **kwargs)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_default_hook_gives_the_tokens_generate_gave_before(seed: int) -> None:
    model = tiny_llama(seed=seed)
    greedy = model.generate(PROMPT, attention_mask=MASK, max_new_tokens=12, eos_token_id=[])
    assert greedy.tolist() == generate_before_the_hook(model, PROMPT, MASK, 12).tolist()
    sampling = {"temperature": 0.7, "top_k": 20}
    arguments = {"attention_mask": MASK, "max_new_tokens": 12, "eos_token_id": [], "do_sample": True, "top_p": 1.0}
    sampled = model.generate(PROMPT, **arguments, generator=torch.Generator().manual_seed(3), **sampling)
    seeded = torch.Generator().manual_seed(3)
    expected = generate_before_the_hook(model, PROMPT, MASK, 12, generator=seeded, **sampling)
    assert sampled.tolist() == expected.tolist()


def test_default_hook_matches_a_cache_free_greedy_loop() -> None:
    model = tiny_llama()
    tokens = model.generate(PROMPT, attention_mask=MASK, max_new_tokens=6, eos_token_id=[])
    assert tokens[:, PROMPT.shape[1] :].tolist() == greedy_without_cache(model, PROMPT, MASK, lambda t: t)


def test_the_hook_is_called_each_step_with_the_step_inputs() -> None:
    model = tiny_llama(Recording)
    tokens = model.generate(PROMPT, attention_mask=MASK, max_new_tokens=4, eos_token_id=[], output_hidden_states=True)
    assert len(model.calls) == 4
    for step, (given, inputs) in enumerate(model.calls):
        length = PROMPT.shape[1] + step
        assert given["is_first_iteration"] == (step == 0) and given["cached"] == (0 if step == 0 else length - 1)
        assert given["output_hidden_states"] is True  # generate's extra inputs reach the hook every step
        assert given["mask"].shape == (2, length) and bool(given["mask"][:, PROMPT.shape[1] :].all())
        if step == 0:
            assert torch.equal(given["input_ids"], PROMPT)
            assert given["position_ids"].tolist() == [[0, 1, 2, 3, 4], [0, 0, 0, 1, 2]]
        else:
            assert torch.equal(given["input_ids"], tokens[:, length - 1 : length])
            assert given["position_ids"].tolist() == [[length - 1], [length - 3]]
        assert inputs["use_cache"] is True and inputs["logits_to_keep"] == 1
        assert ("output_hidden_states" in inputs) == (step == 0)  # the forward gets them at prefill only


def test_delegating_override_changes_nothing() -> None:
    model = tiny_llama()
    recording = same_weights(Recording, model)
    arguments = {"attention_mask": MASK, "max_new_tokens": 10, "do_sample": True}
    expected = model.generate(PROMPT, **arguments, generator=torch.Generator().manual_seed(5))
    assert recording.generate(PROMPT, **arguments, generator=torch.Generator().manual_seed(5)).tolist() == (
        expected.tolist()
    )


def test_an_override_of_the_hook_changes_what_is_generated() -> None:
    model = tiny_llama()
    forced = same_weights(ForcedInput, model)
    default = model.generate(PROMPT, attention_mask=MASK, max_new_tokens=6, eos_token_id=[])
    tokens = forced.generate(PROMPT, attention_mask=MASK, max_new_tokens=6, eos_token_id=[])
    assert tokens[:, PROMPT.shape[1] :].tolist() == greedy_without_cache(
        model, PROMPT, MASK, lambda chosen: torch.full_like(chosen, FORCED)
    )
    assert tokens.tolist() != default.tolist()  # the forced inputs did change the continuation
    assert torch.equal(tokens[:, : PROMPT.shape[1] + 1], default[:, : PROMPT.shape[1] + 1])  # same prefill


def test_an_override_can_pass_extra_inputs_every_step() -> None:
    model = tiny_llama(ExtrasEveryStep)
    model.generate(PROMPT, attention_mask=MASK, max_new_tokens=3, eos_token_id=[], output_hidden_states=True)
    assert model.forwarded == [True, True, True]
    plain = tiny_llama(ExtrasEveryStep)
    plain.generate(PROMPT, attention_mask=MASK, max_new_tokens=3, eos_token_id=[])
    assert plain.forwarded == [None, None, None]
