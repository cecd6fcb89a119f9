"""The live progress line: counts summed over replicas, ETA, plain lines off a terminal."""

from __future__ import annotations

import io
import json
import os
import time

from distilabel_magpie.runtime import progress
from distilabel_magpie.runtime.progress import StepProgress, duration, progress_line, row_tokens


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Named:
    name = "magpie_sft"
    num_rows = 100


def test_line_and_eta():
    assert progress_line("sft", 40, 100, 30, 6000, 40.0) == (
        "sft: 40/100 rows, 30 accepted (75%), 150 tok/s, 1.00 rows/s, ETA 1m00s")
    assert progress_line("sft", 0, 100, 0, 0, 0.0).endswith("ETA ?")
    assert progress_line("responder", 5, 0, 5, 10, 1.0).startswith("responder: 5/? rows, 5 accepted (100%), 10 tok/s")
    assert ", 0.2 tok/s," in progress_line("slow", 1, 4, 0, 2, 10.0)
    assert [duration(s) for s in (42, 185, 3720, None)] == ["42s", "3m05s", "1h02m", "?"]


def test_replicas_are_summed_and_only_the_lowest_pid_prints(tmp_path):
    out, clock = io.StringIO(), Clock()
    live = StepProgress(Named(), 100, stream=out, folder=tmp_path, clock=clock)
    other = tmp_path / "magpie_sft" / f"{os.getpid() + 1}.json"
    other.write_text(json.dumps({"done": 10, "requested": 100, "accepted": 5, "tokens": 1000, "seconds": 20.0,
                                 "started": time.time(), "updated": time.time()}))
    clock.now += 20
    live.add(rows=10, accepted=9, tokens=1000)
    assert live.lines()[0] == "magpie_sft: 20/100 rows, 14 accepted (70%), 100 tok/s, 1.00 rows/s, ETA 1m20s"
    # Off a terminal: a plain line at most every PLAIN_S seconds, one line each, never wrapped.
    clock.now += progress.PLAIN_S
    live.add(rows=0)
    printed = out.getvalue().splitlines()
    assert printed[-1].startswith("magpie_sft: 20/100 rows") and "\r" not in out.getvalue()
    stale = tmp_path / "magpie_sft" / "1.json"  # a lower pid, but from an earlier run: ignored
    stale.write_text(json.dumps({"done": 99, "requested": 100, "accepted": 0, "tokens": 0, "seconds": 1.0,
                                 "started": 0, "updated": 0}))
    assert live.leads() and "20/100" in live.lines()[0]


def test_a_terminal_line_is_redrawn_in_place(tmp_path):
    class Tty(io.StringIO):
        def isatty(self):
            return True

    out, clock = Tty(), Clock()
    live = StepProgress(Named(), 100, stream=out, folder=tmp_path, clock=clock)
    clock.now += progress.WRITE_S
    live.add(rows=1, accepted=1, tokens=10)
    assert out.getvalue().count("\r") == 2 and "\n" not in out.getvalue()
    live.close()
    assert out.getvalue().endswith("\n")


def test_row_tokens_sums_statistics():
    row = {"distilabel_metadata": {"statistics_a": {"output_tokens": 5}, "statistics_response_a": {"output_tokens": 7},
                                   "statistics_b": {"output_tokens": [1, 2]}, "raw_output_a": "x"}}
    assert row_tokens(row) == 15 and row_tokens({}) == 0


def test_a_launcher_sums_the_lines_of_workers_it_did_not_start(tmp_path, monkeypatch):
    """Ray actors count under the key the launcher gave them (RUN_KEY_ENV); the launcher's
    watcher prints each step summed over its replicas, and the run's line, at the end."""
    monkeypatch.setattr(progress.tempfile, "tempdir", str(tmp_path))
    monkeypatch.setenv(progress.RUN_KEY_ENV, "magpie-sft-ray-1")
    out = io.StringIO()
    watcher = progress.RunWatcher("magpie-sft-ray-1", stream=out)
    for pid, done in ((101, 14), (102, 10)):  # two actors of one step, written as StepProgress does
        folder = tmp_path / "distilabel-magpie-progress" / "magpie-sft-ray-1" / "magpie_sft"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{pid}.json").write_text(json.dumps({"done": done, "requested": 24, "accepted": done - 2,
                                                        "tokens": 100 * done, "seconds": 10.0,
                                                        "started": time.time(), "updated": time.time()}))
    assert progress._run_key(Named()) == "magpie-sft-ray-1"
    watcher.stop()  # never started: prints the final line only
    assert out.getvalue() == "magpie_sft: 24/24 rows, 20 accepted (83%), 240 tok/s, 2.40 rows/s, ETA 0s\n"
