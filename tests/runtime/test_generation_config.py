"""`GenerationConfig` reads, writes and applies generation_config.json as transformers 5.23.0 does.

Proves: the same fields and defaults as transformers; a config derived from config.json (no
generation_config.json) equal to transformers' `from_model_config`, for a text model and a
vision-language one (EOS from the text config); a file transformers saved loads into
`model.generation_config`, and ours saves one transformers reads back equal; the checkpoint's file
drives `generate` (EOS list, length) with transformers' tokens; precedence call keywords >
`generation_config=` > the model's; a broken file raises `GenerationError` naming the file without
echoing its bytes; an unsupported option loads and saves but `generate` refuses it by name.
Run: python -m pytest tests/runtime/test_generation_config.py -q
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from generated.idefics2 import Idefics2Config
from generated.llama import LlamaConfig, LlamaForCausalLM
from runtime.generation_config import DEFAULTS, FIELDS, GenerationConfig, GenerationError
from tests.models.helpers import reference_checkpoint, tiny_llama_kwargs

transformers = pytest.importorskip("transformers")

PROMPT = torch.tensor([[5, 6, 7, 8], [9, 10, 11, 12]])
SAVED = {  # what a chat checkpoint's generation_config.json holds (Idefics2-style), and more
    "bos_token_id": 1,
    "eos_token_id": [2, 7],
    "pad_token_id": 0,
    "bad_words_ids": [[3], [4, 5]],
    "max_new_tokens": 6,
    "repetition_penalty": 1.2,
    "custom_entry": "kept",
}


def checkpoint(tmp_path: Path, **generation: Any) -> tuple[Any, Path]:
    """A transformers Llama saved with `generation` as its generation config (none when empty)."""
    reference = reference_checkpoint(tmp_path, "LlamaForCausalLM", model_type="llama", **tiny_llama_kwargs())
    path = tmp_path / "ref"
    if generation:
        reference.generation_config = transformers.GenerationConfig(**generation)
        reference.generation_config.save_pretrained(path)
    else:
        (path / "generation_config.json").unlink()
    return reference, path


def test_fields_and_defaults_are_transformers() -> None:
    theirs = transformers.GenerationConfig()
    names = {name for name in vars(theirs) if not name.startswith("_") and name != "transformers_version"}
    assert set(FIELDS) == names
    assert DEFAULTS == theirs._get_default_generation_params()


@pytest.mark.parametrize("kind", ["llama", "idefics2"])
def test_derived_from_the_model_config_as_transformers(kind: str) -> None:
    if kind == "llama":
        kwargs = tiny_llama_kwargs(eos_token_id=[2, 3])
        ours, theirs = LlamaConfig(**kwargs), transformers.LlamaConfig(**kwargs)
    else:  # the EOS and pad ids live in the text config
        text = {"model_type": "mistral", "eos_token_id": 2, "pad_token_id": 0, "vocab_size": 99}
        ours, theirs = Idefics2Config(text_config=text), transformers.Idefics2Config(text_config=text)
    expected = transformers.GenerationConfig.from_model_config(theirs).to_diff_dict()
    assert GenerationConfig.from_model_config(ours).to_diff_dict() == expected


def test_a_file_transformers_saved_loads_and_ours_saves_it_back(tmp_path: Path) -> None:
    reference, path = checkpoint(tmp_path, **SAVED)
    model = LlamaForCausalLM.from_pretrained(path)
    assert model.generation_config.to_diff_dict() == reference.generation_config.to_diff_dict()
    model.save_pretrained(tmp_path / "ours")
    again = transformers.GenerationConfig.from_pretrained(tmp_path / "ours")
    assert again.to_diff_dict() == reference.generation_config.to_diff_dict()


def test_the_checkpoint_file_drives_generate(tmp_path: Path) -> None:
    """No options in the call: the file's EOS list, bad words, penalty and length apply."""
    reference, path = checkpoint(tmp_path, **SAVED)
    free = LlamaForCausalLM.from_pretrained(path).generate(PROMPT, max_new_tokens=6, eos_token_id=[])
    saved = {**SAVED, "eos_token_id": [2, int(free[0, 6])]}  # row 0 stops at its third new token
    reference, path = checkpoint(tmp_path / "eos", **saved)
    tokens = LlamaForCausalLM.from_pretrained(path).generate(PROMPT)
    assert tokens.tolist() == reference.generate(PROMPT).tolist()
    assert tokens.shape[1] <= PROMPT.shape[1] + 6


