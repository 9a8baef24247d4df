"""Render chat templates (jinja2) the way transformers 5 does, and find the assistant's tokens.

Same environment: a sandbox (`ImmutableSandboxedEnvironment`: no private attributes, no mutation
of lists and dicts, no files) with `trim_blocks` and `lstrip_blocks`, the `loopcontrols`
extension, a `tojson` filter that keeps non-ASCII text and HTML characters as they are, and the
helpers templates call (`raise_exception`, `strftime_now`). Messages are rendered as given; each
template sees `messages`, `add_generation_prompt`, the special tokens (`bos_token`, ...) and any
extra keyword.

    render_chat_template(template, [{"role": "user", "content": "hi"}], add_generation_prompt=True)

A template comes with a checkpoint, so it is untrusted: every render is bounded by
`DEFAULT_RENDER_LIMITS` (loop iterations, sizes, a deadline; see `runtime.template_sandbox`), and
every failure (not text, bad syntax, `raise_exception`, an error inside the template, a limit, a
conversation of the wrong shape) is a `ChatTemplateError` naming the template and, where known,
its line.

`{% generation %}...{% endgeneration %}` marks what the assistant writes (transformers'
`AssistantTracker`): it renders its body unchanged, and `render_with_generation_spans` also returns
the (start, end) character span of each such body in the prompt; `assistant_mask_*` turn those
spans into a 0/1 mask over the tokens, as transformers' tokenizers and processors do.

    prompt, spans = render_with_generation_spans(template, messages)   # spans: [(12, 30), ...]
"""

from __future__ import annotations

import functools
import json
import os
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
import jinja2.meta
from jinja2 import nodes
from jinja2.ext import Extension, loopcontrols
from jinja2.parser import Parser

from runtime.hub import resolve_file
from runtime.template_sandbox import (
    BoundedSandbox,
    ChatTemplateError,
    RenderLimits,
    current_budget,
    guarded_filter,
    rendering,
)

CHAT_TEMPLATE_FILE = "chat_template.jinja"
CHAT_TEMPLATE_DIR = "additional_chat_templates"
TEMPLATE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")
GENERATION_TAG = re.compile(r"\{\%-?\s*generation\s*-?\%\}")  # transformers' test for a generation block
DEFAULT_RENDER_LIMITS = RenderLimits()  # assign another RenderLimits to change every later render
MAX_TEMPLATE_CHARS = 2**20  # the template text itself; real ones are a few kilobytes
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
    if isinstance(format, str):  # '%c' writes 24 characters: refuse before strftime multiplies
        current_budget().check_chars(len(format) * 16, "strftime_now()")
    return datetime.now().strftime(format)


@functools.lru_cache(maxsize=16)
def _compile(template: str) -> jinja2.Template:
    environment = BoundedSandbox(trim_blocks=True, lstrip_blocks=True, extensions=[GenerationBlocks, loopcontrols])
    environment.filters["tojson"] = guarded_filter("tojson", tojson)
    environment.globals.update(raise_exception=raise_exception, strftime_now=strftime_now)
    return environment.from_string(template)


def compile_chat_template(template: Any, label: str = "chat template") -> jinja2.Template:
    """The compiled template (cached); a `ChatTemplateError` naming `label` when it is not text,
    too long, or not valid jinja2."""
    if not isinstance(template, str):
        raise ChatTemplateError(f"{label}: a chat template must be text, got {type(template).__name__}")
    if len(template) > MAX_TEMPLATE_CHARS:
        raise ChatTemplateError(f"{label}: {len(template)} characters, more than {MAX_TEMPLATE_CHARS} accepted")
    try:
        return _compile(template)
    except jinja2.TemplateSyntaxError as error:
        raise ChatTemplateError(f"{label}: line {error.lineno}: {_short(error.message)}") from None
    except (RecursionError, SyntaxError) as error:  # nesting deeper than Python compiles
        raise ChatTemplateError(f"{label}: cannot be compiled ({type(error).__name__}: nested too deeply?)") from None
    except Exception as error:  # anything else jinja2 or Python's compiler refuses
        raise ChatTemplateError(f"{label}: cannot be compiled ({type(error).__name__})") from None


def _short(message: Any, limit: int = 200) -> str:
    text = str(message)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _template_line(error: BaseException) -> str:
    """' (line N)' for the innermost template frame of `error`'s traceback (jinja2 rewrites its
    frames to template lines), or ''."""
    line, tb = None, error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return f" (line {line})" if line is not None else ""


def _render_error(error: Exception, label: str) -> ChatTemplateError:
    """Any failure inside a render as a `ChatTemplateError` naming the template and the line."""
    where = f"{label}{_template_line(error)}"
    if isinstance(error, jinja2.TemplateError) and not isinstance(error, jinja2.UndefinedError):
        what = _short(error.message)  # raise_exception('...'), a sandbox refusal
    elif isinstance(error, RecursionError):
        what = "calls itself too deeply (RecursionError)"
    else:
        what = f"{type(error).__name__}: {_short(error)}"
    return ChatTemplateError(f"{where}: {what}")


