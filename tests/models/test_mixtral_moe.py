"""Mixtral's mixture of experts matches transformers 5.23.0 (the test-only oracle).

On tiny random checkpoints written by transformers (hidden 32, 3 layers, 4 experts, top-2, vocab
99, sliding window 5): logits within 1e-5 in fp32 for eager and sdpa on left-padded prompts longer
than the window; each layer's router logits; the load-balancing (aux) loss and the total loss with
labels and an attention mask, without a mask, and for a cached decoding step; the loss function
itself bit for bit; identical greedy tokens (also with output_router_logits in the config, where
transformers' generate fails); the same in bf16 (identical tokens, logits within one bf16 step);
checkpoints loading both ways in the layout transformers writes
(`block_sparse_moe.experts.<i>.w1/w2/w3`), and in its fused in-memory layout; equal router and expert gradients after a training
step with router jitter noise; config.json read and written as transformers does.
Run: python -m pytest tests/models/test_mixtral_moe.py -q -p no:cacheprovider
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors import safe_open

from generated.mixtral import MixtralConfig, MixtralForCausalLM
from runtime.losses import load_balancing_loss
from tests.models.helpers import assert_close, padded_batch, reference_checkpoint, tiny_llama_kwargs

transformers = pytest.importorskip("transformers")

EXPERTS, TOP_K, INTERMEDIATE = 4, 2, 64


def mixtral_kwargs(**overrides: Any) -> dict[str, Any]:
    kwargs = tiny_llama_kwargs(num_hidden_layers=3, sliding_window=5, num_local_experts=EXPERTS)
    kwargs.update(num_experts_per_tok=TOP_K, intermediate_size=INTERMEDIATE, **overrides)
    return kwargs


def load_pair(tmp_path: Path, attn: str = "eager", seed: int = 0, **overrides: Any) -> tuple[Any, MixtralForCausalLM]:
    """A random transformers Mixtral saved to tmp_path/"ref", and ours loaded from that directory."""
    kwargs = mixtral_kwargs(**overrides)
    reference = reference_checkpoint(tmp_path, "MixtralForCausalLM", model_type="mixtral", seed=seed, **kwargs)
    reference.set_attn_implementation(attn)
    return reference, MixtralForCausalLM.from_pretrained(tmp_path / "ref", attn_implementation=attn)


def labels_for(input_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Labels ignoring padding and each row's first real token: with left padding that token is
    predicted from a padding position, whose output neither implementation defines."""
    labels = input_ids.masked_fill(mask == 0, -100)
    labels[torch.arange(len(labels)), mask.argmax(-1)] = -100
    return labels


def saved_keys(directory: Path) -> set[str]:
    with safe_open(directory / "model.safetensors", "pt") as checkpoint:
        return set(checkpoint.keys())


@pytest.mark.parametrize("attn", ["eager", "sdpa"])
def test_logits_match_reference(tmp_path: Path, attn: str) -> None:
    reference, ours = load_pair(tmp_path, attn)
    input_ids, mask = padded_batch(99, [13, 8, 3])  # two rows longer than the window of 5
    with torch.no_grad():
        expected = reference(input_ids=input_ids, attention_mask=mask).logits
        actual = ours(input_ids=input_ids, attention_mask=mask).logits
    assert_close(actual[mask.bool()], expected[mask.bool()], what=f"logits ({attn})")


@pytest.mark.parametrize("attn", ["eager", "sdpa"])
def test_router_logits_match_reference_per_layer(tmp_path: Path, attn: str) -> None:
    reference, ours = load_pair(tmp_path, attn)
    input_ids, mask = padded_batch(99, [13, 8, 3], seed=1)
    with torch.no_grad():
        expected = reference(input_ids=input_ids, attention_mask=mask, output_router_logits=True).router_logits
        actual = ours(input_ids=input_ids, attention_mask=mask, output_router_logits=True).router_logits
    assert len(actual) == len(expected) == 3
    for layer, (ours_layer, reference_layer) in enumerate(zip(actual, expected, strict=True)):
        assert ours_layer.shape == reference_layer.shape == (input_ids.numel(), EXPERTS)
        real = mask.reshape(-1).bool()  # one row per token, batch-major
        assert_close(ours_layer[real], reference_layer[real], what=f"layer {layer} router logits ({attn})")


