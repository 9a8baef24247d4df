"""Benchmark our generated Llama (or Gemma2's softcapping backends) against transformers 5.23.0, same weights.

Prints, for a small model (per-token overhead dominates) and a medium one (~168 M parameters,
reading the weights dominates), ours beside the reference with the ratio, its target and the
physical limit:
- time to first token: `from_pretrained` + a greedy `generate` of 2 tokens after a 512-token
  prompt (one prefill, one decode step), each run in a fresh process, fp32. The checkpoint file
  is in the page cache (it was just written and read): a cold cache would add reading the file
  from disk to both sides (we cannot drop caches here; a loader that maps the file pays it on
  first use, during the prefill, one that reads it pays it during `from_pretrained`);
- prefill latency (batch 1 x 512 tokens), greedy decode tokens/s (128 new tokens after a 32-token
  prompt), and the peak memory of `from_pretrained` relative to the weight bytes, in fp32;
- greedy decode tokens/s in bf16 (both models loaded with dtype=torch.bfloat16, `--bf16-tokens`
  new tokens after the same prompt);
- the weight bytes read per second while decoding (fp32 and bf16) beside the machine's memory
  bandwidth (a large copy): decoding reads every weight once per token, so bandwidth / weight
  bytes is the tokens/s no implementation can pass; prefill's limit is its matmul FLOPs at the
  FLOP/s of a large fp32 matmul.

    python utils/benchmark_models.py            # both sizes, about 8 minutes on 2 cores
    python utils/benchmark_models.py --sizes small --repeats 3
    python utils/benchmark_models.py --no-compiled     # without the compiled decode paths below
    python utils/benchmark_models.py --models gemma2   # Gemma2's softcapping backends instead
    python utils/benchmark_models.py --threads 1       # steadier on a shared machine (default 2)

It also times the compiled decode paths, ours (`generate(compile=True)`) against transformers'
own (a static cache with its automatic torch.compile of the decode step), each after a first
call that compiles (its seconds printed apart).

`--models gemma2` times a random Gemma2 with each of our exact softcapping backends (eager,
eager_chunked, flex_attention) against transformers' eager: prefill, greedy decode after a short
and a long prompt, the first run, with speed-ups and greedy-token checks (utils/benchmark_gemma2.py;
`--flex-compile` times the compiled flex_attention kernel instead of torch's uncompiled one).

Timings are medians over repeats, alternating ours and the reference so that machine noise hits
both. This is a benchmark, not a test: nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import benchmark_gemma2  # run as a script, Python puts utils/ on sys.path
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SIZES: dict[str, dict[str, int]] = {
    "small": dict(hidden_size=256, intermediate_size=688, num_hidden_layers=2, num_attention_heads=4),
    "medium": dict(hidden_size=1024, intermediate_size=2816, num_hidden_layers=8, num_attention_heads=16),
}

LOAD_SNIPPET = """
import sys, time, torch
torch.set_num_threads({threads})
sys.path.insert(0, {repo!r})
if {ours!r}:
    from generated.llama import LlamaForCausalLM
else:
    from transformers import LlamaForCausalLM
    import transformers.modeling_utils  # import cost outside the measured window

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024

open("/proc/self/clear_refs", "w").write("5")  # reset the peak (VmHWM) to the current RSS
base = status("VmRSS")
start = time.perf_counter()
model = LlamaForCausalLM.from_pretrained({path!r}, dtype=torch.float32)
elapsed = time.perf_counter() - start
with torch.no_grad():
    model(torch.tensor([[1, 2, 3]]))  # touch every weight: lazily mapped files count from here
print(status("VmHWM") - base, elapsed)
"""


FIRST_TOKEN_SNIPPET = """
import json, sys, time, torch
torch.set_num_threads({threads})
sys.path.insert(0, {repo!r})
if {ours!r}:
    from generated.llama import LlamaForCausalLM
    kwargs = dict(eos_token_id=[])
else:
    from transformers import LlamaForCausalLM
    import transformers.modeling_utils, transformers.generation.utils  # import cost outside the window
    kwargs = dict(do_sample=False, min_new_tokens=2, eos_token_id=None, pad_token_id=0)
prompt = torch.randint(3, 32000, (1, 512), generator=torch.Generator().manual_seed(0))
mask = torch.ones_like(prompt)
start = time.perf_counter()
model = LlamaForCausalLM.from_pretrained({path!r}, dtype=torch.float32)
loaded = time.perf_counter()
with torch.no_grad():
    out = model.generate(prompt, attention_mask=mask, max_new_tokens=2, **kwargs)
