"""Rows of our pipelines -> Argilla records (fields, metadata, suggestions, vector, stable id).

Pure functions, no server: a row that cannot become a valid record raises `SkipRow` with a one-line
reason, which the push step counts and reports instead of sending something the server rejects.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Optional

from distilabel_magpie.review.dataset_settings import METADATA, REASONING_FIELD, ROW_COLUMNS, TAG_QUESTIONS
from distilabel_magpie.templates.render import REASONING_FIELDS

# argilla-server's limits for chat messages (api/schemas/v1/chat.py)
MAX_CHAT_MESSAGE_CHARS = 20000
MAX_ROLE_CHARS = 20
MAX_TERMS_CHARS = 200

REQUIRED = {"sft": ("instruction", "response"), "chat": ("messages",), "preference": ("prompt", "chosen", "rejected")}
OPTIONAL = (
    "reasoning", "instruction_status", "response_status", "model_name", "template", "system_prompt_key", "language",
    "quality", "difficulty", "task_category", "quality_score", "difficulty_score", "task_category_score",
    "reward", "reward_base", "reward_difference", "safety", "min_neighbor_distance", "repeat_count", "embedding",
    "judge_model", "reward_model",
)
PREFERENCE_OPTIONAL = ("chosen_score", "rejected_score", "margin", "generations", "ratings")


class SkipRow(Exception):
    """A row that cannot be reviewed as it is; the message says why in one line."""


@dataclass
class ReviewRecord:
    id: str
    fields: dict
    metadata: dict = field(default_factory=dict)
    suggestions: list = field(default_factory=list)  # (question, value, score or None, agent)
    vector: Optional[list] = None


def record_id(kind: str, content: Any) -> str:
    """Stable id from the reviewed content only: the same data pushed twice is the same record."""
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return f"{kind}-{hashlib.sha256(canonical.encode('utf-8', 'surrogatepass')).hexdigest()[:32]}"


# -- values -----------------------------------------------------------------------------------------


def clean_text(value: Any, name: str, max_chars: int) -> str:
    if value is None:
        raise SkipRow(f"{name} is missing")
    if isinstance(value, (bytes, bytearray)):
        try:
            value = bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise SkipRow(f"{name} is not valid UTF-8") from None
    if not isinstance(value, str):
        raise SkipRow(f"{name} is a {type(value).__name__}, not text")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates, e.g. from a file read with errors="surrogateescape"
        raise SkipRow(f"{name} is not valid UTF-8") from None
    if not value.strip():
        raise SkipRow(f"{name} is empty")
    if len(value) > max_chars:
        raise SkipRow(f"{name} has {len(value)} characters, over the limit of {max_chars} (max_text_chars)")
    return value


def clean_messages(value: Any, name: str, max_chars: int) -> list[dict]:
    if value is None:
        raise SkipRow(f"{name} is missing")
    if hasattr(value, "tolist"):  # numpy arrays from parquet
        value = value.tolist()
    if not isinstance(value, (list, tuple)) or not value:
        raise SkipRow(f"{name} is not a non-empty list of messages")
    limit = min(max_chars, MAX_CHAT_MESSAGE_CHARS)
    messages = []
    for i, message in enumerate(value):
        if not isinstance(message, dict) or "role" not in message or "content" not in message:
            raise SkipRow(f"{name}[{i}] is not a {{role, content}} message")
        role = clean_text(message["role"], f"{name}[{i}].role", MAX_ROLE_CHARS)
        content = clean_text(message["content"], f"{name}[{i}].content", limit)
        messages.append({"role": role, "content": content})
    return messages


def _finite(value: Any) -> Optional[float]:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _metadata_value(kind: str, value: Any) -> Any:
    if kind == "terms":
        if value is None or isinstance(value, (dict, list)):
            return None
        text = str(value)
        return text[:MAX_TERMS_CHARS] if text.strip() else None
    number = _finite(value)
    if number is None:
        return None
    return int(number) if kind == "integer" else number


def _vector(value: Any) -> Optional[list]:
    if value is None:
        return None
    if hasattr(value, "tolist"):
        value = value.tolist()
    numbers = [_finite(v) for v in value]
    if not numbers or any(n is None for n in numbers):
        raise SkipRow("embedding is empty or has non-finite values")
    return numbers


def _score(value: Any) -> Optional[float]:
    number = _finite(value)
    return number if number is not None and 0.0 <= number <= 1.0 else None  # Argilla: scores in [0, 1]


_AGENT_CHARS = re.compile(r"[^a-zA-Z0-9\-_:./\s]")


def agent_name(name: Any, default: str) -> str:
    """A suggestion's agent as Argilla takes it (letters, digits, -_:./ and spaces)."""
    text = _AGENT_CHARS.sub("-", str(name or "")).strip()
    return text if re.search(r"[a-zA-Z0-9]", text) else default