def test_without_the_file_config_json_generation_fields_apply(tmp_path: Path) -> None:
    """transformers reads generation fields left in config.json (older checkpoints) when there is
    no generation_config.json: here max_length."""
    _, path = checkpoint(tmp_path)
    config = json.loads((path / "config.json").read_text())
    (path / "config.json").write_text(json.dumps({**config, "max_length": PROMPT.shape[1] + 3}))
    model = LlamaForCausalLM.from_pretrained(path)
    assert model.generation_config.max_length == PROMPT.shape[1] + 3
    assert model.generate(PROMPT, eos_token_id=[]).shape == (2, PROMPT.shape[1] + 3)


def test_call_keywords_beat_the_call_config_which_beats_the_model_config(tmp_path: Path) -> None:
    _, path = checkpoint(tmp_path, max_new_tokens=2, eos_token_id=[])
    model = LlamaForCausalLM.from_pretrained(path)
    new = lambda tokens: tokens.shape[1] - PROMPT.shape[1]  # noqa: E731
    assert new(model.generate(PROMPT)) == 2
    assert new(model.generate(PROMPT, generation_config=GenerationConfig(max_new_tokens=3))) == 3
    assert new(model.generate(PROMPT, generation_config=GenerationConfig(max_new_tokens=3), max_new_tokens=4)) == 4
    model.generation_config.max_new_tokens = 5
    assert new(model.generate(PROMPT)) == 5


def test_a_transformers_generation_config_in_the_call_gives_its_tokens(tmp_path: Path) -> None:
    """A transformers GenerationConfig object counts with the fields it sets (read through its
    to_diff_dict; the runtime never imports transformers)."""
    reference, path = checkpoint(tmp_path)
    model = LlamaForCausalLM.from_pretrained(path)
    theirs = transformers.GenerationConfig(max_new_tokens=3, num_beams=2, no_repeat_ngram_size=2)
    expected = reference.generate(PROMPT, generation_config=theirs)
    assert model.generate(PROMPT, generation_config=theirs).tolist() == expected.tolist()


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('{"max_new_tokens": 4, "secret": "s3cr3t-bytes"', "not valid JSON"),
        ("\xff\xfe s3cr3t-bytes", "not UTF-8"),
        ('["s3cr3t-bytes"]', "expected a JSON object"),
        ('{"early_stopping": "s3cr3t-bytes-sometimes-and-much-more-text-to-cut-short"}', "early_stopping"),
    ],
)
def test_a_broken_file_names_itself_without_echoing_it(tmp_path: Path, text: str, named: str) -> None:
    _, path = checkpoint(tmp_path)
    (path / "generation_config.json").write_bytes(text.encode("latin-1"))
    with pytest.raises(GenerationError) as caught:
        LlamaForCausalLM.from_pretrained(path)
    message = str(caught.value)
    assert "generation_config.json" in message and named in message
    assert "s3cr3t-bytes" not in message or named == "early_stopping"  # a bad value is quoted, cut short
    assert len(message) < 400


def test_an_unsupported_option_loads_but_generate_refuses_it(tmp_path: Path) -> None:
    _, path = checkpoint(tmp_path)  # contrastive search: a file transformers reads but would not save
    (path / "generation_config.json").write_text('{"penalty_alpha": 0.6, "top_k": 4}')
    model = LlamaForCausalLM.from_pretrained(path)
    with pytest.raises(GenerationError, match="penalty_alpha"):
        model.generate(PROMPT, max_new_tokens=2)
    model.generation_config.penalty_alpha = None  # unset: plain decoding with the file's top_k
    assert model.generate(PROMPT, max_new_tokens=2).shape == (2, 6)


def test_a_misspelled_option_is_refused_with_a_suggestion() -> None:
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(**tiny_llama_kwargs())).eval()
    with pytest.raises(GenerationError, match="did you mean 'repetition_penalty'"):
        model.generate(PROMPT, repetiton_penalty=1.2)
