"""Answers of reasoning models: scripted completions in each family's real output format are split
into reasoning and answer with the right status, and the steps send exact prompts in each
thinking mode (the model is scripted; prompts come from the real templates)."""

from __future__ import annotations

import logging
from typing import Optional

import pytest
from conftest import FIXTURE_DATE, FIXTURES
from templates.test_reasoning_templates import hf_history
from templates.test_templates import hf_render

from distilabel_magpie.generation.cleaning import Answer, clean_response
from distilabel_magpie.engines.base import Completion, CompletionEngine
from distilabel_magpie.engines.llamacpp import LlamaCppEngine
from distilabel_magpie.errors import MagpieError
from distilabel_magpie.generation import MagpieMultiTurn, MagpieResponder, MagpieSampler, MagpieSFTGenerator
from distilabel_magpie.templates import get_preset


def done(text: str, reason: str = "stop") -> Completion:
    return Completion(text, reason, 10, 20)


def preset(name: str, thinking: Optional[str] = None):
    return get_preset(name).with_options(today=FIXTURE_DATE).with_thinking(thinking)


# -- each family's format -----------------------------------------------------------------------

# (preset, thinking, completion after the generation prompt, expected answer)
FORMATS = [
    # QwQ / Qwen3-Thinking-2507 / R1: the prompt opened <think>, the model closes it
    ("qwq", None, "Two plus two.\nThat makes four.\n</think>\n\nThe answer is 4.",
     Answer("The answer is 4.", "ok", "Two plus two.\nThat makes four.")),
    ("qwen3-thinking", None, "Paris is the capital.\n</think>\n\nParis.", Answer("Paris.", "ok", "Paris is the capital.")),
    ("qwq", None, "Let me think about this for a very long", Answer(None, "reasoning_truncated", "Let me think about this for a very long")),
    ("qwq", None, "I am not sure.", Answer("", "empty", "I am not sure.")),  # ended without an answer
    ("qwq", None, "Short.\n</think>\n\nThe answer is", Answer("The answer is", "truncated", "Short.")),
    ("qwq", None, "Loop loop\n</think>\n\n", Answer("", "empty", "Loop loop")),
    # SmolLM3 thinking on: the model opens <think> itself; thinking off: the prompt pre-filled it
    ("smollm3", "on", "<think>\nThe user greets me.\n</think>\nHello!", Answer("Hello!", "ok", "The user greets me.")),
    ("smollm3", "off", "Hello!", Answer("Hello!", "ok", None)),
    ("smollm3", "on", "Hello without thinking.", Answer("Hello without thinking.", "ok", None)),
    # Phi-4-mini-reasoning reasons in <think> although its template does not name it
    ("phi4-mini-reasoning", None, "<think>\nx = 2.\n</think>\n\nx = 2", Answer("x = 2", "ok", "x = 2.")),
    # EXAONE-Deep: the prompt opened <thought>
    ("exaone-deep", None, "Think.\n</thought>\n\nDone.", Answer("Done.", "ok", "Think.")),
    # gpt-oss: harmony channels
    ("gpt-oss", None, "<|channel|>analysis<|message|>User asks 2+2. Answer 4.<|end|><|start|>assistant"
     "<|channel|>final<|message|>2 + 2 = 4.", Answer("2 + 2 = 4.", "ok", "User asks 2+2. Answer 4.")),
    ("gpt-oss", None, "<|channel|>final<|message|>Hi!", Answer("Hi!", "ok", None)),
    ("gpt-oss", None, "", Answer("", "empty", None)),
    ("gpt-oss", None, "<|channel|>analysis<|message|>We need to", Answer(None, "reasoning_truncated", "We need to")),
    ("gpt-oss", None, "<|channel|>analysis<|message|>Done.<|end|><|start|>assistant<|channel|>",
     Answer(None, "reasoning_truncated", "Done.")),
    ("gpt-oss", None, "<|channel|>analysis<|message|>Nothing to say.<|end|>", Answer("", "empty", "Nothing to say.")),
    ("gpt-oss", None, "<|channel|>analysis<|message|>R.<|end|><|start|>assistant<|channel|>final<|message|>A."
     "<|end|><|start|>user<|message|>Next?", Answer("A.", "ok", "R.")),  # a backend that ran past the turn
]


@pytest.mark.parametrize("i", range(len(FORMATS)))
def test_scripted_completion_of_each_family_is_split(i):
    name, thinking, text, expected = FORMATS[i]
    # the truncated ones ran to the token limit; the others ended on their own
    completion = done(text, "length" if expected.status in ("truncated", "reasoning_truncated") else "stop")
    assert clean_response(completion, preset(name, thinking)) == expected


def test_looping_reasoning_is_repetitive():
    got = clean_response(done("again and again and again", "repetition"), preset("qwq"))
    assert (got.text, got.status, got.reasoning) == (None, "repetitive", "again and again and again")


