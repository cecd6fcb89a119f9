"""`distilabel-magpie sweep`: grid syntax and cell names, bad grids refused with one line before
anything runs, and a real 2×1 sweep of the embedded model killed after its first cell and
resumed: the finished cell is not made again, every cell ends with each row once; then the judge
added to the finished sweep."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from distilabel_magpie.cli import main
from distilabel_magpie.compare.sweep import grid_cells, parse_grid, safe_name
from distilabel_magpie.errors import MagpieError
from distilabel_magpie.pipelines import PIPELINES

ROOT = Path(__file__).resolve().parents[2]
QUERIES_YAML = ROOT / "pipelines" / "magpie-queries.yaml"


def test_queries_yaml_is_the_dump_of_its_builder():
    committed = yaml.safe_load(QUERIES_YAML.read_text())
    assert committed == yaml.safe_load(yaml.dump(PIPELINES["magpie-queries"]().dump()))
    steps = {s["step"]["name"]: s["step"] for s in committed["pipeline"]["steps"]}
    sampler = steps["magpie_sampler"]
    assert (sampler["temperature"], sampler["top_p"], sampler["min_p"], sampler["top_k"]) == (1.0, 1.0, 0.0, 0)
    assert sampler["type_info"]["name"] == "MagpieSamplerStep" and "save_dataset" in steps


def test_grid_cells_are_every_combination_with_readable_safe_names():
    axes = parse_grid(["magpie_sampler.temperature=0.8,1.2", "magpie_sampler.top_p=0.9, 1.0"])
    cells = grid_cells(axes)
    assert [c.name for c in cells] == [
        "magpie_sampler.temperature=0.8,magpie_sampler.top_p=0.9",
        "magpie_sampler.temperature=0.8,magpie_sampler.top_p=1.0",
        "magpie_sampler.temperature=1.2,magpie_sampler.top_p=0.9",
        "magpie_sampler.temperature=1.2,magpie_sampler.top_p=1.0"]
    assert cells[0].folder == cells[0].name and cells[0].params == ["magpie_sampler.temperature=0.8",
                                                                     "magpie_sampler.top_p=0.9"]
    assert safe_name("s.llm.model_path=/models/a b.gguf") == "s.llm.model_path=_models_a_b.gguf"
    assert safe_name("..x=1") == "_.x=1"
    long = safe_name("s.f=" + "x" * 300)
    assert len(long) == 120 and long != safe_name("s.f=" + "x" * 301)
    twins = grid_cells(parse_grid(["s.f=a/b,a b"]))  # the same once made safe: told apart by a hash
    assert len({c.folder for c in twins}) == 2


@pytest.mark.parametrize("grid", ["magpie_sampler.temperature", "temperature=1,2", "magpie_sampler.top_p=",
                                  "magpie_sampler.top_p=0.9,,1.0", "magpie_sampler.top_p=1,1", ".top_p=1,2"])
def test_bad_grid_syntax_is_one_line(grid):
    with pytest.raises(MagpieError) as error:
        parse_grid([grid])
    assert "\n" not in str(error.value) and "--grid" in str(error.value)


@pytest.mark.parametrize("args,message", [
    (["--grid", "nope.temperature=1,2"], "pipeline 'magpie-queries' has no step 'nope'"),
    (["--grid", "magpie_sampler.temprature=1,2"], "did you mean 'magpie_sampler.temperature'?"),
    (["--grid", "magpie_sampler.temperature=abc,1"], "invalid value 'abc' for magpie_sampler.temperature"),
    (["--grid", "magpie_sampler.top_p=0.5,2"], "invalid value '2' for magpie_sampler.top_p"),
    (["--grid", "magpie_sampler.top_p=0.5"], "at least two cells"),
    (["--grid", "magpie_sampler.top_p=0.5,1", "--param", "magpie_sampler.top_p=1"], "set by both --grid and --param"),
    (["--grid", "magpie_sampler.top_p=0.5,1", "--param", "save_dataset.output_dir=x"], "set by the sweep"),
    (["--grid", "magpie_sampler.top_p=0.5,1", "--grid", "magpie_sampler.top_p=0.7"], "given twice"),
    ([], "at least one --grid"),
    (["--grid", "magpie_sampler.top_p=0.5,1", "--judge", "embedded", "--judge-rows", "0"],
     "--judge-rows must be at least 1 (got 0)"),
])
def test_bad_grids_exit_2_with_one_line_before_anything_runs(tmp_path, capsys, args, message):
    out = tmp_path / "sweep"
    assert main(["sweep", str(QUERIES_YAML), "--out", str(out), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], err
    assert not out.exists()


def test_a_sweep_dir_of_other_settings_is_refused(tmp_path, capsys):
    out = tmp_path / "sweep"
    out.mkdir()
    (out / "sweep.json").write_text(json.dumps({"config": str(QUERIES_YAML.resolve()), "config_sha256": "0" * 64,
                                                "params": []}))
    assert main(["sweep", str(QUERIES_YAML), "--out", str(out), "--grid", "magpie_sampler.top_p=0.5,1"]) == 2
    assert "holds a sweep with another pipeline YAML's content" in capsys.readouterr().err


def test_a_sweep_dir_in_use_is_refused(tmp_path, capsys):
    import fcntl

    out = tmp_path / "sweep"
    out.mkdir()
    with open(out / ".sweep.lock", "w") as held:  # another sweep, or a cell a killed sweep left running
        fcntl.flock(held, fcntl.LOCK_EX)
        assert main(["sweep", str(QUERIES_YAML), "--out", str(out), "--grid", "magpie_sampler.top_p=0.5,1"]) == 2
    assert "is in use by another sweep" in capsys.readouterr().err
    assert not (out / "sweep.json").exists()


# -- a real sweep, killed and resumed ------------------------------------------------------------------

ROWS = 4
GRID = ["magpie_sampler.temperature=0.7,1.3", "magpie_sampler.top_p=1.0"]
# short queries on one thread: the cells, not the text, are under test
PARAMS = [f"magpie_sampler.num_rows={ROWS}", "magpie_sampler.batch_size=2", "magpie_sampler.max_new_tokens=16",
          "magpie_sampler.llm.n_threads=1"]
CELLS = ["magpie_sampler.temperature=0.7,magpie_sampler.top_p=1.0",
         "magpie_sampler.temperature=1.3,magpie_sampler.top_p=1.0"]


def sweep_command(out: Path) -> list[str]:
    cmd = [sys.executable, "-m", "distilabel_magpie.cli", "sweep", str(QUERIES_YAML), "--out", str(out),
           "--embedder", "embedded"]
    for item in GRID:
        cmd += ["--grid", item]
    for item in PARAMS:
        cmd += ["--param", item]
    return cmd


def environment(tmp: Path) -> dict:
    return {**os.environ, "DISTILABEL_CACHE_DIR": str(tmp / "cache"), "COLUMNS": "400",
            "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}


def mtimes(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in sorted(folder.rglob("*"))}


@pytest.mark.e2e
def test_a_killed_sweep_resumes_without_making_a_finished_cell_again(tmp_path):
    out = tmp_path / "sweep"
    first = out / CELLS[0]
    log = tmp_path / "killed.log"
    with log.open("w") as sink:
        proc = subprocess.Popen(sweep_command(out), stdout=sink, stderr=subprocess.STDOUT, cwd=tmp_path,
                                env=environment(tmp_path), start_new_session=True)
    try:
        deadline = time.monotonic() + 600
        while f"[sweep] cell 2/2 {CELLS[1]}: running" not in log.read_text():
            assert proc.poll() is None, "the sweep ended before its second cell began:\n" + log.read_text()[-3000:]
            assert time.monotonic() < deadline, "the first cell did not finish in time"
            time.sleep(0.2)
        time.sleep(2)  # the second cell's run has started
        os.killpg(proc.pid, signal.SIGKILL)  # the sweep and the cell it runs, as a scheduler would
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    killed_log = log.read_text()
    assert f"[sweep] cell 1/2 {CELLS[0]}: {ROWS} rows" in killed_log
    assert not (out / CELLS[1] / "summary.json").exists() and not (out / "compare.html").exists()
    before = mtimes(first)

    done = subprocess.run(sweep_command(out), capture_output=True, text=True, timeout=900, cwd=tmp_path,
                          env=environment(tmp_path))
    output = done.stdout + done.stderr
    (tmp_path / "resumed.log").write_text(output)
    assert done.returncode == 0, output[-4000:]
    assert f"[sweep] cell 1/2 {CELLS[0]}: finished before ({ROWS} rows" in output
    assert f"[sweep] cell 2/2 {CELLS[1]}: running into" in output
    assert f"magpie_sampler: {ROWS}/{ROWS} rows" in output  # the cell's own progress line
    assert mtimes(first) == before  # not made again
    for cell, temperature in zip(CELLS, (0.7, 1.3)):
        rows = [json.loads(line) for line in (out / cell / "data.jsonl").read_text().splitlines()]
        assert sorted(r["row_index"] for r in rows) == list(range(ROWS))  # each row once
        settings = json.loads((out / cell / "settings.json").read_text())["settings"]
        assert settings["magpie_sampler.temperature"] == temperature and settings["row_indices.num_rows"] == ROWS
    numbers = json.loads((out / "compare.json").read_text())
    assert [r["name"] for r in numbers["runs"]] == CELLS and numbers["embedder"] == "embedded"
    assert numbers["settings"]["differ"] == ["magpie_sampler.temperature"]
    assert numbers["metrics"]["rows"] == [ROWS, ROWS]
    assert done.stdout.strip().splitlines()[-1] == str(out / "compare.html")
    assert json.loads((out / "sweep.json").read_text())["cells"][1]["folder"] == CELLS[1]

    # the judge on the finished sweep: no cell made again, two rows of each judged, the tags compared
    judged = subprocess.run(sweep_command(out) + ["--judge", "embedded", "--judge-rows", "2"], capture_output=True,
                            text=True, timeout=900, cwd=tmp_path, env=environment(tmp_path))
    output = judged.stdout + judged.stderr
    assert judged.returncode == 0, output[-4000:]
    assert f"[sweep] cell 2/2 {CELLS[1]}: finished before" in output and mtimes(first) == before
    numbers = json.loads((out / "compare.json").read_text())
    for i, cell in enumerate(CELLS):
        accepted = numbers["metrics"]["accepted"][i]
        assert f"[sweep] judge {i + 1}/2 {cell}: {min(2, accepted)} accepted rows" in output
        made = json.loads((out / "judge" / f"{cell}.json").read_text())
        assert made["judge"] == "embedded" and len(made["rows"]) == min(2, accepted)
        if accepted:
            assert numbers["metrics"]["quality"][i]["n"] == numbers["metrics"]["difficulty"][i]["n"] == min(2, accepted)
        assert numbers["runs"][i]["judged"].startswith("quality, difficulty by embedded on the first")
    assert "<th>judge tags</th>" in (out / "compare.html").read_text()


@pytest.mark.e2e
def test_a_failed_cell_ends_the_sweep_with_exit_1(tmp_path):
    out = tmp_path / "sweep"
    cmd = sweep_command(out) + ["--param", f"magpie_sampler.llm.model_path={tmp_path / 'missing.gguf'}"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path, env=environment(tmp_path))
    assert done.returncode == 1, (done.stdout + done.stderr)[-3000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: sweep cell 1/2 {CELLS[0]} failed (exit 1"), last
    assert not (out / CELLS[0] / "summary.json").exists() and not (out / CELLS[1]).exists()
