"""Each real server (llama-cpp-python's, llama.cpp's llama-server) killed with SIGKILL in the middle of a real run of
pipelines/magpie-sft-server.yaml (through `distilabel-magpie run`):

- restarted on the same port within the retry window, the run completes with every row once;
- never restarted, the run ends within the bounded wait, non-zero, with one `error:` line, and
  the rows made so far stay in the cache: the same command against a new server makes only the
  rest.

Each run is a subprocess with a private cache and a timeout; every server is stopped."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import SERVER_KINDS, require_llama_server_binary
from .servers import LlamaCppServer, LlamaServer

pytestmark = pytest.mark.e2e  # a whole pipeline, a server or a killed process

ROOT = Path(__file__).resolve().parents[2]
ROWS, BATCH = 12, 4


def command(url: str, out: Path, retry_wait: float) -> list[str]:
    params = {"magpie_sft.llm.base_url": url, "magpie_sft.num_rows": ROWS, "magpie_sft.batch_size": BATCH,
              "magpie_sft.max_new_tokens": 24, "magpie_sft.response_max_new_tokens": 24,
              "magpie_sft.llm.max_retry_wait": retry_wait, "magpie_sft.llm.max_retries": 30,
              "save_dataset.output_dir": out}
    cmd = [sys.executable, "-m", "distilabel_magpie.cli", "run", str(ROOT / "pipelines" / "magpie-sft-server.yaml")]
    for key, value in params.items():
        cmd += ["--param", f"{key}={value}"]
    return cmd


def environment(tmp: Path) -> dict:
    return {**os.environ, "DISTILABEL_CACHE_DIR": str(tmp / "cache"), "TMPDIR": str(tmp),
            "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}


@pytest.fixture(params=SERVER_KINDS)
def make_server(request):
    """Starts a server of one kind on the embedded model: make_server(model, log_dir, port=None)."""
    if request.param == "llama-cpp-python":
        return LlamaServer
    binary = require_llama_server_binary()
    return lambda model, log_dir, port=None: LlamaCppServer(model, log_dir, binary=binary, port=port)


def output_batches(tmp: Path) -> int:
    return len(list((tmp / "cache").glob("*/steps_data/magpie_sft_*/batch_*.json")))


def start_and_kill_after_first_batch(server: LlamaServer, cmd: list[str], tmp: Path) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp,
                            env=environment(tmp))
    deadline = time.monotonic() + 300
    while output_batches(tmp) < 1:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"the run ended or stalled before the kill: {proc.communicate()[0][-3000:]}")
        time.sleep(0.1)
    server.kill()  # the next batch is in flight
    return proc


def rows_of(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "data.jsonl").read_text().splitlines()]


def test_killed_server_restarted_within_the_retry_window(make_server, embedded_model_path, tmp_path):
    server = make_server(embedded_model_path, tmp_path).wait_ready()
    restarted = None
    proc = None
    try:
        proc = start_and_kill_after_first_batch(server, command(server.url, tmp_path / "out", 120), tmp_path)
        killed = time.monotonic()
        time.sleep(2)  # down for a while: requests fail to connect and are retried
        restarted = make_server(embedded_model_path, tmp_path, port=server.port).wait_ready()
        back = time.monotonic() - killed
        output, _ = proc.communicate(timeout=300)
        total = time.monotonic() - killed
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.communicate()
        server.stop()
        if restarted is not None:
            restarted.stop()
    assert proc.returncode == 0, output[-4000:]
    rows = rows_of(tmp_path / "out")
    assert [r["row_index"] for r in rows] == list(range(ROWS))
    assert all(r["instruction_status"] != "error" and r["response_status"] != "error" for r in rows), [
        (r["instruction_status"], r["response_status"]) for r in rows]
    print(f"server kill + restart: {ROWS} rows expected, {len(rows)} got, 0 duplicates; server back after "
          f"{back:.1f} s, run done {total:.1f} s after the kill")


def test_killed_server_that_never_returns_ends_the_run_and_keeps_the_rows_made(make_server, embedded_model_path,
                                                                              tmp_path):
    server = make_server(embedded_model_path, tmp_path).wait_ready()
    second = None
    proc = None
    try:
        proc = start_and_kill_after_first_batch(server, command(server.url, tmp_path / "out", 5), tmp_path)
        killed = time.monotonic()
        output, _ = proc.communicate(timeout=120)
        ended = time.monotonic() - killed
        kept = output_batches(tmp_path)
        claimed = (tmp_path / "out").exists()
        # the same command against a server on the same address makes only the missing rows
        second = make_server(embedded_model_path, tmp_path, port=server.port).wait_ready()
        resumed = subprocess.run(command(server.url, tmp_path / "out", 5), capture_output=True, text=True,
                                 timeout=300, cwd=tmp_path, env=environment(tmp_path))
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.communicate()
        server.stop()
        if second is not None:
            second.stop()
    assert proc.returncode != 0
    last = output.strip().splitlines()[-1]
    assert last.startswith("error: ") and "did not answer" in last and "max_retry_wait" in last, last
    # the outage was logged; no traceback on the console (it is kept in a file the log names)
    assert "Traceback" not in output and "No output files" not in output and "waiting for it" in output, output
    joined = "".join(output.split())  # the console wraps long lines
    assert "tracebackin" in joined and "traceback.txt)" in joined
    assert ended < 5 + 60  # the retry budget, then the run's own stop (a loaded CI machine is slow)
    assert kept >= 1 and not claimed  # made rows kept in the cache, no dataset claimed
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    rows = rows_of(tmp_path / "out")
    assert [r["row_index"] for r in rows] == list(range(ROWS))
    print(f"server kill, never back: run ended {ended:.1f} s after the kill (max_retry_wait 5 s), "
          f"{kept * BATCH} of {ROWS} rows kept in the cache; resumed: {ROWS} expected, {len(rows)} got")
