"""Lexical near-duplicates (MinHash LSH): planted duplicates are found, row order does not change
the result, and the step serialises."""

import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from distilabel_magpie.curation import FilterRecipe, LexicalDuplicates
from distilabel_magpie.curation.minhash import candidate_pairs, cluster_labels, jaccard, lexical_duplicates, shingles

pytest.importorskip("rensa")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
from minhash import synthetic  # noqa: E402  (the benchmark's own generator)


def test_shingles_and_jaccard():
    assert shingles("How do I sort a list?") == {"how do", "do i", "i sort", "sort a", "a list"}
    assert shingles("Hi!") == {"hi"} and shingles("") == set()
    assert jaccard({"a", "b"}, {"b", "c"}) == pytest.approx(1 / 3)


def test_planted_duplicates_are_found():
    texts, planted = synthetic(3000, seed=3)
    result = lexical_duplicates(texts, threshold=0.7)
    above = [(a, b) for a, b in planted if jaccard(shingles(texts[a]), shingles(texts[b])) >= 0.7]
    assert len(above) > 200
    found = sum(result.cluster_id[a] == result.cluster_id[b] for a, b in above)
    assert found / len(above) >= 0.97
    # every verified pair really is at or above the threshold
    for a, b in result.pairs[:500]:
        assert jaccard(shingles(result.unique_texts[a]), shingles(result.unique_texts[b])) >= 0.7
    # exact repeats share a cluster; one representative per cluster
    assert sum(result.is_representative) == len(set(result.cluster_id))


def test_order_of_rows_does_not_change_the_result():
    texts, _ = synthetic(2000, seed=5)
    rows = [{"instruction": t, "reward": float(i % 7)} for i, t in enumerate(texts)]

    def tagged(rs):
        step = LexicalDuplicates()
        step.load()
        out = next(step.process([dict(r) for r in rs]))
        return sorted((r["instruction"], r["reward"], r["lexical_cluster_id"], r["lexical_cluster_size"],
                       r["lexical_is_representative"]) for r in out)

    shuffled = rows[:]
    random.Random(0).shuffle(shuffled)
    assert tagged(rows) == tagged(shuffled)


def test_representative_has_the_best_reward_and_drop_keeps_one_per_cluster(tmp_path):
    base = "Write a Python function that reverses a string without using slicing or the reversed builtin"
    rows = [{"instruction": base + "?", "reward": 1.0}, {"instruction": base + ", please?", "reward": 3.0},
            {"instruction": base + "?", "reward": 2.0},
            {"instruction": "Explain the difference between TCP and UDP for a networking beginner.", "reward": 0.0}]
    step = LexicalDuplicates(drop_duplicates=True, dropped_path=str(tmp_path / "dropped.jsonl"))
    step.load()
    kept = next(step.process([dict(r) for r in rows]))
    assert sorted(r["reward"] for r in kept) == [0.0, 3.0]
    assert [r["lexical_cluster_size"] for r in kept if r["reward"] == 3.0] == [3]
    assert step.stats["reasons"] == {"lexical near-duplicate": 2}
    dropped = [json.loads(line) for line in (tmp_path / "dropped.jsonl").read_text().splitlines()]
    assert {r["reward"] for r in dropped} == {1.0, 2.0}


def test_filter_recipe_can_use_the_lexical_columns():
    rows = [{"instruction": "a", "lexical_is_representative": True}, {"instruction": "b", "lexical_is_representative": False}]
    step = FilterRecipe(recipe="lexical-dedup")
    step.load()
    assert [r["instruction"] for r in next(step.process(rows))] == ["a"]


def test_candidate_pairs_and_clusters():
    bands = np.array([[1, 9], [2, 9], [1, 7], [3, 4]], dtype=np.uint64)
    assert candidate_pairs(bands).tolist() == [[0, 1], [0, 2]]
    assert cluster_labels(5, np.array([[1, 3], [3, 4]])).tolist() == [0, 1, 2, 1, 1]


def test_step_round_trips_through_its_dump():
    step = LexicalDuplicates(threshold=0.8, ngram_size=3, bands=16, rows_per_band=8, drop_duplicates=True)
    again = LexicalDuplicates.from_dict(step.dump())
    assert again.dump() == step.dump() and again.bands == 16


def test_benchmark_script_smoke():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "minhash.py"), "--rows", "3000", "--sample", "500"],
                         check=False, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["recall_planted_at_or_above"] >= 0.97 and result["sample_precision"] >= 0.9
    assert out.stdout.startswith("CPU: ")
