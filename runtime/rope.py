"""Rotary position embedding parameters, read from configs the way transformers 5.23 stores them.

A config carries `rope_parameters`, a dict with `rope_type` (`default`, `linear`, `dynamic`,
`llama3`, `yarn`), `rope_theta` and the type's own keys. Older config.json files keep
`rope_theta` and `rope_scaling` at the top level; `standardize_rope_parameters` folds them in.

    inv_freq, attention_scaling = compute_rope_parameters(config)   # (head_dim // 2,), float
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

DEFAULT_THETA = 10_000.0

# The keys each rope type needs besides rope_type and rope_theta.
REQUIRED_KEYS: dict[str, tuple[str, ...]] = {
    "default": (),
    "linear": ("factor",),
    "dynamic": ("factor",),
    "llama3": ("factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"),
    "yarn": ("factor", "original_max_position_embeddings"),
}


def standardize_rope_parameters(
    rope_parameters: dict[str, Any] | None, extra: dict[str, Any], max_position_embeddings: int
) -> dict[str, Any]:
    """One flat rope dict from `rope_parameters` or the legacy `rope_scaling`/`rope_theta` keys.

    Legacy keys are popped from `extra` (a config's unknown fields) as transformers does, so they
    are not written back. Raises `ValueError` for unknown types or missing keys.
    """
    legacy_scaling = extra.pop("rope_scaling", None)
    legacy_theta = extra.pop("rope_theta", None)
    params = dict(rope_parameters or legacy_scaling or {})
    params.setdefault("rope_type", params.pop("type", "default"))
    params.setdefault("rope_theta", legacy_theta if legacy_theta is not None else DEFAULT_THETA)
    rope_type = params["rope_type"]
    if rope_type not in REQUIRED_KEYS:
        raise ValueError(f"rope_parameters: unknown rope_type={rope_type!r}; valid: {', '.join(REQUIRED_KEYS)}")
    if rope_type in ("llama3", "yarn"):
        params.setdefault("original_max_position_embeddings", max_position_embeddings)
    missing = [key for key in REQUIRED_KEYS[rope_type] if params.get(key) is None and key != "factor"]
    if rope_type != "yarn" and params.get("factor") is None and "factor" in REQUIRED_KEYS[rope_type]:
        missing.append("factor")
    if missing:
        raise ValueError(f"rope_parameters with rope_type={rope_type!r} lacks {', '.join(missing)}: {params}")
    return params


def _rotary_dim(config: Any, params: dict[str, Any]) -> int:
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    return int(head_dim * params.get("partial_rotary_factor", 1.0))


def _base_inv_freq(base: float, dim: int, device: torch.device | None) -> torch.Tensor:
    exponents = torch.arange(0, dim, 2, dtype=torch.int64).to(device=device, dtype=torch.float) / dim
    return 1.0 / (base**exponents)


def _default(config: Any, params: dict[str, Any], device: Any, seq_len: int | None) -> tuple[torch.Tensor, float]:
    return _base_inv_freq(params["rope_theta"], _rotary_dim(config, params), device), 1.0


def _linear(config: Any, params: dict[str, Any], device: Any, seq_len: int | None) -> tuple[torch.Tensor, float]:
    inv_freq, _ = _default(config, params, device, seq_len)
    return inv_freq / params["factor"], 1.0


def _dynamic(config: Any, params: dict[str, Any], device: Any, seq_len: int | None) -> tuple[torch.Tensor, float]:
    """NTK-aware scaling: the base grows with the sequence length past max_position_embeddings."""
    dim, factor, max_len = _rotary_dim(config, params), params["factor"], config.max_position_embeddings
    seq_len = max(int(seq_len), max_len) if seq_len is not None else max_len
    base = params["rope_theta"] * ((factor * seq_len / max_len) - (factor - 1)) ** (dim / (dim - 2))
    return _base_inv_freq(base, dim, device), 1.0


def _llama3(config: Any, params: dict[str, Any], device: Any, seq_len: int | None) -> tuple[torch.Tensor, float]:
    """Llama 3.1: low frequencies divided by `factor`, high ones kept, a smooth ramp between."""
    inv_freq, _ = _default(config, params, device, seq_len)
    factor, low, high = params["factor"], params["low_freq_factor"], params["high_freq_factor"]
    old_context = params["original_max_position_embeddings"]
    low_freq_wavelen, high_freq_wavelen = old_context / low, old_context / high
    wavelen = 2 * math.pi / inv_freq
    scaled = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    smooth = (old_context / wavelen - low) / (high - low)
    smoothed = (1 - smooth) * scaled / factor + smooth * scaled
    is_medium = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
    return torch.where(is_medium, smoothed, scaled), 1.0


def _yarn_mscale(scale: float, mscale: float = 1.0) -> float:
    return 1.0 if scale <= 1 else 0.1 * mscale * math.log(scale) + 1.0


def _yarn_ramp(params: dict[str, Any], dim: int, base: float) -> tuple[float, float]:
    """The dimension range [low, high] over which YaRN blends interpolation and extrapolation."""
    original = params["original_max_position_embeddings"]

    def correction_dim(rotations: float) -> float:
        return (dim * math.log(original / (rotations * 2 * math.pi))) / (2 * math.log(base))

    low, high = correction_dim(params.get("beta_fast") or 32), correction_dim(params.get("beta_slow") or 1)
    if params.get("truncate", True):
        low, high = math.floor(low), math.ceil(high)
    return max(low, 0), min(high, dim - 1)


def _yarn(config: Any, params: dict[str, Any], device: Any, seq_len: int | None) -> tuple[torch.Tensor, float]:
    dim, base = _rotary_dim(config, params), params["rope_theta"]
    factor = params.get("factor") or config.max_position_embeddings / params["original_max_position_embeddings"]
    attention_factor = params.get("attention_factor")
    if attention_factor is None:
        mscale, mscale_all_dim = params.get("mscale"), params.get("mscale_all_dim")
        if mscale and mscale_all_dim:
            attention_factor = float(_yarn_mscale(factor, mscale) / _yarn_mscale(factor, mscale_all_dim))
        else:
            attention_factor = _yarn_mscale(factor)
    pos_freqs = base ** (torch.arange(0, dim, 2).to(device=device, dtype=torch.float) / dim)
    low, high = _yarn_ramp(params, dim, base)
    high = high + 0.001 if low == high else high  # avoid a zero-width ramp
    ramp = torch.clamp((torch.arange(dim // 2, dtype=torch.float32) - low) / (high - low), 0, 1)
    extrapolation = (1 - ramp).to(device=device, dtype=torch.float)
    inv_freq = (1.0 / (factor * pos_freqs)) * (1 - extrapolation) + (1.0 / pos_freqs) * extrapolation
    return inv_freq, attention_factor


ROPE_INIT_FUNCTIONS: dict[str, Callable[..., tuple[torch.Tensor, float]]] = {
    "default": _default,
    "linear": _linear,
    "dynamic": _dynamic,
    "llama3": _llama3,
    "yarn": _yarn,
}


def compute_rope_parameters(
    config: Any, device: torch.device | None = None, seq_len: int | None = None
) -> tuple[torch.Tensor, float]:
    """(inverse frequencies, attention scaling) for `config.rope_parameters`."""
    params = config.rope_parameters
    return ROPE_INIT_FUNCTIONS[params["rope_type"]](config, params, device, seq_len)
