"""Llama's hooks are enough: models that change one line of attention, rotary, norms or residuals
override only that hook, never a copied `forward`.

Proves: Qwen3's modular attention defines no `forward`; Llama documents every hook in its class
docstrings; `apply_rotary_pos_emb` rotates the first `cos.shape[-1]` dims and passes the rest
through, bit-identical to the full-rotary formula when nothing passes through. Then short modular
programs on a copy of modular_llama.py, converted in a temporary repository, each overriding only
hooks (never an attention or rotary `forward`), load tiny checkpoints saved by the transformers
model that makes the same change and match its logits within 1e-5 (fp32, eager and sdpa):
Phi-3 (fused `qkv_proj` through `project_qkv`, partial rotary from the config alone), OLMo2
(q/k RMSNorm over the whole projection through `normalize_qk`, float32 cos/sin through
`table_dtype`, also matched in bf16), Cohere (interleaved rotary through `angle_table` and
`rotate_half`, LayerNorm without bias through `make_norm`, a parallel residual as a short
decoder-layer `forward`, logit scaling through `compute_logits`) and StableLM (LayerNorm with
bias through `make_norm`, partial rotary).
Run: python -m pytest tests/models/test_hooks.py -q
"""

from __future__ import annotations

import ast
import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch

from converter.run import main as convert_main
from generated.llama.modeling_llama import apply_rotary_pos_emb, rotate_half
from tests.converter.conftest import write_modular
from tests.models.helpers import assert_close, padded_batch, reference_checkpoint, tiny_llama_kwargs

transformers = pytest.importorskip("transformers")

REPO = Path(__file__).resolve().parents[2]
LLAMA_IMPORTS = """\
import torch
from torch import nn

from generated.llama.configuration_llama import LlamaConfig
from generated.llama.modeling_llama import (
    LlamaAttention, LlamaDecoderLayer, LlamaForCausalLM, LlamaMLP, LlamaRMSNorm, LlamaRotaryEmbedding,
)
"""

