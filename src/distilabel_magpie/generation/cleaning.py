"""Turn a raw sampled query or answer into a clean one, or say why it was rejected."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Optional

from distilabel_magpie.engines.base import Completion, find_stop
from distilabel_magpie.templates import MagpieTemplate

# Why a query or answer is not usable. "ok" rows are the dataset; the others stay, flagged.
OK, EMPTY, TRUNCATED, REPETITIVE, LEAKED_ROLE, DUPLICATE, WRONG_LANGUAGE, ERROR, SKIPPED = (
    "ok", "empty", "truncated", "repetitive", "leaked_role", "duplicate", "wrong_language", "error", "skipped")
# The reasoning of an answer ran to the token limit before it ended: there is no answer.
REASONING_TRUNCATED = "reasoning_truncated"

# "Question: ...", "### Instruction: ...", "User: ..." at the start of a query.
_LABEL = re.compile(
    r"^\s*(?:#{1,6}\s*)?\**(?:question|query|user|instruction|prompt|human|input|task|request|q)\**\s*\d*\s*[:：]\**\s*",
    re.IGNORECASE)
# A dialogue written inside one turn: a line that opens another speaker's message.
_ROLE_LINE = re.compile(
    r"(?:^|\n)\s*(?:#{1,6}\s*)?\**(?:assistant|ai|bot|gpt|response|answer|system)\**\s*[:：]", re.IGNORECASE)

# A role header whose special tokens the server rendered as empty text (llama-server without
# preserved tokens, llama-cpp-python, TGI): ChatML's "<|im_start|>assistant\n" arrives as a line
# "assistant", Llama-3's header as "assistant\n\n", Gemma's "<start_of_turn>model\n" as "model".
# Only after the start, a line break or punctuation ("2+2?assistant\n"), never after a word
# ("my assistant\n").
_BARE_ROLE = re.compile(r"(?:^|(?<=[^\w \t]))[ \t]*(?:assistant|user|system|model)[ \t]*\n")


def normalize(text: str) -> str:
    """Key for exact-duplicate detection: case, spacing and Unicode form do not matter."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def clean_query(completion: Completion, template: MagpieTemplate) -> tuple[str, str]:
    """(clean text, status). Status precedence: error > truncated/repetitive > leaked_role > empty > ok."""
    if completion.finish_reason == "error":
        return "", ERROR
    text = completion.text
    hit = find_stop(text, template.role_markers)  # a backend that did not stop on a marker
    if hit is not None:
        text = text[: hit[0]]
    elif (bare := _BARE_ROLE.search(text)) is not None:  # the query ran on into the next turn
        return _LABEL.sub("", text[: bare.start()].strip(), count=1).strip(), LEAKED_ROLE
    text = _LABEL.sub("", text.strip(), count=1).strip()
    if hit is None and completion.finish_reason in ("length", "repetition"):
        return text, TRUNCATED if completion.finish_reason == "length" else REPETITIVE
    role = _ROLE_LINE.search(text)
    if role is not None:
        return text[: role.start()].strip(), LEAKED_ROLE
    return (text, OK) if text else ("", EMPTY)


@dataclass(frozen=True)
class Answer:
    """A cleaned answer: its text, status, reasoning (None: the answer had no reasoning block)
    and, for `error`, why."""

    text: Optional[str]
    status: str
    reasoning: Optional[str] = None
    error: Optional[str] = None


def clean_response(completion: Optional[Completion], template: MagpieTemplate) -> Answer:
    """The answer split from its reasoning (see `MagpieTemplate.split_answer`). Statuses: `ok`;
    `truncated` / `repetitive` (the answer ran to the token limit or looped); `reasoning_truncated`
    (the limit came before the reasoning ended: no answer); `empty` (no answer, or only reasoning);
    `error` (the backend failed, or a harmony answer that cannot be read exactly)."""
    if completion is None:
        return Answer(None, SKIPPED)
    if completion.finish_reason == "error":
        return Answer(None, ERROR, error=completion.error)
    text = completion.text
    hit = find_stop(text, template.response_stop)  # a backend that did not stop on a marker
    if hit is not None:
        text = text[: hit[0]]
    cut_short = hit is None and completion.finish_reason in ("length", "repetition")
    split = template.split_answer(text)
    if split.problem:
        return Answer(None, ERROR, error=split.problem)
    if split.answer is None:  # the reasoning never ended
        if cut_short:
            return Answer(None, REASONING_TRUNCATED if completion.finish_reason == "length" else REPETITIVE,
                          split.reasoning)
        return Answer("", EMPTY, split.reasoning)
    if cut_short:
        return Answer(split.answer, TRUNCATED if completion.finish_reason == "length" else REPETITIVE, split.reasoning)
    return Answer(split.answer, OK if split.answer else EMPTY, split.reasoning)
