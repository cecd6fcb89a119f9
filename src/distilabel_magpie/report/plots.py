"""The report's plots: what each shows. Each reads named columns of the run's rows and either gives
the values to draw or says why it is skipped; `figures.py` draws them, so what a plot shows can be
checked without looking at pixels."""

from __future__ import annotations

import collections
import json
import math
from dataclasses import dataclass
from typing import Any, Callable, Optional, Union

from distilabel_magpie.report.source import RunData
from distilabel_magpie.storage.columns import STATUS_COLUMNS

QUALITY = ["very poor", "poor", "average", "good", "excellent"]
DIFFICULTY = ["very easy", "easy", "medium", "hard", "very hard"]



@dataclass
class Skip:
    """Why a plot is not in the report."""

    reason: str


@dataclass
class PlotData:
    """What a plot draws: `values` by name (counts, series), and the columns they came from."""

    columns: list[str]
    values: dict[str, Any]
    note: str = ""  # a sentence under the plot, from the data (e.g. "31 of 40 above 0")


@dataclass
class Plot:
    key: str  # the PNG is plots/<key>.png
    title: str
    section: str
    reads: str  # the columns it reads, as the report states them
    compute: Callable[[RunData], Union[PlotData, Skip]]
    wide: bool = False
    caption: str = ""


@dataclass
class Rendered:
    plot: Plot
    data: Optional[PlotData] = None
    png: Optional[bytes] = None
    skipped: Optional[str] = None


# -- reading rows -----------------------------------------------------------------------------------


def _has(rows: list[dict], column: str) -> bool:
    return any(column in r for r in rows)


def _numbers(rows: list[dict], column: str) -> list[float]:
    out = []
    for r in rows:
        v = r.get(column)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            out.append(float(v))
    return out


def _labels(rows: list[dict], column: str) -> list[str]:
    return [str(r[column]) for r in rows if r.get(column) is not None and not isinstance(r.get(column), (list, dict))]


def _missing(column: str, rows: list[dict], producer: str) -> Skip:
    if not _has(rows, column):
        return Skip(f"no row has a `{column}` column ({producer})")
    return Skip(f"every row has `{column}` empty (null)")


def _split(run: RunData, get: Callable[[list[dict]], list]) -> dict[str, list]:
    """The values from kept rows and from rejected rows (rejected only when there are any)."""
    out = {"kept": get(run.rows)}
    if run.rejected:
        out["rejected"] = get(run.rejected)
    return out


def _messages(row: dict) -> list[dict]:
    value = row.get("messages")
    return [m for m in value if isinstance(m, dict)] if isinstance(value, list) else []


def instruction_text(row: dict) -> Optional[str]:
    if isinstance(row.get("instruction"), str):
        return row["instruction"]
    users = [m.get("content") for m in _messages(row) if m.get("role") == "user"]
    if users and isinstance(users[0], str):
        return users[0]
    prompt = row.get("prompt")
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, list):
        users = [m.get("content") for m in prompt if isinstance(m, dict) and m.get("role") == "user"]
        return users[-1] if users and isinstance(users[-1], str) else None
    return None


def response_text(row: dict) -> Optional[str]:
    if "response" in row:
        return row["response"] if isinstance(row["response"], str) else None
    assistants = [m.get("content") for m in _messages(row) if m.get("role") == "assistant"]
    if assistants and isinstance(assistants[-1], str):
        return assistants[-1]
    chosen = row.get("chosen")
    if isinstance(chosen, str):
        return chosen
    if isinstance(chosen, list) and chosen and isinstance(chosen[-1], dict):
        content = chosen[-1].get("content")
        return content if isinstance(content, str) else None
    return None


def _metadata(row: dict) -> dict:
    meta = row.get("distilabel_metadata")
    if isinstance(meta, str):
        try:
            meta = json.loads(meta)
        except json.JSONDecodeError:
            return {}
    return meta if isinstance(meta, dict) else {}


def token_counts(row: dict) -> dict[str, int]:
    """Generated tokens of the query, the answer and the base answer, from the steps' statistics
    in `distilabel_metadata` (`statistics_<step>` next to `magpie_<step>` for queries,
    `statistics_response_<step>`, `statistics_base_response_<step>`)."""
    meta = _metadata(row)
    out: dict[str, int] = {}
    for key, value in meta.items():
        if not key.startswith("statistics_") or not isinstance(value, dict):
            continue
        tokens = value.get("output_tokens")
        if not isinstance(tokens, (int, float)):
            continue
        name = key[len("statistics_"):]
        if name.startswith("base_response_"):
            out["base_response"] = int(tokens)
        elif name.startswith("response_"):
            out["response"] = int(tokens)
        elif f"magpie_{name}" in meta:
            out["instruction"] = int(tokens)
    return out


