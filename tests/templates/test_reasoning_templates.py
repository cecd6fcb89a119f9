"""Reasoning and hybrid-thinking templates: exact prompts in every thinking mode, with and without a
system prompt, at turns 1-3, against transformers' own renderer and the fixture renders
(tests/data/chat_templates, made with transformers' `render_jinja_template`)."""

from __future__ import annotations

import json

import pytest
from conftest import DATA, FIXTURE_DATE, FIXTURES
from templates.test_templates import fixture_template, hf_render

from distilabel_magpie import templates as T
from distilabel_magpie.errors import MagpieError

S = "@@Q@@"
REASONING = ["qwq-32b", "qwen3-4b-thinking-2507", "smollm3-3b", "gpt-oss-20b", "phi-4-mini-reasoning",
             "exaone-deep-2.4b"]
# The official hybrid Qwen3 template: not a preset, so its switch must be found from the template alone.
QWEN3 = json.loads((DATA / "hybrid_templates" / "qwen3-1.7b.json").read_text(encoding="utf-8"))
FIXTURES_AND_HYBRID = {**{n: FIXTURES[n] for n in REASONING}, "qwen3-1.7b": QWEN3}

# How each family takes past reasoning: in a message field it reads, or written inline in the
# content (with its own tags), which the template then keeps or strips.
HISTORY_FORM = {
    "qwq-32b": ("inline", "<think>", "</think>"), "qwen3-4b-thinking-2507": ("field",),
    "smollm3-3b": ("inline", "<think>", "</think>"), "gpt-oss-20b": ("field",),
    "phi-4-mini-reasoning": ("inline", "<think>", "</think>"),
    "exaone-deep-2.4b": ("inline", "<thought>", "</thought>"), "qwen3-1.7b": ("field",),
}
SWITCH = {"smollm3-3b": ("enable_thinking", "on"), "qwen3-1.7b": ("enable_thinking", "on")}


def template(name: str, **kw) -> T.MagpieTemplate:
    f = FIXTURES_AND_HYBRID[name]
    return T.MagpieTemplate(name=name, chat_template=f["chat_template"], bos_token=f["bos_token"],
                            eos_token=f["eos_token"], today=FIXTURE_DATE, **kw)


def modes(name: str) -> list:
    return [None, "on", "off"] if name in SWITCH else [None]


STORED = [  # as our steps store a conversation: reasoning in `reasoning_content`
    {"role": "user", "content": "What is 2+2?"},
    {"role": "assistant", "content": "4.", "reasoning_content": "Two plus two.\nThat is four."},
    {"role": "user", "content": "And 3+3?"},
    {"role": "assistant", "content": "6.", "reasoning_content": "Three plus three is six."},
]


def hf_history(name: str, messages: list) -> list:
    """The conversation written the way each family's template takes it (HISTORY_FORM)."""
    form = HISTORY_FORM[name]
    if form[0] == "field":
        return messages
    out = []
    for m in messages:
        if m["role"] == "assistant" and m.get("reasoning_content"):
            m = {"role": "assistant", "content": f"{form[1]}\n{m['reasoning_content']}\n{form[2]}\n\n{m['content']}"}
        out.append(m)
    return out


def kwargs_of(name: str, mode) -> dict:
    return {} if mode is None else {SWITCH[name][0]: mode == "on"}


# -- the fixture renders ------------------------------------------------------------------------


@pytest.mark.parametrize("name", REASONING)
def test_generation_prompt_is_the_fixture_render(name):
    f, t = FIXTURES[name], fixture_template(name)
    assert t.response_prompt([{"role": "user", "content": S}]) == f["rendered_generation_prompt"]
    assert t.assistant_prefix == f["generation_prompt_adds"]
    assert t.pre_query() == f["pre_query_text"]


def test_smollm3_thinking_on_and_off_are_the_fixture_renders():
    f = FIXTURES["smollm3-3b"]
    for mode in ("on", "off"):
        t = fixture_template("smollm3-3b").with_thinking(mode)
        assert t.response_prompt([{"role": "user", "content": S}]) == f[f"rendered_generation_prompt_thinking_{mode}"]
    off = fixture_template("smollm3-3b").with_thinking("off")
    assert off.pre_query() == f["rendered_generation_prompt_thinking_off"].split(S)[0]
    assert "Reasoning Mode: /no_think" in off.pre_query()


