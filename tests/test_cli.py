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


# -- reasoning templates --------------------------------------------------------------------------

def _render_today(f, messages, add_generation_prompt=False, **kwargs):
    """transformers' own renderer at today's date (the CLI renders with today's date too)."""
    from transformers.utils.chat_template_utils import render_jinja_template

    rendered, _ = render_jinja_template(conversations=[messages], chat_template=f["chat_template"],
                                        add_generation_prompt=add_generation_prompt, bos_token=f["bos_token"],
                                        eos_token=f["eos_token"], **kwargs)
    return rendered[0]


def _hybrid(name):
    from conftest import DATA, FIXTURES

    if name == "smollm3":
        return FIXTURES["smollm3-3b"]
    return json.loads((DATA / "hybrid_templates" / "qwen3-1.7b.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name,off_block", [("smollm3", "<think>\n\n</think>\n"), ("qwen3", "<think>\n\n</think>\n\n")])
@pytest.mark.parametrize("thinking", ["on", "off"])
def test_template_thinking_of_a_hybrid_tokenizer_config(tmp_path, capsys, name, off_block, thinking):
    """SmolLM3 (a preset) and the official hybrid Qwen3 template (no code of ours names it): the
    pre-query text and assistant prefix of each mode, exactly as transformers renders them."""
    f = _hybrid(name)
    path = tmp_path / "tokenizer_config.json"
    path.write_text(json.dumps({"chat_template": f["chat_template"], "bos_token": f["bos_token"],
                                "eos_token": f["eos_token"]}))
    assert main(["template", str(path), "--thinking", thinking]) == 0
    info = json.loads(capsys.readouterr().out)
    kwargs = {"enable_thinking": thinking == "on"}
    user = [{"role": "user", "content": "@@Q@@"}]
    plain, with_prompt = _render_today(f, user, **kwargs), _render_today(f, user, True, **kwargs)
    assert info["pre_query"] == plain[: plain.index("@@Q@@")]
    assert with_prompt.startswith(plain) and info["assistant_prefix"] == with_prompt[len(plain):]
    assert info["assistant_prefix"].endswith(off_block) == (thinking == "off")
    assert info["thinking"] == thinking and info["thinking_switch"]["name"] == "enable_thinking"
    assert (info["reasoning"]["open"], info["reasoning"]["close"]) == ("<think>", "</think>")
    assert "<think>" not in info["stop"] and "</think>" not in info["response_stop"]


def test_template_thinking_off_token_ids_of_a_tokenizer_dir(tmp_path, tiny_model_dir, capsys):
    from conftest import FIXTURES
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    tok.chat_template = FIXTURES["smollm3-3b"]["chat_template"]
    tok.save_pretrained(tmp_path)
    assert main(["template", str(tmp_path), "--thinking", "off", "--tokens"]) == 0
    info = json.loads(capsys.readouterr().out)
    expected = tok.apply_chat_template([{"role": "user", "content": "@@Q@@"}], tokenize=False, enable_thinking=False)
    assert info["pre_query"] == expected[: expected.index("@@Q@@")]
    assert info["pre_query_token_ids"] == tok(info["pre_query"], add_special_tokens=False)["input_ids"]
    assert info["pre_query_token_ids"][0] == tok.convert_tokens_to_ids("<|im_start|>")


def test_template_kwargs_of_gpt_oss(capsys):
    assert main(["template", "gpt-oss", "--template-kwargs", '{"reasoning_effort": "low"}']) == 0
    info = json.loads(capsys.readouterr().out)
    assert "Reasoning: low\n" in info["pre_query"] and info["template_kwargs"] == {"reasoning_effort": "low"}
    assert info["reasoning"]["format"] == "harmony" and info["assistant_prefix"] == "<|start|>assistant"


@pytest.mark.parametrize("args,message", [
    (["template", "qwq", "--thinking", "on"], "has no thinking switch"),
    (["template", "gpt-oss", "--thinking", "off"], "reasoning_effort"),
    (["template", "gpt-oss", "--template-kwargs", "[1]"], "must be a JSON object"),
    (["template", "gpt-oss", "--template-kwargs", "{oops"], "is not valid JSON"),
    (["template", "smollm3", "--system-prompt", "/no_think Be brief."], "does not print this system prompt as given"),
])
def test_reasoning_bad_input_is_one_line_and_exit_2(args, message):
    result = run(*args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
