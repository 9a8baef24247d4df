"""Shared pieces of the model parity tests: tiny configs, the reference oracle, comparisons."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch

from runtime.cache import DynamicCache


def assert_close(actual: torch.Tensor, expected: torch.Tensor, atol: float = 1e-5, what: str = "tensor") -> None:
    """Fail with the max and mean absolute difference when two tensors differ beyond `atol`."""
    assert actual.shape == expected.shape, f"{what}: shape {tuple(actual.shape)} vs {tuple(expected.shape)}"
    diff = (actual.double() - expected.double()).abs()
    max_diff, mean_diff = diff.max().item(), diff.mean().item()
    assert max_diff <= atol, f"{what}: max |diff| {max_diff:.3e} > {atol:.0e} (mean {mean_diff:.3e})"


ROPE_VARIANTS: dict[str, dict[str, Any]] = {
    "default": {"rope_type": "default", "rope_theta": 10000.0},
    "linear": {"rope_type": "linear", "rope_theta": 10000.0, "factor": 2.0},
    "dynamic": {"rope_type": "dynamic", "rope_theta": 10000.0, "factor": 2.0},
    "llama3": {
        "rope_type": "llama3",
        "rope_theta": 500000.0,
        "factor": 8.0,
        "low_freq_factor": 1.0,
        "high_freq_factor": 4.0,
        "original_max_position_embeddings": 16,
    },
    "yarn": {"rope_type": "yarn", "rope_theta": 10000.0, "factor": 2.0, "original_max_position_embeddings": 16},
    # one factor per rotary frequency: these four fit head_dim 8 (see rope_parameters for others)
    "longrope": {
        "rope_type": "longrope",
        "rope_theta": 10000.0,
        "short_factor": [1.0, 1.5, 2.0, 3.0],
        "long_factor": [2.0, 3.0, 4.0, 5.0],
        "original_max_position_embeddings": 16,
    },
}


def rope_parameters(rope_type: str, head_dim: int) -> dict[str, Any]:
    """A copy of ROPE_VARIANTS[rope_type] for heads of `head_dim`: longrope's factor lists hold one
    factor per rotary frequency (head_dim // 2), growing from 1."""
    params = copy.deepcopy(ROPE_VARIANTS[rope_type])
    if rope_type == "longrope":
        params["short_factor"] = [1.0 + 0.5 * i for i in range(head_dim // 2)]
        params["long_factor"] = [2.0 + i for i in range(head_dim // 2)]
    return params


def tiny_llama_kwargs(**overrides: Any) -> dict[str, Any]:
    """A tiny Llama: hidden 32, 2 layers, vocab 99; a large init so greedy tokens are not ties."""
    kwargs: dict[str, Any] = {
        "vocab_size": 99,
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 32,
        "initializer_range": 0.2,
        "pad_token_id": 0,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "rope_parameters": dict(ROPE_VARIANTS["default"]),
    }
    kwargs.update(overrides)
    return kwargs


def reference_checkpoint(tmp_path: Path, model_class_name: str, seed: int = 0, **config_kwargs: Any) -> Any:
    """Build a random transformers model, save it under tmp_path/"ref", and return it (eval mode)."""
    import transformers

    torch.manual_seed(seed)
    config = transformers.AutoConfig.for_model(**config_kwargs)
    model = getattr(transformers, model_class_name)(config).eval()
    model.save_pretrained(tmp_path / "ref")
    return model


def padded_batch(vocab_size: int, lengths: list[int], seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-padded random prompts (pad id 0) and their attention mask."""
    generator = torch.Generator().manual_seed(seed)
    width = max(lengths)
    input_ids = torch.zeros(len(lengths), width, dtype=torch.long)
    mask = torch.zeros(len(lengths), width, dtype=torch.long)
    for row, length in enumerate(lengths):
        input_ids[row, width - length :] = torch.randint(3, vocab_size, (length,), generator=generator)
        mask[row, width - length :] = 1
    return input_ids, mask


def decode_in_steps(model: torch.nn.Module, input_ids: torch.Tensor, mask: torch.Tensor, split: int) -> torch.Tensor:
    """Logits of a cached prefill of the first `split` tokens, then one cached step per remaining token."""
    cache = DynamicCache(model.config)
    position_ids = (mask.cumsum(-1) - 1).clamp(min=0)
    steps = [(0, split), *((t, t + 1) for t in range(split, input_ids.shape[1]))]
    logits = [
        model(
            input_ids[:, start:end],
            attention_mask=mask[:, :end],
            position_ids=position_ids[:, start:end],
            past_key_values=cache,
        ).logits
        for start, end in steps
    ]
    return torch.cat(logits, dim=1)


def reference_tokenizer_of(corpus: list[str], special_tokens: list[str]) -> Any:
    """transformers' fast tokenizer over a word-level vocabulary trained on `corpus` (offline), with
    `<s>`, `</s>`, `<unk>` and `<pad>` as its special tokens: what the processor parity tests save
    and load on both sides."""
    import transformers  # test-only oracle
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    backend = Tokenizer(models.WordLevel(unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.train_from_iterator(corpus, trainer=trainers.WordLevelTrainer(special_tokens=special_tokens))
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>"
    )
