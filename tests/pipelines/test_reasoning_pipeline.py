"""The Magpie-Reasoning pipeline (queries from one model, answers with reasoning from another): YAML
in sync and loading back, a whole run on tiny models carrying a reasoning template, and the run's
reasoning through export and report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from distilabel.pipeline import Pipeline

from distilabel_magpie.pipelines import build_reasoning_pipeline

pytestmark = pytest.mark.e2e  # a whole pipeline, a server or a killed process

ROOT = Path(__file__).resolve().parents[2]
YAML = ROOT / "pipelines" / "magpie-reasoning.yaml"


def steps_of(dump):
    return {s["step"]["name"]: s["step"] for s in dump["pipeline"]["steps"]}


def test_committed_yaml_is_the_dump_of_the_builder_and_loads_back():
    assert yaml.safe_load(YAML.read_text()) == yaml.safe_load(yaml.dump(build_reasoning_pipeline().dump()))
    steps = steps_of(Pipeline.from_yaml(YAML).dump())
    assert list(steps) == ["row_indices", "finalize_rows", "magpie_sampler", "reasoning_responder", "save_dataset"]
    answer = steps["reasoning_responder"]
    assert answer["type_info"]["name"] == "MagpieResponder"
    assert (answer["max_new_tokens"], answer["temperature"], answer["top_p"], answer["thinking"]) == (2048, 0.6, 0.95, None)
    for name in ("magpie_sampler", "reasoning_responder"):  # each engine is set on its own
        llm_params = next(p for p in steps[name]["runtime_parameters_info"] if p["name"] == "llm")
        assert "model_path" in {p["name"] for p in llm_params["runtime_parameters_info"]}
    assert steps["reasoning_responder"]["llm"]["n_ctx"] == 4096


# distilabel forks a worker per step; torch in a forked child of a process that already ran torch
# (as pytest has, by then) can crash, so the pipeline runs in a fresh interpreter.
RUN = """
import sys
from distilabel_magpie.engines import TransformersEngine
from distilabel_magpie.pipelines import build_reasoning_pipeline
query, answer, out = sys.argv[1:]
build_reasoning_pipeline(num_rows=2, max_new_tokens=32, output_dir=out,
                         query_llm=TransformersEngine(model=query, device="cpu"),
                         answer_llm=TransformersEngine(model=answer, device="cpu")).run(use_cache=False)
