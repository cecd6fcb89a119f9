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
# A query that carries its own answer (a quiz with "The answer is: C", a Q:/A: pair), and one that
# talks about the model's identity named in the system turn ("What can you do, Qwen?").
SELF_ANSWERED, IDENTITY_ECHO = "self_answered", "identity_echo"

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

# Where a query's own answer starts: "The answer is:" / "Correct answer:" / "Solution:" opening a
# line (or a sentence, with its colon). "I think the answer is 5, am I right?" has no colon and
# stays a query.
_ANSWER_START = re.compile(
    r"(?:^|\n)\s*\**(?:the\s+)?(?:correct\s+|right\s+|final\s+)?answer\s+is\b"
    r"|(?:^|[\n.?!]\s*)\**(?:the\s+)?(?:correct\s+|right\s+|final\s+)?answer(?:\s+is)?\s*\**\s*[:：]"
    r"|(?:^|\n)\s*\**(?:solution|correct answer)\**\s*[:：]", re.IGNORECASE)
# The "A:" of a Q:/A: pair, opening a line or following the question mark (and its closing quote:
# `Q: "What is …?" A: "…"`); not when a "B:" line follows (then A:, B:, ... are a quiz's options).
_A_LINE = re.compile(r"(?:^|\n|(?<=\?)|(?<=\?[\"'”’]))\s*\**a\**\s*[:：]\s*\S", re.IGNORECASE)
_B_OPTION = re.compile(r"\n\s*\**b\**\s*[:：.)]", re.IGNORECASE)
# The model's name and maker in a system turn: "You are Qwen, created by Alibaba Cloud",
# "a helpful AI assistant named SmolLM, trained by Hugging Face".
_WORD = r"[A-Z][\w+-]*(?:\.[\w+-]+)*"  # "Qwen", "Qwen2.5", "SmolLM", not a sentence's full stop
_NAME = rf"({_WORD}(?:[ \t]+{_WORD})*)"
_IDENTITY = re.compile(rf"\b(?i:you are|you're|named|called|i am)\s+{_NAME}"
                       rf"|\b(?i:created|trained|developed|made|built)\s+(?i:by)\s+{_NAME}")


def identity_names(system_text: Optional[str]) -> tuple[str, ...]:
    """The names a system turn gives the model and its maker (none for "You are a helpful assistant")."""
    if not system_text:
        return ()
    text = re.sub(r"<[^<>\s]*>", " ", system_text)  # role markers such as <|im_start|>
    return tuple(dict.fromkeys(n for m in _IDENTITY.finditer(text) for n in m.groups() if n))


def system_text(template: MagpieTemplate, system_prompt: Optional[str]) -> Optional[str]:
    """The system turn a query is sampled under: the prompt's own, else the template's default."""
    return system_prompt or (template.default_system_turn if template.default_system else None)


def _self_check(text: str, names: tuple[str, ...]) -> Optional[tuple[str, str]]:
    """(text, status) when an ok-looking query answers itself or echoes the system turn's names."""
    answer = _ANSWER_START.search(text)
    a_line = _A_LINE.search(text)
    if a_line is not None and not _B_OPTION.search(text, a_line.end()):
        answer = a_line if answer is None or a_line.start() < answer.start() else answer
    if answer is not None:
        return text[: answer.start()].strip(), SELF_ANSWERED
    for name in names:
        if re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text, re.IGNORECASE):
            return text, IDENTITY_ECHO
    return None


def normalize(text: str) -> str:
    """Key for exact-duplicate detection: case, spacing and Unicode form do not matter."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def clean_query(completion: Completion, template: MagpieTemplate,
                system_text: Optional[str] = None) -> tuple[str, str]:
    """(clean text, status). Status precedence: error > truncated/repetitive > leaked_role >
    self_answered > identity_echo > empty (nothing, or no letter or digit) > ok. `system_text`:
    the system turn the query was sampled under (the model's name in it makes `identity_echo`)."""
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
    names = identity_names(system_text)
    if names:  # "Qwen: Where did the Civil War end?": the model's name as a speaker label, like "User:"
        text = re.sub(rf"^(?:{'|'.join(map(re.escape, names))})\s*[:：]\s*", "", text, flags=re.IGNORECASE)
    if not any(ch.isalnum() for ch in text):  # ",,,", "?", "👻": no word to answer
        return text, EMPTY
    return _self_check(text, names) or (text, OK)


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
