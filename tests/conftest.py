"""Session-wide test settings.

The flex_attention backend runs torch's uncompiled reference implementation unless
MODULAR_MODELS_FLEX_COMPILE=1 (runtime/flex.py: the compiled kernel is not reliable yet on CPU).
Tests pin the uncompiled one here, whatever the environment says.
"""

from __future__ import annotations

import importlib.util
import os

import pytest

os.environ["MODULAR_MODELS_FLEX_COMPILE"] = "0"


@pytest.fixture(autouse=True)
def bnb_packed_cpu_kernel_off_for_odd_shapes(monkeypatch: pytest.MonkeyPatch) -> None:
    """transformers' own 4-bit layers (the oracle) get what our loader does to ours
    (runtime/quantized_loading.py, without_packed_cpu_kernel): on a CPU with AVX512-BF16, bitsandbytes'
    packed kernel fails on the tiny test models' 32-wide layers."""
    if importlib.util.find_spec("bitsandbytes") is None:
        return
    import bitsandbytes

    from runtime.quantized_loading import without_packed_cpu_kernel

    linear = bitsandbytes.nn.Linear4bit
    forward = linear.forward

    def checked(self, x):  # type: ignore[no-untyped-def]
        without_packed_cpu_kernel(self)
        return forward(self, x)

    monkeypatch.setattr(linear, "forward", checked)
