"""A run report: statistics and plots of a dataset folder written by `SaveDataset`."""

from __future__ import annotations

import collections
import json
import statistics
from pathlib import Path

from distilabel_magpie.errors import MagpieError


def load_rows(dataset_dir: str | Path) -> list[dict]:
    path = Path(dataset_dir) / "data.jsonl"
    if not path.is_file():
        raise MagpieError(f"{path} not found; point at a folder written by SaveDataset (e.g. data/magpie-sft)")
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise MagpieError(f"{path}, line {number}: not valid JSON ({e.msg}); the file is damaged or was not "
                              "written by SaveDataset") from None
        if not isinstance(row, dict):
            raise MagpieError(f"{path}, line {number}: a JSON {type(row).__name__}, not a row object; the file "
                              "was not written by SaveDataset")
        rows.append(row)
    return rows


def _tokens(rows: list[dict], suffix: str) -> list[int]:
    out = []
    for row in rows:
        for key, value in (row.get("distilabel_metadata") or {}).items():
            if key.startswith("statistics_") and key.endswith(suffix) and isinstance(value, dict):
                out.append(int(value.get("output_tokens") or 0))
    return out


def summarise(rows: list[dict]) -> dict:
    """Counts and length statistics of a run."""
    summary: dict = {"rows": len(rows)}
    for column in ("instruction_status", "response_status", "system_prompt_key", "template", "model_name"):
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
    reasoning = _reasoning(rows)
    if reasoning:
        summary["reasoning"] = reasoning
    return summary


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


def write_report(dataset_dir: str | Path) -> Path:
    """Writes `report.md` and PNG plots next to the data; returns the report's path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(dataset_dir)
    rows = load_rows(out)
    summary = summarise(rows)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for ax, column in zip(axes[:2], ("instruction_status", "response_status")):
        counts = summary.get(column, {})
        ax.bar(list(counts), list(counts.values()), color="#4c72b0")
        ax.set_title(column)
        ax.tick_params(axis="x", rotation=30)
    for column, color in (("instruction", "#55a868"), ("response", "#c44e52")):
        lengths = [len(r[column]) for r in rows if r.get(column)]
        if lengths:
            axes[2].hist(lengths, bins=30, alpha=0.6, label=column, color=color)
    axes[2].set_title("length (characters)")
    axes[2].legend()
    fig.tight_layout()
    fig.savefig(out / "report.png", dpi=90)
    plt.close(fig)

    lines = [f"# Run report: {out}", "", "![statistics](report.png)", "", "```json",
             json.dumps(summary, indent=2, ensure_ascii=False), "```", ""]
    usable = [r for r in rows if r.get("instruction_status") == "ok" and r.get("response_status") == "ok"]
    if usable:
        lines += ["## Examples", ""]
        for row in usable[:5]:
            lines += [f"**Q:** {row['instruction'][:300]}", "", f"**A:** {(row.get('response') or '')[:500]}", ""]
    path = out / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
