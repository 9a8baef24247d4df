"""Gemma2's softcapping backends against transformers' eager: `benchmark_models.py --models gemma2`.

Gemma2 softcaps its attention logits, which sdpa cannot do, so its exact backends are timed here:
our `eager`, `eager_chunked` (the default) and `flex_attention`, against transformers' eager (the
only exact backend transformers has for it), on a random Gemma2 (attention softcap 50, final
softcap 30, window 4096 as released, alternating sliding and global layers):
- prefill of a 512-token prompt (one token's logits kept);
- 64 greedy tokens after the first 32 tokens of the prompt, and after all of it;
- the first run of those three, apart (where a compiled flex_attention compiles).
It prints each backend's speed-up over the reference, eager_chunked's over our eager, and checks
that each backend's greedy tokens equal the reference's (its prefill logits' max difference too).

flex_attention runs torch's uncompiled reference implementation, as the library does by default
(runtime/flex.py), unless `flex_compile=True` (`--flex-compile`): the benchmark then sets
MODULAR_MODELS_FLEX_COMPILE=1 and times the compiled kernel, which on this CPU gave wrong results
in some runs; its token check then says whether this run's did. The column names which flex ran.

Timings are medians over repeats, the backends taking turns so that machine noise hits all of
them. This is a benchmark, not a test: nothing here asserts on time.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

GEMMA2_SIZES: dict[str, dict[str, int]] = {
    "small": dict(hidden_size=256, intermediate_size=1024, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=2, head_dim=64, query_pre_attn_scalar=64),
    "medium": dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=8, num_attention_heads=8,
                   num_key_value_heads=4, head_dim=128, query_pre_attn_scalar=128),
}  # fmt: skip
BACKENDS = ("eager", "eager_chunked", "flex_attention")
WORKLOADS = ("prefill", "decode_short", "decode_long")
NEW_TOKENS = 64
SHORT_PROMPT = 32


def use_compiled_flex(flex_compile: bool) -> None:
    """Set MODULAR_MODELS_FLEX_COMPILE for this process: the benchmark, not the caller's
    environment, decides which flex_attention it times. Compiling for several shapes of two
    models needs more variants than torch's default limit of 8 per function, past which it would
    run uncompiled under the compiled label, so the limit is raised (and the count reported)."""
    os.environ["MODULAR_MODELS_FLEX_COMPILE"] = "1" if flex_compile else "0"
    if flex_compile:
        torch._dynamo.config.recompile_limit = 64


def flex_label() -> str:
    """Which flex_attention this process runs, as the runtime decides it."""
    from runtime.flex import flex_compile_enabled

    return "flex (compiled)" if flex_compile_enabled() else "flex (uncompiled)"


def build_gemma2_checkpoint(size: str, directory: Path, window: int) -> int:
    """Save a random transformers Gemma2 of `size` into `directory`; return its weight bytes."""
    import transformers

    config = transformers.Gemma2Config(
        vocab_size=32000, max_position_embeddings=4096, sliding_window=window, eos_token_id=None, bos_token_id=None,
        attn_logit_softcapping=50.0, final_logit_softcapping=30.0, **GEMMA2_SIZES[size],
    )  # fmt: skip
    torch.manual_seed(0)
    model = transformers.Gemma2ForCausalLM(config)
    model.save_pretrained(directory)
    return sum(p.numel() * p.element_size() for p in model.parameters())


def gemma2_runs(model: torch.nn.Module, ours: bool, prompt: torch.Tensor) -> dict[str, Callable[[], torch.Tensor]]:
    """The timed workloads of one model: prefill logits, then greedy tokens after a short and a long prompt."""
    kwargs = {"eos_token_id": []} if ours else {"do_sample": False, "min_new_tokens": NEW_TOKENS}
    return {
        "prefill": lambda: model(prompt, use_cache=False, logits_to_keep=1).logits,
        "decode_short": lambda: model.generate(prompt[:, :SHORT_PROMPT], max_new_tokens=NEW_TOKENS, **kwargs),
        "decode_long": lambda: model.generate(prompt, max_new_tokens=NEW_TOKENS, **kwargs),
    }


def load_gemma2_models(path: Path) -> dict[str, tuple[torch.nn.Module, bool]]:
    """transformers' eager as "ref", then each of our backends: name -> (model, is ours)."""
    import transformers

    from generated.gemma2 import Gemma2ForCausalLM

    reference = transformers.Gemma2ForCausalLM.from_pretrained(path, dtype=torch.float32, attn_implementation="eager")
    reference.generation_config.eos_token_id = None
    models = {"ref": (reference.eval(), False)}
    for backend in BACKENDS:
        models[backend] = (
            Gemma2ForCausalLM.from_pretrained(path, attn_implementation=backend, dtype=torch.float32),
            True,
        )
    return models


