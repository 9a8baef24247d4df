"""The runtime tokenizer and chat-template renderer behave as transformers 5.23.0's.

A tiny WordLevel tokenizer with a BOS post-processor, wrapped by ours and by transformers'
`PreTrainedTokenizerFast`: the same ids, padding (left and right), truncation, attention masks,
offsets and decoding (with and without special tokens); the chat-template environment (trim_blocks,
lstrip_blocks, `raise_exception`, a `tojson` that keeps non-ASCII text) renders as transformers'.
`{% generation %}` blocks give the same prompt and character spans as transformers'
`AssistantTracker`, and `Tokenizer.apply_chat_template` the same `input_ids` and `assistant_masks`
(system and several assistant turns, batches of different lengths, padding either side,
truncation, tensors; a template without generation blocks warns and masks nothing).
Run: python -m pytest tests/runtime/test_tokenizer_and_chat_template.py -q
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
import pytest
from tokenizers import Tokenizer as BackendTokenizer
from tokenizers import models, pre_tokenizers, processors, trainers

from runtime.chat_template import render_chat_template, render_with_generation_spans
from runtime.tokenization_utils import Tokenizer

transformers = pytest.importorskip("transformers")
from transformers.utils.chat_template_utils import render_jinja_template  # noqa: E402

TEXTS = ["a red cat", "the blue dog sat on a red mat <end>", "cat", "system user assistant : you are a helpful ?"]


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
        {"return_offsets_mapping": True, "padding": True, "padding_side": "left"},
        {"return_offsets_mapping": True, "truncation": True, "max_length": 4, "padding": "max_length"},
    ],
)
def test_encoding_matches_reference(pair: tuple[Tokenizer, object], kwargs: dict) -> None:
    ours, reference = pair
    actual, expected = ours(TEXTS, **kwargs), reference(TEXTS, **kwargs)
    assert plain(actual) == plain(expected)
    assert ours("a red cat")["input_ids"] == reference("a red cat")["input_ids"]
    assert plain(ours("a red cat", return_tensors="pt")) == plain(reference("a red cat", return_tensors="pt"))
    for text, char in ((0, 4), (1, 0), (1, 3), (1, 12)):  # inside a word, first word, a space, after truncation
        assert actual.char_to_token(text, char) == expected.char_to_token(text, char), (text, char)
    assert actual.char_to_token(4) == expected.char_to_token(4)


def plain(features: Any) -> dict[str, Any]:
    """Features as nested lists (tensors too), with their types and shapes, to compare exactly."""
    return {
        key: (type(value).__name__, tuple(value.shape), value.tolist()) if hasattr(value, "shape") else value
        for key, value in features.items()
    }


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


# A template whose assistant turns are `{% generation %}` blocks, and two conversations of different lengths.
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}{{ message['role'] + ' : ' }}"
    "{% if message['role'] == 'assistant' %}{% generation %}{{ message['content'] + ' <end>' }}{% endgeneration %}"
    "{% else %}{{ message['content'] }}{% endif %}{{ '\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ 'assistant :' }}{% endif %}"
)
# The same, with each generation block ending on a newline, which no token holds: transformers then
# masks to the end of the row (padding included), and so do we.
TRAILING_NEWLINE_TEMPLATE = CHAT_TEMPLATE.replace(
    "' <end>' }}{% endgeneration %}", "' <end>\\n' }}{% endgeneration %}"
)
LONG_CHAT = [
    {"role": "system", "content": "you are a helpful cat"},
    {"role": "user", "content": "a red cat ?"},
    {"role": "assistant", "content": "the blue dog"},
    {"role": "user", "content": "sat on a mat ?"},
    {"role": "assistant", "content": "a red mat"},
]
SHORT_CHAT = [{"role": "user", "content": "cat ?"}, {"role": "assistant", "content": "a cat sat"}]


@pytest.mark.parametrize("template", [CHAT_TEMPLATE, TRAILING_NEWLINE_TEMPLATE])
def test_generation_blocks_render_and_track_as_reference(template: str) -> None:
    prompt, spans = render_with_generation_spans(template, LONG_CHAT, bos_token="<s>")
    expected_prompts, expected_spans = render_jinja_template(
        [LONG_CHAT], chat_template=template, return_assistant_tokens_mask=True, bos_token="<s>"
    )
    assert (prompt, spans) == (expected_prompts[0], expected_spans[0])
    assert [prompt[start:end].rstrip("\n") for start, end in spans] == ["the blue dog <end>", "a red mat <end>"]
    assert render_chat_template(template, LONG_CHAT, bos_token="<s>") == prompt


@pytest.mark.parametrize("template", [CHAT_TEMPLATE, TRAILING_NEWLINE_TEMPLATE])
@pytest.mark.parametrize(
    "kwargs",
    [
        {"conversation": LONG_CHAT},
        {"conversation": LONG_CHAT, "return_tensors": "pt"},
        {"conversation": [LONG_CHAT, SHORT_CHAT]},
        {"conversation": [LONG_CHAT, SHORT_CHAT], "padding": True},
        {"conversation": [SHORT_CHAT, LONG_CHAT], "padding": True, "return_tensors": "pt"},
        {"conversation": [LONG_CHAT, SHORT_CHAT], "padding": True, "tokenizer_kwargs": {"padding_side": "left"}},
        {"conversation": [LONG_CHAT, SHORT_CHAT], "padding": "max_length", "max_length": 40, "return_tensors": "np"},
        {"conversation": [LONG_CHAT, SHORT_CHAT], "truncation": True, "max_length": 20, "padding": True},
        {"conversation": [LONG_CHAT, SHORT_CHAT], "add_generation_prompt": True, "padding": True},
    ],
)
def test_assistant_masks_match_reference(pair: tuple[Tokenizer, Any], template: str, kwargs: dict[str, Any]) -> None:
    ours, reference = pair
    actual = ours.apply_chat_template(chat_template=template, return_assistant_tokens_mask=True, **kwargs)
    expected = reference.apply_chat_template(chat_template=template, return_assistant_tokens_mask=True, **kwargs)
    assert plain(actual) == plain(expected) and list(actual) == list(expected)


def test_masked_tokens_are_the_assistant_turns(pair: tuple[Tokenizer, Any]) -> None:
    ours, _ = pair
    out = ours.apply_chat_template(LONG_CHAT, chat_template=CHAT_TEMPLATE, return_assistant_tokens_mask=True)
    masked = [index for index, flag in zip(out["input_ids"], out["assistant_masks"], strict=True) if flag]
    assert ours.decode(masked) == "the blue dog <end> a red mat <end>"


def test_chat_template_defaults_and_outputs_match_reference(pair: tuple[Tokenizer, Any], tmp_path: Path) -> None:
    """transformers' defaults (tokenize=True, return_dict=True), `tokenize=False`, `return_dict=False`,
    and the template read back from the chat_template.jinja that transformers writes."""
    _, reference = pair
    reference.chat_template = CHAT_TEMPLATE
    reference.save_pretrained(tmp_path / "with-template")
    ours = Tokenizer.from_pretrained(tmp_path / "with-template")
    assert ours.chat_template == CHAT_TEMPLATE
    assert plain(ours.apply_chat_template(LONG_CHAT)) == plain(reference.apply_chat_template(LONG_CHAT))
    for kwargs in ({"tokenize": False}, {"return_dict": False}, {"add_generation_prompt": True, "tokenize": False}):
        assert ours.apply_chat_template([SHORT_CHAT], **kwargs) == reference.apply_chat_template(
            [SHORT_CHAT], **kwargs
        )
    ours.save_pretrained(tmp_path / "ours")
    assert transformers.AutoTokenizer.from_pretrained(tmp_path / "ours").chat_template == CHAT_TEMPLATE


def test_template_without_generation_block_warns_and_masks_nothing(pair: tuple[Tokenizer, Any]) -> None:
    ours, reference = pair
    template = "{% for message in messages %}{{ message['role'] + ' : ' + message['content'] }}\n{% endfor %}"
    with pytest.warns(UserWarning, match="does not contain `{% generation %}`"):
        actual = ours.apply_chat_template(LONG_CHAT, chat_template=template, return_assistant_tokens_mask=True)
    expected = reference.apply_chat_template(LONG_CHAT, chat_template=template, return_assistant_tokens_mask=True)
    assert plain(actual) == plain(expected) and not any(actual["assistant_masks"])


@pytest.mark.parametrize("kwargs", [{"return_dict": False}, {"tokenize": False}])
def test_assistant_masks_need_a_tokenized_dict(pair: tuple[Tokenizer, Any], kwargs: dict[str, Any]) -> None:
    ours, reference = pair
    for tokenizer in (ours, reference):
        with pytest.raises(ValueError, match="requires `return_dict=True` and `tokenize=True`"):
            tokenizer.apply_chat_template(
                LONG_CHAT, chat_template=CHAT_TEMPLATE, return_assistant_tokens_mask=True, **kwargs
            )


def test_empty_conversation_and_missing_template_are_errors(pair: tuple[Tokenizer, Any]) -> None:
    ours, _ = pair
    with pytest.raises(ValueError, match="empty conversation"):
        ours.apply_chat_template([], chat_template=CHAT_TEMPLATE)
    with pytest.raises(ValueError, match="no chat template"):
        ours.apply_chat_template(SHORT_CHAT)
