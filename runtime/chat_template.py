"""Render chat templates (jinja2) the way transformers 5 does, and find the assistant's tokens.

Same environment: a sandbox with `trim_blocks` and `lstrip_blocks`, the `loopcontrols`
extension, a `tojson` filter that keeps non-ASCII text and HTML characters as they are, and the
helpers templates call (`raise_exception`, `strftime_now`). Messages are rendered as given; each
template sees `messages`, `add_generation_prompt`, the special tokens (`bos_token`, ...) and any
extra keyword.

    render_chat_template(template, [{"role": "user", "content": "hi"}], add_generation_prompt=True)

`{% generation %}...{% endgeneration %}` marks what the assistant writes (transformers'
`AssistantTracker`): it renders its body unchanged, and `render_with_generation_spans` also returns
the (start, end) character span of each such body in the prompt; `assistant_mask_*` turn those
spans into a 0/1 mask over the tokens, as transformers' tokenizers and processors do.

    prompt, spans = render_with_generation_spans(template, messages)   # spans: [(12, 30), ...]
"""

from __future__ import annotations

import functools
import json
import re
import warnings
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from datetime import datetime
from typing import Any

import jinja2
import jinja2.meta
from jinja2 import nodes
from jinja2.ext import Extension, loopcontrols
from jinja2.parser import Parser
from jinja2.sandbox import ImmutableSandboxedEnvironment

GENERATION_TAG = re.compile(r"\{\%-?\s*generation\s*-?\%\}")  # transformers' test for a generation block
Span = tuple[int, int]

# While `render_with_generation_spans` runs: the output blocks rendered so far and the spans found.
_TRACKING: ContextVar[tuple[list[str], list[Span]] | None] = ContextVar("generation_tracking", default=None)


class GenerationBlocks(Extension):
    """`{% generation %}body{% endgeneration %}` renders `body`; while tracking, records its span.

    The span starts at the length of everything rendered before the block, which is exact because
    the template is rendered with `generate()` and each yielded block is collected as it comes
    (top-level output is never buffered), the same mechanism as transformers' `AssistantTracker`.
    """

    tags = {"generation"}

    def parse(self, parser: Parser) -> nodes.Node:
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return nodes.CallBlock(self.call_method("_record_span"), [], [], body).set_lineno(lineno)

    def _record_span(self, caller: Callable[[], str]) -> str:
        text = caller()
        tracking = _TRACKING.get()
        if tracking is not None:
            rendered, spans = tracking
            start = sum(len(block) for block in rendered)
            spans.append((start, start + len(text)))
        return text


def raise_exception(message: str) -> None:
    raise jinja2.exceptions.TemplateError(message)


def tojson(
    value: Any, ensure_ascii: bool = False, indent: int | None = None, separators: Any = None, sort_keys: bool = False
) -> str:
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def strftime_now(format: str) -> str:
    return datetime.now().strftime(format)


@functools.lru_cache(maxsize=16)
def compile_chat_template(template: str) -> jinja2.Template:
    environment = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[GenerationBlocks, loopcontrols]
    )
    environment.filters["tojson"] = tojson
    environment.globals.update(raise_exception=raise_exception, strftime_now=strftime_now)
    return environment.from_string(template)


def render_chat_template(
    template: str, messages: list[dict[str, Any]], add_generation_prompt: bool = False, **variables: Any
) -> str:
    """One conversation -> its prompt text."""
    return compile_chat_template(template).render(
        messages=messages, add_generation_prompt=add_generation_prompt, **variables
    )


def render_with_generation_spans(
    template: str, messages: list[dict[str, Any]], add_generation_prompt: bool = False, **variables: Any
) -> tuple[str, list[Span]]:
    """One conversation -> its prompt text (the same as `render_chat_template`'s) and the
    character span of every `{% generation %}` block rendered, in order."""
    rendered: list[str] = []
    spans: list[Span] = []
    token = _TRACKING.set((rendered, spans))
    try:
        compiled = compile_chat_template(template)
        for block in compiled.generate(messages=messages, add_generation_prompt=add_generation_prompt, **variables):
            rendered.append(block)
    finally:
        _TRACKING.reset(token)
    return "".join(rendered), spans


