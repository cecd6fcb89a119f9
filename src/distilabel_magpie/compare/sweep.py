"""`distilabel-magpie sweep CONFIG --grid step.field=v1,v2 [--grid ...] --out DIR`: the pipeline
once per cell of the grid, each cell a `distilabel-magpie run` of its own into `DIR/<cell>/`, then
the comparison of all cells in `DIR/compare.html`.

A killed sweep resumes with the same command: a cell whose dataset is written (SaveDataset puts a
finished folder in place at once) is skipped; an unfinished one resumes from distilabel's cache,
as `distilabel-magpie run` does. `DIR/sweep.json` records the pipeline and parameters the cells
were made with; another sweep into the same DIR is refused, and a lock keeps two sweeps (or a
cell left running by a killed sweep) out of one DIR.

`--judge MODEL` adds the judge's quality and difficulty tags on each cell's first accepted rows
(`judging.py`); it may be given to a finished sweep, which then only judges."""

from __future__ import annotations

import fcntl
import hashlib
import itertools
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

from distilabel_magpie.errors import MagpieError, PipelineFailed

SWEEP_FILE = "sweep.json"
LOCK_FILE = ".sweep.lock"
_UNSAFE = re.compile(r"[^A-Za-z0-9._=,+-]")
MAX_NAME = 120


@dataclass
class Axis:
    key: str  # step.field (or step.llm.field)
    values: list[str]


@dataclass
class Cell:
    name: str  # "step.field=v,step.other=w"
    folder: str  # the name made safe for a file system
    params: list[str]  # ["step.field=v", ...]


def parse_grid(items: Sequence[str]) -> list[Axis]:
    """`["magpie_sampler.temperature=0.8,1.0", ...]` as axes; a one-line error for bad syntax."""
    if not items:
        raise MagpieError("give at least one --grid step.field=v1,v2 (e.g. --grid magpie_sampler.temperature=0.8,1.0)")
    axes: list[Axis] = []
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        keys = name.split(".")
        if not sep or len(keys) < 2 or not all(k.strip() for k in keys):
            raise MagpieError(f"--grid {item!r} must look like step.field=v1,v2 (e.g. magpie_sampler.top_p=0.9,1.0)")
        values = [v.strip() for v in text.split(",")]
        if not any(values) or not all(values):
            raise MagpieError(f"--grid {item!r} has an empty value; give values separated by commas: {name}=v1,v2")
        if len(set(values)) != len(values):
            raise MagpieError(f"--grid {item!r} repeats a value")
        if any(a.key == name for a in axes):
            raise MagpieError(f"--grid {name} is given twice; give all its values in one --grid")
        axes.append(Axis(name, values))
    return axes


def safe_name(name: str) -> str:
    """`name` as a folder name: characters other than letters, digits and `._=,+-` become `_`;
    a long name is cut and keeps a hash of the whole."""
    safe = _UNSAFE.sub("_", name)
    if safe.startswith("."):
        safe = "_" + safe[1:]
    if len(safe) > MAX_NAME:
        safe = safe[: MAX_NAME - 11] + "-" + hashlib.sha1(name.encode("utf-8")).hexdigest()[:10]
    return safe


def grid_cells(axes: Sequence[Axis]) -> list[Cell]:
    """Every combination of the axes' values, the first axis varying slowest."""
    cells = []
    for combo in itertools.product(*(a.values for a in axes)):
        params = [f"{a.key}={v}" for a, v in zip(axes, combo)]
        name = ",".join(params)
        cells.append(Cell(name, safe_name(name), params))
    folders = [c.folder for c in cells]
    for cell in cells:
        if folders.count(cell.folder) > 1:  # values that differ only in unsafe characters
            digest = hashlib.sha1(cell.name.encode("utf-8")).hexdigest()[:10]
            cell.folder = safe_name(cell.folder[: MAX_NAME - 11]) + "-" + digest
    return cells


def _save_step(pipeline: Any, config: str) -> str:
    from distilabel_magpie.output.save import SaveDataset

    names = [n for n in pipeline.dag if isinstance(pipeline.dag.get_step(n)["step"], SaveDataset)]
    if len(names) != 1:
        raise MagpieError(f"{config} has {len(names)} SaveDataset steps; a sweep writes each cell through exactly one")
    return names[0]


