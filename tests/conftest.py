"""Session-wide test settings.

The flex_attention backend compiles torch's flex_attention on first use, which takes 10-40 s per
new shape on two CPU cores. Tests run its uncompiled reference implementation instead (the same
score modifier and BlockMask, computed exactly as eager computes), set here before any test
runs; tests/runtime/test_softcap_attention.py checks the compiled kernel once, explicitly.
"""

from __future__ import annotations

import os

os.environ.setdefault("MODULAR_MODELS_FLEX_COMPILE", "0")
