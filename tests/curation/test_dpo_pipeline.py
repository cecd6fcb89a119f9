"""The Magpie-PO pipeline: YAML round trip, every step serialisable, and an end-to-end CLI run on
CPU (embedded SmolLM2 + a tiny locally built reward model given as a runtime parameter)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from distilabel.pipeline import Pipeline

from distilabel_magpie.curation import FilterRecipe, FormatSFT, NearDuplicates, PreferencePairs, StatusFilter
from distilabel_magpie.engines import LlamaCppEngine
from distilabel_magpie.pipelines import build_dpo_pipeline
from distilabel_magpie.scoring import LanguageTagger, MagpieJudge, RewardModelLabeler, SafetyTagger
from distilabel_magpie.scoring.tiny import build_tiny_reward_model

pytestmark = pytest.mark.e2e  # a whole pipeline, a server or a killed process

ROOT = Path(__file__).resolve().parents[2]
YAML = ROOT / "pipelines" / "magpie-dpo.yaml"


def steps_of(dump):
    return {s["name"]: {k: v for k, v in s["step"].items() if k not in ("runtime_parameters_info",)}
            for s in dump["pipeline"]["steps"]}


def test_committed_yaml_matches_the_example_and_loads_back():
    built = build_dpo_pipeline().dump()
    loaded = Pipeline.from_yaml(YAML).dump()
    assert steps_of(loaded) == steps_of(built)
    assert loaded["pipeline"]["connections"] == built["pipeline"]["connections"]
    steps = steps_of(loaded)
    assert steps["sample_candidates"]["num_candidates"] == 5 and steps["sample_candidates"]["temperature"] == 0.8
    assert steps["score_candidates"]["output_column"] == "ratings"


def test_every_curation_step_round_trips_through_its_dump():
    llm = LlamaCppEngine(model_path="model.gguf")
    steps = [
        RewardModelLabeler(model="rm", base_response_column="base", max_length=512),
        MagpieJudge(llm=llm, tags=["quality"], use_grammar=False),
        SafetyTagger(llm=llm, target="response"),
        LanguageTagger(languages=["en", "fr"]),
        NearDuplicates(threshold=0.2, drop_duplicates=True, backend="faiss"),
        FilterRecipe(recipe="card", rules=[{"column": "language", "op": "==", "value": "EN"}], top_k=10),
        PreferencePairs(min_margin=0.5, tie_policy="drop"),
        FormatSFT(format="sharegpt"),
        StatusFilter(columns=["response_status"]),
    ]
    for step in steps:
        again = type(step).from_dict(step.dump())
        assert again.dump() == step.dump(), type(step).__name__


@pytest.mark.slow
def test_cli_runs_the_dpo_pipeline_on_cpu(tmp_path):
    reward = build_tiny_reward_model(tmp_path / "tiny-reward")
    env = {**os.environ, "DISTILABEL_CACHE_DIR": str(tmp_path / "cache"),
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    cli = [sys.executable, "-c", "from distilabel.cli.app import app; app()"]
    out = tmp_path / "dpo"
    params = {"magpie_sampler.num_rows": "4", "sample_candidates.num_candidates": "3",
              "sample_candidates.max_new_tokens": "24", "score_candidates.model": reward,
              "preference_pairs.allow_truncated": "true",  # 24 tokens: most answers are cut
              "save_dataset.output_dir": str(out)}
    args = ["pipeline", "run", "--config", str(YAML), "--ignore-cache"]
    for key, value in params.items():
        args += ["--param", f"{key}={value}"]
    done = subprocess.run(cli + args, env=env, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rows = [json.loads(line) for line in (out / "data.jsonl").read_text().splitlines()]
    assert 1 <= len(rows) <= 4, done.stdout[-2000:]
    for row in rows:
        assert row["prompt"][0]["role"] == "user" and row["chosen"][0]["role"] == "assistant"
        assert row["chosen_score"] - row["rejected_score"] == pytest.approx(row["margin"]) and row["margin"] > 0
        assert len(row["generations"]) == 3 and len(row["ratings"]) == 3
