"""The numbers of a comparison (`compare.json`): per run, rates and means with bootstrap intervals,
distributions, settings, throughput. Every per-row number is a rate or a mean, so runs of
different sizes compare; each mean carries its interval so a reader sees which differences are noise.

Rows: every row the run made (kept and rejected) counts for statuses and the accepted rate;
lengths, diversity, judge tags and rewards are read from the accepted rows (every status `ok`)
of the kept dataset."""

from __future__ import annotations

import collections
import json
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

import numpy as np

from distilabel_magpie.compare import stats
from distilabel_magpie.report.plots import DIFFICULTY, QUALITY, instruction_text, response_text, token_counts
from distilabel_magpie.report.source import RunData
from distilabel_magpie.storage.columns import accepted_row

EmbedFn = Callable[[list], np.ndarray]  # texts -> one vector per text
NEAR_DISTANCE = 0.05  # an accepted query this close (cosine) to another "has a near-duplicate"
MND_BINS = 20
# Paths differ between any two runs; they are shown, not highlighted.
_PATH_SETTINGS = (".output_dir", ".rejected_from", ".dropped_path")
ABSENT = "(absent)"


@dataclass
class Run:
    """One run to compare: its rows and what it was asked to do."""

    name: str
    data: RunData
    settings: Optional[dict] = None
    settings_source: str = ""
    extra: dict = field(default_factory=dict)


@dataclass
class Metric:
    key: str
    label: str
    group: str
    kind: str = "mean"  # "mean": {mean, low, high, n}; "count"; "ratio"; "value"


METRICS = [
    Metric("rows", "rows made (kept + rejected)", "Rows", "count"),
    Metric("accepted", "accepted rows (every status ok)", "Rows", "count"),
    Metric("accepted_rate", "accepted rate", "Rows"),
    Metric("query_tokens", "query length, tokens", "Lengths"),
    Metric("answer_tokens", "answer length, tokens", "Lengths"),
    Metric("query_chars", "query length, characters", "Lengths"),
    Metric("answer_chars", "answer length, characters", "Lengths"),
    Metric("mnd", "min-neighbour distance (cosine)", "Diversity"),
    Metric("mnd_median", "min-neighbour distance, median", "Diversity", "value"),
    Metric("near_duplicate_rate", f"near-duplicate share (MND ≤ {NEAR_DISTANCE})", "Diversity"),
    Metric("repeated_queries", "queries repeating an earlier one (all rows)", "Diversity", "count"),
    Metric("repeat_rate", "repeat rate (all rows)", "Diversity"),
    Metric("distinct_openings", "distinct first-four-word openings", "Diversity", "count"),
    Metric("openings_ratio", "distinct openings per query", "Diversity", "ratio"),
    Metric("query_distinct_1", "distinct-1, queries", "Diversity", "ratio"),
    Metric("query_distinct_2", "distinct-2, queries", "Diversity", "ratio"),
    Metric("answer_distinct_1", "distinct-1, answers", "Diversity", "ratio"),
    Metric("answer_distinct_2", "distinct-2, answers", "Diversity", "ratio"),
    Metric("quality", "quality (1 very poor … 5 excellent)", "Judge tags"),
    Metric("quality_rating", "quality, expected rating (1 … 5, the judge's label probabilities)", "Judge tags"),
    Metric("difficulty", "difficulty (1 very easy … 5 very hard)", "Judge tags"),
    Metric("reward", "reward", "Rewards"),
    Metric("reward_difference", "reward difference r* − r_base", "Rewards"),
    Metric("reward_difference_positive", "share with r* > r_base", "Rewards"),
    Metric("wall_seconds", "wall seconds", "Throughput", "value"),
    Metric("tokens_per_s", "tokens / s", "Throughput", "value"),
    Metric("rows_per_hour", "rows / hour", "Throughput", "value"),
    Metric("accepted_rows_per_hour", "accepted rows / hour", "Throughput", "value"),
]
LABELS = {"quality": QUALITY, "difficulty": DIFFICULTY}


def _numbers(rows: Sequence[dict], column: str) -> list[float]:
    return [float(r[column]) for r in rows if isinstance(r.get(column), (int, float))
            and not isinstance(r.get(column), bool) and math.isfinite(r[column])]


