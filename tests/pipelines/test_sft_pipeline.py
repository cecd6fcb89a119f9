"""The default pipeline: YAML in sync and round-tripping, and a real `distilabel pipeline run`."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from distilabel.pipeline import Pipeline

from distilabel_magpie.pipelines import build_chat_pipeline, build_sft_pipeline

pytestmark = pytest.mark.e2e  # a whole pipeline, a server or a killed process

ROOT = Path(__file__).resolve().parents[2]
YAML = ROOT / "pipelines" / "magpie-sft.yaml"
CHAT_YAML = ROOT / "pipelines" / "magpie-chat.yaml"


def _steps(data):
    return {s["step"]["name"]: s["step"] for s in data["pipeline"]["steps"]}


@pytest.mark.parametrize("path,build", [(YAML, build_sft_pipeline), (CHAT_YAML, build_chat_pipeline)])
def test_committed_yaml_is_the_dump_of_the_python_pipeline(path, build):
    assert yaml.safe_load(path.read_text()) == yaml.safe_load(yaml.dump(build().dump()))


def test_dataset_citations_come_from_our_docstrings_not_the_network(monkeypatch):
    """distilabel fetches a BibTeX entry for each arXiv reference of a step without `Citations`
    (a network call at the end of every run, an 'Untracked error' print offline)."""
    import distilabel.distiset as distiset

    from distilabel_magpie.pipelines import build_dpo_pipeline, build_full_pipeline, build_reasoning_pipeline

    fetched = []
    monkeypatch.setattr(distiset, "get_bibtex", lambda ref: fetched.append(ref) or "")
    for build in (build_sft_pipeline, build_chat_pipeline, build_dpo_pipeline, build_reasoning_pipeline,
                  build_full_pipeline):
        citations = distiset._grab_citations(build().dag)
        assert any("xu2024magpiealignmentdatasynthesis" in c for c in citations)
    assert fetched == []


@pytest.mark.parametrize("path,first", [(YAML, "magpie_sft"), (CHAT_YAML, "magpie_first_turn")])
def test_yaml_round_trip(path, first):
    loaded = Pipeline.from_yaml(path)
    again = Pipeline.from_dict(loaded.dump())
    assert loaded.dump() == again.dump()
    step = _steps(loaded.dump())[first]
    assert step["llm"]["model_path"] == "embedded"  # kept in the dump (distilabel's LlamaCppLLM drops it)
    assert step["type_info"]["name"] == "MagpieSFTStep"


def test_distilabel_cli_runs_the_yaml_with_params(tmp_path):
    out = tmp_path / "sft"
    cmd = [str(Path(sys.executable).parent / "distilabel"), "pipeline", "run", "--config", str(YAML),
           "--param", "magpie_sft.num_rows=6", "--param", "magpie_sft.response_max_new_tokens=24",
           "--param", f"save_dataset.output_dir={out}", "--ignore-cache"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = [json.loads(line) for line in (out / "data.jsonl").read_text().splitlines()]
    assert len(rows) == 6
    assert (out / "data.parquet").is_file()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["rows"] == 6 and sum(summary["instruction_status"].values()) == 6
    assert summary["throughput"]["tokens"] > 0 and summary["throughput"]["rows_per_hour"] > 0
    # the live progress line (plain off a terminal), its last one with every row done
    assert "magpie_sft: 6/6 rows," in result.stderr + result.stdout and "ETA" in result.stderr + result.stdout
    answered = [r for r in rows if r["instruction_status"] == "ok"]
    assert answered and all(r["response"] is not None for r in answered)
    assert all(r["response_status"] == "skipped" for r in rows if r["instruction_status"] != "ok")
    # the cheap tags the report plots: every row's language and min-neighbour distance (MiniLM, L2
    # between unit vectors, so within [0, 2]); nothing dropped
    assert all(r["language"] is None or r["language"].isupper() for r in rows)
    assert any(r["language"] for r in rows)
    assert all(0 <= r["min_neighbor_distance"] <= 2 and r["repeat_count"] >= 0 for r in rows
               if r["instruction"])
    report = (out / "report.html").read_text()
    assert 'id="languages"' in report and 'id="diversity"' in report


def test_chat_pipeline_runs_with_the_distilabel_cli(tmp_path):
    out = tmp_path / "chat"
    cmd = [str(Path(sys.executable).parent / "distilabel"), "pipeline", "run", "--config", str(CHAT_YAML),
           "--param", "magpie_first_turn.num_rows=3", "--param", "magpie_first_turn.response_max_new_tokens=24",
           "--param", "magpie_multi_turn.response_max_new_tokens=24", "--param", "magpie_multi_turn.max_new_tokens=24",
           "--param", f"save_dataset.output_dir={out}", "--ignore-cache"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = [json.loads(line) for line in (out / "data.jsonl").read_text().splitlines()]
    assert len(rows) == 3
    for row in rows:
        assert row["conversation_status"] in ("ok", "ended_early", "skipped")
        if row["messages"]:
            roles = [m["role"] for m in row["messages"]]
            assert roles == ["user", "assistant"] * (len(roles) // 2)
        if row["conversation_status"] == "ended_early":
            assert row["failure_reason"] and row["failed_turn"] in (2, 3)
