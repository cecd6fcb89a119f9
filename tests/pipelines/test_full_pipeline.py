"""pipelines/magpie-full.yaml, the Magpie recipe end to end: the YAML is the builder's dump and loads
back, every model is a runtime parameter, and a small real run through `distilabel pipeline run`
(embedded SmolLM2 for every LLM, the tiny local reward model, real MiniLM embeddings) writes the
dataset with every column of the recipe, the rejected rows with their reasons, and the report."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from distilabel.pipeline import Pipeline

from distilabel_magpie.pipelines import build_full_pipeline

pytestmark = pytest.mark.e2e  # a whole pipeline, a server or a killed process

ROOT = Path(__file__).resolve().parents[2]
YAML = ROOT / "pipelines" / "magpie-full.yaml"
ORDER = ["row_indices", "magpie_sft", "finalize_rows", "decontaminate", "base_responder", "judge", "reward_model", "language_tagger",
         "safety_tagger",
         "near_duplicates", "filter_recipe", "push_to_argilla", "save_dataset"]
# Every column of the recipe, on every row that reached the filter (kept or rejected).
RECIPE_COLUMNS = [
    "instruction", "instruction_status", "response", "response_status", "model_name",
    "base_response", "base_response_status", "base_model_name",
    "quality", "quality_rating", "quality_score", "difficulty", "task_category", "judge_status", "judge_model",
    "reward", "reward_base", "reward_difference", "reward_truncated", "reward_model", "language",
    "min_neighbor_distance", "repeat_count", "cluster_id", "is_representative", "embedding",
]


def steps_of(dump):
    return {s["step"]["name"]: s["step"] for s in dump["pipeline"]["steps"]}


def runtime_names(step: dict, prefix: str = "") -> set:
    out = set()
    for info in step["runtime_parameters_info"]:
        name = prefix + info["name"]
        if "runtime_parameters_info" in info:
            out |= runtime_names(info, name + ".")
        else:
            out.add(name)
    return out


def test_committed_yaml_is_the_dump_of_the_builder_and_runs_the_recipe_in_order():
    dump = Pipeline.from_yaml(YAML).dump()  # (the dump holds a tuple: not yaml.safe_load-able)
    assert dump == build_full_pipeline().dump()
    assert yaml.load(YAML.read_text(), Loader=yaml.FullLoader) == yaml.load(
        yaml.dump(build_full_pipeline().dump()), Loader=yaml.FullLoader)
    steps = steps_of(dump)
    edges = {c["from"]: c["to"] for c in dump["pipeline"]["connections"]}
    chain = ["row_indices"]
    while edges.get(chain[-1]):
        (following,) = edges[chain[-1]]
        chain.append(following)
    assert chain == ORDER
    assert steps["reward_model"]["base_response_column"] == "base_response"
    assert steps["reward_model"]["model"] == "tiny-random"
    assert steps["near_duplicates"]["embedding_column"] == "embedding"
    assert steps["filter_recipe"]["recipe"] == "pro-300k-filtered"
    assert steps["filter_recipe"]["status_columns"] == ["instruction_status", "response_status", "base_response_status",
                                                        "contamination_status"]
    assert steps["decontaminate"]["benchmarks"] is None  # off until a benchmark is given
    assert steps["filter_recipe"]["dropped_path"] == steps["save_dataset"]["rejected_from"]
    assert steps["safety_tagger"]["enabled"] is False and steps["push_to_argilla"]["dataset_name"] is None
    every_model = {"magpie_sft": "llm.model_path", "base_responder": "llm.model_path", "judge": "llm.model_path",
                   "safety_tagger": "llm.model_path", "reward_model": "model", "near_duplicates": "embedding_model"}
    for step, parameter in every_model.items():
        assert parameter in runtime_names(steps[step]), (step, parameter)
    for step in ("filter_recipe", "safety_tagger", "push_to_argilla"):
        assert {"recipe", "enabled", "dataset_name"} & runtime_names(steps[step])


def run_full(tmp_path: Path, rows: int, extra: dict | None = None) -> tuple[subprocess.CompletedProcess, Path]:
    """`distilabel pipeline run --config pipelines/magpie-full.yaml` in a fresh interpreter (torch
    in a worker forked from a process that already ran torch can crash), small token budgets."""
    out = tmp_path / "full"
    params = {"magpie_sft.num_rows": rows, "magpie_sft.max_new_tokens": 48, "magpie_sft.response_max_new_tokens": 64,
              "base_responder.max_new_tokens": 48, "save_dataset.output_dir": out,
              "filter_recipe.dropped_path": f"{out}.rejected.jsonl", "save_dataset.rejected_from": f"{out}.rejected.jsonl",
              **(extra or {})}
    env = {**os.environ, "DISTILABEL_CACHE_DIR": str(tmp_path / "cache"), "XDG_CACHE_HOME": str(tmp_path / "xdg"),
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    cmd = [str(Path(sys.executable).parent / "distilabel"), "pipeline", "run", "--config", str(YAML), "--ignore-cache"]
    for key, value in params.items():
        cmd += ["--param", f"{key}={value}"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=tmp_path, env=env)
    return done, out


def test_the_full_recipe_runs_on_cpu_and_writes_dataset_rejected_rows_and_report(tmp_path):
    done, out = run_full(tmp_path, 8)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    kept = [json.loads(line) for line in (out / "data.jsonl").read_text().splitlines()]
    rejected = [json.loads(line) for line in (out / "rejected.jsonl").read_text().splitlines()]
    assert len(kept) + len(rejected) == 8  # nothing disappears without a trace
    assert not (tmp_path / "full.rejected.jsonl").exists()  # the staged file moved into the dataset folder
    for row in kept + rejected:
        missing = [c for c in RECIPE_COLUMNS if c not in row]
        assert not missing, missing
    scored = [r for r in kept + rejected if r["response_status"] == "ok" and r["base_response_status"] == "ok"]
    for row in scored:
        assert row["reward_difference"] == row["reward"] - row["reward_base"]
    for row in kept + rejected:
        if row["instruction_status"] == "ok" and row["response"] and row["instruction"].strip():
            assert len(row["embedding"]) == 384
    for row in kept:  # the filter's rules hold on what it kept
        assert (row["instruction_status"], row["response_status"], row["base_response_status"]) == ("ok",) * 3
        assert row["quality"] in ("average", "good", "excellent") and row["min_neighbor_distance"] > 0
        assert row["reward"] > -12
    rules = ["failed: instruction_status == 'ok'", "failed: response_status == 'ok'",
             "failed: base_response_status == 'ok'", "failed: quality >= 'average'", "failed: min_neighbor_distance > 0",
             "failed: reward > -12"]
    assert all(r["drop_reason"] in rules for r in rejected), {r["drop_reason"] for r in rejected}
    for row in rejected:
        if row["drop_reason"] == "failed: response_status == 'ok'":
            assert row["response_status"] != "ok" and row["base_response_status"] == "skipped"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["rows"] == len(kept) and summary["rejected"]["rows"] == len(rejected)
    page = (out / "report.html").read_text()
    assert "magpie-full" in page
    plots = {p.name for p in (out / "plots").iterdir()}
    expected = {"statuses.png", "lengths_chars.png", "lengths_tokens.png", "task_categories.png",
                "difficulty_quality.png", "languages.png", "diversity.png"}
    assert expected <= plots, plots
    if scored:
        assert {"reward.png", "reward_difference.png"} <= plots
    if rejected:
        assert "rejections.png" in plots
    assert "Safety</b> skipped because" in page  # no guard model given
    assert "report.html" in done.stdout + done.stderr  # the run says where its report is
