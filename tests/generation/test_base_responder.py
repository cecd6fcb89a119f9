"""MagpieBaseResponder: the URIAL few-shot prompt, its stop rules, which rows it answers, and runs on
a model whose output is fixed by its weights and on the embedded llama.cpp model."""

import logging

import pytest

from distilabel_magpie.engines import Completion
from distilabel_magpie.errors import MagpieError
from distilabel_magpie.generation import MagpieBaseResponder
from distilabel_magpie.generation.base_responder import URIAL_PROMPT, URIAL_STOP, cut_at_fence


def loaded(llm, **kwargs):
    step = MagpieBaseResponder(llm=llm, **kwargs)
    step.load()
    step._logger = logging.getLogger("test")
    return step


def test_the_answer_ends_at_its_closing_fence_not_at_a_code_block_inside_it():
    assert cut_at_fence("Paris.\n```\n\n# Qu") == ("Paris.", True)
    code = "Use sort:\n```python\nxs.sort()\n```\nDone.\n```\n"
    assert cut_at_fence(code) == ("Use sort:\n```python\nxs.sort()\n```\nDone.", True)
    bare = "Use sort:\n```\nxs.sort()\n```\nDone.\n```"  # a code block without a language tag
    assert cut_at_fence(bare) == ("Use sort:\n```\nxs.sort()\n```\nDone.", True)
    assert cut_at_fence("Paris.\n```\n\nThanks for asking.") == ("Paris.", True)  # trailing chatter is cut
    # cut at the token limit inside an unclosed code block: not an ended answer
    assert cut_at_fence("Use sort:\n```\nxs.sort() xs.sort()", ended=False) == ("Use sort:\n```\nxs.sort() xs.sort()",
                                                                                False)
    assert cut_at_fence("no fence", None) == ("no fence", False)


def test_statuses_follow_the_fence_and_the_finish_reason(tiny_model_dir):
    from distilabel_magpie.engines import TransformersEngine

    step = loaded(TransformersEngine(model=tiny_model_dir, device="cpu"), max_new_tokens=8)

    def clean(text, finish, stop=None):
        return step.clean(Completion(text, finish, 10, 8, stop_reason=stop))

    assert clean("Paris.\n```\n", "stop", "# Query:") == ("Paris.", "ok")
    assert clean("Paris.\n```\n\n# Que", "length") == ("Paris.", "ok")  # closed before the limit
    # cut short after a bare fence and more text: as likely a code block that never closed
    assert clean("Paris.\n```\nprint(1)", "length") == ("Paris.\n```\nprint(1)", "truncated")
    assert clean("Paris is a city that", "length") == ("Paris is a city that", "truncated")
    assert clean("Paris Paris Paris", "repetition") == ("Paris Paris Paris", "repetitive")
    assert clean("\n```\n", "stop") == ("", "empty")
    assert clean("", "error") == (None, "error")


def test_the_prompt_is_the_urial_prompt_with_the_query_in_its_slot(tiny_model_dir):
    from distilabel_magpie.engines import TransformersEngine

    step = loaded(TransformersEngine(model=tiny_model_dir, device="cpu"), max_new_tokens=8)
    prompt = step.render("What is {x}?")  # braces in a query are text
    head, tail = URIAL_PROMPT.split("{instruction}")
    assert prompt == head + "What is {x}?" + tail
    assert prompt.endswith("# Query:\n```\nWhat is {x}?\n```\n\n# Answer:\n```\n")
    assert prompt.count("\n# Query:\n") == 4 and prompt.count("\n# Answer:\n") == 4  # three examples, the query
    assert list(step.sampling_params().stop) == URIAL_STOP


def test_only_usable_rows_are_answered_and_the_output_is_the_models(bigram_query_model_dir):
    """The bigram model writes 'Hi?' and ends its turn after any prompt: the base answer is known."""
    from distilabel_magpie.engines import TransformersEngine

    step = loaded(TransformersEngine(model=bigram_query_model_dir, device="cpu"), max_new_tokens=8)
    rows = [{"instruction": "Say hi.", "instruction_status": "ok", "response_status": "ok"},
            {"instruction": "Loop", "instruction_status": "truncated", "response_status": "skipped"},
            {"instruction": "Say hi again.", "instruction_status": "ok", "response_status": "truncated"},
            {"instruction": "No statuses at all"}]
    out = next(step.process([dict(r) for r in rows]))
    assert [(r["base_response"], r["base_response_status"]) for r in out] == [
        ("Hi?", "ok"), (None, "skipped"), (None, "skipped"), ("Hi?", "ok")]
    assert all(r["base_model_name"] == out[0]["base_model_name"] for r in out)
    meta = out[0]["distilabel_metadata"]
    assert meta[f"statistics_base_response_{step.name}"]["output_tokens"] >= 3
    assert meta[f"raw_output_base_response_{step.name}"].startswith("Hi?")
    assert "distilabel_metadata" not in out[1]  # not sent to the model
    everything = loaded(TransformersEngine(model=bigram_query_model_dir, device="cpu"), max_new_tokens=8,
                        only_answered=False)
    out = next(everything.process([dict(r) for r in rows]))
    assert [r["base_response_status"] for r in out] == ["ok", "skipped", "ok", "ok"]