@pytest.mark.parametrize("text,problem", [
    ("<|channel|>analysis<|message|>Look it up.<|end|><|start|>assistant<|channel|>commentary to=browser.search "
     "<|constrain|>json<|message|>{\"q\": \"x\"}", "unsupported harmony message"),
    ("<|channel|>analysis<|message|>R<|end|><|start|>assistant<|channel|>final<|message|>A<|end|><|start|>assistant"
     "<|channel|>final<|message|>B", "unsupported harmony message"),
    ("analysisUser asks 2+2.assistantfinal4.", "does not start with a harmony channel header"),
])
def test_harmony_that_cannot_be_read_exactly_is_an_error_not_half_parsed(text, problem):
    got = clean_response(done(text), preset("gpt-oss"))
    assert (got.text, got.reasoning, got.status) == (None, None, "error")
    assert problem in got.error and "\n" not in got.error


# -- steps with a scripted model ----------------------------------------------------------------


class Scripted(CompletionEngine):
    """Writes what the test says; records the prompts and sampling settings it was given."""

    def __init__(self, script):
        self.script, self.calls = list(script), []

    @property
    def model_name(self) -> str:
        return "scripted"

    def complete(self, prompts, params, progress=None):
        self.calls.append((list(prompts), params))
        return [[self.script.pop(0) for _ in range(params.n)] for _ in prompts]

    def own_template(self, default_system=None):
        raise AssertionError("the tests name their template")

    def context_length(self):
        return None


@pytest.fixture
def load(monkeypatch):
    """`step.load()` for real, with the scripted engine in place of the model."""
    monkeypatch.setattr(LlamaCppEngine, "load", lambda self: None)

    def _load(step, script=()):
        engine = Scripted(script)
        monkeypatch.setattr("distilabel_magpie.generation.base.engine_for", lambda llm: engine)
        step.load()
        return engine

    return _load


def test_responder_answer_prompt_and_columns_for_an_always_thinking_model(load):
    step = MagpieResponder(llm=LlamaCppEngine(), template="qwq", max_new_tokens=64)
    engine = load(step, [done("Add them.\n</think>\n\n4."), done("Still thinking", "length")])
    rows = next(step.process([{"instruction": "2+2?", "instruction_status": "ok"},
                              {"instruction": "3+3?", "instruction_status": "ok"},
                              {"instruction": "", "instruction_status": "empty"}]))
    prompts, params = engine.calls[0]
    assert prompts == [hf_render(FIXTURES["qwq-32b"], [{"role": "user", "content": "2+2?"}], True),
                       hf_render(FIXTURES["qwq-32b"], [{"role": "user", "content": "3+3?"}], True)]
    assert prompts[0].endswith("<|im_start|>assistant\n<think>\n")
    assert "<think>" not in params.stop and "</think>" not in params.stop
    assert [(r["response"], r["reasoning"], r["response_status"]) for r in rows] == [
        ("4.", "Add them.", "ok"), (None, "Still thinking", "reasoning_truncated"), (None, None, "skipped")]
    assert "reasoning" in step.outputs


def test_responder_with_thinking_off_prefills_the_empty_block(load):
    step = MagpieResponder(llm=LlamaCppEngine(), template="smollm3", thinking="off")
    engine = load(step, [done("Bonjour !")])
    (row,) = next(step.process([{"instruction": "Say hello in French."}]))
    (prompt,), _ = engine.calls[0]
    f = FIXTURES["smollm3-3b"]
    date_free = hf_render(f, [{"role": "user", "content": "Say hello in French."}], True, enable_thinking=False)
    assert prompt.endswith("<|im_start|>assistant\n<think>\n\n</think>\n")
    assert prompt.split("Today Date: ")[1].split("\n", 1)[1] == date_free.split("Today Date: ")[1].split("\n", 1)[1]
    assert (row["response"], row["reasoning"], row["response_status"]) == ("Bonjour !", None, "ok")
    meta = row["distilabel_metadata"][f"magpie_response_{step.name}"]
    assert meta["thinking"] == "off" and meta["prompt"] == prompt


@pytest.mark.parametrize("template", ["qwq", "gpt-oss", "phi4-mini-reasoning", "smollm2"])
def test_thinking_on_or_off_for_a_template_without_a_switch_fails_at_load(load, template):
    step = MagpieResponder(llm=LlamaCppEngine(), template=template, thinking="on")
    with pytest.raises(MagpieError, match="has no thinking switch"):
        load(step)