@pytest.mark.parametrize("from_config", [False, True])
def test_base_model_returns_router_logits_as_reference(tmp_path: Path, from_config: bool) -> None:
    reference, ours = load_pair(tmp_path, output_router_logits=from_config)
    input_ids, mask = padded_batch(99, [9, 4], seed=2)
    asked = {} if from_config else {"output_router_logits": True}
    with torch.no_grad():
        expected = reference.model(input_ids=input_ids, attention_mask=mask, **asked)
        actual = ours.model(input_ids=input_ids, attention_mask=mask, **asked)
        plain = ours.model(input_ids=input_ids, attention_mask=mask, output_router_logits=False)
    assert type(actual).__name__ == "MoeModelOutputWithPast" and plain.router_logits is None
    hidden, expected_hidden = actual.last_hidden_state[mask.bool()], expected.last_hidden_state[mask.bool()]
    assert_close(hidden, expected_hidden, what="last_hidden_state (real tokens)")
    real = mask.reshape(-1).bool()
    for layer, (ours_layer, reference_layer) in enumerate(
        zip(actual.router_logits, expected.router_logits, strict=True)
    ):
        assert_close(ours_layer[real], reference_layer[real], what=f"layer {layer} router logits")


def test_router_logits_only_when_asked(tmp_path: Path) -> None:
    _, ours = load_pair(tmp_path)
    input_ids, _ = padded_batch(99, [6])
    with torch.no_grad():
        plain = ours(input_ids)
        asked = ours(input_ids, output_router_logits=True)
    assert plain.router_logits is None and plain.aux_loss is None
    assert len(asked.router_logits) == 3 and asked.aux_loss.shape == ()


def test_router_recording_leaves_no_hooks_even_when_forward_fails(tmp_path: Path) -> None:
    _, ours = load_pair(tmp_path)
    input_ids, _ = padded_batch(99, [6])
    embeds = ours.get_input_embeddings()(input_ids)
    with pytest.raises(ValueError, match="exactly one of input_ids or inputs_embeds"):
        ours(input_ids, inputs_embeds=embeds, output_router_logits=True)
    ours(input_ids, output_router_logits=True)
    assert all(not layer.block_sparse_moe.gate._forward_hooks for layer in ours.model.layers)


@pytest.mark.parametrize("attn", ["eager", "sdpa"])
def test_aux_and_total_loss_match_reference_with_mask(tmp_path: Path, attn: str) -> None:
    reference, ours = load_pair(tmp_path, attn, router_aux_loss_coef=0.5)
    input_ids, mask = padded_batch(99, [13, 8, 3], seed=2)
    labels = labels_for(input_ids, mask)
    with torch.no_grad():
        expected = reference(input_ids=input_ids, attention_mask=mask, labels=labels, output_router_logits=True)
        actual = ours(input_ids=input_ids, attention_mask=mask, labels=labels, output_router_logits=True)
    assert_close(actual.aux_loss, expected.aux_loss, atol=1e-6, what=f"aux loss ({attn})")
    assert_close(actual.loss, expected.loss, what=f"loss with aux loss ({attn})")


def test_aux_loss_from_config_without_mask_matches_reference(tmp_path: Path) -> None:
    reference, ours = load_pair(tmp_path, output_router_logits=True)
    input_ids, _ = padded_batch(99, [9, 9], seed=3)
    with torch.no_grad():
        expected, actual = reference(input_ids, labels=input_ids), ours(input_ids, labels=input_ids)
    assert_close(actual.aux_loss, expected.aux_loss, atol=1e-6, what="aux loss (no mask)")
    assert_close(actual.loss, expected.loss, what="loss with aux loss (no mask)")


def test_cached_step_aux_loss_matches_reference(tmp_path: Path) -> None:
    """A cached step routes only its new tokens while its mask covers every token: the mask's last
    columns weight them (transformers fails given the mask; without it, it computes the same)."""
    reference, ours = load_pair(tmp_path)
    input_ids, mask = padded_batch(99, [7, 7], seed=6)  # no padding, so the reference needs no mask
    with torch.no_grad():
        ours_cache = ours(input_ids[:, :5], attention_mask=mask[:, :5], use_cache=True).past_key_values
        reference_cache = reference(input_ids[:, :5], use_cache=True).past_key_values
        actual = ours(input_ids[:, 5:], attention_mask=mask, past_key_values=ours_cache, output_router_logits=True)
        expected = reference(input_ids[:, 5:], past_key_values=reference_cache, output_router_logits=True)
    assert actual.router_logits[0].shape == (2 * 2, EXPERTS)
    assert_close(actual.aux_loss, expected.aux_loss, atol=1e-6, what="aux loss of a cached step")


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("top_k", [1, 2, 3])
def test_load_balancing_loss_equals_transformers_function(dtype: torch.dtype, top_k: int) -> None:
    from transformers.models.mixtral.modeling_mixtral import load_balancing_loss_func

    generator = torch.Generator().manual_seed(top_k)
    router_logits = tuple(torch.randn(2 * 7, 5, generator=generator).to(dtype) for _ in range(3))
    mask = torch.ones(2, 7, dtype=torch.long)
    mask[0, :3] = 0
    for attention_mask in (None, mask):
        expected = load_balancing_loss_func(router_logits, 5, top_k, attention_mask)
        assert torch.equal(load_balancing_loss(router_logits, 5, top_k, attention_mask), expected)


