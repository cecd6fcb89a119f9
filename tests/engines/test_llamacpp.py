"""The batched llama.cpp engine on the embedded SmolLM2-135M-Instruct: exact tokens, stops, n, limits."""

from __future__ import annotations

import pytest

from distilabel_magpie.engines.base import SamplingParams, repetition_end
from distilabel_magpie.errors import MagpieError

IM_START, IM_END, USER, NL = 1, 2, 4093, 198


def test_pre_query_token_ids_are_exact(llamacpp_engine):
    t = llamacpp_engine.own_template(default_system=False)
    assert llamacpp_engine.tokenize(t.pre_query()) == [IM_START, USER, NL]  # one <|im_start|>, nothing after "\n"


def test_token_ids_match_transformers_tokenizer_of_the_gguf(llamacpp_engine, embedded_model_path):
    """apply_chat_template(tokenize=True) semantics: the template text, no special tokens added."""
    from pathlib import Path

    from transformers import AutoTokenizer

    path = Path(embedded_model_path)
    tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    t = llamacpp_engine.own_template()
    for text in (t.pre_query(), t.pre_query("Be brief."), t.response_prompt([{"role": "user", "content": "Hi!"}])):
        ids = llamacpp_engine.tokenize(text)
        assert ids == tokenizer(text, add_special_tokens=False)["input_ids"]
        assert ids.count(IM_START) == text.count("<|im_start|>")  # no extra BOS anywhere
        assert ids[:2] != [IM_START, IM_START]


def test_n_samples_per_prompt_and_token_counts(llamacpp_engine):
    t = llamacpp_engine.own_template()
    params = SamplingParams(max_new_tokens=24, temperature=1.0, stop=tuple(t.query_stop), n=3, seed=7)
    out = llamacpp_engine.complete([t.pre_query(), t.pre_query("You are a math tutor.")], params)
    assert [len(samples) for samples in out] == [3, 3]
    for samples in out:
        assert len({c.text for c in samples}) > 1  # different seeds, shared prefill
        for c in samples:
            assert c.finish_reason in ("stop", "length")
            assert 1 <= c.completion_tokens <= 24
            assert c.prompt_tokens == len(llamacpp_engine.tokenize(t.pre_query() if samples is out[0] else
                                                                    t.pre_query("You are a math tutor.")))
            if c.finish_reason == "length":
                assert c.completion_tokens == 24


def test_seeds_are_fixed_per_prompt_position_and_sample():
    """Each sample's sampler seed depends on (seed, prompt position, sample index) only, not on
    batching. (Token-exact replay is not promised: llama.cpp's batched kernels may change
    low-order bits of the logits when other sequences share a decode step.)"""
    p = SamplingParams(seed=5, n=3)
    seeds = [p.sample_seed(i, j) for i in range(4) for j in range(3)]
    assert seeds == [SamplingParams(seed=5, n=3).sample_seed(i, j) for i in range(4) for j in range(3)]
    assert len(set(seeds)) == len(seeds)
    assert p.sample_seed(0, 0) != SamplingParams(seed=6).sample_seed(0, 0)


# Kernels for different batch shapes move this model's logits by up to ~0.25 here (batched
# prefill against token-by-token decoding), and differ between CPUs: tests compare a decoded
# token with the best one of a one-sequence reference within this margin, never bit for bit.
LOGIT_MARGIN = 1.0
DISTINCT_QUESTIONS = ["Name a fruit.", "Write a haiku about the sea.", "What is 2+2?",
                      "Translate 'hello' into French.", "List three colours.", "Explain gravity in one sentence."]


@pytest.fixture(scope="module")
def reference(embedded_model_path):
    """llama-cpp-python's own one-sequence evaluation (token by token, no flash attention)."""
    from llama_cpp import Llama

    return Llama(model_path=embedded_model_path, n_ctx=1024, n_batch=1, logits_all=True, flash_attn=False,
                 verbose=False)


def greedy_gaps(reference, prompt_tokens: list[int], generated: list[int]) -> list[float]:
    """For each generated token: how far its logit is below the reference's best token, with the
    same tokens before it (teacher forcing). 0 everywhere for an exact greedy decoder."""
    import numpy as np

    reference.reset()
    reference.eval(prompt_tokens + generated[:-1])
    scores = np.asarray(reference.scores[: len(prompt_tokens) + len(generated) - 1])
    rows = scores[len(prompt_tokens) - 1:]
    return [float(row.max() - row[token]) for row, token in zip(rows, generated)]


