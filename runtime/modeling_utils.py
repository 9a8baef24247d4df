"""`PreTrainedModel`: checkpoint loading and saving on safetensors, weight init and tying.

    model = LlamaForCausalLM.from_pretrained("dir/or/repo-id", dtype=torch.bfloat16, attn_implementation="sdpa")
    model.save_pretrained("out/")          # config.json + model.safetensors (sharded past max_shard_size)

Loading builds the model with its parameters on the `meta` device (no memory, no random init),
checks every tensor against the file headers, then gives each parameter its data: a view of a
private copy-on-write mapping of the file where the stored dtype is the one loaded (nothing is
read until the weight is first used, and in-place updates never reach the file), else a tensor
filled from the file in the loaded dtype. The peak is about one copy of the weights. Checkpoints with missing, unexpected, mis-shaped tensors
or tensors of another kind of dtype (an integer where the model has a float) raise one
`CheckpointError` naming them (the first 20 of each kind); `strict=False` reports them instead.
Only safetensors is read: pickle checkpoints (`pytorch_model.bin`) are refused. Files come only
from inside the checkpoint folder (runtime/checkpoint_files.py, runtime/hub.py).

Before any module is built (and before any weights are fetched) the config must be buildable:
sizes in range and a model that fits in memory (runtime/config_limits.py), a known activation
and attention backend; otherwise a `ConfigError` names the config file and the field.

One post_init rule: `post_init()` (initialise weights, then tie) runs once per model, right after
the outermost `__init__` of `Model(config)` returns, so modules a subclass adds after
`super().__init__(config)` are initialised and tied too:

    class MyModel(LlamaForCausalLM):
        def __init__(self, config):
            super().__init__(config)
            self.score = nn.Linear(config.hidden_size, 1)   # initialised by _init_weights

Model code therefore never calls `self.post_init()`. A call inside `__init__` (transformers-style
code) is deferred, not an error: it does nothing then, because the runtime runs post_init when the
construction ends, where the model is complete. Called on a finished model it runs at once. A model
built inside another's `__init__` (a vision tower, a text model from the auto registry) is a
construction of its own and is initialised when it returns, as with transformers; the outer
model's post_init then initialises all of its modules again.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from runtime.attention import check_attn_implementation
from runtime.checkpoint_files import checkpoint_files
from runtime.checkpoint_saving import write_weights
from runtime.config_limits import CONFIG_FAULTS, check_buildable
from runtime.configuration_utils import ConfigError, PretrainedConfig
from runtime.generation_config import GenerationConfig
from runtime.messages import short_repr
from runtime.quantized_loading import BnbLoader
from runtime.safetensors_io import CheckpointError, SafetensorsFile, TensorInfo
from runtime.training import TrainingMixin

_STATE = threading.local()
MAX_LISTED = 20  # names an error lists before "... and N more"


_INIT_FUNCTIONS = (
    "uniform_",
    "normal_",
    "trunc_normal_",
    "constant_",
    "ones_",
    "zeros_",
    "xavier_uniform_",
    "xavier_normal_",
    "kaiming_uniform_",
    "kaiming_normal_",
)


def _no_init(tensor: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
    return tensor


@contextlib.contextmanager
def _parameters_on_meta() -> Iterator[None]:
    """New parameters go to the meta device and `post_init` skips weight init; buffers stay real."""
    original = nn.Module.register_parameter

    def register(module: nn.Module, name: str, param: nn.Parameter | None) -> None:
        if param is not None and param.device.type != "meta":
            param = nn.Parameter(param.to("meta"), requires_grad=param.requires_grad)
        original(module, name, param)

    # torch modules initialise their own parameters in __init__; on meta tensors that is wasted
    # work that also imports torch's compiler stack (about a second), so it is skipped too
    skipped = {name: getattr(nn.init, name) for name in _INIT_FUNCTIONS}
    nn.Module.register_parameter = register  # type: ignore[method-assign]
    for name in _INIT_FUNCTIONS:
        setattr(nn.init, name, _no_init)
    _STATE.skip_init = True
    try:
        yield
    finally:
        nn.Module.register_parameter = original  # type: ignore[method-assign]
        for name, function in skipped.items():
            setattr(nn.init, name, function)
        _STATE.skip_init = False


SCRATCH_BYTES = 4 * 2**20  # rows streamed at a time when converting dtype or layout
COLUMN_MAJOR_BELOW = 1024  # in_features under which a float32 output embedding is made column-major


@dataclass(frozen=True)
class LoadStep:
    """One checkpoint tensor to read: from `path`, stored as `key` (`info`: all of it, or the part
    that is `name`), installed as `name`."""

    path: Path
    key: str
    name: str
    info: TensorInfo


@contextlib.contextmanager
def _default_dtype(dtype: torch.dtype) -> Iterator[None]:
    """Build modules in `dtype`; buffers computed in an explicit dtype (rotary inv_freq) keep it."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype if dtype.is_floating_point else previous)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def stream_rows(checkpoint: SafetensorsFile, step: LoadStep, out: torch.Tensor, scratch: torch.Tensor) -> None:
    """Copy `step`'s tensor into `out` (any dtype or strides) through `scratch`, a block of rows at a time."""
    shape = step.info.shape
    if not shape or shape[0] == 0:
        out.copy_(checkpoint.read(step.key, part=step.info))
        return
    row_bytes = (step.info.end - step.info.begin) // shape[0]
    rows_per_block = max(1, scratch.numel() // max(row_bytes, 1))
    for start in range(0, shape[0], rows_per_block):
        stop = min(start + rows_per_block, shape[0])
        if (stop - start) * row_bytes > scratch.numel():  # a single row larger than the buffer
            out[start:stop].copy_(checkpoint.read(step.key, part=step.info)[start:stop])
            continue
        block = scratch[: (stop - start) * row_bytes].view(step.info.dtype).view(stop - start, *shape[1:])
        out[start:stop].copy_(checkpoint.read_rows(step.key, start, stop, block, part=step.info))


def _layout_pieces(
    match: re.Match[str], targets: tuple[str, ...], info: TensorInfo
) -> list[tuple[str, str, TensorInfo]]:
    """(where in the stored tensor, model name, part) for the model tensors a stored tensor gives.

    `targets` are templates expanded with the pattern's groups (`\\1`). With `{i}` in them, the
    stored tensor stacks n per-index tensors along its first dimension, each the concatenation of
    the k targets along the next one: shape (n, k * m, ...) gives part [i, j*m:(j+1)*m] to target
    j with {i} = i (transformers' MergeModulelist then Concatenate(dim=1)). Without `{i}`, the one
    target is the whole tensor under another name. [] when the shape does not split so.
    """
    if not any("{i}" in target for target in targets):
        return [("", match.expand(targets[0]), info)]
    shape, k = info.shape, len(targets)
    if len(shape) < 2 or shape[1] % k:
        return []
    m = shape[1] // k
    return [
        (
            f"[{i}, {j * m}:{(j + 1) * m}]",
            match.expand(target.replace("{i}", str(i))),
            info.part(i, j * m, (j + 1) * m),
        )
        for i in range(shape[0])
        for j, target in enumerate(targets)
    ]


def decode_friendly(weight: torch.Tensor) -> torch.Tensor:
    """The same (out, in) matrix stored column-major, i.e. as the transpose of a contiguous (in, out).

    `F.linear(x, W)` computes `x @ W.T`; with W stored this way `W.T` is contiguous. A decode step's
    one-row product with a tall (vocab, hidden) output embedding then runs faster on CPU with MKL
    in float32: 3.4x at hidden 256, 2.5x at 512, but only 1.2-1.9x at 1024 and 1.4x at 2048, while
    the square-ish layer weights gain nothing measurable, and in float16 and bfloat16 the
    column-major product is 2 to 30x slower (measured for issue 21 on utils/benchmark_models.py's
    shapes). The copy costs about 2 ms per MB in a fresh process (page faults included), all of it
    before the first token. So loading gives this layout only to a float32 output embedding
    narrower than COLUMN_MAJOR_BELOW, where it pays back within about 30 decode steps and the
    matrix is small; every other weight keeps the file's layout (and is mapped, not copied).
    Values and shape are unchanged.
    """
    return weight.t().contiguous().t()


def _to_dtype(dtype: torch.dtype | str | None, config: PretrainedConfig) -> torch.dtype:
    """The floating dtype to build in; `ValueError` for anything else (an int dtype would
    silently truncate every weight)."""
    if dtype is None:
        return torch.float32
    where, error = "dtype", ValueError
    if dtype == "auto":  # then the config's dtype is what is wrong
        dtype, where, error = config.dtype or "float32", f"{config.describe_source()}: dtype", ConfigError
    if isinstance(dtype, str):
        resolved = getattr(torch, dtype.removeprefix("torch."), None)
        if not isinstance(resolved, torch.dtype):
            raise error(f"{where}={short_repr(dtype)} is not a torch dtype name")
        dtype = resolved
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point or dtype.itemsize < 2:
        raise error(
            f"{where}={short_repr(dtype)}: expected a floating dtype of 16 bits or more (float32, bfloat16, ...)"
        )
    return dtype


def _one_dtype(dtype: torch.dtype | str | None, torch_dtype: torch.dtype | str | None) -> torch.dtype | str | None:
    """`dtype`, or `torch_dtype` (its older name, as transformers still accepts); both must agree."""
    if torch_dtype is None:
        return dtype
    if dtype is not None and str(dtype).removeprefix("torch.") != str(torch_dtype).removeprefix("torch."):
        raise ValueError(
            f"dtype={short_repr(dtype)} and torch_dtype={short_repr(torch_dtype)} differ; pass only dtype"
        )
    return torch_dtype


def _kind(dtype: torch.dtype) -> str:
    """What a value of `dtype` means: loading converts within a kind (float to float), never across."""
    if dtype == torch.bool:
        return "bool"
    if dtype.is_complex:
        return "complex"
    if dtype.is_floating_point:
        return "float" if dtype.itemsize > 1 or "float8" in str(dtype) else "packed float"
    return "integer"


def _plain(name: str) -> str:
    """A tensor name as it is, or a short repr when it is long or holds unprintable characters."""
    return name if len(name) <= 100 and name.isprintable() else short_repr(name, 100)


def listed(names: list[str]) -> str:
    """`names` joined, the first MAX_LISTED of them, then '... and N more': messages stay short."""
    shown = ", ".join(names[:MAX_LISTED])
    return shown + (f", ... and {len(names) - MAX_LISTED} more" if len(names) > MAX_LISTED else "")


class _PostInitAfterConstruction(type):
    """Metaclass of PreTrainedModel: `Model(config)` runs `post_init()` after `__init__` returns.

    `__init__` calls nested through `super()` are one construction, so post_init sees the
    finished model: the outermost `__init__` has returned (see the module docstring)."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        model = super().__call__(*args, **kwargs)
        if isinstance(model, PreTrainedModel):
            model.__dict__.pop("_constructing", None)
            model.post_init()
        return model


class PreTrainedModel(TrainingMixin, nn.Module, metaclass=_PostInitAfterConstruction):
    """Base of every generated model: config, init, tying, from_pretrained / save_pretrained."""

    config_class: ClassVar[type[PretrainedConfig]] = PretrainedConfig
    base_model_prefix: ClassVar[str] = "model"
    # target -> source: tied when the config says `tie_word_embeddings`
    _tied_weights_keys: ClassVar[dict[str, str]] = {}
    _keys_to_ignore_on_load_unexpected: ClassVar[list[str]] = []
    # Other layouts checkpoints hold the same weights in (transformers' conversion mapping, read
    # side): a regex over the whole stored name -> the model names it gives (see `_layout_pieces`)
    _checkpoint_layouts: ClassVar[dict[str, tuple[str, ...]]] = {}
    # the backend used when neither the caller nor the config names one
    default_attn_implementation: ClassVar[str] = "sdpa"

    def __init__(self, config: PretrainedConfig) -> None:
        super().__init__()
        # until the construction ends, post_init() is deferred (see the module docstring)
        self._constructing = True
        check_buildable(config, torch.get_default_dtype().itemsize)
        if config._attn_implementation is None:
            config._attn_implementation = self.default_attn_implementation
        self.config = config

    # -- init and tying -----------------------------------------------------------------------
    def post_init(self) -> None:
        """Initialise weights (skipped while loading a checkpoint), then tie embeddings.

        The runtime calls it once `Model(config)` has finished building; a call from inside
        `__init__` does nothing, since that call will come when the model is complete.
        """
        if self.__dict__.get("_constructing", False):
            return
        if not getattr(_STATE, "skip_init", False):
            for module in self.modules():
                self._init_weights(module)
        self.tie_weights()

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        std = getattr(self.config.get_text_config(), "initializer_range", 0.02)
        if isinstance(module, nn.Linear):
            module.weight.normal_(0.0, std)
            if module.bias is not None:
                module.bias.zero_()
        elif isinstance(module, nn.Embedding):
            module.weight.normal_(0.0, std)
            if module.padding_idx is not None:
                module.weight[module.padding_idx].zero_()
        elif isinstance(module, nn.LayerNorm):
            if module.weight is not None:  # elementwise_affine=False has neither
                module.weight.fill_(1.0)
            if module.bias is not None:  # bias=False (Cohere, OLMo) has no bias
                module.bias.zero_()
        elif type(module).__name__.endswith("RMSNorm"):
            module.weight.fill_(0.0 if getattr(module, "zero_centered", False) else 1.0)

    def _ties(self) -> dict[str, str]:
        # the model's own config decides, as in transformers: a vision-language model ties its
        # lm_head by its top-level `tie_word_embeddings`, whatever its text_config says
        tie = getattr(self.config, "tie_word_embeddings", False)
        return dict(self._tied_weights_keys) if tie else {}

    def tie_weights(self) -> None:
        """Make each tied target parameter the very same Parameter object as its source."""
        for target, source in self._ties().items():
            owner, _, name = target.rpartition(".")
            self.get_submodule(owner)._parameters[name] = self.get_parameter(source)

    # -- accessors ----------------------------------------------------------------------------
    @property
    def base_model(self) -> nn.Module:
        return getattr(self, self.base_model_prefix, self)

    def get_input_embeddings(self) -> nn.Module:
        return self.base_model.embed_tokens

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.base_model.embed_tokens = value

    def get_output_embeddings(self) -> nn.Module | None:
        return getattr(self, "lm_head", None)

    @property
    def dtype(self) -> torch.dtype:
        return next(self.parameters()).dtype

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def get_memory_footprint(self, return_buffers: bool = True) -> int:
        """Bytes of the parameters (4-bit weights as packed) and buffers, as transformers counts them."""
        tensors = [*self.parameters(), *(self.buffers() if return_buffers else ())]
        return sum(t.nelement() * t.element_size() for t in tensors)

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def from_config(
        cls,
        config: PretrainedConfig,
        *,
        dtype: torch.dtype | str | None = None,
        attn_implementation: str | None = None,
        torch_dtype: torch.dtype | str | None = None,
    ) -> PreTrainedModel:
        """A randomly initialised model; without `dtype`, in torch's current default dtype (so a
        sub-model built inside a composite model gets the composite's dtype). `torch_dtype`: the older name."""
        dtype = _one_dtype(dtype, torch_dtype)
        if attn_implementation is not None:
            config.set_attn_implementation(check_attn_implementation(attn_implementation))
        with _default_dtype(torch.get_default_dtype() if dtype is None else _to_dtype(dtype, config)):
            return cls._build(config)

    @classmethod
    def from_pretrained(
        cls,
        path_or_repo_id: str | os.PathLike,
        *,
        config: PretrainedConfig | None = None,
        dtype: torch.dtype | str | None = None,
        attn_implementation: str | None = None,
        strict: bool = True,
        torch_dtype: torch.dtype | str | None = None,
        quantization_config: Any = None,
        **hub_kwargs: Any,
    ) -> PreTrainedModel:
        """Load config.json and safetensors weights from a directory or a Hub repo id.

        `torch_dtype` is the older name of `dtype`. `quantization_config` (a BitsAndBytesConfig,
        its dict, or transformers' object) loads the Linear layers in 4 or 8 bits (runtime/quantization.py).
        `hub_kwargs`: revision, cache_dir, local_files_only, token.
        """
        dtype = _one_dtype(dtype, torch_dtype)
        config = config or cls.config_class.from_pretrained(path_or_repo_id, **hub_kwargs)
        if attn_implementation is not None:
            config.set_attn_implementation(check_attn_implementation(attn_implementation))
        target_dtype = _to_dtype(dtype, config)
        check_buildable(config, target_dtype.itemsize)  # before fetching weights that could never be used
        quantizer = BnbLoader.for_loading(quantization_config, config, target_dtype)
        generation_config = cls._generation_config_of(path_or_repo_id, config, hub_kwargs)
        files = checkpoint_files(path_or_repo_id, hub_kwargs)
        with _parameters_on_meta(), _default_dtype(target_dtype):
            model = cls._build(config)
        if quantizer is not None:
            quantizer.prepare(model, files)  # Linear layers -> bitsandbytes ones, still on meta
        plan, report = model._plan_loading(files)
        if strict and any(report.values()):
            raise CheckpointError(model._describe(report))  # from the headers, before reading any data
        model._read_planned(plan, target_dtype)
        model._settle(report, target_dtype)
        if quantizer is not None:
            quantizer.finish(model)
        if generation_config is not None:
            model.generation_config = generation_config
        return model.eval()

    @classmethod
    def _generation_config_of(
        cls, path_or_repo_id: str | os.PathLike, config: PretrainedConfig, hub_kwargs: dict[str, Any]
    ) -> GenerationConfig | None:
        """A generating model's generation_config.json (else derived from its config); None for
        a model without `generate`."""
        if not isinstance(getattr(cls, "generation_config", None), property):
            return None
        return GenerationConfig.for_checkpoint(path_or_repo_id, config, **hub_kwargs)

    @classmethod
    def _build(cls, config: PretrainedConfig) -> PreTrainedModel:
        """`cls(config)`; whatever the model code trips on while building (an unknown activation,
        a rope parameter of the wrong type, an allocation that fails) is the config's fault and
        becomes a `ConfigError` naming the config file."""
        try:
            return cls(config)
        except (ConfigError, CheckpointError):
            raise
        except CONFIG_FAULTS as error:
            detail = f"{type(error).__name__}: {str(error)[:120]}"
        except RuntimeError as error:  # torch's own, e.g. an allocation that fails
            detail = f"RuntimeError: {str(error)[:120]}"
        raise ConfigError(f"{config.describe_source()}: cannot build {cls.__name__} from this config ({detail})")

    # -- loading ------------------------------------------------------------------------------
    def _expected_tensors(self) -> dict[str, torch.Tensor]:
        """Checkpoint name -> every parameter (on meta while loading) and persistent buffer."""
        tensors = dict(self.named_parameters(remove_duplicate=False))
        tensors.update((name, b) for name, b in self.state_dict(keep_vars=True).items() if name not in tensors)
        return tensors

    def _model_name(self, name: str, expected: dict[str, torch.Tensor]) -> str | None:
        """The model's name for a checkpoint tensor; a head checkpoint loads into its base model
        and a base checkpoint into a head, through `base_model_prefix`."""
        if name in expected:
            return name
        prefix = self.base_model_prefix + "."
        if name.startswith(prefix) and name[len(prefix) :] in expected:
            return name[len(prefix) :]
        return prefix + name if prefix + name in expected else None

    def _plan_loading(self, files: list[Path]) -> tuple[list[LoadStep], dict[str, list[str]]]:
        """Match every checkpoint tensor to the model from the file headers alone.

        A tensor whose shape or kind of dtype (float, integer, bool, ...) differs from the model's
        is mismatched: loading converts float to float only. A model tensor given twice (in two
        shards, or under its own and its prefixed name) is refused outright.
        """
        expected, ties = self._expected_tensors(), self._ties()
        quantizer = self.__dict__.get("hf_quantizer")
        if quantizer is not None:  # a pre-quantized checkpoint's packed weights and quant state
            expected.update(quantizer.expected)
        plan: list[LoadStep] = []
        report: dict[str, list[str]] = {"missing": [], "unexpected": [], "mismatched": []}
        given: dict[str, str] = {}  # model name -> "file: key" that gives it
        for path in files:
            with SafetensorsFile(path) as checkpoint:
                infos = dict(checkpoint.tensors)
            skip_head = self._skips_head_tensors(infos)
            for key in sorted(infos):
                pieces = self._checkpoint_pieces(key, infos[key], expected)
                for label, name, info in pieces:
                    if name is None:
                        if self._reports_unexpected(key, skip_head):
                            report["unexpected"].append(label)
                        continue
                    if name in given:
                        raise CheckpointError(f"{path}: tensor {label} gives {name!r} again (also in {given[name]})")
                    given[name] = f"{path.name}: {label}"
                    if name in ties:
                        continue  # the tied target follows its source
                    problem = self._mismatch(info, expected[name])
                    if problem:
                        report["mismatched"].append(f"{label}: {problem}")
                        continue
                    plan.append(LoadStep(path, key, name, info))
        report["missing"] = [name for name in expected if name not in given and name not in ties]
        return plan, report

    def _checkpoint_pieces(
        self, key: str, info: TensorInfo, expected: dict[str, torch.Tensor]
    ) -> list[tuple[str, str | None, TensorInfo]]:
        """(label for messages, model name or None when the model has no such tensor, part read)
        for each model tensor stored tensor `key` gives: itself under its own name, else the pieces
        of the first `_checkpoint_layouts` pattern it matches (its whole name stays unexpected when
        none matches, or when its shape cannot be split as the pattern says)."""
        plain = _plain(key)
        if (name := self._model_name(key, expected)) is not None:
            return [(plain, name, info)]
        for pattern, targets in self._checkpoint_layouts.items():
            match = re.fullmatch(pattern, key)
            pieces = _layout_pieces(match, targets, info) if match is not None else []
            if pieces:
                return [
                    (f"{plain}{where}", self._model_name(target, expected), part) for where, target, part in pieces
                ]
        return [(plain, None, info)]

    def _skips_head_tensors(self, infos: dict[str, TensorInfo]) -> bool:
        """Whether this is a base model reading a head checkpoint (whose own tensors it skips)."""
        prefix = self.base_model_prefix + "."
        return not hasattr(self, self.base_model_prefix) and any(k.startswith(prefix) for k in infos)

    def _reports_unexpected(self, key: str, skip_head: bool) -> bool:
        """Whether an unmatched checkpoint tensor counts as unexpected (head tensors a base model
        skips, e.g. lm_head, and keys the model ignores do not)."""
        if skip_head and not key.startswith(self.base_model_prefix + "."):
            return False
        return not any(re.search(pattern, key) for pattern in self._keys_to_ignore_on_load_unexpected)

    @staticmethod
    def _mismatch(info: TensorInfo, target: torch.Tensor) -> str | None:
        if info.shape != tuple(target.shape):
            return f"checkpoint {info.shape} vs model {tuple(target.shape)}"
        if _kind(info.dtype) != _kind(target.dtype):
            stored, wanted = str(info.dtype).removeprefix("torch."), str(target.dtype).removeprefix("torch.")
            return f"checkpoint dtype {stored} ({_kind(info.dtype)}) vs model {wanted} ({_kind(target.dtype)})"
        return None

    def _describe(self, report: dict[str, list[str]]) -> str:
        lines = [f"{kind} tensors ({len(names)}): {listed(names)}" for kind, names in sorted(report.items()) if names]
        return (
            f"{type(self).__name__}: checkpoint does not fit the model\n  "
            + "\n  ".join(lines)
            + "\n  (pass strict=False to load anyway and initialise what is missing)"
        )

    def _read_planned(self, plan: list[LoadStep], dtype: torch.dtype) -> None:
        """Give each planned tensor its data (see `_load_tensor`); the quantizer takes its own."""
        scratch = torch.empty(SCRATCH_BYTES, dtype=torch.uint8)
        quantizer = self.__dict__.get("hf_quantizer")
        column_major = self._column_major_names() if dtype == torch.float32 else set()
        for path in sorted({step.path for step in plan}):
            with SafetensorsFile(path) as checkpoint:
                for step in (s for s in plan if s.path == path):
                    if quantizer is not None and quantizer.takes(step.name):
                        quantizer.load(self, step.name, quantizer.read(checkpoint, step, scratch))
                        continue  # quantized as read: one weight in full precision at a time
                    layout = self._target_layout(step, dtype, column_major)
                    self._install(step.name, self._load_tensor(checkpoint, step, dtype, layout, scratch))
        if quantizer is not None:
            quantizer.assemble(self)
        self.tie_weights()

    def _load_tensor(
        self, checkpoint: SafetensorsFile, step: LoadStep, dtype: torch.dtype, layout: str, scratch: torch.Tensor
    ) -> torch.Tensor:
        """`step`'s tensor in `dtype` and `layout`, one copy at most.

        Stored as loaded: a view of the file's private mapping (read when first used), or read
        when it cannot be mapped. Another dtype: streamed through `scratch`, a block of rows at a
        time (a full temporary per tensor would add the largest tensor to the peak and fragment
        the heap). Column-major (`decode_friendly`): one blocked transpose from the mapping, whose
        pages are then given back, else streamed.
        """
        if layout == "direct":
            tensor = checkpoint.mapped(step.key, part=step.info)
            return tensor if tensor is not None else checkpoint.read(step.key, part=step.info)
        tensor = self._allocate(step, dtype, layout)
        source = checkpoint.mapped(step.key, part=step.info) if layout == "column_major" else None
        if source is None:
            stream_rows(checkpoint, step, tensor, scratch)
            return tensor
        tensor.t().copy_(source.t())  # contiguous (in, out) from a transposed view: torch's blocked transpose
        del source
        checkpoint.drop_pages(step.key, part=step.info)
        return tensor

    @staticmethod
    def _target_layout(step: LoadStep, dtype: torch.dtype, column_major: set[str]) -> str:
        """ "direct" (as stored), "same" (convert dtype only) or "column_major" (see decode_friendly)."""
        if len(step.info.shape) == 2 and step.name in column_major:
            return "column_major"
        return "same" if step.info.dtype.is_floating_point and step.info.dtype != dtype else "direct"

    def _column_major_names(self) -> set[str]:
        """The output embedding's weight and, when tied, the parameter it is, where it is narrower
        than COLUMN_MAJOR_BELOW (see decode_friendly)."""
        head = self.get_output_embeddings()
        owner = next((name for name, module in self.named_modules() if module is head), None)
        if owner is None or not isinstance(head, nn.Linear) or head.in_features >= COLUMN_MAJOR_BELOW:
            return set()
        name = f"{owner}.weight" if owner else "weight"
        return {name, self._ties().get(name, name)}

    @staticmethod
    def _allocate(step: LoadStep, dtype: torch.dtype, layout: str) -> torch.Tensor:
        target = dtype if step.info.dtype.is_floating_point else step.info.dtype
        if layout == "column_major":
            rows, cols = step.info.shape
            return torch.empty(cols, rows, dtype=target).t()  # column-major, as decode_friendly
        return torch.empty(step.info.shape, dtype=target)

    def _install(self, name: str, tensor: torch.Tensor) -> None:
        owner, _, attr = name.rpartition(".")
        module = self.get_submodule(owner)
        if attr in module._parameters:
            module._parameters[attr] = nn.Parameter(tensor, requires_grad=tensor.is_floating_point())
        else:
            module._buffers[attr] = tensor

    def _settle(self, report: dict[str, list[str]], dtype: torch.dtype) -> None:
        """Initialise what is missing (strict=False), tie, and record what did not fit."""
        for name, param in list(self.named_parameters()):
            if param.device.type == "meta":
                self._materialize(name, param, dtype)
        self.tie_weights()
        self.loading_info = report
        problems = [f"{kind} ({len(names)}): {listed(names)}" for kind, names in sorted(report.items()) if names]
        if problems:
            warnings.warn(f"{type(self).__name__} loaded with strict=False: {'; '.join(problems)}", stacklevel=3)

    @torch.no_grad()
    def _materialize(self, name: str, param: nn.Parameter, dtype: torch.dtype) -> None:
        """Allocate a missing parameter and initialise it as a fresh model would."""
        owner, _, attr = name.rpartition(".")
        module = self.get_submodule(owner)
        saved = {
            key: p.detach().clone()
            for key, p in module._parameters.items()
            if p is not None and p.device.type != "meta"
        }
        module._parameters[attr] = nn.Parameter(
            torch.empty(param.shape, dtype=dtype), requires_grad=param.requires_grad
        )
        self._init_weights(module)
        for key, value in saved.items():  # keep what the checkpoint provided
            module._parameters[key].copy_(value)

    # -- saving -------------------------------------------------------------------------------
    def save_pretrained(self, save_directory: str | os.PathLike, *, max_shard_size: int | str = "5GB") -> None:
        """config.json plus safetensors weights readable by transformers; tied targets are not written."""
        directory = Path(save_directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.config.architectures = [type(self).__name__]
        self.config.dtype = str(self.dtype).removeprefix("torch.")
        self.config.save_pretrained(directory)
        if isinstance(getattr(type(self), "generation_config", None), property):  # a model with generate
            self.generation_config.save_pretrained(directory)
        ties = self._ties()
        state = {name: t.detach().contiguous() for name, t in self.state_dict().items() if name not in ties}
        write_weights(state, directory, max_shard_size)
