"""The report's plots. Each reads named columns of the run's rows and either gives the values it
draws or says why it is skipped; drawing is separate, so what a plot shows can be checked without
looking at pixels."""

from __future__ import annotations

import collections
import json
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Union

from distilabel_magpie.report.source import RunData
from distilabel_magpie.report.summary import STATUS_COLUMNS

QUALITY = ["very poor", "poor", "average", "good", "excellent"]
DIFFICULTY = ["very easy", "easy", "medium", "hard", "very hard"]

# One palette for every plot.
KEPT, REJECTED, OK_COLOR, BAD, NEUTRAL, ACCENT = "#3b6ea8", "#e0933a", "#4e9a5b", "#c8553d", "#9a9a9a", "#7a5ea8"
STATUS_COLORS = {"ok": OK_COLOR, "skipped": NEUTRAL, "created": OK_COLOR, "updated": OK_COLOR}


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
    extra: dict = field(default_factory=dict)


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


# -- drawing -----------------------------------------------------------------------------------------


def _style(ax, title: str = "", xlabel: str = "", ylabel: str = "") -> None:
    ax.set_title(title, fontsize=11.5, loc="left", pad=8, color="#222222")
    ax.set_xlabel(xlabel, fontsize=9.5, color="#444444")
    ax.set_ylabel(ylabel, fontsize=9.5, color="#444444")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color("#bbbbbb")
    ax.tick_params(labelsize=8.5, colors="#444444")
    ax.grid(axis="both", color="#eeeeee", linewidth=0.8)
    ax.set_axisbelow(True)


def _hbar(ax, counts: dict, colors: Any = KEPT, title: str = "", xlabel: str = "rows", max_label: int = 38,
          slots: Optional[int] = None) -> None:
    """Horizontal bars, the first key at the top; `slots`: room for that many bars (panels side by side
    then have bars of one thickness)."""
    labels = [_short(str(k), max_label) for k in counts]
    values = list(counts.values())
    slots = max(slots or 3, len(values))  # room for 3 at least: a lone bar is a bar, not a block
    y = [slots - 1 - i for i in range(len(values))]
    ax.set_ylim(-0.6, slots - 0.4)
    color = [colors.get(k, BAD) for k in counts] if isinstance(colors, dict) else colors
    ax.barh(y, values, color=color, height=0.6)
    ax.set_yticks(y, labels)
    top = max(values) if values else 1
    for yy, v in zip(y, values):
        ax.text(v + top * 0.01, yy, str(v), va="center", fontsize=8, color="#333333")
    ax.set_xlim(0, top * 1.15 + 0.5)
    _style(ax, title, xlabel)
    ax.grid(axis="y", visible=False)
    _integer_counts(ax.xaxis)


def _bars(ax, counts: dict, color: str) -> None:
    """Vertical bars of counts by a small integer (tick labels at positions: no category axis)."""
    x = list(range(len(counts)))
    values = list(counts.values())
    ax.bar(x, values, color=color, width=0.6)
    ax.set_xticks(x, [str(k) for k in counts])
    for i, v in zip(x, values):
        ax.text(i, v, str(v), ha="center", va="bottom", fontsize=8)
    ax.set_ylim(0, (max(values) if values else 1) * 1.15)
    ax.set_xlim(-0.75, max(len(x), 4) - 0.25)  # a lone bar stays a bar, not a wall
    _integer_counts(ax.yaxis)


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _hist(ax, series: dict, bins: int = 24, title: str = "", xlabel: str = "", outline: Optional[tuple] = None) -> None:
    data = {k: v for k, v in series.items() if v}
    every = [x for v in data.values() for x in v] + (list(outline[1]) if outline else [])
    if not every:
        ax.text(0.5, 0.5, "no values", ha="center", va="center", transform=ax.transAxes, color="#888888")
        _style(ax, title, xlabel, "rows")
        return
    import numpy as np

    low, high = min(every), max(every)
    if low == high:
        low, high = low - 0.5, high + 0.5
    edges = np.linspace(low, high, bins + 1)
    colors = {"kept": KEPT, "rejected": REJECTED}
    names = list(data)
    ax.hist([data[k] for k in names], bins=edges, stacked=True, color=[colors.get(k, ACCENT) for k in names],
            label=[f"{k} ({len(data[k])})" for k in names], edgecolor="white", linewidth=0.5)
    if outline:
        ax.hist(outline[1], bins=edges, histtype="step", color="#333333", linewidth=1.2, linestyle="--",
                label=f"{outline[0]} ({len(outline[1])})")
    if len(names) > 1 or outline:
        _legend_above(ax)
    _style(ax, title, xlabel, "rows")
    _integer_counts(ax.yaxis)