@pytest.mark.parametrize("n_parallel", [1, 3, 6])
def test_batched_greedy_decoding_follows_each_prompts_own_context(llamacpp_engine, reference, n_parallel):
    """Sequences decoded together (shared prefixes, the prompt cache, split KV buffers) each get
    the greedy continuation of their own prompt: every token is the reference's best one, within
    the kernel margin. The same check on another prompt's context fails, so it can catch
    sequences that read each other's cells."""
    from distilabel_magpie.engines.llamacpp import LlamaCppRunner

    t = llamacpp_engine.own_template()
    prompts = [t.response_prompt([{"role": "user", "content": q}]) for q in DISTINCT_QUESTIONS]
    runner = LlamaCppRunner(llamacpp_engine.runner.model, n_parallel=n_parallel, n_ctx=512)
    ours = runner.complete(prompts, SamplingParams(max_new_tokens=16, temperature=0.0))
    runner.close()
    tokens = [llamacpp_engine.tokenize(p) for p in prompts]
    for i, samples in enumerate(ours):
        generated = samples[0].token_ids
        assert generated and max(greedy_gaps(reference, tokens[i], generated)) <= LOGIT_MARGIN
    wrong = [max(greedy_gaps(reference, tokens[(i + 1) % len(prompts)], s[0].token_ids)) for i, s in enumerate(ours)]
    assert max(wrong) > LOGIT_MARGIN


SYSTEMS = ["You are a chef.", "You are a maths teacher.", "You are a travel agent.", "You are a poet.",
           "You are a doctor.", "You are a gardener."]


@pytest.mark.parametrize("n_parallel", [1, 4])
def test_continuous_queries_and_their_answers_follow_their_own_context(llamacpp_engine, reference, n_parallel):
    """`run` with follow-ups: each greedy query is answered in its slot on the cells it shares with
    the answer prompt, while other slots take new queries. Every query and answer token is the
    reference's best one for its own prompt, within the kernel margin; the same tokens checked
    against another row's answer prompt fail, so a sequence reading foreign or stale cells would
    be caught."""
    from distilabel_magpie.engines.base import Job
    from distilabel_magpie.engines.llamacpp import LlamaCppRunner

    t = llamacpp_engine.own_template()
    params = SamplingParams(max_new_tokens=12, temperature=0.0, stop=("\n",))
    done: dict[int, tuple] = {}

    def answer(i, query_prompt, query):
        prompt = t.response_prompt([{"role": "system", "content": SYSTEMS[i]},
                                    {"role": "user", "content": query.text.strip() or "Hi"}])
        return [Job(prompt, params, 0, then=lambda c: done.setdefault(i, (query_prompt, query, prompt, c)) and [])]

    runner = LlamaCppRunner(llamacpp_engine.runner.model, n_parallel=n_parallel, n_ctx=512)
    jobs = [Job(t.pre_query(s), params, 0, then=lambda c, i=i, s=s: answer(i, t.pre_query(s), c))
            for i, s in enumerate(SYSTEMS)]
    runner.run(jobs)
    runner.close()
    assert sorted(done) == list(range(len(SYSTEMS)))
    for i, (query_prompt, query, prompt, reply) in done.items():
        assert query.token_ids and reply.token_ids
        assert max(greedy_gaps(reference, llamacpp_engine.tokenize(query_prompt), query.token_ids)) <= LOGIT_MARGIN
        assert max(greedy_gaps(reference, llamacpp_engine.tokenize(prompt), reply.token_ids)) <= LOGIT_MARGIN
    wrong = [max(greedy_gaps(reference, llamacpp_engine.tokenize(done[(i + 1) % len(done)][2]), done[i][3].token_ids))
             for i in done]
    assert max(wrong) > LOGIT_MARGIN


def test_stop_string_cuts_text(llamacpp_engine):
    t = llamacpp_engine.own_template()
    prompt = t.response_prompt([{"role": "user", "content": "Count from 1 to 10, separated by commas."}])
    free = llamacpp_engine.complete([prompt], SamplingParams(max_new_tokens=40, temperature=0.0))[0][0]
    assert len(free.text) > 4
    stop = free.text[3:5]
    cut = llamacpp_engine.complete([prompt], SamplingParams(max_new_tokens=40, temperature=0.0, stop=(stop,)))[0][0]
    assert cut.finish_reason == "stop" and cut.stop_reason == stop
    assert cut.text == free.text[: free.text.index(stop)]


def test_special_token_stop_is_visible(llamacpp_engine):
    """<|im_start|> is a control token: it must still match as a stop string."""
    t = llamacpp_engine.own_template()
    prompt = t.response_prompt([{"role": "user", "content": "Hi"}]) + "Hello!<|im_end|>\n"
    c = llamacpp_engine.complete([prompt], SamplingParams(max_new_tokens=8, temperature=0.0, stop=("<|im_start|>",)))
    assert c[0][0].finish_reason == "stop"


