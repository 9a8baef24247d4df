"""4-bit and 8-bit loading with bitsandbytes, as transformers 5.23.0 does it.

    from runtime.quantization import BitsAndBytesConfig
    quant = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True)
    model = LlamaForCausalLM.from_pretrained("dir", quantization_config=quant)
    model.get_memory_footprint()      # bytes: the packed 4-bit weights, the rest as loaded
    model.save_pretrained("out/")     # transformers' format: weight + quant state tensors

`quantization_config` may be a `BitsAndBytesConfig`, a plain dict of its fields, or a transformers
`BitsAndBytesConfig` (read through its `to_dict()`; the runtime never imports transformers).

While loading, every `nn.Linear` is swapped on the meta device for a bitsandbytes `Linear4bit` or
`Linear8bitLt`, except those transformers keeps (`skipped_modules`); each weight is quantized as
it is read, so no full-precision copy of the model exists. A checkpoint whose config.json holds a
bitsandbytes `quantization_config` is pre-quantized: its packed weights and quant-state tensors
(`.weight.absmax`, `.weight.quant_map`, `.weight.nested_absmax`, `.weight.nested_quant_map`,
`.weight.quant_state.bitsandbytes__nf4`, or 8-bit `.SCB` and `.weight_format`) are expected with
exact shapes, so strict loading still names what is missing, unexpected or mis-shaped.
bitsandbytes is an optional dependency (`pip install -e ".[quantization]"`), imported only when a
model is quantized. This module holds the config and which layers are quantized;
runtime/quantized_loading.py the loading steps.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, fields
from typing import Any

import torch
from torch import nn

from runtime.messages import short_repr

QUANT_TYPES = ("fp4", "nf4")
STORAGE_DTYPES = ("float16", "float32", "int8", "uint8", "float64", "bfloat16")  # transformers' list
NESTED_BLOCKSIZE = 256  # bitsandbytes quantizes the absmax of double quantization in blocks of 256


def _dtype_field(name: str, value: object, default: torch.dtype, allowed: tuple[str, ...] | None) -> torch.dtype:
    """None -> `default`; a name or a torch dtype -> that dtype; anything else -> ValueError."""
    if value is None:
        return default
    text = str(value).removeprefix("torch.") if isinstance(value, (str, torch.dtype)) else None
    resolved = getattr(torch, text, None) if text and (allowed is None or text in allowed) else None
    if not isinstance(resolved, torch.dtype):
        valid = ", ".join(allowed) if allowed else "a torch dtype name"
        raise ValueError(f"BitsAndBytesConfig: {name}={short_repr(value)}; expected {valid}")
    return resolved


@dataclass
class BitsAndBytesConfig:
    """transformers' `BitsAndBytesConfig`: the same fields, defaults and `to_dict()` (config.json).

    Exactly one of `load_in_4bit` / `load_in_8bit` must be true for a model to load quantized.
    Dtype fields accept a torch dtype or its name; `None` gives float32 (compute) and uint8
    (storage), as in transformers. Wrong types or values raise `ValueError` naming the field.
    """

    load_in_8bit: bool = False
    load_in_4bit: bool = False
    llm_int8_threshold: float = 6.0
    llm_int8_skip_modules: list[str] | None = None
    llm_int8_enable_fp32_cpu_offload: bool = False
    llm_int8_has_fp16_weight: bool = False
    bnb_4bit_compute_dtype: Any = None
    bnb_4bit_quant_type: str = "fp4"
    bnb_4bit_use_double_quant: bool = False
    bnb_4bit_quant_storage: Any = None
    quant_method: str = field(default="bitsandbytes", repr=False)

    def __post_init__(self) -> None:
        flags = ("load_in_8bit", "load_in_4bit", "llm_int8_enable_fp32_cpu_offload", "llm_int8_has_fp16_weight")
        for name in (*flags, "bnb_4bit_use_double_quant"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"BitsAndBytesConfig: {name}={short_repr(getattr(self, name))}; expected a bool")
        if self.load_in_4bit and self.load_in_8bit:
            raise ValueError("BitsAndBytesConfig: load_in_4bit and load_in_8bit are both True; choose one")
        threshold = self.llm_int8_threshold
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not math.isfinite(threshold):
            raise ValueError(f"BitsAndBytesConfig: llm_int8_threshold={short_repr(threshold)}; expected a float")
        self.llm_int8_threshold = float(threshold)
        skips = self.llm_int8_skip_modules
        if skips is not None and not (isinstance(skips, list) and all(isinstance(s, str) for s in skips)):
            raise ValueError(f"BitsAndBytesConfig: llm_int8_skip_modules={short_repr(skips)}; expected a list of str")
        if self.bnb_4bit_quant_type not in QUANT_TYPES:
            raise ValueError(
                f"BitsAndBytesConfig: bnb_4bit_quant_type={short_repr(self.bnb_4bit_quant_type)}; "
                f"expected one of {', '.join(QUANT_TYPES)}"
            )
        self.bnb_4bit_compute_dtype = _dtype_field(
            "bnb_4bit_compute_dtype", self.bnb_4bit_compute_dtype, torch.float32, None
        )
        if not self.bnb_4bit_compute_dtype.is_floating_point:
            raise ValueError(
                f"BitsAndBytesConfig: bnb_4bit_compute_dtype={self.bnb_4bit_compute_dtype}; expected a float dtype"
            )
        self.bnb_4bit_quant_storage = _dtype_field(
            "bnb_4bit_quant_storage", self.bnb_4bit_quant_storage, torch.uint8, STORAGE_DTYPES
        )
        if self.quant_method != "bitsandbytes":
            raise ValueError(
                f"BitsAndBytesConfig: quant_method={short_repr(self.quant_method)}; expected 'bitsandbytes'"
            )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BitsAndBytesConfig:
        """From a config.json `quantization_config` or a user's dict; unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        # transformers' to_dict also writes its private property fields; they repeat the public ones
        data = {k: v for k, v in data.items() if k not in ("_load_in_4bit", "_load_in_8bit")}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"BitsAndBytesConfig: unknown fields {unknown}; valid: {', '.join(sorted(known))}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        """What transformers writes to config.json under `quantization_config` (its keys included)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["bnb_4bit_compute_dtype"] = str(self.bnb_4bit_compute_dtype).removeprefix("torch.")
        out["bnb_4bit_quant_storage"] = str(self.bnb_4bit_quant_storage).removeprefix("torch.")
        out["llm_int8_skip_modules"] = None if self.llm_int8_skip_modules is None else list(self.llm_int8_skip_modules)
        out["_load_in_4bit"], out["_load_in_8bit"] = self.load_in_4bit, self.load_in_8bit
        return dict(sorted(out.items()))

    def quantization_method(self) -> str | None:
        """'llm_int8', 'fp4', 'nf4', or None when nothing is quantized (transformers' names)."""
        if self.load_in_8bit:
            return "llm_int8"
        return self.bnb_4bit_quant_type if self.load_in_4bit else None


