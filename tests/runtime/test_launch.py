"""`distilabel-magpie run`: the default pipeline on distilabel's local `Pipeline` and on a real
local Ray cluster (loopback, 2 CPUs) with 2 replicas, and a run killed with SIGKILL halfway that
resumes from distilabel's cache. Every run is a subprocess with a private cache and a timeout.

The rows are compared by what a row is made from (row index, sample seed, system-prompt choice)
and by their statuses, never by the model's text."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from distilabel_magpie.generation.cleaning import normalize
from distilabel_magpie.engines.base import sample_seed

ROOT = Path(__file__).resolve().parents[2]
SFT = ROOT / "pipelines" / "magpie-sft.yaml"
ROWS = 24
SYSTEM = {"chef": "You are a chef.", "tutor": "You are a maths tutor.", "coder": "You are a programmer."}
# short queries and answers: the rows, not the text, are under test
PARAMS = {"magpie_sft.num_rows": ROWS, "magpie_sft.batch_size": 4, "magpie_sft.max_new_tokens": 24,
          "magpie_sft.response_max_new_tokens": 24, "magpie_sft.system_prompt": json.dumps(SYSTEM)}


def command(out: Path, *extra: str, params: dict | None = None) -> list[str]:
    cmd = [sys.executable, "-m", "distilabel_magpie.cli", "run", str(SFT), *extra]
    for key, value in {**PARAMS, **(params or {}), "save_dataset.output_dir": out}.items():
        cmd += ["--param", f"{key}={value}"]
    return cmd


def environment(tmp: Path, tmpdir: Path | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    return {**env, "DISTILABEL_CACHE_DIR": str(tmp / "cache"), "TMPDIR": str(tmpdir or tmp),
            "COLUMNS": "400",  # distilabel's log lines unwrapped, so the tests can read them
            "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}


def run(cmd: list[str], tmp: Path, timeout: float = 600, tmpdir: Path | None = None) -> subprocess.CompletedProcess:
    started = time.monotonic()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=tmp,
                          env=environment(tmp, tmpdir))
    done.seconds = time.monotonic() - started
    return done


def rows_of(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "data.jsonl").read_text().splitlines()]


def check_rows(rows: list[dict], seed: int = 0) -> None:
    """Exactly ROWS rows, indices 0..ROWS-1 once, each made from its own index, no repeated query."""
    assert [r["row_index"] for r in rows] == list(range(ROWS))
    for r in rows:
        assert r["distilabel_metadata"]["magpie_magpie_sft"]["seed"] == sample_seed(seed, r["row_index"])
    accepted = [normalize(r["instruction"]) for r in rows if r["instruction_status"] == "ok"]
    assert len(accepted) == len(set(accepted)) and accepted  # repeats are flagged `duplicate`, never kept as ok


def made_of(rows: list[dict]) -> list[tuple]:
    return [(r["row_index"], r["distilabel_metadata"]["magpie_magpie_sft"]["seed"], r["system_prompt_key"])
            for r in rows]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run without Ray: (rows, seconds)."""
    tmp = tmp_path_factory.mktemp("reference")
    done = run(command(tmp / "out", "--ignore-cache"), tmp)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rows = rows_of(tmp / "out")
    check_rows(rows)
    assert len({r["system_prompt_key"] for r in rows}) == len(SYSTEM)  # the choice varies with the index
    return rows, done.seconds


def test_ray_local_cluster_with_two_replicas_makes_the_same_rows(reference, tmp_path):
    ref_rows, _ = reference
    # Ray's session folder holds AF_UNIX sockets (at most 107 bytes of path): a short TMPDIR
    short = Path(tempfile.mkdtemp(prefix="magpie-ray-", dir="/tmp"))
    try:
        done = run(command(tmp_path / "out", "--ray", "--replicas", "2", "--ray-cpus", "2", "--ignore-cache"),
                   tmp_path, tmpdir=short)
        # the local cluster was stopped: no Ray process of this run is left
        time.sleep(1)
        left = subprocess.run(["pgrep", "-f", str(short)], capture_output=True, text=True, check=False).stdout.split()
    finally:
        shutil.rmtree(short, ignore_errors=True)
    assert left == []
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert "'magpie_sft' replicas: 2/2" in output  # distilabel started both replicas as Ray actors
    # one progress line for the step, summed over both actors (each alone has fewer rows)
    assert f"magpie_sft: {ROWS}/{ROWS} rows" in output, output[-4000:]
    rows = rows_of(tmp_path / "out")
    check_rows(rows)
    assert made_of(rows) == made_of(ref_rows)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["rows"] == ROWS
    print(f"ray: {ROWS} rows expected, {len(rows)} got, 0 repeated ok queries, {done.seconds:.0f} s "
          f"(without Ray {reference[1]:.0f} s)")


