"""The real review server (Argilla API server) killed with SIGKILL in the middle of a push of 600
records (in batches of 50, as a pipeline sends them) and restarted: the push reports what it could not send, and pushing again leaves every
record exactly once (counted through the Argilla API)."""

import os
import signal
import threading
import time

import pytest

from distilabel_magpie.review.push import PushSFTToArgilla

from .test_push import push, sft_rows

pytestmark = [pytest.mark.e2e, pytest.mark.argilla]

RECORDS = 600


def _count(client, name) -> tuple[int, int]:
    ids = [r.id for r in client.datasets(name).records]
    return len(ids), len(set(ids))


def test_push_survives_a_killed_and_restarted_review_server(review_server, client, dataset_name):
    server, creds = review_server
    rows = sft_rows(RECORDS)
    push(PushSFTToArgilla, dataset_name, rows[:1])  # the dataset exists before the kill
    api = next(p for p in server._procs() if p.name == "server")
    step = PushSFTToArgilla(dataset_name=dataset_name, max_retries=1, retry_backoff=0.2)
    step.load()
    first: list = []

    def pushing_in_batches():  # as in a pipeline: input batches of 50 rows
        for start in range(0, RECORDS, 50):
            first.extend(next(step.process([dict(r) for r in rows[start:start + 50]])))

    pushing = threading.Thread(target=pushing_in_batches, daemon=True)
    pushing.start()
    deadline = time.monotonic() + 120
    while len(first) < 100:  # two batches acknowledged: the kill lands in the middle
        assert pushing.is_alive() and time.monotonic() < deadline, "the push ended or stalled before the kill"
        time.sleep(0.05)
    os.killpg(api.pid, signal.SIGKILL)
    killed = time.monotonic()
    pushing.join(timeout=180)
    assert not pushing.is_alive(), "the push did not end after the server died"
    statuses = [r["argilla_status"] for r in first]
    assert len(first) == RECORDS and "failed" in statuses  # what was not sent is said, not lost silently
    sent_first = sum(s in ("created", "updated") for s in statuses)
    assert 100 <= sent_first < RECORDS

    server.start(echo=lambda *_: None)  # same data directory, port and key (stops what is left of it first)
    assert (server.status()["url"]) == creds.api_url
    _step, again = push(PushSFTToArgilla, dataset_name, [dict(r) for r in rows])
    recovered = time.monotonic() - killed
    assert all(r["argilla_status"] in ("created", "updated") for r in again), {r["argilla_status"] for r in again}
    total, unique = _count(client, dataset_name)
    assert (total, unique) == (RECORDS, RECORDS)
    print(f"review server kill mid-push: {RECORDS} records expected, {total} got ({unique} distinct ids, "
          f"{sent_first} sent before the kill); restart and second push done {recovered:.1f} s after the kill")