def _tag_suggestions(row: dict) -> list:
    suggestions = []
    for column, (question, labels) in TAG_QUESTIONS.items():
        value = row.get(column)
        if not isinstance(value, str):
            continue
        label = next((lab for lab in labels if lab.lower() == value.strip().lower()), None)
        if label is not None:
            suggestions.append((question, label, _score(row.get(f"{column}_score")),
                                agent_name(row.get("judge_model"), "judge")))
    return suggestions


def _common_metadata(row: dict) -> dict:
    return {name: row.get(column) for name, column in ROW_COLUMNS.items()
            if name not in ("chosen_score", "rejected_score", "margin")}


def _correction(text: str) -> tuple:
    """The corrected-response box starts as the text it corrects."""
    return ("corrected_response", text, None, "model response")  # agents: letters, digits, -_:./ and spaces


def _verdict_suggestion(row: dict) -> list:
    """With a reward difference r* - r_base: accept when the answer beats the base model's, with the
    Bradley-Terry probability sigmoid(r* - r_base) that it does (or its complement for reject)."""
    difference = _finite(row.get("reward_difference"))
    if difference is None:
        return []
    p = 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, difference))))
    label = "accept" if difference > 0 else "reject"
    return [("verdict", label, p if label == "accept" else 1.0 - p, "reward difference r - r_base")]


FLAG_TEXTS = {
    "truncated": "The answer hit the token limit: it stops mid-sentence.",
    "repetitive": "The answer was caught repeating itself and cut where the loop began.",
    "empty": "The answer is empty.",
    "error": "The model failed on this answer.",
}


def flag_of(row: dict) -> Optional[str]:
    """Why a row's answer is flagged (its response_status is not ok), as the reviewer reads it."""
    status = row.get("response_status")
    if not isinstance(status, str) or status in ("ok", ""):
        return None
    return f"{FLAG_TEXTS.get(status, 'The answer was flagged.')} (response_status: {status})"


def _finish(kind: str, raw: dict) -> dict:
    types = METADATA[kind]
    out = {}
    for name, value in raw.items():
        value = _metadata_value(types[name], value)
        if value is not None:
            out[name] = value
    return out


# -- reasoning -------------------------------------------------------------------------------------

# A conversation's reasoning in one text field: each assistant turn's under a header line.
_TURN_HEADER = "[reasoning of assistant turn {}]"
_TURN_LINE = re.compile(r"^\[reasoning of assistant turn (\d+)\]\n", re.MULTILINE)


def turn_reasoning_text(reasonings: dict[int, str]) -> str:
    return "\n\n".join(f"{_TURN_HEADER.format(turn)}\n{text}" for turn, text in sorted(reasonings.items()))


def turn_reasoning_of(text: Optional[str]) -> dict[int, str]:
    """Inverse of `turn_reasoning_text`: {assistant turn (1-based): reasoning}."""
    if not text:
        return {}
    heads = list(_TURN_LINE.finditer(text))
    out = {}
    for i, head in enumerate(heads):
        end = heads[i + 1].start() - 2 if i + 1 < len(heads) else len(text)
        out[int(head.group(1))] = text[head.end(): end]
    return out


def _message_reasoning(message: dict) -> Optional[str]:
    return next((message[k] for k in REASONING_FIELDS if isinstance(message.get(k), str)), None)


