"""The numbers of a run: row and status counts, lengths of usable rows, reasoning."""

from __future__ import annotations

import collections
import statistics
from typing import Optional

from distilabel_magpie.storage.columns import STATUS_COLUMNS


def summarise(rows: list[dict], rejected: Optional[list[dict]] = None) -> dict:
    """Counts and length statistics of a run (`rejected`: the rows a filter dropped)."""
    summary: dict = {"rows": len(rows)}
    if rejected:
        summary["rejected"] = {"rows": len(rejected), "reasons": dict(collections.Counter(
            str(r.get("drop_reason")) for r in rejected).most_common())}
    for column in (*STATUS_COLUMNS, "system_prompt_key", "template", "model_name", "base_model_name", "judge_model",
                   "reward_model"):
        values = [r.get(column) for r in rows if column in r]
        if values:
            summary[column] = dict(collections.Counter(map(str, values)).most_common())
    usable = [r for r in rows if r.get("instruction_status") == "ok" and r.get("response_status", "ok") == "ok"]
    summary["usable_rows"] = len(usable)
    for column in ("instruction", "response"):
        lengths = [len(r[column]) for r in usable if r.get(column)]
        if lengths:
            summary[f"{column}_chars"] = {"mean": round(statistics.fmean(lengths), 1),
                                          "median": statistics.median(lengths), "max": max(lengths)}
    checked = contamination(rows + (rejected or []))
    if checked:
        summary["contamination"] = checked
    reasoning = _reasoning(rows)
    if reasoning:
        summary["reasoning"] = reasoning
    return summary


def contamination(rows: list[dict]) -> dict:
    """Decontaminate: rows checked, contaminated, and contaminated per benchmark (kept or dropped)."""
    checked = [r for r in rows if r.get("contamination_status") in ("ok", "contaminated")]
    if not checked:
        return {}
    per = collections.Counter(str(r.get("contamination_benchmark")) for r in checked
                              if r["contamination_status"] == "contaminated")
    return {"checked": len(checked), "contaminated": sum(per.values()), "per_benchmark": dict(per.most_common())}


def _reasoning(rows: list[dict]) -> dict:
    """Reasoning models: how long the reasoning is (answers and assistant turns that have one) and
    how many answers ran out of tokens while still reasoning. Empty for runs without reasoning."""
    texts = [r["reasoning"] for r in rows if isinstance(r.get("reasoning"), str)]
    texts += [m["reasoning_content"] for r in rows for m in (r.get("messages") or [])
              if isinstance(m, dict) and isinstance(m.get("reasoning_content"), str)]
    truncated = sum(1 for r in rows if r.get("response_status") == "reasoning_truncated")
    truncated += sum(1 for r in rows if r.get("failure_reason") == "response_reasoning_truncated")
    if not texts and not truncated:
        return {}
    lengths = [len(t) for t in texts]
    out: dict = {"with_reasoning": len(texts), "reasoning_truncated": truncated}
    if lengths:
        out["reasoning_chars"] = {"mean": round(statistics.fmean(lengths), 1), "median": statistics.median(lengths),
                                  "max": max(lengths)}
    return out
