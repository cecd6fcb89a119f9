"""Rows as functions of their global index: `RowIndices` feeds the replicable generation steps,
a row is the same whichever batch makes it, and `FinalizeRows` puts the rows of every replica
together (each index once, exact duplicates flagged across replicas)."""

from __future__ import annotations

import logging

import pytest

from distilabel_magpie.engines.base import sample_seed
from distilabel_magpie.errors import MagpieError
from distilabel_magpie.generation import (FinalizeRows, MagpieSampler, MagpieSamplerStep, MagpieSFTGenerator,
                                          MagpieSFTStep, RowIndices)
from distilabel_magpie.runtime.launch import parse_params

SYSTEM = {"chef": "You are a chef.", "tutor": "You are a maths tutor.", "none": None}


def _loaded(step, engine):
    step.llm = engine
    step._logger = logging.getLogger(f"distilabel.step.{step.name}")
    step._load_engine()
    return step


def test_row_indices_in_batches_from_an_offset():
    rows = RowIndices(name="row_indices", num_rows=5, batch_size=2)
    rows.load()
    batches = list(rows.process())
    assert [[r["row_index"] for r in b] for b, _ in batches] == [[0, 1], [2, 3], [4]]
    assert [last for _, last in batches] == [False, False, True]
    assert [[r["row_index"] for r in b] for b, _ in rows.process(offset=4)] == [[4]]
    assert list(rows.process(offset=5)) == [([], True)]


def test_a_row_is_the_same_in_any_batch_and_in_the_generator(llamacpp_engine):
    """Row i of the replicable step, made in batches of 3 in reverse order (as two replicas might
    get them), equals the generator's row i: index, seed, system-prompt choice and query."""
    kwargs = dict(num_rows=6, max_new_tokens=12, seed=7, system_prompt=SYSTEM, early_stop_newline=True)
    generator = _loaded(MagpieSampler(name="g", llm=llamacpp_engine, batch_size=6, **kwargs), llamacpp_engine)
    (reference, _), = list(generator.process())
    step = _loaded(MagpieSamplerStep(name="s", llm=llamacpp_engine, batch_size=3, **kwargs), llamacpp_engine)
    made = next(step.process([{"row_index": i} for i in (5, 4, 3)])) + next(step.process([{"row_index": i}
                                                                                          for i in (0, 1, 2)]))
    by_index = {r["row_index"]: r for r in made}
    assert sorted(by_index) == list(range(6))
    for ref in reference:
        row = by_index[ref["row_index"]]
        meta, ref_meta = row["distilabel_metadata"]["magpie_s"], ref["distilabel_metadata"]["magpie_g"]
        assert meta["seed"] == ref_meta["seed"] == sample_seed(7, ref["row_index"])
        assert row["system_prompt_key"] == ref["system_prompt_key"]
        assert row["instruction"] == ref["instruction"]  # same process, same engine: same numerics
    assert len({r["system_prompt_key"] for r in reference}) > 1  # the choice does vary with the index


def test_sft_step_seeds_answers_by_row_index(llamacpp_engine):
    step = _loaded(MagpieSFTStep(name="sft", llm=llamacpp_engine, num_rows=4, batch_size=2, max_new_tokens=12, response_max_new_tokens=8,
                                 seed=3), llamacpp_engine)
    rows = next(step.process([{"row_index": 3}, {"row_index": 1}]))
    assert [r["row_index"] for r in rows] == [3, 1]
    for r in rows:
        if r["response_status"] != "skipped":
            assert r["distilabel_metadata"]["magpie_response_sft"]["seed"] == sample_seed(3, r["row_index"])
    with pytest.raises(MagpieError, match=r"row indices \[4\] are outside 0..3"):
        next(step.process([{"row_index": 4}]))
    assert isinstance(MagpieSFTGenerator(llm=llamacpp_engine, num_rows=1), MagpieSampler)


def _row(i, text, status="ok", **extra):
    return {"row_index": i, "instruction": text, "instruction_status": status, **extra}


def test_finalize_flags_repeats_of_a_lower_index_and_clears_their_answers():
    step = FinalizeRows(name="finalize_rows", num_rows=4)
    step.load()
    rows = next(step.process([_row(3, "Hi  there", response="a", response_status="ok"),
                              _row(1, "hi there", response="b", response_status="ok"),
                              _row(0, "Hi there", "truncated", response=None, response_status="skipped"),
                              _row(2, "Other", response="c", response_status="ok")]))
    assert [r["row_index"] for r in rows] == [0, 1, 2, 3]
    assert [r["instruction_status"] for r in rows] == ["truncated", "ok", "ok", "duplicate"]
    assert (rows[3]["response"], rows[3]["response_status"]) == (None, "skipped")
    assert rows[1]["response"] == "b"


@pytest.mark.parametrize("indices,message", [
    ([0, 1, 1, 2], r"row indices 1 came more than once"),
    ([0, 2], r"1 of 3 rows are missing \(row indices 1\)"),
    ([0, 1, 2, 3], r"row indices 3 are outside 0..2"),
])
def test_finalize_refuses_an_incomplete_or_doubled_row_set(indices, message):
    step = FinalizeRows(name="finalize_rows", num_rows=3)
    step.load()
    with pytest.raises(MagpieError, match=message):
        next(step.process([_row(i, f"q{i}") for i in indices]))


def test_the_yaml_gets_num_rows_and_batch_size_from_the_generation_step():
    from distilabel_magpie.generation.rows import feed_row_sources
    from distilabel_magpie.pipelines import build_sft_pipeline

    pipeline = build_sft_pipeline(num_rows=100, batch_size=10)
    feed_row_sources(pipeline, {"magpie_sft": {"num_rows": "24", "batch_size": "4"}})
    steps = {name: pipeline.dag.get_step(name)["step"] for name in pipeline.dag}
    assert (steps["row_indices"].num_rows, steps["row_indices"].batch_size) == (24, 4)
    assert steps["magpie_sft"].input_batch_size == 4 and steps["finalize_rows"].num_rows == 24


def test_params_nest_by_dots_and_parse_json_brackets():
    assert parse_params(["magpie_sft.num_rows=24", "magpie_sft.llm.base_url=http://h:8000/v1",
                         'magpie_sft.system_prompt=["a", "b"]']) == {
        "magpie_sft": {"num_rows": "24", "llm": {"base_url": "http://h:8000/v1"}, "system_prompt": ["a", "b"]}}
    with pytest.raises(MagpieError, match="must look like step.field=value"):
        parse_params(["num_rows=24"])
    with pytest.raises(MagpieError, match="not valid JSON"):
        parse_params(["magpie_sft.system_prompt=[a, b]"])
