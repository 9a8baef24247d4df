"""Training every generated model: gradient checkpointing, peft LoRA, QLoRA, and parity of one step.

Proves, for every declared model class (tests/runtime/tiny_models.py): gradient checkpointing
gives the same loss and gradients as without it (with dropout on too), and does nothing in eval; `get_peft_model` with
LoRA on its attention/MLP projections trains only the adapters, and the adapter saves and loads
back to the same outputs. For Llama and Idefics2: one training step's loss and every gradient equal
transformers' (same weights, same batch, fp32, within 1e-5). QLoRA (LoRA on our 4-bit Llama) trains
with the loss going down. `enable_input_require_grads` makes frozen embeddings' outputs require grad.
Run: python -m pytest tests/runtime/test_training.py -q
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from tests.models.helpers import assert_close, reference_checkpoint, tiny_llama_kwargs
from tests.models.specs import spec_of
from tests.runtime.tiny_models import (
    covered_specs,
    output_tensor,
    scalar_loss,
    tiny_batch,
    tiny_model,
    uncovered_specs,
)

peft = pytest.importorskip("peft")

SPECS = [pytest.param(spec, id=spec.model) for spec in covered_specs()] + [
    pytest.param(spec, id=spec.model, marks=pytest.mark.skip(reason=f"{spec.model}: no tiny batch in tiny_models.py"))
    for spec in uncovered_specs()
]
LORA_TARGETS = ["q_proj", "v_proj", "k_proj", "o_proj", "up_proj", "down_proj", "fc1", "fc2"]


def loss_and_grads(model: torch.nn.Module, spec: Any, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict]:
    model.zero_grad()
    loss = scalar_loss(spec, model(**batch))
    loss.backward()
    return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("spec", SPECS)
def test_gradient_checkpointing_gives_the_same_loss_and_gradients(spec: Any) -> None:
    model = tiny_model(spec).train()
    batch = tiny_batch(spec, model)
    loss, grads = loss_and_grads(model, spec, batch)
    model.gradient_checkpointing_enable()
    assert model.is_gradient_checkpointing
    checkpointed_loss, checkpointed_grads = loss_and_grads(model, spec, batch)
    assert_close(checkpointed_loss, loss, atol=1e-6, what=f"{spec.model} loss")
    assert checkpointed_grads.keys() == grads.keys() and grads
    for name, grad in grads.items():
        assert_close(checkpointed_grads[name], grad, atol=1e-6, what=f"{spec.model} grad {name}")
    model.gradient_checkpointing_disable()
    assert not model.is_gradient_checkpointing


def test_gradient_checkpointing_replays_dropout() -> None:
    """With dropout on (model.train()), recomputing a layer draws the same masks: same loss and gradients."""
    spec = spec_of("llama")
    model = tiny_model(spec, attention_dropout=0.3).train()
    batch = tiny_batch(spec, model)
    torch.manual_seed(5)
    loss, grads = loss_and_grads(model, spec, batch)
    torch.manual_seed(6)
    assert not torch.equal(model(**batch).loss, loss)  # dropout is on
    model.gradient_checkpointing_enable()
    torch.manual_seed(5)
    checkpointed_loss, checkpointed_grads = loss_and_grads(model, spec, batch)
    assert_close(checkpointed_loss, loss, atol=1e-6, what="loss with dropout")
    for name, grad in grads.items():
        assert_close(checkpointed_grads[name], grad, atol=1e-6, what=f"grad {name} with dropout")


def test_gradient_checkpointing_is_a_no_op_in_eval(monkeypatch: pytest.MonkeyPatch) -> None:
    """In eval (and under no_grad), no layer runs under torch.utils.checkpoint; generation is unchanged."""
    spec = spec_of("llama")
    model = tiny_model(spec)
    input_ids = tiny_batch(spec, model)["input_ids"][:1]
    expected = model.generate(input_ids, max_new_tokens=5)
    model.gradient_checkpointing_enable()
    calls: list[int] = []
    import runtime.training

    monkeypatch.setattr(runtime.training, "checkpoint", lambda *a, **k: calls.append(1))
    assert model.generate(input_ids, max_new_tokens=5).tolist() == expected.tolist()
    assert calls == []


def test_enable_input_require_grads() -> None:
    spec = spec_of("llama")
    model = tiny_model(spec)
    model.requires_grad_(False)
    embeddings = model.get_input_embeddings()
    model.enable_input_require_grads()
    assert embeddings(torch.tensor([[3, 4]])).requires_grad
    model.disable_input_require_grads()
    assert not embeddings(torch.tensor([[3, 4]])).requires_grad


@pytest.mark.parametrize("spec", SPECS)
def test_lora_trains_only_the_adapters_and_reloads(tmp_path: Path, spec: Any) -> None:
    model = tiny_model(spec)
    batch = tiny_batch(spec, model)
    config = peft.LoraConfig(r=4, lora_alpha=8, target_modules=LORA_TARGETS, init_lora_weights=False)
    lora = peft.get_peft_model(model, config)
    lora.train()
    scalar_loss(spec, lora(**batch)).backward()
    trained = {n for n, p in lora.named_parameters() if p.grad is not None}
    assert trained and all("lora_" in name for name in trained), sorted(trained)[:5]
    lora.eval()
    with torch.no_grad():
        expected = output_tensor(spec, lora(**batch))
    lora.save_pretrained(tmp_path / "adapter")
    reloaded = peft.PeftModel.from_pretrained(tiny_model(spec), tmp_path / "adapter").eval()
    with torch.no_grad():
        assert_close(output_tensor(spec, reloaded(**batch)), expected, what=f"{spec.model} reloaded adapter")


def test_lora_model_generates() -> None:
    spec = spec_of("llama")
    lora = peft.get_peft_model(tiny_model(spec), peft.LoraConfig(r=4, target_modules=["q_proj", "v_proj"]))
    input_ids = tiny_batch(spec, lora)["input_ids"][:1]
    assert lora.generate(input_ids=input_ids, max_new_tokens=4).shape == (1, input_ids.shape[1] + 4)


def test_qlora_trains_on_the_4bit_model(tmp_path: Path) -> None:
    from generated.llama import LlamaForCausalLM
    from runtime.quantization import BitsAndBytesConfig

    reference_checkpoint(tmp_path, "LlamaForCausalLM", model_type="llama", **tiny_llama_kwargs())
    quant = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True)
    model = LlamaForCausalLM.from_pretrained(tmp_path / "ref", quantization_config=quant)
    model = peft.prepare_model_for_kbit_training(model)
    lora = peft.get_peft_model(model, peft.LoraConfig(r=8, target_modules=["q_proj", "v_proj", "up_proj"]))
    optimizer = torch.optim.AdamW([p for p in lora.parameters() if p.requires_grad], lr=2e-2)
    batch = tiny_batch(spec_of("llama"), lora)
    losses = []
    for _ in range(4):
        loss = lora(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    assert losses[-1] < losses[0], losses


def reference_pair(tmp_path: Path, model: str) -> tuple[Any, Any, dict[str, torch.Tensor]]:
    """transformers' model saved, loaded by us; both in train mode; a batch with labels."""
    spec = spec_of(model)
    if model == "llama":
        kwargs = tiny_llama_kwargs()
        reference = reference_checkpoint(tmp_path, "LlamaForCausalLM", model_type="llama", **kwargs)
    else:
        import transformers

        from tests.models.test_vision_language import vlm_pair

        reference, _ = vlm_pair(tmp_path, model, "eager")
        del transformers
    ours = spec.ours(spec.main_class).from_pretrained(tmp_path / "ref", attn_implementation="eager")
    reference.set_attn_implementation("eager")
    return reference.train(), ours.train(), tiny_batch(spec, ours)


@pytest.mark.parametrize("model", ["llama", "idefics2"])
def test_one_training_step_matches_transformers(tmp_path: Path, model: str) -> None:
    reference, ours, batch = reference_pair(tmp_path, model)
    expected_loss = reference(**batch).loss
    expected_loss.backward()
    ours.gradient_checkpointing_enable()
    actual_loss = ours(**batch).loss
    actual_loss.backward()
    assert_close(actual_loss, expected_loss, what=f"{model} loss")
    theirs = {n: p.grad for n, p in reference.named_parameters() if p.grad is not None}
    mine = {n: p.grad for n, p in ours.named_parameters() if p.grad is not None}
    assert mine.keys() == theirs.keys()
    for name, grad in theirs.items():
        assert_close(mine[name], grad, atol=1e-5, what=f"{model} grad {name}")
