"""How the report's plots are drawn (matplotlib, one palette, one style): a figure per plot from
the values `plots.py` computed."""

from __future__ import annotations

import io
from typing import Any, Callable, Optional

from distilabel_magpie.report.plots import PLOTS, PlotData, Rendered, Skip
from distilabel_magpie.report.source import RunData

# One palette for every plot.
KEPT, REJECTED, OK_COLOR, BAD, NEUTRAL, ACCENT = "#3b6ea8", "#e0933a", "#4e9a5b", "#c8553d", "#9a9a9a", "#7a5ea8"
STATUS_COLORS = {"ok": OK_COLOR, "skipped": NEUTRAL, "created": OK_COLOR, "updated": OK_COLOR}


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


def _hist(ax, series: dict, bins: int = 24, title: str = "", xlabel: str = "") -> None:
    """Stacked histogram of the series (kept, rejected), on shared bins."""
    data = {k: v for k, v in series.items() if v}
    every = [x for v in data.values() for x in v]
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
    if len(names) > 1:
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
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
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
