"""bitsandbytes 4-bit and 8-bit loading (runtime/quantization.py) against transformers 5.23.0, on CPU.

Proves: `BitsAndBytesConfig` has transformers' defaults and `to_dict()`, accepts transformers'
object and plain dicts, and refuses bad values naming the field; a tiny Llama loaded in nf4/fp4
(double quantization on and off) and in 8 bits has the same modules quantized as transformers'
(lm_head kept), the same memory footprint and logits within 1e-4 of transformers' quantized model
(and with the Idefics2 docs' settings, float16 compute and model, within one float16 step);
so does Idefics2 in nf4; 4-bit and 8-bit checkpoints load both ways (transformers' save -> ours, ours
-> transformers) with the quantization_config in config.json; weights are quantized as they are read
(no weight is ever installed in full precision); a pre-quantized checkpoint with a missing,
mis-shaped or undecodable quant-state tensor is refused naming it; every declared model quantizes
exactly the Linear layers transformers quantizes.
Run: python -m pytest tests/runtime/test_quantization.py -q
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file, save_file

from generated.llama import LlamaForCausalLM
from runtime.modeling_utils import CheckpointError
from runtime.quantization import BitsAndBytesConfig
from tests.models.helpers import assert_close, padded_batch, reference_checkpoint, tiny_llama_kwargs
from tests.runtime.tiny_models import covered_specs, tiny_model

transformers = pytest.importorskip("transformers")
bnb = pytest.importorskip("bitsandbytes")

NF4_DOUBLE = {"load_in_4bit": True, "bnb_4bit_quant_type": "nf4", "bnb_4bit_use_double_quant": True}
CONFIGS = {
    "nf4-double": NF4_DOUBLE,
    "nf4": {"load_in_4bit": True, "bnb_4bit_quant_type": "nf4"},
    "fp4-double": {"load_in_4bit": True, "bnb_4bit_use_double_quant": True},
    "fp4": {"load_in_4bit": True},
    "int8": {"load_in_8bit": True},
    # the Idefics2 docs' settings: computing in float16, the rest of the model loaded in float16
    "nf4-double-fp16": {**NF4_DOUBLE, "bnb_4bit_compute_dtype": torch.float16},
}
# float16 logits of about 5 round in steps of 0.004: allow one step where both run in float16
TOLERANCE = {"nf4-double-fp16": 4e-3}


@pytest.fixture(autouse=True)
def oracle_off_the_packed_cpu_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    """transformers' own 4-bit layers (the oracle) get what our loader does to ours (without_packed_cpu_kernel):
    on a CPU with AVX512-BF16, bitsandbytes' packed kernel fails on the tiny test models' 32-wide layers."""
    from runtime.quantized_loading import without_packed_cpu_kernel

    forward = bnb.nn.Linear4bit.forward

    def checked(self, x):  # type: ignore[no-untyped-def]
        without_packed_cpu_kernel(self)
        return forward(self, x)

    monkeypatch.setattr(bnb.nn.Linear4bit, "forward", checked)


def quantized_names(model: torch.nn.Module) -> set[str]:
    kinds = (bnb.nn.Linear4bit, bnb.nn.Linear8bitLt)
    return {name for name, module in model.named_modules() if isinstance(module, kinds)}


@pytest.fixture(scope="module")
def llama_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("llama")
    reference_checkpoint(path, "LlamaForCausalLM", model_type="llama", **tiny_llama_kwargs(attention_bias=True))
    return path / "ref"


def logits(model: torch.nn.Module, seed: int = 0) -> torch.Tensor:
    input_ids, mask = padded_batch(99, [9, 5], seed=seed)
    with torch.no_grad():
        return model(input_ids=input_ids, attention_mask=mask).logits[mask.bool()]


@pytest.mark.parametrize(
    "kwargs", [{}, NF4_DOUBLE, {"load_in_8bit": True, "llm_int8_threshold": 3.0, "llm_int8_skip_modules": ["mlp"]}]
)
def test_config_matches_transformers(kwargs: dict[str, Any]) -> None:
    theirs = transformers.BitsAndBytesConfig(**kwargs)
    ours = BitsAndBytesConfig(**kwargs)
    assert ours.to_dict() == theirs.to_dict()
    assert ours.quantization_method() == theirs.quantization_method()
    assert BitsAndBytesConfig.from_dict(theirs.to_dict()) == ours


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"load_in_4bit": True, "load_in_8bit": True}, "load_in_8bit"),
        ({"bnb_4bit_quant_type": "int4"}, "bnb_4bit_quant_type"),
        ({"bnb_4bit_compute_dtype": "float17"}, "bnb_4bit_compute_dtype"),
        ({"bnb_4bit_quant_storage": "int64"}, "bnb_4bit_quant_storage"),
        ({"llm_int8_skip_modules": "lm_head"}, "llm_int8_skip_modules"),
        ({"load_in_4bit": 1}, "load_in_4bit"),
    ],
)
def test_config_refuses_bad_values(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        BitsAndBytesConfig(**kwargs)


def test_unknown_dict_keys_and_empty_configs_are_refused(llama_dir: Path) -> None:
    with pytest.raises(ValueError, match="load_in_3bit"):
        LlamaForCausalLM.from_pretrained(llama_dir, quantization_config={"load_in_3bit": True})
    with pytest.raises(ValueError, match="neither load_in_4bit nor load_in_8bit"):
        LlamaForCausalLM.from_pretrained(llama_dir, quantization_config=BitsAndBytesConfig())


@pytest.mark.parametrize("name", list(CONFIGS))
def test_quantized_llama_matches_transformers(llama_dir: Path, name: str) -> None:
    """Same modules quantized, same footprint, logits within 1e-4; the config given three ways."""
    kwargs = CONFIGS[name]
    dtype = kwargs.get("bnb_4bit_compute_dtype", torch.float32)
    theirs = transformers.LlamaForCausalLM.from_pretrained(
        llama_dir, dtype=dtype, quantization_config=transformers.BitsAndBytesConfig(**kwargs)
    )
    expected = logits(theirs)
    for given in (kwargs, BitsAndBytesConfig(**kwargs), transformers.BitsAndBytesConfig(**kwargs)):
        ours = LlamaForCausalLM.from_pretrained(llama_dir, dtype=dtype, quantization_config=given)
        assert quantized_names(ours) == quantized_names(theirs) and "lm_head" not in quantized_names(ours)
        assert ours.get_memory_footprint() == theirs.get_memory_footprint()
        assert ours.dtype == dtype and logits(ours).dtype == dtype
        assert_close(logits(ours), expected, atol=TOLERANCE.get(name, 1e-4), what=f"{name} logits")


def test_weights_are_quantized_as_read(llama_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No quantized layer's weight is installed in full precision, even for a moment."""
    installed: list[str] = []
    original = LlamaForCausalLM._install
    monkeypatch.setattr(LlamaForCausalLM, "_install", lambda self, n, t: (installed.append(n), original(self, n, t)))
    model = LlamaForCausalLM.from_pretrained(llama_dir, quantization_config=NF4_DOUBLE)
    quantized = {f"{name}.weight" for name in quantized_names(model)}
    assert quantized and not quantized & set(installed)
    assert all(type(model.get_parameter(name)) is bnb.nn.Params4bit for name in quantized)


