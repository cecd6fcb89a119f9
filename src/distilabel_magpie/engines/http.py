"""HTTP for the completion-server engine: one event loop in a background thread, keep-alive
connections, a cap on requests in flight, and bounded retries.

Retries (429, 5xx, dropped or refused connections, timeouts) back off exponentially with
jitter and honour `Retry-After` (`engines.retry.Retries`); a request gives up once its retries would wait longer than
`max_retry_wait` in total, with a one-line `MagpieError`. Other HTTP errors are returned to
the caller, which knows what they mean for its request.

An outage is logged once when it begins (with the failure), every `NOTE_EVERY` seconds while it
lasts (with the wait so far) and once when the server answers again, whatever the number of
requests waiting on it. A server that has never answered a connection is given only the
`unreachable_after` seconds a caller allows (at load: a few), then a one-line error names the
URL and the likely cause.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Optional, TypeVar

from distilabel_magpie.engines.retry import Retries, retry_after
from distilabel_magpie.errors import MagpieError

T = TypeVar("T")

RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
NOTE_EVERY = 30.0  # seconds between "still waiting" lines during an outage

logger = logging.getLogger("distilabel_magpie.engines.server")


@dataclass(frozen=True)
class RetryPolicy:
    timeout: float = 600.0  # one attempt (a long generation on a busy server takes minutes)
    max_retries: int = 8
    max_retry_wait: float = 120.0  # total seconds of waiting between the attempts of one request


class LoopThread:
    """An asyncio loop in a daemon thread, so synchronous callers (distilabel steps) can run
    coroutines whether or not their own thread has a loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="magpie-http", daemon=True)
        self._thread.start()

    def run(self, coro: Awaitable[T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def close(self) -> None:
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=5)
        if not self.loop.is_running():
            self.loop.close()


class Response:
    def __init__(self, status: int, data: Any, text: str) -> None:
        self.status, self.data, self.text = status, data, text

    def message(self) -> str:
        """The server's error message, on one line."""
        data = self.data
        if isinstance(data, dict):
            err = data.get("error", data.get("detail", data.get("message", data)))
            if isinstance(err, dict):
                err = err.get("message", err)
            data = err
        text = data if isinstance(data, str) else json.dumps(data) if data is not None else self.text
        return " ".join(str(text).split())[:300]


class HttpClient:
    """JSON requests to one server, at most `max_concurrency` in flight. Create and use it
    inside `loop` (httpx binds its connections to the loop that opened them)."""

    def __init__(self, root: str, headers: dict[str, str], policy: RetryPolicy, max_concurrency: int) -> None:
        import httpx

        self.root = root.rstrip("/")
        self.policy = policy
        self._httpx = httpx
        self._client = httpx.AsyncClient(
            headers=headers, timeout=httpx.Timeout(policy.timeout, connect=min(10.0, policy.timeout)),
            limits=httpx.Limits(max_connections=max_concurrency, max_keepalive_connections=max_concurrency))
        self.max_concurrency = max_concurrency
        self._slots = asyncio.Semaphore(max_concurrency)
        self.retries = 0  # retried attempts, for logs and tests
        self.answered = False  # the server has answered at least one request
        self._down_since: Optional[float] = None  # the current outage began (monotonic)
        self._noted = 0.0  # last outage line

    def _failed(self, failure: str) -> None:
        now = time.monotonic()
        if self._down_since is None:
            self._down_since = self._noted = now
            logger.warning(f"server at {self.root}: {failure}; waiting for it, retrying each request for up to "
                           f"{self.policy.max_retry_wait:g} s")
        elif now - self._noted >= NOTE_EVERY:
            self._noted = now
            logger.warning(f"still waiting for the server at {self.root}: {failure}, "
                           f"{now - self._down_since:.0f} s so far")

    def _succeeded(self) -> None:
        self.answered = True
        if self._down_since is not None:
            logger.warning(f"server at {self.root} answers again after {time.monotonic() - self._down_since:.0f} s")
            self._down_since = None

    def narrow(self, n: int) -> None:
        """At most `n` requests in flight from now on (call while none is)."""
        if n < self.max_concurrency:
            self.max_concurrency = n
            self._slots = asyncio.Semaphore(n)

    def _why(self, failure: str) -> str:
        """The connection error in words (httpx names only its class)."""
        return "connection refused or host not found" if "ConnectError" in failure else failure

    async def aclose(self) -> None:
        await self._client.aclose()

    async def call(self, method: str, path: str, body: Any = None, *, retry: bool = True,
                   unreachable_after: Optional[float] = None) -> Response:
        """One request; retried as the policy allows when `retry` (else transport errors raise
        `MagpieError` at once). Non-retryable HTTP errors come back as the response. A server
        that has never accepted a connection is retried for `unreachable_after` seconds only,
        when given."""
        url = f"{self.root}{path}"
        retries = Retries(self.policy.max_retries, self.policy.max_retry_wait)
        while True:
            wait: Optional[float] = None
            refused = False
            try:
                async with self._slots:
                    r = await self._client.request(method, url, json=body)
                try:
                    data = r.json() if r.content else None
                except ValueError:
                    data = None
                    if r.status_code < 400:  # a body cut short counts as a dropped connection
                        raise self._httpx.RemoteProtocolError("response is not JSON") from None
                self.answered = True
                if r.status_code < 400 or r.status_code not in RETRY_STATUS:
                    self._succeeded()
                    return Response(r.status_code, data, r.text)
                failure = f"HTTP {r.status_code} ({Response(r.status_code, data, r.text).message()})"
                wait = retry_after(r.headers.get("retry-after"))
            except self._httpx.TimeoutException as e:
                refused = isinstance(e, self._httpx.ConnectTimeout)
                failure = "no connection (connect timeout)" if refused else f"no answer within {self.policy.timeout:g} s"
            except self._httpx.TransportError as e:
                failure = f"connection failed ({type(e).__name__})"
                refused = isinstance(e, self._httpx.ConnectError)
            if refused and not self.answered and unreachable_after is not None:
                delay = retries.next_wait(wait) if retry else None
                if delay is None or retries.waited + delay > unreachable_after:
                    raise MagpieError(
                        f"no server answers at {self.root}: {self._why(failure)} (tried {retries.attempt + 1} times "
                        f"in {retries.waited:.1f} s); start the server, or fix the host and port of base_url")
            else:
                delay = retries.next_wait(wait) if retry else None
            if delay is None:
                raise MagpieError(
                    f"server at {self.root} did not answer {method} {path} after {retries.attempt + 1} attempts in "
                    f"{retries.waited:.0f} s: {failure}; check that it is up and reachable, or raise max_retry_wait")
            self.retries += 1
            if self.answered or unreachable_after is None:  # an outage, not a server not found at load
                self._failed(failure)
            await asyncio.sleep(delay)