def plan(config: str, grid: Sequence[str], params: Sequence[str]) -> tuple[list[Cell], str]:
    """The cells of the grid and the pipeline's SaveDataset step, after checking every cell's
    parameters as a run would (unknown steps or fields, values a field does not take)."""
    from distilabel_magpie.runtime.launch import check_run, load_pipeline, parse_params

    axes = parse_grid(grid)
    parse_params(params)  # its syntax first
    pipeline = load_pipeline(config)
    save = _save_step(pipeline, config)
    steps = list(pipeline.dag.G)
    for axis in axes:
        if axis.key.split(".")[0] not in steps:
            raise MagpieError(f"--grid {axis.key}: pipeline '{pipeline.name}' has no step "
                              f"'{axis.key.split('.')[0]}'; its steps: {', '.join(steps)}")
    fixed = {p.partition("=")[0].strip() for p in params}
    for axis in axes:
        if axis.key in fixed:
            raise MagpieError(f"{axis.key} is set by both --grid and --param; give it in one of them")
    if f"{save}.output_dir" in fixed or any(a.key == f"{save}.output_dir" for a in axes):
        raise MagpieError(f"{save}.output_dir is set by the sweep (DIR/<cell>); leave it out")
    cells = grid_cells(axes)
    if len(cells) < 2:
        raise MagpieError("a sweep needs at least two cells; give two values to a --grid")
    for cell in cells:
        check_run(pipeline, parse_params([*params, *cell.params]))
    return cells, save


def _record(config: str, params: Sequence[str]) -> dict:
    path = Path(config)
    return {"config": str(path.resolve()), "config_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "params": list(params)}


def _check_record(out: Path, record: dict) -> None:
    """The same pipeline and parameters as the cells already in `out`, else a one-line error."""
    path = out / SWEEP_FILE
    if not path.is_file():
        return
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    for key, what in (("config", "pipeline file"), ("config_sha256", "pipeline YAML's content"),
                      ("params", "--param values")):
        if old.get(key) != record[key]:
            raise MagpieError(f"{out} holds a sweep with another {what} ({old.get(key)!r}); resume it with the same "
                              "CONFIG and --param values, or choose another --out")


def _lock(out: Path) -> int:
    fd = os.open(out / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise MagpieError(f"{out} is in use by another sweep (or by a cell a killed sweep left running); wait for "
                          "it to end or stop it") from None
    return fd


def _say(text: str) -> None:
    print(f"[sweep] {text}", file=sys.stderr, flush=True)


def _rows_line(folder: Path) -> str:
    try:
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "done"
    accepted = (summary.get("throughput") or {}).get("accepted_rows")
    return f"{summary.get('rows')} rows" + (f", {accepted} accepted" if accepted is not None else "")


def sweep(config: str, grid: Sequence[str], out: str | Path, params: Sequence[str] = (),
          embedder: Optional[str] = None, judge: Optional[str] = None, judge_rows: int = 50) -> Path:
    """Run every cell (skipping finished ones), judge them if `judge` is given, then compare them;
    returns compare.html's path. A failed cell raises PipelineFailed (its run's own output is above)."""
    from distilabel_magpie.compare import judging, load_runs, write_compare
    from distilabel_magpie.storage.files import is_dataset_folder

    if judge is not None and judge_rows < 1:
        raise MagpieError(f"--judge-rows must be at least 1 (got {judge_rows})")
    cells, save = plan(config, grid, params)
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise MagpieError(f"cannot write the sweep to {out}: {e.strerror or e}") from None
    record = _record(config, params)
    lock = _lock(out)
    try:
        _check_record(out, record)
        (out / SWEEP_FILE).write_text(json.dumps(
            {**record, "cells": [{"name": c.name, "folder": c.folder} for c in cells]}, indent=2) + "\n",
            encoding="utf-8")
        total = len(cells)
        for i, cell in enumerate(cells, 1):
            folder = out / cell.folder
            if is_dataset_folder(folder):
                _say(f"cell {i}/{total} {cell.name}: finished before ({_rows_line(folder)}), skipped")
                continue
            _say(f"cell {i}/{total} {cell.name}: running into {folder}")
            started = time.monotonic()
            command = [sys.executable, "-m", "distilabel_magpie.cli", "run", config]
            for item in [*params, *cell.params, f"{save}.output_dir={folder}"]:
                command += ["--param", item]
            code = subprocess.call(command, pass_fds=(lock,))  # the cell holds the lock while it lives
            if code != 0 or not is_dataset_folder(folder):
                raise PipelineFailed(f"sweep cell {i}/{total} {cell.name} failed (exit {code}; its output is above); "
                                     "run the same sweep command again to resume it")
            _say(f"cell {i}/{total} {cell.name}: {_rows_line(folder)} in {time.monotonic() - started:.0f} s")
        runs = load_runs([out / c.folder for c in cells], names=[c.name for c in cells])
        if judge is not None:
            judging.judge_cells(out, [(c.name, c.folder, r.data.rows) for c, r in zip(cells, runs)], judge,
                                judge_rows, _say)
        for cell, run in zip(cells, runs):  # tags from an earlier --judge count too
            record = judging.read_any(judging.judge_path(out, cell.folder))
            if record is not None:
                judging.join(run, record)
        _say(f"comparing {total} cells" + (f" (embedder {embedder})" if embedder else ""))
        return write_compare(runs, out, embedder=embedder, title=f"Sweep of {Path(config).name}: {total} cells")
    finally:
        os.close(lock)