# -- computing ---------------------------------------------------------------------------------------


def _ordered_counts(values: list[str], first: tuple = ("ok",)) -> dict[str, int]:
    counts = collections.Counter(values)
    keys = [k for k in first if k in counts] + [k for k, _ in counts.most_common() if k not in first]
    return {k: counts[k] for k in keys}


def statuses(run: RunData) -> Union[PlotData, Skip]:
    rows = run.all_rows
    present = [c for c in STATUS_COLUMNS if _labels(rows, c)]
    if not present:
        return Skip("no row has a status column (" + ", ".join(f"`{c}`" for c in STATUS_COLUMNS) + ")")
    return PlotData(present, {c: _ordered_counts(_labels(rows, c)) for c in present})


def rejections(run: RunData) -> Union[PlotData, Skip]:
    if not run.rejected:
        return Skip("no row was rejected: there is no rejected.jsonl beside the data and no row has a "
                    "`drop_reason` (only pipelines with a filter step write one)")
    reasons: dict[str, int] = {}
    details: dict[str, dict] = {}
    for row in run.rejected:
        reason = str(row.get("drop_reason") or "dropped")
        reasons[reason] = reasons.get(reason, 0) + 1
        column = _rule_column(reason)
        if column and isinstance(row.get(column), str):  # what the failing rows had (status values)
            details.setdefault(reason, collections.Counter())[row[column]] += 1
    total = len(run.rows) + len(run.rejected)
    note = f"{len(run.rejected)} of {total} rows rejected, {len(run.rows)} kept."
    return PlotData(["drop_reason"], {"reasons": reasons, "details": {k: dict(v) for k, v in details.items()}}, note)


def _rule_column(reason: str) -> Optional[str]:
    text = reason.removeprefix("failed: ")
    head = text.split(" ", 1)[0]
    return head if head.endswith("_status") else None


def lengths_chars(run: RunData) -> Union[PlotData, Skip]:
    values = {
        "instruction": _split(run, lambda rows: [len(t) for r in rows if (t := instruction_text(r))]),
        "response": _split(run, lambda rows: [len(t) for r in rows if (t := response_text(r))]),
    }
    base = _split(run, lambda rows: [len(r["base_response"]) for r in rows
                                     if isinstance(r.get("base_response"), str) and r["base_response"]])
    if any(base.values()):
        values["base_response"] = base
    if not any(values["instruction"].values()) and not any(values["response"].values()):
        return Skip("no row has an `instruction` / `response` text (or `messages`, `prompt` / `chosen`)")
    return PlotData(["instruction", "response"] + (["base_response"] if "base_response" in values else []), values)


def lengths_tokens(run: RunData) -> Union[PlotData, Skip]:
    counts = {"kept": [token_counts(r) for r in run.rows], "rejected": [token_counts(r) for r in run.rejected]}
    values: dict[str, dict] = {}
    for part in ("instruction", "response", "base_response"):
        series = {side: [c[part] for c in counts[side] if part in c] for side in counts}
        if not run.rejected:
            series.pop("rejected")
        if any(series.values()):
            values[part] = series
    if not values:
        return Skip("no token counts in `distilabel_metadata` (the generation steps write them as "
                    "`statistics_<step>`; exports and other tools may drop that column)")
    return PlotData(["distilabel_metadata"], values)


def task_categories(run: RunData) -> Union[PlotData, Skip]:
    if not _labels(run.all_rows, "task_category"):
        return _missing("task_category", run.all_rows, "add MagpieJudge with the task_category tag")
    order = [k for k, _ in collections.Counter(_labels(run.all_rows, "task_category")).most_common()]
    values = {side: collections.Counter(_labels(rows, "task_category"))
              for side, rows in (("kept", run.rows), ("rejected", run.rejected)) if rows or side == "kept"}
    return PlotData(["task_category"], {"order": order, **{k: dict(v) for k, v in values.items()}})


def difficulty_quality(run: RunData) -> Union[PlotData, Skip]:
    rows = [r for r in run.all_rows if r.get("difficulty") in DIFFICULTY and r.get("quality") in QUALITY]
    if not rows:
        for column in ("quality", "difficulty"):
            if not _labels(run.all_rows, column):
                return _missing(column, run.all_rows, f"add MagpieJudge with the {column} tag")
        return Skip("no row has both a `quality` and a `difficulty` label")
    grid = [[sum(1 for r in rows if r["difficulty"] == d and r["quality"] == q) for q in QUALITY] for d in DIFFICULTY]
    return PlotData(["difficulty", "quality"], {"grid": grid, "rows": DIFFICULTY, "columns": QUALITY},
                    f"{len(rows)} rows with both tags.")


