"""A search engine for argilla-server 2.8.0 that answers from the server's own SQL database.

Loaded into the server's virtualenv (it imports `argilla_server`, never `distilabel_magpie`) and
selected with `ARGILLA_SEARCH_ENGINE=magpie-sqlite`. The database is the single source of truth: the
"index" calls the server makes after each write are no-ops, and every query reads committed rows, so
the API process and the rq worker can never disagree. Semantics follow the server's Elasticsearch
engine (argilla_server/search_engine/commons.py): `simple_query_string` text search with AND as the
default operator, terms/range filters on record/metadata/suggestion/response scopes, "pending" as
"no response (by this user)", missing sort values last, a per-user deterministic shuffle on the
`/me` queue, cosine kNN scored as (1 + cos) / 2. Filtering runs in Python over one dataset's rows;
that is fast enough for review-sized datasets (see docs/review.md for measurements).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import re
from collections import Counter, OrderedDict
from datetime import datetime, timezone
from typing import Any, Iterable, List, Optional, Union
from uuid import UUID

import numpy as np
from argilla_server.database import AsyncSessionLocal
from argilla_server.enums import (
    MetadataPropertyType,
    ResponseStatusFilter,
    SimilarityOrder,
    SortOrder,
)
from argilla_server.models import (
    Dataset,
    MetadataProperty,
    Question,
    Record,
    Response,
    Suggestion,
    User,
    Vector,
    VectorSettings,
)
from argilla_server.search_engine.base import (
    AndFilter,
    Filter,
    FloatMetadataMetrics,
    IntegerMetadataMetrics,
    MetadataFilterScope,
    MetadataMetrics,
    Order,
    RangeFilter,
    RecordFilterScope,
    ResponseFilterScope,
    SearchEngine,
    SearchResponseItem,
    SearchResponses,
    SuggestionFilterScope,
    TermsFilter,
    TermsMetrics,
    TextQuery,
)
from sqlalchemy import func, select

ENGINE_NAME = "magpie-sqlite"
ENGINE_VERSION = "1"


# --------------------------------------------------------------------------------------------------
# Text analysis and query parsing (a subset of Elasticsearch's simple_query_string)
# --------------------------------------------------------------------------------------------------

# Like ES's standard analyzer: words, lower-cased; CJK ideographs and kana one token each.
_TOKEN_RE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|\w+", re.UNICODE)


def analyze(text: str) -> List[str]:
    return _TOKEN_RE.findall(text.lower())


_LEX_RE = re.compile(r'\s+|"(?P<phrase>[^"]*)"?|(?P<op>[()|+])|(?P<word>[^\s()|"]+)')


def parse_query(q: str) -> tuple:
    """`a b` (AND), `a | b` (OR), `-a` (NOT), `+a`, `"a phrase"`, `pre*`, `( )` -> a small AST."""
    tokens = []
    for m in _LEX_RE.finditer(q):
        if m.group("phrase") is not None:
            tokens.append(("phrase", m.group("phrase")))
        elif m.group("op"):
            tokens.append(("op", m.group("op")))
        elif m.group("word"):
            word = m.group("word")
            negate = False
            while word[:1] in "-+" and len(word) > 1:
                negate ^= word[0] == "-"
                word = word[1:]
            if negate:
                tokens.append(("op", "-"))
            tokens.append(("word", word))
    pos = 0

    def peek():
        return tokens[pos] if pos < len(tokens) else None

    def parse_or():
        nonlocal pos
        parts = [parse_and()]
        while peek() == ("op", "|"):
            pos += 1
            parts.append(parse_and())
        return parts[0] if len(parts) == 1 else ("or", parts)

    def parse_and():
        nonlocal pos
        parts = []
        while peek() is not None and peek() not in (("op", "|"), ("op", ")")):
            if peek() == ("op", "+"):
                pos += 1
                continue
            parts.append(parse_unary())
        return ("and", [p for p in parts if p is not None])

    def parse_unary():
        nonlocal pos
        kind, value = tokens[pos]
        pos += 1
        if (kind, value) == ("op", "-"):
            inner = parse_unary() if peek() else None
            return ("not", inner) if inner else None
        if (kind, value) == ("op", "("):
            inner = parse_or()
            if peek() == ("op", ")"):
                pos += 1
            return inner
        if kind == "phrase":
            return ("phrase", analyze(value))
        if kind == "word":
            prefix = value.endswith("*")
            word = re.sub(r"~\d*$", "", value.rstrip("*"))  # fuzziness is not supported: exact term
            return ("term", analyze(word), prefix)
        return None

    ast = parse_or()
    while pos < len(tokens):  # stray ')' and the like: keep parsing what follows
        pos += 1
        ast = ("and", [ast, parse_or()])
    return ast


def _positive_terms(node) -> List[tuple]:
    if node is None:
        return []
    kind = node[0]
    if kind in ("and", "or"):
        return [t for child in node[1] for t in _positive_terms(child)]
    if kind == "not":
        return []
    if kind == "phrase":
        return [(t, False) for t in node[1]]
    return [(t, node[2] and i == len(node[1]) - 1) for i, t in enumerate(node[1])]


@dataclasses.dataclass
class _TextDoc:
    tokens: List[Optional[str]]  # fields separated by None so phrases never span two fields
    counts: Counter

    @classmethod
    def of(cls, texts: Iterable[str]) -> "_TextDoc":
        tokens: List[Optional[str]] = []
        for text in texts:
            tokens.extend(analyze(text))
            tokens.append(None)
        return cls(tokens, Counter(t for t in tokens if t is not None))

    def has(self, token: str, prefix: bool) -> bool:
        if not prefix:
            return token in self.counts
        return any(t.startswith(token) for t in self.counts)

    def has_sequence(self, seq: List[str]) -> bool:
        n = len(seq)
        return any(self.tokens[i : i + n] == seq for i in range(len(self.tokens) - n + 1))

    def matches(self, node) -> bool:
        if node is None:
            return True
        kind = node[0]
        if kind == "and":
            return all(self.matches(c) for c in node[1])
        if kind == "or":
            return any(self.matches(c) for c in node[1]) if node[1] else True
        if kind == "not":
            return not self.matches(node[1])
        if kind == "phrase":
            return not node[1] or self.has_sequence(node[1])
        terms, prefix = node[1], node[2]
        if len(terms) > 1:  # "e-mail" analyses to two tokens: they must appear together
            return self.has_sequence(terms)
        return not terms or self.has(terms[0], prefix)


def _bm25(docs: List[_TextDoc], terms: List[tuple]) -> List[float]:
    n = len(docs) or 1
    avg_len = sum(len(d.tokens) for d in docs) / n or 1.0
    scores = [0.0] * len(docs)
    for token, prefix in set(terms):
        tfs = [
            sum(c for t, c in d.counts.items() if t.startswith(token)) if prefix else d.counts.get(token, 0)
            for d in docs
        ]
        df = sum(1 for tf in tfs if tf)
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        for i, tf in enumerate(tfs):
            if tf:
                norm = 1.2 * (0.25 + 0.75 * len(docs[i].tokens) / avg_len)
                scores[i] += idf * tf * 2.2 / (tf + norm)
    return scores


# --------------------------------------------------------------------------------------------------
# A record as the engine sees it (the same shape as the Elasticsearch document)
# --------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class _Doc:
    id: UUID
    external_id: Optional[str]
    status: str
    inserted_at: datetime
    updated_at: datetime
    metadata: dict = dataclasses.field(default_factory=dict)
    responses: List[dict] = dataclasses.field(default_factory=list)
    suggestions: dict = dataclasses.field(default_factory=dict)

    def record_property(self, name: str) -> Any:
        return {
            "id": str(self.id),
            "external_id": self.external_id,
            "status": str(self.status),
            "inserted_at": self.inserted_at,
            "updated_at": self.updated_at,
        }.get(name)


@dataclasses.dataclass
class _Needs:
    metadata: bool = False
    responses: bool = False
    suggestions: bool = False

    def add_filter(self, f: Optional[Filter]) -> None:
        if f is None:
            return
        if isinstance(f, AndFilter):
            for child in f.filters:
                self.add_filter(child)
        else:
            self.add_scope(f.scope)

    def add_scope(self, scope) -> None:
        self.metadata |= isinstance(scope, MetadataFilterScope)
        self.suggestions |= isinstance(scope, SuggestionFilterScope)
        self.responses |= isinstance(scope, ResponseFilterScope)


async def _load_docs(dataset_id: UUID, needs: _Needs) -> List[_Doc]:
    """Reads one dataset's records with only the parts a query needs (one query per part; field
    texts are read separately, and only when not cached)."""
    columns = [Record.id, Record.external_id, Record.status, Record.inserted_at, Record.updated_at]
    if needs.metadata:
        columns.append(Record.metadata_)
    query = select(*columns).where(Record.dataset_id == dataset_id).order_by(Record.inserted_at, Record.id)
    async with AsyncSessionLocal() as db:
        docs = {}
        for row in (await db.execute(query)).all():
            doc = _Doc(row.id, row.external_id, str(row.status), row.inserted_at, row.updated_at)
            if needs.metadata:
                doc.metadata = row.metadata_ or {}
            docs[row.id] = doc
        if needs.responses and docs:
            rows = await db.execute(
                select(Response.id, Response.record_id, Response.status, Response.user_id, Response.values)
                .join(Record, Record.id == Response.record_id)
                .where(Record.dataset_id == dataset_id)
            )
            for r in rows.all():
                if r.record_id in docs:
                    values = {q: (v or {}).get("value") for q, v in (r.values or {}).items()}
                    docs[r.record_id].responses.append(
                        {"id": r.id, "status": str(r.status), "user_id": str(r.user_id), "values": values}
                    )
        if needs.suggestions and docs:
            rows = await db.execute(
                select(Suggestion.record_id, Question.name, Suggestion.value, Suggestion.score,
                       Suggestion.agent, Suggestion.type)
                .join(Question, Question.id == Suggestion.question_id)
                .where(Question.dataset_id == dataset_id)
            )
            for r in rows.all():
                if r.record_id in docs:
                    docs[r.record_id].suggestions[r.name] = {
                        "value": r.value, "score": r.score, "agent": r.agent,
                        "type": str(r.type) if r.type is not None else None,
                    }
    return list(docs.values())


# --------------------------------------------------------------------------------------------------
# Filters and sorting
# --------------------------------------------------------------------------------------------------


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _to_comparable(value: Any, like: Any) -> Any:
    """Range bounds arrive as floats or (for dates) ISO strings."""
    if isinstance(like, datetime) and isinstance(value, str):
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed.astimezone(timezone.utc).replace(tzinfo=None) if parsed.tzinfo else parsed
    if isinstance(like, (int, float)) and isinstance(value, str):
        return float(value)
    return value


def _terms_match(values: Any, wanted: List[str]) -> bool:
    wanted_set = {str(w) for w in wanted}
    return any(str(v) in wanted_set for v in _as_list(values))


def _range_match(values: Any, ge: Any, le: Any) -> bool:
    for v in _as_list(values):
        if isinstance(v, bool) or not isinstance(v, (int, float, datetime)):
            continue
        if ge is not None and v < _to_comparable(ge, v):
            continue
        if le is not None and v > _to_comparable(le, v):
            continue
        return True
    return False


def _value_match(f: Filter, values: Any) -> bool:
    if isinstance(f, TermsFilter):
        return _terms_match(values, f.values)
    if isinstance(f, RangeFilter):
        return _range_match(values, f.ge, f.le)
    raise ValueError(f"Cannot process request for filter {f}")


def _scope_values(doc: _Doc, scope) -> Any:
    if isinstance(scope, MetadataFilterScope):
        return doc.metadata.get(scope.metadata_property)
    if isinstance(scope, SuggestionFilterScope):
        return (doc.suggestions.get(scope.question) or {}).get(scope.property)
    if isinstance(scope, RecordFilterScope):
        return doc.record_property(scope.property)
    raise ValueError(f"Cannot process request for search scope {scope}")


def _user_responses(doc: _Doc, user: Optional[User]) -> List[dict]:
    if user is None:
        return doc.responses
    return [r for r in doc.responses if r["user_id"] == str(user.id)]


def _response_match(f: Filter, doc: _Doc) -> bool:
    scope: ResponseFilterScope = f.scope
    responses = _user_responses(doc, scope.user)
    if scope.question:
        return any(_value_match(f, r["values"].get(scope.question)) for r in responses)
    if scope.property == "status" and isinstance(f, TermsFilter):
        wanted = set(f.values)
        # "pending" = no response at all, or none by this user when the filter names one.
        if ResponseStatusFilter.pending in wanted and not responses:
            return True
        return any(r["status"] in wanted for r in responses)
    raise ValueError(f"Cannot process filter scope {scope}")


def matches_filter(f: Optional[Filter], doc: _Doc) -> bool:
    if f is None:
        return True
    if isinstance(f, AndFilter):
        return all(matches_filter(child, doc) for child in f.filters)
    if isinstance(f.scope, ResponseFilterScope):
        return _response_match(f, doc)
    return _value_match(f, _scope_values(doc, f.scope))


def _sort_value(order: Order, doc: _Doc) -> Any:
    scope = order.scope
    if isinstance(scope, ResponseFilterScope):
        key = scope.question or scope.property
        values = [
            (r["values"].get(key) if scope.question else r.get(key)) for r in _user_responses(doc, scope.user)
        ]
        values = [v for v in values if v is not None]
        numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if numbers:
            return sum(numbers) / len(numbers)  # ES sorts nested values with mode "avg"
        return min(map(str, values)) if values else None
    value = _scope_values(doc, scope)
    if isinstance(value, list):
        value = min(value) if value else None
    return value


def sort_docs(docs: List[_Doc], sort: List[Order]) -> List[_Doc]:
    """Missing values sort last in both directions, like ES's default `missing: _last`."""
    result = list(docs)
    for order in reversed(sort):  # stable sorts, least significant key first
        desc = order.order == SortOrder.desc
        present = [(d, _sort_value(order, d)) for d in result]
        with_value = [p for p in present if p[1] is not None]
        without = [p[0] for p in present if p[1] is None]
        try:
            with_value.sort(key=lambda p: p[1], reverse=desc)
        except TypeError:  # mixed types: compare as text
            with_value.sort(key=lambda p: str(p[1]), reverse=desc)
        result = [p[0] for p in with_value] + without
    return result


