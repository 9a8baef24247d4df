"""The runtime tokenizer and chat-template renderer behave as transformers 5.23.0's.

A tiny WordLevel tokenizer with a BOS post-processor, wrapped by ours and by transformers'
`PreTrainedTokenizerFast`: the same ids, padding (left and right), truncation, attention masks and
decoding (with and without special tokens); the chat-template environment (trim_blocks,
lstrip_blocks, `raise_exception`, a `tojson` that keeps non-ASCII text) renders as transformers'.
Run: python -m pytest tests/runtime/test_tokenizer_and_chat_template.py -q
"""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest
from tokenizers import Tokenizer as BackendTokenizer
from tokenizers import models, pre_tokenizers, processors, trainers

from runtime.chat_template import render_chat_template
from runtime.tokenization_utils import Tokenizer

transformers = pytest.importorskip("transformers")

TEXTS = ["a red cat", "the blue dog sat on a red mat <end>", "cat"]


def backend() -> BackendTokenizer:
    tokenizer = BackendTokenizer(models.WordLevel(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    specials = ["<unk>", "<s>", "</s>", "<pad>", "<end>"]
    tokenizer.train_from_iterator(TEXTS, trainer=trainers.WordLevelTrainer(special_tokens=specials))
    tokenizer.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    return tokenizer


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Tokenizer, object]:
    reference = transformers.PreTrainedTokenizerFast(
        tokenizer_object=backend(), bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>"
    )
    reference.save_pretrained(tmp_path)
    return Tokenizer.from_pretrained(tmp_path), reference


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"padding": True},
        {"padding": True, "padding_side": "left"},
        {"padding": "max_length", "max_length": 12},
        {"truncation": True, "max_length": 3, "padding": True},
        {"add_special_tokens": False, "padding": True, "return_tensors": "pt"},
    ],
)
def test_encoding_matches_reference(pair: tuple[Tokenizer, object], kwargs: dict) -> None:
    ours, reference = pair
    actual, expected = ours(TEXTS, **kwargs), reference(TEXTS, **kwargs)
    for key in ("input_ids", "attention_mask"):
        value = expected[key]
        assert (actual[key].tolist() if hasattr(actual[key], "tolist") else actual[key]) == (
            value.tolist() if hasattr(value, "tolist") else value
        ), key
    assert ours("a red cat")["input_ids"] == reference("a red cat")["input_ids"]


def test_decoding_and_token_ids_match_reference(pair: tuple[Tokenizer, object]) -> None:
    ours, reference = pair
    ids = reference(TEXTS, padding=True)["input_ids"]
    for skip in (False, True):
        assert ours.batch_decode(ids, skip_special_tokens=skip) == reference.batch_decode(
            ids, skip_special_tokens=skip
        )
    tokens = ["cat", "<pad>", "never-seen"]
    assert ours.convert_tokens_to_ids(tokens) == reference.convert_tokens_to_ids(tokens)
    assert (ours.pad_token_id, ours.bos_token_id, ours.eos_token_id) == (
        reference.pad_token_id,
        reference.bos_token_id,
        reference.eos_token_id,
    )


def test_chat_template_environment_matches_reference(pair: tuple[Tokenizer, object]) -> None:
    _, reference = pair
    template = (
        "{% for m in messages %}\n  {% if m['role'] not in ['user', 'assistant'] %}"
        "{{ raise_exception('bad role') }}{% endif %}\n"
        "  {{ bos_token }}{{ m['role'] }}: {{ m['content'] | tojson }}\n{% endfor %}"
        "{% if add_generation_prompt %}assistant:{% endif %}"
    )
    messages = [{"role": "user", "content": "Grüße <b>"}, {"role": "assistant", "content": "ok"}]
    expected = reference.apply_chat_template(
        messages, chat_template=template, tokenize=False, add_generation_prompt=True
    )
    assert render_chat_template(template, messages, add_generation_prompt=True, bos_token="<s>") == expected
    with pytest.raises(jinja2.exceptions.TemplateError, match="bad role"):
        render_chat_template(template, [{"role": "system", "content": "x"}])