def _texts(rows: Sequence[dict], get: Callable[[dict], Optional[str]]) -> list[str]:
    return [t for r in rows if (t := get(r)) and t.strip()]


def _ordinal(rows: Sequence[dict], column: str) -> list[float]:
    """Judge labels as 1..5 on their scale (QUALITY, DIFFICULTY)."""
    scale = LABELS[column]
    return [float(scale.index(r[column]) + 1) for r in rows if r.get(column) in scale]


def run_metrics(run: RunData, mnd: Optional[np.ndarray], seed: int = stats.SEED,
                resamples: int = stats.RESAMPLES) -> dict[str, Any]:
    """The METRICS of one run (None where the run has nothing to compute it from); `mnd`: the
    min-neighbour distances of its accepted queries (None: not computed)."""
    def mean(values: Sequence[float]) -> Optional[dict]:
        return stats.bootstrap_mean(values, seed=seed, resamples=resamples)

    every = run.all_rows
    accepted = [r for r in run.rows if accepted_row(r)]
    out: dict[str, Any] = {"rows": len(every), "accepted": len(accepted)}
    out["accepted_rate"] = mean([1.0 if accepted_row(r) else 0.0 for r in run.rows] + [0.0] * len(run.rejected))
    tokens = [token_counts(r) for r in accepted]
    out["query_tokens"] = mean([t["instruction"] for t in tokens if "instruction" in t])
    out["answer_tokens"] = mean([t["response"] for t in tokens if "response" in t])
    queries = _texts(accepted, instruction_text)
    answers = _texts(accepted, response_text)
    out["query_chars"] = mean([len(t) for t in queries])
    out["answer_chars"] = mean([len(t) for t in answers])
    finite = [float(d) for d in (mnd if mnd is not None else []) if math.isfinite(d)]
    out["mnd"] = mean(finite) if mnd is not None else None
    out["mnd_median"] = stats.rounded(float(np.median(finite))) if finite else None
    out["near_duplicate_rate"] = mean([1.0 if d <= NEAR_DISTANCE else 0.0 for d in finite]) if mnd is not None else None
    made = _texts(every, instruction_text)
    flags = stats.repeat_flags(made)
    out["repeated_queries"] = sum(flags) if made else None
    out["repeat_rate"] = mean([1.0 if f else 0.0 for f in flags])
    openings = stats.distinct_openings(queries) if queries else None
    out["distinct_openings"] = openings["distinct"] if openings else None
    out["openings_ratio"] = openings["ratio"] if openings else None
    for n in (1, 2):
        out[f"query_distinct_{n}"] = stats.distinct_n(queries, n)
        out[f"answer_distinct_{n}"] = stats.distinct_n(answers, n)
    out["quality"] = mean(_ordinal(accepted, "quality"))
    out["quality_rating"] = mean(_numbers(accepted, "quality_rating"))
    out["difficulty"] = mean(_ordinal(accepted, "difficulty"))
    out["reward"] = mean(_numbers(accepted, "reward"))
    differences = _numbers(accepted, "reward_difference")
    out["reward_difference"] = mean(differences)
    out["reward_difference_positive"] = mean([1.0 if d > 0 else 0.0 for d in differences])
    speed = (run.summary or {}).get("throughput") or {}
    for key in ("wall_seconds", "tokens_per_s", "rows_per_hour", "accepted_rows_per_hour"):
        out[key] = speed.get(key) if isinstance(speed.get(key), (int, float)) else None
    return out


def distributions(run: RunData) -> dict[str, dict[str, int]]:
    """Counts by label: statuses (every row) and judge tags (accepted rows)."""
    every = run.all_rows
    accepted = [r for r in run.rows if accepted_row(r)]
    out: dict[str, dict[str, int]] = {}
    for column in ("instruction_status", "response_status", "conversation_status"):
        values = [str(r[column]) for r in every if r.get(column) is not None]
        if values:
            out[column] = dict(collections.Counter(values).most_common())
    if run.rejected:
        out["kept_or_rejected"] = {"kept": len(run.rows), "rejected": len(run.rejected)}
    for column, order in (("quality", QUALITY), ("difficulty", DIFFICULTY)):
        counts = collections.Counter(r[column] for r in accepted if r.get(column) in order)
        if counts:
            out[column] = {label: counts.get(label, 0) for label in order}
    categories = collections.Counter(str(r["task_category"]) for r in accepted if r.get("task_category"))
    if categories:
        out["task_category"] = dict(categories.most_common())
    return out