done = time.perf_counter()
print(json.dumps({{"load": loaded - start, "total": done - start, "tokens": out[0, -2:].tolist()}}))
"""


def build_checkpoint(size: str, directory: Path) -> int:
    """Save a random transformers Llama of `size` into `directory`; return its weight bytes."""
    import transformers

    config = transformers.LlamaConfig(
        vocab_size=32000, max_position_embeddings=2048, eos_token_id=None, bos_token_id=None, **SIZES[size]
    )
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(config)
    model.save_pretrained(directory)
    return sum(p.numel() * p.element_size() for p in model.parameters())


def load_peak(path: Path, ours: bool) -> tuple[float, float]:
    """(peak RSS growth in bytes, seconds) of from_pretrained in a fresh process."""
    code = LOAD_SNIPPET.format(repo=str(REPO), ours=ours, path=str(path), threads=torch.get_num_threads())
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    peak, seconds = out.split()[-2:]
    return int(peak), float(seconds)


def warm_page_cache(path: Path) -> None:
    """Read every weight file once, so both sides find it in the page cache."""
    for file in sorted(path.glob("*.safetensors")):
        with open(file, "rb") as handle:
            while handle.read(64 * 2**20):
                pass


def first_token(path: Path, ours: bool) -> dict[str, float]:
    """Seconds of from_pretrained, and of from_pretrained + prefill + one decode step, in a fresh process."""
    code = FIRST_TOKEN_SNIPPET.format(repo=str(REPO), ours=ours, path=str(path), threads=torch.get_num_threads())
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return json.loads(out.splitlines()[-1])


def first_token_medians(path: Path, repeats: int) -> dict[str, float]:
    """Median first-token and load seconds of each side, runs alternating ours and the reference."""
    warm_page_cache(path)
    runs: dict[bool, list[dict]] = {True: [], False: []}
    for _ in range(repeats):
        for ours in (True, False):
            runs[ours].append(first_token(path, ours))
    result = {}
    for name, ours in (("ours", True), ("ref", False)):
        result[f"first_token_s_{name}"] = statistics.median(run["total"] for run in runs[ours])
        result[f"first_token_load_s_{name}"] = statistics.median(run["load"] for run in runs[ours])
    result["first_token_same_tokens"] = float(runs[True][0]["tokens"] == runs[False][0]["tokens"])
    return result


def median_time(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def paired_medians(ours: Callable[[], object], ref: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median seconds of each, alternating ours and the reference so that noise hits both."""
    ours_times, ref_times = [], []
    for _ in range(repeats):
        ours_times.append(median_time(ours, 1))
        ref_times.append(median_time(ref, 1))
    return statistics.median(ours_times), statistics.median(ref_times)


def memory_bandwidth() -> float:
    """Bytes per second moved by copying a 512 MiB tensor (read + write)."""
    src = torch.empty(128 * 1024 * 1024, dtype=torch.float32).fill_(1.0)
    dst = torch.empty_like(src)
    seconds = median_time(lambda: dst.copy_(src), 5)
    return 2 * src.numel() * src.element_size() / seconds


def matmul_flops() -> float:
    """Floating-point operations per second of a large fp32 matmul (prefill's compute ceiling)."""
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    seconds = median_time(lambda: a @ b, 5)
    return 2 * 2048**3 / seconds


def load_models(path: Path, attn: str, dtype: torch.dtype = torch.float32) -> tuple[torch.nn.Module, torch.nn.Module]:
    import transformers

    from generated.llama import LlamaForCausalLM

    ours = LlamaForCausalLM.from_pretrained(path, attn_implementation=attn, dtype=dtype)
    theirs = transformers.LlamaForCausalLM.from_pretrained(path, dtype=dtype, attn_implementation=attn)
    theirs.generation_config.eos_token_id = None
    return ours, theirs.eval()


def decode_functions(
    ours: torch.nn.Module, theirs: torch.nn.Module, prompt: torch.Tensor, tokens: int
) -> tuple[Callable[[], object], Callable[[], object]]:
    """Greedy generation of exactly `tokens` new tokens by each side."""
    return (
        lambda: ours.generate(prompt, max_new_tokens=tokens, eos_token_id=[]),
        lambda: theirs.generate(prompt, max_new_tokens=tokens, do_sample=False, min_new_tokens=tokens),
    )


