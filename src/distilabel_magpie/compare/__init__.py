"""Runs side by side: `distilabel-magpie compare RUN [RUN ...] --out DIR` writes `compare.html`
(self-contained), `compare.json` (the numbers) and `plots/*.png`; `distilabel-magpie sweep` runs a
pipeline once per cell of a settings grid and writes the same comparison (`sweep.py`).

`metrics.py` computes, `figures.py` draws, `page.py` writes the page; `stats.py` holds the
statistics (bootstrap intervals, distinct-n, openings, min-neighbour distances)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional, Sequence

from distilabel_magpie.compare.metrics import EmbedFn, Run, compare
from distilabel_magpie.errors import MagpieError

COMPARE_HTML = "compare.html"
COMPARE_JSON = "compare.json"
PLOTS_DIR = "plots"
DEFAULT_EMBEDDER = "all-mpnet-base-v2"  # the paper's

__all__ = ["COMPARE_HTML", "COMPARE_JSON", "DEFAULT_EMBEDDER", "Run", "compare", "embedder_function", "load_runs",
           "write_compare"]


def load_runs(sources: Sequence[str | Path], names: Optional[Sequence[str]] = None) -> list[Run]:
    """The runs behind `sources` (anything `distilabel-magpie report` reads), with the settings
    each recorded. Names: the folder or file names, or the paths where those repeat."""
    from distilabel_magpie.output.settings import read_settings
    from distilabel_magpie.report.source import load_source

    if len(sources) < 2:
        raise MagpieError("give at least two runs to compare")
    paths = [Path(s).expanduser() for s in sources]
    if names is None:
        short = [p.name or str(p) for p in paths]
        names = short if len(set(short)) == len(short) else [str(p) for p in paths]
    runs = []
    for path, name in zip(paths, names):
        data = load_source(path)
        settings, where = read_settings(path) if path.is_dir() else (None, "not recorded (a rows file)")
        runs.append(Run(name=name, data=data, settings=settings, settings_source=where))
    return runs


def embedder_function(name: str) -> EmbedFn:
    """texts -> unit vectors, with the named embedder (`distilabel-magpie models`; as NearDuplicates loads it)."""
    from distilabel_magpie.curation.dedup import embed, load_embedder

    model = load_embedder(name)
    return lambda texts: embed(model, texts)


def write_compare(runs: Sequence[Run], out_dir: str | Path, embedder: Optional[str] = DEFAULT_EMBEDDER,
                  embed: Optional[EmbedFn] = None, title: Optional[str] = None) -> Path:
    """Compare `runs` into `out_dir`; returns the page's path. `embed` (texts -> vectors) replaces
    the named `embedder`; `embedder=None` and no `embed`: no min-neighbour distances."""
    from distilabel_magpie.compare.figures import render
    from distilabel_magpie.compare.page import render_page

    out = Path(out_dir)
    try:
        (out / PLOTS_DIR).mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise MagpieError(f"cannot write the comparison to {out}: {e.strerror or e}") from None
    if embed is not None:
        embedder = "given function"
    elif embedder:
        embed = embedder_function(embedder)
    comparison = compare(runs, embed, embedder)
    figures = render(comparison)
    for key, _, png in figures:
        path = out / PLOTS_DIR / f"{key}.png"
        if png is None:
            path.unlink(missing_ok=True)  # from an earlier comparison in this folder
        else:
            path.write_bytes(png)
    (out / COMPARE_JSON).write_text(json.dumps(comparison, indent=2, ensure_ascii=False, default=str) + "\n",
                                    encoding="utf-8")
    page = out / COMPARE_HTML
    page.write_text(render_page(comparison, runs, figures, title), encoding="utf-8")
    return page
