"""Render Jinja chat templates exactly as `transformers.apply_chat_template` does.

Kept free of transformers and torch so the default (llama.cpp) path stays light. The
environment mirrors transformers' `_compile_jinja_template`: an immutable sandbox with
`trim_blocks`, `lstrip_blocks`, loop controls, a `{% generation %}` block, the
`raise_exception` / `strftime_now` globals and a `tojson` filter that does not escape HTML. Messages
are prepared as `render_jinja_template` prepares them: keys holding `None` are dropped and a
message's reasoning is given under each name templates read it by (`reasoning_content`,
`thinking`), and keyword arguments (`enable_thinking`, `reasoning_effort`, ...) become template
variables, as with `apply_chat_template(**kwargs)`.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from typing import Any, Optional, Sequence

import jinja2
import jinja2.ext
import jinja2.meta
import jinja2.nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from distilabel_magpie.errors import ChatTemplateError


class _GenerationBlock(jinja2.ext.Extension):
    """`{% generation %}...{% endgeneration %}` renders its body unchanged (as in transformers)."""

    tags = {"generation"}

    def parse(self, parser: jinja2.parser.Parser) -> jinja2.nodes.Node:
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_render"), [], [], body).set_lineno(lineno)

    def _render(self, caller: Any) -> str:
        return caller()


def _raise_exception(message: str) -> None:
    raise jinja2.exceptions.TemplateError(message)


def _tojson(x: Any, ensure_ascii: bool = False, indent: Any = None, separators: Any = None, sort_keys: bool = False) -> str:
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


@lru_cache(maxsize=64)
def _compile(chat_template: str) -> jinja2.Template:
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[_GenerationBlock, jinja2.ext.loopcontrols]
    )
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise_exception
    try:
        return env.from_string(chat_template)
    except jinja2.TemplateSyntaxError as e:
        raise ChatTemplateError(f"the chat template is not valid Jinja (line {e.lineno}: {e.message})") from None


@lru_cache(maxsize=64)
def template_variables(chat_template: str) -> frozenset:
    """Names the template reads without setting them first: the keyword arguments it can take."""
    env = ImmutableSandboxedEnvironment(extensions=[_GenerationBlock, jinja2.ext.loopcontrols])
    try:
        return frozenset(jinja2.meta.find_undeclared_variables(env.parse(chat_template)))
    except jinja2.TemplateSyntaxError as e:
        raise ChatTemplateError(f"the chat template is not valid Jinja (line {e.lineno}: {e.message})") from None


# Names a message's reasoning is passed under (transformers' `_REASONING_FIELDS`); the first is
# the standard one. Qwen3 templates read `reasoning_content`, gpt-oss reads `thinking`.
REASONING_FIELDS = ("reasoning_content", "thinking", "reasoning")


def _prepare(message: dict) -> dict:
    message = {k: v for k, v in message.items() if v is not None}
    reasoning = next((message[k] for k in REASONING_FIELDS if k in message), None)
    if reasoning is not None:
        message = {"thinking": reasoning, **message, "reasoning_content": reasoning}
    return message


def render(
    chat_template: str,
    messages: Sequence[dict],
    *,
    add_generation_prompt: bool = False,
    bos_token: Optional[str] = None,
    eos_token: Optional[str] = None,
    today: Optional[datetime] = None,
    special_tokens: Optional[dict] = None,
    template_kwargs: Optional[dict] = None,
) -> str:
    """Render `messages` with `chat_template`.

    `today` fixes what `strftime_now` returns (templates such as Llama-3.2 and Granite put the
    date in their default system turn); `None` means the current time, as in transformers.
    `template_kwargs` are the keyword arguments of `apply_chat_template(**kwargs)`.
    """
    now = today or datetime.now()
    kwargs = dict(template_kwargs or {})
    reserved = sorted({"messages", "add_generation_prompt"} & set(kwargs))
    if reserved:
        raise ChatTemplateError(f"template_kwargs cannot set {', '.join(reserved)}; the steps set it themselves")
    variables = dict(special_tokens or {})
    variables.update(bos_token=bos_token or "", eos_token=eos_token or "", strftime_now=lambda fmt: now.strftime(fmt))
    variables.update(kwargs)
    variables.update(
        messages=[_prepare(dict(m)) for m in messages],
        add_generation_prompt=add_generation_prompt,
    )
    try:
        return _compile(chat_template).render(**variables)
    except jinja2.TemplateError as e:
        raise ChatTemplateError(f"the chat template refused these messages: {e}") from None
