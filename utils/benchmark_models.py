"""Benchmark our generated Llama against transformers 5.23.0 in one run, same weights, fp32.

Prints, for a small model (per-token overhead dominates) and a medium one (~168 M parameters,
reading the weights dominates): prefill latency (batch 1 x 512 tokens), greedy decode tokens/s
(128 new tokens after a 32-token prompt), and the peak memory of `from_pretrained` relative to
the weight bytes, each with the ratio ours / reference. For the medium model it also prints the
weight bytes read per second while decoding beside the machine's memory bandwidth (a large copy).

    python utils/benchmark_models.py            # both sizes, about 3 minutes on 2 cores
    python utils/benchmark_models.py --sizes small --repeats 3
    python utils/benchmark_models.py --no-compiled     # without the compiled decode paths below

It also times the compiled decode paths, ours (`generate(compile=True)`) against transformers'
own (a static cache with its automatic torch.compile of the decode step), each after a first
call that compiles (its seconds printed apart).

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

import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SIZES: dict[str, dict[str, int]] = {
    "small": dict(hidden_size=256, intermediate_size=688, num_hidden_layers=2, num_attention_heads=4),
    "medium": dict(hidden_size=1024, intermediate_size=2816, num_hidden_layers=8, num_attention_heads=16),
}

LOAD_SNIPPET = """
import sys, time, torch
torch.set_num_threads(2)
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
    code = LOAD_SNIPPET.format(repo=str(REPO), ours=ours, path=str(path))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    peak, seconds = out.split()[-2:]
    return int(peak), float(seconds)


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


def load_models(path: Path, attn: str) -> tuple[torch.nn.Module, torch.nn.Module]:
    import transformers

    from generated.llama import LlamaForCausalLM

    ours = LlamaForCausalLM.from_pretrained(path, attn_implementation=attn)
    theirs = transformers.LlamaForCausalLM.from_pretrained(path, dtype=torch.float32, attn_implementation=attn)
    theirs.generation_config.eos_token_id = None
    return ours, theirs.eval()


def bench_size(size: str, attn: str, repeats: int, workdir: Path) -> dict[str, float]:
    path = workdir / size
    weight_bytes = build_checkpoint(size, path)
    ours, theirs = load_models(path, attn)
    prompt = torch.randint(3, 32000, (1, 512), generator=torch.Generator().manual_seed(0))
    short = prompt[:, :32]
    result: dict[str, float] = {"weight_bytes": weight_bytes}
    with torch.no_grad():
        for model in (ours, theirs):
            model(prompt[:, :64], use_cache=False)  # warm-up

        def prefill(model: torch.nn.Module) -> Callable[[], object]:
            return lambda: model(prompt, use_cache=False, logits_to_keep=1)

        def decode(model: torch.nn.Module, ours_api: bool) -> Callable[[], object]:
            kwargs = {"eos_token_id": []} if ours_api else {"do_sample": False, "min_new_tokens": 128}
            return lambda: model.generate(short, max_new_tokens=128, **kwargs)

        result["prefill_ours"], result["prefill_ref"] = paired_medians(prefill(ours), prefill(theirs), repeats)
        decode_ours, decode_ref = paired_medians(decode(ours, True), decode(theirs, False), repeats)
        result["decode_tps_ours"], result["decode_tps_ref"] = 128 / decode_ours, 128 / decode_ref
        out_ours = ours.generate(short, max_new_tokens=16, eos_token_id=[])
        out_ref = theirs.generate(short, max_new_tokens=16, do_sample=False, min_new_tokens=16)
        result["same_tokens"] = float(out_ours.tolist() == out_ref.tolist())
    del ours, theirs
    for name, flag in (("ours", True), ("ref", False)):
        peak, seconds = load_peak(path, flag)
        result[f"load_peak_{name}"] = peak / weight_bytes
        result[f"load_seconds_{name}"] = seconds
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


def report(size: str, r: dict[str, float], bandwidth: float | None) -> None:
    print(
        f"\n== {size}: {r['weight_bytes'] / 1e6:.1f} MB of fp32 weights; greedy tokens equal: {bool(r['same_tokens'])}"
    )
    print(f"{'metric':<28}{'ours':>12}{'reference':>12}{'ratio':>10}  target")
    rows = [
        (
            "prefill 1x512 (s)",
            r["prefill_ours"],
            r["prefill_ref"],
            r["prefill_ref"] / r["prefill_ours"],
            "ref/ours >= 1.0",
        ),
        (
            "decode (tokens/s)",
            r["decode_tps_ours"],
            r["decode_tps_ref"],
            r["decode_tps_ours"] / r["decode_tps_ref"],
            ">= 1.5 small, >= 1.0 medium",
        ),
        (
            "load peak / weight bytes",
            r["load_peak_ours"],
            r["load_peak_ref"],
            r["load_peak_ours"] / r["load_peak_ref"],
            "ours <= 1.3",
        ),
        (
            "load time (s)",
            r["load_seconds_ours"],
            r["load_seconds_ref"],
            r["load_seconds_ref"] / r["load_seconds_ours"],
            "",
        ),
    ]
    for name, ours, ref, ratio, target in rows:
        print(f"{name:<28}{ours:>12.3f}{ref:>12.3f}{ratio:>10.2f}  {target}")
    if bandwidth is not None:
        streamed = r["weight_bytes"] * r["decode_tps_ours"]
        print(
            f"weights read while decoding: {streamed / 1e9:.2f} GB/s (ours) vs {bandwidth / 1e9:.2f} GB/s copy "
            f"bandwidth: {100 * streamed / bandwidth:.0f}% of the physical limit"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--attn", default="sdpa", choices=["sdpa", "eager"])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--no-compiled", dest="compiled", action="store_false", help="skip the compiled decode paths (slow to build)"
    )
    args = parser.parse_args()
    torch.set_num_threads(2)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, fp32, attn={args.attn}")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            results[size] = bench_size(size, args.attn, args.repeats, Path(tmp))
            if args.compiled:
                results[size].update(bench_compiled_decode(Path(tmp) / size, args.attn, args.repeats))
    bandwidth = memory_bandwidth()
    for size, result in results.items():
        report(size, result, bandwidth if size == "medium" else None)
        if "decode_tps_ours_compiled" in result:
            report_compiled(size, result)
    if args.json:
        args.json.write_text(json.dumps({"bandwidth": bandwidth, **results}, indent=2))


if __name__ == "__main__":
    main()
