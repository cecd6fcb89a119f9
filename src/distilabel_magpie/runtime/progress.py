"""Live progress of our generation steps: rows done of requested, accepted so far, tokens/s, ETA.

One line per step, summed over its replicas: each replica writes its counts to a small file
(`<tempdir>/distilabel-magpie-progress/<run>/<step>/<pid>.json`, at most every `WRITE_S`; the
run is told by the process that started the replicas), and
the replica with the lowest process id prints the sum for all, plus a `run:` line over every
step of the run. On a terminal the lines are redrawn in place on stderr; elsewhere
(logs, CI, a file) a plain line is printed every `PLAIN_S` seconds, never wrapped. Replicas on
other machines or started by other processes (Ray actors) are not summed: each prints its own.
The cost is a clock read per update and a file write every few seconds.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional, TextIO

WRITE_S = 2.0  # how often a replica writes its counts (and a terminal line is redrawn)
PLAIN_S = 30.0  # how often a plain line is printed where stderr is not a terminal
STALE_S = 5.0  # a replica file last written this long before ours started is from an earlier run


def duration(seconds: Optional[float]) -> str:
    """`1h02m`, `3m05s`, `42s`; `?` when unknown."""
    if seconds is None or seconds != seconds or seconds < 0:
        return "?"
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s}s"


def write_line(stream: TextIO, terminal: bool, text: str, final: bool) -> None:
    """On a terminal, `text` redrawn in place and cut to its width rather than wrapped (a newline
    after the final one); elsewhere one plain line."""
    if terminal:
        width = shutil.get_terminal_size((200, 24)).columns
        stream.write("\r" + text[: max(20, width - 1)] + "\x1b[K" + ("\n" if final else ""))
    else:
        stream.write(text + "\n")
    stream.flush()


def progress_line(name: str, done: int, requested: int, accepted: int, tokens: int, seconds: float) -> str:
    """`name: 40/100 rows, 31 accepted (78%), 152 tok/s, 0.2 rows/s, ETA 5m00s`."""
    rate = done / seconds if seconds > 0 else 0.0
    eta = None if not requested else (requested - done) / rate if rate > 0 else (0.0 if done >= requested else None)
    pct = f"{accepted / done:.0%}" if done else "-"
    tok_s = tokens / seconds if seconds > 0 else 0.0
    return (f"{name}: {done}/{requested or '?'} rows, {accepted} accepted ({pct}), "
            f"{tok_s:.{0 if tok_s >= 10 else 1}f} tok/s, {rate:.2f} rows/s, ETA {duration(eta)}")


RUN_KEY_ENV = "DISTILABEL_MAGPIE_PROGRESS_RUN"  # set by a launcher whose workers are not its children (Ray)


def progress_root() -> Path:
    return Path(tempfile.gettempdir()) / "distilabel-magpie-progress"


def _run_key(step: Any) -> str:
    """What the replicas of one run share: the key a launcher gave its workers (`RUN_KEY_ENV`),
    else the process that started them (the run's pool), so runs side by side on one machine are
    not summed together."""
    given = os.environ.get(RUN_KEY_ENV)
    if given:
        return given
    name = getattr(getattr(step, "pipeline", None), "name", None) or "run"
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in f"{name}-{os.getppid()}")[:120]


class StepProgress:
    """Counts of one replica of a generation step, shown summed over its replicas."""

    def __init__(self, step: Any, requested: int, stream: Optional[TextIO] = None,
                 folder: Optional[Path] = None, clock=time.monotonic) -> None:
        self.name = getattr(step, "name", None) or type(step).__name__
        self.requested = requested
        self.stream = stream if stream is not None else sys.stderr
        self.terminal = bool(getattr(self.stream, "isatty", lambda: False)())
        self.clock = clock
        self.done = self.accepted = self.tokens = 0
        self.started = clock()
        self.wall_started = time.time()
        base = folder or progress_root() / _run_key(step)
        self.folder = base / self.name
        self.file = self.folder / f"{os.getpid()}.json"
        self._written = self._printed = -1e18
        self.step_ref: Any = None
        self._final = ""  # the last final line printed (printed again only when it changed)
        self._write(force=True)

    def add(self, rows: int = 0, accepted: int = 0, tokens: int = 0) -> None:
        self.done += rows
        self.accepted += accepted
        self.tokens += tokens
        self._write(force=bool(rows or accepted))
        if (rows or accepted) and self.requested and sum(s["done"] for s in self.replicas()) >= self.requested:
            self.show(force=True, final=True)  # the step's last rows: its final line, whichever replica

    def tokens_only(self, tokens: int) -> None:
        """Tokens as they are generated (rows are counted when they are complete)."""
        self.tokens += tokens
        self._write()

    def _write(self, force: bool = False) -> None:
        now = self.clock()
        if not force and now - self._written < WRITE_S:
            return
        self._written = now
        self._save()
        self.show()

    def _save(self) -> None:
        now = self.clock()
        state = {"done": self.done, "requested": self.requested, "accepted": self.accepted, "tokens": self.tokens,
                 "seconds": now - self.started, "started": self.wall_started, "updated": time.time()}
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp = self.file.with_suffix(".tmp")
            tmp.write_text(json.dumps(state))
            tmp.replace(self.file)
        except OSError:
            pass  # progress is best effort

    def replicas(self) -> list[dict]:
        """The counts of every replica of this step in this run (ours included)."""
        out = []
        for path in sorted(self.folder.glob("*.json")) if self.folder.exists() else []:
            try:
                state = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if state.get("updated", 0) >= self.wall_started - STALE_S:
                out.append({**state, "pid": path.stem})
        return out

    def lines(self) -> list[str]:
        """This step's line summed over its replicas, and the run's line over every step."""
        mine = self.replicas() or [{"done": self.done, "requested": self.requested, "accepted": self.accepted,
                                    "tokens": self.tokens, "seconds": self.clock() - self.started}]
        lines = [_summed(self.name, mine)]
        steps = [p for p in self.folder.parent.iterdir() if p.is_dir()] if self.folder.parent.exists() else []
        if len(steps) > 1:
            everything = [s for p in steps for s in StepProgressView(p, self.wall_started).replicas()]
            lines.append(_summed("run", everything))
        return lines

    def leads(self) -> bool:
        """Whether this replica prints (the lowest process id among the live replicas)."""
        pids = [int(s["pid"]) for s in self.replicas() if str(s.get("pid", "")).isdigit()]
        return not pids or os.getpid() <= min(pids)

    def show(self, force: bool = False, final: bool = False) -> None:
        now = self.clock()
        every = WRITE_S if self.terminal else PLAIN_S
        if not force and now - self._printed < every:
            return
        if not final and not self.leads():
            return
        text = " | ".join(self.lines())
        if final and text == self._final:
            return
        self._printed = now
        if final:
            self._final = text
        write_line(self.stream, self.terminal, text, final)

    def close(self) -> str:
        """The final line (printed once more) and the replica's file kept for the others' sums."""
        self._save()
        self.show(force=True, final=True)
        return self.lines()[0]


class StepProgressView:
    """The replica files of one step folder, read only."""

    def __init__(self, folder: Path, since: float) -> None:
        self.folder, self.since = folder, since

    def replicas(self) -> list[dict]:
        out = []
        for path in sorted(self.folder.glob("*.json")):
            try:
                state = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if state.get("updated", 0) >= self.since - STALE_S:
                out.append({**state, "step": self.folder.name})
        return out


class RunWatcher:
    """Prints the summed lines of every step of run `key` from the replicas' files, for a launcher
    whose workers' own output does not reach the user (Ray actors, whose logs stay on their node):
    every `PLAIN_S` seconds (redrawn every `WRITE_S` on a terminal) and once at `stop`."""

    def __init__(self, key: str, stream: Optional[TextIO] = None) -> None:
        import threading

        self.folder = progress_root() / key
        self.stream = stream if stream is not None else sys.stderr
        self.terminal = bool(getattr(self.stream, "isatty", lambda: False)())
        self.since = time.time()
        self._stop = threading.Event()
        self._last = ""
        self._thread = threading.Thread(target=self._loop, name="magpie-progress", daemon=True)

    def start(self) -> "RunWatcher":
        self._thread.start()
        return self

    def lines(self) -> list[str]:
        steps = sorted(p for p in self.folder.iterdir() if p.is_dir()) if self.folder.exists() else []
        per_step = [(p.name, StepProgressView(p, self.since).replicas()) for p in steps]
        lines = [_summed(name, states) for name, states in per_step if states]
        if len(lines) > 1:
            lines.append(_summed("run", [s for _, states in per_step for s in states]))
        return lines

    def _show(self, final: bool = False) -> None:
        text = " | ".join(self.lines())
        if not text or (final and text == self._last):
            return
        self._last = text
        write_line(self.stream, self.terminal, text, final)

    def _loop(self) -> None:
        while not self._stop.wait(WRITE_S if self.terminal else PLAIN_S):
            self._show()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._show(final=True)


def _summed(name: str, states: list[dict]) -> str:
    done = sum(s["done"] for s in states)
    accepted = sum(s["accepted"] for s in states)
    tokens = sum(s["tokens"] for s in states)
    requested = sum({s.get("step", ""): s["requested"] for s in states}.values()) if name == "run" else (
        max((s["requested"] for s in states), default=0))
    seconds = max((s["seconds"] for s in states), default=0.0)
    return progress_line(name, done, requested, accepted, tokens, seconds)


_TRACKERS: dict[int, StepProgress] = {}  # by id(step): pydantic steps take no new attributes


def tracker(step: Any) -> StepProgress:
    """The progress of `step` in this process (made on first use)."""
    got = _TRACKERS.get(id(step))
    if got is None or got.step_ref is not step:
        got = _TRACKERS[id(step)] = StepProgress(step, getattr(step, "num_rows", None) or 0)
        got.step_ref = step
    return got


def row_tokens(row: dict) -> int:
    """Tokens generated for `row`, from the `statistics*` entries of its distilabel_metadata."""
    total = 0
    for key, value in (row.get("distilabel_metadata") or {}).items():
        if key.startswith("statistics") and isinstance(value, dict):
            out = value.get("output_tokens", 0)
            total += sum(out) if isinstance(out, list) else int(out or 0)
    return total


def report_rows(step: Any, rows: list[dict], accepted: int, tokens: Optional[int] = None) -> None:
    """Count a batch of finished rows (`tokens`: None takes them from the rows' metadata)."""
    tracker(step).add(len(rows), accepted, sum(row_tokens(r) for r in rows) if tokens is None else tokens)


def continuous(engine: Any) -> bool:
    """Whether `engine` runs queries and answers in one continuous batch (`CompletionEngine.run`);
    False for stand-ins that only complete."""
    check = getattr(engine, "continuous", None)
    return bool(check()) if callable(check) else False
