"""pytest plugin (`-p magpie_suite_report`) for scripts/distilabel_suite.py.

- Appends one JSON line per event to the file named by `MAGPIE_SUITE_EVENTS`, flushed at once,
  so that what ran is known even when the session dies (pytest-timeout's thread method ends the
  process on a hang): `start` (a test begins), `phase` (setup / call / teardown report, with
  its outcome and the failure's last lines), `finish` (a test ended), `collect` (a module that
  failed to import), `check` (a mode plugin's own check, ok or not).
- Deselects the tests listed in the file named by `MAGPIE_SUITE_SKIP` (one a line: a test id,
  or a module or class id for every test under it): tests that already ran in an earlier
  session of the same run, the one that hung, and tests that need the network.
"""

from __future__ import annotations

import json
import os

_skip: set[str] = set()
# read once: some of distilabel's tests clear os.environ while they run (mock.patch.dict(clear=True))
_EVENTS = os.environ.get("MAGPIE_SUITE_EVENTS")


def emit(**event) -> None:
    if not _EVENTS:
        return
    with open(_EVENTS, "a", encoding="utf-8") as f:
        f.write(json.dumps(event) + "\n")
        f.flush()


def _detail(report) -> str:
    text = str(getattr(report, "longrepr", "") or "")
    if report.skipped:
        # (path, line, reason) for skips
        longrepr = getattr(report, "longrepr", None)
        return str(longrepr[2]) if isinstance(longrepr, tuple) and len(longrepr) == 3 else text[-300:]
    lines = [line for line in text.splitlines() if line.startswith("E ")]
    return "\n".join(lines[-15:]) if lines else text[-2000:]


def pytest_configure(config) -> None:
    path = os.environ.get("MAGPIE_SUITE_SKIP")
    if path and os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            _skip.update(line.strip() for line in f if line.strip())


def pytest_collection_modifyitems(session, config, items) -> None:
    if not _skip:
        return
    kept, dropped = [], []
    for item in items:
        parts = item.nodeid.split("::")
        owners = {"::".join(parts[:i]) for i in range(1, len(parts) + 1)}
        (dropped if owners & _skip else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def pytest_runtest_logstart(nodeid, location) -> None:
    emit(event="start", nodeid=nodeid)


def pytest_runtest_logreport(report) -> None:
    outcome = report.outcome
    if hasattr(report, "wasxfail"):
        outcome = "xfailed" if report.skipped else "xpassed"
    event = {"event": "phase", "nodeid": report.nodeid, "when": report.when, "outcome": outcome,
             "duration": round(report.duration, 3)}
    if report.failed or report.skipped or outcome == "xfailed":
        event["detail"] = _detail(report)
    emit(**event)


def pytest_runtest_logfinish(nodeid, location) -> None:
    emit(event="finish", nodeid=nodeid)


def pytest_collectreport(report) -> None:
    if report.failed:
        emit(event="collect", nodeid=report.nodeid, outcome="error", detail=_detail(report))
