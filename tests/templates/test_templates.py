"""Exact prompt strings for every preset and every official template in tests/data/chat_templates."""

from __future__ import annotations

import json
import struct

import pytest
from conftest import FIXTURE_DATE, FIXTURES

from distilabel_magpie import templates as T
from distilabel_magpie.templates.render import render
from distilabel_magpie.errors import MagpieError

S = "@@Q@@"

# The official Magpie pre-query templates with each preset's default choices.
OFFICIAL = {
    "llama3": "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n",
    "llama3.1": "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n",
    "qwen2": "<|im_start|>user\n",
    "qwen2.5": "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
               "<|im_start|>user\n",
    "gemma2": "<bos><start_of_turn>user\n",
    "mistral": "<s>[INST] ",
    "deepseek-v2": "<｜begin▁of▁sentence｜>User: ",
    # The official configs of these two prepend the tokenizer's BOS, which the chat template does
    # not print; we follow the template (as apply_chat_template does).
    "phi3": "<|user|>\n",
    "yi": "<|im_start|>user\n",
}
OFFICIAL_STOPS = {
    "llama3": ["<|eot_id|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>"],
    "qwen2": ["<|im_start|>", "<|im_end|>", "<|endoftext|>"],
    "gemma2": ["<end_of_turn>", "<start_of_turn>", "<eos>"],
    "phi3": ["<|end|>", "<|user|>", "<|assistant|>", "<|endoftext|>"],
    "mistral": ["</s>", "[INST]", "[/INST]"],
    "yi": ["<|im_end|>", "<|endoftext|>"],
    "deepseek-v2": ["<｜end▁of▁sentence｜>", "<|EOT|>"],
}
# fixture file -> preset built from it
PRESET_OF = {
    "llama-3-8b-instruct": "llama3", "llama-3.1-8b-instruct": "llama3.1", "llama-3.2-3b-instruct": "llama3.2",
    "qwen2-7b-instruct": "qwen2", "qwen2.5-0.5b-instruct": "qwen2.5", "smollm2-135m-instruct": "smollm2",
    "gemma-2-2b-it": "gemma2", "phi-3-mini-4k-instruct": "phi3", "phi-3.5-mini-instruct": "phi3.5",
    "mistral-7b-instruct-v0.3": "mistral", "yi-1.5-34b-chat": "yi", "deepseek-v2-lite-chat": "deepseek-v2",
    "tinyllama-1.1b-chat-v1.0": "zephyr", "granite-3.1-3b-a800m-instruct": "granite3.1",
    # reasoning and hybrid-thinking families (tests/test_reasoning_templates.py)
    "qwq-32b": "qwq", "qwen3-4b-thinking-2507": "qwen3-thinking", "smollm3-3b": "smollm3", "gpt-oss-20b": "gpt-oss",
    "phi-4-mini-reasoning": "phi4-mini-reasoning", "exaone-deep-2.4b": "exaone-deep",
}


def fixture_template(name: str, **kw) -> T.MagpieTemplate:
    f = FIXTURES[name]
    return T.MagpieTemplate(name=name, chat_template=f["chat_template"], bos_token=f["bos_token"],
                            eos_token=f["eos_token"], today=FIXTURE_DATE, **kw)


def hf_render(f: dict, messages, add_generation_prompt=False, **kwargs) -> str:
    """transformers' own renderer, the reference we must match (`kwargs`: template keyword arguments)."""
    from transformers.utils import chat_template_utils as ctu

    fixed = FIXTURE_DATE
    original = ctu.datetime if hasattr(ctu, "datetime") else None

    class _Fixed:  # strftime_now reads datetime.now()
        @staticmethod
        def now():
            return fixed

    if original is not None:
        ctu.datetime = _Fixed
    ctu._cached_compile_jinja_template.cache_clear() if hasattr(ctu._cached_compile_jinja_template, "cache_clear") else None
    try:
        rendered, _ = ctu.render_jinja_template(
            conversations=[messages], chat_template=f["chat_template"], add_generation_prompt=add_generation_prompt,
            bos_token=f["bos_token"], eos_token=f["eos_token"], **kwargs)
    finally:
        if original is not None:
            ctu.datetime = original
        ctu._cached_compile_jinja_template.cache_clear() if hasattr(ctu._cached_compile_jinja_template, "cache_clear") else None
    return rendered[0]


