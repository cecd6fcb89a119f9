"""The comparison page: one self-contained HTML file (plots inline), runs side by side. Every value
taken from the runs (names, settings, texts) is escaped."""

from __future__ import annotations

import base64
import datetime as dt
import json
from html import escape
from typing import Any, Optional, Sequence

from distilabel_magpie.compare.figures import run_color
from distilabel_magpie.compare.metrics import ABSENT, METRICS, Run
from distilabel_magpie.report.html import CSS as REPORT_CSS
from distilabel_magpie.report.html import _cell
from distilabel_magpie.report.plots import instruction_text, response_text
from distilabel_magpie.storage.columns import accepted_row

SAMPLES = 5
SAMPLE_CHARS = 360
MARKS = {"higher": ("▲", "interval wholly above #1's"), "lower": ("▼", "interval wholly below #1's")}

CSS = REPORT_CSS + """
main { max-width: 1400px; }
td.diff { background: #fff4d6; } tr.diff td:first-child { font-weight: 600; }
td.mean { white-space: nowrap; font-variant-numeric: tabular-nums; }
.ci { color: var(--muted); font-size: 12px; }
.mark { font-weight: 700; margin-left: 3px; } .mark.higher { color: #2d6a3a; } .mark.lower { color: #9a3b22; }
tr.group th { background: #eef1f4; color: var(--ink); }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 5px; }
table.side td { vertical-align: top; }
table.runs td, table.settings td { overflow-wrap: anywhere; }
.note { color: var(--muted); margin: 0 0 14px; }
.sample { border-bottom: 1px dashed var(--line); padding: 6px 0; white-space: pre-wrap; overflow-wrap: anywhere; }
.sample .q { font-weight: 600; } .sample .a { color: #333; margin-top: 3px; }
"""


def _value(value: Any) -> str:
    if value is None:
        return '<span class="more">—</span>'
    if isinstance(value, float):
        return escape(f"{value:,.4g}" if abs(value) < 1e5 else f"{value:,.0f}")
    if isinstance(value, int) and not isinstance(value, bool):
        return escape(f"{value:,}")
    return escape(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str))


def _mean_cell(value: Optional[dict], mark: Optional[str]) -> str:
    if not value:
        return '<td class="mean"><span class="more">—</span></td>'
    sign = ""
    if mark in MARKS:
        symbol, why = MARKS[mark]
        sign = f'<span class="mark {mark}" title="{escape(why)}">{symbol}</span>'
    return (f'<td class="mean">{_value(value["mean"])}{sign} <span class="ci">[{_value(value["low"])}, '
            f'{_value(value["high"])}] n={value["n"]}</span></td>')


def _head(comparison: dict) -> str:
    cells = "".join(f'<th><span class="swatch" style="background:{run_color(i)}"></span>#{i + 1}</th>'
                    for i in range(len(comparison["runs"])))
    return f"<thead><tr><th></th>{cells}</tr></thead>"


def _runs_table(comparison: dict) -> str:
    judged = any(run.get("judged") for run in comparison["runs"])  # a sweep's --judge
    rows = []
    for i, run in enumerate(comparison["runs"]):
        source = comparison["settings"]["sources"][i]
        rows.append(f'<tr><td><span class="swatch" style="background:{run_color(i)}"></span>#{i + 1}</td>'
                    f"<td>{escape(run['name'])}</td><td>{escape(run['source'])}</td><td>{escape(run['kind'])}</td>"
                    f"<td>{escape(source)}</td>"
                    + (f"<td>{escape(run.get('judged') or 'the run’s own, if any')}</td>" if judged else "")
                    + "</tr>")
    return ('<table class="runs"><thead><tr><th></th><th>run</th><th>source</th><th>kind</th><th>settings from</th>'
            + ("<th>judge tags</th>" if judged else "") + "</tr></thead>"
            "<tbody>" + "".join(rows) + "</tbody></table>")


def _settings_rows(comparison: dict, names: Sequence[str]) -> str:
    settings = comparison["settings"]
    lines = []
    for name in names:
        values = settings["values"][name]
        differs = name in settings["differ"]
        cells = "".join(
            f'<td class="{"diff" if differs and recorded else ""}">'
            + (_value(v) if recorded and v != ABSENT else f'<span class="more">{"absent" if recorded else "—"}</span>')
            + "</td>" for v, recorded in zip(values, settings["recorded"]))
        lines.append(f'<tr class="{"diff" if differs else ""}"><td><code>{escape(name)}</code></td>{cells}</tr>')
    return "".join(lines)


def _settings(comparison: dict) -> str:
    settings = comparison["settings"]
    if not any(settings["recorded"]):
        return ('<p class="note">No run recorded its settings (settings.json of SaveDataset, or a Distiset\'s '
                "pipeline.yaml).</p>")
    out = []
    if settings["differ"]:
        out.append(f'<table class="settings">{_head(comparison)}<tbody>{_settings_rows(comparison, settings["differ"])}'
                   "</tbody></table>")
    else:
        out.append('<p class="note">The runs that recorded settings have the same ones (paths aside).</p>')
    out.append(f"<details><summary>All {len(settings['values'])} settings (differing ones highlighted)</summary>"
               f'<table class="settings">{_head(comparison)}<tbody>'
               f"{_settings_rows(comparison, list(settings['values']))}</tbody>"
               "</table></details>")
    return "".join(out)


