"""The mended run in progress in this process, if any: every mend asks `current()` before it
acts, so a pipeline that is not mended runs through distilabel's own code. Forked step workers
inherit it; a Ray actor has none (its mends act for our own steps only, see `guard.py`)."""

from __future__ import annotations

import threading
from typing import Any, Optional


class MendedRun:
    """One mended `Pipeline.run`: its failures in the order they happened, and what the batch
    mends keep for it."""

    def __init__(self, pipeline: Any) -> None:
        self.pipeline = pipeline
        self.failures: list[str] = []
        self.failed_batches: dict[str, int] = {}
        self.lock = threading.Lock()
        self.ray_runs: list = []  # (ObjectRef, step name, label) watched on RayPipeline
        self.upstream: dict[str, str] = {}  # step name -> signatures of the steps before it
        self.in_flight: dict[str, dict] = {}  # step name -> {seq_no: copy of the batch sent}
        self.held_last: set[str] = set()  # replicated steps whose last batch came back early
        self.before_hard_exit: list = []  # what to stop before the process exits on a hang (Ray actors)

    def fail(self, message: str) -> None:
        with self.lock:
            if message not in self.failures:
                self.failures.append(message)

    def summary(self) -> str:
        parts = list(self.failures)
        for step, n in self.failed_batches.items():
            parts.append(f"step '{step}' failed on {n} batch{'es' if n > 1 else ''} (its rows were passed on "
                         "with empty outputs; see the log above)")
        return f"pipeline '{self.pipeline.name}' failed: " + "; ".join(parts)


_current: Optional[MendedRun] = None


def current() -> Optional[MendedRun]:
    return _current


def start(pipeline: Any) -> MendedRun:
    global _current
    _current = MendedRun(pipeline)
    return _current


def end(run: MendedRun) -> None:
    global _current
    if _current is run:
        _current = None