def template_variables(template: str) -> frozenset[str]:
    """The variables a template reads (jinja2's undeclared variables)."""
    environment = compile_chat_template(template).environment
    return frozenset(jinja2.meta.find_undeclared_variables(environment.parse(template)))


def select_chat_template(templates: str | dict[str, str] | None, chat_template: str | None, owner: str) -> str:
    """The template to render: `chat_template` itself, or the one of this name among a tokenizer's
    or processor's (`owner`) `templates`, else their own (its "default" one when it has several)."""
    if isinstance(templates, dict):
        if chat_template is not None:
            return templates.get(chat_template, chat_template)
        if "default" not in templates:
            raise ValueError(
                "This model has multiple chat templates with no default specified! Please either pass a chat "
                "template or the name of the template you wish to use to the `chat_template` argument. "
                f"Available template names are {sorted(templates)}."
            )
        return templates["default"]
    if chat_template is not None:
        return chat_template
    if templates is None:
        raise ValueError(f"this {owner} has no chat template; pass chat_template=...")
    return templates


def normalize_conversations(
    conversation: list[dict[str, Any]] | list[list[dict[str, Any]]],
) -> tuple[list[list[dict[str, Any]]], bool]:
    """(one list of messages per conversation, whether a batch was given), as transformers reads
    them: a list of lists is a batch; keys whose value is None are dropped (copies, the caller's
    messages are not touched)."""
    if not conversation:
        raise ValueError("Cannot apply chat template to an empty conversation. Provide at least one message.")
    batched = isinstance(conversation[0], (list, tuple))
    conversations = conversation if batched else [conversation]
    normalized = [[{k: v for k, v in message.items() if v is not None} for message in chat] for chat in conversations]
    return normalized, batched


def render_conversations(
    template: str,
    conversations: list[list[dict[str, Any]]],
    add_generation_prompt: bool,
    return_generation_spans: bool,
    **variables: Any,
) -> tuple[list[str], list[list[Span]]]:
    """Each conversation's prompt and, with `return_generation_spans`, its generation spans (empty
    lists otherwise). Asking for spans from a template without a generation block warns, as
    transformers does, and every span list is empty."""
    if not return_generation_spans:
        prompts = [render_chat_template(template, chat, add_generation_prompt, **variables) for chat in conversations]
        return prompts, [[] for _ in conversations]
    if not GENERATION_TAG.search(template):
        warnings.warn(
            "return_assistant_tokens_mask==True but chat template does not contain `{% generation %}` keyword.",
            stacklevel=3,
        )
    rendered = [
        render_with_generation_spans(template, chat, add_generation_prompt, **variables) for chat in conversations
    ]
    return [prompt for prompt, _ in rendered], [spans for _, spans in rendered]


def assistant_mask_from_char_to_token(
    spans: Sequence[Span], length: int, char_to_token: Callable[[int], int | None]
) -> list[int]:
    """1 on the tokens from the one holding a span's first character to the one holding its last,
    transformers' tokenizer rule, kept exactly (also where it is odd): a span whose first character
    is in no token (whitespace, truncated away) ends the search, and one whose last character is in
    no token (or in token 0) runs to the end of the row, padding included."""
    mask = [0] * length
    for start_char, end_char in spans:
        start, end = char_to_token(start_char), char_to_token(end_char - 1)
        if start is None:
            break
        for index in range(start, end + 1 if end else length):
            mask[index] = 1
    return mask


def assistant_mask_from_offsets(spans: Sequence[Span], offsets: Sequence[Span]) -> list[int]:
    """1 on every token whose (start, end) characters overlap a span, transformers' processor rule:
    zero-width tokens (padding, special tokens a post-processor adds) never match."""
    return [
        int(any(start < span_end and end > span_start for span_start, span_end in spans)) for start, end in offsets
    ]
