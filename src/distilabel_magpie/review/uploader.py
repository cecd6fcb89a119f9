"""Idempotent, batched upserts of review records, with retries and a verdict for every record.

Records are upserted by their stable external id (`PUT /api/v1/datasets/{id}/records/bulk`), so a
retried batch or a re-run updates instead of duplicating. Connection errors, 429 and 5xx are retried
with exponential backoff; a record the server refuses is cut out of its batch (by the position the
server reports) and the rest is sent again. Every record ends as created, updated or failed (with
the reason): a batch is never dropped without a trace.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Optional

from distilabel_magpie.engines.retry import Retries
from distilabel_magpie.review.records import ReviewRecord

if TYPE_CHECKING:
    import argilla as rg

MAX_BULK = 500  # argilla-server's limit for one bulk upsert
_TERMS_MAX = 250  # and for the values of one terms filter
_POSITION = re.compile(r"position (\d+)")


@dataclass
class Outcome:
    status: str  # created | updated | failed
    error: Optional[str] = None


@dataclass
class PushCounts:
    created: int = 0
    updated: int = 0
    failed: int = 0
    skipped: int = 0
    duplicate: int = 0
    reasons: dict = field(default_factory=dict)  # one-line reason -> count, for skipped and failed rows

    def add(self, status: str, reason: Optional[str] = None) -> None:
        setattr(self, status, getattr(self, status) + 1)
        if reason:
            key = re.sub(r"(\[|line |row |position )\d+", r"\1N", reason)[:120]  # group "line 3" with "line 4"
            self.reasons[key] = self.reasons.get(key, 0) + 1

    def merge(self, other: "PushCounts") -> None:
        for name in ("created", "updated", "failed", "skipped", "duplicate"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for k, v in other.reasons.items():
            self.reasons[k] = self.reasons.get(k, 0) + v

    @property
    def total(self) -> int:
        return self.created + self.updated + self.failed + self.skipped + self.duplicate

    def summary(self) -> str:
        text = (f"{self.total} rows: {self.created} created, {self.updated} updated, {self.failed} failed, "
                f"{self.skipped} skipped, {self.duplicate} duplicate")
        if self.reasons:
            text += " (" + "; ".join(f"{v}x {k}" for k, v in sorted(self.reasons.items(), key=lambda kv: -kv[1])) + ")"
        return text


class _Retryable(Exception):
    pass


class RecordUploader:
    def __init__(
        self,
        client: "rg.Argilla",
        dataset: "rg.Dataset",
        max_retries: int = 5,
        backoff: float = 1.0,
        logger: Optional[logging.Logger] = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.client, self.dataset = client, dataset
        self.max_retries, self.backoff, self.sleep = max_retries, backoff, sleep
        self.logger = logger or logging.getLogger(__name__)
        self._question_ids = {q.name: str(q.id) for q in dataset.settings.questions}

    def payload(self, record: ReviewRecord) -> dict:
        item = {"external_id": record.id, "fields": record.fields, "metadata": record.metadata}
        if record.suggestions:
            item["suggestions"] = [
                {"question_id": self._question_ids[q], "value": v, "score": s, "agent": a, "type": "model"}
                for q, v, s, a in record.suggestions
            ]
        if record.vector is not None:
            from distilabel_magpie.review.dataset_settings import VECTOR_NAME

            item["vectors"] = {VECTOR_NAME: record.vector}
        return item

    def upsert(self, records: list[ReviewRecord]) -> list[Outcome]:
        """One outcome per record, in order. Sends at most MAX_BULK records per request."""
        outcomes: list[Optional[Outcome]] = [None] * len(records)
        for start in range(0, len(records), MAX_BULK):
            chunk = list(range(start, min(start + MAX_BULK, len(records))))
            self._upsert_chunk(records, chunk, outcomes)
        return outcomes  # type: ignore[return-value]

    def _upsert_chunk(self, records, indices: list[int], outcomes: list) -> None:
        pending = list(indices)
        try:
            existing = self._existing_ids([records[i].id for i in pending])
        except _Retryable as e:
            existing = None
            unavailable = str(e)
        while pending:
            try:
                if existing is None:
                    raise _Retryable(unavailable)
                body = self._request("PUT", f"/api/v1/datasets/{self.dataset.id}/records/bulk",
                                     json={"items": [self.payload(records[i]) for i in pending]})
            except _Retryable as e:
                reason = f"server unavailable after {self.max_retries} retries: {e}"
                self.logger.error(f"Argilla upsert of {len(pending)} records failed: {reason}")
                for i in pending:
                    outcomes[i] = Outcome("failed", reason)
                return
            except _Rejected as e:
                if e.position is not None and 0 <= e.position < len(pending):
                    outcomes[pending.pop(e.position)] = Outcome("failed", e.reason)
                    continue
                if len(pending) > 1:  # the server did not say which record: find it one by one
                    for i in pending:
                        self._upsert_chunk(records, [i], outcomes)
                    return
                outcomes[pending[0]] = Outcome("failed", e.reason)
                return
            returned = {item.get("external_id") for item in body.get("items", [])}
            for i in pending:
                rid = records[i].id
                if rid not in returned:  # never expected; never silent either
                    outcomes[i] = Outcome("failed", "the server did not return this record")
                else:
                    outcomes[i] = Outcome("updated" if rid in existing else "created")
            return

    def _existing_ids(self, ids: list[str]) -> set[str]:
        """Which of `ids` the dataset has already. (argilla-server 2.8's bulk upsert computes
        `updated_item_ids` but its response model drops them, so ask the search endpoint.)"""
        found = set()
        for start in range(0, len(ids), _TERMS_MAX):
            chunk = ids[start : start + _TERMS_MAX]
            body = {"filters": {"and": [{"type": "terms", "scope": {"entity": "record", "property": "external_id"},
                                         "values": chunk}]}}
            result = self._request("POST", f"/api/v1/datasets/{self.dataset.id}/records/search",
                                   params={"limit": len(chunk)}, json=body)
            found.update(item["record"].get("external_id") for item in result.get("items", []))
        return found

    def _request(self, method: str, url: str, **kwargs) -> dict:
        """The JSON answer; retries transport errors, 429 and 5xx; raises _Retryable when they
        persist and _Rejected on any other error status."""
        import httpx

        retries = Retries(self.max_retries, base=self.backoff)
        while True:
            try:
                response = self.client.http_client.request(method, url, **kwargs)
            except httpx.TransportError as e:
                last = f"{type(e).__name__}: {e}"
            else:
                if response.status_code == 200:
                    return response.json()
                if response.status_code != 429 and response.status_code < 500:
                    raise _Rejected.from_response(response)
                last = f"HTTP {response.status_code}"
            delay = retries.next_wait()
            if delay is None:
                raise _Retryable(last)
            self.logger.warning(f"Argilla {method} {url}: {last}; retry {retries.attempt}/{self.max_retries} "
                                f"in {delay:.1f} s")
            self.sleep(delay)


class _Rejected(Exception):
    def __init__(self, reason: str, position: Optional[int]):
        super().__init__(reason)
        self.reason, self.position = reason, position

    @classmethod
    def from_response(cls, response) -> "_Rejected":
        try:
            detail = response.json().get("detail")
        except ValueError:
            detail = response.text
        position, reason = None, None
        if isinstance(detail, dict):  # pydantic errors: loc = ["body", "items", <position>, ...]
            errors = (detail.get("params") or {}).get("errors") or []
            for error in errors:
                loc = error.get("loc") or []
                if len(loc) > 2 and loc[:2] == ["body", "items"] and isinstance(loc[2], int):
                    position = loc[2]
                    reason = f"{'.'.join(map(str, loc[3:]))}: {error.get('msg')}"
                    break
            reason = reason or (errors[0].get("msg") if errors else str(detail))
        else:
            text = str(detail)
            match = _POSITION.search(text)
            if match:
                position = int(match.group(1))
                text = text.split(" because ", 1)[-1]
            reason = text
        reason = " ".join(f"HTTP {response.status_code}: {reason}".split())[:300]
        return cls(reason, position)
