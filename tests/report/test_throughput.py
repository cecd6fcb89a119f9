"""summary.json's throughput fields, and the run report's line about them."""

from __future__ import annotations

import json
import logging

from distilabel_magpie.output.save import SaveDataset, throughput


def row(i: int, ok: bool) -> dict:
    return {"row_index": i, "instruction": f"q{i}", "instruction_status": "ok", "response": "a",
            "response_status": "ok" if ok else "truncated",
            "distilabel_metadata": {"statistics_sft": {"output_tokens": 10},
                                    "statistics_response_sft": {"output_tokens": 30}}}


def test_throughput_counts_tokens_rows_and_accepted_rows():
    # the dropped row's tokens were generated in this run too
    dropped = dict(row(3, True), drop_reason="failed: quality >= 'average'")
    got = throughput([row(0, True), row(1, False), row(2, True)], rejected=[dropped], seconds=36.0)
    assert got == {"wall_seconds": 36.0, "tokens": 160, "tokens_per_s": 4.4, "rows_per_hour": 400.0,
                   "accepted_rows": 2, "accepted_rows_per_hour": 200.0}
    multi = throughput([{"conversation_status": "ok"}, {"conversation_status": "ended_early"}], [], 3600.0)
    assert multi["accepted_rows"] == 1 and multi["tokens"] == 0


def test_save_dataset_writes_throughput_into_summary_and_report(tmp_path):
    logging.getLogger("distilabel.step").setLevel(logging.ERROR)
    step = SaveDataset(output_dir=str(tmp_path / "out"))
    step.load()
    next(step.process([row(i, i % 2 == 0) for i in range(4)]))
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    speed = summary["throughput"]
    assert speed["tokens"] == 160 and speed["accepted_rows"] == 2 and speed["wall_seconds"] >= 0
    assert set(speed) == {"wall_seconds", "tokens", "tokens_per_s", "rows_per_hour", "accepted_rows",
                          "accepted_rows_per_hour"}
    assert "accepted rows/hour" in (tmp_path / "out" / "report.html").read_text()
