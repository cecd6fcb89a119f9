"""The `*-server.yaml` pipelines: dumps of the builders, and real `distilabel pipeline run`s
against the real llama-cpp-python server (and against a chat-only stand-in, which is refused)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from distilabel_magpie.pipelines import PIPELINES

from .servers import ChatOnly

pytestmark = pytest.mark.e2e  # a whole pipeline, a server or a killed process

ROOT = Path(__file__).resolve().parents[2]
SERVER_YAMLS = ["magpie-sft-server", "magpie-chat-server", "magpie-dpo-server"]
GENERATION_STEPS = {"magpie-sft-server": ["magpie_sft"],
                    "magpie-chat-server": ["magpie_first_turn", "magpie_multi_turn"],
                    "magpie-dpo-server": ["magpie_sampler", "sample_candidates"]}


def run_cli(yaml_name, params, tmp_path, env=None, timeout=900):
    """`distilabel pipeline run --config pipelines/NAME.yaml --param ...` with a private cache."""
    env = {**os.environ, "DISTILABEL_CACHE_DIR": str(tmp_path / "cache"), **(env or {}),
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-c", "from distilabel.cli.app import app; app()", "pipeline", "run",
           "--config", str(ROOT / "pipelines" / f"{yaml_name}.yaml"), "--ignore-cache"]
    for key, value in params.items():
        cmd += ["--param", f"{key}={value}"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=tmp_path, env=env)


def rows_of(folder):
    return [json.loads(line) for line in (folder / "data.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("name", SERVER_YAMLS)
def test_server_yamls_are_the_dumps_of_the_builders_and_use_the_server_engine(name):
    path = ROOT / "pipelines" / f"{name}.yaml"
    committed = yaml.safe_load(path.read_text())
    assert committed == yaml.safe_load(yaml.dump(PIPELINES[name]().dump()))
    steps = {s["step"]["name"]: s["step"] for s in committed["pipeline"]["steps"]}
    for step in GENERATION_STEPS[name]:
        assert steps[step]["llm"]["type_info"]["name"] == "CompletionServerEngine"
        assert steps[step]["llm"]["api_key_env"] is None and "api_key" not in steps[step]["llm"]
    assert "output_dir" in steps["save_dataset"]


def test_distilabel_cli_runs_the_sft_server_yaml_on_the_llama_server(llama_server, tmp_path):
    out = tmp_path / "sft"
    done = run_cli("magpie-sft-server", {"magpie_sft.llm.base_url": llama_server.url, "magpie_sft.num_rows": 8,
                                         "save_dataset.output_dir": out}, tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rows = rows_of(out)
    accepted = [r for r in rows if r["instruction_status"] == "ok" and r["response_status"] == "ok"]
    assert len(rows) == 8 and len(accepted) >= 4, [(r["instruction_status"], r["response_status"]) for r in rows]
    assert all(r["model_name"].endswith("SmolLM2-135M-Instruct.Q4_1.gguf") for r in rows)
    assert all(r["template"] == "smollm2" for r in rows)


def test_distilabel_cli_runs_the_sft_server_yaml_on_llama_cpp_llama_server(cpp_server, tmp_path):
    """The README's command against llama.cpp's own llama-server: template from its /props,
    every row once, no special-token text in any row."""
    out = tmp_path / "sft"
    done = run_cli("magpie-sft-server", {"magpie_sft.llm.base_url": cpp_server.url, "magpie_sft.num_rows": 8,
                                         "magpie_sft.max_new_tokens": 32, "magpie_sft.response_max_new_tokens": 32,
                                         "save_dataset.output_dir": out}, tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rows = rows_of(out)
    assert [r["row_index"] for r in rows] == list(range(8)) and all(r["template"] == "smollm2" for r in rows)
    assert all(r["instruction_status"] != "error" and r["response_status"] != "error" for r in rows)
    for r in rows:
        for text in (r["instruction"] or "", r["response"] or ""):
            assert "<|im_start|>" not in text and "<|im_end|>" not in text and "<|endoftext|>" not in text


def test_a_run_against_a_server_never_started_ends_with_one_line_and_no_traceback(tmp_path):
    """Wrong port: the load gives up within seconds; the output's last line is the one error,
    with no traceback anywhere at the default log level."""
    import time

    from .servers import free_port

    url = f"http://127.0.0.1:{free_port()}/v1"
    started = time.monotonic()
    done = run_cli("magpie-sft-server", {"magpie_sft.llm.base_url": url, "magpie_sft.num_rows": 4,
                                         "save_dataset.output_dir": tmp_path / "sft"}, tmp_path, timeout=300)
    elapsed = time.monotonic() - started
    output = done.stdout + done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert done.returncode != 0
    assert last.startswith("error: ") and f"no server answers at {url[:-3]}" in last, last
    assert "fix the host and port of base_url" in last
    assert "Traceback" not in output and "No output files" not in output, output[-3000:]
    print(f"never-started server: the run ended after {elapsed:.1f} s (interpreter start and imports included)")


def test_the_api_key_reaches_the_server_and_no_file_or_log(keyed_server, tmp_path):
    server, key = keyed_server
    out = tmp_path / "sft"
    done = run_cli("magpie-sft-server", {
        "magpie_sft.llm.base_url": server.url, "magpie_sft.llm.api_key_env": "MAGPIE_TEST_KEY",
        "magpie_sft.num_rows": 2, "magpie_sft.max_new_tokens": 16, "magpie_sft.response_max_new_tokens": 16,
        "save_dataset.output_dir": out}, tmp_path, env={"MAGPIE_TEST_KEY": key})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert len(rows_of(out)) == 2
    assert key not in done.stdout + done.stderr
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "pipeline.yaml" for p in files) and any(p.suffix == ".parquet" for p in files)
    leaked = [p for p in files if key.encode() in p.read_bytes()]
    assert leaked == []
    assert any(b"MAGPIE_TEST_KEY" in p.read_bytes() for p in files if p.name == "pipeline.yaml")


def test_distilabel_cli_refuses_a_chat_only_endpoint_before_making_data(tmp_path):
    out = tmp_path / "sft"
    with ChatOnly() as server:
        done = run_cli("magpie-sft-server", {"magpie_sft.llm.base_url": server.url, "magpie_sft.num_rows": 8,
                                             "save_dataset.output_dir": out}, tmp_path, timeout=300)
    assert done.returncode != 0
    assert "offers no raw completions" in done.stdout + done.stderr and "only offers chat" in done.stdout + done.stderr
    assert not out.exists() and server.chat_calls == 0


@pytest.mark.slow
def test_chat_server_yaml_runs_on_the_llama_server(llama_server, tmp_path):
    out = tmp_path / "chat"
    done = run_cli("magpie-chat-server", {
        "magpie_first_turn.llm.base_url": llama_server.url, "magpie_multi_turn.llm.base_url": llama_server.url,
        "magpie_first_turn.num_rows": 3, "magpie_first_turn.response_max_new_tokens": 24,
        "magpie_multi_turn.response_max_new_tokens": 24, "magpie_multi_turn.max_new_tokens": 24,
        "save_dataset.output_dir": out}, tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rows = rows_of(out)
    assert len(rows) == 3 and all(r["conversation_status"] in ("ok", "ended_early", "skipped") for r in rows)


@pytest.mark.slow
def test_dpo_server_yaml_runs_on_the_llama_server(llama_server, tmp_path):
    from distilabel_magpie.scoring.tiny import build_tiny_reward_model

    out = tmp_path / "dpo"
    done = run_cli("magpie-dpo-server", {
        "magpie_sampler.llm.base_url": llama_server.url, "sample_candidates.llm.base_url": llama_server.url,
        "magpie_sampler.num_rows": 3, "sample_candidates.num_candidates": 3, "sample_candidates.max_new_tokens": 24,
        "score_candidates.model": build_tiny_reward_model(tmp_path / "tiny-reward"),
        "preference_pairs.allow_truncated": "true", "save_dataset.output_dir": out}, tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rows = rows_of(out)
    assert 1 <= len(rows) <= 3 and all(len(r["generations"]) == 3 for r in rows)
