"""Upstream's rename prefixes in a tree: one (lowercase, CamelCase) new name per base *file*.

Upstream's converter (`infer_new_model_name`) renames each base file it imports from with one
prefix, read off the modular classes that subclass that file's classes:

    class AriaTextForCausalLM(LlamaForCausalLM)    common suffix `ForCausalLM`: prefix `AriaText`
    class HunYuanVLTextConfig(HunYuanDenseV1Config) common suffix `Config`: prefix `HunYuanVLText`

- a class whose name and base share no suffix starting with an upper-case letter gives the default
  prefix (the new model's CamelCase name), or the default followed by the base's name when the class
  is named `<default><base>`; a prefix shorter than the default, when the class name holds the
  default, is the default (the two model names share their last letters);
- the most frequent prefix wins; on a tie the default if tied, else the last one first seen;
- a prefix other than the default that, with the default replaced by the base's CamelCase name,
  starts a class of the base file (`Qwen4ExpText` -> `Qwen3_5Text`: `class Qwen3_5TextModel`) is
  dropped for the default, so that renaming cannot collide;
- the lowercase form is the prefix's model type (`AriaText` -> `aria_text`, the `model_type` of a
  config class named `AriaTextConfig`), else its capitalised words joined by underscores;
- a file no modular class subclasses is renamed to the new model's names.

CamelCase names of models are what upstream reads from its config mapping: the name of the config
class whose `model_type` is the model (`DINOv3ViT` for dinov3_vit), where the modular file or a base
file defines it; else the prefix most of the model's classes share (converter/rename/rename.py: the classes
named after the model, `RTDetr` for rt_detr, else the modular classes built on base classes, `AST`
for audio_spectrogram_transformer), since a config class written by hand beside the modular file is
not read.
"""

from __future__ import annotations

import ast
import functools
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path

import libcst as cst

from converter.read.bases import BasePackage

CONFIG = "Config"


def common_partial_suffix(first: str, second: str) -> str:
    """The longest common suffix, unless it is one of the two names whole."""
    size = 0
    while size < min(len(first), len(second)) and first[-1 - size] == second[-1 - size]:
        size += 1
    suffix = first[len(first) - size :] if size else ""
    return "" if suffix in (first, second) else suffix


def model_types(modules: Iterable[cst.Module]) -> dict[str, str]:
    """`{"llama": "Llama"}` for each top-level `class LlamaConfig` whose body sets `model_type = "llama"`
    (a dash in a model type is an underscore here, as upstream reads it: `audio-spectrogram-transformer`)."""
    found: dict[str, str] = {}
    for module in modules:
        for statement in module.body:
            if isinstance(statement, cst.ClassDef) and statement.name.value.endswith(CONFIG):
                model_type = class_model_type(statement)
                if model_type is not None:
                    found.setdefault(model_type.replace("-", "_"), statement.name.value.removesuffix(CONFIG))
    return found


def class_model_type(statement: cst.ClassDef) -> str | None:
    """The string a class body assigns to `model_type` (`model_type = "x"` or `model_type: str = "x"`)."""
    for line in statement.body.body if isinstance(statement.body, cst.IndentedBlock) else ():
        small = line.body[0] if isinstance(line, cst.SimpleStatementLine) and line.body else None
        if isinstance(small, cst.Assign) and len(small.targets) == 1:
            target, value = small.targets[0].target, small.value
        elif isinstance(small, cst.AnnAssign) and small.value is not None:
            target, value = small.target, small.value
        else:
            continue
        if isinstance(target, cst.Name) and target.value == "model_type" and isinstance(value, cst.SimpleString):
            evaluated = value.evaluated_value
            return evaluated if isinstance(evaluated, str) else None
    return None


#: Where a transformers tree keeps its model types and their config classes (`CONFIG_MAPPING_NAMES`),
#: relative to its `models` directory: generated from each config class's `model_type`, then
#: extended by hand in `configuration_auto.py` (both read here, never imported).
AUTO_MAPPING_FILES = ("auto/auto_mappings.py", "auto/configuration_auto.py")