# model_type -> the modular program after LLAMA_IMPORTS: only hooks and leaf modules differ
PROGRAMS: dict[str, str] = {
    "phi3": """
class Phi3Config(LlamaConfig):
    model_type = "phi3"

class Phi3MLP(LlamaMLP):
    def __init__(self, config: Phi3Config) -> None:
        super().__init__(config)
        del self.gate_proj
        del self.up_proj
        self.gate_up_proj = nn.Linear(config.hidden_size, 2 * config.intermediate_size, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.gate_up_proj(x).chunk(2, dim=-1)
        return self.down_proj(up * self.act_fn(gate))

class Phi3Attention(LlamaAttention):
    def __init__(self, config: Phi3Config, layer_idx: int) -> None:
        super().__init__(config, layer_idx)
        del self.q_proj
        del self.k_proj
        del self.v_proj
        heads = config.num_attention_heads + 2 * config.num_key_value_heads
        self.qkv_proj = nn.Linear(config.hidden_size, heads * self.head_dim, bias=False)

    def project_qkv(self, hidden_states):
        q_size = self.config.num_attention_heads * self.head_dim
        kv_size = self.config.num_key_value_heads * self.head_dim
        query, key, value = self.qkv_proj(hidden_states).split([q_size, kv_size, kv_size], dim=-1)
        hidden_shape = (*hidden_states.shape[:-1], -1, self.head_dim)
        return query.view(hidden_shape), key.view(hidden_shape), value.view(hidden_shape)

class Phi3ForCausalLM(LlamaForCausalLM):
    pass
""",
    "olmo2": """
class Olmo2Config(LlamaConfig):
    model_type = "olmo2"

class Olmo2RMSNorm(LlamaRMSNorm):
    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        # OLMo2 scales by the weight before casting back
        x = hidden_states.float()
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.variance_epsilon)
        return (self.weight * x).to(hidden_states.dtype)

class Olmo2RotaryEmbedding(LlamaRotaryEmbedding):
    def table_dtype(self, x: torch.Tensor) -> torch.dtype:
        return torch.float32

class Olmo2Attention(LlamaAttention):
    def __init__(self, config: Olmo2Config, layer_idx: int) -> None:
        super().__init__(config, layer_idx)
        self.q_norm = Olmo2RMSNorm(config.num_attention_heads * self.head_dim, eps=config.rms_norm_eps)
        self.k_norm = Olmo2RMSNorm(config.num_key_value_heads * self.head_dim, eps=config.rms_norm_eps)

    def normalize_qk(self, query_states, key_states):
        query_states = self.q_norm(query_states.flatten(-2)).view_as(query_states)
        return query_states, self.k_norm(key_states.flatten(-2)).view_as(key_states)

class Olmo2DecoderLayer(LlamaDecoderLayer):
    def __init__(self, config: Olmo2Config, layer_idx: int) -> None:
        super().__init__(config, layer_idx)
        del self.input_layernorm
        self.post_feedforward_layernorm = Olmo2RMSNorm(config.hidden_size, eps=config.rms_norm_eps)

    def attention_block(self, hidden_states, position_embeddings, attention_mask, past_key_values):
        attn_output, _ = self.self_attn(
            hidden_states, position_embeddings=position_embeddings, attention_mask=attention_mask,
            past_key_values=past_key_values,
        )
        return hidden_states + self.post_attention_layernorm(attn_output)

    def feed_forward_block(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return hidden_states + self.post_feedforward_layernorm(self.mlp(hidden_states))

class Olmo2ForCausalLM(LlamaForCausalLM):
    pass
""",
    "cohere": """
class CohereConfig(LlamaConfig):
    model_type = "cohere"
    layer_norm_eps: float = 1e-5
    logit_scale: float = 0.0625
    tie_word_embeddings: bool = True

def make_norm(config: CohereConfig, dim: int) -> nn.Module:
    return nn.LayerNorm(dim, eps=config.layer_norm_eps, bias=False)

def rotate_half(x: torch.Tensor) -> torch.Tensor:
    return torch.stack([-x[..., 1::2], x[..., ::2]], dim=-1).flatten(-2)

class CohereRotaryEmbedding(LlamaRotaryEmbedding):
    def angle_table(self, freqs: torch.Tensor) -> torch.Tensor:
        return freqs.repeat_interleave(2, dim=-1)

class CohereDecoderLayer(LlamaDecoderLayer):
    def __init__(self, config: CohereConfig, layer_idx: int) -> None:
        super().__init__(config, layer_idx)
        del self.post_attention_layernorm

    def forward(self, hidden_states, position_embeddings, attention_mask=None, past_key_values=None):
        normed = self.input_layernorm(hidden_states)
        attn_output, _ = self.self_attn(
            normed, position_embeddings=position_embeddings, attention_mask=attention_mask,
            past_key_values=past_key_values,
        )
        return hidden_states + attn_output + self.mlp(normed)

class CohereForCausalLM(LlamaForCausalLM):
    def compute_logits(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.lm_head(hidden_states) * self.config.logit_scale
""",
    "stablelm": """
class StableLmConfig(LlamaConfig):
    model_type = "stablelm"
    layer_norm_eps: float = 1e-5

def make_norm(config: StableLmConfig, dim: int) -> nn.Module:
    return nn.LayerNorm(dim, eps=config.layer_norm_eps)

class StableLmForCausalLM(LlamaForCausalLM):
    pass
""",
}
# model_type -> (class prefix, transformers config overrides of the tiny Llama)
REFERENCES: dict[str, tuple[str, dict[str, Any]]] = {
    "phi3": ("Phi3", {"sliding_window": None}),
    "olmo2": ("Olmo2", {}),
    "cohere": ("Cohere", {}),
    "stablelm": ("StableLm", {}),
}
HALF_ROTARY = {"rope_parameters": {"rope_type": "default", "rope_theta": 1e4, "partial_rotary_factor": 0.5}}
# (model_type, reference config overrides), one per checked combination of hooks
CASES = [
    pytest.param("phi3", {}, id="phi3-fused-qkv"),
    pytest.param("phi3", HALF_ROTARY, id="phi3-fused-qkv-partial-rotary"),
    pytest.param("olmo2", {}, id="olmo2-projection-qk-norm"),
    pytest.param("cohere", {}, id="cohere-interleaved-parallel-layernorm"),
    pytest.param("stablelm", HALF_ROTARY, id="stablelm-layernorm-bias-partial-rotary"),
]


