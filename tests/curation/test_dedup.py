import random

import numpy as np
import pytest

from distilabel_magpie.curation import NearDuplicates
from distilabel_magpie.curation.dedup import exact_neighbours, faiss_neighbours, near_duplicates
from distilabel_magpie.errors import MagpieError

QUERIES = [
    "How do I sort a list in Python?", "How can I sort a list in Python?", "How do I sort a Python list?",
    "What is the capital of France?", "What's the capital city of France?",
    "Write a poem about the sea.", "Write a poem about the sea.", "Write a poem about the ocean.",
    "Explain quantum entanglement simply.", "Give me a recipe for banana bread.",
    "How do I change a flat tyre?", "What are good exercises for lower back pain?",
    "Translate 'good morning' into Japanese.", "Summarise the causes of World War I.",
]


def make_rows():
    return [{"instruction": q, "reward": float(i % 5), "response": f"answer {i}"} for i, q in enumerate(QUERIES)]


def tagged(rows, **kwargs):
    step = NearDuplicates(threshold=0.6, **kwargs)
    step.load()
    return step, next(step.process([dict(r) for r in rows]))


def signature(rows):
    return sorted((r["instruction"], r["response"], r["min_neighbor_distance"] is None or round(r["min_neighbor_distance"], 4),
                   r["repeat_count"], r["cluster_id"], r["is_representative"]) for r in rows)


@pytest.fixture(scope="module")
def reference():
    return tagged(make_rows())[1]


def test_near_duplicates_are_found(reference):
    by_text = {}
    for r in reference:
        by_text.setdefault(r["instruction"], []).append(r)
    sea = by_text["Write a poem about the sea."]
    assert [r["min_neighbor_distance"] for r in sea] == [0.0, 0.0]  # exact repeat
    assert sea[0]["cluster_id"] == by_text["Write a poem about the ocean."][0]["cluster_id"]
    sort = {by_text[q][0]["cluster_id"] for q in QUERIES[:3]}
    assert len(sort) == 1
    assert by_text["What is the capital of France?"][0]["cluster_id"] != next(iter(sort))
    assert by_text["Give me a recipe for banana bread."][0]["repeat_count"] == 0
    assert by_text["Write a poem about the ocean."][0]["repeat_count"] == 2  # both copies of the sea poem
    clusters = {r["cluster_id"] for r in reference}
    assert sum(r["is_representative"] for r in reference) == len(clusters)


def test_representative_is_the_best_reward_in_its_cluster(reference):
    for cluster in {r["cluster_id"] for r in reference}:
        members = [r for r in reference if r["cluster_id"] == cluster]
        best = max(members, key=lambda r: r["reward"])
        assert [r for r in members if r["is_representative"]][0]["reward"] == best["reward"]


@pytest.mark.parametrize("backend", ["exact", "faiss"])
def test_shuffling_the_input_gives_the_same_result(reference, backend):
    expected = signature(tagged(make_rows(), backend=backend)[1])
    if backend == "exact":
        assert expected == signature(reference)
    for seed in range(3):
        rows = make_rows()
        random.Random(seed).shuffle(rows)
        assert signature(tagged(rows, backend=backend)[1]) == expected


def test_drop_duplicates_keeps_representatives_and_counts(tmp_path):
    step, kept = tagged(make_rows(), drop_duplicates=True, dropped_path=str(tmp_path / "dups.jsonl"))
    assert all(r["is_representative"] for r in kept)
    assert step.stats["dropped"] == len(QUERIES) - len(kept) > 0
    assert step.stats["reasons"] == {"near-duplicate": step.stats["dropped"]}
    assert "near-duplicate in cluster" in (tmp_path / "dups.jsonl").read_text()


def test_ties_on_reward_are_broken_by_content_not_order():
    rows = [{"instruction": "Write a poem about the sea.", "reward": 1.0, "response": r} for r in "abc"]
    winners = set()
    for seed in range(4):
        random.Random(seed).shuffle(rows)
        _, out = tagged(rows)
        winners |= {r["response"] for r in out if r["is_representative"]}
    assert len(winners) == 1


def test_faiss_backend_agrees_with_exact_search():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3000, 64)).astype(np.float32)
    x[1500:] = x[:1500] + 0.1 * rng.normal(size=(1500, 64)).astype(np.float32)  # planted near-duplicates
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    exact, approx = exact_neighbours(x, 0.2), faiss_neighbours(x, 0.2)
    exact_pairs = {tuple(p) for p in exact.pairs.tolist()}
    approx_pairs = {tuple(p) for p in approx.pairs.tolist()}
    assert approx_pairs <= exact_pairs and len(approx_pairs) >= 0.95 * len(exact_pairs) >= 1400
    assert np.mean(np.isclose(exact.min_distance, approx.min_distance, atol=1e-4)) > 0.95


def test_near_duplicates_without_a_model_single_row_and_empty():
    result = near_duplicates(["only one"], lambda texts: None, 0.1)
    assert result.min_neighbor_distance == [None] and result.repeat_count == [0] and result.is_representative == [True]


def test_missing_embedding_model_is_a_one_line_error(tmp_path):
    with pytest.raises(MagpieError, match=r"embedding model '.*missing' is not a directory; give a model name"):
        NearDuplicates(embedding_model=str(tmp_path / "missing")).load()
    with pytest.raises(MagpieError, match="threshold"):
        NearDuplicates(threshold=3.0).load()


def test_embeddings_are_kept_for_argilla_when_asked():
    rows = make_rows()[:6] + [{"instruction": "", "reward": 0.0, "response": "none"}]
    step, out = tagged(rows, embedding_column="embedding")
    assert "embedding" in step.outputs
    vectors = [r["embedding"] for r in out]
    assert vectors[-1] is None  # an empty query has no embedding
    assert all(len(v) == 384 and abs(float(np.linalg.norm(v)) - 1) < 1e-4 for v in vectors[:-1])
    # the distance the step reports is the distance between the vectors it wrote
    nearest = min(float(np.linalg.norm(np.subtract(vectors[0], v))) for v in vectors[1:-1])
    assert out[0]["min_neighbor_distance"] == pytest.approx(nearest, abs=1e-4)
    (single,) = tagged([{"instruction": "Only one query"}], embedding_column="embedding")[1]
    assert len(single["embedding"]) == 384 and single["min_neighbor_distance"] is None
    assert "embedding" not in tagged(rows[:2])[1][0]  # off by default