def _render(
    template: str, variables: dict[str, Any], label: str, limits: RenderLimits | None, track: bool
) -> tuple[str, list[Span]]:
    """The prompt and (with `track`) the generation spans, rendered within `limits`."""
    compiled = compile_chat_template(template, label)
    rendered: list[str] = []
    spans: list[Span] = []
    token = _TRACKING.set((rendered, spans) if track else None)
    try:
        with rendering(limits or DEFAULT_RENDER_LIMITS, label) as budget:
            size = 0
            for block in compiled.generate(**variables):
                size += len(block)
                budget.check_chars(size, "the rendered prompt")
                rendered.append(block)
    except ChatTemplateError:
        raise
    except Exception as error:
        raise _render_error(error, label) from None
    finally:
        _TRACKING.reset(token)
    return "".join(rendered), spans


def render_chat_template(
    template: str, messages: list[dict[str, Any]], add_generation_prompt: bool = False, **variables: Any
) -> str:
    """One conversation -> its prompt text."""
    variables = {**variables, "messages": messages, "add_generation_prompt": add_generation_prompt}
    return _render(template, variables, "chat template", None, track=False)[0]


def render_with_generation_spans(
    template: str, messages: list[dict[str, Any]], add_generation_prompt: bool = False, **variables: Any
) -> tuple[str, list[Span]]:
    """One conversation -> its prompt text (the same as `render_chat_template`'s) and the
    character span of every `{% generation %}` block rendered, in order."""
    variables = {**variables, "messages": messages, "add_generation_prompt": add_generation_prompt}
    return _render(template, variables, "chat template", None, track=True)


def template_variables(template: str, label: str = "chat template") -> frozenset[str]:
    """The variables a template reads (jinja2's undeclared variables)."""
    environment = compile_chat_template(template, label).environment
    return frozenset(jinja2.meta.find_undeclared_variables(environment.parse(template)))


def chat_template_and_label(
    templates: str | dict[str, str] | None, chat_template: Any, owner: str, origin: str | None = None
) -> tuple[str, str]:
    """The template to render and the words that name it in errors: `chat_template` itself, or
    the one of this name among a tokenizer's or processor's (`owner`) `templates` (read from
    `origin`, a file), else their own (its "default" one when it has several)."""
    source = origin or f"this {owner}"
    if chat_template is not None and not isinstance(chat_template, str):
        raise ChatTemplateError(
            f"chat_template must be a template or a template name, got {type(chat_template).__name__}"
        )
    if isinstance(templates, dict):
        if chat_template is not None:
            if chat_template in templates:
                return templates[chat_template], f"chat template {_short(repr(chat_template), 60)} of {source}"
            return chat_template, "the chat_template argument"
        if "default" not in templates:
            raise ChatTemplateError(
                "This model has multiple chat templates with no default specified! Please either pass a chat "
                "template or the name of the template you wish to use to the `chat_template` argument. "
                f"Available template names are {_names(templates)}."
            )
        return templates["default"], f"chat template 'default' of {source}"
    if chat_template is not None:
        return chat_template, "the chat_template argument"
    if templates is None:
        raise ChatTemplateError(f"this {owner} has no chat template; pass chat_template=...")
    return templates, f"the chat template of {source}"


def select_chat_template(templates: str | dict[str, str] | None, chat_template: str | None, owner: str) -> str:
    """The template `chat_template_and_label` picks."""
    return chat_template_and_label(templates, chat_template, owner)[0]


def check_template_name(name: Any, where: str) -> str:
    """`name` when it is a plain template name ('tool_use', 'rag'); names become file names in
    transformers' layout (additional_chat_templates/<name>.jinja), so nothing path-like passes."""
    if not isinstance(name, str) or not TEMPLATE_NAME.fullmatch(name):
        shown = _short(repr(name), 60) if isinstance(name, str) else type(name).__name__
        raise ChatTemplateError(f"{where}: {shown} is not a template name (letters, digits, '_', '.', '-'; up to 100)")
    return name


def check_named_templates(templates: Any, where: str) -> None:
    """A chat template as a config stores it: None, a string, a dict by name, or a list of
    `{"name": ..., "template": ...}`; `ChatTemplateError` naming `where` otherwise."""
    if templates is None or isinstance(templates, str):
        return
    if isinstance(templates, dict):
        entries = [{"name": name, "template": text} for name, text in templates.items()]
    elif isinstance(templates, list):
        entries = templates
    else:
        raise ChatTemplateError(
            f"{where} must be a template (a string) or a list of named ones, got {type(templates).__name__}"
        )
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("template"), str):
            raise ChatTemplateError(
                f"{where}[{index}] must be {{'name': ..., 'template': ...}} with a string template"
            )
        check_template_name(entry.get("name"), f"{where}[{index}]")


def read_chat_template_file(path_or_repo_id: str | os.PathLike, filename: str, **hub_kwargs: Any) -> str | None:
    """The text of a template file of a checkpoint (through `resolve_file`, which keeps it inside the
    folder); None when absent; `ChatTemplateError` naming the file when too large or not UTF-8."""
    path = resolve_file(path_or_repo_id, filename, missing_ok=True, **hub_kwargs)
    if path is None:
        return None
    size = path.stat().st_size
    if size > 4 * MAX_TEMPLATE_CHARS:
        raise ChatTemplateError(
            f"{path}: {size} bytes, more than the {4 * MAX_TEMPLATE_CHARS} accepted for a template"
        )
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise ChatTemplateError(f"{path}: not UTF-8 text (bad byte at offset {error.start})") from None


