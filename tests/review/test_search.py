"""The search engine behind the local server, exercised through the SDK and the REST API the UI
uses: text search (text and chat fields), filters on metadata / suggestions / responses / status,
sorting, pagination, the per-user queue, progress, metrics and vector similarity."""

import logging
import uuid

import pytest

from distilabel_magpie.review.push import PushChatToArgilla, PushSFTToArgilla

pytestmark = pytest.mark.argilla
logging.getLogger("distilabel.step").setLevel(logging.ERROR)

FRUITS = ["red apple pie", "green apple juice", "banana bread", "cherry tart", "apple and banana salad",
          "lemon cake", "plum jam", "kiwi smoothie"]


@pytest.fixture(scope="module")
def sft(review_server, client):
    """8 records: metadata model a/b, reward 0..7 (one missing), tags, embeddings along a circle."""
    import math

    rows = []
    for i, fruit in enumerate(FRUITS):
        row = {"instruction": f"Give me a recipe for {fruit}.", "response": f"Here is how to make {fruit}: mix, bake.",
               "model_name": "model-a" if i % 2 == 0 else "model-b", "quality": ["poor", "good"][i % 2],
               "quality_score": round(0.1 * i + 0.05, 2), "embedding": [math.cos(i / 4), math.sin(i / 4), 0.0]}
        if i != 5:
            row["reward"] = float(i)
        rows.append(row)
    name = f"search-sft-{uuid.uuid4().hex[:6]}"
    step = PushSFTToArgilla(dataset_name=name)
    step.load()
    next(step.process(rows))
    dataset = client.datasets(name)
    by_fruit = {r.fields["instruction"].split("for ")[1][:-1]: r for r in dataset.records}
    return dataset, by_fruit


def fruits(records) -> set:
    out = set()
    for r in records:
        r = r[0] if isinstance(r, tuple) else r
        out.add(r.fields["instruction"].split("for ")[1][:-1])
    return out


def query(dataset, **kwargs):
    import argilla as rg

    return list(dataset.records(query=rg.Query(**kwargs)))