@pytest.mark.parametrize("name", ["nf4-double", "fp4", "int8"])
def test_checkpoints_load_both_ways(llama_dir: Path, tmp_path: Path, name: str) -> None:
    kwargs = CONFIGS[name]
    theirs = transformers.LlamaForCausalLM.from_pretrained(
        llama_dir, quantization_config=transformers.BitsAndBytesConfig(**kwargs)
    )
    ours = LlamaForCausalLM.from_pretrained(llama_dir, quantization_config=kwargs)
    theirs.save_pretrained(tmp_path / "theirs")
    ours.save_pretrained(tmp_path / "ours")
    saved = [json.loads((tmp_path / d / "config.json").read_text())["quantization_config"] for d in ("theirs", "ours")]
    assert saved[0] == saved[1]
    assert sorted(load_file(tmp_path / "ours" / "model.safetensors")) == sorted(
        load_file(tmp_path / "theirs" / "model.safetensors")
    )
    from_theirs = LlamaForCausalLM.from_pretrained(tmp_path / "theirs")  # strict: every tensor matched
    from_ours = transformers.LlamaForCausalLM.from_pretrained(tmp_path / "ours")
    assert quantized_names(from_theirs) == quantized_names(theirs) == quantized_names(from_ours)
    assert_close(logits(from_theirs), logits(theirs), atol=1e-4, what="ours from their checkpoint")
    assert_close(logits(from_ours), logits(ours), atol=1e-4, what="theirs from our checkpoint")


