import json
import subprocess
import sys

import pytest

from distilabel_magpie.cli import main


def run(*args):
    return subprocess.run([sys.executable, "-m", "distilabel_magpie.cli", *args], capture_output=True, text=True)


def test_template_of_the_embedded_gguf(embedded_model_path, capsys):
    assert main(["template", embedded_model_path, "--no-default-system", "--tokens"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["template"] == "smollm2"
    assert info["pre_query"] == "<|im_start|>user\n"
    assert info["pre_query_token_ids"] == [1, 4093, 198]
    assert info["assistant_prefix"] == "<|im_start|>assistant\n"
    assert info["end_of_turn"] == "<|im_end|>"
    assert "<|im_end|>" in info["stop"] and "<|im_start|>" in info["stop"]


def test_template_with_system_prompt_of_a_preset(capsys):
    assert main(["template", "gemma3", "--system-prompt", "Answer in French."]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["pre_query"] == "<bos><start_of_turn>user\nAnswer in French.\n\n"


def test_template_of_a_tokenizer_config(tmp_path, capsys):
    from conftest import FIXTURES

    f = FIXTURES["qwen2.5-0.5b-instruct"]
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(
        {"chat_template": f["chat_template"], "eos_token": f["eos_token"], "bos_token": None}))
    assert main(["template", str(tmp_path / "tokenizer_config.json")]) == 0
    assert json.loads(capsys.readouterr().out)["pre_query"] == f["pre_query_text"]


def test_list_presets(capsys):
    assert main(["template", "--list"]) == 0
    out = capsys.readouterr().out
    assert "llama3.1" in out and "qwen2.5" in out and "deepseek-v2" in out


@pytest.mark.parametrize("args,message", [
    (["template", "lama3"], "did you mean 'llama3'"),
    (["template", "/nope/model.gguf"], "does not exist"),
    (["template", "gemma2", "--system-prompt", "x"], "System role not supported"),
])
def test_bad_input_is_one_line_and_exit_2(args, message):
    result = run(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