def test_token_limit_is_length(llamacpp_engine):
    t = llamacpp_engine.own_template()
    c = llamacpp_engine.complete([t.pre_query()], SamplingParams(max_new_tokens=1, temperature=1.0, seed=1))[0][0]
    assert c.finish_reason in ("length", "stop") and c.completion_tokens == 1


def test_a_looping_sample_ends_at_its_third_repeat(llamacpp_engine):
    """Greedy continuation of a repeated pattern loops; the guard ends it where `repetition_end`
    says, with the same tokens as the unguarded run up to there."""
    t = llamacpp_engine.own_template()
    prompt = t.response_prompt([{"role": "user", "content": "Repeat after me forever: red green blue red green blue"}])
    prompt += "red green blue red green blue red green blue"
    free = llamacpp_engine.complete([prompt], SamplingParams(max_new_tokens=96, temperature=0.0))[0][0]
    end = repetition_end(free.token_ids, 6)
    assert end is not None and end < 96
    guarded = llamacpp_engine.complete([prompt], SamplingParams(max_new_tokens=96, temperature=0.0, repetition_ngram=6))
    c = guarded[0][0]
    assert c.finish_reason == "repetition" and c.token_ids == free.token_ids[:end] and c.completion_tokens == end


def test_repetition_penalty_applies_to_generated_tokens(llamacpp_engine):
    """A penalty so strong that any token generated before scores about 0 (positive logits are
    divided by it, negative ones multiplied): greedy decoding then never repeats a token inside
    the 64-token window, on any CPU. Without the penalty the same prompt repeats itself."""
    t = llamacpp_engine.own_template()
    prompt = t.response_prompt([{"role": "user", "content": "Repeat after me forever: red green blue"}])
    prompt += "red green blue red green blue red green blue"
    plain = llamacpp_engine.complete([prompt], SamplingParams(max_new_tokens=32, temperature=0.0))[0][0]
    strong = [llamacpp_engine.complete([prompt], SamplingParams(max_new_tokens=32, temperature=0.0,
                                                                repetition_penalty=1e4))[0][0] for _ in range(2)]
    ids = strong[0].token_ids
    assert strong[1].token_ids == ids  # still deterministic
    assert len(ids) == len(set(ids))
    assert ids != plain.token_ids
    with pytest.raises(ValueError, match="repetition_penalty"):
        SamplingParams(repetition_penalty=0.0)


def test_prompt_longer_than_context_is_an_error_completion(llamacpp_engine):
    long_prompt = "word " * 3000
    c = llamacpp_engine.complete([long_prompt], SamplingParams(max_new_tokens=4))[0][0]
    assert c.finish_reason == "error" and "does not fit" in c.error


def test_more_requests_than_slots_and_context(llamacpp_engine):
    """24 requests through 4 slots whose budgets do not all fit in the KV cache at once:
    everything comes back, in order."""
    from distilabel_magpie.engines.llamacpp import LlamaCppRunner

    t = llamacpp_engine.own_template()
    runner = LlamaCppRunner(llamacpp_engine.runner.model, n_parallel=4, n_ctx=256)
    prompts = [t.pre_query(f"Topic {i}.") for i in range(6)]
    out = runner.complete(prompts, SamplingParams(max_new_tokens=100, n=4, seed=3, stop=tuple(t.query_stop)))
    runner.close()
    assert len(out) == 6 and all(len(s) == 4 for s in out)
    assert all(c.finish_reason in ("stop", "length") for s in out for c in s)
    assert all(c.prompt_tokens == len(llamacpp_engine.tokenize(p)) for p, s in zip(prompts, out) for c in s)


def test_grammar_constrains_output(llamacpp_engine):
    t = llamacpp_engine.own_template()
    prompt = t.response_prompt([{"role": "user", "content": "Is the sky blue? Answer yes or no."}])
    c = llamacpp_engine.complete([prompt], SamplingParams(max_new_tokens=8, temperature=1.0, seed=2, n=3,
                                                          grammar='root ::= "yes" | "no"'))[0]
    assert {x.text for x in c} <= {"yes", "no"}


def test_missing_model_file():
    from distilabel_magpie.engines.llamacpp import LlamaCppEngine

    with pytest.raises(MagpieError, match="does not exist"):
        LlamaCppEngine(model_path="/nonexistent/model.gguf").load()


