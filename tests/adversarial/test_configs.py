"""Hostile configs get a short `ConfigError` (a `ValueError`) naming the file and the field, before
any module is built; absurd sizes are refused in a capped child process, so a regression fails
instead of eating the machine.

Proves, on tiny configs written here (no network, no transformers):
- `BAD_FILES`: a config.json that is not JSON, not UTF-8, empty, a list, too deep, too large, holds
  a 5000-digit number, is a directory, names an unknown, non-string or path-like model_type, has
  fields of the wrong type, sizes that are zero, negative or inconsistent, a pad token outside the
  vocabulary, an unknown attention backend or activation, rope parameters of the wrong type, or
  an integer dtype: the error names config.json and the field, and stays under 400 characters;
  the same through `AutoConfig`, `AutoModelForCausalLM` and a composite config's `text_config`;
- `SIZES`: `num_hidden_layers=10**5`, `hidden_size=10**9`, `vocab_size=10**12`, `num_labels=10**9`,
  ... are refused by the config constructor, by `from_config` (of a config edited after it was
  made), by `from_pretrained`, and inside a composite's `text_config`, all under a 2 GiB
  address-space cap and a deadline (num_hidden_layers=10**5 used to take a minute and 4 GB, then
  fail with a 3.8 MB message);
- `TOO_BIG`: sizes each within bounds whose model could not fit in memory (a 2^17 x 2^20
  embedding, a 65536-pixel image in 1-pixel patches, a 64x pixel-shuffle connector) are accepted
  as configs and refused when a model is built, naming the memory budget.
Run: python -m pytest tests/adversarial/test_configs.py -q
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from generated.idefics3 import Idefics3Config
from generated.llama import LlamaConfig, LlamaForCausalLM
from generated.mixtral import MixtralConfig
from runtime.auto import AutoConfig, AutoModelForCausalLM
from runtime.configuration_utils import ConfigError
from tests.adversarial.capped import run_capped
from tests.models.helpers import tiny_llama_kwargs

MAX_MESSAGE = 400


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    LlamaForCausalLM(LlamaConfig(**tiny_llama_kwargs())).save_pretrained(tmp_path / "ckpt")
    return tmp_path / "ckpt"


def _edit(**fields: object) -> Callable[[Path], None]:
    def arrange(path: Path) -> None:
        config = json.loads((path / "config.json").read_text())
        (path / "config.json").write_text(json.dumps({**config, **fields}))

    return arrange


def _text(content: str | bytes) -> Callable[[Path], None]:
    def arrange(path: Path) -> None:
        (path / "config.json").write_bytes(content.encode() if isinstance(content, str) else content)

    return arrange


def _oversized(path: Path) -> None:
    with open(path / "config.json", "r+b") as handle:  # sparse: takes no disk, says 65 MiB
        handle.truncate(65 * 2**20)


def _directory(path: Path) -> None:
    (path / "config.json").unlink()
    (path / "config.json").mkdir()


BAD_FILES: dict[str, tuple[Callable[[Path], None], type[Exception], str]] = {
    "not-json": (_text('{"model_type": "llama",'), ConfigError, "not valid JSON"),
    "not-utf8": (
        _text(b'{"model_type": "llama", "x": "\xff"}'),
        ConfigError,
        r"not UTF-8 text \(bad byte at offset 30\)",
    ),
    "empty": (_text(""), ConfigError, "not valid JSON"),
    "a-list": (_text("[1, 2]"), ConfigError, "expected a JSON object, got list"),
    "null": (_text("null"), ConfigError, "expected a JSON object, got NoneType"),
    "deep": (_text("[" * 100_000 + "]" * 100_000), ConfigError, "not usable JSON"),
    "huge-number": (_text('{"vocab_size": ' + "9" * 5000 + "}"), ConfigError, "not usable JSON"),
    "oversized": (_oversized, ConfigError, "bytes, more than the"),
    "a-directory": (_directory, IsADirectoryError, "'config.json' is a directory"),
    "model-type-unknown": (_edit(model_type="nonexistent"), ConfigError, "model_type='nonexistent'"),
    "model-type-number": (_edit(model_type=5), ConfigError, "model_type must be a string"),
    "model-type-path": (_edit(model_type="../../os"), ConfigError, "model_type"),
    "hidden-size-text": (_edit(hidden_size="big"), ConfigError, "hidden_size='big'"),
    "layers-float": (_edit(num_hidden_layers=2.5), ConfigError, "num_hidden_layers=2.5"),
    "rope-a-list": (_edit(rope_parameters=[1]), ConfigError, r"rope_parameters=\[1\]"),
    "id2label-a-list": (_edit(id2label=["a"]), ConfigError, "id2label="),
    "id2label-bad-keys": (_edit(id2label={"first": "a"}), ConfigError, "id2label keys must be label indices"),
    "eos-text": (_edit(eos_token_id="x"), ConfigError, "eos_token_id='x'"),
    "tie-text": (_edit(tie_word_embeddings="yes"), ConfigError, "tie_word_embeddings='yes'"),
    "long-value": (_edit(hidden_act="x" * 100_000), ConfigError, "hidden_act"),
    "heads-zero": (_edit(num_attention_heads=0), ConfigError, "num_attention_heads=0"),
    "hidden-negative": (_edit(hidden_size=-32), ConfigError, "hidden_size=-32"),
    "vocab-zero": (_edit(vocab_size=0), ConfigError, "vocab_size=0"),
    "heads-not-dividing": (_edit(num_attention_heads=5), ConfigError, "hidden_size=32 is not a multiple"),
    "pad-outside-vocab": (_edit(pad_token_id=99), ConfigError, "pad_token_id=99 is outside the vocabulary"),
    "attn-unknown": (_edit(attn_implementation="fastest"), ConfigError, "unknown attn_implementation 'fastest'"),
    "attn-a-list": (_edit(attn_implementation=["sdpa"]), ConfigError, "unknown attn_implementation"),
    "activation-unknown": (_edit(hidden_act="wiggle"), ConfigError, "hidden_act=.wiggle. is not an activation"),
    "rope-factor-text": (
        _edit(rope_parameters={"rope_type": "linear", "factor": "x", "rope_theta": 1e4}),
        ConfigError,
        "cannot build LlamaForCausalLM",
    ),
    "rope-yarn-zero": (
        _edit(rope_parameters={"rope_type": "yarn", "rope_theta": 1.0, "original_max_position_embeddings": 32}),
        ConfigError,
        "cannot build LlamaForCausalLM",
    ),
}


def _check(error: BaseException, folder: Path, needle: str) -> None:
    message = str(error)
    assert str(folder) in message and "config.json" in message, message
    assert re.search(needle, message), message
    assert len(message) < MAX_MESSAGE, message


@pytest.mark.parametrize("case", list(BAD_FILES.values()), ids=list(BAD_FILES))
def test_bad_config_files_name_the_file_and_field(folder: Path, case: tuple) -> None:
    arrange, error, needle = case
    arrange(folder)
    with pytest.raises(error) as caught:
        LlamaForCausalLM.from_pretrained(folder)
    _check(caught.value, folder, needle)


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"model_type": "nonexistent"}, "unknown model_type 'nonexistent'"),
        ({"model_type": "../../os"}, "unknown model_type '../../os': not a model type name"),
        ({"model_type": "os.path"}, "not a model type name"),
        ({"model_type": ["llama"]}, r"unknown model_type \['llama'\]"),
        ({"model_type": ""}, "no 'model_type' key"),
        ({"num_hidden_layers": 10**5}, "num_hidden_layers=100000 must be between 0 and 1024"),
    ],
    ids=["unknown", "path", "dotted", "list", "empty", "layers"],
)
def test_auto_classes_name_the_file(folder: Path, fields: dict, needle: str) -> None:
    _edit(**fields)(folder)
    for load in (AutoConfig.from_pretrained, AutoModelForCausalLM.from_pretrained):
        with pytest.raises(ConfigError) as caught:
            load(folder)
        _check(caught.value, folder, needle)


@pytest.mark.parametrize(
    ("text_config", "needle"),
    [
        ([1], "wrong type for text_config"),
        ({"model_type": 5}, "text_config.model_type must be a string"),
        ({"model_type": "nonexistent"}, "text_config: unknown model_type 'nonexistent'"),
        ({"num_hidden_layers": 10**5}, "text_config: LlamaConfig: num_hidden_layers=100000"),
        ({"hidden_size": 10**9}, "text_config: LlamaConfig: hidden_size=1000000000"),
    ],
    ids=["a-list", "model-type-number", "model-type-unknown", "layers", "hidden"],
)
def test_composite_configs_name_the_sub_config(tmp_path: Path, text_config: object, needle: str) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "idefics3", "text_config": text_config}))
    for load in (Idefics3Config.from_pretrained, AutoConfig.from_pretrained):
        with pytest.raises(ConfigError) as caught:
            load(tmp_path)
        _check(caught.value, tmp_path, needle)


def test_keys_named_like_parameters_are_plain_extra_fields(folder: Path, tmp_path: Path) -> None:
    _edit(self=1, cls=2)(folder)  # used to be a TypeError: "got multiple values for argument 'self'"
    assert LlamaForCausalLM.from_pretrained(folder).config.extra_fields == {"self": 1, "cls": 2}
    config = Idefics3Config(text_config={"model_type": "llama", "cls": 1, "self": 2, **tiny_llama_kwargs()})
    assert config.text_config.extra_fields == {"cls": 1, "self": 2}


def test_an_integer_dtype_is_refused(folder: Path) -> None:
    _edit(dtype="int8")(folder)
    with pytest.raises(ConfigError) as caught:
        LlamaForCausalLM.from_pretrained(folder, dtype="auto")
    _check(caught.value, folder, "dtype=torch.int8: expected a floating dtype")
    with pytest.raises(ValueError, match="dtype=torch.int32: expected a floating dtype"):
        LlamaForCausalLM.from_pretrained(folder, dtype="int32")


def test_config_symlinked_outside_is_refused(folder: Path, tmp_path: Path) -> None:
    (tmp_path / "elsewhere.json").write_text((folder / "config.json").read_text())
    (folder / "config.json").unlink()
    (folder / "config.json").symlink_to(tmp_path / "elsewhere.json")
    with pytest.raises(OSError, match="'config.json' resolves outside the folder"):
        LlamaConfig.from_pretrained(folder)
    with pytest.raises(ValueError, match="resolves outside"):  # also a ValueError: bad input
        AutoConfig.from_pretrained(folder)


# -- absurd sizes, under a memory cap ------------------------------------------------------------

# field overrides of the tiny Llama: each out of range, refused by the config itself
SIZES: dict[str, dict[str, object]] = {
    "layers-1e5": {"num_hidden_layers": 10**5},
    "hidden-1e9": {"hidden_size": 10**9, "num_attention_heads": 1, "num_key_value_heads": 1},
    "vocab-1e12": {"vocab_size": 10**12},
    "intermediate-1e9": {"intermediate_size": 10**9},
    "heads-1e6": {"hidden_size": 10**6, "num_attention_heads": 10**6, "num_key_value_heads": 10**6},
    "head-dim-1e9": {"head_dim": 10**9},
    "labels-1e9": {"num_labels": 10**9},
    "positions-1e50": {"max_position_embeddings": 10**50},
    "pad-1e9": {"pad_token_id": 10**9},
}
# sizes each within bounds whose model cannot fit: the config is fine, building a model is refused
TOO_BIG: dict[str, tuple[str, dict[str, object]]] = {
    "embedding-2^37": ("llama", {"hidden_size": 2**17, "vocab_size": 2**20, "num_attention_heads": 2**5}),
    "image-65536-pixels": ("siglip", {"image_size": 2**16, "patch_size": 1}),
    "connector-64x": ("idefics3", {"scale_factor": 64}),
    "experts-2^13": ("mixtral", {"num_local_experts": 2**13}),
}

CHILD = """
import json, sys, time
sys.path.insert(0, ".")
from generated.idefics3 import Idefics3Config, Idefics3ForConditionalGeneration
from generated.llama import LlamaConfig, LlamaForCausalLM
from generated.mixtral import MixtralConfig, MixtralForCausalLM
from generated.siglip import SiglipVisionConfig, SiglipVisionModel
from tests.models.helpers import tiny_llama_kwargs

