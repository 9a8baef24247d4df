"""Rotary position embedding parameters, read from configs the way transformers 5.23 stores them.

A config carries `rope_parameters`, a dict with `rope_type` (`default`, `linear`, `dynamic`,
`llama3`, `yarn`, `longrope`), `rope_theta`, an optional `partial_rotary_factor` and the type's
own keys. Older config.json files keep `rope_theta`, `rope_scaling` and `partial_rotary_factor`
at the top level (and Phi-3 keeps `original_max_position_embeddings` there);
`standardize_rope_parameters` folds them in as transformers 5.23 does.

    inv_freq, attention_scaling = compute_rope_parameters(config)   # (rotary_dim // 2,), float
    inv_freq, _ = compute_rope_parameters(config, device, seq_len)  # for the current length

The rotary dimension is `head_dim * partial_rotary_factor` for every type. Two types depend on
the current sequence length, so a rotary module recomputes them
per forward with `seq_len = max(position_ids) + 1`: `dynamic` grows its base past
`max_position_embeddings`; `longrope` uses `short_factor` up to `original_max_position_embeddings`
and `long_factor` past it (its attention scaling does not depend on the length).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import torch

from runtime.messages import short_repr

DEFAULT_THETA = 10_000.0

# The keys each rope type needs besides rope_type and rope_theta.
REQUIRED_KEYS: dict[str, tuple[str, ...]] = {
    "default": (),
    "linear": ("factor",),
    "dynamic": ("factor",),
    "llama3": ("factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"),
    "yarn": ("factor", "original_max_position_embeddings"),
    "longrope": ("short_factor", "long_factor", "original_max_position_embeddings"),
}
# Older names of rope types. "su" is LongRoPE's name in the first Phi-3-128k config.json files.
# (Phi3Config also reads "yarn" as longrope; that is Phi-3's own quirk, not a general alias.)
LEGACY_ROPE_TYPES: dict[str, str] = {"su": "longrope"}
# Types trained with a shorter context: their `original_max_position_embeddings` defaults to
# `max_position_embeddings`, and a top-level `original_max_position_embeddings` overrides it.
ORIGINAL_LENGTH_TYPES = ("llama3", "yarn", "longrope")


def standardize_rope_parameters(
    rope_parameters: dict[str, Any] | None,
    extra: dict[str, Any],
    max_position_embeddings: int,
    *,
    partial_rotary_factor: float | None = None,
    original_max_position_embeddings: int | None = None,
    default_theta: float = DEFAULT_THETA,
) -> dict[str, Any]:
    """One flat rope dict from `rope_parameters` or the legacy top-level keys, as transformers 5.23.

    `extra` holds a config's unknown (config.json) fields. The legacy `rope_scaling`, `rope_theta`
    and `partial_rotary_factor` are popped from it, so they are not written back; a legacy
    `rope_scaling` wins over `rope_parameters`, and values already in the rope dict win over
    top-level ones. `original_max_position_embeddings` (llama3, yarn, longrope) defaults to
    `max_position_embeddings`, and a top-level one (kept in `extra`, as transformers keeps it)
    overrides the dict's: transformers gives it priority when it computes the frequencies.
    The keyword arguments are for config classes that declare these two as fields.
    `rope_theta` comes from the rope dict, else the legacy top-level key, else `default_theta`:
    a config passes `getattr(self, "rope_theta", self.default_theta)`, as transformers 5.23 does,
    so a class declaring `rope_theta` as a field, or a `default_theta`, sets its own default.
    Raises `ValueError` for unknown types or missing keys.
    """
    legacy_scaling = extra.pop("rope_scaling", None)
    legacy_theta = extra.pop("rope_theta", None)
    partial_rotary_factor = extra.pop("partial_rotary_factor", partial_rotary_factor)
    original_max_position_embeddings = extra.get("original_max_position_embeddings", original_max_position_embeddings)
    params = dict(legacy_scaling or rope_parameters or {})
    rope_type = params.pop("type", "default")
    rope_type = params.setdefault("rope_type", rope_type)
    params["rope_type"] = rope_type = LEGACY_ROPE_TYPES.get(rope_type, rope_type)
    params.setdefault("rope_theta", legacy_theta if legacy_theta is not None else default_theta)
    if partial_rotary_factor is not None:
        params.setdefault("partial_rotary_factor", partial_rotary_factor)
    if rope_type not in REQUIRED_KEYS:
        raise ValueError(f"rope_parameters: unknown rope_type={rope_type!r}; valid: {', '.join(REQUIRED_KEYS)}")
    if rope_type in ORIGINAL_LENGTH_TYPES:
        if original_max_position_embeddings is not None:
            params["original_max_position_embeddings"] = original_max_position_embeddings
        params.setdefault("original_max_position_embeddings", max_position_embeddings)
    _check_required_keys(params)
    return params


def _check_required_keys(params: dict[str, Any]) -> None:
    """Raise `ValueError` naming the keys `params`' rope type needs and lacks (yarn may omit
    `factor`), or a length or rotary fraction that is not a positive number (a legacy top-level
    key is not checked by anything else before the model computes with it)."""
    rope_type = params["rope_type"]
    missing = [key for key in REQUIRED_KEYS[rope_type] if params.get(key) is None and key != "factor"]
    if rope_type != "yarn" and params.get("factor") is None and "factor" in REQUIRED_KEYS[rope_type]:
        missing.append("factor")
    if missing:
        raise ValueError(f"rope_parameters with rope_type={rope_type!r} lacks {', '.join(missing)}: {params}")
    for key in ("original_max_position_embeddings", "partial_rotary_factor"):
        value = params.get(key)
        if key in params and (not isinstance(value, numbers.Real) or isinstance(value, bool) or not value > 0):
            raise ValueError(f"rope_parameters[{key!r}] must be a positive number, got {short_repr(value)}")


def _rotary_dim(config: Any, params: dict[str, Any]) -> int:
    """The dimensions rotated: `head_dim * partial_rotary_factor`, truncated as transformers does."""
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


def _longrope_factors(params: dict[str, Any], dim: int, seq_len: int | None) -> list[float]:
    """`long_factor` when `seq_len` is past original_max_position_embeddings, else `short_factor`.

    Raises `ValueError` when the chosen list does not hold one factor per rotary frequency.
    """
    long = bool(seq_len) and seq_len > params["original_max_position_embeddings"]
    name = "long_factor" if long else "short_factor"
    factors = params[name]
    if not isinstance(factors, (list, tuple)) or len(factors) != dim // 2:
        size = len(factors) if isinstance(factors, (list, tuple)) else type(factors).__name__
        raise ValueError(f"rope_parameters[{name!r}] must hold {dim // 2} numbers (rotary dim {dim} / 2), got {size}")
    return list(factors)


def _longrope(config: Any, params: dict[str, Any], device: Any, seq_len: int | None) -> tuple[torch.Tensor, float]:
    """LongRoPE (Phi-3, Phi-3.5): each frequency divided by its own factor, from `short_factor` up to
    original_max_position_embeddings and from `long_factor` past it. Unless `attention_factor` is
    given, cos/sin are scaled by sqrt(1 + ln(factor) / ln(original)), where `factor` defaults to
    max_position_embeddings / original_max_position_embeddings (Phi-3 stores no `factor`)."""
    dim, base = _rotary_dim(config, params), params["rope_theta"]
    original = params["original_max_position_embeddings"]
    factor = params.get("factor")
    if factor is None:  # `is None`, not falsiness: transformers keeps an explicit 0
        factor = config.max_position_embeddings / original
    attention_factor = params.get("attention_factor")
    if attention_factor is None:
        attention_factor = 1.0 if factor <= 1.0 else math.sqrt(1 + math.log(factor) / math.log(original))
    ext_factors = torch.tensor(_longrope_factors(params, dim, seq_len), dtype=torch.float32, device=device)
    # the same operations in the same order as transformers, so the result is bit-identical
    exponents = torch.arange(0, dim, 2, dtype=torch.int64, device=device).float() / dim
    return 1.0 / (ext_factors * base**exponents), attention_factor


ROPE_INIT_FUNCTIONS: dict[str, Callable[..., tuple[torch.Tensor, float]]] = {
    "default": _default,
    "linear": _linear,
    "dynamic": _dynamic,
    "llama3": _llama3,
    "yarn": _yarn,
    "longrope": _longrope,
}


def compute_rope_parameters(
    config: Any, device: torch.device | None = None, seq_len: int | None = None
) -> tuple[torch.Tensor, float]:
    """(inverse frequencies, attention scaling) for `config.rope_parameters`.

    `seq_len` is the current sequence length, read by the length-dependent types only (`dynamic`,
    `longrope`); None means "at most the trained length" (init time).
    """
    params = config.rope_parameters
    return ROPE_INIT_FUNCTIONS[params["rope_type"]](config, params, device, seq_len)