def test_gpt_oss_reasoning_effort_through_template_kwargs_is_the_fixture_render():
    f = FIXTURES["gpt-oss-20b"]
    for effort, mode in (("low", "off"), ("high", "on")):
        t = fixture_template("gpt-oss-20b", template_kwargs=(("reasoning_effort", effort),))
        assert t.response_prompt([{"role": "user", "content": S}]) == f[f"rendered_generation_prompt_thinking_{mode}"]
        assert f"Reasoning: {effort}\n" in t.pre_query()


@pytest.mark.parametrize("name", REASONING)
def test_stored_history_renders_as_the_template_renders_the_conversation(name):
    """Reasoning kept in `reasoning_content` goes where each template reads it: rendered exactly as
    the fixture's `rendered_history` (past reasoning dropped by QwQ, Qwen3 and gpt-oss, kept by
    SmolLM3 with thinking on and by Phi-4-mini-reasoning)."""
    stored = [{"role": "user", "content": "@@Q1@@"},
              {"role": "assistant", "content": "@@A1@@", "reasoning_content": "@@R1@@"},
              {"role": "user", "content": "@@Q2@@"}]
    rendered = fixture_template(name).render(stored)
    if name == "exaone-deep-2.4b":  # the fixture wrote <think>, which EXAONE does not know; its own <thought> is cut
        assert rendered == "[|system|][|endofturn|]\n[|user|]@@Q1@@\n[|assistant|]@@A1@@[|endofturn|]\n[|user|]@@Q2@@"
    else:
        assert rendered == FIXTURES[name]["rendered_history"]
    assert template(name).reads_reasoning_field == (HISTORY_FORM[name][0] == "field")


# -- against transformers, every mode, system prompt and turn ------------------------------------


@pytest.mark.parametrize("name,mode", [(n, m) for n in FIXTURES_AND_HYBRID for m in modes(n)])
@pytest.mark.parametrize("turn", [1, 2, 3])
@pytest.mark.parametrize("system", [None, "Be brief."])
def test_pre_query_equals_transformers_render_cut_at_user_slot(name, mode, turn, system):
    f = FIXTURES_AND_HYBRID[name]
    history = STORED[: 2 * (turn - 1)]
    messages = ([{"role": "system", "content": system}] if system else []) + hf_history(name, history)
    expected = hf_render(f, messages + [{"role": "user", "content": S}], **kwargs_of(name, mode))
    expected = expected[: expected.index(S)]
    assert template(name).with_thinking(mode).pre_query(system, history) == expected


@pytest.mark.parametrize("name,mode", [(n, m) for n in FIXTURES_AND_HYBRID for m in modes(n)])
@pytest.mark.parametrize("turn", [1, 2, 3])
def test_response_prompt_equals_transformers_generation_prompt(name, mode, turn):
    f = FIXTURES_AND_HYBRID[name]
    messages = STORED[: 2 * (turn - 1)] + [{"role": "user", "content": "Why?"}]
    expected = hf_render(f, hf_history(name, messages), add_generation_prompt=True, **kwargs_of(name, mode))
    assert template(name).with_thinking(mode).response_prompt(messages) == expected


# -- switches -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(FIXTURES_AND_HYBRID))
def test_thinking_switch_is_found_from_the_template(name):
    switch = template(name).thinking_switch
    if name in SWITCH:
        assert (switch.name, switch.default, switch.on, switch.off) == (*SWITCH[name], True, False)
    else:
        assert switch is None


@pytest.mark.parametrize("name", [n for n in REASONING if n not in SWITCH] + ["qwen2-7b-instruct"])
@pytest.mark.parametrize("mode", ["on", "off"])
def test_template_without_a_switch_refuses_on_and_off(name, mode):
    with pytest.raises(MagpieError, match="has no thinking switch") as e:
        fixture_template(name).with_thinking(mode)
    assert "\n" not in str(e.value)
    if name == "gpt-oss-20b":
        assert "reasoning_effort" in str(e.value) and "template_kwargs" in str(e.value)


def test_thinking_must_be_on_off_or_unset():
    with pytest.raises(MagpieError, match="thinking must be 'on', 'off' or unset"):
        fixture_template("smollm3-3b").with_thinking("maybe")


def test_thinking_and_a_contradicting_template_kwarg_are_refused():
    t = fixture_template("smollm3-3b", template_kwargs=(("enable_thinking", True),))
    with pytest.raises(MagpieError, match="contradicts template_kwargs enable_thinking"):
        t.with_thinking("off")