def test_all_twenty_fixtures_present():
    assert len(FIXTURES) == 20
    assert set(PRESET_OF) == set(FIXTURES)


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_renderer_reproduces_fixture_rendering(name):
    f = FIXTURES[name]
    got = render(f["chat_template"], [{"role": "user", "content": S}], bos_token=f["bos_token"],
                 eos_token=f["eos_token"], today=FIXTURE_DATE)
    assert got == f["rendered_user_sentinel"]


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_pre_query_with_default_system_is_fixture_text(name):
    assert fixture_template(name, default_system=True).pre_query() == FIXTURES[name]["pre_query_text"]


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_preset_uses_the_official_template(name):
    preset = T.get_preset(PRESET_OF[name], default_system=True).with_options(today=FIXTURE_DATE)
    assert preset.chat_template == FIXTURES[name]["chat_template"]
    assert preset.pre_query() == FIXTURES[name]["pre_query_text"]


@pytest.mark.parametrize("preset,expected", sorted(OFFICIAL.items()))
def test_preset_defaults_match_official_magpie_configs(preset, expected):
    assert T.get_preset(preset).pre_query() == expected


@pytest.mark.parametrize("preset,stops", sorted(OFFICIAL_STOPS.items()))
def test_preset_stops_include_official_stops(preset, stops):
    assert set(stops) <= set(T.get_preset(preset).query_stop)


def test_every_preset_has_stops_and_a_user_slot():
    for name in T.preset_names():
        t = T.get_preset(name)
        # EXAONE's user turns have no end marker: its queries stop at the next role header.
        assert t.pre_query() and t.query_stop and (t.end_of_turn or "[|assistant|]" in t.query_stop), name


BARE = {  # default system turn removed
    "llama-3.1-8b-instruct": "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n",
    "llama-3.2-3b-instruct": "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n",
    "qwen2-7b-instruct": "<|im_start|>user\n",
    "qwen2.5-0.5b-instruct": "<|im_start|>user\n",
    "smollm2-135m-instruct": "<|im_start|>user\n",
    "granite-3.1-3b-a800m-instruct": "<|start_of_role|>user<|end_of_role|>",
    "smollm3-3b": "<|im_start|>user\n",
}
# System text these templates always write (around a caller's system message too): it cannot be left out.
FORCED = {"gpt-oss-20b", "phi-4-mini-reasoning", "exaone-deep-2.4b"}


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_default_system_off(name):
    t = fixture_template(name, default_system=False)
    assert t.system_turn_forced == (name in FORCED)
    if name in FORCED:
        with pytest.raises(MagpieError, match="always writes its own system text"):
            t.pre_query()
        assert t.default_system_turn and FIXTURES[name]["pre_query_text"].startswith(t.default_system_turn)
        return
    expected = BARE.get(name, FIXTURES[name]["pre_query_text"])  # no default turn: unchanged
    assert t.pre_query() == expected
    assert (t.default_system_turn != "") == (name in BARE)


@pytest.mark.parametrize("name,expected", [
    ("qwen2.5-0.5b-instruct", "<|im_start|>system\nSYS<|im_end|>\n<|im_start|>user\n"),
    ("llama-3-8b-instruct",
     "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nSYS<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"),
    # Mistral folds the system prompt into the (last) user message: part of the pre-query text.
    ("mistral-7b-instruct-v0.3", "<s>[INST] SYS\n\n"),
    ("phi-3.5-mini-instruct", "<|system|>\nSYS<|end|>\n<|user|>\n"),
    ("deepseek-v2-lite-chat", "<｜begin▁of▁sentence｜>SYS\n\nUser: "),
    ("yi-1.5-34b-chat", "SYS<|im_start|>user\n"),
])
def test_pre_query_with_system_prompt(name, expected):
    assert fixture_template(name, default_system=False).pre_query("SYS") == expected
    assert fixture_template(name, default_system=True).pre_query("SYS") == expected  # a given system replaces the default


def test_gemma3_folds_system_prompt_into_user_turn():
    assert T.get_preset("gemma3").pre_query("SYS") == "<bos><start_of_turn>user\nSYS\n\n"


def test_gemma2_refuses_system_prompt_with_one_line():
    with pytest.raises(MagpieError, match="System role not supported") as e:
        T.get_preset("gemma2").pre_query("SYS")
    assert "\n" not in str(e.value)


CONVERSATION = [
    {"role": "user", "content": "What is 2+2?"},
    {"role": "assistant", "content": "4."},
    {"role": "user", "content": "And 3+3?"},
    {"role": "assistant", "content": "6."},
]


# Gemma-2's template refuses system messages (tested above), so it has no system-prompt cases.
PRE_QUERY_CASES = [(name, turn, system) for name in sorted(FIXTURES) for turn in (1, 2, 3)
                   for system in (None, "Be brief.") if not (system and name == "gemma-2-2b-it")]


