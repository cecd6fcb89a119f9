"""A sweep's judge (`sweep --judge`): which rows it judges, its file and when it is made again, how
its tags join a cell's rows and reach the comparison; the real judge on the embedded model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from distilabel_magpie.compare import judging
from distilabel_magpie.compare.metrics import Run, compare
from distilabel_magpie.engines.models import embedded_model_path
from distilabel_magpie.errors import MagpieError
from distilabel_magpie.report.source import RunData


def rows() -> list[dict]:
    # stored out of row order on purpose; row 1 is not accepted, row 4 has no query
    return [
        {"row_index": 3, "instruction": "What is DNA?", "instruction_status": "ok"},
        {"row_index": 0, "instruction": "How do I sort a list?", "instruction_status": "ok"},
        {"row_index": 1, "instruction": "Write a", "instruction_status": "truncated"},
        {"row_index": 2, "instruction": "Name three rivers.", "instruction_status": "ok"},
        {"row_index": 4, "instruction": "  ", "instruction_status": "ok"},
    ]


def record(judged: list[dict], judge: str = "some-judge", limit: int = 2) -> dict:
    return {"judge": judge, "judge_model": "judge.gguf", "tags": judging.TAGS, "limit": limit, "seconds": 1.0,
            "rows": judged}


def test_first_accepted_rows_in_row_index_order():
    assert [r["row_index"] for r in judging.first_accepted(rows(), 2)] == [0, 2]
    assert [r["row_index"] for r in judging.first_accepted(rows(), 10)] == [0, 2, 3]
    assert judging.first_accepted([{"instruction": "x", "instruction_status": "truncated"}], 5) == []


def test_a_judge_file_counts_only_for_its_judge_and_row_count(tmp_path):
    path = judging.judge_path(tmp_path, "cell-a")
    assert judging.read_record(path, "some-judge", 2) is None  # none yet
    judging.write_record(path, record([]))
    assert path == tmp_path / "judge" / "cell-a.json" and not list(path.parent.glob("*.partial"))
    assert judging.read_record(path, "some-judge", 2) is not None
    assert judging.read_record(path, "other-judge", 2) is None
    assert judging.read_record(path, "some-judge", 3) is None
    path.write_text('{"judge": "some-judge", "rows": [')  # cut short: not a record
    assert judging.read_any(path) is None and judging.read_record(path, "some-judge", 2) is None


def test_tags_join_the_rows_they_were_made_for_and_reach_the_numbers():
    run = Run(name="cell", data=RunData(rows=rows()))
    judged = [{"row_index": 0, "instruction": "How do I sort a list?", "quality": "good", "difficulty": "easy",
               "judge_status": "ok"},
              {"row_index": 2, "instruction": "Name three rivers.", "quality": "average", "difficulty": "very easy",
               "judge_status": "ok"}]
    judging.join(run, record(judged))
    by_index = {r["row_index"]: r for r in run.data.rows}
    assert by_index[0]["quality"] == "good" and by_index[0]["judge_model"] == "judge.gguf"
    assert "quality" not in by_index[3]  # accepted but past the limit: not judged
    assert run.extra["judged"] == "quality, difficulty by some-judge on the first 2 of 4 accepted rows"
    numbers = compare([run, Run(name="other", data=RunData(rows=rows()))], embed=None)
    # good = 4, average = 3 on the 1..5 scale; easy = 2, very easy = 1; the unjudged run has none
    assert numbers["metrics"]["quality"][0]["mean"] == 3.5 and numbers["metrics"]["quality"][0]["n"] == 2
    assert numbers["metrics"]["difficulty"][0]["mean"] == 1.5 and numbers["metrics"]["quality"][1] is None
    assert numbers["runs"][0]["judged"].startswith("quality, difficulty by some-judge")


def test_a_judge_file_of_other_rows_is_one_line_error():
    run = Run(name="cell", data=RunData(rows=rows()))
    stale = [{"row_index": 0, "instruction": "A query the cell no longer has", "quality": "good"}]
    with pytest.raises(MagpieError, match="does not match its rows .row_index 0.; delete it"):
        judging.join(run, record(stale))


def test_the_real_judge_tags_the_first_accepted_rows_once(tmp_path):
    said: list[str] = []
    judge = str(embedded_model_path())
    cells = [("a", "cell-a", rows()), ("b", "cell-b", rows()[2:3])]  # b: no accepted row
    judging.judge_cells(tmp_path, cells, judge, 2, said.append)
    made = judging.read_record(judging.judge_path(tmp_path, "cell-a"), judge, 2)
    assert [r["row_index"] for r in made["rows"]] == [0, 2]
    assert [r["instruction"] for r in made["rows"]] == ["How do I sort a list?", "Name three rivers."]
    for judged in made["rows"]:  # grammar-constrained: a label from each scale, whatever the small model thinks
        assert judged["judge_status"] == "ok", judged
        assert judged["quality"] in ("very poor", "poor", "average", "good", "excellent")
        assert judged["difficulty"] in ("very easy", "easy", "medium", "hard", "very hard")
    assert json.loads(Path(judging.judge_path(tmp_path, "cell-b")).read_text())["rows"] == []
    assert said[0] == "loading the judge " + judge and said[1] == "judge 1/2 a: 2 accepted rows"
    said.clear()
    judging.judge_cells(tmp_path, cells, judge, 2, said.append)  # again: nothing to do, the judge not loaded
    assert said == ["judge 1/2 a: judged before, skipped", "judge 2/2 b: judged before, skipped"]
