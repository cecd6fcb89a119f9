"""MagpieSampler, MagpieResponder and MagpieSFTGenerator on the embedded model."""

from __future__ import annotations

import logging

import pytest

from distilabel_magpie.engines.llamacpp import LlamaCppEngine
from distilabel_magpie.errors import MagpieError
from distilabel_magpie.generation import MagpieResponder, MagpieSampler, MagpieSFTGenerator

STATUSES = {"ok", "empty", "truncated", "repetitive", "leaked_role", "duplicate", "error"}


def _loaded(step, engine):
    """Use the session's loaded engine instead of loading the model again."""
    step.llm = engine
    step._logger = logging.getLogger(f"distilabel.step.{step.name}")
    step._load_engine()
    return step


def test_num_rows_not_a_multiple_of_batch_size(llamacpp_engine):
    """5 rows in batches of 2: exactly 5 rows and one last batch (distilabel's generator hangs here)."""
    step = _loaded(MagpieSampler(llm=llamacpp_engine, num_rows=5, batch_size=2, max_new_tokens=16, seed=0,
                                 early_stop_newline=True), llamacpp_engine)
    batches = list(step.process())
    assert [len(rows) for rows, _ in batches] == [2, 2, 1]
    assert [last for _, last in batches] == [False, False, True]
    rows = [r for rows, _ in batches for r in rows]
    assert all(r["instruction_status"] in STATUSES for r in rows)
    assert all(r["template"] == "smollm2" and r["model_name"].endswith(".gguf") for r in rows)
    meta = rows[0]["distilabel_metadata"]
    assert meta["magpie_" + step.name]["temperature"] == 1.0
    assert meta["magpie_" + step.name]["prompt"].endswith("<|im_start|>user\n")
    assert "raw_output_" + step.name in meta


def test_n_per_prompt_and_system_prompt_keys(llamacpp_engine):
    step = _loaded(MagpieSampler(llm=llamacpp_engine, num_rows=6, n=3, batch_size=6, max_new_tokens=12, seed=1,
                                 system_prompt={"math": "You are a math tutor.", "code": ("You write code.", 2)}),
                   llamacpp_engine)
    rows, last = next(step.process())
    assert len(rows) == 6 and last
    keys = [r["system_prompt_key"] for r in rows]
    assert keys[0:3] == [keys[0]] * 3 and keys[3:6] == [keys[3]] * 3  # n samples share a prompt
    assert set(keys) <= {"math", "code"}
    assert all(r["system_prompt"] in ("You are a math tutor.", "You write code.") for r in rows)


def test_token_limit_marks_truncated(llamacpp_engine):
    step = _loaded(MagpieSampler(llm=llamacpp_engine, num_rows=3, max_new_tokens=1, seed=2, default_system=False),
                   llamacpp_engine)
    rows, _ = next(step.process())
    assert {r["instruction_status"] for r in rows} <= {"truncated", "empty"}


def test_stop_list_that_swallows_everything_is_reported(llamacpp_engine, caplog):
    step = _loaded(MagpieSampler(llm=llamacpp_engine, num_rows=4, max_new_tokens=16, seed=3,
                                 extra_stop=list("etaoinshrdlucmfwypvbgkjqxz ETAOINSHRDLUCMFWYPVBGKJQXZ0123456789")),
                   llamacpp_engine)
    with caplog.at_level(logging.INFO):
        rows, _ = next(step.process())
    assert all(r["instruction_status"] == "empty" for r in rows)
    assert any("none of 4 queries is usable" in m and "empty=4" in m for m in caplog.messages)


def test_exact_duplicates_are_flagged(llamacpp_engine):
    step = _loaded(MagpieSampler(llm=llamacpp_engine, num_rows=2, max_new_tokens=4, seed=4), llamacpp_engine)
    from distilabel_magpie.engines.base import Completion
    from distilabel_magpie.generation.system_prompts import SystemPromptChoice

    def row(index, text):
        return step._row(index, SystemPromptChoice(None, None), "p", Completion(text, "stop", 1, 1),
                         step.sampling_params(), None)

    assert row(3, "Hello")["instruction_status"] == "ok"
    assert row(5, "hello ")["instruction_status"] == "duplicate"  # a repeat of a lower row index
    assert row(1, "HELLO")["instruction_status"] == "ok"  # the lowest index keeps it


def test_responder_skips_rejected_rows_and_marks_truncated(llamacpp_engine):
    step = _loaded(MagpieResponder(llm=llamacpp_engine, max_new_tokens=3), llamacpp_engine)
    rows = [
        {"instruction": "Write a long essay about the sea.", "instruction_status": "ok"},
        {"instruction": "never answered", "instruction_status": "truncated"},
        {"instruction": "", "instruction_status": "empty"},
        {"instruction": "Say hi."},  # no status column: answered
    ]
    out = next(step.process(rows))
    assert [r["response_status"] for r in out][1:3] == ["skipped", "skipped"]
    assert out[1]["response"] is None and out[2]["response"] is None
    assert out[0]["response_status"] == "truncated" and out[0]["response"]
    assert out[3]["response_status"] in ("ok", "truncated")
    assert out[0]["distilabel_metadata"]["statistics_response_" + step.name]["output_tokens"] == 3


