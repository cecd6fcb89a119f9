"""The retry budget shared by the completion-server client and the review uploader."""

from __future__ import annotations

import pytest

from distilabel_magpie.engines.retry import BACKOFF_CAP, Retries, backoff, retry_after


def test_backoff_doubles_with_jitter_and_is_capped():
    for attempt in range(4):
        assert 0.5 * 2**attempt / 2 <= backoff(attempt, 0.5) <= 0.5 * 2**attempt
    assert backoff(30, 0.5) <= BACKOFF_CAP


def test_retries_stop_after_max_retries():
    retries = Retries(2, base=0.01)
    assert retries.next_wait() is not None and retries.next_wait() is not None
    assert retries.next_wait() is None and retries.attempt == 2


def test_retry_after_is_honoured_within_the_wait_budget():
    retries = Retries(5, max_wait=10)
    assert retries.next_wait(retry_after=3.0) == 3.0
    assert retries.next_wait(retry_after=11.0) is None  # would wait past max_wait


@pytest.mark.parametrize("value, expected", [("2", 2.0), ("-1", 0.0), ("", None), ("soon", None)])
def test_retry_after_header(value, expected):
    assert retry_after(value) == expected
