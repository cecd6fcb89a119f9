"""The run report: `report.html` (self-contained: plots inline) and one PNG per plot in `plots/`.

`distilabel-magpie report SOURCE --out DIR` writes it for a SaveDataset folder, a Distiset folder
or a .jsonl / .parquet file; `SaveDataset` writes it at the end of a run. Each plot is drawn only
where its columns exist; the page says why each other one was skipped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from distilabel_magpie.errors import MagpieError
from distilabel_magpie.report.figures import render_all
from distilabel_magpie.report.plots import PLOTS, Rendered
from distilabel_magpie.report.source import RunData, load_source
from distilabel_magpie.report.summary import summarise

REPORT_FILE = "report.html"
PLOTS_DIR = "plots"

__all__ = ["PLOTS", "REPORT_FILE", "RunData", "load_source", "render_all", "summarise", "write_report",
           "write_run_report"]


def write_run_report(run: RunData, out_dir: str | Path, title: Optional[str] = None) -> Path:
    """Write `report.html` and `plots/<plot>.png` for `run` into `out_dir`; returns the page's path."""
    from distilabel_magpie.report.html import render_html

    out = Path(out_dir)
    try:
        (out / PLOTS_DIR).mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise MagpieError(f"cannot write the report to {out}: {e.strerror or e}") from None
    rendered: list[Rendered] = render_all(run)
    files = {}
    for item in rendered:
        path = out / PLOTS_DIR / f"{item.plot.key}.png"
        if item.png is None:
            path.unlink(missing_ok=True)  # a plot of an earlier report that this run does not have
            continue
        path.write_bytes(item.png)
        files[item.plot.key] = f"{PLOTS_DIR}/{path.name}"
    summary = run.summary or summarise(run.rows, run.rejected)
    page = out / REPORT_FILE
    page.write_text(render_html(run, rendered, files, title, summary), encoding="utf-8")
    return page


def write_report(source: str | Path, out_dir: Optional[str | Path] = None, title: Optional[str] = None) -> Path:
    """The report of SOURCE (see `load_source`), written to `out_dir` (default: the SOURCE folder,
    or `<file stem>-report/` beside a file)."""
    run = load_source(source)
    path = Path(source).expanduser()
    if out_dir is None:
        out_dir = path if path.is_dir() else path.with_name(f"{path.stem}-report")
    return write_run_report(run, out_dir, title)