def _user_shuffle(user_id: Any, record_id: UUID) -> float:
    """A per-user, per-record number in (0, 1]: ES's `random_score` seeded with the user id."""
    digest = hashlib.sha1(f"{user_id}:{record_id}".encode()).digest()
    return (int.from_bytes(digest[:8], "big") + 1) / 2**64


def _record_texts(fields: dict, dataset: Dataset, field_name: Optional[str]) -> List[str]:
    texts = []
    for field in dataset.fields:
        if field_name and field.name != field_name:
            continue
        value = fields.get(field.name)
        if value is None or field.is_image:
            continue
        if field.is_chat:
            texts.extend(str(m.get("content", "")) for m in value if isinstance(m, dict))
        else:
            texts.append(value if isinstance(value, str) else str(value))
    return texts


# Analysed texts by (record id, field or None for all), kept while the record's updated_at is the same
# (the server bumps it whenever fields change). Analysis is most of a text search's cost.
_TEXT_CACHE: "OrderedDict[tuple, tuple]" = OrderedDict()
_TEXT_CACHE_SIZE = 100_000


async def _text_docs(docs: List[_Doc], dataset: Dataset, field_name: Optional[str]) -> List[_TextDoc]:
    found, missing = {}, []
    for d in docs:
        hit = _TEXT_CACHE.get((d.id, field_name))
        if hit is not None and hit[0] == d.updated_at:
            found[d.id] = hit[1]
        else:
            missing.append(d)
    for start in range(0, len(missing), 500):
        chunk = {d.id: d for d in missing[start : start + 500]}
        async with AsyncSessionLocal() as db:
            rows = (await db.execute(select(Record.id, Record.fields).where(Record.id.in_(list(chunk))))).all()
        for rid, fields in rows:
            text_doc = _TextDoc.of(_record_texts(fields or {}, dataset, field_name))
            found[rid] = text_doc
            _TEXT_CACHE[(rid, field_name)] = (chunk[rid].updated_at, text_doc)
    while len(_TEXT_CACHE) > _TEXT_CACHE_SIZE:
        _TEXT_CACHE.popitem(last=False)
    return [found.get(d.id) or _TextDoc.of([]) for d in docs]