def compare_settings(runs: Sequence[Run]) -> dict:
    """Every setting of every run (ABSENT where a run has none of that name) and the names whose
    values differ between the runs that recorded settings (paths aside)."""
    recorded = [r.settings for r in runs if r.settings is not None]
    names: list[str] = []
    for settings in recorded:
        names += [k for k in settings if k not in names]
    values = {k: [(r.settings.get(k, ABSENT) if r.settings is not None else None) for r in runs] for k in names}
    differ = [k for k in names if not k.endswith(_PATH_SETTINGS) and len(recorded) > 1
              and len({json.dumps(s.get(k, ABSENT), sort_keys=True, default=str) for s in recorded}) > 1]
    return {"recorded": [r.settings is not None for r in runs], "sources": [r.settings_source for r in runs],
            "differ": differ, "values": values}


def versus_first(metrics: list[dict]) -> dict[str, list[Optional[str]]]:
    """Per mean metric and run: "higher" / "lower" where its interval lies wholly above / below the
    first run's, "overlap" where they overlap (the difference may be noise), None without both."""
    out: dict[str, list[Optional[str]]] = {}
    for metric in METRICS:
        if metric.kind != "mean":
            continue
        first = metrics[0].get(metric.key)
        marks: list[Optional[str]] = [None]
        for m in metrics[1:]:
            other = m.get(metric.key)
            if not first or not other:
                marks.append(None)
            elif other["low"] > first["high"]:
                marks.append("higher")
            elif other["high"] < first["low"]:
                marks.append("lower")
            else:
                marks.append("overlap")
        out[metric.key] = marks
    return out


def mnd_histogram(mnds: Sequence[Optional[np.ndarray]]) -> Optional[dict]:
    """MND counts per run on shared bins (0 to the largest distance, at least 1)."""
    finite = [[float(d) for d in m if math.isfinite(d)] if m is not None else [] for m in mnds]
    if not any(finite):
        return None
    high = max(1.0, math.ceil(max(max(f) for f in finite if f) * 10) / 10)
    edges = [round(high * i / MND_BINS, 6) for i in range(MND_BINS + 1)]
    return {"edges": edges, "counts": [stats.histogram(f, 0.0, high, MND_BINS) if f else None for f in finite]}


def compare(runs: Sequence[Run], embed: Optional[EmbedFn], embedder: Optional[str] = None,
            seed: int = stats.SEED, resamples: int = stats.RESAMPLES) -> dict:
    """The whole comparison (what `compare.json` holds). `embed`: texts -> vectors, the same for
    every run (None: no MND); `embedder`: its name, for the record."""
    mnds: list[Optional[np.ndarray]] = [None] * len(runs)
    if embed is not None:
        per_run = [_texts([r for r in run.data.rows if accepted_row(r)], instruction_text) for run in runs]
        unique = sorted({t for texts in per_run for t in texts})
        vectors = dict(zip(unique, np.asarray(embed(unique)))) if unique else {}
        mnds = [stats.min_neighbour_distances(np.stack([vectors[t] for t in texts])) if texts else np.zeros(0)
                for texts in per_run]
    metrics = [run_metrics(run.data, mnd, seed, resamples) for run, mnd in zip(runs, mnds)]
    return {
        "runs": [{"name": r.name, "source": r.data.source, "kind": r.data.kind, **r.extra} for r in runs],
        "embedder": embedder if embed is not None else None,
        "bootstrap": {"seed": seed, "resamples": resamples, "level": stats.LEVEL},
        "near_distance": NEAR_DISTANCE,
        "metrics": {m.key: [values[m.key] for values in metrics] for m in METRICS},
        "versus_first": versus_first(metrics),
        "distributions": [distributions(run.data) for run in runs],
        "mnd_histogram": mnd_histogram(mnds),
        "settings": compare_settings(runs),
    }