def _output_batches(cache: Path, step: str) -> int:
    return len(list(cache.glob(f"*/steps_data/{step}_*/batch_*.json")))


def test_a_run_killed_halfway_resumes_from_the_cache(reference, tmp_path):
    """SIGKILL to the whole run (the CLI and its workers) once 2 of the 6 batches are made; the
    same command again makes the rest, and a changed setting is a new run, not a mixed one."""
    ref_rows, _ = reference
    out = tmp_path / "out"
    cmd = command(out)  # no --ignore-cache: the cache is the point
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path,
                            env=environment(tmp_path), start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while _output_batches(tmp_path / "cache", "magpie_sft") < 2:
            assert proc.poll() is None and time.monotonic() < deadline, "the run ended or stalled before the kill"
            time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    made_before = _output_batches(tmp_path / "cache", "magpie_sft")
    assert 2 <= made_before < ROWS // 4 and not out.exists()

    # Another setting: distilabel's signature (chained through the steps) makes it a new run.
    other = run(command(tmp_path / "other", params={"magpie_sft.max_new_tokens": 20}), tmp_path)
    (tmp_path / "other.log").write_text(other.stdout + other.stderr)
    assert other.returncode == 0, other.stdout[-3000:] + other.stderr[-3000:]
    other_rows = rows_of(tmp_path / "other")
    assert [r["row_index"] for r in other_rows] == list(range(ROWS))
    assert {r["distilabel_metadata"]["magpie_magpie_sft"]["max_new_tokens"] for r in other_rows} == {20}

    resumed = run(cmd, tmp_path)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    log = resumed.stdout + resumed.stderr
    remade = [i for i in range(0, ROWS, 4) if f"magpie_sft: rows {i}..{i + 3}," in log]
    # the missing rows only, each once (a batch whose output was not yet recorded at the kill is made again)
    assert remade and 4 <= remade[0] <= 4 * made_before and remade == list(range(remade[0], ROWS, 4)), remade
    rows = rows_of(out)
    check_rows(rows)
    assert made_of(rows) == made_of(ref_rows)
    assert [(r["instruction_status"], r["response_status"]) for r in rows] == [
        (r["instruction_status"], r["response_status"]) for r in ref_rows]
    assert {r["distilabel_metadata"]["magpie_magpie_sft"]["max_new_tokens"] for r in rows} == {24}
    print(f"resume: killed after {made_before * 4} of {ROWS} rows; {ROWS} expected, {len(rows)} got, "
          f"0 duplicates; resumed run {resumed.seconds:.0f} s (uninterrupted {reference[1]:.0f} s)")


def _ray_tmp() -> Path:
    # Ray's session folder holds AF_UNIX sockets (at most 107 bytes of path): a short TMPDIR
    return Path(tempfile.mkdtemp(prefix="magpie-ray-", dir="/tmp"))


def _kill_when(proc: subprocess.Popen, log: Path, ready, sig: int, timeout: float = 420) -> None:
    deadline = time.monotonic() + timeout
    while not ready(" ".join(log.read_text(errors="replace").split())):
        assert proc.poll() is None, "the run ended before the kill:\n" + log.read_text(errors="replace")[-3000:]
        assert time.monotonic() < deadline, "the run stalled before the kill"
        time.sleep(0.5)
    os.killpg(proc.pid, sig)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


def _no_ray_left(tmpdir: Path) -> None:
    for _ in range(20):
        if not subprocess.run(["pgrep", "-f", str(tmpdir)], capture_output=True, text=True).stdout.split():
            return
        time.sleep(1)
    subprocess.run(["pkill", "-9", "-f", str(tmpdir)], check=False)


@pytest.mark.e2e
@pytest.mark.parametrize("sig,when", [(signal.SIGTERM, "early"), (signal.SIGKILL, "early"),
                                      (signal.SIGTERM, "last stage"), (signal.SIGKILL, "last stage")],
                         ids=["SIGTERM-early", "SIGKILL-early", "SIGTERM-last-stage", "SIGKILL-last-stage"])
