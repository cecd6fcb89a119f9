import json
import random

import pytest

from distilabel_magpie.curation import FilterRecipe, StatusFilter
from distilabel_magpie.errors import MagpieError


def row(i, quality="good", difficulty="medium", mnd=0.3, reward=0.0, diff=1.0, rep=True, instruction=None,
        response_len=10):
    return {"instruction": instruction or f"query {i}?", "response": "x" * response_len, "quality": quality,
            "difficulty": difficulty, "min_neighbor_distance": mnd, "reward": reward, "reward_difference": diff,
            "is_representative": rep}


# Crafted so that every rule of every recipe removes a known number of rows.
DATASET = [
    row(0),                                        # passes everything
    row(1, quality="poor"),                        # fails quality (pro, air, card)
    row(2, quality="average"),                     # fails air's quality >= good only
    row(3, difficulty="easy"),                     # fails air's difficulty
    row(4, mnd=0.0),                               # exact repeat: fails pro/air MND > 0
    row(5, reward=-12.0),                          # fails pro reward > -12 and card reward >= -10
    row(6, reward=-11.0),                          # passes pro, fails card
    row(7, diff=0.0),                              # fails air reward_difference > 0
    row(8, rep=False),                             # not the cluster representative: fails card
    row(9, instruction="Complete the following:"),  # fails card's trailing ':'
    row(10, quality=None),                         # judge failed: fails every quality rule
]


def run(step, rows):
    step.load()
    return next(step.process([dict(r) for r in rows]))


def test_pro_300k_filtered_counts():
    step = FilterRecipe(recipe="pro-300k-filtered")
    kept = run(step, DATASET)
    assert step.rule_counts == [("quality >= 'average'", 2), ("min_neighbor_distance > 0", 1),
                                ("reward > -12", 1), ("top 300000 by response_length", 0)]
    assert sorted(r["instruction"] for r in kept) == sorted(
        r["instruction"] for r in DATASET if r["instruction"] not in ("query 1?", "query 4?", "query 5?", "query 10?"))
    assert step.stats["seen"] == 11 and step.stats["kept"] == 7 and step.stats["dropped"] == 4


def test_air_300k_filtered_counts():
    step = FilterRecipe(recipe="air-300k-filtered")
    kept = run(step, DATASET)
    assert [n for _, n in step.rule_counts] == [3, 1, 1, 1, 0]
    assert len(kept) == 5


def test_card_counts():
    step = FilterRecipe(recipe="card")
    kept = run(step, DATASET)
    assert [n for _, n in step.rule_counts] == [2, 2, 1, 1]
    assert {r["instruction"] for r in kept} == {"query 0?", "query 2?", "query 3?", "query 4?", "query 7?"}


def test_top_k_keeps_the_longest_responses_whatever_the_order():
    rows = [row(i, response_len=length) for i, length in enumerate([5, 50, 20, 20, 20, 1])]
    step = FilterRecipe(recipe="pro-300k-filtered", top_k=3)
    first = {r["instruction"] for r in run(step, rows)}
    assert step.rule_counts[-1] == ("top 3 by response_length", 3)
    assert "query 1?" in first and len(first) == 3  # the longest, plus two of the three tied at 20
    for seed in range(5):
        shuffled = rows[:]
        random.Random(seed).shuffle(shuffled)
        assert {r["instruction"] for r in run(FilterRecipe(recipe="pro-300k-filtered", top_k=3), shuffled)} == first


def test_user_rules_and_dropped_rows_with_reasons(tmp_path):
    dropped = tmp_path / "dropped.jsonl"
    rows = [dict(row(i), language=lang) for i, lang in enumerate(["EN", "ZH", "EN", None])]
    step = FilterRecipe(rules=[{"column": "language", "op": "==", "value": "EN"},
                               {"column": "instruction_length", "op": "<=", "value": 8},
                               {"top_k": 1, "by": "reward", "descending": False}],
                        dropped_path=str(dropped))
    kept = run(step, rows)
    assert [n for _, n in step.rule_counts] == [2, 0, 1] and len(kept) == 1
    lines = [json.loads(line) for line in dropped.read_text().splitlines()]
    assert [line["drop_reason"] for line in lines] == ["failed: language == 'EN'"] * 2 + ["failed: top 1 by reward (ascending)"]


def test_bad_recipes_and_rules_are_one_line_errors():
    with pytest.raises(MagpieError, match="unknown filter recipe 'pro-300k'"):
        FilterRecipe(recipe="pro-300k").load()
    with pytest.raises(MagpieError, match="bad filter rule"):
        FilterRecipe(rules=[{"column": "reward", "op": "=>", "value": 0}]).load()
    with pytest.raises(MagpieError, match="compared by rank"):
        FilterRecipe(rules=[{"column": "quality", "op": ">=", "value": "great"}]).load()


def test_missing_column_names_the_step_that_produces_it():
    step = FilterRecipe(recipe="air-300k-filtered")
    step.load()
    rows = [{k: v for k, v in r.items() if k != "reward_difference"} for r in DATASET]
    with pytest.raises(MagpieError, match=r"needs column 'reward_difference'.*base_response_column"):
        next(step.process(rows))


def test_status_filter_counts_by_reason(tmp_path):
    step = StatusFilter(columns=["instruction_status", "response_status"], dropped_path=str(tmp_path / "d.jsonl"))
    kept = run(step, [{"instruction_status": "ok", "response_status": "ok"},
                      {"instruction_status": "truncated", "response_status": "skipped"},
                      {"instruction_status": "ok", "response_status": "truncated"}])
    assert len(kept) == 1
    assert step.stats["reasons"] == {"instruction_status=truncated": 1, "response_status=truncated": 1}
    assert len((tmp_path / "d.jsonl").read_text().splitlines()) == 2


def test_status_columns_are_checked_first_and_the_recipe_is_a_runtime_parameter(tmp_path):
    """A row whose answer failed is dropped for its status (not for a tag its judge never gave);
    a status column no row has is left out."""
    rows = [dict(row(0), instruction_status="ok", response_status="ok"),
            dict(row(1, quality=None), instruction_status="truncated", response_status="skipped"),
            dict(row(2, quality=None), instruction_status="ok", response_status="truncated"),
            dict(row(3, quality="poor"), instruction_status="ok", response_status="ok")]
    dropped = tmp_path / "rejected.jsonl"
    step = FilterRecipe(recipe="air-300k-filtered", dropped_path=str(dropped),
                        status_columns=["instruction_status", "response_status", "base_response_status"])
    step.set_runtime_parameters({"recipe": "pro-300k-filtered"})
    assert "recipe" in {p["name"] for p in step.get_runtime_parameters_info()}
    kept = run(step, rows)
    assert [r["instruction"] for r in kept] == ["query 0?"]
    assert step.rule_counts[:3] == [("instruction_status == 'ok'", 1), ("response_status == 'ok'", 1),
                                    ("quality >= 'average'", 1)]
    assert step.rule_counts[3][0] == "min_neighbor_distance > 0"  # pro, not air: no difficulty rule
    written = [json.loads(line) for line in dropped.read_text().splitlines()]
    assert [(r["instruction"], r["drop_reason"]) for r in written] == [
        ("query 1?", "failed: instruction_status == 'ok'"), ("query 2?", "failed: response_status == 'ok'"),
        ("query 3?", "failed: quality >= 'average'")]
    assert step.inputs["instruction_status"] is False and step.inputs["quality"] is True
    with pytest.raises(MagpieError, match="unknown filter recipe 'nope'"):
        FilterRecipe(recipe="nope").load()
