"""The completion-server engine against the real llama-cpp-python server on the embedded model
(a string-only server: the prompt goes as text, checked against the server's own tokenization)."""

import json
import urllib.request
from pathlib import Path

import pytest

from distilabel_magpie.engines import CompletionServerEngine, SamplingParams, engine_for
from distilabel_magpie.errors import MagpieError
from distilabel_magpie.generation import MagpieResponder
from distilabel_magpie.scoring import MagpieJudge
from distilabel_magpie.scoring.parsing import QUALITY_LEVELS

from .servers import FaultProxy

BOS = 1  # SmolLM2's BOS, <|im_start|>
QUERIES = ["What is the capital of France?", "Write a haiku about rain.", "How do I sort a list in Python?"]


def server_tokens(server_url: str, text: str) -> list[int]:
    """llama-cpp-python's own tokenization (what its /v1/completions does to a string prompt)."""
    root = server_url[: -len("/v1")]
    req = urllib.request.Request(f"{root}/extras/tokenize", data=json.dumps({"input": text}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())["tokens"]


@pytest.fixture(scope="module")
def engine(llama_server):
    llm = CompletionServerEngine(base_url=llama_server.url, max_concurrency=4)
    llm.load()
    yield llm
    llm.unload()


def test_server_is_detected_and_its_template_comes_from_the_served_gguf(engine, llamacpp_engine):
    runner = engine.runner
    assert runner.dialect.name == "llama-cpp-python" and not runner.sends_ids
    assert runner.added == []  # SmolLM2's GGUF says add_bos_token=false: the server adds nothing
    assert runner.http.max_concurrency == 2  # it decodes one request at a time: one running, one waiting
    assert engine.own_template().name == llamacpp_engine.own_template().name == "smollm2"
    assert engine.own_template().pre_query() == llamacpp_engine.own_template().pre_query()


def test_the_server_sees_exactly_our_token_ids_without_a_second_bos(engine, llamacpp_engine, llama_server):
    t = llamacpp_engine.own_template()
    prompts = [t.pre_query(), t.pre_query("You are a math tutor."),
               t.response_prompt([{"role": "user", "content": QUERIES[0]}])]
    out = engine.complete(prompts, SamplingParams(max_new_tokens=4, temperature=0.0))
    for prompt, (completion,) in zip(prompts, out):
        ours = llamacpp_engine.tokenize(prompt)  # the in-process engine's exact ids
        assert server_tokens(llama_server.url, prompt) == ours == engine.tokenize(prompt)
        assert ours[0] == BOS and ours[1] != BOS
        assert completion.prompt_tokens == len(ours)  # the server's usage.prompt_tokens
        assert completion.finish_reason in ("stop", "length") and completion.error is None


def test_answers_over_http_equal_the_in_process_answers_greedy(engine, llamacpp_engine):
    """Our responder step, greedy, on the same queries: through the server and in process.
    Both decode with llama.cpp from the same token ids, one greedy token at a time. With the
    loop guard off both write the same tokens; with it on, the in-process engine stops a loop
    as soon as it sees one while the server writes to the limit and the engine flags it after:
    same status, and the in-process text is where the server's text begins."""
    rows = [{"instruction": q, "instruction_status": "ok"} for q in QUERIES]

    def answers(llm, ngram):
        step = MagpieResponder(name="answer", llm=llm, max_new_tokens=48, temperature=0.0, repetition_ngram=ngram)
        step.load()
        return [(r["response"], r["response_status"]) for r in next(step.process([dict(r) for r in rows]))]

    assert answers(engine, 0) == answers(llamacpp_engine, 0)
    guarded_http, guarded_local = answers(engine, 16), answers(llamacpp_engine, 16)
    for (http_text, http_status), (local_text, local_status) in zip(guarded_http, guarded_local):
        assert http_status == local_status and http_text.startswith(local_text) and local_text


def test_every_sampling_field_is_sent_and_n_is_fanned_out_with_per_sample_seeds(llama_server):
    """llama-cpp-python defaults to top_k=40, min_p=0.05, repeat_penalty=1.1 and returns one
    choice whatever n is: the engine sends explicit values and n seeded requests."""
    with FaultProxy(llama_server.url) as proxy:
        llm = CompletionServerEngine(base_url=proxy.url, template="smollm2")
        llm.load()
        params = SamplingParams(max_new_tokens=6, temperature=1.0, top_p=0.9, min_p=0.05, n=3, seed=7,
                                repetition_penalty=1.1, stop=("<|im_end|>",))
        (samples,) = llm.complete([llm.own_template().pre_query()], params)
        llm.unload()
    assert len(samples) == 3 and all(c.finish_reason in ("stop", "length") for c in samples)
    assert len(proxy.bodies) == 3
    assert sorted(b["seed"] for b in proxy.bodies) == sorted(params.sample_seed(0, i) for i in range(3))
    for body in proxy.bodies:
        assert isinstance(body["prompt"], str) and "n" not in body
        assert (body["top_k"], body["min_p"], body["top_p"], body["repeat_penalty"]) == (0, 0.05, 0.9, 1.1)
        assert body["stop"] == ["<|im_end|>"] and body["max_tokens"] == 6 and body["temperature"] == 1.0


def test_judge_over_the_server_is_constrained_to_the_schema(llama_server):
    """The judge hands the engine a JSON schema; for this server the engine sends GBNF."""
    with FaultProxy(llama_server.url) as proxy:
        judge = MagpieJudge(name="judge", llm=CompletionServerEngine(base_url=proxy.url), tags=["quality"],
                            max_new_tokens=16)
        judge.load()
        rows = next(judge.process([{"instruction": q, "instruction_status": "ok"} for q in QUERIES[:2]]))
        judge.llm.unload()
    assert [r["judge_status"] for r in rows] == ["ok", "ok"], [r["judge_error"] for r in rows]
    assert all(r["quality"] in QUALITY_LEVELS for r in rows)
    assert all("input_quality" in b["grammar"] for b in proxy.bodies)


def test_distilabels_client_vllm_is_driven_through_the_engine(llama_server, embedded_model_path, tmp_path):
    from distilabel.models.llms import ClientvLLM
    from transformers import AutoTokenizer

    from distilabel_magpie.generation import MagpieSampler

    gguf = Path(embedded_model_path)
    AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name).save_pretrained(tmp_path / "tok")
    client = ClientvLLM(base_url=llama_server.url, tokenizer=str(tmp_path / "tok"))
    step = MagpieSampler(name="queries", llm=client, num_rows=2, max_new_tokens=16, seed=0)
    step.load()
    engine = engine_for(client)
    assert type(engine).__name__ == "ClientvLLMAdapter"
    t = engine.own_template()
    assert t.pre_query() == "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by " \
                            "Hugging Face<|im_end|>\n<|im_start|>user\n"
    assert engine.tokenize(t.pre_query()) == server_tokens(llama_server.url, t.pre_query())
    rows, last = next(step.process())
    assert last and len(rows) == 2 and all(r["instruction_status"] for r in rows)
    assert all(r["distilabel_metadata"]["magpie_queries"]["prompt"] == t.pre_query() for r in rows)


