"""The retry budget of one request, shared by our HTTP clients (completion servers, the review
server): exponential backoff with jitter, or the server's `Retry-After`, within a bound on the
number of retries and on the total time spent waiting."""

from __future__ import annotations

import email.utils
import math
import random
import time
from typing import Optional

BACKOFF_BASE = 0.5  # seconds before the first retry
BACKOFF_CAP = 30.0


def retry_after(value: Optional[str]) -> Optional[float]:
    """Seconds from a `Retry-After` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def backoff(attempt: int, base: float = BACKOFF_BASE) -> float:
    """Exponential backoff with jitter: half fixed, half random, so clients spread out."""
    delay = min(BACKOFF_CAP, base * 2**attempt)
    return delay * (0.5 + random.random() / 2)


class Retries:
    """Decides, after each failed attempt of one request, how long to wait before the next one,
    or that the request gives up: after `max_retries` retries, or when waiting would take the
    time since the first failure past `max_wait` seconds."""

    def __init__(self, max_retries: int, max_wait: float = math.inf, base: float = BACKOFF_BASE) -> None:
        self.max_retries, self.max_wait, self.base = max_retries, max_wait, base
        self.attempt = 0  # retries granted so far
        self.waited = 0.0  # seconds from the first failure to the latest
        self._first: Optional[float] = None

    def next_wait(self, retry_after: Optional[float] = None) -> Optional[float]:
        """Seconds to wait before retrying (the server's `retry_after` when it gave one), or None
        when the request must give up."""
        now = time.monotonic()
        self._first = now if self._first is None else self._first
        self.waited = now - self._first
        delay = backoff(self.attempt, self.base) if retry_after is None else retry_after
        if self.attempt >= self.max_retries or self.waited + delay > self.max_wait:
            return None
        self.attempt += 1
        return delay
