"""The table of Magpie SFT runs for docs/real-models.md: per run, accepted rows, answers that ended
by themselves (not cut at the token budget or a loop), mean tokens, tokens/s, distinct openings, then the
first rows of each run as they came out (flagged ones included: a sample, not a selection).

    python benchmarks/sft_table.py data/sft-qwen-default/* data/sft-qwen-paper/* [--examples 10]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from distilabel_magpie.compare.metrics import run_metrics
from distilabel_magpie.report.source import load_source


def _cell(text, limit: int = 160) -> str:
    if not isinstance(text, str) or not text.strip():
        return "–"
    flat = " ".join(text.split())
    flat = flat if len(flat) <= limit else flat[:limit] + " …"
    return flat.replace("|", "\\|")


def _mean(value) -> str:
    return f"{value['mean']:.0f}" if value else "–"


def summary_line(name: str, folder: Path) -> tuple[str, list[dict]]:
    run = load_source(folder)
    m = run_metrics(run, None)
    rows = sorted(run.all_rows, key=lambda r: r.get("row_index", 0))
    answered = [r for r in rows if r.get("response") is not None]
    ended = sum(r.get("response_status") not in ("truncated", "repetitive") for r in answered)
    ok_queries = sum(r.get("instruction_status") == "ok" for r in rows)
    line = (f"| {name} | {len(rows)} | {ok_queries} | {m['accepted']} | {ended} / {len(answered)} | "
            f"{_mean(m['query_tokens'])} | {_mean(m['answer_tokens'])} | {m['tokens_per_s'] or 0:.1f} | "
            f"{m['wall_seconds'] or 0:.0f} | {m['distinct_openings'] or 0} |")
    return line, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="SaveDataset folders")
    parser.add_argument("--examples", type=int, default=10, help="rows shown per run")
    args = parser.parse_args()
    out = ["| run | rows | `ok` queries | accepted (query and answer `ok`) | answers ended by themselves | "
           "query tokens (mean, accepted) | answer tokens (mean, accepted) | tokens / s | wall s | "
           "distinct first-four-word openings (accepted) |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    blocks = []
    for folder in args.runs:
        name = f"{folder.parent.name}/{folder.name.replace('magpie_sft.', '')}"
        line, rows = summary_line(name, folder)
        out.append(line)
        blocks.append("\n".join(
            [f"**{name}**", "", "| # | query status | query | answer status | answer |", "|---:|---|---|---|---|"]
            + [f"| {r.get('row_index')} | {r.get('instruction_status')} | {_cell(r.get('instruction'))} | "
               f"{r.get('response_status') or '–'} | {_cell(r.get('response'))} |" for r in rows[:args.examples]]))
    print("\n".join(out) + "\n\n" + "\n\n".join(blocks))


if __name__ == "__main__":
    main()
