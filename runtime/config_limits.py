"""Sizes a config may ask for, checked before any module is built.

A config.json is small; the model it describes need not be. `num_hidden_layers=10**5` would
spend minutes building modules, `hidden_size=10**9` would try to allocate hundreds of gigabytes.
Two checks refuse such configs in microseconds, from the fields alone:

- `size_problems`: every well-known size or count field (`SIZE_LIMITS`) is an integer within
  generous bounds (the largest published models use a small fraction of each), positive where
  zero means nothing sensible, and `pad_token_id` indexes the vocabulary. The config
  constructor runs it, before `derive()` divides by any of them.
- `memory_problem`: a lower bound on the parameter count (embeddings, the attention and MLP
  matrices of every layer, vision patches and positions, resampler and connector weights, summed
  over sub-configs) times the dtype's size must fit the memory budget: physical memory, or the
  address-space limit (RLIMIT_AS) when lower, or `MODULAR_MODELS_MAX_BYTES` when set.

`check_buildable` runs both (over sub-configs too) with the checks of names a model looks up
(activation, attention backend), raising `ConfigError`; models run it when they are built
(`PreTrainedModel.__init__`, and `from_pretrained` before it fetches weights), where the dtype is
known.

Both work on any config object through its declared fields (`_fields`), so they hold for every
generated model and for composite configs (text_config, vision_config, ...) without per-model
code. Edit `SIZE_LIMITS` (or set the environment variable) to load something larger.
"""

from __future__ import annotations

import os
from typing import Any

from runtime.messages import short_repr

# field -> (smallest, largest) accepted value
SIZE_LIMITS: dict[str, tuple[int, int]] = {
    "vocab_size": (1, 2**24),
    "hidden_size": (1, 2**18),
    "intermediate_size": (1, 2**20),
    "num_hidden_layers": (0, 1024),
    "num_attention_heads": (1, 2**12),
    "num_key_value_heads": (1, 2**12),
    "head_dim": (1, 2**13),
    "max_position_embeddings": (1, 2**40),
    "image_size": (1, 2**16),
    "patch_size": (1, 2**12),
    "num_channels": (1, 2**10),
    "resampler_n_latents": (1, 2**14),
    "resampler_depth": (0, 1024),
    "resampler_n_heads": (1, 2**12),
    "resampler_head_dim": (1, 2**13),
    "scale_factor": (1, 2**6),
    "sliding_window": (1, 2**40),
    "num_labels": (0, 2**17),
    "num_local_experts": (1, 2**14),
    "num_experts_per_tok": (1, 2**14),
}
MEMORY_ENV = "MODULAR_MODELS_MAX_BYTES"


# what code deriving from a config, or building a model from it, raises when the config is wrong
CONFIG_FAULTS: tuple[type[Exception], ...] = (
    ValueError,
    TypeError,
    KeyError,
    AttributeError,
    IndexError,
    ZeroDivisionError,
    OverflowError,
)


class ConfigError(ValueError):
    """A config that cannot describe a model: wrong types, sizes out of range, a bad config.json.

    Defined here, with the checks that raise it most; runtime.configuration_utils exports it."""


def _field(config: Any, name: str) -> Any:
    """A declared field's value, or None (undeclared, removed, or not set yet)."""
    return config.__dict__.get(name) if name in getattr(config, "_fields", {}) else None


def _sub_configs(config: Any) -> list[tuple[str, Any]]:
    return [
        (name, sub) for name in getattr(config, "sub_configs", {}) if hasattr(sub := _field(config, name), "_fields")
    ]