@pytest.fixture(scope="module")
def quantized_dir(llama_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("quantized")
    LlamaForCausalLM.from_pretrained(llama_dir, quantization_config=NF4_DOUBLE).save_pretrained(path)
    return path


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ("drop", "missing tensors (1): model.layers.0.mlp.up_proj.weight.absmax"),
        ("reshape", "model.layers.0.mlp.up_proj.weight.absmax: checkpoint (7,) vs model (32,)"),
        ("corrupt", "model.layers.0.mlp.up_proj.weight: quantization state does not decode"),
    ],
)
def test_broken_quantized_checkpoints_are_refused(
    quantized_dir: Path, tmp_path: Path, edit: str, message: str
) -> None:
    state = load_file(quantized_dir / "model.safetensors")
    prefix = "model.layers.0.mlp.up_proj.weight."
    if edit == "drop":
        del state[prefix + "absmax"]
    elif edit == "reshape":
        state[prefix + "absmax"] = state[prefix + "absmax"][:7].clone()
    else:
        blob = prefix + "quant_state.bitsandbytes__nf4"
        state[blob] = torch.full_like(state[blob], ord("x"))
    save_file(state, tmp_path / "model.safetensors", metadata={"format": "pt"})
    (tmp_path / "config.json").write_text((quantized_dir / "config.json").read_text())
    with pytest.raises(CheckpointError) as error:
        LlamaForCausalLM.from_pretrained(tmp_path)
    assert message in str(error.value)


def test_quantized_idefics2_matches_transformers(tmp_path: Path) -> None:
    from runtime.auto import AutoModelForImageTextToText
    from tests.models.test_vision_language import image_text_batch, vlm_pair

    vlm_pair(tmp_path, "idefics2", "eager")
    quant = transformers.BitsAndBytesConfig(**NF4_DOUBLE)
    theirs = transformers.AutoModelForImageTextToText.from_pretrained(tmp_path / "ref", quantization_config=quant)
    ours = AutoModelForImageTextToText.from_pretrained(tmp_path / "ref", quantization_config=quant)
    assert quantized_names(ours) == quantized_names(theirs)
    assert ours.get_memory_footprint() == theirs.get_memory_footprint()
    theirs.set_attn_implementation("sdpa")
    batch = image_text_batch(ours)
    mask = batch["attention_mask"].bool()
    with torch.no_grad():
        assert_close(ours(**batch).logits[mask], theirs(**batch).logits[mask], atol=1e-4, what="idefics2 nf4 logits")


def converted_linears(model: torch.nn.Module, patterns: list[str]) -> set[str]:
    from transformers.quantizers.quantizers_utils import should_convert_module

    linear = torch.nn.Linear
    return {n for n, m in model.named_modules() if type(m) is linear and should_convert_module(n, patterns)}


@pytest.mark.parametrize("spec", [pytest.param(s, id=s.model) for s in covered_specs() if s.reference])
def test_every_model_quantizes_the_layers_transformers_quantizes(spec: Any) -> None:
    """The modules left in full precision (tied, last, output embeddings) and so the Linear layers
    quantized are transformers' for every declared model (built from the same config, no weights)."""
    from transformers.quantizers.base import get_keys_to_not_convert

    from runtime.quantization import skipped_modules

    ours = tiny_model(spec)
    config_class = "VisionConfig" if spec.main_class == "VisionModel" else "Config"
    theirs = getattr(transformers, spec.reference_name(spec.main_class))(
        getattr(transformers, spec.reference_name(config_class))(**ours.config.to_dict())
    )
    expected = converted_linears(theirs, get_keys_to_not_convert(theirs))
    assert (
        expected and converted_linears(ours, skipped_modules(ours, BitsAndBytesConfig(load_in_4bit=True))) == expected
    )


def test_odd_shaped_4bit_layers_stay_off_the_packed_cpu_kernel() -> None:
    """bitsandbytes' AVX512-BF16 CPU kernel takes only 32-row, 64-column blocks: a 32-wide layer keeps
    the plain path (it failed with "shape '[32, 0]' is invalid"), a 64-wide one keeps the kernel."""
    from runtime.quantized_loading import without_packed_cpu_kernel

    odd, even = bnb.nn.Linear4bit(32, 32), bnb.nn.Linear4bit(64, 64)
    odd.support_avx512bf16_for_cpu = even.support_avx512bf16_for_cpu = True
    without_packed_cpu_kernel(odd)
    without_packed_cpu_kernel(even)
    assert odd.support_avx512bf16_for_cpu is False and even.support_avx512bf16_for_cpu is True