def bench_bf16_decode(path: Path, attn: str, repeats: int, tokens: int) -> dict[str, float]:
    """Greedy decode tokens/s of both sides loaded with dtype=torch.bfloat16."""
    ours, theirs = load_models(path, attn, torch.bfloat16)
    short = torch.randint(3, 32000, (1, 32), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        warm_ours, warm_ref = decode_functions(ours, theirs, short, 2)
        warm_ours(), warm_ref()
        seconds_ours, seconds_ref = paired_medians(*decode_functions(ours, theirs, short, tokens), repeats)
    return {
        "weight_bytes_bf16": sum(p.numel() * p.element_size() for p in ours.parameters()),
        "decode_tps_bf16_ours": tokens / seconds_ours,
        "decode_tps_bf16_ref": tokens / seconds_ref,
    }


def prefill_flops(model: torch.nn.Module, tokens: int) -> float:
    """Matmul FLOPs of one prefill of `tokens` keeping one token's logits: every Linear weight of
    the layers once per token, plus attention's two (tokens x tokens x hidden) products per layer."""
    config = model.config
    layer_params = sum(m.weight.numel() for m in model.model.layers.modules() if isinstance(m, torch.nn.Linear))
    head_params = model.lm_head.weight.numel()
    attention = 4 * config.num_hidden_layers * tokens * tokens * config.hidden_size
    return 2 * layer_params * tokens + 2 * head_params + attention


def bench_size(size: str, attn: str, repeats: int, workdir: Path, bf16_tokens: int) -> dict[str, float]:
    path = workdir / size
    weight_bytes = build_checkpoint(size, path)
    ours, theirs = load_models(path, attn)
    prompt = torch.randint(3, 32000, (1, 512), generator=torch.Generator().manual_seed(0))
    short = prompt[:, :32]
    result: dict[str, float] = {"weight_bytes": weight_bytes, "prefill_flops": prefill_flops(ours, 512)}
    with torch.no_grad():
        for model in (ours, theirs):
            model(prompt[:, :64], use_cache=False)  # warm-up

        def prefill(model: torch.nn.Module) -> Callable[[], object]:
            return lambda: model(prompt, use_cache=False, logits_to_keep=1)

        result["prefill_ours"], result["prefill_ref"] = paired_medians(prefill(ours), prefill(theirs), repeats)
        decode_ours, decode_ref = paired_medians(*decode_functions(ours, theirs, short, 128), repeats)
        result["decode_tps_ours"], result["decode_tps_ref"] = 128 / decode_ours, 128 / decode_ref
        out_ours = ours.generate(short, max_new_tokens=16, eos_token_id=[])
        out_ref = theirs.generate(short, max_new_tokens=16, do_sample=False, min_new_tokens=16)
        result["same_tokens"] = float(out_ours.tolist() == out_ref.tolist())
    del ours, theirs
    for name, flag in (("ours", True), ("ref", False)):
        peak, seconds = load_peak(path, flag)
        result[f"load_peak_{name}"] = peak / weight_bytes
        result[f"load_seconds_{name}"] = seconds
    result.update(first_token_medians(path, repeats))
    result.update(bench_bf16_decode(path, attn, max(1, repeats // 2), bf16_tokens))
    return result


def bench_compiled_decode(path: Path, attn: str, repeats: int) -> dict[str, float]:
    """Greedy decode tokens/s of the compiled paths: ours (`generate(compile=True)`, a static cache
    and torch.compile of the forward) and transformers' own (`cache_implementation="static"` with
    a `CompileConfig`, its automatic compile of the decode step; `_compile_all_devices` is the flag
    transformers reads to allow it on a CPU), same prompt and lengths as `bench_size`'s decode.
    The first call of each (tracing and inductor's C++ build) is timed apart as compile seconds."""
    import transformers

    ours, theirs = load_models(path, attn)
    compile_config = transformers.CompileConfig()
    compile_config._compile_all_devices = True
    short = torch.randint(3, 32000, (1, 512), generator=torch.Generator().manual_seed(0))[:, :32]

    def ours_compiled() -> torch.Tensor:
        return ours.generate(short, max_new_tokens=128, eos_token_id=[], compile=True)

    def theirs_compiled() -> torch.Tensor:
        return theirs.generate(
            short,
            max_new_tokens=128,
            do_sample=False,
            min_new_tokens=128,
            cache_implementation="static",
            compile_config=compile_config,
        )

    result: dict[str, float] = {}
    for name, fn in (("ours", ours_compiled), ("ref", theirs_compiled)):
        start = time.perf_counter()
        out = fn()
        result[f"compile_seconds_{name}"] = time.perf_counter() - start
        result[f"_tokens_{name}"] = out
    result["same_tokens_compiled"] = float(result.pop("_tokens_ours").tolist() == result.pop("_tokens_ref").tolist())
    seconds_ours, seconds_ref = paired_medians(ours_compiled, theirs_compiled, repeats)
    result["decode_tps_ours_compiled"], result["decode_tps_ref_compiled"] = 128 / seconds_ours, 128 / seconds_ref
    return result


def report_compiled(size: str, r: dict[str, float]) -> None:
    """The compiled decode rows of `size`, beside the default-path decode of the same run."""
    print(f"-- {size}, compiled decode; greedy tokens equal: {bool(r['same_tokens_compiled'])}")
    print(f"{'metric':<28}{'ours':>12}{'reference':>12}{'ratio':>10}  target")
    rows = [
        ("compiled decode (tokens/s)", r["decode_tps_ours_compiled"], r["decode_tps_ref_compiled"], ">= 1.0"),
        ("ours compiled / ref default", r["decode_tps_ours_compiled"], r["decode_tps_ref"], ""),
        ("compile, first call (s)", r["compile_seconds_ours"], r["compile_seconds_ref"], ""),
    ]
    for name, ours, ref, target in rows:
        ratio = ref / ours if name.startswith("compile,") else ours / ref
        print(f"{name:<28}{ours:>12.3f}{ref:>12.3f}{ratio:>10.2f}  {target}")


def limits(r: dict[str, float], machine: dict[str, float]) -> dict[str, float]:
    """What no implementation can beat on this machine: decode reads every weight once per token
    (at most the copy bandwidth), prefill does its matmul FLOPs (at most a large matmul's FLOP/s)."""
    bandwidth, flops = machine["bandwidth"], machine["matmul_flops"]
    prefill = r["prefill_flops"] / flops
    return {
        "prefill_s": prefill,
        "decode_tps": bandwidth / r["weight_bytes"],
        "decode_tps_bf16": bandwidth / r["weight_bytes_bf16"],
        "first_token_s": prefill + r["weight_bytes"] / bandwidth,
        "load_s": 2 * r["weight_bytes"] / bandwidth,  # a copy reads and writes each byte
    }


def report(size: str, r: dict[str, float], machine: dict[str, float]) -> None:
    limit = limits(r, machine)
    print(
        f"\n== {size}: {r['weight_bytes'] / 1e6:.1f} MB of fp32 weights; greedy tokens equal: {bool(r['same_tokens'])}"
        f" (fp32), first tokens equal: {bool(r['first_token_same_tokens'])}"
    )
    print(f"{'metric':<28}{'ours':>12}{'reference':>12}{'ratio':>10}  {'target':<30}{'physical limit':>16}")
    rows = [
        (
            "first token, fresh (s)",
            r["first_token_s_ours"],
            r["first_token_s_ref"],
            r["first_token_s_ref"] / r["first_token_s_ours"],
            "ref/ours >= 1.0",
            f">= {limit['first_token_s']:.3f}",
        ),
        (
            "  of which load (s)",
            r["first_token_load_s_ours"],
            r["first_token_load_s_ref"],
            r["first_token_load_s_ref"] / r["first_token_load_s_ours"],
            "",
            "0 (mapped)",
        ),
        (
            "prefill 1x512 (s)",
            r["prefill_ours"],
            r["prefill_ref"],
            r["prefill_ref"] / r["prefill_ours"],
            "ref/ours >= 1.0",
            f">= {limit['prefill_s']:.3f}",
        ),
        (
            "decode fp32 (tokens/s)",
            r["decode_tps_ours"],
            r["decode_tps_ref"],
            r["decode_tps_ours"] / r["decode_tps_ref"],
            ">= 1.5 small, >= 1.0 medium",
            f"<= {limit['decode_tps']:.1f}",
        ),
        (
            "decode bf16 (tokens/s)",
            r["decode_tps_bf16_ours"],
            r["decode_tps_bf16_ref"],
            r["decode_tps_bf16_ours"] / r["decode_tps_bf16_ref"],
            "ours/ref >= 1.0",
            f"<= {limit['decode_tps_bf16']:.1f}",
        ),
        (
            "load peak / weight bytes",
            r["load_peak_ours"],
            r["load_peak_ref"],
            r["load_peak_ours"] / r["load_peak_ref"],
            "ours <= 1.3",
            ">= 1.0",
        ),
        (
            "load time (s)",
            r["load_seconds_ours"],
            r["load_seconds_ref"],
            r["load_seconds_ref"] / r["load_seconds_ours"],
            "",
            f"{limit['load_s']:.3f} to copy",
        ),
    ]
    for name, ours, ref, ratio, target, physical in rows:
        print(f"{name:<28}{ours:>12.3f}{ref:>12.3f}{ratio:>10.2f}  {target:<30}{physical:>16}")
    for label, key, weights in (
        ("fp32", "decode_tps", r["weight_bytes"]),
        ("bf16", "decode_tps_bf16", r["weight_bytes_bf16"]),
    ):
        for side in ("ours", "ref"):
            streamed = weights * r[f"{key}_{side}"]
            print(
                f"weights read while decoding {label} ({side}): {streamed / 1e9:.2f} GB/s vs "
                f"{machine['bandwidth'] / 1e9:.2f} GB/s copy bandwidth: {100 * streamed / machine['bandwidth']:.0f}% "
                "of the physical limit"
            )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["llama"], choices=["llama", "gemma2"])
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--attn", default="sdpa", choices=["sdpa", "eager"], help="llama's backend")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2, help="torch threads (1 is steadier on a shared machine)")
    parser.add_argument("--bf16-tokens", type=int, default=32, help="new tokens per bf16 decode run")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--no-compiled", dest="compiled", action="store_false", help="skip the compiled decode paths (slow to build)"
    )
    parser.add_argument("--gemma2-prompt", type=int, default=512, help="gemma2 prompt length (prefill, long decode)")
    parser.add_argument("--gemma2-window", type=int, default=4096, help="gemma2 sliding window (4096 as released)")
    parser.add_argument(
        "--flex-compile",
        action="store_true",
        help="gemma2: time flex_attention compiled (MODULAR_MODELS_FLEX_COMPILE=1), not torch's uncompiled one",
    )
    return parser.parse_args()


def run_llama(args: argparse.Namespace, workdir: Path) -> dict[str, object]:
    """The Llama figures of every size, with the machine's limits, reported; as --json writes them."""
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, attn={args.attn}")
    print("first token: the checkpoint is in the page cache (a cold cache adds the disk read to both sides)")
    results = {}
    for size in args.sizes:
        results[size] = bench_size(size, args.attn, args.repeats, workdir, args.bf16_tokens)
        if args.compiled:
            results[size].update(bench_compiled_decode(workdir / size, args.attn, args.repeats))
    machine = {"bandwidth": memory_bandwidth(), "matmul_flops": matmul_flops()}
    print(
        f"machine: {machine['bandwidth'] / 1e9:.2f} GB/s copy bandwidth, "
        f"{machine['matmul_flops'] / 1e9:.1f} GFLOP/s fp32 matmul (2048^3)"
    )
    for size, result in results.items():
        report(size, result, machine)
        result["limits"] = limits(result, machine)
        if "decode_tps_ours_compiled" in result:
            report_compiled(size, result)
    return {**machine, **results}


def run_gemma2(args: argparse.Namespace, workdir: Path) -> dict[str, object]:
    """The Gemma2 backend figures of every size, reported; as --json writes them under "gemma2"."""
    benchmark_gemma2.use_compiled_flex(args.flex_compile)
    flex = benchmark_gemma2.flex_label()
    print(f"\ntorch {torch.__version__}, {torch.get_num_threads()} threads, gemma2 fp32, {flex}")
    results: dict[str, object] = {"flex": flex, "prompt": args.gemma2_prompt, "window": args.gemma2_window}
    for size in args.sizes:
        r = benchmark_gemma2.bench_gemma2(size, args.gemma2_prompt, args.gemma2_window, args.repeats, workdir)
        benchmark_gemma2.report_gemma2(size, args.gemma2_prompt, args.gemma2_window, r, flex)
        results[size] = {**r, "speedups": benchmark_gemma2.speedups(r)}
    return results


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    figures: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        if "llama" in args.models:
            figures.update(run_llama(args, Path(tmp)))
        if "gemma2" in args.models:
            figures["gemma2"] = run_gemma2(args, Path(tmp))
    if args.json:
        args.json.write_text(json.dumps({"threads": args.threads, **figures}, indent=2))


if __name__ == "__main__":
    main()
