"""Reasoning models: the thinking switch of a chat template, and an answer split into its
reasoning and the answer proper.

Only templates that reason are read this way: a template that names reasoning tags, has a
thinking switch, is harmony, or whose preset gives `reasoning_tags` (a model that reasons by
training, e.g. Phi-4-mini-reasoning). A plain model's answer is never split, so a literal
`</think>` in it stays in the answer.

Three formats, read from the template itself (or its preset):
- tags (QwQ, Qwen3, DeepSeek-R1, SmolLM3, Phi-4-reasoning: `<think>`…`</think>`; EXAONE-Deep:
  `<thought>`…`</thought>`). The generation prompt may already open the block (QwQ, R1 and the
  Thinking-2507 models), pre-fill an empty one (hybrid templates with thinking off), or leave it
  to the model (SmolLM3 with thinking on, Phi-4-mini-reasoning).
- harmony (gpt-oss): the answer is a sequence of channel messages; `analysis` is the reasoning,
  `final` the answer. Anything else (tool calls, commentary) is refused, never half-parsed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

from distilabel_magpie.errors import MagpieError
from distilabel_magpie.templates.render import template_variables

THINKING_MODES = ("on", "off")
# Keyword arguments with which hybrid templates switch reasoning on (True) and off (False):
# Qwen3 and SmolLM3 read `enable_thinking`, DeepSeek-V3.1 and Granite-3.2 read `thinking`.
SWITCH_NAMES = ("enable_thinking", "thinking", "enable_reasoning")
# Tag pairs, recognised by their closing tag in the template's source; the first is the default.
TAGS = (("<think>", "</think>"), ("<thought>", "</thought>"))
DEFAULT_TAGS = TAGS[0]
TAG_STRINGS = frozenset(t for pair in TAGS for t in pair)


@dataclass(frozen=True)
class ThinkingSwitch:
    """The template keyword argument that turns reasoning on or off, and its values."""

    name: str
    on: Any = True
    off: Any = False
    default: Optional[str] = None  # the mode the template is in when the argument is not given

    def kwargs(self, mode: str) -> dict:
        return {self.name: self.on if mode == "on" else self.off}

    def describe(self) -> dict:
        return {"name": self.name, "on": self.on, "off": self.off, "default": self.default}


def find_switch(chat_template: str, render_prompt: Callable[[dict], str]) -> Optional[ThinkingSwitch]:
    """The thinking switch of a template, found without code for any family: a keyword argument
    of `SWITCH_NAMES` that the template reads and that changes its generation prompt.
    `render_prompt(kwargs)` renders a one-message conversation with the generation prompt."""
    variables = template_variables(chat_template)
    for name in SWITCH_NAMES:
        if name not in variables:
            continue
        on, off = render_prompt({name: True}), render_prompt({name: False})
        if on != off:
            default = render_prompt({})
            mode = "on" if default == on else "off" if default == off else None
            return ThinkingSwitch(name, True, False, mode)
    return None


def reasoning_arguments(chat_template: str) -> list[str]:
    """Other keyword arguments of the template about reasoning (e.g. gpt-oss's `reasoning_effort`)."""
    return sorted(v for v in template_variables(chat_template)
                  if ("reason" in v or "think" in v) and v not in SWITCH_NAMES)


def is_harmony(chat_template: str) -> bool:
    """gpt-oss's harmony format: messages carry channels."""
    return "<|channel|>" in chat_template and "<|start|>" in chat_template


def named_tags(chat_template: str) -> Optional[tuple[str, str]]:
    """The reasoning tags a template names (by its closing tag), None when it names none."""
    return next((pair for pair in TAGS if pair[1] in chat_template), None)


def tags_of(chat_template: str) -> tuple[str, str]:
    """The reasoning tags a template uses (by its closing tag), `<think>` tags when it names none."""
    return named_tags(chat_template) or DEFAULT_TAGS


def inline(reasoning: Optional[str], answer: str, tags: tuple[str, str] = DEFAULT_TAGS) -> str:
    """An answer with its reasoning written in front, as R1-style models write it (and as the
    Qwen3 templates render a reasoning they are given): `<think>\\nR\\n</think>\\n\\nA`; an empty
    reasoning is an empty block, as a model writes it when it decides not to think."""
    if reasoning is None:
        return answer
    return f"{tags[0]}\n{reasoning}\n{tags[1]}\n\n{answer}"


def opens_reasoning(prompt_tail: str, tags: tuple[str, str]) -> bool:
    """Whether a generation prompt ends inside an opened reasoning block (QwQ's `<think>\\n`)."""
    return prompt_tail.rfind(tags[0]) > prompt_tail.rfind(tags[1])


@dataclass(frozen=True)
class Split:
    """A completion split into reasoning and answer.

    `reasoning` is None when the completion has no reasoning block; `answer` is None when the
    reasoning never ended (no answer came); `problem` says why a completion cannot be read."""

    reasoning: Optional[str]
    answer: Optional[str]
    problem: Optional[str] = None


def split_tagged(text: str, tags: tuple[str, str], starts_inside: bool) -> Split:
    open_tag, close_tag = tags
    if not starts_inside:
        stripped = text.lstrip()
        if not stripped.startswith(open_tag):
            return Split(None, text.strip())
        text = stripped[len(open_tag):]
    end = text.find(close_tag)
    if end == -1:
        return Split(text.strip(), None)
    return Split(text[:end].strip(), text[end + len(close_tag):].strip())


# Harmony: the answer prompt ends with "<|start|>assistant"; the model writes its messages,
# each "<|channel|>NAME<|message|>TEXT" and closed by "<|end|>" (or the final one by "<|return|>",
# the end-of-generation token, which engines do not return as text).
H_CHANNEL, H_MESSAGE, H_END, H_START = "<|channel|>", "<|message|>", "<|end|>", "<|start|>"
H_ANALYSIS = f"{H_CHANNEL}analysis{H_MESSAGE}"
H_FINAL = f"{H_CHANNEL}final{H_MESSAGE}"
H_NEXT_FINAL = f"{H_END}{H_START}assistant{H_FINAL}"
HARMONY_STOPS = ("<|return|>", "<|call|>")
_H_TOKENS = (H_CHANNEL, H_MESSAGE, H_END, H_START, "<|constrain|>", "<|call|>", "<|return|>")


def split_harmony(text: str) -> Split:
    """analysis → reasoning, final → answer. Only `analysis` then `final` (or `final` alone) is
    accepted: tool calls, commentary and anything else are refused with the reason."""
    reasoning: Optional[str] = None
    if not text:
        return Split(None, "")
    if text.startswith(H_ANALYSIS):
        body = text[len(H_ANALYSIS):]
        end = body.find(H_END)
        reasoning = body if end == -1 else body[:end]
        if _has_token(reasoning):
            return _harmony_problem(reasoning)
        if end == -1:
            return Split(reasoning.strip(), None)
        tail = body[end:]
        if H_NEXT_FINAL.startswith(tail):  # the final message has not begun
            return Split(reasoning.strip(), None)
        if not tail.startswith(H_NEXT_FINAL):
            return _harmony_problem(tail)
        answer = tail[len(H_NEXT_FINAL):]
    elif text.startswith(H_FINAL):
        answer = text[len(H_FINAL):]
    elif H_ANALYSIS.startswith(text) or H_FINAL.startswith(text):  # cut inside the first header
        return Split("", None)
    else:
        return Split(None, None, "the answer does not start with a harmony channel header "
                     "('<|channel|>analysis<|message|>'); the backend may drop special tokens from its output")
    if answer.endswith(H_END):
        answer = answer[: -len(H_END)]
    if _has_token(answer):
        return _harmony_problem(answer)
    return Split(None if reasoning is None else reasoning.strip(), answer.strip())


def _has_token(text: str) -> bool:
    return any(t in text for t in _H_TOKENS)


def _harmony_problem(text: str) -> Split:
    at = min((i for i in (text.find(t) for t in _H_TOKENS) if i != -1), default=0)
    return Split(None, None, f"unsupported harmony message (only analysis then final are read; tool calls and "
                 f"other channels are not): {text[at: at + 60]!r}")


def check_mode(mode: Optional[str], what: str = "thinking") -> Optional[str]:
    if mode is None or mode in THINKING_MODES:
        return mode
    raise MagpieError(f"{what} must be 'on', 'off' or unset (the template's default), got {mode!r}")