def search_api(client, dataset, body, me=False, **params):
    path = f"/api/v1/{'me/' if me else ''}datasets/{dataset.id}/records/search"
    response = client.http_client.post(path, json=body, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_text_search_terms_phrases_negation_prefix_and_or(client, sft):
    dataset, _ = sft
    assert fruits(query(dataset, query="apple")) == {"red apple pie", "green apple juice", "apple and banana salad"}
    assert fruits(query(dataset, query="APPLE banana")) == {"apple and banana salad"}  # AND, case-insensitive
    assert fruits(query(dataset, query='"apple pie"')) == {"red apple pie"}
    assert fruits(query(dataset, query="apple -banana -green")) == {"red apple pie"}
    assert fruits(query(dataset, query="cher*")) == {"cherry tart"}
    assert fruits(query(dataset, query="lemon | plum")) == {"lemon cake", "plum jam"}
    assert query(dataset, query="durian") == []


def test_text_search_in_one_field_and_relevance_order(client, sft):
    dataset, _ = sft
    body = {"query": {"text": {"q": "how", "field": "response"}}}
    assert search_api(client, dataset, body)["total"] == 8
    body = {"query": {"text": {"q": "how", "field": "instruction"}}}
    assert search_api(client, dataset, body)["total"] == 0
    # hits come ranked by relevance (BM25 scores, descending)
    result = search_api(client, dataset, {"query": {"text": {"q": "banana"}}})
    scores = [item["query_score"] for item in result["items"]]
    assert scores == sorted(scores, reverse=True) and len(scores) == 2


def test_text_search_reaches_chat_messages(review_server, client):
    name = f"search-chat-{uuid.uuid4().hex[:6]}"
    step = PushChatToArgilla(dataset_name=name)
    step.load()
    conversations = [
        [{"role": "user", "content": "Tell me about owls."}, {"role": "assistant", "content": "Owls hunt at night."},
         {"role": "user", "content": "And parrots?"}, {"role": "assistant", "content": "Parrots can talk."}],
        [{"role": "user", "content": "Tell me about cats."}, {"role": "assistant", "content": "Cats sleep a lot."}],
    ]
    next(step.process([{"messages": c} for c in conversations]))
    dataset = client.datasets(name)
    hits = query(dataset, query="parrots")
    assert len(hits) == 1 and hits[0].fields["messages"][0].content == "Tell me about owls."
    assert len(query(dataset, query="tell")) == 2


def test_metadata_filters_terms_and_ranges(client, sft):
    import argilla as rg

    dataset, _ = sft
    f = rg.Filter(("metadata.model", "==", "model-b"))
    assert fruits(query(dataset, filter=f)) == {"green apple juice", "cherry tart", "lemon cake", "kiwi smoothie"}
    f = rg.Filter([("metadata.reward", ">=", 2.0), ("metadata.reward", "<=", 4.0)])
    assert fruits(query(dataset, filter=f)) == {"banana bread", "cherry tart", "apple and banana salad"}
    f = rg.Filter([("metadata.model", "in", ["model-a"]), ("metadata.reward", ">=", 4.0)])
    assert fruits(query(dataset, filter=f)) == {"apple and banana salad", "plum jam"}
    f = rg.Filter(("metadata.reward", ">=", 0.0))
    assert len(query(dataset, filter=f)) == 7  # the record without a reward never matches a range


def test_suggestion_filters_on_value_and_score(client, sft):
    import argilla as rg

    dataset, _ = sft
    f = rg.Filter(("instruction_quality.suggestion", "==", "good"))
    assert len(query(dataset, filter=f)) == 4
    f = rg.Filter(("instruction_quality.score", ">=", 0.5))
    assert fruits(query(dataset, filter=f)) == {"lemon cake", "plum jam", "kiwi smoothie"}
    f = rg.Filter([("instruction_quality.suggestion", "==", "good"), ("instruction_quality.score", ">=", 0.5)])
    assert fruits(query(dataset, filter=f)) == {"lemon cake", "kiwi smoothie"}


def test_sorting_with_missing_values_last_and_pagination(client, sft):
    dataset, _ = sft
    order = {"scope": {"entity": "metadata", "metadata_property": "reward"}, "order": "desc"}
    result = search_api(client, dataset, {"sort": [order]}, limit=3, offset=0)
    assert result["total"] == 8
    first = [item["record"]["metadata"].get("reward") for item in result["items"]]
    rest = search_api(client, dataset, {"sort": [order]}, limit=10, offset=3)["items"]
    assert first == [7.0, 6.0, 4.0]
    assert [item["record"]["metadata"].get("reward") for item in rest] == [3.0, 2.0, 1.0, 0.0, None]
    order["order"] = "asc"
    items = search_api(client, dataset, {"sort": [order]}, limit=10)["items"]
    assert [item["record"]["metadata"].get("reward") for item in items] == [0.0, 1.0, 2.0, 3.0, 4.0, 6.0, 7.0, None]
    by_two = [{"scope": {"entity": "metadata", "metadata_property": "model"}, "order": "asc"},
              {"scope": {"entity": "suggestion", "question": "instruction_quality", "property": "score"},
               "order": "desc"}]
    items = search_api(client, dataset, {"sort": by_two}, limit=10)["items"]
    assert [item["record"]["metadata"]["model"] for item in items] == ["model-a"] * 4 + ["model-b"] * 4
    scores = [item["record"]["metadata"].get("reward") for item in items[:4]]
    assert scores == [6.0, 4.0, 2.0, 0.0]


def test_responses_status_progress_and_the_per_user_queue(client, sft):
    import argilla as rg

    dataset, by_fruit = sft
    me = client.me.id
    answered = {"banana bread": ("submitted", 5), "cherry tart": ("submitted", 2), "plum jam": ("discarded", None),
                "kiwi smoothie": ("draft", 4)}
    for fruit, (status, rating) in answered.items():
        record = by_fruit[fruit]
        if rating is not None:
            record.responses.add(rg.Response("quality", rating, user_id=me, status=status))
            record.responses.add(rg.Response("verdict", "accept", user_id=me, status=status))
        else:
            record.responses.add(rg.Response("verdict", "reject", user_id=me, status=status))
    dataset.records.log([by_fruit[f] for f in answered])

    def status(s):
        return fruits(query(dataset, filter=rg.Filter(("response.status", "==", s))))

    assert status("submitted") == {"banana bread", "cherry tart"}
    assert status("discarded") == {"plum jam"}
    assert status("draft") == {"kiwi smoothie"}
    assert status("pending") == set(FRUITS) - set(answered)
    assert fruits(query(dataset, filter=rg.Filter(("quality.response", ">=", 4)))) == {"banana bread", "kiwi smoothie"}
    assert fruits(query(dataset, filter=rg.Filter(("status", "==", "completed")))) == {"banana bread", "cherry tart"}

    progress = dataset.progress()
    assert (progress["total"], progress["completed"], progress["pending"]) == (8, 2, 6)
    metrics = client.http_client.get(f"/api/v1/me/datasets/{dataset.id}/metrics").json()["responses"]
    assert metrics == {"total": 8, "submitted": 2, "discarded": 1, "draft": 1, "pending": 4}

    # The UI's queue: this user's pending records, in an order of its own that stays put between calls.
    pending = {"filters": {"and": [{"type": "terms", "scope": {"entity": "response", "property": "status"},
                                    "values": ["pending"]}]}}
    first = search_api(client, dataset, pending, me=True, limit=50)
    again = search_api(client, dataset, pending, me=True, limit=50)
    ids = [item["record"]["id"] for item in first["items"]]
    assert first["total"] == 4 and ids == [item["record"]["id"] for item in again["items"]]
    page = search_api(client, dataset, pending, me=True, limit=2, offset=2)
    assert [item["record"]["id"] for item in page["items"]] == ids[2:4]


def test_metadata_metrics(client, sft):
    dataset, _ = sft
    listing = client.http_client.get(f"/api/v1/me/datasets/{dataset.id}/metadata-properties").json()
    props = {p["name"]: p["id"] for p in listing["items"]}
    terms = client.http_client.get(f"/api/v1/metadata-properties/{props['model']}/metrics").json()
    assert terms["total"] == 8 and {v["term"]: v["count"] for v in terms["values"]} == {"model-a": 4, "model-b": 4}
    floats = client.http_client.get(f"/api/v1/metadata-properties/{props['reward']}/metrics").json()
    assert (floats["min"], floats["max"]) == (0.0, 7.0)


def test_similarity_search_by_value_by_record_and_with_filters(client, sft):
    import argilla as rg

    dataset, _by_fruit = sft
    hits = list(dataset.records(query=rg.Query(similar=rg.Similar(name="embedding", value=[1.0, 0.0, 0.0])), limit=3))
    assert [fruits([h]).pop() for h in hits] == ["red apple pie", "green apple juice", "banana bread"]
    assert hits[0][1] == pytest.approx(1.0) and hits[0][1] > hits[1][1] > hits[2][1]

    anchor = next(iter(dataset.records(query=rg.Query(query="cherry"), with_vectors=True)))
    hits = list(dataset.records(query=rg.Query(similar=rg.Similar(name="embedding", value=anchor)), limit=2))
    assert fruits(hits) == {"banana bread", "apple and banana salad"}  # its neighbours, itself excluded

    least = list(dataset.records(query=rg.Query(similar=rg.Similar(name="embedding", value=[1.0, 0.0, 0.0],
                                                                      most_similar=False)), limit=1))
    assert fruits(least) == {"kiwi smoothie"}

    f = rg.Filter(("metadata.model", "==", "model-b"))
    hits = list(dataset.records(query=rg.Query(similar=rg.Similar(name="embedding", value=[1.0, 0.0, 0.0]), filter=f),
                                limit=2))
    assert [fruits([h]).pop() for h in hits] == ["green apple juice", "cherry tart"]


def test_date_ranges_on_record_timestamps(client, sft):
    import argilla as rg

    dataset, _ = sft
    assert len(query(dataset, filter=rg.Filter(("inserted_at", ">=", "2000-01-01T00:00:00")))) == 8
    assert query(dataset, filter=rg.Filter(("inserted_at", "<=", "2000-01-01T00:00:00Z"))) == []