def as_bnb_config(value: object) -> BitsAndBytesConfig:
    """Our config from ours, a dict, or any object with `to_dict()` (a transformers BitsAndBytesConfig)."""
    if isinstance(value, BitsAndBytesConfig):
        return value
    data = value.to_dict() if callable(getattr(value, "to_dict", None)) else value
    if not isinstance(data, dict):
        raise TypeError(
            f"quantization_config={short_repr(value)}: expected a BitsAndBytesConfig, a dict or an object with to_dict()"
        )
    if data.get("quant_method", "bitsandbytes") != "bitsandbytes":
        raise ValueError(
            f"quantization_config: quant_method={short_repr(data['quant_method'])}; only bitsandbytes loads"
        )
    return BitsAndBytesConfig.from_dict(dict(data))


def should_convert(name: str, patterns: list[str]) -> bool:
    """transformers' `should_convert_module`: a pattern skips `name` when it matches from the start
    up to a module boundary (also as a regex) or when it is a suffix of `name`."""
    boundary = r"(?:(?<=\.)|(?=\.|$))"
    return not any(re.match(rf"(?:{key}){boundary}", name) or name.endswith(key) for key in patterns)


def skipped_modules(model: nn.Module, config: BitsAndBytesConfig) -> list[str]:
    """The module name patterns left unquantized, as transformers' `get_modules_to_not_convert`.

    Without `llm_int8_skip_modules`: the tied weights (both ends), the module of the last parameter
    and the output embeddings (lm_head); with it, only that list. Tied modules are skipped in both
    cases here: a quantized tie target would be overwritten by its float source. So are the layers
    transformers holds fused (see `fused_layers`).
    """
    ties = model._ties() if hasattr(model, "_ties") else {}
    tied = {name.removesuffix(".weight") for pair in ties.items() for name in pair} | fused_layers(model)
    if config.llm_int8_skip_modules is not None:
        return sorted(tied | set(config.llm_int8_skip_modules))
    names = [name for name, _ in model.named_parameters()]
    last = {names[-1].removesuffix(".weight")} if names else set()
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    output = {name for name, module in model.named_modules() if head is not None and module is head}
    keep = set(getattr(model, "_keep_in_fp32_modules", None) or [])
    return sorted(tied | last | output | keep)


def fused_layers(model: nn.Module) -> set[str]:
    """Patterns naming our Linear layers that transformers holds fused in other modules: the targets
    of `_checkpoint_layouts` (Mixtral's experts, stored as 3-D tensors, and its router). They are
    no nn.Linear in transformers, so it quantizes none of them, and neither do we.

    Target `\\1.block_sparse_moe.experts.{i}.w1.weight` gives `.*\\.block_sparse_moe\\.experts\\.\\d+\\.w1`.
    """
    patterns = set()
    for module in model.modules():
        for targets in getattr(module, "_checkpoint_layouts", {}).values():
            for target in targets:
                layer = re.sub(r"^\\\d+\.", "", target).removesuffix(".weight")
                patterns.add(r".*\." + re.escape(layer).replace(re.escape("{i}"), r"\d+"))
    return patterns


def bnb_module() -> Any:
    """bitsandbytes, imported on first use; an ImportError naming the extra to install."""
    try:
        import bitsandbytes
    except ImportError as error:
        raise ImportError(
            'quantization_config needs bitsandbytes: pip install -e ".[quantization]" (or pip install bitsandbytes)'
        ) from error
    return bitsandbytes
