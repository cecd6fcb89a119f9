"""A run whose worker dies ends (within 60 s, non-zero, one line naming the step and the signal)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e  # a whole pipeline, a server or a killed process

ROOT = Path(__file__).resolve().parents[2]
DISTILABEL = Path(sys.executable).parent / "distilabel"


def _worker_pid(tmp: Path, step: str, timeout: float = 120) -> int:
    """The pid of the pool worker running `step` (the guard notes it under $TMPDIR)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for label in tmp.glob("magpie-workers-*/*"):
            if label.read_text().split("\n", 1)[0] == step:
                return int(label.name)
        time.sleep(0.2)
    raise AssertionError(f"no worker of step {step!r} appeared within {timeout} s")


# The multi-turn step starts after FinalizeRows has all first turns: few of them
FEW_FIRST_TURNS = ["magpie_first_turn.num_rows=4"]


@pytest.mark.parametrize("pipeline,step,sig,params", [
    ("magpie-sft.yaml", "magpie_sft", signal.SIGSEGV, []),
    ("magpie-sft.yaml", "magpie_sft", signal.SIGKILL, []),
    ("magpie-chat.yaml", "magpie_multi_turn", signal.SIGKILL, FEW_FIRST_TURNS),
])
def test_a_dead_generation_worker_ends_the_run(tmp_path, pipeline, step, sig, params):
    """A real `distilabel pipeline run`; its generation worker is killed with a real signal once
    the step runs (distilabel 1.5.3 alone replaces the worker and waits forever)."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "data.jsonl").write_text('{"instruction": "from an older run"}\n')
    (out / "summary.json").write_text('{"rows": 1}\n')
    args = [str(DISTILABEL), "pipeline", "run", "--config", str(ROOT / "pipelines" / pipeline), "--ignore-cache",
            "--param", f"save_dataset.output_dir={out}"]
    for param in params:
        args += ["--param", param]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path,
                            env=dict(os.environ, TMPDIR=str(tmp_path)), start_new_session=True)
    try:
        pid = _worker_pid(tmp_path, step, timeout=300)
        time.sleep(3)  # let it load and start generating
        os.kill(pid, sig)
        killed = time.monotonic()
        output, _ = proc.communicate(timeout=60)
        assert time.monotonic() - killed < 60
    finally:
        try:  # the run and any worker it left (they would hold its output pipe open)
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        if proc.returncode is None:
            proc.communicate(timeout=30)
    assert proc.returncode != 0
    last = output.strip().splitlines()[-1]
    assert last.startswith("error: ") and f"step '{step}' (replica 0) died" in last and sig.name in last, last
    assert (out / "data.jsonl").read_text() == '{"instruction": "from an older run"}\n'  # not replaced
