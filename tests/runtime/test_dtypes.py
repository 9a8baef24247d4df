"""Half precision on every generated model class: loading straight into the dtype, forward, generate.

Proves: `from_pretrained(dtype=...)` in bfloat16 and float16 installs every weight in that dtype
(no float32 copy of any weight is ever made) and the model runs forward, and generates for
language models, with outputs of that dtype, for every declared model (tests/runtime/tiny_models.py);
`torch_dtype=` is the older name of `dtype` (a conflict is an error); `dtype="auto"` takes the
checkpoint's dtype; `model.to(torch.bfloat16)` matches transformers' `.to(torch.bfloat16)` (same greedy
tokens, logits within Llama's declared bf16 tolerance).
Run: python -m pytest tests/runtime/test_dtypes.py -q
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from generated.llama import LlamaForCausalLM
from runtime.modeling_utils import PreTrainedModel
from tests.models.helpers import assert_close, padded_batch, reference_checkpoint, tiny_llama_kwargs
from tests.models.specs import VISION, spec_of
from tests.runtime.tiny_models import covered_specs, output_tensor, tiny_batch, tiny_model, uncovered_specs

CASES = [
    pytest.param(spec, dtype, id=f"{spec.model}-{str(dtype).removeprefix('torch.')}")
    for spec in covered_specs()
    for dtype in (torch.bfloat16, torch.float16)
] + [
    pytest.param(spec, None, id=spec.model, marks=pytest.mark.skip(reason=f"{spec.model}: no tiny batch"))
    for spec in uncovered_specs()
]


@pytest.mark.parametrize(("spec", "dtype"), CASES)
def test_loads_straight_into_half_precision_and_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spec: Any, dtype: torch.dtype
) -> None:
    tiny_model(spec).save_pretrained(tmp_path)
    installed: list[torch.dtype] = []
    original = PreTrainedModel._install
    monkeypatch.setattr(
        PreTrainedModel, "_install", lambda self, n, t: (installed.append(t.dtype), original(self, n, t))
    )
    model = spec.ours(spec.main_class).from_pretrained(tmp_path, dtype=dtype)
    assert installed and set(installed) == {dtype}  # every weight read straight into `dtype`
    assert {p.dtype for p in model.parameters()} == {dtype}
    batch = {k: v for k, v in tiny_batch(spec, model).items() if k != "labels"}
    with torch.no_grad():
        output = output_tensor(spec, model(**batch))
    assert output.dtype == dtype and bool(output.isfinite().all())
    if spec.kind != VISION:
        generated = model.generate(**batch, max_new_tokens=3)
        assert generated.shape == (batch["input_ids"].shape[0], batch["input_ids"].shape[1] + 3)


@pytest.fixture(scope="module")
def llama_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("llama")
    reference_checkpoint(path, "LlamaForCausalLM", model_type="llama", **tiny_llama_kwargs())
    return path / "ref"


def test_torch_dtype_is_the_older_name_of_dtype(llama_dir: Path) -> None:
    assert LlamaForCausalLM.from_pretrained(llama_dir, torch_dtype=torch.bfloat16).dtype == torch.bfloat16
    same = LlamaForCausalLM.from_pretrained(llama_dir, dtype=torch.float16, torch_dtype="float16")
    assert same.dtype == torch.float16
    assert LlamaForCausalLM.from_config(same.config, torch_dtype=torch.bfloat16).dtype == torch.bfloat16
    with pytest.raises(ValueError, match="dtype=torch.bfloat16 and torch_dtype=torch.float16 differ"):
        LlamaForCausalLM.from_pretrained(llama_dir, dtype=torch.bfloat16, torch_dtype=torch.float16)


def test_auto_takes_the_checkpoint_dtype(llama_dir: Path, tmp_path: Path) -> None:
    LlamaForCausalLM.from_pretrained(llama_dir, dtype=torch.bfloat16).save_pretrained(tmp_path)
    assert LlamaForCausalLM.from_pretrained(tmp_path, dtype="auto").dtype == torch.bfloat16
    assert LlamaForCausalLM.from_pretrained(llama_dir, torch_dtype="auto").dtype == torch.float32


def test_to_bfloat16_matches_transformers(llama_dir: Path) -> None:
    transformers = pytest.importorskip("transformers")
    reference = transformers.LlamaForCausalLM.from_pretrained(llama_dir).eval().to(torch.bfloat16)
    model = LlamaForCausalLM.from_pretrained(llama_dir).to(torch.bfloat16)
    input_ids, mask = padded_batch(99, [11, 6], seed=3)
    with torch.no_grad():
        expected = reference(input_ids=input_ids, attention_mask=mask).logits
        actual = model(input_ids=input_ids, attention_mask=mask).logits
    assert actual.dtype == torch.bfloat16
    atol = spec_of("llama").bf16_atol
    assert_close(actual[mask.bool()], expected[mask.bool()], atol=atol, what="llama .to(bf16) logits")
    expected = reference.generate(input_ids, attention_mask=mask, max_new_tokens=10, do_sample=False, pad_token_id=0)
    assert model.generate(input_ids, attention_mask=mask, max_new_tokens=10).tolist() == expected.tolist()
