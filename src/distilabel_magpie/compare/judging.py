"""The judge of a sweep (`sweep --judge MODEL --judge-rows N`): MagpieJudge's quality and
difficulty tags on the first N accepted rows of each cell (by `row_index`), kept beside the cells
in `DIR/judge/<cell>.json` and joined to the cell's rows when the cells are compared.

A cell's dataset is never rewritten: the tags live in their own file, written whole (a temporary
file renamed into place), so a killed sweep judges the unfinished cells again and nothing else; a
file made by another judge or row count is made again. The judge is loaded once for all cells.
N caps the cost: a 1.5B judge takes seconds per row on a CPU, and a mean over N rows carries its
bootstrap interval on the page."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from distilabel_magpie.compare.metrics import Run
from distilabel_magpie.errors import MagpieError
from distilabel_magpie.storage.columns import accepted_row

JUDGE_DIR = "judge"
TAGS = ["quality", "difficulty"]  # the paper's ablation reports input quality and difficulty
# What each judged row keeps: its identity, the tags and the judge's own words.
_TAGGED = ["quality", "quality_rating", "quality_score", "quality_explanation", "difficulty", "intent", "knowledge",
           "judge_status", "judge_error"]
_KEEP = ["row_index", "instruction", *_TAGGED]


def judge_path(out: Path, folder: str) -> Path:
    return out / JUDGE_DIR / f"{folder}.json"


def first_accepted(rows: Sequence[dict], limit: int) -> list[dict]:
    """The first `limit` accepted rows with a query, in `row_index` order (row order where absent)."""
    ordered = sorted(enumerate(rows), key=lambda item: (item[1].get("row_index", item[0]), item[0]))
    picked = [r for _, r in ordered if accepted_row(r) and isinstance(r.get("instruction"), str)
              and r["instruction"].strip()]
    return picked[:limit]


def read_any(path: Path) -> Optional[dict]:
    """The judge file at `path`, or None where there is none (or not a whole one)."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("rows"), list) or record.get("tags") != TAGS:
        return None
    return record


def read_record(path: Path, judge: str, limit: int) -> Optional[dict]:
    """The judge file at `path` if `judge` made it on up to `limit` rows, else None."""
    record = read_any(path)
    if record is None or record.get("judge") != judge or record.get("limit") != limit:
        return None
    return record


def load_judge(judge: str) -> Any:
    """MagpieJudge (quality, difficulty) on `judge`: a model name (`distilabel-magpie models`) or a GGUF path."""
    from distilabel_magpie.engines import LlamaCppEngine
    from distilabel_magpie.scoring import MagpieJudge

    logging.getLogger("distilabel.step.sweep_judge").setLevel(logging.ERROR)  # "no pipeline": it runs on its own
    step = MagpieJudge(name="sweep_judge", llm=LlamaCppEngine(model_path=judge), tags=TAGS)
    step.load()
    return step


def judge_rows(step: Any, rows: Sequence[dict], judge: str, limit: int) -> dict:
    """The judge's record for one cell: its tags on `first_accepted(rows, limit)`."""
    picked = [{"row_index": r.get("row_index"), "instruction": r["instruction"], "instruction_status": "ok"}
              for r in first_accepted(rows, limit)]
    started = time.monotonic()
    judged = next(step.process([dict(r) for r in picked])) if picked else []
    seconds = time.monotonic() - started
    return {"judge": judge, "judge_model": step.llm.model_name, "tags": TAGS, "limit": limit,
            "seconds": round(seconds, 1), "rows": [{k: r.get(k) for k in _KEEP} for r in judged]}


def write_record(path: Path, record: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(partial, path)


def judge_cells(out: Path, cells: Sequence[tuple[str, str, list[dict]]], judge: str, limit: int,
                say: Callable[[str], None]) -> None:
    """Judge every (name, folder, rows) cell that lacks a matching judge file; the judge loads only if one does."""
    step = None
    for i, (name, folder, rows) in enumerate(cells, 1):
        path = judge_path(out, folder)
        if read_record(path, judge, limit) is not None:
            say(f"judge {i}/{len(cells)} {name}: judged before, skipped")
            continue
        if step is None:
            say(f"loading the judge {judge}")
            step = load_judge(judge)
        count = len(first_accepted(rows, limit))
        say(f"judge {i}/{len(cells)} {name}: {count} accepted rows")
        record = judge_rows(step, rows, judge, limit)
        write_record(path, record)
        say(f"judge {i}/{len(cells)} {name}: {count} rows in {record['seconds']:.0f} s")
    if step is not None:
        step.unload()


def join(run: Run, record: dict) -> None:
    """Put a judge record's tags on the run's rows (matched by `row_index` and query); a record
    whose rows are not the run's (the cell was made again) is a one-line error."""
    by_index = {r.get("row_index"): r for r in run.data.rows}
    for judged in record["rows"]:
        row = by_index.get(judged.get("row_index"))
        if row is None or row.get("instruction") != judged.get("instruction"):
            raise MagpieError(f"the judge's file for {run.name} does not match its rows (row_index "
                              f"{judged.get('row_index')}); delete it and run the sweep again to judge the cell anew")
        row.update({k: judged.get(k) for k in _TAGGED}, judge_model=record.get("judge_model"))
    accepted = sum(accepted_row(r) for r in run.data.rows)
    run.extra["judged"] = (f"{', '.join(record['tags'])} by {record['judge']} on the first {len(record['rows'])} "
                           f"of {accepted} accepted rows")
