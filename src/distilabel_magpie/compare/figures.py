"""The comparison's plots, drawn from `compare.json`'s numbers in the run report's style: one
colour per run, runs labelled #1, #2, ... (the page names them)."""

from __future__ import annotations

import io
import re
from typing import Any, Callable, Optional

from distilabel_magpie.compare.metrics import METRICS
from distilabel_magpie.report.figures import OK_COLOR, _figure, _legend_above, _short, _style

RUN_COLORS = ["#3b6ea8", "#e0933a", "#4e9a5b", "#c8553d", "#7a5ea8", "#8c6d31", "#d45d9b", "#5b9aa0",
              "#9a9a9a", "#b8a13a"]


# statuses other than ok (green), in this order
STATUS_COLORS = ["#c8553d", "#e0933a", "#7a5ea8", "#9a9a9a", "#3b6ea8", "#d45d9b", "#8c6d31", "#5b9aa0", "#b8a13a"]


def run_color(i: int) -> str:
    return RUN_COLORS[i % len(RUN_COLORS)]


def short_label(name: str, limit: int = 34) -> str:
    """A run's name for an axis: `a.b.field=v,c.other=w` as `field=v, other=w`, cut to `limit`."""
    parts = [re.sub(r"^[^=]*\.(?=[^.=]*=)", "", part) for part in name.split(",")]
    return _short(", ".join(parts), limit)


def run_labels(comparison: dict) -> list[str]:
    return [f"#{i + 1} {short_label(r['name'])}" for i, r in enumerate(comparison["runs"])]


def draw_means(comparison: dict):
    """One panel per mean that some run has: each run's mean and its interval."""
    metrics = [m for m in METRICS if m.kind == "mean" and any(comparison["metrics"][m.key])]
    if not metrics:
        return None
    labels = run_labels(comparison)
    n = len(labels)
    ncols = min(3, len(metrics))
    nrows = -(-len(metrics) // ncols)
    fig, axes = _figure(11, nrows * (0.28 * n + 1.25), ncols, nrows)
    for ax, metric in zip(axes, metrics):
        values = comparison["metrics"][metric.key]
        for i, v in enumerate(values):
            y = n - 1 - i
            if v is None:
                ax.text(0.02, y, "—", va="center", transform=ax.get_yaxis_transform(), color="#999999")
                continue
            ax.errorbar([v["mean"]], [y], xerr=[[v["mean"] - v["low"]], [v["high"] - v["mean"]]], fmt="o",
                        color=run_color(i), capsize=3, markersize=4)
        ax.set_ylim(-0.6, n - 0.4)
        _style(ax, _short(metric.label, 38))
        ax.grid(axis="y", visible=False)
    for i, ax in enumerate(axes):
        ax.set_yticks(range(n), list(reversed(labels)) if i % ncols == 0 else [""] * n)  # names on the left only
        ax.set_visible(i < len(metrics))
    return fig


def draw_statuses(comparison: dict):
    """Shares of each status per run, one panel per status column."""
    columns = [c for c in ("instruction_status", "response_status", "conversation_status")
               if any(c in d for d in comparison["distributions"])]
    if not columns:
        return None
    labels = run_labels(comparison)
    n = len(labels)
    fig, axes = _figure(11, 0.34 * n + 1.6, len(columns))
    for ax, column in zip(axes, columns):
        counts = [d.get(column, {}) for d in comparison["distributions"]]
        names = []
        for c in counts:
            names += [k for k in c if k not in names]
        names.sort(key=lambda k: (k != "ok", k))
        others = iter(STATUS_COLORS * len(names))
        palette = {k: (OK_COLOR if k == "ok" else next(others)) for k in names}
        for i, c in enumerate(counts):
            total = sum(c.values()) or 1
            left = 0.0
            for k in names:
                share = c.get(k, 0) / total
                ax.barh(n - 1 - i, share, left=left, color=palette[k], height=0.6,
                        label=k if i == 0 or k not in counts[0] else None)
                left += share
        ax.set_yticks(range(n), list(reversed(labels)) if ax is axes[0] else [""] * n)
        ax.set_xlim(0, 1)
        _style(ax, column, "share of rows")
        ax.grid(axis="y", visible=False)
        handles, names_shown = ax.get_legend_handles_labels()
        unique = dict(zip(names_shown, handles))
        ax.legend(unique.values(), unique.keys(), fontsize=7, frameon=False, loc="upper left",
                  bbox_to_anchor=(0, -0.18), ncol=4)
    return fig


def draw_mnd(comparison: dict):
    """The distribution of min-neighbour distances: each run's share of queries per bin."""
    hist = comparison.get("mnd_histogram")
    if not hist:
        return None
    fig, (ax,) = _figure(11, 3.4)
    edges = hist["edges"]
    labels = run_labels(comparison)
    for i, counts in enumerate(hist["counts"]):
        if not counts:
            continue
        total = sum(counts) or 1
        shares = [c / total for c in counts]
        ax.stairs(shares, edges, color=run_color(i), linewidth=1.8, label=f"{labels[i]} ({sum(counts)})")
    _legend_above(ax)
    _style(ax, "Min-neighbour distance", f"cosine distance to the nearest other query ({comparison['embedder']})",
           "share of queries")
    return fig


def draw_judge(comparison: dict):
    """Judge tags: the share of each label per run (quality, difficulty, task category)."""
    columns = [c for c in ("quality", "difficulty", "task_category")
               if any(c in d for d in comparison["distributions"])]
    if not columns:
        return None
    import numpy as np

    labels = run_labels(comparison)
    fig, axes = _figure(11, 3.6, len(columns))
    for ax, column in zip(axes, columns):
        counts = [d.get(column, {}) for d in comparison["distributions"]]
        names: list[str] = []
        for c in counts:
            names += [k for k in c if k not in names]
        x = np.arange(len(names))
        width = 0.8 / max(len(counts), 1)
        for i, c in enumerate(counts):
            total = sum(c.values()) or 1
            ax.bar(x + i * width - 0.4 + width / 2, [c.get(k, 0) / total for k in names], width=width,
                   color=run_color(i), label=labels[i])
        ax.set_xticks(x, [_short(k, 16) for k in names], rotation=35, ha="right")
        ax.set_xlim(-0.6, max(len(names), 3) - 0.4)  # a lone category stays a bar, not a wall
        _style(ax, column.replace("_", " "), "", "share of accepted rows")
    _legend_above(axes[-1])
    return fig


FIGURES: list[tuple[str, str, Callable[[dict], Any]]] = [
    ("means", "Means with their 95% intervals", draw_means),
    ("statuses", "Statuses", draw_statuses),
    ("mnd", "Min-neighbour distance", draw_mnd),
    ("judge", "Judge tags", draw_judge),
]


def render(comparison: dict) -> list[tuple[str, str, Optional[bytes]]]:
    """(key, title, PNG bytes or None where the runs have nothing to draw) per figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = []
    for key, title, draw in FIGURES:
        fig = draw(comparison)
        if fig is None:
            out.append((key, title, None))
            continue
        buffer = io.BytesIO()
        fig.tight_layout()
        fig.savefig(buffer, format="png", dpi=110, facecolor="white")
        plt.close(fig)
        out.append((key, title, buffer.getvalue()))
    return out
