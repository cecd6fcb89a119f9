import json

import pytest

from distilabel_magpie.cli import main
from distilabel_magpie.errors import MagpieError
from distilabel_magpie.report import summarise, write_report

ROWS = [
    {"instruction": "What is DNA?", "instruction_status": "ok", "response": "A molecule.", "response_status": "ok",
     "distilabel_metadata": {"statistics_x": {"output_tokens": 5}}},
    {"instruction": "", "instruction_status": "empty", "response": None, "response_status": "skipped"},
    {"instruction": "Loop", "instruction_status": "truncated", "response": None, "response_status": "skipped"},
]


def test_summary_counts():
    s = summarise(ROWS)
    assert s["rows"] == 3 and s["usable_rows"] == 1
    assert s["instruction_status"] == {"ok": 1, "empty": 1, "truncated": 1}
    assert s["response_status"] == {"skipped": 2, "ok": 1}


def test_report_files(tmp_path, capsys):
    (tmp_path / "data.jsonl").write_text("\n".join(json.dumps(r) for r in ROWS))
    assert main(["report", str(tmp_path)]) == 0
    report = (tmp_path / "report.md").read_text()
    assert "What is DNA?" in report and '"usable_rows": 1' in report
    assert (tmp_path / "report.png").stat().st_size > 1000


def test_report_on_a_folder_without_data(tmp_path):
    with pytest.raises(MagpieError, match="not found"):
        write_report(tmp_path)


def test_reasoning_lengths_and_reasoning_truncated_are_counted():
    rows = [
        {"instruction": "2+2?", "instruction_status": "ok", "response": "4", "reasoning": "Add two and two.",
         "response_status": "ok"},
        {"instruction": "Prove it", "instruction_status": "ok", "response": None, "reasoning": "Let me" * 10,
         "response_status": "reasoning_truncated"},
        {"messages": [{"role": "user", "content": "Hi"},
                      {"role": "assistant", "content": "Hello", "reasoning_content": "Greet."}],
         "conversation_status": "ended_early", "failure_reason": "response_reasoning_truncated"},
    ]
    s = summarise(rows)
    assert s["reasoning"] == {"with_reasoning": 3, "reasoning_truncated": 2,
                              "reasoning_chars": {"mean": 27.3, "median": 16, "max": 60}}
    assert s["response_status"]["reasoning_truncated"] == 1
    assert "reasoning" not in summarise(ROWS)  # runs without reasoning: nothing added