FOLDER = sys.argv[1]
VISION = {"hidden_size": 2**12, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2**5,
          "image_size": 64, "patch_size": 16}
TEXT = tiny_llama_kwargs(hidden_size=2**12, num_attention_heads=2**5, num_key_value_heads=2**5)
MODELS = {
    "llama": (LlamaConfig, LlamaForCausalLM, lambda **kw: tiny_llama_kwargs(**kw)),
    "siglip": (SiglipVisionConfig, SiglipVisionModel, lambda **kw: {**VISION, "hidden_size": 32, **kw}),
    "mixtral": (MixtralConfig, MixtralForCausalLM, lambda **kw: {**TEXT, "intermediate_size": 2**14, **kw}),
    "idefics3": (Idefics3Config, Idefics3ForConditionalGeneration,
                 lambda **kw: {"vision_config": VISION, "text_config": TEXT, **kw}),
}

def attempt(action):
    start = time.monotonic()
    try:
        action()
        outcome = {"error": None, "message": ""}
    except Exception as error:
        outcome = {"error": type(error).__name__, "message": str(error)}
    outcome["seconds"] = time.monotonic() - start
    return outcome

def edited(config_class, kwargs, fields):
    config = config_class(**kwargs)  # valid, then edited: the model must check again
    for name, value in fields.items():
        setattr(config, name, value)
    return config