def reward(run: RunData) -> Union[PlotData, Skip]:
    if not _numbers(run.all_rows, "reward"):
        return _missing("reward", run.all_rows, "add RewardModelLabeler")
    values: dict[str, Any] = _split(run, lambda rows: _numbers(rows, "reward"))
    columns = ["reward"]
    pairs = [(float(r["reward_base"]), float(r["reward"]), side)
             for side, rows in (("kept", run.rows), ("rejected", run.rejected)) for r in rows
             if _numbers([r], "reward") and _numbers([r], "reward_base")]
    if pairs:
        values["pairs"] = pairs
        columns.append("reward_base")
    return PlotData(columns, values)


def reward_difference(run: RunData) -> Union[PlotData, Skip]:
    if not _numbers(run.all_rows, "reward_difference"):
        return _missing("reward_difference", run.all_rows,
                        "add MagpieBaseResponder and RewardModelLabeler with base_response_column")
    values = _split(run, lambda rows: _numbers(rows, "reward_difference"))
    every = _numbers(run.all_rows, "reward_difference")
    above = sum(1 for v in every if v > 0)
    return PlotData(["reward_difference"], values,
                    f"{above} of {len(every)} answers score above the base model's (r* - r_base > 0).")


def diversity(run: RunData) -> Union[PlotData, Skip]:
    distances = _numbers(run.all_rows, "min_neighbor_distance")
    repeats = _numbers(run.all_rows, "repeat_count")
    if not distances and not repeats:
        return _missing("min_neighbor_distance", run.all_rows, "add NearDuplicates")
    values: dict[str, Any] = {}
    if distances:
        values["min_neighbor_distance"] = _split(run, lambda rows: _numbers(rows, "min_neighbor_distance"))
    if repeats:  # fixed categories, so "no near-duplicates" reads as such
        counts = collections.Counter(min(int(v), 5) for v in repeats)
        values["repeat_count"] = {("5+" if k == 5 else k): counts.get(k, 0) for k in range(6)}
    zero = sum(1 for v in distances if v == 0)
    return PlotData([c for c in ("min_neighbor_distance", "repeat_count") if c in values], values,
                    f"{zero} exact repeats (distance 0); {sum(1 for v in repeats if v > 0)} rows have a near-duplicate.")


def system_prompts(run: RunData) -> Union[PlotData, Skip]:
    rows = run.all_rows
    if not _has(rows, "system_prompt_key"):
        return Skip("no row has a `system_prompt_key` column (the Magpie generation steps write it)")
    if not _labels(rows, "system_prompt_key"):
        return Skip("every row has `system_prompt_key` null: no system prompt or domain steered the queries")

    def usable(r: dict) -> bool:
        return r.get("instruction_status", "ok") == "ok" and r.get("response_status", "ok") == "ok"

    keys = [k for k, _ in collections.Counter(str(r.get("system_prompt_key")) for r in rows).most_common()]
    split = {k: {"usable": 0, "not usable": 0, "rejected": 0} for k in keys}
    for r in run.rows:
        split[str(r.get("system_prompt_key"))]["usable" if usable(r) else "not usable"] += 1
    for r in run.rejected:
        split[str(r.get("system_prompt_key"))]["rejected"] += 1
    return PlotData(["system_prompt_key"], {"keys": split})


def languages(run: RunData) -> Union[PlotData, Skip]:
    rows = run.all_rows
    if not _has(rows, "language"):
        return Skip("no row has a `language` column (add LanguageTagger)")
    counts = collections.Counter(str(r.get("language") or "undetected") for r in rows if "language" in r)
    top = dict(counts.most_common(12))
    rest = sum(counts.values()) - sum(top.values())
    if rest:
        top["other"] = rest
    return PlotData(["language"], {"counts": top})


def safety(run: RunData) -> Union[PlotData, Skip]:
    rows = run.all_rows
    if not _labels(rows, "safety"):
        if _has(rows, "safety"):
            return Skip("every row has `safety` null: the guard model's answers could not be read (see `safety_error`)")
        return Skip("no row has a `safety` column (add SafetyTagger with a guard model, e.g. Llama-Guard-3)")
    from distilabel_magpie.scoring.safety import LLAMA_GUARD_3_CATEGORIES as NAMES

    labels = dict(collections.Counter(_labels(rows, "safety")).most_common())
    categories = collections.Counter(f"{c} {NAMES[c]}" if c in NAMES else c
                                     for r in rows for c in (r.get("safety_categories") or []) if isinstance(c, str))
    return PlotData(["safety", "safety_categories"], {"labels": labels, "categories": dict(categories.most_common())})