def timed(fn: Callable[[], torch.Tensor]) -> tuple[float, torch.Tensor]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def bench_gemma2(size: str, prompt_len: int, window: int, repeats: int, workdir: Path) -> dict[str, float]:
    """Seconds per workload of each backend and the reference, taking turns; greedy tokens and
    prefill logits checked against the reference's."""
    from torch._dynamo.utils import counters

    path = workdir / f"gemma2-{size}"
    result: dict[str, float] = {"weight_bytes": build_gemma2_checkpoint(size, path, window)}
    graphs_before = counters["stats"]["unique_graphs"]
    models = load_gemma2_models(path)
    prompt = torch.randint(3, 32000, (1, prompt_len), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        runs = {name: gemma2_runs(model, ours, prompt) for name, (model, ours) in models.items()}
        outputs: dict[str, dict[str, torch.Tensor]] = {name: {} for name in runs}
        for name, workloads in runs.items():  # first run; a compiled flex_attention compiles here
            result[f"warmup_{name}"] = 0.0
            for workload, fn in workloads.items():
                seconds, outputs[name][workload] = timed(fn)
                result[f"warmup_{name}"] += seconds
        for workload in WORKLOADS:
            times: dict[str, list[float]] = {name: [] for name in runs}
            for _ in range(repeats):
                for name, workloads in runs.items():
                    times[name].append(timed(workloads[workload])[0])
            for name, samples in times.items():
                result[f"{workload}_{name}"] = statistics.median(samples)
    for name in BACKENDS:
        same = all(outputs[name][w].tolist() == outputs["ref"][w].tolist() for w in ("decode_short", "decode_long"))
        result[f"same_tokens_{name}"] = float(same)
        result[f"max_logit_diff_{name}"] = (outputs[name]["prefill"] - outputs["ref"]["prefill"]).abs().max().item()
    result["compiled_graphs"] = counters["stats"]["unique_graphs"] - graphs_before
    return result


def speedups(r: dict[str, float]) -> dict[str, float]:
    """Reference seconds / ours per backend and workload ("prefill_eager_chunked": 2.0 means twice
    as fast as transformers' eager), and eager_chunked over our eager ("prefill_chunked_vs_eager")."""
    ratios = {f"{w}_{name}": r[f"{w}_ref"] / r[f"{w}_{name}"] for w in WORKLOADS for name in BACKENDS}
    ratios.update({f"{w}_chunked_vs_eager": r[f"{w}_eager"] / r[f"{w}_eager_chunked"] for w in WORKLOADS})
    return ratios


def report_gemma2(size: str, prompt_len: int, window: int, r: dict[str, float], flex: str) -> None:
    """Seconds per workload for each backend, the speed-ups, and the checks against the reference."""
    print(
        f"\n== gemma2 {size}: {r['weight_bytes'] / 1e6:.1f} MB fp32, prompt {prompt_len}, window {window}, softcap 50"
    )
    headers = dict(zip(("ref", *BACKENDS), ("transformers eager", "eager", "eager_chunked", flex), strict=True))
    labels = {
        "warmup": "first run of the 3",
        "prefill": f"prefill 1x{prompt_len}",
        "decode_short": f"{NEW_TOKENS} tokens after {SHORT_PROMPT}",
        "decode_long": f"{NEW_TOKENS} tokens after {prompt_len}",
    }
    print(f"{'seconds':<26}" + "".join(f"{header:>20}" for header in headers.values()))
    for workload, label in labels.items():
        print(f"{label:<26}" + "".join(f"{r[f'{workload}_{name}']:>20.3f}" for name in headers))
    ratios = speedups(r)
    print("speed-up over transformers eager (ref / ours):")
    for workload in WORKLOADS:
        row = "".join(f"{ratios[f'{workload}_{name}']:>19.2f}x" for name in BACKENDS)
        print(f"  {labels[workload]:<24}{'':>20}{row}")
    chunked = ", ".join(f"{labels[w]} {ratios[f'{w}_chunked_vs_eager']:.2f}x" for w in WORKLOADS)
    print(f"eager_chunked over our eager: {chunked}")
    same = ", ".join(f"{headers[name]} {bool(r[f'same_tokens_{name}'])}" for name in BACKENDS)
    print(f"greedy tokens equal to transformers eager (both decodes): {same}")
    diffs = ", ".join(f"{headers[name]} {r[f'max_logit_diff_{name}']:.1e}" for name in BACKENDS)
    print(f"prefill logits, max |diff| vs transformers eager: {diffs}")
    if flex == "flex (compiled)":
        print(f"graphs torch.compile built for this size: {int(r['compiled_graphs'])}")
