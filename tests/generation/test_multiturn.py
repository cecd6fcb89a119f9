"""MagpieMultiTurn: exact prompts at turns 2 and 3, failures end rows cleanly, bad input."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from conftest import FIXTURES

from distilabel_magpie.engines.base import Completion
from distilabel_magpie.errors import MagpieError
from distilabel_magpie.generation import MagpieMultiTurn
from distilabel_magpie.generation.multiturn import conversation_of
from distilabel_magpie.templates import PAPER_FOLLOWUP_SYSTEM_PROMPT


def _loaded(step, engine):
    step.llm = engine
    step._logger = logging.getLogger(f"distilabel.step.{step.name}")
    step._load_engine()
    return step


class ScriptedEngine:
    """Stands in for the model where the test must decide what it writes (a failing turn);
    prompts still come from the real template."""

    def __init__(self, engine, script):
        self.engine, self.script, self.prompts = engine, list(script), []
        self.model_name = "scripted"

    def complete(self, prompts, params, progress=None):
        self.prompts.append(list(prompts))
        return [[self.script.pop(0)] for _ in prompts]

    def tokenize(self, text):
        return self.engine.tokenize(text)


def test_prompts_at_turns_2_and_3_are_exact_strings_and_tokens(llamacpp_engine, embedded_model_path):
    """The prompts actually sent equal transformers' apply_chat_template of history + [user: ▯]
    cut at the slot, token for token (tokenised by the GGUF's own HF tokenizer)."""
    from transformers import AutoTokenizer

    step = _loaded(MagpieMultiTurn(llm=llamacpp_engine, n_turns=2, max_new_tokens=24, early_stop_newline=True,
                                   response_max_new_tokens=24, seed=0), llamacpp_engine)
    first = [{"role": "user", "content": "What is a prime number?"},
             {"role": "assistant", "content": "A number with exactly two divisors."}]
    (row,) = next(step.process([{"messages": first}]))
    path = Path(embedded_model_path)
    tok = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    for entry in row["distilabel_metadata"][f"magpie_turns_{step.name}"]:
        history = row["messages"][: 2 * (entry["turn"] - 1)]
        sentinel = "@@SLOT@@"
        full = tok.apply_chat_template(
            [{"role": "system", "content": PAPER_FOLLOWUP_SYSTEM_PROMPT}] + history + [{"role": "user", "content": sentinel}],
            tokenize=False)
        expected = full[: full.index(sentinel)]
        assert entry["query_prompt"] == expected
        assert llamacpp_engine.tokenize(entry["query_prompt"]) == tok(expected, add_special_tokens=False)["input_ids"]
        if 2 * (entry["turn"] - 1) < len(row["messages"]):  # answered turn: no follow-up system prompt
            user = row["messages"][2 * (entry["turn"] - 1)]
            assert entry["response_prompt"] == tok.apply_chat_template(history + [user], tokenize=False,
                                                                       add_generation_prompt=True)
    roles = [m["role"] for m in row["messages"]]
    assert roles == ["user", "assistant"] * (len(roles) // 2)
    assert row["turns"] == len(roles) // 2
    assert row["conversation_status"] in ("ok", "ended_early")
    if row["conversation_status"] == "ok":
        assert row["turns"] == 3


@pytest.mark.parametrize("name", ["llama-3.1-8b-instruct", "mistral-7b-instruct-v0.3", "gemma-2-2b-it", "yi-1.5-34b-chat"])
def test_followup_prompts_for_other_families(llamacpp_engine, name):
    """Any template: the extender's prompts are the template's own rendering cut at the slot."""
    from templates.test_templates import hf_render

    from distilabel_magpie.templates import MagpieTemplate

    f = FIXTURES[name]
    step = _loaded(MagpieMultiTurn(llm=llamacpp_engine, n_turns=2, followup_system_prompt="",
                                   template="smollm2"), llamacpp_engine)
    step._template = MagpieTemplate(name=name, chat_template=f["chat_template"], bos_token=f["bos_token"],
                                    eos_token=f["eos_token"])
    ok = lambda t: Completion(t, "stop", 1, 1)  # noqa: E731
    step._engine = ScriptedEngine(llamacpp_engine, [ok("Q2?"), ok("A2."), ok("Q3?"), ok("A3.")])
    (row,) = next(step.process([{"instruction": "Q1?", "response": "A1."}]))
    assert [m["content"] for m in row["messages"]] == ["Q1?", "A1.", "Q2?", "A2.", "Q3?", "A3."]
    for turn, prompts in ((2, step._engine.prompts[0]), (3, step._engine.prompts[2])):
        history = row["messages"][: 2 * (turn - 1)]
        full = hf_render(f, history + [{"role": "user", "content": "@@S@@"}])
        assert prompts == [full[: full.index("@@S@@")]]


def test_failed_turn_ends_the_row_at_its_last_good_turn(llamacpp_engine):
    step = _loaded(MagpieMultiTurn(llm=llamacpp_engine, n_turns=2), llamacpp_engine)
    ok = lambda t: Completion(t, "stop", 1, 1)  # noqa: E731
    # turn 2: row A ok, row B query truncated; turn 3: row A's answer truncated
    step._engine = ScriptedEngine(llamacpp_engine, [
        ok("A follow-up?"), Completion("runaway", "length", 1, 256),
        ok("A answer."),
        ok("A second follow-up?"), Completion("cut off", "length", 1, 512)])
    rows = next(step.process([{"instruction": "A?", "response": "a."}, {"instruction": "B?", "response": "b."},
                              {"instruction": "C?", "response": None, "instruction_status": "truncated"}]))
    a, b, c = rows
    assert [m["content"] for m in a["messages"]] == ["A?", "a.", "A follow-up?", "A answer."]
    assert (a["conversation_status"], a["failure_reason"], a["failed_turn"], a["turns"]) == (
        "ended_early", "response_truncated", 3, 2)
    assert [m["content"] for m in b["messages"]] == ["B?", "b."]
    assert (b["conversation_status"], b["failure_reason"], b["failed_turn"]) == ("ended_early", "query_truncated", 2)
    assert c["conversation_status"] == "skipped"


def test_end_with_user(llamacpp_engine):
    step = _loaded(MagpieMultiTurn(llm=llamacpp_engine, n_turns=1, end_with_user=True), llamacpp_engine)
    step._engine = ScriptedEngine(llamacpp_engine, [Completion("And then?", "stop", 1, 1)])
    (row,) = next(step.process([{"messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]}]))
    assert [m["role"] for m in row["messages"]] == ["user", "assistant", "user"]
    assert row["conversation_status"] == "ok"


@pytest.mark.parametrize("messages,reason", [
    ([], "empty conversation"),
    ([{"role": "assistant", "content": "hi"}], "expected 'user'"),
    ([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}], "roles must alternate"),
    ([{"role": "system", "content": "s"}, {"role": "user", "content": "a"}], "must end with an assistant"),
])
def test_bad_conversations_are_flagged(messages, reason):
    got, problem = conversation_of({"messages": messages})
    assert got is None and reason in problem


def test_n_turns_must_be_positive(llamacpp_engine):
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="n_turns"):
        MagpieMultiTurn(llm=llamacpp_engine, n_turns=0)


def test_template_refusing_system_prompt_is_reported_at_load(llamacpp_engine):
    step = _loaded(MagpieMultiTurn(llm=llamacpp_engine, template="gemma2"), llamacpp_engine)
    with pytest.raises(MagpieError, match="System role not supported.*followup_system_prompt=''"):
        step._check_followup_system_prompt()


def test_loop_settings_apply_to_queries_and_answers(llamacpp_engine):
    step = _loaded(MagpieMultiTurn(llm=llamacpp_engine, repetition_ngram=12, response_repetition_penalty=1.1),
                   llamacpp_engine)
    query, answer = step._params(2)
    assert (query.repetition_ngram, query.repetition_penalty) == (12, 1.0)
    assert (answer.repetition_ngram, answer.repetition_penalty) == (12, 1.1)