def test_sft_generator_queries_and_answers_in_separate_modes(load):
    step = MagpieSFTGenerator(llm=LlamaCppEngine(), template="smollm3", num_rows=1, thinking="off",
                              response_thinking="on", seed=0)
    engine = load(step, [done("What is the capital of France?"), done("<think>\nEasy.\n</think>\nParis.")])
    rows, last = next(step.process())
    (query_prompt,), _ = engine.calls[0]
    (answer_prompt,), answer_params = engine.calls[1]
    assert "Reasoning Mode: /no_think" in query_prompt and query_prompt.endswith("<|im_start|>user\n")
    assert "Reasoning Mode: /think" in answer_prompt and answer_prompt.endswith("<|im_start|>assistant\n")
    assert (rows[0]["instruction"], rows[0]["response"], rows[0]["reasoning"]) == (
        "What is the capital of France?", "Paris.", "Easy.")
    assert last and {"response", "reasoning", "response_status"} <= set(step.outputs)


def test_template_kwargs_reach_every_prompt(load):
    step = MagpieSFTGenerator(llm=LlamaCppEngine(), template="gpt-oss", num_rows=1,
                              template_kwargs={"reasoning_effort": "high"}, seed=0)
    engine = load(step, [done("What is 2+2?"),
                         done("<|channel|>analysis<|message|>Easy.<|end|><|start|>assistant<|channel|>final<|message|>4")])
    (row,), _ = next(step.process())
    assert all("Reasoning: high\n" in call[0][0] for call in engine.calls)
    assert (row["response"], row["reasoning"], row["response_status"]) == ("4", "Easy.", "ok")
    assert engine.calls[1][1].stop == ("<|return|>", "<|call|>", "<|end|><|start|>user<|message|>")


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def test_system_prompt_a_template_extends_is_logged_and_one_it_rewrites_is_refused(load, monkeypatch):
    step = MagpieSampler(llm=LlamaCppEngine(), template="phi4-mini-reasoning", num_rows=1, system_prompt="Be brief.")
    logger, seen = logging.getLogger(f"distilabel.step.{step.name}"), _Records()
    monkeypatch.setattr(logger, "level", logging.WARNING)  # other tests quiet distilabel's step loggers
    logger.addHandler(seen)
    try:
        load(step)
    finally:
        logger.removeHandler(seen)
    assert any("adds its own text to the system prompt: 'Your name is Phi" in m for m in seen.messages)
    step = MagpieSampler(llm=LlamaCppEngine(), template="smollm3", num_rows=1, system_prompt="/no_think Be brief.")
    with pytest.raises(MagpieError, match="does not print this system prompt as given"):
        load(step)


# Each family's second answer, written in its own format after the turn-2 query.
SECOND = {
    "qwq": ("qwq-32b", "Subtract.\n</think>\n\n2."), "qwen3-thinking": ("qwen3-4b-thinking-2507", "Subtract.\n</think>\n\n2."),
    "smollm3": ("smollm3-3b", "<think>\nSubtract.\n</think>\n2."),
    "phi4-mini-reasoning": ("phi-4-mini-reasoning", "<think>\nSubtract.\n</think>\n\n2."),
    "exaone-deep": ("exaone-deep-2.4b", "Subtract.\n</thought>\n\n2."),
    "gpt-oss": ("gpt-oss-20b", "<|channel|>analysis<|message|>Subtract.<|end|><|start|>assistant<|channel|>final<|message|>2."),
}


@pytest.mark.parametrize("name", list(SECOND))
def test_multi_turn_prompts_are_the_templates_rendering_of_the_reasoned_conversation(load, name):
    fixture, second = SECOND[name]
    f = FIXTURES[fixture]
    step = MagpieMultiTurn(llm=LlamaCppEngine(), template=name, n_turns=2, followup_system_prompt="")
    engine = load(step, [done("And 4-2?"), done(second), done("Thanks!"), done(second)])
    step._template = step._template.with_options(today=FIXTURE_DATE)
    step._answer_template = step._answer_template.with_options(today=FIXTURE_DATE)
    (row,) = next(step.process([{"instruction": "2+2?", "response": "4.", "reasoning": "Add.", "response_status": "ok"}]))
    assert row["conversation_status"] == "ok" and row["turns"] == 3
    assert row["messages"][3] == {"role": "assistant", "content": "2.", "reasoning_content": "Subtract."}
    for turn, call in ((2, 0), (3, 2)):
        history = row["messages"][: 2 * (turn - 1)]
        full = hf_render(f, hf_history(fixture, history) + [{"role": "user", "content": "@@S@@"}])
        assert engine.calls[call][0] == [full[: full.index("@@S@@")]]
        asked = row["messages"][: 2 * turn - 1]
        assert engine.calls[call + 1][0] == [hf_render(f, hf_history(fixture, asked), True)]


def test_multi_turn_ends_a_row_whose_reasoning_never_ends(load):
    step = MagpieMultiTurn(llm=LlamaCppEngine(), template="qwq", n_turns=1, followup_system_prompt="")
    load(step, [done("And 4-2?"), done("Hmm, let me", "length")])
    (row,) = next(step.process([{"instruction": "2+2?", "response": "4."}]))
    assert (row["conversation_status"], row["failure_reason"], row["failed_turn"]) == (
        "ended_early", "response_reasoning_truncated", 2)
    assert row["messages"] == [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4."}]
