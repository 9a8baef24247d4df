"""Session-wide test settings.

The flex_attention backend runs torch's uncompiled reference implementation unless
MODULAR_MODELS_FLEX_COMPILE=1 (runtime/flex.py: the compiled kernel is not reliable yet on CPU).
Tests pin the uncompiled one here, whatever the environment says.
"""

from __future__ import annotations

import os

os.environ["MODULAR_MODELS_FLEX_COMPILE"] = "0"