def test_a_ray_run_killed_resumes_with_the_same_command(reference, tmp_path, sig, when):
    """A `--ray` run (two replicas) killed with a real signal, to the whole process group as a
    scheduler or a time limit does: after its first generation batch, or once its last stage
    (save_dataset) has loaded. The same command again completes with every row once."""
    ref_rows, _ = reference
    short = _ray_tmp()
    out = tmp_path / "out"
    cmd = command(out, "--ray", "--replicas", "2", "--ray-cpus", "2")
    log = tmp_path / "killed.log"
    if when == "early":
        def ready(text):
            return _output_batches(tmp_path / "cache", "magpie_sft") >= 1
    else:
        def ready(text):
            return "steps from stage 2 have been loaded" in text
    try:
        with log.open("w") as sink:
            proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT, cwd=tmp_path,
                                    env=environment(tmp_path, short), start_new_session=True)
        _kill_when(proc, log, ready, sig)
        _no_ray_left(short)
        assert not (out / "data.jsonl").exists()
        resumed = run(cmd, tmp_path, tmpdir=short)
    finally:
        _no_ray_left(short)
        shutil.rmtree(short, ignore_errors=True)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    rows = rows_of(out)
    check_rows(rows)
    assert made_of(rows) == made_of(ref_rows)
    print(f"ray resume after {sig.name} ({when}): {ROWS} rows expected, {len(rows)} got, resumed in "
          f"{resumed.seconds:.0f} s")


@pytest.mark.e2e
def test_a_ray_run_killed_in_its_last_stage_finishes_with_another_output_folder(tmp_path):
    """Every step before save_dataset is cached: the run with another output_dir passes over
    the cached stages instead of waiting for batches that never come."""
    short = _ray_tmp()
    cmd = command(tmp_path / "first", "--ray", "--replicas", "2", "--ray-cpus", "2")
    log = tmp_path / "killed.log"
    try:
        with log.open("w") as sink:
            proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT, cwd=tmp_path,
                                    env=environment(tmp_path, short), start_new_session=True)
        _kill_when(proc, log, lambda text: "steps from stage 2 have been loaded" in text, signal.SIGTERM)
        _no_ray_left(short)
        other = run(command(tmp_path / "second", "--ray", "--replicas", "2", "--ray-cpus", "2"), tmp_path,
                    timeout=300, tmpdir=short)
    finally:
        _no_ray_left(short)
        shutil.rmtree(short, ignore_errors=True)
    (tmp_path / "other.log").write_text(other.stdout + other.stderr)
    assert other.returncode == 0, other.stdout[-3000:] + other.stderr[-3000:]
    assert "every step's outputs are cached" in " ".join((other.stdout + other.stderr).split())
    check_rows(rows_of(tmp_path / "second"))


def _step_actor_pids(tmpdir: Path) -> list[int]:
    """Ray actor processes of this run's steps (their TMPDIR is the run's)."""
    pids = []
    for line in subprocess.run(["pgrep", "-f", "ray::_StepWrapperRay"], capture_output=True, text=True).stdout.split():
        try:
            if f"TMPDIR={tmpdir}".encode() in Path(f"/proc/{line}/environ").read_bytes().split(b"\0"):
                pids.append(int(line))
        except OSError:
            continue
    return pids


@pytest.mark.e2e
def test_a_killed_ray_actor_ends_the_run_with_one_line(tmp_path):
    """SIGKILL to a step's Ray actor mid-run: distilabel would wait forever; the run ends
    non-zero with one line naming the step and replica, and no Ray process is left."""
    short = _ray_tmp()
    cmd = command(tmp_path / "out", "--ray", "--replicas", "2", "--ray-cpus", "2", "--ignore-cache")
    log = tmp_path / "run.log"
    try:
        with log.open("w") as sink:
            proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT, cwd=tmp_path,
                                    env=environment(tmp_path, short), start_new_session=True)
        deadline = time.monotonic() + 420
        while _output_batches(tmp_path / "cache", "magpie_sft") < 1 or len(_step_actor_pids(short)) < 3:
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
        os.kill(_step_actor_pids(short)[-1], signal.SIGKILL)
        try:
            proc.wait(timeout=120)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    finally:
        _no_ray_left(short)
        shutil.rmtree(short, ignore_errors=True)
    output = log.read_text(errors="replace")
    assert proc.returncode != 0
    last = output.strip().splitlines()[-1]
    assert last.startswith("error: pipeline 'magpie-sft' failed: step '"), last
    assert "died: its Ray actor is gone (The actor died unexpectedly" in last, last
    assert not (tmp_path / "out" / "data.jsonl").exists()
