"""The report page: one self-contained HTML file (plots inline as PNG data URIs). Every value taken
from the data is escaped, so a generated text holding markup shows as that text."""

from __future__ import annotations

import base64
import datetime as dt
import json
from html import escape
from typing import Any, Optional

from distilabel_magpie.report.plots import Rendered, instruction_text, response_text
from distilabel_magpie.report.source import RunData
from distilabel_magpie.report.summary import contamination
from distilabel_magpie.storage.columns import STATUS_COLUMNS

SAMPLE_KEPT = 8
SAMPLE_REJECTED = 6
CELL_CHARS = 480
# Shown in the sample table's "tags and scores" cell, in this order, when a row has them.
SCORE_COLUMNS = ("quality", "difficulty", "task_category", "language", "safety", "reward", "reward_base",
                 "reward_difference", "min_neighbor_distance", "repeat_count", "lexical_cluster_size", "margin",
                 "chosen_score", "rejected_score", "contamination_ratio", "contamination_item")

CSS = """
:root { --ink: #1f2328; --muted: #5c6470; --line: #e3e6ea; --kept: #3b6ea8; --rejected: #e0933a; --bg: #f6f7f9; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
       background: var(--bg); }
main { max-width: 1180px; margin: 0 auto; padding: 28px 24px 60px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 36px 0 12px; padding-bottom: 6px; border-bottom: 1px solid var(--line); }
.sub { color: var(--muted); margin: 0 0 18px; word-break: break-all; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(160px, 1fr)); gap: 12px; margin: 18px 0; }
.card { background: white; border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
.card .n { font-size: 24px; font-weight: 600; }
.card .l { color: var(--muted); font-size: 12px; }
.models { color: var(--muted); margin: -4px 0 8px; word-break: break-all; }
.models b { color: var(--ink); font-weight: 600; }
.card.kept .n { color: var(--kept); } .card.rejected .n { color: var(--rejected); }
.grid { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
figure { margin: 0; background: white; border: 1px solid var(--line); border-radius: 8px; padding: 12px; }
figure.wide { grid-column: 1 / -1; }
figure img { width: 100%; height: auto; display: block; }
figcaption { color: var(--muted); font-size: 12.5px; margin-top: 6px; }
figcaption b { color: var(--ink); font-weight: 600; }
.skipped { color: var(--muted); font-size: 13px; margin: 10px 0 0; padding-left: 18px; }
.skipped li { margin: 2px 0; }
table { border-collapse: collapse; width: 100%; background: white; border: 1px solid var(--line); font-size: 13px; }
th, td { text-align: left; vertical-align: top; padding: 7px 9px; border-bottom: 1px solid var(--line); }
th { background: #fafbfc; font-weight: 600; color: var(--muted); font-size: 12px; }
table.samples { table-layout: fixed; }
td.text { white-space: pre-wrap; overflow-wrap: anywhere; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.more { color: var(--muted); font-style: italic; }
.pill { display: inline-block; border-radius: 10px; padding: 0 7px; font-size: 11.5px; margin: 1px 2px 1px 0;
        background: #eef1f4; color: #333; white-space: nowrap; }
.pill.ok { background: #e3f1e6; color: #2d6a3a; } .pill.bad { background: #fbe9e4; color: #9a3b22; }
.pill.reject { background: #fdf0df; color: #8a5412; }
table.samples .pill { white-space: normal; overflow-wrap: anywhere; }
tr.rejected td:first-child { border-left: 3px solid var(--rejected); }
tr.kept td:first-child { border-left: 3px solid var(--kept); }
details { margin-top: 10px; } summary { cursor: pointer; color: var(--muted); }
pre { background: white; border: 1px solid var(--line); padding: 12px; overflow-x: auto; font-size: 12px; }
"""


def _cell(value: Any, limit: int = CELL_CHARS) -> str:
    if value is None:
        return '<span class="more">—</span>'
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    if len(text) <= limit:
        return escape(text)
    return f'{escape(text[:limit])}<span class="more">… (+{len(text) - limit} characters)</span>'


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1e4 else f"{value:.0f}"
    return escape(str(value))