def test_sft_generator_answers_only_ok_queries(llamacpp_engine):
    step = _loaded(MagpieSFTGenerator(llm=llamacpp_engine, num_rows=4, max_new_tokens=24, early_stop_newline=True,
                                      response_max_new_tokens=16, seed=5), llamacpp_engine)
    rows, last = next(step.process())
    assert last and len(rows) == 4
    for r in rows:
        if r["instruction_status"] == "ok":
            assert r["response_status"] in ("ok", "truncated", "empty") and r["response"] is not None
        else:
            assert r["response_status"] == "skipped"
    assert any(r["response"] for r in rows)


def test_response_system_prompt_is_in_the_answer_prompts_only(llamacpp_engine):
    """Queries are sampled from the plain pre-query text; answers get the system turn, rendered
    exactly as the template does."""
    step = _loaded(MagpieSFTGenerator(llm=llamacpp_engine, num_rows=3, max_new_tokens=24, early_stop_newline=True,
                                      response_max_new_tokens=8, seed=5,
                                      response_system_prompt="Answer in a few sentences."), llamacpp_engine)
    rows, _ = next(step.process())
    answered = [r for r in rows if r["instruction_status"] == "ok"]
    assert answered
    for r in rows:
        meta = r["distilabel_metadata"]
        assert meta[f"magpie_{step.name}"]["prompt"] == (
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
            "<|im_start|>user\n")
    for r in answered:
        assert r["distilabel_metadata"][f"magpie_response_{step.name}"]["prompt"] == (
            "<|im_start|>system\nAnswer in a few sentences.<|im_end|>\n"
            f"<|im_start|>user\n{r['instruction']}<|im_end|>\n<|im_start|>assistant\n")


def test_row_and_response_system_prompts_are_exclusive(llamacpp_engine):
    with pytest.raises(MagpieError, match="either use_system_prompt=True or response_system_prompt"):
        MagpieResponder(llm=llamacpp_engine, use_system_prompt=True, response_system_prompt="Be brief.")
    responder = MagpieResponder(llm=llamacpp_engine, use_system_prompt=True)
    assert responder.answer_messages({"instruction": "Hi", "system_prompt": "Row."})[0]["content"] == "Row."


def test_chat_only_llm_is_refused_at_construction():
    from distilabel.models.llms import OpenAILLM

    with pytest.raises(MagpieError, match="only offers chat completions.*LlamaCppEngine"):
        MagpieSampler(llm=OpenAILLM(model="gpt-4o-mini", api_key="sk-test"), num_rows=2)


@pytest.mark.parametrize("num_rows", [0, -3])
def test_num_rows_must_be_positive(num_rows):
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="num_rows"):
        MagpieSampler(llm=LlamaCppEngine(), num_rows=num_rows)


def test_num_rows_must_be_set():
    step = MagpieSampler(llm=LlamaCppEngine())
    with pytest.raises(MagpieError, match="num_rows is not set"):
        step.load()


def test_distilabel_llamacpp_llm_is_accepted(embedded_model_path):
    """Existing distilabel configs work: LlamaCppLLM driven through our engine."""
    from distilabel.models.llms import LlamaCppLLM

    step = MagpieSampler(llm=LlamaCppLLM(model_path=embedded_model_path, n_ctx=512), num_rows=2, max_new_tokens=8,
                         seed=6)
    step.load()
    rows, last = next(step.process())
    assert last and len(rows) == 2 and step.magpie_template.name == "smollm2"
    assert step.engine.tokenize(step.magpie_template.pre_query()) == [1, 9690, 198, 2683, 359, 253, 5356, 5646, 11173,
                                                                      3365, 3511, 308, 34519, 28, 7018, 411, 407, 19712, 8182,
                                                                      2, 198, 1, 4093, 198]
    step.unload()


def test_loop_settings_reach_the_engine_calls(llamacpp_engine):
    sft = _loaded(MagpieSFTGenerator(llm=llamacpp_engine, num_rows=1, repetition_ngram=8, min_p=0.02,
                                     response_repetition_penalty=1.3), llamacpp_engine)
    queries, answers = sft.sampling_params(), sft.response_params()
    assert (queries.repetition_ngram, queries.repetition_penalty, queries.min_p) == (8, 1.0, 0.02)
    assert (answers.repetition_ngram, answers.repetition_penalty, answers.min_p) == (8, 1.3, 0.0)
    responder = _loaded(MagpieResponder(llm=llamacpp_engine, repetition_penalty=1.2, repetition_ngram=0),
                        llamacpp_engine)
    params = responder.sampling_params()
    assert (params.repetition_ngram, params.repetition_penalty) == (0, 1.2)