def test_a_missing_key_a_wrong_key_and_an_unset_variable_are_one_line_errors(keyed_server, monkeypatch):
    server, key = keyed_server
    monkeypatch.delenv("MAGPIE_TEST_KEY", raising=False)
    cases = [(None, "needs an API key"), ("MAGPIE_TEST_KEY", "is not set")]
    for env, message in cases:
        with pytest.raises(MagpieError, match=message) as e:
            CompletionServerEngine(base_url=server.url, api_key_env=env, max_retry_wait=1).load()
        assert "\n" not in str(e.value)
    monkeypatch.setenv("MAGPIE_TEST_KEY", "sk-wrong")
    with pytest.raises(MagpieError, match="refused the API key") as e:
        CompletionServerEngine(base_url=server.url, api_key_env="MAGPIE_TEST_KEY").load()
    assert "sk-wrong" not in str(e.value) and key not in str(e.value)
    monkeypatch.setenv("MAGPIE_TEST_KEY", key)
    llm = CompletionServerEngine(base_url=server.url, api_key_env="MAGPIE_TEST_KEY")
    llm.load()
    assert llm.complete(["<|im_start|>user\n"], SamplingParams(max_new_tokens=2))[0][0].finish_reason != "error"
    assert key not in json.dumps(llm.dump())
    llm.unload()
