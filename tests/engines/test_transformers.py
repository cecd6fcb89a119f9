"""The transformers engine on a tiny randomly initialised Llama saved with save_pretrained
(the real from_pretrained path; no download)."""

from __future__ import annotations

import pytest
from distilabel_magpie.engines.base import SamplingParams, repetition_end


@pytest.fixture(scope="module")
def engine(tiny_model_dir):
    from distilabel_magpie.engines.transformers import TransformersEngine

    llm = TransformersEngine(model=tiny_model_dir, device="cpu", batch_size=4)
    llm.load()
    return llm


def test_template_and_exact_token_ids(engine):
    t = engine.own_template()
    assert t.name == "smollm2"
    ids = engine.tokenize(t.pre_query())
    assert ids == engine.runner.tokenizer(t.pre_query(), add_special_tokens=False)["input_ids"]
    assert ids.count(engine.runner.tokenizer.convert_tokens_to_ids("<|im_start|>")) == 2  # system + user, no extra BOS


def test_n_samples_and_limits(engine):
    t = engine.own_template()
    out = engine.complete([t.pre_query(), t.pre_query("Be brief.")],
                          SamplingParams(max_new_tokens=10, temperature=1.0, n=3, seed=0))
    assert [len(s) for s in out] == [3, 3]
    for s in out:
        for c in s:
            assert 1 <= c.completion_tokens <= 10
            assert c.finish_reason in ("stop", "length")


def test_left_padding_does_not_change_greedy_output(engine):
    t = engine.own_template()
    short = t.response_prompt([{"role": "user", "content": "Hi"}])
    long = t.response_prompt([{"role": "user", "content": "Explain gravity to a child. " * 6}])
    params = SamplingParams(max_new_tokens=12, temperature=0.0)
    alone = engine.complete([short], params)[0][0]
    batched = engine.complete([long, short], params)[1][0]
    assert alone.token_ids == batched.token_ids
    assert alone.prompt_tokens == batched.prompt_tokens == len(engine.tokenize(short))


def test_stop_string(engine):
    t = engine.own_template()
    prompt = t.response_prompt([{"role": "user", "content": "What is the capital of France?"}])
    free = engine.complete([prompt], SamplingParams(max_new_tokens=20, temperature=0.0))[0][0]
    assert len(free.text) >= 3
    stop = free.text[1:3]
    cut = engine.complete([prompt], SamplingParams(max_new_tokens=20, temperature=0.0, stop=(stop,)))[0][0]
    assert cut.finish_reason == "stop" and cut.text == free.text[: free.text.index(stop)]


def test_a_looping_sample_ends_at_its_third_repeat(engine):
    """The random tiny model's greedy output repeats itself; the stopping criterion ends each row
    where `repetition_end` says, whatever else is in the batch."""
    t = engine.own_template()
    prompts = [t.response_prompt([{"role": "user", "content": q}]) for q in ("Hi", "Tell me about the sea.")]
    free = engine.complete(prompts, SamplingParams(max_new_tokens=64, temperature=0.0))
    guarded = engine.complete(prompts, SamplingParams(max_new_tokens=64, temperature=0.0, repetition_ngram=3))
    for f, g in zip(free, guarded):
        end = repetition_end(f[0].token_ids, 3)
        assert end is not None and end < 64
        assert g[0].finish_reason == "repetition" and g[0].token_ids == f[0].token_ids[:end]


def test_repetition_penalty_reaches_generate(engine):
    t = engine.own_template()
    prompt = t.response_prompt([{"role": "user", "content": "Hi"}])
    plain = engine.complete([prompt], SamplingParams(max_new_tokens=24, temperature=0.0))[0][0]
    penalised = engine.complete([prompt], SamplingParams(max_new_tokens=24, temperature=0.0, repetition_penalty=3.0))[0][0]
    assert len(set(penalised.token_ids)) > len(set(plain.token_ids))


def test_distilabel_transformers_llm_in_the_sampler(tiny_model_dir):
    from distilabel.models.llms import TransformersLLM

    from distilabel_magpie.generation import MagpieSampler

    step = MagpieSampler(llm=TransformersLLM(model=tiny_model_dir, device="cpu"), num_rows=3, max_new_tokens=6, seed=0)
    step.load()
    rows, last = next(step.process())
    assert last and len(rows) == 3
    assert all(r["instruction_status"] in {"ok", "truncated", "empty", "leaked_role", "duplicate"} for r in rows)
    assert rows[0]["distilabel_metadata"][f"magpie_{step.name}"]["prompt"] == step.magpie_template.pre_query()