@pytest.mark.parametrize("name,turn,system", PRE_QUERY_CASES)
def test_pre_query_equals_transformers_render_cut_at_user_slot(name, turn, system):
    """history + [user: sentinel] rendered by transformers, cut before the sentinel."""
    f = FIXTURES[name]
    history = CONVERSATION[: 2 * (turn - 1)]
    messages = ([{"role": "system", "content": system}] if system else []) + history
    expected = hf_render(f, messages + [{"role": "user", "content": S}])
    expected = expected[: expected.index(S)]
    assert fixture_template(name).pre_query(system, history) == expected


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_response_prompt_equals_transformers_generation_prompt(name):
    f = FIXTURES[name]
    messages = CONVERSATION[:3]
    assert fixture_template(name).response_prompt(messages) == hf_render(f, messages, add_generation_prompt=True)


def test_structure_of_chatml():
    t = T.get_preset("qwen2")
    assert t.assistant_prefix == "<|im_start|>assistant\n"
    assert t.end_of_turn == "<|im_end|>"
    assert t.structure.user_prefix == "<|im_start|>user\n"


def test_unknown_preset_suggests_closest():
    with pytest.raises(MagpieError, match="did you mean 'llama3'"):
        T.get_preset("lama3")
    with pytest.raises(MagpieError, match="unknown template preset 'qwen9'"):
        T.resolve("qwen9")


def test_template_without_user_slot_is_refused():
    t = T.MagpieTemplate(name="broken", chat_template="{% for m in messages %}<|{{ m.role }}|>{% endfor %}")
    with pytest.raises(MagpieError, match="cannot find the user message slot|user slot cannot be found"):
        t.pre_query()


def test_invalid_jinja_is_one_line():
    t = T.MagpieTemplate(name="bad", chat_template="{% for m in messages %}")
    with pytest.raises(MagpieError) as e:
        t.pre_query()
    assert "\n" not in str(e.value)


def test_tokenizer_config_without_chat_template(tmp_path):
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"bos_token": "<s>"}))
    with pytest.raises(MagpieError, match="has no chat template"):
        T.from_path(tmp_path)


def test_tokenizer_config_with_added_token_dicts(tmp_path):
    f = FIXTURES["llama-3-8b-instruct"]
    config = {"chat_template": f["chat_template"], "bos_token": {"content": f["bos_token"], "lstrip": False},
              "eos_token": f["eos_token"]}
    path = tmp_path / "tokenizer_config.json"
    path.write_text(json.dumps(config))
    t = T.from_path(path)
    assert t.name == "llama3"  # identical to the preset's template: takes its name and choices
    assert t.pre_query() == OFFICIAL["llama3"]


def test_custom_template_keeps_default_system_unless_asked(tmp_path):
    tpl = FIXTURES["qwen2-7b-instruct"]["chat_template"].replace("You are a helpful assistant.", "Custom default.")
    (tmp_path / "chat_template.jinja").write_text(tpl)
    t = T.from_path(tmp_path / "chat_template.jinja")
    assert t.name.startswith("custom")
    assert t.pre_query() == "<|im_start|>system\nCustom default.<|im_end|>\n<|im_start|>user\n"
    assert T.from_path(tmp_path / "chat_template.jinja", default_system=False).pre_query() == "<|im_start|>user\n"


def _write_gguf(path, kv: dict):
    """A minimal GGUF v3 header with string metadata and no tensors."""
    with open(path, "wb") as f:
        f.write(b"GGUF" + struct.pack("<IQQ", 3, 0, len(kv)))
        for key, value in kv.items():
            k, v = key.encode(), value.encode()
            f.write(struct.pack("<Q", len(k)) + k + struct.pack("<I", 8) + struct.pack("<Q", len(v)) + v)


def test_gguf_without_chat_template(tmp_path):
    path = tmp_path / "model.gguf"
    _write_gguf(path, {"general.name": "no template"})
    with pytest.raises(MagpieError, match="model.gguf has no chat template"):
        T.from_path(path)


def test_gguf_with_chat_template(tmp_path):
    path = tmp_path / "model.gguf"
    _write_gguf(path, {"tokenizer.chat_template": FIXTURES["gemma-2-2b-it"]["chat_template"]})
    assert T.from_path(path).name == "gemma2"


def test_not_a_gguf(tmp_path):
    path = tmp_path / "model.gguf"
    path.write_bytes(b"not a model")
    with pytest.raises(MagpieError, match="not a GGUF file"):
        T.from_path(path)


def test_missing_path():
    with pytest.raises(MagpieError, match="does not exist"):
        T.from_path("/nonexistent/model.gguf")


def test_embedded_gguf_template(embedded_model_path):
    t = T.from_path(embedded_model_path)
    assert t.name == "smollm2"
    assert t.bos_token == "<|im_start|>" and t.eos_token == "<|im_end|>"
    assert t.pre_query() == FIXTURES["smollm2-135m-instruct"]["pre_query_text"]
    assert t.with_options(default_system=False).pre_query() == "<|im_start|>user\n"