def _chat_reasoning(value: Any, max_chars: int) -> Optional[str]:
    """The reasoning field of a chat record, or None; refused when it would not read back exactly."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    assistants = [m for m in value if isinstance(m, dict) and m.get("role") == "assistant"]
    reasonings = {turn: r for turn, m in enumerate(assistants, 1) if (r := _message_reasoning(m)) is not None}
    if not reasonings:
        return None
    text = turn_reasoning_text(reasonings)
    if turn_reasoning_of(text) != reasonings:
        raise SkipRow("a reasoning holds a line like '[reasoning of assistant turn N]', so it cannot be shown exactly")
    return clean_text(text, "reasoning", max_chars)


# -- one builder per kind ---------------------------------------------------------------------------


def sft_record(row: dict, run_id: Optional[str], max_chars: int) -> ReviewRecord:
    instruction = clean_text(row.get("instruction"), "instruction", max_chars)
    status = row.get("response_status")
    if row.get("response") is None and status:
        raise SkipRow(f"response is missing (response_status={status})")
    response = clean_text(row.get("response"), "response", max_chars)
    meta = {**_common_metadata(row), "run_id": run_id,
            "instruction_length": len(instruction), "response_length": len(response)}
    content = {"instruction": instruction, "response": response}
    reasoning = row.get("reasoning")
    if isinstance(reasoning, str) and reasoning.strip():  # an empty think block is no reasoning to review
        content[REASONING_FIELD] = clean_text(reasoning, "reasoning", max_chars)
    return ReviewRecord(
        id=record_id("sft", content), fields=content, metadata=_finish("sft", meta),
        suggestions=_tag_suggestions(row) + _verdict_suggestion(row) + [_correction(response)],
        vector=_vector(row.get("embedding")),
    )


def chat_record(row: dict, run_id: Optional[str], max_chars: int) -> ReviewRecord:
    messages = clean_messages(row.get("messages"), "messages", max_chars)
    users = [m["content"] for m in messages if m["role"] == "user"]
    assistants = [m["content"] for m in messages if m["role"] == "assistant"]
    if not users or not assistants:
        raise SkipRow("messages need at least one user and one assistant turn")
    meta = {**_common_metadata(row), "run_id": run_id, "turns": len(users),
            "instruction_length": len(users[0]), "response_length": len(assistants[-1])}
    reasoning = _chat_reasoning(row["messages"], max_chars)
    fields = {"messages": messages, **({REASONING_FIELD: reasoning} if reasoning else {})}
    return ReviewRecord(
        id=record_id("chat", messages if not reasoning else fields), fields=fields, metadata=_finish("chat", meta),
        suggestions=_tag_suggestions(row) + _verdict_suggestion(row) + [_correction(assistants[-1])],
        vector=_vector(row.get("embedding")),
    )


def _completion(value: Any, prompt: list[dict], name: str, max_chars: int) -> str:
    """The assistant text of a TRL `chosen`/`rejected` value: a string, or messages (with or without
    the prompt in front) ending in the assistant's answer."""
    if isinstance(value, str):
        return clean_text(value, name, max_chars)
    messages = clean_messages(value, name, max_chars)
    if messages[: len(prompt)] == prompt:
        messages = messages[len(prompt):]
    if not messages or messages[-1]["role"] != "assistant":
        raise SkipRow(f"{name} does not end with an assistant message")
    return messages[-1]["content"]


def preference_record(row: dict, run_id: Optional[str], max_chars: int) -> ReviewRecord:
    prompt_value = row.get("prompt")
    if isinstance(prompt_value, str):
        prompt_value = [{"role": "user", "content": prompt_value}]
    prompt = clean_messages(prompt_value, "prompt", max_chars)
    chosen = _completion(row.get("chosen"), prompt, "chosen", max_chars)
    rejected = _completion(row.get("rejected"), prompt, "rejected", max_chars)
    rid = record_id("preference", {"prompt": prompt, "chosen": chosen, "rejected": rejected})
    # Show the reward model's pick on a side decided by the id (stable, unbiased across records).
    chosen_first = int(rid[-1], 16) % 2 == 0
    first, second = (chosen, rejected) if chosen_first else (rejected, chosen)
    choice = "response_1" if chosen_first else "response_2"
    chosen_score, rejected_score = _finite(row.get("chosen_score")), _finite(row.get("rejected_score"))
    margin = _finite(row.get("margin"))
    if margin is None and chosen_score is not None and rejected_score is not None:
        margin = chosen_score - rejected_score
    # Bradley-Terry: P(chosen beats rejected) = sigmoid(reward margin), a score in [0, 1].
    confidence = 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, margin)))) if margin is not None else None
    suggestions = [("preference", choice, confidence, agent_name(row.get("reward_model"), "reward-model"))]
    users = [m["content"] for m in prompt if m["role"] == "user"]
    generations = row.get("generations")
    meta = {**_common_metadata(row), "run_id": run_id, "chosen_score": chosen_score,
            "rejected_score": rejected_score, "margin": margin, "reward_choice": choice,
            "num_generations": len(generations) if isinstance(generations, (list, tuple)) else None,
            "instruction_length": len(users[-1]) if users else None, "response_length": len(chosen)}
    return ReviewRecord(
        id=rid, fields={"prompt": prompt, "response_1": first, "response_2": second},
        metadata=_finish("preference", meta), suggestions=suggestions + _tag_suggestions(row) + [_correction(chosen)],
        vector=_vector(row.get("embedding")),
    )


BUILDERS = {"sft": sft_record, "chat": chat_record, "preference": preference_record}