def _pills(row: dict) -> str:
    """The statuses that are not ok (one "all ok" when none), and the rule that dropped the row."""
    out, good = [], 0
    for column in STATUS_COLUMNS:
        value = row.get(column)
        if not isinstance(value, str):
            continue
        if value in ("ok", "created", "updated"):
            good += 1
            continue
        kind = "" if value == "skipped" else "bad"
        out.append(f'<span class="pill {kind}">{escape(column.removesuffix("_status"))}: {escape(value)}</span>')
    if good and not out:
        out.append('<span class="pill ok">all ok</span>')
    if row.get("drop_reason"):
        out.append(f'<span class="pill reject">{escape(str(row["drop_reason"]))}</span>')
    return "".join(out) or '<span class="more">—</span>'


def _scores(row: dict) -> str:
    parts = []
    for column in SCORE_COLUMNS:
        value = row.get(column)
        if value is None or isinstance(value, (list, dict)):
            continue
        parts.append(f'<span class="pill">{escape(column)}: {_number(value)}</span>')
    return "".join(parts) or '<span class="more">—</span>'


def sample_rows(run: RunData) -> list[tuple[str, dict]]:
    return [("kept", r) for r in run.rows[:SAMPLE_KEPT]] + [("rejected", r) for r in run.rejected[:SAMPLE_REJECTED]]


def _sample_table(run: RunData) -> str:
    samples = sample_rows(run)
    if not samples:
        return '<p class="sub">The run has no rows.</p>'
    base = any("base_response" in r for _, r in samples)
    head = ["", "instruction", "response"] + (["base response"] if base else []) + ["tags and scores", "status"]
    widths = [3, 21, 28] + ([19] if base else []) + [17, 12]
    if not base:
        widths[2] += 20
    cols = "".join(f'<col style="width:{w}%">' for w in widths)
    lines = [f'<table class="samples"><colgroup>{cols}</colgroup><thead><tr>'
             + "".join(f"<th>{escape(h)}</th>" for h in head) + "</tr></thead><tbody>"]
    for number, (side, row) in enumerate(samples, 1):
        cells = [f'<td class="num">{number}</td>', f'<td class="text">{_cell(instruction_text(row))}</td>',
                 f'<td class="text">{_cell(response_text(row))}</td>']
        if base:
            cells.append(f'<td class="text">{_cell(row.get("base_response"))}</td>')
        cells += [f"<td>{_scores(row)}</td>", f"<td>{_pills(row)}</td>"]
        lines.append(f'<tr class="{side}">' + "".join(cells) + "</tr>")
    lines.append("</tbody></table>")
    return "\n".join(lines)


def _columns_table(run: RunData) -> str:
    rows = run.all_rows
    columns: dict[str, int] = {}
    for row in rows:
        for key, value in row.items():
            columns[key] = columns.get(key, 0) + (value is not None)
    body = "".join(f'<tr><td><code>{escape(k)}</code></td><td class="num">{v}</td><td class="num">{len(rows)}</td></tr>'
                   for k, v in columns.items())
    return ("<details><summary>Columns: " + escape(str(len(columns))) + " (filled rows of each)</summary>"
            "<table><thead><tr><th>column</th><th>with a value</th><th>rows</th></tr></thead><tbody>"
            + body + "</tbody></table></details>")


def _cards(run: RunData) -> str:
    total = len(run.rows) + len(run.rejected)
    usable = sum(1 for r in run.all_rows if r.get("instruction_status", "ok") == "ok"
                 and r.get("response_status", "ok") == "ok")
    cards = [("rows generated", total, ""), ("kept in the dataset", len(run.rows), "kept")]
    if run.rejected:
        cards.append(("rejected by the filter", len(run.rejected), "rejected"))
    cards.append(("query and answer ok", usable, ""))
    checked = contamination(run.all_rows)  # Decontaminate: contaminated rows per benchmark, kept or dropped
    if checked:
        cards += [(f"contaminated: {name}", n, "rejected") for name, n in checked["per_benchmark"].items()] or [
            (f"contaminated (of {checked['checked']} checked)", 0, "")]
    html = [f'<div class="card {kind}"><div class="n">{escape(str(value))}</div><div class="l">{escape(label)}</div>'
            "</div>" for label, value, kind in cards]
    models = []
    for column, label in (("model_name", "model"), ("base_model_name", "base model"), ("judge_model", "judge"),
                          ("reward_model", "reward model")):
        names = sorted({str(r[column]) for r in run.all_rows if r.get(column)})
        if names:
            models.append(f"<b>{escape(label)}</b> {escape(', '.join(_stand_in(n) for n in names))}")
    line = f'<p class="models">{" · ".join(models)}</p>' if models else ""
    return '<div class="cards">' + "".join(html) + "</div>" + line