async def _text_search(docs: List[_Doc], dataset: Dataset, query: Optional[Union[TextQuery, str]]):
    """Returns [(doc, score)] for the docs matching the query (all docs with score 1 without one)."""
    if query is None:
        return [(d, 1.0) for d in docs]
    if isinstance(query, str):
        query = TextQuery(q=query)
    if query.field and dataset.field_by_name(query.field) is None:
        raise Exception(f"Field {query.field} not found in dataset {dataset.id}")
    ast = parse_query(query.q)
    text_docs = await _text_docs(docs, dataset, query.field)
    hits = [i for i, td in enumerate(text_docs) if td.matches(ast)]
    terms = _positive_terms(ast)
    if not terms:
        return [(docs[i], 1.0) for i in hits]
    scores = _bm25([text_docs[i] for i in hits], terms)
    return [(docs[i], s) for i, s in zip(hits, scores)]


# Vectors of one vector field as a normalised matrix, reloaded when the field's vectors change.
_VECTOR_CACHE: dict = {}


async def _vector_matrix(vector_settings: VectorSettings):
    async with AsyncSessionLocal() as db:
        where = Vector.vector_settings_id == vector_settings.id
        key = (await db.execute(
            select(func.count(), func.max(Vector.updated_at), func.max(Vector.inserted_at)).where(where)
        )).one()
        cached = _VECTOR_CACHE.get(vector_settings.id)
        if cached is not None and cached[0] == tuple(key):
            return cached[1], cached[2]
        rows = (await db.execute(select(Vector.record_id, Vector.value).where(where))).all()
    rows = [(rid, vec) for rid, vec in rows if vec and len(vec) == vector_settings.dimensions]
    ids = [rid for rid, _ in rows]
    matrix = np.array([vec for _, vec in rows], dtype=np.float32).reshape(len(rows), vector_settings.dimensions)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    matrix = matrix / np.where(norms == 0, 1.0, norms)
    _VECTOR_CACHE[vector_settings.id] = (tuple(key), ids, matrix)
    return ids, matrix