def saved(config_class, kwargs, fields):
    with open(FOLDER + "/config.json", "w") as handle:
        json.dump({**config_class(**kwargs).to_dict(), **fields}, handle)
    return FOLDER

results = {}
for case, (model, fields) in json.loads(sys.argv[2]).items():
    config_class, model_class, base = MODELS[model]
    results[case] = {
        "constructor": attempt(lambda: config_class(**base(**fields))),
        "from_config": attempt(lambda: model_class.from_config(edited(config_class, base(), fields))),
        "from_pretrained": attempt(lambda: model_class.from_pretrained(saved(config_class, base(), fields))),
    }
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def capped_results(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Every case of SIZES and TOO_BIG, tried three ways in one child under a 2 GiB cap."""
    folder = tmp_path_factory.mktemp("sizes")
    cases = {**{case: ("llama", fields) for case, fields in SIZES.items()}, **TOO_BIG}
    code = CHILD.replace("sys.argv[1]", repr(str(folder))).replace("sys.argv[2]", repr(json.dumps(cases)))
    result = run_capped(code, memory_mib=2048, timeout_s=240)
    assert result.returncode == 0, result.output[-3000:]
    return json.loads(result.stdout.splitlines()[-1])


@pytest.mark.parametrize("case", list(SIZES), ids=list(SIZES))
def test_absurd_sizes_are_refused_early_everywhere(capped_results: dict, case: str) -> None:
    field = next(name for name in SIZES[case] if name not in ("num_attention_heads", "num_key_value_heads"))
    for path, outcome in capped_results[case].items():
        assert outcome["error"] == "ConfigError", (path, outcome)
        assert f"{field}=" in outcome["message"] and len(outcome["message"]) < MAX_MESSAGE, (path, outcome)
    assert "config.json" in capped_results[case]["from_pretrained"]["message"]


@pytest.mark.parametrize("case", list(TOO_BIG), ids=list(TOO_BIG))
def test_models_too_big_for_memory_are_refused_when_built(capped_results: dict, case: str) -> None:
    outcomes = capped_results[case]
    assert outcomes["constructor"]["error"] is None, outcomes["constructor"]
    for path in ("from_config", "from_pretrained"):
        assert outcomes[path]["error"] == "ConfigError", (path, outcomes[path])
        assert "more than the" in outcomes[path]["message"] and "bytes available" in outcomes[path]["message"]
        assert len(outcomes[path]["message"]) < MAX_MESSAGE
    assert "config.json" in outcomes["from_pretrained"]["message"]


@pytest.mark.parametrize("field", ["num_local_experts", "num_experts_per_tok"])
def test_expert_counts_out_of_range_are_refused(field: str) -> None:
    with pytest.raises(ConfigError, match=f"{field}="):
        MixtralConfig(**tiny_llama_kwargs(), **{field: 10**6})
