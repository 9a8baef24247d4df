"""Memory of fp32, bf16 and 4-bit loads of the medium Llama, ours vs transformers 5.23.0 in one run.

For each load (fp32, bf16, nf4 with double quantization and bf16 compute), in a fresh process per
side: the weight bytes the model holds (`get_memory_footprint()`) and the peak RSS growth of
`from_pretrained` (VmHWM, reset before the load), with the ratio ours / reference. Then greedy
decode tokens/s in bf16 (128 new tokens after a 32-token prompt), ours vs the reference. The
checkpoint is utils/benchmark_models.py's medium Llama (~168 M parameters), saved in fp32.

    python utils/benchmark_memory.py              # about 2 minutes on 2 cores
    python utils/benchmark_memory.py --repeats 1

This is a benchmark, not a test: nothing here asserts on memory or time.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from utils.benchmark_models import build_checkpoint, paired_medians  # noqa: E402

LOADS = ("fp32", "bf16", "nf4")

LOAD_SNIPPET = """
import json, sys, torch
torch.set_num_threads(2)
sys.path.insert(0, {repo!r})
if {ours!r}:
    from generated.llama import LlamaForCausalLM
    from runtime.quantization import BitsAndBytesConfig
else:
    from transformers import BitsAndBytesConfig, LlamaForCausalLM
    import transformers.modeling_utils  # import cost outside the measured window
import bitsandbytes  # both sides pay its import before the window

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024

load = {load!r}
kwargs = {{"dtype": torch.float32 if load == "fp32" else torch.bfloat16}}
if load == "nf4":
    kwargs["quantization_config"] = BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.bfloat16,
    )
open("/proc/self/clear_refs", "w").write("5")  # reset the peak (VmHWM) to the current RSS
base = status("VmRSS")
model = LlamaForCausalLM.from_pretrained({path!r}, **kwargs)
with torch.no_grad():
    model(torch.tensor([[1, 2, 3]]))  # touch every weight: lazily mapped files count from here
print(json.dumps({{"peak": status("VmHWM") - base, "footprint": model.get_memory_footprint()}}))
"""


def measure_load(path: Path, load: str, ours: bool) -> dict[str, int]:
    """Peak RSS growth and memory footprint (bytes) of one load, in a fresh process."""
    code = LOAD_SNIPPET.format(repo=str(REPO), ours=ours, path=str(path), load=load)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def decode_bf16(path: Path, repeats: int) -> tuple[float, float]:
    """Greedy decode tokens/s in bf16: (ours, reference)."""
    import transformers

    from generated.llama import LlamaForCausalLM

    torch.set_num_threads(2)
    ours = LlamaForCausalLM.from_pretrained(path, dtype=torch.bfloat16)
    theirs = transformers.LlamaForCausalLM.from_pretrained(path, dtype=torch.bfloat16).eval()
    theirs.generation_config.eos_token_id = None
    prompt = torch.randint(3, 32000, (1, 32), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        seconds = paired_medians(
            lambda: ours.generate(prompt, max_new_tokens=128, eos_token_id=[]),
            lambda: theirs.generate(prompt, max_new_tokens=128, do_sample=False, min_new_tokens=128),
            repeats,
        )
    return 128 / seconds[0], 128 / seconds[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        path = Path(workdir) / "medium"
        weight_bytes = build_checkpoint("medium", path)
        print(f"medium Llama: {weight_bytes / 2**20:.0f} MiB of fp32 weights")
        print(f"{'load':6} {'footprint MiB ours/ref':>24} {'ratio':>6} {'peak RSS MiB ours/ref':>24} {'ratio':>6}")
        for load in LOADS:
            ours, ref = measure_load(path, load, True), measure_load(path, load, False)
            footprint = f"{ours['footprint'] / 2**20:.0f} / {ref['footprint'] / 2**20:.0f}"
            peak = f"{ours['peak'] / 2**20:.0f} / {ref['peak'] / 2**20:.0f}"
            print(
                f"{load:6} {footprint:>24} {ours['footprint'] / ref['footprint']:6.2f} "
                f"{peak:>24} {ours['peak'] / max(ref['peak'], 1):6.2f}"
            )
        ours_tps, ref_tps = decode_bf16(path, args.repeats)
        print(f"decode bf16: {ours_tps:.1f} vs {ref_tps:.1f} tokens/s (ratio {ours_tps / ref_tps:.2f})")


if __name__ == "__main__":
    main()