@pytest.mark.parametrize("attn", ["eager", "sdpa"])
def test_greedy_generation_matches_reference(tmp_path: Path, attn: str) -> None:
    reference, ours = load_pair(tmp_path, attn, seed=1)
    input_ids, mask = padded_batch(99, [11, 6], seed=3)  # both longer than the window of 5
    expected = reference.generate(input_ids, attention_mask=mask, max_new_tokens=20, do_sample=False, pad_token_id=0)
    assert ours.generate(input_ids, attention_mask=mask, max_new_tokens=20).tolist() == expected.tolist()


def test_generation_with_output_router_logits_in_config(tmp_path: Path) -> None:
    """Each decoding step routes one new token under the whole mask (transformers 5.23.0's generate
    fails on such a config); the tokens are those of the plain model."""
    _, plain = load_pair(tmp_path, seed=1)
    routed = MixtralForCausalLM.from_pretrained(tmp_path / "ref")  # a config of its own
    routed.config.output_router_logits = True
    input_ids, mask = padded_batch(99, [11, 6], seed=3)
    expected = plain.generate(input_ids, attention_mask=mask, max_new_tokens=8)
    assert routed.generate(input_ids, attention_mask=mask, max_new_tokens=8).tolist() == expected.tolist()


def test_bf16_logits_and_greedy_tokens_match_reference(tmp_path: Path) -> None:
    load_pair(tmp_path, "sdpa", seed=1)
    reference = transformers.MixtralForCausalLM.from_pretrained(tmp_path / "ref", dtype=torch.bfloat16).eval()
    reference.set_attn_implementation("sdpa")
    ours = MixtralForCausalLM.from_pretrained(tmp_path / "ref", dtype=torch.bfloat16, attn_implementation="sdpa")
    input_ids, mask = padded_batch(99, [11, 6], seed=3)
    with torch.no_grad():
        expected = reference(input_ids=input_ids, attention_mask=mask).logits
        actual = ours(input_ids=input_ids, attention_mask=mask).logits
    assert actual.dtype == expected.dtype == torch.bfloat16
    # bf16 keeps 8 significant bits: one rounding step at the largest logit
    atol = expected[mask.bool()].abs().max().item() * 2**-7
    assert_close(actual[mask.bool()], expected[mask.bool()], atol=atol, what="bf16 logits")
    expected_tokens = reference.generate(
        input_ids, attention_mask=mask, max_new_tokens=20, do_sample=False, pad_token_id=0
    )
    assert ours.generate(input_ids, attention_mask=mask, max_new_tokens=20).tolist() == expected_tokens.tolist()


def test_parameters_are_named_as_transformers_saves_them(tmp_path: Path) -> None:
    _, ours = load_pair(tmp_path)
    keys = saved_keys(tmp_path / "ref")
    assert "model.layers.0.block_sparse_moe.experts.3.w2.weight" in keys
    assert set(ours.state_dict()) == keys


def test_our_checkpoint_loads_in_transformers(tmp_path: Path) -> None:
    _, ours = load_pair(tmp_path, "sdpa")
    ours.save_pretrained(tmp_path / "ours")
    assert saved_keys(tmp_path / "ours") == saved_keys(tmp_path / "ref")
    theirs = transformers.MixtralForCausalLM.from_pretrained(tmp_path / "ours").eval()
    theirs.set_attn_implementation("sdpa")
    input_ids, mask = padded_batch(99, [9, 4], seed=5)
    with torch.no_grad():
        expected = theirs(input_ids, attention_mask=mask, output_router_logits=True)
        actual = ours(input_ids, attention_mask=mask, output_router_logits=True)
    assert_close(actual.logits[mask.bool()], expected.logits[mask.bool()], what="logits")
    assert_close(actual.aux_loss, expected.aux_loss, atol=1e-6, what="aux loss")


def test_training_step_gives_reference_gradients(tmp_path: Path) -> None:
    reference, ours = load_pair(tmp_path, router_jitter_noise=0.1, router_aux_loss_coef=0.5)
    reference.train(), ours.train()
    input_ids, mask = padded_batch(99, [12, 7], seed=11)
    input_ids, mask = input_ids.flip(-1), mask.flip(-1)  # right padding: every output is defined
    labels = input_ids.masked_fill(mask == 0, -100)
    for model in (reference, ours):
        torch.manual_seed(5)  # the same jitter noise for both
        model(input_ids, attention_mask=mask, labels=labels, output_router_logits=True).loss.backward()
    theirs_moe, ours_moe = reference.model.layers[1].mlp, ours.model.layers[1].block_sparse_moe
    assert_close(ours_moe.gate.weight.grad, theirs_moe.gate.weight.grad, what="router gradient")
    gate_up, down = theirs_moe.experts.gate_up_proj.grad[2], theirs_moe.experts.down_proj.grad[2]
    expert = ours_moe.experts[2]
    assert_close(expert.w1.weight.grad, gate_up[:INTERMEDIATE], what="expert w1 (gate) gradient")
    assert_close(expert.w3.weight.grad, gate_up[INTERMEDIATE:], what="expert w3 (up) gradient")
    assert_close(expert.w2.weight.grad, down, what="expert w2 (down) gradient")