def each_config(config: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """`config` and its sub-configs, depth first, each with its path ('', 'text_config.', ...)."""
    found = [(prefix, config)]
    for name, sub in _sub_configs(config):
        found += each_config(sub, f"{prefix}{name}.")
    return found


def size_problems(config: Any, *, recursive: bool = False, prefix: str = "") -> list[str]:
    """'field=value must be ...' for each size field out of range (and sub-configs' when recursive)."""
    problems = []
    for name, (low, high) in SIZE_LIMITS.items():
        value = _field(config, name)
        if isinstance(value, int) and not isinstance(value, bool) and not low <= value <= high:
            problems.append(f"{prefix}{name}={short_repr(value)} must be between {low} and {high}")
    vocab, pad = _field(config, "vocab_size"), _field(config, "pad_token_id")
    if isinstance(vocab, int) and isinstance(pad, int) and not -vocab <= pad < vocab:
        problems.append(f"{prefix}pad_token_id={short_repr(pad)} is outside the vocabulary (vocab_size={vocab})")
    if recursive:
        for name, sub in _sub_configs(config):
            problems += size_problems(sub, recursive=True, prefix=f"{prefix}{name}.")
    return problems


def _ints(config: Any, *names: str) -> list[int]:
    values = [_field(config, name) for name in names]
    return [v if isinstance(v, int) and not isinstance(v, bool) and v > 0 else 0 for v in values]


def parameter_lower_bound(config: Any) -> int:
    """At least this many parameters (and large buffers) in a model built from `config`.

    Counts only what every architecture with these fields must hold, so it never refuses a real
    model: the embedding, two hidden x intermediate matrices per expert (`num_local_experts`; one
    MLP without it) and two hidden x attention-width matrices per layer, patch and position
    embeddings, resampler latents and attention, the pixel-shuffle connector; plus the same for
    each sub-config.
    """
    vocab, hidden, inter, layers = _ints(config, "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers")
    heads, head_dim, experts = _ints(config, "num_attention_heads", "head_dim", "num_local_experts")
    width = heads * head_dim or hidden
    count = vocab * hidden + layers * (2 * hidden * inter * max(experts, 1) + 2 * hidden * width)
    image, patch, channels = _ints(config, "image_size", "patch_size", "num_channels")
    if patch:
        count += (image // patch) ** 2 * (hidden + 1) + channels * patch**2 * hidden  # positions: weights and ids
    latents, depth, r_heads, r_dim = _ints(
        config, "resampler_n_latents", "resampler_depth", "resampler_n_heads", "resampler_head_dim"
    )
    count += latents * hidden + depth * 2 * hidden * r_heads * r_dim
    subs = dict(_sub_configs(config))
    (scale,) = _ints(config, "scale_factor")
    if scale and "vision_config" in subs and "text_config" in subs:
        (vision_hidden,), (text_hidden,) = (
            _ints(subs["vision_config"], "hidden_size"),
            _ints(subs["text_config"], "hidden_size"),
        )
        count += vision_hidden * scale**2 * text_hidden
    return count + sum(parameter_lower_bound(sub) for sub in subs.values())


def memory_budget() -> int:
    """Bytes a model may take: MODULAR_MODELS_MAX_BYTES, else physical memory (or RLIMIT_AS if lower)."""
    configured = os.environ.get(MEMORY_ENV)
    if configured:
        if not configured.strip().isdigit():
            raise ConfigError(f"{MEMORY_ENV}={short_repr(configured)} is not a number of bytes")
        return int(configured)
    try:
        budget = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # a platform without these names
        budget = 2**62
    try:
        import resource  # POSIX only
    except ImportError:
        return budget
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    return min(budget, soft) if soft != resource.RLIM_INFINITY else budget


def memory_problem(config: Any, element_size: int) -> str | None:
    """Why a model of `config` in elements of `element_size` bytes cannot fit; None when it may."""
    count = parameter_lower_bound(config)
    budget = memory_budget()
    if count * element_size <= budget:
        return None
    return (
        f"the sizes ask for at least {_magnitude(count)} parameters ({_magnitude(count * element_size)} bytes at "
        f"{element_size} bytes each), more than the {_magnitude(budget)} bytes available (physical memory or "
        f"RLIMIT_AS; set {MEMORY_ENV} to change)"
    )


def _magnitude(value: int) -> str:
    return f"{value:,}" if value < 10**15 else f"about 2^{value.bit_length() - 1}"


def check_buildable(config: Any, itemsize: int) -> None:
    """Refuse, before any module is built, a config (and its sub-configs) whose sizes are out of
    range, whose model cannot fit in memory at `itemsize` bytes a parameter, or that names an
    unknown activation or attention backend: `ConfigError` naming the config file and the field.
    Run again at build time because a config may be edited after it is made."""
    # imported here: configs are read and checked without importing torch
    from runtime.activations import ACT2FN
    from runtime.attention import VALID_NAMES

    source = config.describe_source()  # the config.json, or the class name
    where = source if source == type(config).__name__ else f"{source}: {type(config).__name__}"
    problems = size_problems(config, recursive=True)
    if problems:
        raise ConfigError(f"{where}: " + "; ".join(problems[:10]))
    for path, sub in each_config(config):  # an unknown activation would fail deep inside a layer
        act = _field(sub, "hidden_act")
        if isinstance(act, str) and act not in ACT2FN:
            valid = ", ".join(sorted(ACT2FN))
            raise ConfigError(
                f"{source}: {path}hidden_act={short_repr(act)} is not an activation; valid names: {valid}"
            )
    backend = config._attn_implementation
    if backend is not None and not (isinstance(backend, str) and backend in VALID_NAMES):
        valid = ", ".join(VALID_NAMES)
        raise ConfigError(f"{source}: unknown attn_implementation {short_repr(backend)}; valid names: {valid}")
    problem = memory_problem(config, itemsize)
    if problem:
        raise ConfigError(f"{where}: {problem}")