@functools.cache
def mapped_names(models: Path) -> dict[str, str]:
    """`{"deepseek_ocr2_encoder": "DeepseekOcr2VisionEncoder"}`: upstream's `CONFIG_MAPPING_NAMES` of
    the tree under `models`, read off its `auto` files (`X = OrderedDict([("type", "XConfig"), ...])`
    and `X.update({...})` at the top level), config names without `Config`, as upstream's
    `get_cased_name` strips it; {} where the tree has no such files. A model type with a dash is
    written with an underscore, as `model_types` gives it."""
    found: dict[str, str] = {}
    for relative in AUTO_MAPPING_FILES:
        try:
            tree = ast.parse((models / relative).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        for statement in tree.body:
            for key, value in mapping_pairs(statement):
                found[key.replace("-", "_")] = value.replace(CONFIG, "")
    return found


def mapping_pairs(statement: ast.stmt) -> list[tuple[str, str]]:
    """The (model type, config class) string pairs a top-level `CONFIG_MAPPING_NAMES = OrderedDict([...])`
    or `CONFIG_MAPPING_NAMES.update({...})` statement writes; [] for any other statement."""
    value: ast.expr | None = None
    if isinstance(statement, ast.Assign) and any(
        isinstance(t, ast.Name) and t.id == MAPPING for t in statement.targets
    ):
        call = statement.value
        if isinstance(call, ast.Call) and call.args:
            value = call.args[0]
    elif isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call):
        func = statement.value.func
        is_update = isinstance(func, ast.Attribute) and func.attr == "update"
        if is_update and isinstance(func.value, ast.Name) and func.value.id == MAPPING and statement.value.args:
            value = statement.value.args[0]
    pairs: list[tuple[object, object]] = []
    if isinstance(value, (ast.List, ast.Tuple)):
        pairs = [
            (item.elts[0].value, item.elts[1].value)
            for item in value.elts
            if isinstance(item, ast.Tuple)
            and len(item.elts) == 2
            and all(isinstance(e, ast.Constant) for e in item.elts)
        ]
    elif isinstance(value, ast.Dict):
        pairs = [
            (k.value, v.value)
            for k, v in zip(value.keys, value.values, strict=True)
            if isinstance(k, ast.Constant) and isinstance(v, ast.Constant)
        ]
    return [(k, v) for k, v in pairs if isinstance(k, str) and isinstance(v, str)]


MAPPING = "CONFIG_MAPPING_NAMES"


def cased_name(model: str, known: Mapping[str, str]) -> str:
    """Upstream's `get_cased_name`: the config class's prefix, else each word capitalised (`str.title`)."""
    return known.get(model) or "".join(part.title() for part in model.split("_"))


def lowercase_name(cased: str, known: Mapping[str, str]) -> str:
    """Upstream's `get_lowercase_name`: the model type whose config class is `<cased>Config`, else the
    capitalised words joined by underscores (`AriaText` -> `aria_text`)."""
    inverse = {value: key for key, value in known.items()}
    if cased in inverse:
        return inverse[cased]
    return "_".join(word.lower() for word in re.findall(r"[A-Z][^A-Z]*", cased))


def class_prefix(name: str, base: str, default: str, base_model: str, known: Mapping[str, str]) -> str:
    """The prefix one modular class `name(base)` stands for."""
    suffix = common_partial_suffix(name, base)
    if suffix and suffix[0].isupper():
        prefix = name.replace(suffix, "")
        if len(prefix) < len(default) and default in name:
            return default
        return prefix
    if name.replace(default, "") == base:  # `class NewOldModel(OldModel)`
        return default + cased_name(base_model, known)
    return default


def chosen_prefix(prefixes: list[str], default: str) -> str:
    """The most frequent prefix; on a tie the default if tied, else the last one first seen."""
    counts = Counter(prefixes)
    top = max(counts.values())
    tied = [prefix for prefix in counts if counts[prefix] == top]
    return default if default in tied else tied[-1]


def collides(prefix: str, default: str, old_cased: str, module: cst.Module) -> bool:
    """`prefix`, with the default replaced by the base's name, starts a class of the base file."""
    old_prefix = prefix.replace(default, old_cased)
    return any(isinstance(s, cst.ClassDef) and s.name.value.startswith(old_prefix) for s in module.body)


def file_prefixes(
    classes: Iterable[tuple[str, str, str, str]],
    packages: Iterable[BasePackage],
    new_model: str,
    known: Mapping[str, str],
) -> dict[tuple[str, str], tuple[str, str]]:
    """`(model, stem) -> (new lowercase name, new CamelCase name)` for every base file that modular
    classes subclass; `classes` holds `(class name, base name, base model, base stem)` in source order.
    `known`: model -> CamelCase name, for the new model and every base model at least."""
    default = known[new_model]
    seen: dict[tuple[str, str], list[str]] = {}
    for name, base, model, stem in classes:
        seen.setdefault((model, stem), []).append(class_prefix(name, base, default, model, known))
    files = {(package.model, file.stem): file.module for package in packages for file in package.files}
    chosen = {}
    for (model, stem), prefixes in seen.items():
        prefix = chosen_prefix(prefixes, default)
        module = files.get((model, stem))
        if prefix != default and module is not None and collides(prefix, default, known[model], module):
            prefix = default
        lowercase = new_model if prefix == default else lowercase_name(prefix, known)
        chosen[(model, stem)] = (lowercase, prefix if prefix == default else cased_name(lowercase, known))
    return chosen