def load_package(repo: Path, model: str) -> ModuleType:
    """Import `<repo>/generated/<model>/` under a private name (the real `generated` package is this
    repository's), its sibling files by relative import."""
    name = f"_hook_programs_{model}"
    directory = repo / "generated" / model
    spec = importlib.util.spec_from_file_location(
        name, directory / "__init__.py", submodule_search_locations=[str(directory)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def programs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ModuleType]:
    """Every program of PROGRAMS converted in one temporary repository holding modular_llama.py."""
    repo = tmp_path_factory.mktemp("hooks")
    (repo / "modular").mkdir()
    shutil.copy(REPO / "modular" / "modular_llama.py", repo / "modular" / "modular_llama.py")
    for model, program in PROGRAMS.items():
        write_modular(repo, LLAMA_IMPORTS + program, model)
    assert convert_main(["--repo-root", str(repo), "--all"]) == 0
    return {model: load_package(repo, model) for model in PROGRAMS}


def class_methods(source: str) -> dict[str, set[str]]:
    """Class name -> names of the methods it defines, for the top-level classes of `source`."""
    return {
        node.name: {item.name for item in node.body if isinstance(item, ast.FunctionDef)}
        for node in ast.parse(source).body
        if isinstance(node, ast.ClassDef)
    }


def test_qwen3_attention_defines_no_forward() -> None:
    methods = class_methods((REPO / "modular" / "modular_qwen3.py").read_text())
    assert "Qwen3Attention" in methods
    assert "forward" not in methods["Qwen3Attention"]


def test_programs_define_no_attention_or_rotary_forward() -> None:
    for model, program in PROGRAMS.items():
        for name, methods in class_methods(LLAMA_IMPORTS + program).items():
            if name.endswith(("Attention", "RotaryEmbedding")):
                assert "forward" not in methods, f"{model}: {name} copies forward instead of using a hook"


HOOKS = {
    "LlamaRotaryEmbedding": ("angle_table", "table_dtype"),
    "LlamaAttention": ("project_qkv", "normalize_qk", "apply_rotary", "attention_kwargs"),
    "LlamaDecoderLayer": ("attention_block", "feed_forward_block", "forward", "make_norm"),
    "LlamaModel": ("embed", "build_masks"),
    "LlamaForCausalLM": ("compute_logits",),
}


def test_llama_documents_each_hook_in_its_class_docstring() -> None:
    tree = ast.parse((REPO / "modular" / "modular_llama.py").read_text())
    docstrings = {node.name: ast.get_docstring(node) or "" for node in tree.body if isinstance(node, ast.ClassDef)}
    missing = [f"{cls}.{hook}" for cls, hooks in HOOKS.items() for hook in hooks if f"`{hook}" not in docstrings[cls]]
    assert not missing, f"hooks missing from their class docstring: {missing}"


def test_full_rotary_is_bit_identical_to_the_unsplit_formula() -> None:
    generator = torch.Generator().manual_seed(0)
    q, k = torch.randn(2, 4, 5, 8, generator=generator), torch.randn(2, 2, 5, 8, generator=generator)
    cos, sin = torch.randn(2, 5, 8, generator=generator), torch.randn(2, 5, 8, generator=generator)
    q_embed, k_embed = apply_rotary_pos_emb(q, k, cos, sin)
    c, s = cos.unsqueeze(1), sin.unsqueeze(1)
    assert torch.equal(q_embed, q * c + rotate_half(q) * s)
    assert torch.equal(k_embed, k * c + rotate_half(k) * s)


def test_partial_rotary_rotates_the_first_dims_and_passes_the_rest() -> None:
    generator = torch.Generator().manual_seed(1)
    q, k = torch.randn(2, 4, 5, 8, generator=generator), torch.randn(2, 2, 5, 8, generator=generator)
    cos, sin = torch.randn(2, 5, 4, generator=generator), torch.randn(2, 5, 4, generator=generator)
    q_embed, k_embed = apply_rotary_pos_emb(q, k, cos, sin)
    expected_q, expected_k = apply_rotary_pos_emb(q[..., :4], k[..., :4], cos, sin)
    assert torch.equal(q_embed, torch.cat([expected_q, q[..., 4:]], dim=-1))
    assert torch.equal(k_embed, torch.cat([expected_k, k[..., 4:]], dim=-1))


def test_rotary_keeps_the_activation_dtype_with_float32_tables() -> None:
    generator = torch.Generator().manual_seed(2)
    q = torch.randn(1, 2, 3, 4, generator=generator).to(torch.bfloat16)
    k = torch.randn(1, 1, 3, 4, generator=generator).to(torch.bfloat16)
    cos, sin = torch.randn(1, 3, 4, generator=generator), torch.randn(1, 3, 4, generator=generator)
    q_embed, k_embed = apply_rotary_pos_emb(q, k, cos, sin)
    assert (q_embed.dtype, k_embed.dtype) == (torch.bfloat16, torch.bfloat16)
    q32, k32 = apply_rotary_pos_emb(q.float(), k.float(), cos, sin)  # computed in float32, rounded once
    assert torch.equal(q_embed, q32.to(torch.bfloat16)) and torch.equal(k_embed, k32.to(torch.bfloat16))


@pytest.mark.parametrize("model", list(PROGRAMS))
def test_hook_program_builds_from_a_config_and_runs(programs: dict[str, ModuleType], model: str) -> None:
    prefix = REFERENCES[model][0]
    config = getattr(programs[model], f"{prefix}Config")(**tiny_llama_kwargs(**HALF_ROTARY))
    torch.manual_seed(0)
    model_ = getattr(programs[model], f"{prefix}ForCausalLM")(config).eval()  # initialised by post_init
    input_ids, mask = padded_batch(99, [6, 2])
    with torch.no_grad():
        logits = model_(input_ids, attention_mask=mask).logits
    assert logits.shape == (2, 6, 99)
    assert torch.isfinite(logits).all()


def reference_pair(tmp_path: Path, programs: dict[str, ModuleType], model: str, overrides: dict, attn: str) -> tuple:
    prefix, defaults = REFERENCES[model]
    kwargs = tiny_llama_kwargs(num_hidden_layers=3, **{**defaults, **overrides})
    reference = reference_checkpoint(tmp_path, f"{prefix}ForCausalLM", model_type=model, **kwargs)
    reference.set_attn_implementation(attn)
    ours = getattr(programs[model], f"{prefix}ForCausalLM").from_pretrained(tmp_path / "ref", attn_implementation=attn)
    return reference, ours


@pytest.mark.parametrize("attn", ["eager", "sdpa"])
@pytest.mark.parametrize(("model", "overrides"), CASES)
def test_hook_program_matches_transformers(
    tmp_path: Path, programs: dict[str, ModuleType], model: str, overrides: dict, attn: str
) -> None:
    reference, ours = reference_pair(tmp_path, programs, model, overrides, attn)
    input_ids, mask = padded_batch(99, [13, 8, 3])
    with torch.no_grad():
        expected = reference(input_ids=input_ids, attention_mask=mask).logits
        actual = ours(input_ids=input_ids, attention_mask=mask).logits
    assert_close(actual[mask.bool()], expected[mask.bool()], what=f"{model} logits ({attn})")


def test_float32_rotary_tables_match_olmo2_in_bfloat16(tmp_path: Path, programs: dict[str, ModuleType]) -> None:
    reference, ours = reference_pair(tmp_path, programs, "olmo2", {}, "eager")
    reference, ours = reference.to(torch.bfloat16), ours.to(torch.bfloat16)
    input_ids, mask = padded_batch(99, [13, 8, 3])
    with torch.no_grad():
        expected = reference(input_ids=input_ids, attention_mask=mask).logits
        actual = ours(input_ids=input_ids, attention_mask=mask).logits
    # the same operations in the same dtypes: equal up to float32 rounding of the logits
    assert_close(actual[mask.bool()], expected[mask.bool()], atol=1e-5, what="olmo2 bf16 logits")
