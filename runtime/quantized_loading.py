"""The bitsandbytes steps of `PreTrainedModel.from_pretrained` (the config and the rules for which
layers are quantized are in runtime/quantization.py).

Before any weight is read, the Linear layers of the meta-built model become bitsandbytes modules.
A float checkpoint is quantized tensor by tensor as it is read, from the weight in the model's
dtype, as transformers does. A pre-quantized checkpoint (its config.json holds the
`quantization_config`) must give each quantized layer's packed weight and quant-state tensors with
their exact shapes (`expected`), so strict loading names what is missing, unexpected or mis-shaped;
the pieces are assembled once every file is read (a layer's pieces may lie in different shards).
"""

from __future__ import annotations

import math
import warnings
from collections import defaultdict
from pathlib import Path
from typing import Any

import torch
from torch import nn

from runtime.quantization import (
    NESTED_BLOCKSIZE,
    BitsAndBytesConfig,
    as_bnb_config,
    bnb_module,
    should_convert,
    skipped_modules,
)
from runtime.safetensors_io import CheckpointError, SafetensorsFile


def _meta(shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    return torch.empty(shape, dtype=dtype, device="meta")


class BnbLoader:
    """The bitsandbytes steps of `PreTrainedModel.from_pretrained`, in order:

    `prepare(model, files)` swaps the Linear layers of the meta-built model; `expected` then holds
    the tensors a pre-quantized checkpoint must give (checkpoint name -> meta tensor of the exact
    shape); `load(model, name, tensor)` takes each tensor `takes(name)` claims as it is read (a
    float weight is quantized at once; pre-quantized pieces are kept until `assemble(model)`);
    `finish(model)` quantizes weights strict=False initialised instead.
    """

    def __init__(self, config: BitsAndBytesConfig, pre_quantized: bool, dtype: torch.dtype = torch.float32) -> None:
        self.config, self.pre_quantized, self.dtype = config, pre_quantized, dtype
        bnb_module()  # fail early, naming the extra to install
        self.quantized: dict[str, nn.Linear] = {}  # module name -> its bitsandbytes module
        self.weight_attributes: dict[str, dict[str, Any]] = {}  # module name -> its meta weight's bnb fields
        self.expected: dict[str, torch.Tensor] = {}
        self.owner: dict[str, tuple[str, str]] = {}  # checkpoint name -> (module name, piece)
        self.pieces: dict[str, dict[str, torch.Tensor]] = defaultdict(dict)

    @property
    def bnb(self) -> Any:
        """The bitsandbytes module (not stored: a model holding its loader stays deep-copyable)."""
        return bnb_module()

    @classmethod
    def for_loading(cls, requested: object, model_config: Any, dtype: torch.dtype) -> BnbLoader | None:
        """The loader for a `from_pretrained` call in `dtype`, None without quantization. A checkpoint
        whose config.json holds a `quantization_config` is pre-quantized and loads as it was saved."""
        stored = model_config.extra_fields.get("quantization_config")
        if stored is None and requested is None:
            return None
        config = as_bnb_config(stored if stored is not None else requested)
        if stored is not None and requested is not None and as_bnb_config(requested) != config:
            warnings.warn(
                f"{model_config.describe_source()}: the checkpoint is already quantized; its quantization_config "
                "is used, not the one passed",
                stacklevel=3,
            )
        if config.quantization_method() is None:
            raise ValueError("quantization_config: neither load_in_4bit nor load_in_8bit is True")
        return cls(config, pre_quantized=stored is not None, dtype=dtype)

    # -- before reading -----------------------------------------------------------------------
    def prepare(self, model: nn.Module, files: list[Path]) -> None:
        """Swap the Linear layers (on meta) and record the quantization on the model and its config."""
        patterns = skipped_modules(model, self.config)
        for name, module in list(model.named_modules()):
            if type(module) is nn.Linear and should_convert(name, patterns):
                replacement = self._replacement(module)
                model.set_submodule(name, replacement)
                self.quantized[name] = replacement
                self.weight_attributes[name] = dict(replacement.weight.__dict__)
        if self.pre_quantized:
            self._expect(files)
        model.config.extra_fields["quantization_config"] = self.config.to_dict()
        model.is_quantized, model.quantization_method = True, "bitsandbytes"
        model.is_loaded_in_4bit, model.is_loaded_in_8bit = self.config.load_in_4bit, self.config.load_in_8bit
        model.hf_quantizer = self

    def _replacement(self, linear: nn.Linear) -> nn.Linear:
        """The bitsandbytes module for `linear`, on meta, frozen (as transformers' replace_with_bnb_linear)."""
        config, bias = self.config, linear.bias is not None
        with torch.device("meta"):
            if config.load_in_8bit:
                module = self.bnb.nn.Linear8bitLt(
                    linear.in_features,
                    linear.out_features,
                    bias,
                    has_fp16_weights=config.llm_int8_has_fp16_weight,
                    threshold=config.llm_int8_threshold,
                )
            else:
                module = self.bnb.nn.Linear4bit(
                    linear.in_features,
                    linear.out_features,
                    bias,
                    config.bnb_4bit_compute_dtype,
                    compress_statistics=config.bnb_4bit_use_double_quant,
                    quant_type=config.bnb_4bit_quant_type,
                    quant_storage=config.bnb_4bit_quant_storage,
                )
                without_packed_cpu_kernel(module)
        return module.requires_grad_(False)

    def _expect(self, files: list[Path]) -> None:
        """The pre-quantized tensors of every swapped module, with their exact shapes. Only the
        length of the quant-state blob (JSON: it holds a float offset) comes from the headers."""
        blob_shapes: dict[str, tuple[int, ...]] = {}
        for path in files:
            with SafetensorsFile(path) as checkpoint:
                blob_shapes.update((k, i.shape) for k, i in checkpoint.tensors.items() if ".quant_state." in k)
        for name, module in self.quantized.items():
            pieces = self._pieces_8bit(module) if self.config.load_in_8bit else self._pieces_4bit(module)
            for piece, tensor in pieces.items():
                full = f"{name}.{piece}"
                if piece.startswith("weight.quant_state."):
                    stored = [shape for key, shape in blob_shapes.items() if key == full or key.endswith("." + full)]
                    tensor = _meta(stored[0] if stored else (1,), torch.uint8)
                self.expected[full] = tensor
                self.owner[full] = (name, piece)

    def _pieces_4bit(self, module: nn.Linear) -> dict[str, torch.Tensor]:
        """What bitsandbytes' `quantize_4bit` makes of a weight (see Linear4bit._save_to_state_dict)."""
        n, storage, blocksize = module.in_features * module.out_features, module.quant_storage, module.weight.blocksize
        blocks, f32 = math.ceil(n / blocksize), torch.float32
        pieces = {
            "weight": _meta(((n + 1) // (storage.itemsize * 2), 1), storage),
            "weight.quant_map": _meta((16,), f32),
        }
        if self.config.bnb_4bit_use_double_quant:  # the absmax quantized again, in blocks of 256
            pieces["weight.absmax"] = _meta((blocks,), torch.uint8)
            pieces["weight.nested_absmax"] = _meta((math.ceil(blocks / NESTED_BLOCKSIZE),), f32)
            pieces["weight.nested_quant_map"] = _meta((256,), f32)
        else:
            pieces["weight.absmax"] = _meta((blocks,), f32)
        pieces[f"weight.quant_state.bitsandbytes__{self.config.bnb_4bit_quant_type}"] = _meta((1,), torch.uint8)
        return pieces

    @staticmethod
    def _pieces_8bit(module: nn.Linear) -> dict[str, torch.Tensor]:
        """int8 rows, their scales (SCB) and the layout tag Linear8bitLt saves (0: row-major)."""
        return {
            "weight": _meta((module.out_features, module.in_features), torch.int8),
            "SCB": _meta((module.out_features,), torch.float32),
            "weight_format": _meta((), torch.uint8),
        }

    # -- while reading ------------------------------------------------------------------------
    def takes(self, name: str) -> bool:
        """Whether checkpoint tensor `name` (the model's name for it) is the loader's to install."""
        if self.pre_quantized:
            return name in self.owner
        return name.endswith(".weight") and name.removesuffix(".weight") in self.quantized

    def read(self, checkpoint: SafetensorsFile, step: Any, scratch: torch.Tensor) -> torch.Tensor:
        """The tensor of load step `step`: pre-quantized pieces as stored; a float weight streamed
        through `scratch` into the model's dtype, so no full-size copy in the stored dtype is made."""
        from runtime.modeling_utils import stream_rows  # modeling_utils imports this module

        stored = step.info.dtype
        if self.pre_quantized or not stored.is_floating_point or stored == self.dtype:
            return checkpoint.read(step.key, part=step.info)
        tensor = torch.empty(step.info.shape, dtype=self.dtype)
        stream_rows(checkpoint, step, tensor, scratch)
        return tensor

    def load(self, model: nn.Module, name: str, tensor: torch.Tensor) -> None:
        """Quantize a float weight now, or keep a pre-quantized piece for `assemble`."""
        if self.pre_quantized:
            module_name, piece = self.owner[name]
            self.pieces[module_name][piece] = tensor
            return
        self._quantize(name.removesuffix(".weight"), tensor)

    def _quantize(self, module_name: str, tensor: torch.Tensor) -> None:
        """As transformers' Bnb4bitQuantize / Bnb8bitQuantize: from the weight in the model's dtype
        (the quant state records it: dequantized weights come back in that dtype)."""
        module, old = self.quantized[module_name], dict(self.weight_attributes[module_name])
        tensor = tensor.to(self.dtype) if tensor.is_floating_point() else tensor
        if self.config.load_in_8bit:
            old.pop("SCB", None)
            module._parameters["weight"] = self.bnb.nn.Int8Params(tensor, requires_grad=False, **old).to("cpu")
        else:
            old["module"] = module
            module._parameters["weight"] = self.bnb.nn.Params4bit(tensor, requires_grad=False, **old).to("cpu")

    def assemble(self, model: nn.Module) -> None:
        """Build every pre-quantized weight from its pieces; a piece that does not decode is a
        `CheckpointError` naming the module."""
        for module_name, pieces in self.pieces.items():
            module = self.quantized[module_name]
            if "weight" not in pieces:
                continue  # missing: reported by the strict check, initialised by finish()
            try:
                if self.config.load_in_8bit:
                    self._assemble_8bit(module, pieces)
                else:
                    self._assemble_4bit(module, pieces)
            except (ValueError, KeyError, TypeError, AssertionError, RuntimeError) as error:
                raise CheckpointError(f"{module_name}.weight: quantization state does not decode ({error})") from None
        self.pieces.clear()

    def _assemble_4bit(self, module: nn.Linear, pieces: dict[str, torch.Tensor]) -> None:
        stats = {piece: tensor for piece, tensor in pieces.items() if piece != "weight"}
        param = self.bnb.nn.Params4bit.from_prequantized(
            data=pieces["weight"], quantized_stats=stats, requires_grad=False, device="cpu", module=module
        )
        state = param.quant_state
        if (
            tuple(state.shape) != (module.out_features, module.in_features)
            or state.quant_type != module.weight.quant_type
        ):
            raise ValueError(
                f"holds a {state.quant_type} {tuple(state.shape)} weight; the model expects "
                f"{module.weight.quant_type} {(module.out_features, module.in_features)}"
            )
        module._parameters["weight"] = param

    def _assemble_8bit(self, module: nn.Linear, pieces: dict[str, torch.Tensor]) -> None:
        if "weight_format" in pieces and int(pieces["weight_format"]) != 0:
            raise ValueError(f"weight_format {int(pieces['weight_format'])}; only 0 (row-major) loads")
        old = {"has_fp16_weights": module.weight.has_fp16_weights, "SCB": pieces["SCB"]}
        module._parameters["weight"] = self.bnb.nn.Int8Params(pieces["weight"], requires_grad=False, **old).to("cpu")

    def finish(self, model: nn.Module) -> None:
        """Quantize the weights `strict=False` initialised in full precision (they were missing)."""
        for name, module in self.quantized.items():
            if type(module.weight) is nn.Parameter:
                self._quantize(name, module.weight.data)


#: bitsandbytes' AVX512-BF16 CPU inference path repacks a 4-bit weight in blocks of 32 output rows
#: and 64-wide (its blocksize) input columns; it fails on any other shape ("shape '[32, 0]' is
#: invalid"), e.g. a layer with 32 input features.
PACKED_CPU_ROWS, PACKED_CPU_BLOCK = 32, 64


def without_packed_cpu_kernel(module: Any) -> None:
    """Keep a `Linear4bit` whose shape bitsandbytes' packed CPU kernel cannot take on the plain 4-bit path
    (the same numbers, without the fused kernel)."""
    fits = module.in_features % PACKED_CPU_BLOCK == 0 and module.out_features % PACKED_CPU_ROWS == 0
    if not fits and getattr(module, "support_avx512bf16_for_cpu", False):
        module.support_avx512bf16_for_cpu = False
