"""Render chat templates (jinja2) the way transformers 5 does.

Same environment: a sandbox with `trim_blocks` and `lstrip_blocks`, the `loopcontrols`
extension, a `tojson` filter that keeps non-ASCII text and HTML characters as they are, and the
helpers templates call (`raise_exception`, `strftime_now`). Messages are rendered as given; each
template sees `messages`, `add_generation_prompt`, the special tokens (`bos_token`, ...) and any
extra keyword.

    render_chat_template(template, [{"role": "user", "content": "hi"}], add_generation_prompt=True)
"""

from __future__ import annotations

import functools
import json
from datetime import datetime
from typing import Any

import jinja2
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment


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
    environment = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
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