def _stand_in(model: str) -> str:
    """Models that only stand in for a real one say so where the run names its models."""
    from distilabel_magpie.scoring.tiny import TINY_REWARD_MODEL  # only runs with a reward model pay the import

    if model == TINY_REWARD_MODEL:
        return f"{model} (a stand-in: tiny random weights, meaningless scores)"
    return model


def _figure(item: Rendered, file_name: str) -> str:
    plot, data = item.plot, item.data
    assert item.png is not None and data is not None
    uri = "data:image/png;base64," + base64.b64encode(item.png).decode("ascii")
    caption = [f"<b>{escape(plot.title)}</b> — from {escape(plot.reads)}."]
    if plot.caption:
        caption.append(escape(plot.caption))
    if data.note:
        caption.append(escape(data.note))
    caption.append(f'<a href="{escape(file_name)}">PNG</a>')
    return (f'<figure class="{"wide" if plot.wide else ""}" id="{escape(plot.key)}">'
            f'<img alt="{escape(plot.title)}" src="{uri}"><figcaption>{" ".join(caption)}</figcaption></figure>')


def render_html(run: RunData, rendered: list[Rendered], files: dict[str, str], title: Optional[str] = None,
                summary: Optional[dict] = None) -> str:
    """The page. `files`: plot key -> PNG file name relative to the page."""
    title = title or f"Run report: {run.source}"
    sections: dict[str, list[Rendered]] = {}
    for item in rendered:
        sections.setdefault(item.plot.section, []).append(item)
    body = [f"<h1>{escape(title)}</h1>",
            f'<p class="sub">{escape(run.kind)}: {escape(run.source)} · written '
            f'{escape(dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))}</p>', _cards(run)]
    speed = (run.summary or {}).get("throughput")
    if isinstance(speed, dict) and "wall_seconds" in speed:
        body.append(f'<p class="sub">Throughput: {speed["wall_seconds"]:.0f} s wall time, {speed["tokens_per_s"]:.1f} '
                    f'tokens/s, {speed["rows_per_hour"]:.0f} rows/hour, {speed["accepted_rows_per_hour"]:.0f} '
                    'accepted rows/hour</p>')
    for section, items in sections.items():
        shown = [i for i in items if i.png is not None]
        skipped = [i for i in items if i.skipped]
        body.append(f"<h2>{escape(section)}</h2>")
        if shown:
            body.append('<div class="grid">' + "".join(_figure(i, files[i.plot.key]) for i in shown) + "</div>")
        if skipped:
            body.append('<ul class="skipped">' + "".join(
                f"<li><b>{escape(i.plot.title)}</b> skipped because {escape(i.skipped)}.</li>" for i in skipped)
                + "</ul>")
    body.append("<h2>Sample rows</h2>")
    body.append(f'<p class="sub">The first {SAMPLE_KEPT} kept rows'
                + (f" and the first {SAMPLE_REJECTED} rejected ones (orange edge), with the rule that dropped them"
                   if run.rejected else "") + f"; long texts are cut at {CELL_CHARS} characters.</p>")
    body.append(_sample_table(run))
    body.append(_columns_table(run))
    if summary:
        body.append("<details><summary>Summary (summary.json)</summary><pre>"
                    + escape(json.dumps(summary, indent=2, ensure_ascii=False, default=str)) + "</pre></details>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{escape(title)}</title><style>{CSS}</style></head><body><main>\n"
            + "\n".join(body) + "\n</main></body></html>\n")