def test_min_p_near_one_samples_the_best_token(llamacpp_engine, reference):
    """min_p 0.999 keeps only tokens within 0.1 % of the top probability: sampling at T=1 then
    picks the best token at every step (within the kernel margin); without min_p samples differ."""
    t = llamacpp_engine.own_template()
    prompt = t.response_prompt([{"role": "user", "content": "Name three colours."}])
    tokens = llamacpp_engine.tokenize(prompt)
    sampled = llamacpp_engine.complete([prompt], SamplingParams(max_new_tokens=16, temperature=1.0, min_p=0.999,
                                                                n=3, seed=3))[0]
    for c in sampled:
        assert max(greedy_gaps(reference, tokens, c.token_ids)) <= LOGIT_MARGIN
    free = llamacpp_engine.complete([prompt], SamplingParams(max_new_tokens=24, temperature=1.0, n=3, seed=3))[0]
    assert len({c.text for c in free}) > 1
    with pytest.raises(ValueError, match="min_p must be in"):
        SamplingParams(min_p=1.0)


def test_n_parallel_default_follows_the_model_size(embedded_model_path):
    """16 sequences for small models, 32 from 1B to 4B parameters (measured), 16 above."""
    from types import SimpleNamespace

    from distilabel_magpie.engines.llamacpp import LlamaCppEngine, default_parallel

    sized = lambda n: SimpleNamespace(n_params=lambda: n)  # noqa: E731
    assert [default_parallel(sized(n)) for n in (135e6, 1.5e9, 3.8e9, 8e9)] == [16, 32, 32, 16]
    engine = LlamaCppEngine(model_path=embedded_model_path, n_ctx=256)
    engine.load()
    try:
        assert engine.n_parallel is None and engine.runner.n_parallel == 16  # SmolLM2-135M
    finally:
        engine.unload()


# -- label probabilities (a judge's expected rating) --------------------------------------------------

YES_NO = ("yes", "no", "maybe")


def test_probe_before_the_first_token_is_the_models_own_distribution(llamacpp_engine, reference):
    """The probe is the softmax of the model's logits over the labels' first tokens, as a
    one-sequence reference computes it (within the kernel margin), the same for every sample of a
    prompt (they share its prefill), and taking it changes no sampled token."""
    import math

    import numpy as np

    prompt = llamacpp_engine.own_template().response_prompt(
        [{"role": "user", "content": "Is the sky blue? Answer yes or no."}])
    plain = SamplingParams(max_new_tokens=6, temperature=1.0, seed=3, n=3)
    probed = SamplingParams(max_new_tokens=6, temperature=1.0, seed=3, n=3, probe_labels=YES_NO)
    without, with_probe = llamacpp_engine.complete([prompt], plain)[0], llamacpp_engine.complete([prompt], probed)[0]
    assert [c.token_ids for c in with_probe] == [c.token_ids for c in without]
    assert all(c.probe is None for c in without)
    probe = with_probe[0].probe
    assert len(probe) == 3 and math.isclose(sum(probe), 1.0, abs_tol=1e-9)
    assert all(c.probe == probe for c in with_probe)
    ids = [llamacpp_engine.tokenize(label)[0] for label in YES_NO]
    tokens = llamacpp_engine.tokenize(prompt)
    reference.reset()
    reference.eval(tokens)
    logits = np.asarray(reference.scores[len(tokens) - 1])[ids]
    for i in range(1, 3):  # log-odds against "yes", ours and the reference's
        assert abs(math.log(probe[i] / probe[0]) - float(logits[i] - logits[0])) <= LOGIT_MARGIN


def test_probe_after_a_pattern_in_the_generated_text(llamacpp_engine):
    prompt = llamacpp_engine.own_template().response_prompt(
        [{"role": "user", "content": "Is the sky blue? Answer yes or no."}])
    grammar = 'root ::= "Answer: " ("yes" | "no")'
    found = llamacpp_engine.complete([prompt], SamplingParams(
        max_new_tokens=8, temperature=0, grammar=grammar, probe_after=r"Answer:\s*", probe_labels=YES_NO))[0][0]
    assert found.text in ("Answer: yes", "Answer: no") and found.probe is not None
    assert abs(sum(found.probe) - 1) < 1e-9
    never = llamacpp_engine.complete([prompt], SamplingParams(
        max_new_tokens=8, temperature=0, grammar=grammar, probe_after="Verdict:", probe_labels=YES_NO))[0][0]
    assert never.text == found.text and never.probe is None


def test_probe_labels_must_differ_in_their_first_token(llamacpp_engine):
    with pytest.raises(MagpieError, match="probe labels 'very poor' and 'very good' begin with the same token"):
        llamacpp_engine.complete(["Rate it:"], SamplingParams(max_new_tokens=2, probe_labels=("very poor", "very good")))
    with pytest.raises(ValueError, match="probe_after is not a regular expression"):
        SamplingParams(probe_after="(unclosed")
