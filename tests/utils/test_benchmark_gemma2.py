"""The Gemma2 backend benchmark's bookkeeping, without timing anything: the benchmark decides which
flex_attention runs and its report names it, speed-ups are reference seconds over ours, and a
greedy-token mismatch is printed, not hidden.
Run: python -m pytest tests/utils/test_benchmark_gemma2.py -q
"""

from __future__ import annotations

from types import ModuleType

import pytest
import torch

from tests.utils.scripts import load_script


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_script("benchmark_gemma2")


def figures(bench: ModuleType) -> dict[str, float]:
    """Made-up seconds: the reference takes 2 s everywhere, eager 4 s, eager_chunked 1 s, flex 8 s."""
    seconds = {"ref": 2.0, "eager": 4.0, "eager_chunked": 1.0, "flex_attention": 8.0}
    r = {f"{w}_{name}": s for w in ("warmup", *bench.WORKLOADS) for name, s in seconds.items()}
    for name in bench.BACKENDS:
        r[f"same_tokens_{name}"] = float(name != "flex_attention")
        r[f"max_logit_diff_{name}"] = 0.0 if name != "flex_attention" else 1.8
    return {**r, "weight_bytes": 4e7, "compiled_graphs": 3.0}


def test_speedups_are_reference_seconds_over_ours(bench: ModuleType) -> None:
    ratios = bench.speedups(figures(bench))
    assert ratios["prefill_eager_chunked"] == 2.0
    assert ratios["decode_long_flex_attention"] == 0.25
    assert ratios["decode_short_chunked_vs_eager"] == 4.0


@pytest.mark.parametrize(("compiled", "label"), [(True, "flex (compiled)"), (False, "flex (uncompiled)")])
def test_the_benchmark_decides_which_flex_runs(
    bench: ModuleType, monkeypatch: pytest.MonkeyPatch, compiled: bool, label: str
) -> None:
    monkeypatch.setenv("MODULAR_MODELS_FLEX_COMPILE", "0" if compiled else "1")  # restored afterwards
    monkeypatch.setattr(torch._dynamo.config, "recompile_limit", torch._dynamo.config.recompile_limit)
    bench.use_compiled_flex(compiled)
    assert bench.flex_label() == label


def test_report_names_the_flex_it_timed_and_prints_a_token_mismatch(
    bench: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    bench.report_gemma2("small", 512, 4096, figures(bench), "flex (compiled)")
    out = capsys.readouterr().out
    assert "flex (compiled)" in out.splitlines()[2]  # the column header
    assert "eager_chunked True, flex (compiled) False" in out
    assert "flex (compiled) 1.8e+00" in out