def test_jitter_noise_only_in_training(tmp_path: Path) -> None:
    _, ours = load_pair(tmp_path, router_jitter_noise=0.5)
    input_ids, _ = padded_batch(99, [8], seed=4)
    with torch.no_grad():
        first, second = ours(input_ids).logits, ours(input_ids).logits
        ours.train()
        noisy = ours(input_ids).logits
    assert torch.equal(first, second)
    assert not torch.allclose(noisy, first)


def test_config_defaults_match_transformers() -> None:
    theirs, ours = transformers.MixtralConfig(), MixtralConfig()
    for name, value in theirs.to_dict().items():
        if name in ours._fields and name != "head_dim":  # transformers leaves head_dim None; ours derives it
            assert getattr(ours, name) == value, name
    assert ours.rope_parameters == {"rope_type": "default", "rope_theta": 1e6}
    assert ours.head_dim == theirs.hidden_size // theirs.num_attention_heads


def test_config_json_round_trips_with_transformers(tmp_path: Path) -> None:
    written = transformers.MixtralConfig(**mixtral_kwargs(router_jitter_noise=0.25, output_router_logits=True))
    written.save_pretrained(tmp_path / "theirs")
    ours = MixtralConfig.from_pretrained(tmp_path / "theirs")
    ours.save_pretrained(tmp_path / "ours")
    theirs_json = json.loads((tmp_path / "theirs" / "config.json").read_text())
    ours_json = json.loads((tmp_path / "ours" / "config.json").read_text())
    theirs_json.pop("transformers_version")
    differing = {key for key, value in theirs_json.items() if ours_json.get(key, "absent") != value}
    assert differing == {"head_dim"}  # null there, the derived 8 here; both read it as 8
    reread = transformers.MixtralConfig.from_pretrained(tmp_path / "ours")
    assert {key: getattr(reread, key) for key in theirs_json} == {**theirs_json, "head_dim": 8}


def test_config_reads_transformers_aliases_and_legacy_theta(tmp_path: Path) -> None:
    assert MixtralConfig(num_experts=3, num_experts_per_tok=1).num_local_experts == 3
    assert MixtralConfig(num_local_experts=6).num_experts == 6
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "mixtral", "num_experts": 5}))
    assert MixtralConfig.from_pretrained(tmp_path).num_local_experts == 5
    assert MixtralConfig(rope_theta=5e5).rope_parameters["rope_theta"] == 5e5
    assert MixtralConfig(rope_parameters={"rope_type": "default"}).rope_parameters["rope_theta"] == 1e6


def test_config_refuses_more_experts_per_token_than_experts() -> None:
    with pytest.raises(ValueError, match="num_experts_per_tok=5 .* num_local_experts=4"):
        MixtralConfig(num_local_experts=4, num_experts_per_tok=5)


def test_transformers_fused_expert_layout_loads(tmp_path: Path) -> None:
    """transformers' in-memory layout (`mlp.gate`, stacked `mlp.experts.gate_up_proj` and
    `down_proj`), which its save_pretrained writes with save_original_format=False, loads too."""
    reference, _ = load_pair(tmp_path, "sdpa")
    reference.save_pretrained(tmp_path / "fused", save_original_format=False)
    assert "model.layers.0.mlp.experts.gate_up_proj" in saved_keys(tmp_path / "fused")
    ours = MixtralForCausalLM.from_pretrained(tmp_path / "fused", attn_implementation="sdpa")
    classic = MixtralForCausalLM.from_pretrained(tmp_path / "ref", attn_implementation="sdpa")
    for (name, tensor), (classic_name, classic_tensor) in zip(
        ours.state_dict().items(), classic.state_dict().items(), strict=True
    ):
        assert name == classic_name and torch.equal(tensor, classic_tensor), name


def test_fused_layout_with_other_expert_count_is_refused_by_name(tmp_path: Path) -> None:
    reference, _ = load_pair(tmp_path, "sdpa")
    reference.save_pretrained(tmp_path / "fused", save_original_format=False)
    config = MixtralConfig.from_pretrained(tmp_path / "ref")
    config.num_local_experts = 3
    with pytest.raises(ValueError, match=r"unexpected .*mlp\.experts\.(down|gate_up)_proj\[3, "):
        MixtralForCausalLM.from_pretrained(tmp_path / "fused", config=config)