def _legend_above(ax) -> None:
    """The legend right-aligned above the axes, beside the title: never over the data."""
    ax.legend(fontsize=7.5, frameon=False, loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=3,
              borderaxespad=0.2, handlelength=1.2, columnspacing=0.8)


def _integer_counts(axis) -> None:
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True))


HALF = (5.6, 3.4)  # a figure shown in half the page's width (text stays readable there)


def _figure(width: float = HALF[0], height: float = HALF[1], ncols: int = 1, nrows: int = 1):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), squeeze=False)
    return fig, [ax for row in axes for ax in row]


def draw_statuses(data: PlotData):
    n = len(data.columns)
    ncols = min(n, 4)
    nrows = -(-n // ncols)
    most = max(len(v) for v in data.values.values())
    fig, axes = _figure(11, (0.32 * most + 1.3) * nrows, ncols, nrows)
    for ax, column in zip(axes, data.columns):
        counts = data.values[column]
        _hbar(ax, counts, STATUS_COLORS, column, max_label=20, slots=most)
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig


def draw_rejections(data: PlotData):
    reasons = data.values["reasons"]
    labels = {}
    for reason, n in reasons.items():
        label = reason.removeprefix("failed: ")
        detail = data.values["details"].get(reason)
        if detail:
            label += " (" + ", ".join(f"{k} {v}" for k, v in sorted(detail.items(), key=lambda kv: -kv[1])[:3]) + ")"
        labels[label] = n
    fig, (ax,) = _figure(11, max(2.2, 0.42 * len(labels) + 1.2))
    _hbar(ax, labels, REJECTED, "Rows rejected by each filter rule, in the order the rules ran",
          max_label=90)
    return fig


def draw_lengths(data: PlotData, unit: str):
    parts = [p for p in ("instruction", "response", "base_response") if p in data.values]
    fig, axes = _figure(11, 3.4, len(parts))
    titles = {"instruction": "Queries", "response": "Answers", "base_response": "Base answers"}
    for ax, part in zip(axes, parts):
        _hist(ax, data.values[part], title=titles[part], xlabel=unit)
    return fig


def draw_task_categories(data: PlotData):
    order = data.values["order"]
    fig, (ax,) = _figure(HALF[0], max(2.4, 0.32 * len(order) + 1.2))
    y = list(range(len(order)))[::-1]
    kept = [data.values["kept"].get(k, 0) for k in order]
    ax.barh(y, kept, color=KEPT, height=0.65, label="kept")
    totals = kept
    if "rejected" in data.values:
        rejected = [data.values["rejected"].get(k, 0) for k in order]
        ax.barh(y, rejected, left=kept, color=REJECTED, height=0.65, label="rejected")
        totals = [a + b for a, b in zip(kept, rejected)]
        _legend_above(ax)
    ax.set_yticks(y, order)
    top = max(totals) if totals else 1
    for yy, v in zip(y, totals):
        ax.text(v + top * 0.01, yy, str(v), va="center", fontsize=8)
    ax.set_xlim(0, top * 1.15 + 0.5)
    _style(ax, "Task category (judge)", "rows")
    ax.grid(axis="y", visible=False)
    _integer_counts(ax.xaxis)
    return fig


def draw_difficulty_quality(data: PlotData):
    import numpy as np

    grid = np.array(data.values["grid"])
    fig, (ax,) = _figure(HALF[0], 3.6)
    ax.imshow(grid, cmap="Blues", aspect="auto", vmin=0)
    ax.set_xticks(range(len(data.values["columns"])), data.values["columns"])
    ax.set_yticks(range(len(data.values["rows"])), data.values["rows"])
    top = grid.max() if grid.size else 0
    for i in range(grid.shape[0]):
        for j in range(grid.shape[1]):
            if grid[i, j]:
                ax.text(j, i, str(grid[i, j]), ha="center", va="center", fontsize=9,
                        color="white" if grid[i, j] > top * 0.6 else "#222222")
    _style(ax, "Difficulty × input quality (judge)", "input quality", "difficulty")
    ax.grid(False)
    return fig


def draw_reward(data: PlotData):
    pairs = data.values.get("pairs") or []
    fig, axes = _figure(11 if pairs else HALF[0], 3.6, 2 if pairs else 1)
    series = {k: v for k, v in data.values.items() if k in ("kept", "rejected")}
    _hist(axes[0], series, title="Reward r* of the answers", xlabel="reward")
    if pairs:
        ax = axes[1]
        for side, color in (("kept", KEPT), ("rejected", REJECTED)):
            points = [(b, a) for b, a, s in pairs if s == side]
            if points:
                ax.scatter([p[0] for p in points], [p[1] for p in points], s=18, color=color, alpha=0.85,
                           label=f"{side} ({len(points)})", edgecolors="white", linewidths=0.4)
        low = min(min(b, a) for b, a, _ in pairs)
        high = max(max(b, a) for b, a, _ in pairs)
        pad = (high - low) * 0.05 or 0.5
        ax.plot([low - pad, high + pad], [low - pad, high + pad], color="#777777", linewidth=1, linestyle=":")
        ax.text(0.03, 0.95, "above the line: the answer beats the base answer", transform=ax.transAxes,
                fontsize=8, color="#555555", va="top")
        _legend_above(ax)
        _style(ax, "r* against r_base", "r_base (base model, URIAL prompt)",
               "r* (aligned model)")
    return fig


def draw_reward_difference(data: PlotData):
    fig, (ax,) = _figure()
    _hist(ax, data.values, title="Reward difference r* − r_base", xlabel="r* − r_base")
    ax.axvline(0, color=BAD, linewidth=1.2, linestyle="--")
    ax.text(0.0, 1.0, "  answer better than base →", transform=ax.get_xaxis_transform(), fontsize=8,
            color=BAD, va="top", ha="left")
    return fig


def draw_diversity(data: PlotData):
    parts = data.columns
    fig, axes = _figure(11, 3.6, len(parts))
    for ax, part in zip(axes, parts):
        if part == "min_neighbor_distance":
            _hist(ax, data.values[part], title="Distance to the nearest other query", xlabel="min-neighbour distance (L2)")
        else:
            counts = data.values[part]
            _bars(ax, counts, ACCENT)
            _style(ax, "Near-duplicates per row", "other rows within the threshold (repeat_count)", "rows")
            ax.grid(axis="x", visible=False)
    return fig


def draw_system_prompts(data: PlotData):
    keys = data.values["keys"]
    names = list(keys)
    fig, (ax,) = _figure(HALF[0], max(2.4, 0.4 * len(names) + 1.2))
    y = list(range(len(names)))[::-1]
    left = [0] * len(names)
    for part, color in (("usable", KEPT), ("not usable", NEUTRAL), ("rejected", REJECTED)):
        values = [keys[k][part] for k in names]
        if any(values):
            ax.barh(y, values, left=left, color=color, height=0.65, label=part)
            left = [a + b for a, b in zip(left, values)]
    ax.set_yticks(y, [_short(n, 30) for n in names])
    ax.legend(fontsize=7.5, loc="lower right", framealpha=0.9, edgecolor="#dddddd")
    _style(ax, "Rows by system prompt / domain", "rows")
    ax.grid(axis="y", visible=False)
    return fig


def draw_languages(data: PlotData):
    counts = data.values["counts"]
    fig, (ax,) = _figure(HALF[0], max(2.2, 0.3 * len(counts) + 1.2))
    _hbar(ax, counts, KEPT, "Language of the queries (ISO 639-1)")
    return fig


def draw_safety(data: PlotData):
    parts = [("labels", "Safety label (guard model)")] + (
        [("categories", "Unsafe categories")] if data.values["categories"] else [])
    fig, axes = _figure(5.5 * len(parts), 3.0, len(parts))
    for ax, (part, title) in zip(axes, parts):
        _hbar(ax, data.values[part], {"safe": OK_COLOR, "unsafe": BAD} if part == "labels" else BAD, title)
    return fig


def draw_conversations(data: PlotData):
    parts = [("turns", "User turns per conversation")] + (
        [("failed", "Where conversations ended early")] if data.values["failed"] else [])
    fig, axes = _figure(5.5 * len(parts), 3.4, len(parts))
    for ax, (part, title) in zip(axes, parts):
        if part == "turns":
            _bars(ax, data.values["turns"], KEPT)
            _style(ax, title, "user turns", "conversations")
            ax.grid(axis="x", visible=False)
        else:
            _hbar(ax, data.values["failed"], BAD, title, "conversations")
    return fig


def draw_preferences(data: PlotData):
    pairs = data.values["pairs"]
    fig, axes = _figure(11 if pairs else HALF[0], 3.6, 2 if pairs else 1)
    _hist(axes[0], {"pairs": data.values["margin"]}, title="Reward margin (chosen − rejected)", xlabel="margin")
    if pairs:
        ax = axes[1]
        ax.scatter([p[1] for p in pairs], [p[0] for p in pairs], s=14, color=KEPT, alpha=0.8)
        low = min(min(p) for p in pairs)
        high = max(max(p) for p in pairs)
        ax.plot([low, high], [low, high], color="#999999", linewidth=1, linestyle=":")
        _style(ax, "Chosen vs rejected score", "rejected score", "chosen score")
    return fig


def draw_reasoning(data: PlotData):
    fig, (ax,) = _figure()
    _hist(ax, {"reasoning": data.values["lengths"]}, title="Reasoning length", xlabel="characters")
    return fig


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
DRAW: dict[str, Callable[[PlotData], Any]] = {  # plot key -> figure of its data
    "statuses": draw_statuses, "rejections": draw_rejections,
    "lengths_chars": lambda d: draw_lengths(d, "characters"), "lengths_tokens": lambda d: draw_lengths(d, "tokens"),
    "task_categories": draw_task_categories, "difficulty_quality": draw_difficulty_quality, "reward": draw_reward,
    "reward_difference": draw_reward_difference, "diversity": draw_diversity, "system_prompts": draw_system_prompts,
    "languages": draw_languages, "safety": draw_safety, "conversations": draw_conversations,
    "preferences": draw_preferences, "reasoning": draw_reasoning,
}


def render_all(run: RunData) -> list[Rendered]:
    """Every plot of the report: its data and PNG, or why it was skipped."""
    import io

    import matplotlib.pyplot as plt

    out = []
    for plot in PLOTS:
        result = plot.compute(run)
        if isinstance(result, Skip):
            out.append(Rendered(plot, skipped=result.reason))
            continue
        fig = DRAW[plot.key](result)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=110, facecolor="white")
        plt.close(fig)
        out.append(Rendered(plot, data=result, png=buffer.getvalue()))
    return out
