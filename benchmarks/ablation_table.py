"""The table of a sweep for docs/ablation.md: one row per cell, from the sweep's compare.json.

    python benchmarks/ablation_table.py data/ablation-qwen [data/template-qwen ...]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def mean(value) -> str:
    if not value:
        return "–"
    return f"{value['mean']:.3f} ({value['low']:.3f}–{value['high']:.3f})"


def judged(value) -> str:
    return f"{mean(value)} n={value['n']}" if value else "–"


def table(folder: Path) -> str:
    data = json.loads((folder / "compare.json").read_text())
    m = data["metrics"]
    lines = [f"{folder.name} (embedder: {data['embedder']}; 95% bootstrap intervals, seed "
             f"{data['bootstrap']['seed']})", "",
             "| cell | rows | accepted rate | query tokens | MND (cosine) | near-duplicates | openings / query | "
             "distinct-2 | quality (label) | quality (expected rating) | difficulty | wall s |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for i, run in enumerate(data["runs"]):
        cell = run["name"].replace("magpie_sampler.", "")
        lines.append(
            f"| {cell} | {m['rows'][i]} | {mean(m['accepted_rate'][i])} | {mean(m['query_tokens'][i])} | "
            f"{mean(m['mnd'][i])} | {mean(m['near_duplicate_rate'][i])} | {m['openings_ratio'][i] or 0:.2f} | "
            f"{m['query_distinct_2'][i] or 0:.2f} | {judged(m['quality'][i])} | {judged((m.get('quality_rating') or [None] * len(data['runs']))[i])} | {judged(m['difficulty'][i])} | "
            f"{m['wall_seconds'][i] or 0:.0f} |")
    statuses = [", ".join(f"{k} {v}" for k, v in d.get("instruction_status", {}).items())
                for d in data["distributions"]]
    lines += [""] + [f"- {run['name'].replace('magpie_sampler.', '')}: {s}" for run, s in zip(data["runs"], statuses)]
    return "\n".join(lines)


if __name__ == "__main__":
    print("\n\n".join(table(Path(arg)) for arg in sys.argv[1:]))