def test_a_switch_under_another_name_needs_no_code():
    """DeepSeek-V3.1 and Granite-3.2 call their switch `thinking`."""
    tpl = ("{% if not thinking is defined %}{% set thinking = false %}{% endif %}"
           "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}<|end|>{% endfor %}"
           "{% if add_generation_prompt %}<|assistant|>{% if thinking %}<think>{% else %}</think>{% endif %}{% endif %}")
    t = T.MagpieTemplate(name="v31-style", chat_template=tpl)
    assert (t.thinking_switch.name, t.thinking_switch.default) == ("thinking", "off")
    assert t.with_thinking("on").assistant_prefix == "<|assistant|><think>"
    assert t.with_thinking("on").opens_reasoning and not t.with_thinking("off").opens_reasoning
    assert t.with_thinking("off").assistant_prefix == "<|assistant|></think>"


@pytest.mark.parametrize("name,off_prefix", [
    ("smollm3-3b", "<|im_start|>assistant\n<think>\n\n</think>\n"),
    ("qwen3-1.7b", "<|im_start|>assistant\n<think>\n\n</think>\n\n"),
])
def test_hybrid_with_thinking_off_prefills_an_empty_think_block(name, off_prefix):
    t = template(name)
    assert t.with_thinking("off").assistant_prefix == off_prefix
    assert t.with_thinking("on").assistant_prefix == t.assistant_prefix == "<|im_start|>assistant\n"
    assert not t.with_thinking("off").opens_reasoning and not t.opens_reasoning


@pytest.mark.parametrize("name,opens,tags", [
    ("qwq-32b", True, ("<think>", "</think>")), ("qwen3-4b-thinking-2507", True, ("<think>", "</think>")),
    ("exaone-deep-2.4b", True, ("<thought>", "</thought>")), ("smollm3-3b", False, ("<think>", "</think>")),
    ("phi-4-mini-reasoning", False, ("<think>", "</think>")),
])
def test_where_the_reasoning_starts(name, opens, tags):
    t = fixture_template(name)
    assert (t.opens_reasoning, t.tags, t.harmony) == (opens, tags, False)


@pytest.mark.parametrize("name,mode", [(n, m) for n in FIXTURES_AND_HYBRID for m in modes(n)])
def test_reasoning_tags_are_never_stop_strings(name, mode):
    t = template(name).with_thinking(mode)
    for stop in t.query_stop + t.response_stop:
        assert not any(tag in stop for tag in ("<think>", "</think>", "<thought>", "</thought>")), stop


def test_harmony_answers_stop_at_the_end_of_generation_only():
    t = fixture_template("gpt-oss-20b")
    assert t.harmony
    assert t.response_stop == ["<|return|>", "<|call|>", "<|end|><|start|>user<|message|>"]
    assert "<|end|>" in t.query_stop  # a user query ends at its <|end|>


# -- system prompts the templates change ---------------------------------------------------------


def test_gpt_oss_moves_the_system_prompt_into_a_developer_turn_and_says_so():
    t = fixture_template("gpt-oss-20b")
    assert t.pre_query("Be brief.").endswith(
        "<|end|><|start|>developer<|message|># Instructions\n\nBe brief.\n\n<|end|><|start|>user<|message|>")
    notice = t.system_prompt_notice("Be brief.")
    assert "adds its own text" in notice and "You are ChatGPT" in notice and "\n" not in notice


def test_phi4_mini_reasoning_prefixes_its_own_identity_and_says_so():
    t = fixture_template("phi-4-mini-reasoning")
    assert t.pre_query("Be brief.") == ("<|system|>Your name is Phi, an AI math expert developed by Microsoft. "
                                        "Be brief.<|end|><|user|>")
    assert "Your name is Phi, an AI math expert developed by Microsoft." in t.system_prompt_notice("Be brief.")


def test_smollm3_flags_in_a_system_prompt_are_refused():
    t = fixture_template("smollm3-3b")
    assert "Reasoning Mode: /think" in t.system_prompt_notice("Be brief.")
    with pytest.raises(MagpieError, match="does not print this system prompt as given.*use thinking"):
        t.system_prompt_notice("/no_think Be brief.")


@pytest.mark.parametrize("name", ["qwq-32b", "qwen3-4b-thinking-2507", "qwen2.5-0.5b-instruct", "mistral-7b-instruct-v0.3"])
def test_templates_that_print_the_system_prompt_as_given_say_nothing(name):
    assert fixture_template(name).system_prompt_notice("Be brief.") is None


def test_phi4_preset_names_the_tags_its_template_does_not():
    t = T.get_preset("phi4-mini-reasoning")
    assert t.reasoning_tags == ("<think>", "</think>") and t.tags == ("<think>", "</think>")
    assert T.resolve("phi-4-mini-reasoning").name == "phi4-mini-reasoning"