"""


def test_reasoning_pipeline_on_tiny_bigram_models(tmp_path, bigram_query_model_dir, bigram_reasoning_model_dir):
    """Both engines are tiny Llamas whose weights are set so what they write is known on every CPU:
    the query model writes 'Hi?', the answer model (Qwen3-Thinking-2507's template, whose prompt
    opens <think>) writes 'Ok</think>Yes'."""
    from transformers import AutoTokenizer

    from distilabel_magpie.curation import FormatSFT
    from distilabel_magpie.engines import TransformersEngine
    from distilabel_magpie.report import summarise

    out = tmp_path / "data"
    env = {**os.environ, "DISTILABEL_CACHE_DIR": str(tmp_path / "cache"),
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", RUN, bigram_query_model_dir, bigram_reasoning_model_dir, str(out)],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rows = [json.loads(line) for line in (out / "data.jsonl").read_text().splitlines()]
    assert [(r["instruction"], r["instruction_status"], r["response"], r["reasoning"], r["response_status"])
            for r in rows] == [("Hi?", "ok", "Yes", "Ok", "ok"), ("Hi?", "duplicate", None, None, "skipped")]
    meta = rows[0]["distilabel_metadata"]["magpie_response_reasoning_responder"]
    tok = AutoTokenizer.from_pretrained(bigram_reasoning_model_dir)
    expected = tok.apply_chat_template([{"role": "user", "content": "Hi?"}], tokenize=False, add_generation_prompt=True)
    assert meta["prompt"] == expected == "<|im_start|>user\nHi?<|im_end|>\n<|im_start|>assistant\n<think>\n"
    engine = TransformersEngine(model=bigram_reasoning_model_dir, device="cpu")
    engine.load()
    assert engine.tokenize(meta["prompt"]) == tok(expected, add_special_tokens=False)["input_ids"]
    assert engine.tokenize(meta["prompt"])[-2:] == [tok.convert_tokens_to_ids("<think>"), tok("\n")["input_ids"][0]]
    assert rows[0]["template"] == "smollm2"  # the query model's own template
    assert summarise(rows)["reasoning"] == {"with_reasoning": 1, "reasoning_truncated": 0,
                                            "reasoning_chars": {"mean": 2.0, "median": 2, "max": 2}}
    step = FormatSFT(format="messages")
    step.load()
    (exported,) = next(step.process([dict(r) for r in rows]))
    assert exported["messages"] == [{"role": "user", "content": "Hi?"},
                                    {"role": "assistant", "content": "Yes", "reasoning_content": "Ok"}]


def test_responder_on_a_tiny_random_model_with_a_reasoning_template(tiny_reasoning_model_dir):
    """Randomly initialised weights: what it writes is not fixed, but every answer is read as
    reasoning first (the prompt opened <think>), split exactly at </think> if it came, and the
    prompt is the template's own, token for token."""
    import logging

    from transformers import AutoTokenizer

    from distilabel_magpie.engines import TransformersEngine
    from distilabel_magpie.generation import MagpieResponder

    llm = TransformersEngine(model=tiny_reasoning_model_dir, device="cpu")
    step = MagpieResponder(llm=llm, max_new_tokens=12, temperature=1.0, seed=0)
    step.load()
    step._logger = logging.getLogger("test")
    rows = next(step.process([{"instruction": q} for q in ("What is 2+2?", "Explain gravity.", "Write a poem.")]))
    tok = AutoTokenizer.from_pretrained(tiny_reasoning_model_dir)
    for row in rows:
        meta = row["distilabel_metadata"][f"magpie_response_{step.name}"]
        raw = row["distilabel_metadata"][f"raw_output_response_{step.name}"]
        assert meta["prompt"] == tok.apply_chat_template([{"role": "user", "content": row["instruction"]}],
                                                         tokenize=False, add_generation_prompt=True)
        assert llm.tokenize(meta["prompt"]) == tok(meta["prompt"], add_special_tokens=False)["input_ids"]
        assert row["response_status"] in ("ok", "empty", "truncated", "repetitive", "reasoning_truncated")
        if "</think>" in raw:
            assert row["reasoning"] == raw.split("</think>")[0].strip()
            assert row["response"] == raw.split("</think>", 1)[1].strip()
        else:
            assert row["reasoning"] == raw.strip() and row["response"] in (None, "")
            assert row["response_status"] in ("reasoning_truncated", "empty", "repetitive")


@pytest.mark.slow
def test_distilabel_cli_runs_the_reasoning_yaml(tmp_path):
    """`distilabel pipeline run --config` with both engines on the embedded SmolLM2 (which does
    not reason: the columns are there, `reasoning` stays empty)."""
    out = tmp_path / "reasoning"
    env = {**os.environ, "DISTILABEL_CACHE_DIR": str(tmp_path / "cache"),
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    cmd = [str(Path(sys.executable).parent / "distilabel"), "pipeline", "run", "--config", str(YAML),
           "--param", "magpie_sampler.num_rows=3", "--param", "magpie_sampler.max_new_tokens=32",
           "--param", "reasoning_responder.max_new_tokens=24", "--param", f"save_dataset.output_dir={out}",
           "--ignore-cache"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rows = [json.loads(line) for line in (out / "data.jsonl").read_text().splitlines()]
    assert len(rows) == 3 and all("reasoning" in r and "response_status" in r for r in rows)
    assert all(r["response_status"] == "skipped" for r in rows if r["instruction_status"] != "ok")