# --------------------------------------------------------------------------------------------------
# The engine
# --------------------------------------------------------------------------------------------------


@SearchEngine.register(engine_name=ENGINE_NAME)
class MagpieSQLiteEngine(SearchEngine):
    @classmethod
    async def new_instance(cls) -> "MagpieSQLiteEngine":
        return cls()

    async def close(self):
        pass

    async def ping(self) -> bool:
        async with AsyncSessionLocal() as db:
            await db.execute(select(1))
        return True

    async def info(self) -> dict:
        return {"name": ENGINE_NAME, "version": {"number": ENGINE_VERSION, "distribution": ENGINE_NAME}}

    # The database is the index: writes the server reports need no work here.
    async def create_index(self, dataset: Dataset):
        pass

    async def delete_index(self, dataset: Dataset):
        pass

    async def configure_metadata_property(self, dataset: Dataset, metadata_property: MetadataProperty):
        pass

    async def configure_index_vectors(self, vector_settings: VectorSettings):
        pass

    async def index_records(self, dataset: Dataset, records: Iterable[Record]):
        pass

    async def partial_record_update(self, record: Record, **update):
        pass

    async def delete_records(self, dataset: Dataset, records: Iterable[Record]):
        pass

    async def update_record_response(self, response: Response):
        pass

    async def delete_record_response(self, response: Response):
        pass

    async def update_record_suggestion(self, suggestion: Suggestion):
        pass

    async def delete_record_suggestion(self, suggestion: Suggestion):
        pass

    async def get_dataset_progress(self, dataset: Dataset) -> dict:
        if dataset.is_draft:
            return {}
        async with AsyncSessionLocal() as db:
            rows = await db.execute(
                select(Record.status, func.count()).where(Record.dataset_id == dataset.id).group_by(Record.status)
            )
            counts = {str(status): n for status, n in rows.all()}
        return {"total": sum(counts.values()), **counts}

    async def get_dataset_user_progress(self, dataset: Dataset, user: User) -> dict:
        if dataset.is_draft:
            return {}
        # Counts this user's responses (the ES engine counts every response of the records this user
        # answered, which over-counts with several annotators).
        async with AsyncSessionLocal() as db:
            rows = await db.execute(
                select(Response.status, func.count())
                .join(Record, Record.id == Response.record_id)
                .where(Record.dataset_id == dataset.id, Response.user_id == user.id)
                .group_by(Response.status)
            )
            counts = {str(status): n for status, n in rows.all()}
        return {"total": sum(counts.values()), **counts}

    async def search(
        self,
        dataset: Dataset,
        query: Optional[Union[TextQuery, str]] = None,
        filter: Optional[Filter] = None,
        sort: Optional[List[Order]] = None,
        offset: int = 0,
        limit: int = 100,
        user_id: Optional[Any] = None,  # passed by the /me endpoints although the base class lacks it
    ) -> SearchResponses:
        needs = _Needs()
        needs.add_filter(filter)
        for order in sort or []:
            needs.add_scope(order.scope)
        docs = [d for d in await _load_docs(dataset.id, needs) if matches_filter(filter, d)]
        scored = await _text_search(docs, dataset, query)
        if user_id is not None:
            scored = [(d, s * _user_shuffle(user_id, d.id)) for d, s in scored]
        if sort:
            ordered = sort_docs([d for d, _ in scored], sort)
            score_of = {d.id: s for d, s in scored}
            scored = [(d, score_of[d.id]) for d in ordered]
        elif query is not None or user_id is not None:
            scored.sort(key=lambda p: p[1], reverse=True)  # stable: ties keep insertion order
        page = scored[offset : offset + limit]
        return SearchResponses(
            items=[SearchResponseItem(record_id=d.id, score=s) for d, s in page], total=len(scored)
        )

    async def similarity_search(
        self,
        dataset: Dataset,
        vector_settings: VectorSettings,
        value: Optional[List[float]] = None,
        record: Optional[Record] = None,
        query: Optional[Union[TextQuery, str]] = None,
        filter: Optional[Filter] = None,
        max_results: int = 100,
        order: SimilarityOrder = SimilarityOrder.most_similar,
        threshold: Optional[float] = None,
    ) -> SearchResponses:
        if bool(value) == bool(record):
            raise ValueError("Must provide either vector value or record to compute the similarity search")
        excluded = None
        if not value:
            excluded = record.id
            value = record.vector_value_by_vector_settings(vector_settings)
        if not value:
            raise ValueError("Cannot find a vector value to apply with provided info")

        ids, matrix = await _vector_matrix(vector_settings)
        allowed = None
        if filter is not None or query is not None:
            needs = _Needs()
            needs.add_filter(filter)
            docs = [d for d in await _load_docs(dataset.id, needs) if matches_filter(filter, d)]
            allowed = {d.id for d, _ in await _text_search(docs, dataset, query)}

        target = np.asarray(value, dtype=np.float32)
        target = target / (np.linalg.norm(target) or 1.0)
        if order == SimilarityOrder.least_similar:
            target = -target
        scores = (1.0 + matrix @ target) / 2.0 if len(ids) else np.zeros(0)
        scored = []
        for i in np.argsort(-scores, kind="stable"):
            rid = ids[i]
            if rid == excluded or (allowed is not None and rid not in allowed):
                continue
            scored.append((rid, float(scores[i])))
            if len(scored) == max_results:
                break
        if threshold is not None:
            scored = [p for p in scored if p[1] >= threshold]
        return SearchResponses(
            items=[SearchResponseItem(record_id=rid, score=s) for rid, s in scored], total=len(scored)
        )

    async def compute_metrics_for(self, metadata_property: MetadataProperty) -> MetadataMetrics:
        async with AsyncSessionLocal() as db:
            rows = await db.execute(
                select(Record.metadata_).where(Record.dataset_id == metadata_property.dataset_id)
            )
            values = []
            for (metadata,) in rows.all():
                values.extend(_as_list((metadata or {}).get(metadata_property.name)))
        if metadata_property.type == MetadataPropertyType.terms:
            counts = Counter(str(v) for v in values)
            ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))  # ES terms agg order
            return TermsMetrics(
                total=sum(counts.values()),
                values=[TermsMetrics.TermCount(term=t, count=c) for t, c in ranked],
            )
        numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
        cls = IntegerMetadataMetrics if metadata_property.type == MetadataPropertyType.integer else FloatMetadataMetrics
        return cls(min=min(numbers) if numbers else None, max=max(numbers) if numbers else None)