def _numbers(comparison: dict) -> str:
    lines = [f"<table>{_head(comparison)}<tbody>"]
    group = None
    for metric in METRICS:
        values = comparison["metrics"][metric.key]
        if all(v is None for v in values):
            continue
        if metric.group != group:
            group = metric.group
            lines.append(f'<tr class="group"><th colspan="{len(values) + 1}">{escape(group)}</th></tr>')
        marks = comparison["versus_first"].get(metric.key, [None] * len(values))
        if metric.kind == "mean":
            cells = "".join(_mean_cell(v, m) for v, m in zip(values, marks))
        else:
            cells = "".join(f'<td class="mean">{_value(v)}</td>' for v in values)
        lines.append(f"<tr><td>{escape(metric.label)}</td>{cells}</tr>")
    lines.append("</tbody></table>")
    return "".join(lines)


def _samples(runs: Sequence[Run]) -> str:
    cells = []
    for run in runs:
        accepted = [r for r in run.data.rows if accepted_row(r)][:SAMPLES]
        items = [f'<div class="sample"><div class="q">{_cell(instruction_text(r), SAMPLE_CHARS)}</div>'
                 + (f'<div class="a">{_cell(response_text(r), SAMPLE_CHARS)}</div>' if response_text(r) else "")
                 + "</div>" for r in accepted]
        cells.append("<td>" + ("".join(items) or '<span class="more">no accepted row</span>') + "</td>")
    width = 100 // max(len(runs), 1)
    cols = "".join(f'<col style="width:{width}%">' for _ in runs)
    heads = "".join(f'<th><span class="swatch" style="background:{run_color(i)}"></span>#{i + 1} '
                    f"{escape(r.name)}</th>" for i, r in enumerate(runs))
    return (f'<table class="side samples"><colgroup>{cols}</colgroup><thead><tr>{heads}</tr></thead>'
            f"<tbody><tr>{''.join(cells)}</tr></tbody></table>")


def _figure(key: str, title: str, png: bytes, caption: str) -> str:
    uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    return (f'<figure class="wide" id="{escape(key)}"><img alt="{escape(title)}" src="{uri}"><figcaption>'
            f'<b>{escape(title)}</b> — {escape(caption)} <a href="plots/{escape(key)}.png">PNG</a>'
            "</figcaption></figure>")


CAPTIONS = {
    "means": "each run's mean (dot) and its 95% bootstrap interval (bar); bars that overlap may differ by noise only.",
    "statuses": "what happened to every row's query and answer, as shares of the run's rows.",
    "mnd": "each accepted query's cosine distance to the nearest other accepted query of its run, as shares of the "
           "run's queries: more mass to the right is more diverse.",
    "judge": "judge labels of the accepted rows, as shares.",
}
SKIPPED = {
    "means": "no run has a value to average",
    "statuses": "no run has a status column",
    "mnd": "no embedder was given (--embedder none) or no run has accepted queries",
    "judge": "no run has judge tags (quality, difficulty, task_category: MagpieJudge)",
}


def render_page(comparison: dict, runs: Sequence[Run], figures: list[tuple[str, str, Optional[bytes]]],
                title: Optional[str] = None) -> str:
    title = title or f"Comparison of {len(runs)} runs"
    boot = comparison["bootstrap"]
    written = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    embedder = comparison["embedder"] or "none (no min-neighbour distances)"
    body = [f"<h1>{escape(title)}</h1>",
            f'<p class="sub">written {escape(written)} · embedder {escape(embedder)} · intervals: '
            f"{boot['level']:.0%} percentile bootstrap of the mean, {boot['resamples']} resamples, seed {boot['seed']}"
            ' · numbers in <a href="compare.json">compare.json</a></p>',
            "<h2>Runs</h2>", _runs_table(comparison),
            "<h2>Settings that differ</h2>", _settings(comparison),
            "<h2>Numbers</h2>",
            '<p class="note">Rates and means per row, so runs of different sizes compare. Mean [95% interval] '
            "n=values; "
            "▲ / ▼: the interval lies wholly above / below run #1's (a difference beyond noise). Statuses and the "
            "accepted rate count every row; lengths, diversity, judge tags and rewards the accepted rows.</p>",
            _numbers(comparison), "<h2>Plots</h2>"]
    shown = [_figure(key, t, png, CAPTIONS[key]) for key, t, png in figures if png is not None]
    if shown:
        body.append('<div class="grid">' + "".join(shown) + "</div>")
    skipped = [(t, SKIPPED[key]) for key, t, png in figures if png is None]
    if skipped:
        body.append('<ul class="skipped">' + "".join(f"<li><b>{escape(t)}</b> skipped because {escape(why)}.</li>"
                                                     for t, why in skipped) + "</ul>")
    body += [f"<h2>Accepted queries and answers</h2><p class=\"note\">The first {SAMPLES} accepted rows of each run; "
             f"long texts are cut at {SAMPLE_CHARS} characters.</p>", _samples(runs)]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{escape(title)}</title><style>{CSS}</style></head><body><main>\n"
            + "\n".join(body) + "\n</main></body></html>\n")
