"""Hostile tokenizer folders, chat templates and tokenizer calls get a clean refusal.

What this proves, case by case (each table row is one hostile input and its exact outcome):
- files: a tokenizer.json or tokenizer_config.json that is not UTF-8, not JSON, of the wrong shape
  or with fields of the wrong type, and template files that are not text, raise `TokenizerError`
  or `ChatTemplateError` (both ValueErrors) naming the file and the field, never quoting the file;
- containment: every file the tokenizer reads (tokenizer.json, tokenizer_config.json,
  chat_template.jinja, additional_chat_templates/*.jinja, the additional_chat_templates folder
  itself) is refused by name when it is a symlink leaving the folder, and what it points to never
  reaches a prompt (special_tokens_map.json is never read); template names that look like paths
  are refused (the processor's files: tests/adversarial/test_images_and_processors.py);
- rendering is bounded (run in a child process under a memory cap): nested loops, huge
  repetitions, powers, padding, joins, replaces, formats, recursion, and a slow template each stop
  with a `ChatTemplateError` naming the template and the `RenderLimits` field that was hit; the
  sandbox still refuses private attributes, mutation and file access (include/extends/import);
- calls: text, max_length, padding, token ids and conversations of the wrong type or shape raise
  `TokenizerError` / `ChatTemplateError` naming the argument.
Run: python -m pytest tests/adversarial/test_tokenizer_and_templates.py -q
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from tokenizers import Tokenizer as BackendTokenizer
from tokenizers import models, pre_tokenizers, trainers

from runtime.chat_template import ChatTemplateError, render_chat_template
from runtime.tokenization_utils import Tokenizer, TokenizerError
from tests.adversarial.capped import run_capped

SECRET = "SECRET-CONTENT-7f3a"  # planted in hostile files: must never appear in a message or prompt
TEMPLATE = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
HI = [{"role": "user", "content": "hi"}]


def write_checkpoint(folder: Path) -> Path:
    """A tiny WordLevel tokenizer with its config and chat template, as transformers 5 saves one."""
    folder.mkdir(parents=True, exist_ok=True)
    backend = BackendTokenizer(models.WordLevel(unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.WordLevelTrainer(special_tokens=["<unk>", "<s>", "</s>", "<pad>"])
    backend.train_from_iterator(["user : hi there assistant : a red cat"], trainer=trainer)
    backend.save(str(folder / "tokenizer.json"))
    config = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"}
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    (folder / "chat_template.jinja").write_text(TEMPLATE)
    return folder


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return write_checkpoint(tmp_path / "checkpoint")


def edit_json(path: Path, **changes: Any) -> None:
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


def without_template(folder: Path, **config: Any) -> None:
    """Drop chat_template.jinja and give tokenizer_config.json these fields."""
    (folder / "chat_template.jinja").unlink()
    edit_json(folder / "tokenizer_config.json", **config)


# ---- tokenizer files: (id, how to spoil the folder, error, words the message must hold) ----

FILE_CASES: list[tuple[str, Callable[[Path], Any], type[Exception], str]] = [
    ("tokenizer.json not JSON", lambda f: (f / "tokenizer.json").write_text("{" + SECRET), TokenizerError, "tokenizer.json: not valid JSON"),
    ("tokenizer.json not UTF-8", lambda f: (f / "tokenizer.json").write_bytes(b'{"\xff' + SECRET.encode()), TokenizerError, "tokenizer.json: not UTF-8"),
    ("tokenizer.json empty", lambda f: (f / "tokenizer.json").write_text(""), TokenizerError, "tokenizer.json: not valid JSON"),
    ("tokenizer.json a list", lambda f: (f / "tokenizer.json").write_text(f'["{SECRET}"]'), TokenizerError, "tokenizer.json: expected a JSON object, got list"),
    ("tokenizer.json no model", lambda f: (f / "tokenizer.json").write_text(json.dumps({SECRET: 1})), TokenizerError, "tokenizer.json: no 'model'"),
    ("tokenizer.json non-string key", lambda f: (f / "tokenizer.json").write_text('{1: 2}'), TokenizerError, "tokenizer.json: not valid JSON"),
    ("tokenizer.json deep nesting", lambda f: (f / "tokenizer.json").write_text('{"model": ' + "[" * 100_000), TokenizerError, "tokenizer.json: not"),
    ("tokenizer.json vocab of strings", lambda f: edit_json(f / "tokenizer.json", model={"type": "WordLevel", "vocab": {"a": SECRET}, "unk_token": "a"}), TokenizerError, "tokenizer.json: not a tokenizer the tokenizers library reads"),
    ("tokenizer.json unknown model", lambda f: edit_json(f / "tokenizer.json", model={"type": SECRET}), TokenizerError, "tokenizer.json: not a tokenizer the tokenizers library reads"),
    ("tokenizer.json a directory", lambda f: ((f / "tokenizer.json").unlink(), (f / "tokenizer.json").mkdir()), IsADirectoryError, "'tokenizer.json' is a directory"),
    ("tokenizer.json missing", lambda f: (f / "tokenizer.json").unlink(), FileNotFoundError, "no file 'tokenizer.json'"),
    ("tokenizer_config.json not JSON", lambda f: (f / "tokenizer_config.json").write_text("{" + SECRET), TokenizerError, "tokenizer_config.json: not valid JSON"),
    ("tokenizer_config.json not UTF-8", lambda f: (f / "tokenizer_config.json").write_bytes(b"\xfe" + SECRET.encode()), TokenizerError, "tokenizer_config.json: not UTF-8"),
    ("tokenizer_config.json a list", lambda f: (f / "tokenizer_config.json").write_text("[1]"), TokenizerError, "tokenizer_config.json: expected a JSON object"),
    ("bos_token a number", lambda f: edit_json(f / "tokenizer_config.json", bos_token=5), TokenizerError, "tokenizer_config.json: bos_token must be a string"),
    ("pad_token dict without content", lambda f: edit_json(f / "tokenizer_config.json", pad_token={"text": SECRET}), TokenizerError, "tokenizer_config.json: pad_token must be a string or an AddedToken"),
    ("eos_token a list", lambda f: edit_json(f / "tokenizer_config.json", eos_token=[SECRET]), TokenizerError, "tokenizer_config.json: eos_token"),
    ("padding_side a number", lambda f: edit_json(f / "tokenizer_config.json", padding_side=5), TokenizerError, "tokenizer_config.json: padding_side must be 'left' or 'right'"),
    ("truncation_side unknown", lambda f: edit_json(f / "tokenizer_config.json", truncation_side="middle"), TokenizerError, "tokenizer_config.json: truncation_side"),
    ("clean_up_tokenization_spaces a string", lambda f: edit_json(f / "tokenizer_config.json", clean_up_tokenization_spaces="yes"), TokenizerError, "tokenizer_config.json: clean_up_tokenization_spaces"),
    ("chat_template a number", lambda f: without_template(f, chat_template=5), ChatTemplateError, "tokenizer_config.json: chat_template must be a template"),
    ("chat_template entry without name", lambda f: without_template(f, chat_template=[{"template": "x"}]), ChatTemplateError, "tokenizer_config.json: chat_template[0]"),
    ("chat_template entry a string", lambda f: without_template(f, chat_template=["x"]), ChatTemplateError, "tokenizer_config.json: chat_template[0] must be"),
    ("chat_template entry template a number", lambda f: without_template(f, chat_template=[{"name": "a", "template": 1}]), ChatTemplateError, "chat_template[0] must be"),
    ("chat_template name ../../etc/passwd", lambda f: without_template(f, chat_template=[{"name": "../../etc/passwd", "template": "x"}]), ChatTemplateError, "'../../etc/passwd' is not a template name"),
    ("chat_template name with a slash", lambda f: without_template(f, chat_template=[{"name": "a/b", "template": "x"}]), ChatTemplateError, "'a/b' is not a template name"),
    ("chat_template.jinja not UTF-8", lambda f: (f / "chat_template.jinja").write_bytes(b"{{ \xff }}" + SECRET.encode()), ChatTemplateError, "chat_template.jinja: not UTF-8"),
    ("chat_template.jinja of 5 MB", lambda f: (f / "chat_template.jinja").write_text("x" * 5_000_000), ChatTemplateError, "chat_template.jinja: 5000000 bytes, more than the 4194304 accepted"),
    ("chat_template.jinja a directory", lambda f: ((f / "chat_template.jinja").unlink(), (f / "chat_template.jinja").mkdir()), IsADirectoryError, "'chat_template.jinja' is a directory"),
    ("additional template named .hidden", lambda f: ((f / "additional_chat_templates").mkdir(), (f / "additional_chat_templates" / ".hidden.jinja").write_text("x")), ChatTemplateError, "'.hidden' is not a template name"),
    ("additional template not UTF-8", lambda f: ((f / "additional_chat_templates").mkdir(), (f / "additional_chat_templates" / "tool_use.jinja").write_bytes(b"\xff")), ChatTemplateError, "tool_use.jinja: not UTF-8"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("spoil", "error", "words"), [case[1:] for case in FILE_CASES], ids=[case[0] for case in FILE_CASES]
)
def test_bad_tokenizer_files_are_refused_by_name(
    folder: Path, spoil: Callable[[Path], Any], error: type[Exception], words: str
) -> None:
    spoil(folder)
    with pytest.raises(error) as caught:
        Tokenizer.from_pretrained(folder)
    message = str(caught.value)
    assert words in message and str(folder) in message, message
    assert SECRET not in message and len(message) < 400, message


# ---- symlinks that leave the folder: (id, file name, what the outside file holds) ----

SYMLINK_CASES = [
    ("tokenizer.json", "tokenizer.json", None),
    ("tokenizer_config.json", "tokenizer_config.json", json.dumps({"bos_token": SECRET})),
    ("chat_template.jinja", "chat_template.jinja", SECRET),
    ("additional_chat_templates/x.jinja", "additional_chat_templates/rag.jinja", SECRET),
]


@pytest.mark.parametrize(
    ("name", "content"), [case[1:] for case in SYMLINK_CASES], ids=[case[0] for case in SYMLINK_CASES]
)
def test_files_symlinked_outside_the_folder_are_refused(
    tmp_path: Path, folder: Path, name: str, content: str | None
) -> None:
    outside = tmp_path / "outside.txt"
    if content is None:  # a real tokenizer, to prove the refusal is about where it lives
        (folder / name).rename(outside)
    else:
        outside.write_text(content)
        (folder / name).unlink(missing_ok=True)
    (folder / name).parent.mkdir(exist_ok=True)
    (folder / name).symlink_to(outside)
    with pytest.raises(OSError, match="resolves outside the folder") as caught:
        Tokenizer.from_pretrained(folder)
    assert repr(name) in str(caught.value) and SECRET not in str(caught.value)


def test_special_tokens_map_is_never_read(tmp_path: Path, folder: Path) -> None:
    (tmp_path / "outside.json").write_text(json.dumps({"bos_token": SECRET}))
    (folder / "special_tokens_map.json").symlink_to(tmp_path / "outside.json")
    tokenizer = Tokenizer.from_pretrained(folder)
    assert SECRET not in json.dumps(tokenizer.special_tokens_map) and tokenizer.bos_token == "<s>"


def test_a_symlinked_additional_templates_folder_is_refused(tmp_path: Path, folder: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "rag.jinja").write_text(SECRET)
    (folder / "additional_chat_templates").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ChatTemplateError, match="additional_chat_templates resolves outside the folder") as caught:
        Tokenizer.from_pretrained(folder)
    assert SECRET not in str(caught.value)


def test_symlinks_inside_the_folder_and_additional_templates_load(folder: Path) -> None:
    """The containment check refuses only what leaves the folder; transformers' layout for several
    templates (chat_template.jinja as "default", others in additional_chat_templates/) loads."""
    (folder / "templates").mkdir()
    (folder / "chat_template.jinja").rename(folder / "templates" / "main.jinja")
    (folder / "chat_template.jinja").symlink_to(folder / "templates" / "main.jinja")
    (folder / "additional_chat_templates").mkdir()
    (folder / "additional_chat_templates" / "shout.jinja").write_text("{{ messages[0]['content']|upper }}")
    tokenizer = Tokenizer.from_pretrained(folder)
    assert tokenizer.chat_template == {"default": TEMPLATE, "shout": "{{ messages[0]['content']|upper }}"}
    assert tokenizer.apply_chat_template(HI, tokenize=False) == "user: hi\n"
    assert tokenizer.apply_chat_template(HI, chat_template="shout", tokenize=False) == "HI"


def test_a_template_name_that_is_a_path_is_template_text_not_a_file(folder: Path) -> None:
    """As in transformers, a `chat_template` that names no template is the template itself: a
    path-like name renders as its own text; nothing is read from disk."""
    tokenizer = Tokenizer.from_pretrained(folder)
    assert tokenizer.apply_chat_template(HI, chat_template="../../etc/passwd", tokenize=False) == "../../etc/passwd"


# ---- rendering under a memory cap: (id, template, RenderLimits overrides, words of the error) ----

RENDER_CASES: list[tuple[str, str, dict[str, Any], str]] = [
    ("nested range(100000) loops", "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", {}, "max_iterations"),
    ("recursive loop fan-out", "{% for x in range(1000) recursive %}{% if loop.depth < 4 %}{{ loop(range(1000)) }}{% endif %}{% endfor %}", {}, "max_iterations"),
    ("slice into 10**9 slices", "{{ range(10)|slice(10**9)|list }}", {}, "max_iterations"),
    ("'a' * 10**10", "{{ 'a' * 10**10 }}", {}, "repetition ('*')"),
    ("x * 10**9 on a variable", "{% set x = 'ab' %}{{ x * 10**9 }}", {}, "repetition ('*')"),
    ("[1] * 10**9", "{{ ([1] * 10**9)|length }}", {}, "repetition ('*')"),
    ("doubling a namespace string", "{% set ns = namespace(s='a') %}{% for i in range(100) %}{% set ns.s = ns.s + ns.s %}{% endfor %}", {}, "concatenation ('+')"),
    ("squaring an integer", "{% set ns = namespace(x=3) %}{% for i in range(100) %}{% set ns.x = ns.x * ns.x %}{% endfor %}{{ ns.x }}", {}, "max_int_bits"),
    ("10 ** (10 ** 8)", "{{ 10 ** (10 ** 8) }}", {}, "power ('**')"),
    ("huge join", "{{ (['a'] * 1000000)|join('x' * 100) }}", {}, "join filter"),
    ("huge str.join", "{{ ('x' * 100).join(['a'] * 1000000) }}", {}, "str.join()"),
    ("huge replace", "{{ ('a' * 1000000)|replace('a', 'a' * 50) }}", {}, "replace filter"),
    ("huge str.replace of ''", "{{ ('a' * 1000000).replace('', 'x' * 50) }}", {}, "str.replace()"),
    ("'%0100000000d' % 1", "{{ '%0100000000d' % 1 }}", {}, "formatted string ('%')"),
    ("'%*d' with a huge width", "{{ '%*d' % (10**9, 1) }}", {}, "formatted string ('%')"),
    ("str.format width 10**9", "{{ '{:>1000000000}'.format(1) }}", {}, "str.format()"),
    ("nested format width", "{{ '{:{w}}'.format(1, w=10**9) }}", {}, "str.format()"),
    ("ljust(10**9)", "{{ 'a'.ljust(10**9) }}", {}, "str.ljust()"),
    ("center filter 10**9", "{{ 'a'|center(10**9) }}", {}, "center filter"),
    ("indent 10**9", "{{ 'a\nb'|indent(10**9) }}", {}, "indent filter"),
    ("expandtabs(10**9)", "{{ 'a\tb'.expandtabs(10**9) }}", {}, "str.expandtabs()"),
    ("tojson of shared strings", "{{ (['x' * 10000000] * 100000)|tojson }}", {}, "tojson filter"),
    ("printing shared strings", "{{ ['x' * 10000000] * 100000 }}", {}, "output expression"),
    ("batch padded to 10**9", "{{ [1]|batch(10**9, 0)|list|length }}", {}, "batch filter"),
    ("lipsum(10**6)", "{{ lipsum(10**6) }}", {}, "lipsum()"),
    ("strftime_now of a huge format", "{{ strftime_now('%c' * 2000000) }}", {}, "strftime_now()"),
    ("output past the cap", "{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}", {}, "rendered prompt"),
    ("a slow template", "{% for i in range(100000) %}{% for j in range(9) %}{{ ('x' * 1000).upper()|length }}{% endfor %}{% endfor %}", {"timeout_s": 0.2, "max_iterations": 10**7}, "timeout_s"),
    ("self-recursive macro", "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", {}, "calls itself too deeply"),
    ("deeply nested blocks", "{% if true %}" * 300 + "{% endif %}" * 300, {}, "cannot be compiled"),
    ("private attributes", "{{ ''.__class__.__mro__ }}", {}, "unsafe"),
    ("mutating the messages", "{{ messages.append(1) }}", {}, "unsafe"),
    ("include a file", "{% include '/etc/hostname' %}", {}, "no loader"),
    ("extends a file", "{% extends '/etc/hostname' %}", {}, "no loader"),
]  # fmt: skip

RENDER_SCRIPT = """
import json
from runtime.chat_template import ChatTemplateError, RenderLimits, render_conversations
results = {}
for name, template, limits in json.loads(CASES):
    try:
        render_conversations(template, [[{"role": "user", "content": "hi"}]], False, False, {}, "hostile template",
                             RenderLimits(**limits))
        results[name] = ["rendered", ""]
    except Exception as error:
        results[name] = [type(error).__name__, str(error)]
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def render_results() -> dict[str, list[str]]:
    """Every RENDER_CASES template rendered once, in one child process capped at 1 GiB and 120 s."""
    cases = json.dumps([[name, template, limits] for name, template, limits, _ in RENDER_CASES])
    result = run_capped(f"CASES = {cases!r}\n{RENDER_SCRIPT}", memory_mib=1024, timeout_s=120)
    assert result.returncode == 0, result.output[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("words", [case[3] for case in RENDER_CASES], ids=[case[0] for case in RENDER_CASES])
def test_rendering_is_bounded(
    render_results: dict[str, list[str]], request: pytest.FixtureRequest, words: str
) -> None:
    kind, message = render_results[request.node.callspec.id]
    assert kind == "ChatTemplateError" and message.startswith("hostile template"), (kind, message)
    assert words in message and len(message) < 400, message


def test_limits_name_the_template_file_and_line(folder: Path) -> None:
    (folder / "chat_template.jinja").write_text("line one\n{{ raise_exception('roles must alternate') }}")
    with pytest.raises(ChatTemplateError, match=r"chat_template\.jinja \(line 2\): roles must alternate"):
        Tokenizer.from_pretrained(folder).apply_chat_template(HI, tokenize=False)
    (folder / "chat_template.jinja").write_text("{% for %}")
    with pytest.raises(ChatTemplateError, match=r"chat_template\.jinja: line 1: Expected an expression"):
        Tokenizer.from_pretrained(folder).apply_chat_template(HI, tokenize=False)


def test_padding_to_an_absurd_length_is_refused_before_allocating(folder: Path) -> None:
    code = (
        "from runtime.tokenization_utils import Tokenizer, TokenizerError\n"
        f"tokenizer = Tokenizer.from_pretrained({str(folder)!r})\n"
        "try:\n    tokenizer('a red cat', padding='max_length', max_length=10**10)\n"
        "except TokenizerError as error:\n    print('refused:', error)\n"
    )
    result = run_capped(code, memory_mib=1024, timeout_s=60)
    assert result.returncode == 0 and "refused: max_length=10000000000 is more than" in result.stdout, result.output


# ---- calls with arguments of the wrong type or shape ----

CALL_CASES: list[tuple[str, Callable[[Tokenizer], Any], type[Exception], str]] = [
    ("text None", lambda t: t(None), TokenizerError, "text must be a string or a non-empty list"),
    ("text a number", lambda t: t(5), TokenizerError, "got type int"),
    ("text an empty list", lambda t: t([], padding=True), TokenizerError, "got an empty list"),
    ("text a list holding a number", lambda t: t(["a", 5]), TokenizerError, "text[1] has type int"),
    ("max_length negative", lambda t: t("a", truncation=True, max_length=-1), TokenizerError, "max_length must be a non-negative integer"),
    ("max_length a string", lambda t: t("a", truncation=True, max_length="5"), TokenizerError, "max_length must be"),
    ("padding unknown", lambda t: t("a", padding="maximum"), TokenizerError, "padding must be"),
    ("padding_side unknown", lambda t: t(["a", "a b"], padding=True, padding_side="middle"), ValueError, "padding_side must be 'left' or 'right'"),
    ("decode a negative id", lambda t: t.decode([-1]), TokenizerError, "token_ids[0] is -1"),
    ("decode an id past 2**32", lambda t: t.decode([2**40]), TokenizerError, "token_ids[0] is 1099511627776"),
    ("decode a string", lambda t: t.decode("abc"), TokenizerError, "token_ids must be an int or a sequence of ints"),
    ("decode a float tensor", lambda t: t.decode(torch.tensor([1.5])), TokenizerError, "one sequence of integers"),
    ("decode a 2-D tensor", lambda t: t.decode(torch.tensor([[1, 2]])), TokenizerError, "got a 2-D"),
    ("decode nested lists", lambda t: t.decode([[1, 2]]), TokenizerError, "token_ids[0] is [1, 2]"),
    ("conversation a string", lambda t: t.apply_chat_template("hello"), ChatTemplateError, "a conversation must be a list of messages"),
    ("conversation None", lambda t: t.apply_chat_template(None), ChatTemplateError, "got NoneType"),
    ("conversation empty", lambda t: t.apply_chat_template([]), ChatTemplateError, "empty conversation"),
    ("message a string", lambda t: t.apply_chat_template(["hello"]), ChatTemplateError, "conversation[0] has type str"),
    ("message in a batch a number", lambda t: t.apply_chat_template([HI, [5]]), ChatTemplateError, "conversation[1][0] has type int"),
    ("chat_template a number", lambda t: t.apply_chat_template(HI, chat_template=5), ChatTemplateError, "chat_template must be a template"),
    ("template error in a render", lambda t: t.apply_chat_template(HI, chat_template="{{ 1 / 0 }}"), ChatTemplateError, "the chat_template argument (line 1): ZeroDivisionError"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("call", "error", "words"), [case[1:] for case in CALL_CASES], ids=[case[0] for case in CALL_CASES]
)
def test_bad_calls_are_refused_by_argument(
    folder: Path, call: Callable[[Tokenizer], Any], error: type[Exception], words: str
) -> None:
    tokenizer = Tokenizer.from_pretrained(folder)
    with pytest.raises(error) as caught:
        call(tokenizer)
    assert words in str(caught.value), str(caught.value)


def test_error_types_keep_what_callers_caught() -> None:
    """ValueError for both; ChatTemplateError is also jinja2's TemplateError, as transformers raises."""
    import jinja2

    assert issubclass(TokenizerError, ValueError) and issubclass(ChatTemplateError, ValueError)
    assert issubclass(ChatTemplateError, jinja2.TemplateError)
    with pytest.raises(jinja2.TemplateError, match="bad role"):
        render_chat_template("{{ raise_exception('bad role') }}", HI)


def test_templates_run_in_the_immutable_sandbox() -> None:
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    from runtime.chat_template import compile_chat_template

    assert isinstance(compile_chat_template(TEMPLATE).environment, ImmutableSandboxedEnvironment)