def conversations(run: RunData) -> Union[PlotData, Skip]:
    rows = [r for r in run.all_rows if _messages(r)]
    if not rows:
        return Skip("no row has a `messages` conversation (only chat datasets do)")
    turns = collections.Counter(sum(1 for m in _messages(r) if m.get("role") == "user") for r in rows)
    failed = collections.Counter()
    for r in run.all_rows:
        if r.get("failed_turn") is not None or r.get("failure_reason"):
            failed[f"turn {r.get('failed_turn', '?')}: {r.get('failure_reason') or 'failed'}"] += 1
    return PlotData(["messages", "failed_turn", "failure_reason"],
                    {"turns": dict(sorted(turns.items())), "failed": dict(failed.most_common())},
                    f"{sum(failed.values())} of {len(rows)} conversations ended early.")


def preferences(run: RunData) -> Union[PlotData, Skip]:
    rows = run.all_rows
    margins = _numbers(rows, "margin")
    pairs = [(float(r["chosen_score"]), float(r["rejected_score"])) for r in rows
             if isinstance(r.get("chosen_score"), (int, float)) and isinstance(r.get("rejected_score"), (int, float))]
    if not margins and not pairs:
        return _missing("margin", rows, "only preference datasets (PreferencePairs) have it")
    if not margins:
        margins = [c - j for c, j in pairs]
    return PlotData(["margin", "chosen_score", "rejected_score"], {"margin": margins, "pairs": pairs})


def reasoning(run: RunData) -> Union[PlotData, Skip]:
    rows = run.all_rows
    texts = [r["reasoning"] for r in rows if isinstance(r.get("reasoning"), str) and r["reasoning"]]
    texts += [m["reasoning_content"] for r in rows for m in _messages(r) if isinstance(m.get("reasoning_content"), str)
              and m["reasoning_content"]]
    truncated = sum(1 for r in rows if r.get("response_status") == "reasoning_truncated"
                    or r.get("failure_reason") == "response_reasoning_truncated")
    if not texts:
        if _has(rows, "reasoning"):
            return Skip("every row has `reasoning` empty: the answering model did not reason")
        return Skip("no row has a `reasoning` column or `reasoning_content` (only reasoning models write them)")
    return PlotData(["reasoning", "messages.reasoning_content"], {"lengths": [len(t) for t in texts],
                                                                   "reasoning_truncated": truncated},
                    f"{len(texts)} answers with reasoning; {truncated} ran out of tokens while reasoning.")


PLOTS: list[Plot] = [
    Plot("statuses", "Statuses", "Rows", "the status columns (instruction_status, response_status, "
         "base_response_status, judge_status, conversation_status, argilla_status)", statuses, wide=True,
         caption="Every row, kept or rejected: what happened to its query, answer, base answer, judgement, push."),
    Plot("rejections", "Rejection reasons", "Rows", "drop_reason (rejected.jsonl)", rejections,
         wide=True, caption="Each rule of the filter, with the rows it removed (a row counts under the first rule it "
         "failed); status rules show the statuses they met."),
    Plot("lengths_chars", "Lengths in characters", "Lengths", "instruction, response, base_response (or messages, "
         "prompt / chosen)", lengths_chars, wide=True),
    Plot("lengths_tokens", "Lengths in tokens", "Lengths", "distilabel_metadata (statistics_*: generated tokens)",
         lengths_tokens, wide=True,
         caption="Generated tokens as the engine counted them; a pile at the right edge is the token limit."),
    Plot("task_categories", "Task categories", "Judge tags", "task_category", task_categories),
    Plot("difficulty_quality", "Difficulty × quality", "Judge tags", "difficulty, quality", difficulty_quality),
    Plot("reward", "Reward", "Rewards", "reward, reward_base", reward, wide=True),
    Plot("reward_difference", "Reward difference", "Rewards", "reward_difference", reward_difference),
    Plot("diversity", "Min-neighbour distance and repeats", "Diversity", "min_neighbor_distance, repeat_count",
         diversity, wide=True),
    Plot("system_prompts", "System prompts and domains", "Steering", "system_prompt_key", system_prompts),
    Plot("languages", "Languages", "Language and safety", "language", languages),
    Plot("safety", "Safety", "Language and safety", "safety, safety_categories", safety),
    Plot("conversations", "Turns and failures", "Conversations", "messages, failed_turn, failure_reason",
         conversations, wide=True),
    Plot("preferences", "Preference margins", "Preferences", "margin, chosen_score, rejected_score", preferences, wide=True),
    Plot("reasoning", "Reasoning lengths", "Reasoning", "reasoning, messages[].reasoning_content", reasoning),
]
