"""Tolerant parsing of judge outputs: small judges wrap JSON in prose or code fences, use single
quotes, leave trailing commas, stop before the closing brace or write labels in another case.
Each parse returns either the values or one reason why not — never raises."""

from __future__ import annotations

import ast
import json
import re
from typing import Any, Optional, Sequence

QUALITY_LEVELS = ("very poor", "poor", "average", "good", "excellent")
DIFFICULTY_LEVELS = ("very easy", "easy", "medium", "hard", "very hard")
TASK_CATEGORIES = (
    "Information seeking", "Reasoning", "Planning", "Editing", "Coding & Debugging", "Math", "Role playing",
    "Data analysis", "Creative writing", "Advice seeking", "Brainstorming", "Others",
)

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


def extract_object(text: str) -> tuple[Optional[dict], Optional[str]]:
    """The first JSON object in `text`, repaired when it is nearly JSON."""
    fenced = _FENCE.search(text)
    body = fenced.group(1) if fenced else text
    start = body.find("{")
    if start == -1:
        return None, "no JSON object in the output"
    candidate = _balanced(body[start:])
    for attempt in _repairs(candidate):
        try:
            value = json.loads(attempt)
        except ValueError:
            try:
                value = ast.literal_eval(attempt)  # Python-style dicts: single quotes, True/None
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                continue
        if isinstance(value, dict):
            return value, None
    return None, "malformed JSON object in the output"


def _balanced(text: str) -> str:
    """`text` up to the brace that closes its first `{` (all of it when never closed)."""
    depth, in_string, escaped = 0, False, False
    for i, ch in enumerate(text):
        if in_string:
            escaped = ch == "\\" and not escaped
            if ch == '"' and not escaped:
                in_string = False
            continue
        if ch == '"':
            in_string = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[: i + 1]
    return text


def _repairs(candidate: str):
    yield candidate
    no_trailing = re.sub(r",\s*([}\]])", r"\1", candidate)
    yield no_trailing
    if candidate.count("{") > candidate.count("}"):  # cut off by the token limit
        stripped = no_trailing.rstrip().rstrip(",")
        if stripped.count('"') % 2:
            stripped += '"'
        if stripped.count("[") > stripped.count("]"):
            stripped += "]"
        yield stripped + "}" * (stripped.count("{") - stripped.count("}"))


def _norm(value: str) -> str:
    return re.sub(r"[^a-z0-9&]+", " ", value.lower()).strip()


def match_label(value: Any, labels: Sequence[str]) -> Optional[str]:
    """The label `value` names: exact up to case/punctuation, a 1-based number on a 5-point
    scale, or the one label it starts with (e.g. "Coding" -> "Coding & Debugging")."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and len(labels) == 5:
        return labels[int(value) - 1] if float(value).is_integer() and 1 <= value <= 5 else None
    if not isinstance(value, str):
        return None
    wanted = _norm(value)
    if wanted.isdigit() and len(labels) == 5 and 1 <= int(wanted) <= 5:
        return labels[int(wanted) - 1]
    for label in labels:
        if _norm(label) == wanted:
            return label
    starts = [label for label in labels if wanted and _norm(label).split()[0] == wanted.split()[0]]
    if len(starts) == 1 and len(wanted.split()) == 1:
        return starts[0]
    return None


def _pick(obj: dict, keys: Sequence[str]) -> Any:
    lowered = {str(k).lower().strip(): v for k, v in obj.items()}
    for key in keys:
        if key in lowered:
            return lowered[key]
    return None


def parse_quality(text: str) -> tuple[Optional[dict], Optional[str]]:
    obj, error = extract_object(text)
    if obj is None:
        return None, error
    raw = _pick(obj, ("input_quality", "quality", "rating"))
    if raw is None:
        return None, "missing key 'input_quality'"
    label = match_label(raw, QUALITY_LEVELS)
    if label is None:
        return None, f"input_quality {str(raw)[:40]!r} is not one of {', '.join(QUALITY_LEVELS)}"
    explanation = _pick(obj, ("explanation", "reason"))
    return {"quality": label, "quality_explanation": str(explanation) if explanation is not None else None}, None


def parse_difficulty(text: str) -> tuple[Optional[dict], Optional[str]]:
    obj, error = extract_object(text)
    if obj is None:
        return None, error
    raw = _pick(obj, ("difficulty", "level"))
    if raw is None:
        return None, "missing key 'difficulty'"
    label = match_label(raw, DIFFICULTY_LEVELS)
    if label is None:
        return None, f"difficulty {str(raw)[:40]!r} is not one of {', '.join(DIFFICULTY_LEVELS)}"
    intent, knowledge = _pick(obj, ("intent",)), _pick(obj, ("knowledge",))
    return {"difficulty": label, "intent": str(intent) if intent is not None else None,
            "knowledge": str(knowledge) if knowledge is not None else None}, None


def parse_task_category(text: str) -> tuple[Optional[dict], Optional[str]]:
    obj, error = extract_object(text)
    if obj is None:
        return None, error
    raw = _pick(obj, ("primary_tag", "task_category", "category"))
    if raw is None:
        return None, "missing key 'primary_tag'"
    label = match_label(raw, TASK_CATEGORIES)
    if label is None:
        return None, f"primary_tag {str(raw)[:40]!r} is not a known task category"
    others = _pick(obj, ("other_tags", "other_categories")) or []
    others = others if isinstance(others, list) else [others]
    matched = [m for m in (match_label(o, TASK_CATEGORIES) for o in others) if m and m != label]
    return {"task_category": label, "other_task_categories": list(dict.fromkeys(matched))}, None


def parse_llama_guard(text: str) -> tuple[Optional[str], list[str], Optional[str]]:
    """Llama-Guard output: "safe", or "unsafe" then a line of category codes ("S1,S10").
    Returns (label, categories, error)."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return None, [], "empty guard output"
    first = lines[0].lower()
    if first == "safe":
        return "safe", [], None
    if first == "unsafe":
        codes = re.findall(r"\b([SO]\d{1,2})\b", " ".join(lines[1:]).upper())
        return "unsafe", list(dict.fromkeys(codes)), None
    return None, [], f"guard output starts with {lines[0][:40]!r}, not 'safe' or 'unsafe'"