def read_chat_templates(
    path_or_repo_id: str | os.PathLike, **hub_kwargs: Any
) -> tuple[str | dict[str, str] | None, str | None]:
    """(the templates in chat_template.jinja and, in a local folder, additional_chat_templates/*.jinja,
    as transformers 5 reads them: one text, or a dict by name with the first as "default"; where
    they came from), or (None, None) when there are no such files."""
    templates: dict[str, str] = {}
    default = read_chat_template_file(path_or_repo_id, CHAT_TEMPLATE_FILE, **hub_kwargs)
    if default is not None:
        templates["default"] = default
    for name in _additional_template_names(path_or_repo_id):
        text = read_chat_template_file(path_or_repo_id, f"{CHAT_TEMPLATE_DIR}/{name}.jinja", **hub_kwargs)
        templates[name] = text if text is not None else ""
    if list(templates) == ["default"]:
        return default, str(Path(path_or_repo_id, CHAT_TEMPLATE_FILE))
    return (templates, str(path_or_repo_id)) if templates else (None, None)


def _additional_template_names(path_or_repo_id: str | os.PathLike) -> list[str]:
    """The names of additional_chat_templates/*.jinja in a local folder (a Hub repo id: none, the
    Hub is not listed), each checked by `check_template_name`; the folder must not lead outside."""
    folder = Path(path_or_repo_id)
    templates = folder / CHAT_TEMPLATE_DIR
    if not folder.is_dir() or not templates.is_dir():
        return []
    if not templates.resolve().is_relative_to(folder.resolve()):
        raise ChatTemplateError(f"{folder}: {CHAT_TEMPLATE_DIR} resolves outside the folder (a symlink?); refused")
    names = sorted(entry.name.removesuffix(".jinja") for entry in templates.iterdir() if entry.name.endswith(".jinja"))
    return [check_template_name(name, str(templates)) for name in names]


def _names(templates: Mapping[str, Any], shown: int = 10) -> str:
    names = sorted(templates)
    more = f" ... and {len(names) - shown} more" if len(names) > shown else ""
    return f"{names[:shown]}{more}"


def normalize_conversations(conversation: Any) -> tuple[list[list[dict[str, Any]]], bool]:
    """(one list of messages per conversation, whether a batch was given), as transformers reads
    them: a list of lists is a batch; keys whose value is None are dropped (copies, the caller's
    messages are not touched). Anything else (a string, an empty list, a message that is not a
    dict) is a `ChatTemplateError` saying where."""
    if isinstance(conversation, (str, bytes, Mapping)) or not isinstance(conversation, Sequence):
        raise ChatTemplateError(
            f"a conversation must be a list of messages (dicts), or a list of such lists; got {type(conversation).__name__}"
        )
    if not conversation:
        raise ChatTemplateError("Cannot apply chat template to an empty conversation. Provide at least one message.")
    batched = isinstance(conversation[0], (list, tuple))
    conversations = list(conversation) if batched else [conversation]
    for i, chat in enumerate(conversations):
        where = f"conversation[{i}]" if batched else "conversation"
        if not isinstance(chat, (list, tuple)):
            raise ChatTemplateError(f"{where} has type {type(chat).__name__}; a batch holds one list of messages each")
        for j, message in enumerate(chat):
            if not isinstance(message, Mapping):
                raise ChatTemplateError(
                    f"{where}[{j}] has type {type(message).__name__}; a message is a dict such as "
                    "{'role': 'user', 'content': 'hi'}"
                )
    normalized = [[{k: v for k, v in message.items() if v is not None} for message in chat] for chat in conversations]
    return normalized, batched


def render_conversations(
    template: str,
    conversations: list[list[dict[str, Any]]],
    add_generation_prompt: bool,
    return_generation_spans: bool,
    variables: dict[str, Any],
    label: str = "chat template",
    limits: RenderLimits | None = None,
) -> tuple[list[str], list[list[Span]]]:
    """Each conversation's prompt and, with `return_generation_spans`, its generation spans (empty
    lists otherwise); `variables` are the template's other variables, `label` names the template
    in errors, `limits` bound each render (default: `DEFAULT_RENDER_LIMITS`). Asking for spans from
    a template without a generation block warns, as transformers does, and every span list is empty."""
    compile_chat_template(template, label)  # a template that is not text fails here, named
    if return_generation_spans and not GENERATION_TAG.search(template):
        warnings.warn(
            "return_assistant_tokens_mask==True but chat template does not contain `{% generation %}` keyword.",
            stacklevel=3,
        )
    rendered = [
        _render(
            template,
            {**variables, "messages": chat, "add_generation_prompt": add_generation_prompt},
            label,
            limits,
            track=return_generation_spans,
        )
        for chat in conversations
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