def test_a_tokenizer_that_adds_a_bos_gets_it_in_front_of_the_prompt(tmp_path, tiny_model_dir):
    from tokenizers.processors import TemplateProcessing
    from transformers import AutoTokenizer

    from distilabel_magpie.engines import TransformersEngine
    from distilabel_magpie.engines.base import hf_plain_text_prefix

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    assert hf_plain_text_prefix(tok) == ""  # this one adds nothing to plain text
    bos = tok.convert_tokens_to_ids("<|im_start|>")
    tok._tokenizer.post_processor = TemplateProcessing(single="<|im_start|> $A", special_tokens=[("<|im_start|>", bos)])
    tok.save_pretrained(tmp_path / "tok")
    assert hf_plain_text_prefix(AutoTokenizer.from_pretrained(tmp_path / "tok")) == "<|im_start|>"
    llm = TransformersEngine(model=tiny_model_dir, tokenizer=str(tmp_path / "tok"), device="cpu")
    assert loaded(llm, max_new_tokens=4).render("Q").startswith("<|im_start|># Instruction")
    assert loaded(llm, max_new_tokens=4, add_bos=False).render("Q").startswith("# Instruction")
    with pytest.raises(MagpieError, match="add_bos=True, but the model's tokenizer has no BOS"):
        loaded(TransformersEngine(model=tiny_model_dir, device="cpu"), add_bos=True)


def test_bad_prompts_are_one_line_errors(tmp_path, tiny_model_dir):
    from distilabel_magpie.engines import TransformersEngine

    llm = TransformersEngine(model=tiny_model_dir, device="cpu")
    with pytest.raises(MagpieError, match=r"must contain \{instruction\} exactly once.*0 times"):
        MagpieBaseResponder(llm=llm, prompt="# Query:\n")
    (tmp_path / "twice.txt").write_text("{instruction} and {instruction}")
    with pytest.raises(MagpieError, match="twice.txt must contain .* 2 times"):
        loaded(llm, prompt_file=str(tmp_path / "twice.txt"))
    with pytest.raises(MagpieError, match="cannot read prompt_file .*missing.txt"):
        loaded(llm, prompt_file=str(tmp_path / "missing.txt"))
    (tmp_path / "mine.txt").write_text("Q: {instruction}\nA:")
    assert loaded(llm, prompt_file=str(tmp_path / "mine.txt"), answer_fence=None).render("2+2?") == "Q: 2+2?\nA:"


def test_a_context_too_small_for_prompt_and_budget_fails_at_load():
    from distilabel_magpie.engines import LlamaCppEngine

    with pytest.raises(MagpieError, match=r"few-shot prompt takes \d+ tokens and max_new_tokens=512 more"):
        loaded(LlamaCppEngine(model_path="embedded", n_ctx=512, n_threads=1))


def test_the_embedded_model_answers_in_the_urial_format(llamacpp_engine):
    """SmolLM2-135M-Instruct stands in for a base model here: whatever it writes, every answer is
    cut at the format's stops and has a status that matches how it ended."""
    step = loaded(llamacpp_engine, max_new_tokens=48, repetition_penalty=1.1)
    rows = next(step.process([{"instruction": q} for q in ("What is the capital of France?",
                                                           "Give me two tips for sleeping well.")]))
    for row in rows:
        meta = row["distilabel_metadata"][f"magpie_base_response_{step.name}"]
        assert row["base_response_status"] in ("ok", "truncated", "repetitive", "empty")
        assert all(stop not in row["base_response"] for stop in URIAL_STOP)
        assert not row["base_response"].rstrip().endswith("```")
        if meta["finish_reason"] == "stop":
            assert row["base_response_status"] in ("ok", "empty")
