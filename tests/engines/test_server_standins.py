"""The completion-server engine against stand-ins for servers that cannot run here (vLLM,
SGLang, TGI, llama-server need GPUs or binaries this machine lacks). The stand-ins are NOT the
real servers: they answer in the documented request/response formats and record what they
get, so these tests check what the engine sends (token ids, fields) and how it reads answers."""

import json
import logging

import pytest

from distilabel_magpie.engines import CompletionServerEngine, SamplingParams
from distilabel_magpie.errors import MagpieError
from distilabel_magpie.generation.cleaning import clean_query
from distilabel_magpie.scoring import MagpieJudge
from distilabel_magpie.scoring.judge import schema_for
from distilabel_magpie.templates import get_preset

from .servers import ChatOnly, StandIn

SMOLLM2 = get_preset("smollm2")
IM_END, IM_START, ENDOFTEXT = 2, 1, 0  # SmolLM2's special token ids


def engine(url, **kwargs):
    llm = CompletionServerEngine(base_url=url, max_retry_wait=2, **kwargs)
    llm.load()
    return llm


def looping(ids, body, i):
    """A "model" whose samples are: an answer that stops, a loop to the token limit, and a loop
    the server itself cut short (vLLM's repetition_detection)."""
    return [("Hi there.", "stop"), ("la la la la " * 8, "length"), ("no no no", "repetition")][i % 3]


def test_vllm_standin_gets_our_exact_token_ids_and_every_sampling_field(vocab, embedded_model_path):
    """With a local tokenizer the prompt goes as our token ids (no request of its own)."""
    with StandIn("vllm", vocab, looping) as server:
        llm = engine(server.url, template="smollm2", tokenizer=embedded_model_path)
        assert llm.runner.dialect.name == "vllm" and llm.runner.sends_ids
        prompt = SMOLLM2.pre_query()
        params = SamplingParams(max_new_tokens=64, n=3, seed=3, min_p=0.02, repetition_penalty=1.1,
                                stop=tuple(SMOLLM2.query_stop), repetition_ngram=4)
        (samples,) = llm.complete([prompt], params)
        llm.unload()
    (body,) = server.completions()  # n samples in one request: one prefill
    assert [p for m, p, b in server.requests if p != "/v1/models"] == ["/v1/completions"] * 2  # probe, request
    assert body["prompt"] == vocab(prompt) == server.seen[0]  # token ids: the server adds no BOS
    assert server.seen[0][:2] == [IM_START, 9690]  # one <|im_start|> (SmolLM2's BOS), then "system"
    assert body["n"] == 3 and body["seed"] == params.sample_seed(0, 0) and body["max_tokens"] == 64
    assert (body["top_k"], body["min_p"], body["repetition_penalty"], body["top_p"]) == (-1, 0.02, 1.1, 1.0)
    assert body["stop"] == list(SMOLLM2.query_stop) and set(body["stop_token_ids"]) == {IM_START, IM_END, ENDOFTEXT}
    assert body["skip_special_tokens"] is False and body["spaces_between_special_tokens"] is False
    assert body["return_token_ids"] is True
    assert body["repetition_detection"] == {"min_pattern_size": 4, "max_pattern_size": 16, "min_count": 3}
    stop, loop, cut = samples
    assert (stop.text, stop.finish_reason, stop.completion_tokens) == ("Hi there.", "stop", len(vocab("Hi there.")))
    assert loop.finish_reason == "repetition"  # ran to the limit in a loop: flagged after the fact
    assert cut.finish_reason == "repetition"  # ended by the server
    assert all(s.prompt_tokens == len(vocab(prompt)) for s in samples)


def test_vllm_standin_would_add_a_bos_to_a_string_prompt_so_it_never_gets_one(vocab):
    """What the engine avoids: a string prompt gets the tokenizer's BOS in front of the
    template's own (here the stand-in's answer to a string shows the double BOS). Without a
    local tokenizer the prompt goes as text with the template's BOS taken off (what the server
    adds is asked once, at load), so the model still sees one."""
    with StandIn("vllm", vocab, looping) as server:
        llm = engine(server.url, template="smollm2")
        llm.complete([SMOLLM2.pre_query(), SMOLLM2.pre_query("Be brief.")], SamplingParams(max_new_tokens=8))
        llm.unload()
        import urllib.request

        req = urllib.request.Request(f"{server.url}/completions", data=json.dumps(
            {"prompt": SMOLLM2.pre_query(), "max_tokens": 5}).encode(), headers={"Content-Type": "application/json"})
        urllib.request.urlopen(req, timeout=10).read()
    ours, direct = server.seen[:2], server.seen[2]
    assert [b["prompt"] for b in server.completions()[:2]] == [
        p[len("<|im_start|>"):] for p in (SMOLLM2.pre_query(), SMOLLM2.pre_query("Be brief."))]
    assert ours == [vocab(SMOLLM2.pre_query()), vocab(SMOLLM2.pre_query("Be brief."))]
    assert all(ids[:2] != [IM_START, IM_START] for ids in ours)
    assert direct[:2] == [IM_START, IM_START]


@pytest.mark.parametrize("kind", ["vllm", "sglang"])
def test_judge_schema_goes_in_each_servers_own_field(vocab, kind):
    answer = json.dumps({"input_quality": "good", "explanation": "Clear."})
    with StandIn(kind, vocab, lambda ids, body, i: (answer, "stop")) as server:
        judge = MagpieJudge(name="judge", llm=CompletionServerEngine(base_url=server.url, template="smollm2"),
                            tags=["quality"], max_new_tokens=32)
        judge.load()
        (row,) = next(judge.process([{"instruction": "How do I boil an egg?", "instruction_status": "ok"}]))
        judge.llm.unload()
    (body,) = server.completions()
    assert row["judge_status"] == "ok" and row["quality"] == "good"
    if kind == "vllm":
        schema = json.loads(schema_for("quality"))
        assert body["response_format"] == {"type": "json_schema", "json_schema": {"name": "output", "schema": schema}}
    else:
        assert body["json_schema"] == schema_for("quality")  # SGLang takes the schema as a string


def test_llama_server_standin_template_from_props_ids_and_n_as_seeded_requests(vocab):
    from conftest import FIXTURES

    props = {"chat_template": FIXTURES["smollm2-135m-instruct"]["chat_template"], "bos_token": "<|im_start|>",
             "eos_token": "<|im_end|>", "total_slots": 3}
    with StandIn("llama.cpp", vocab, lambda ids, body, i: ("Why is the sky blue?", "stop"), props=props) as server:
        llm = engine(server.url)  # no template given: read from /props
        template, kind, in_flight = llm.own_template(), llm.runner.dialect.name, llm.runner.http.max_concurrency
        params = SamplingParams(max_new_tokens=16, n=2, seed=1, repetition_penalty=1.2)
        (samples,) = llm.complete([template.pre_query()], params)
        llm.unload()
    assert kind == "llama.cpp" and template.name == "smollm2" and in_flight == 6  # two per decoding slot
    bodies = server.completions()
    assert len(bodies) == 2 and len(samples) == 2  # llama-server refuses n > 1: one request per sample
    assert sorted(b["seed"] for b in bodies) == sorted(params.sample_seed(0, i) for i in range(2))
    for body in bodies:  # text, the BOS the server adds taken off: it sees exactly the template's tokens
        assert body["prompt"] == template.pre_query()[len("<|im_start|>"):] and "n" not in body
        assert (body["top_k"], body["repeat_penalty"], body["repeat_last_n"]) == (0, 1.2, 64)
    assert server.seen == [vocab(template.pre_query())] * 2
    # /tokenize only at load and for the BOS text: what the server adds ("a", "Z"), and the BOS itself
    tokenize_calls = [b for m, p, b in server.requests if p == "/tokenize"]
    assert [(b["content"], b["add_special"]) for b in tokenize_calls] == [("a", True), ("Z", True),
                                                                         ("<|im_start|>", False)]
    assert all(b["parse_special"] is True for b in tokenize_calls)


def test_tgi_standin_text_prompts_lose_the_bos_the_server_adds_back(vocab, caplog):
    """TGI takes strings only and adds the tokenizer's BOS; it takes at most 4 stop strings."""
    stops = tuple(SMOLLM2.query_stop) + ("\n\n", "Assistant:", "STOP-5")
    with StandIn("tgi", vocab, lambda ids, body, i: ("Tell me a joke. STOP-5 and more", "length")) as server:
        llm = engine(server.url, template="smollm2")
        kind, added = llm.runner.dialect.name, llm.runner.added
        prompt = SMOLLM2.pre_query()
        with caplog.at_level(logging.WARNING, logger="distilabel_magpie.engines.server"):
            (samples,) = llm.complete([prompt], SamplingParams(max_new_tokens=16, n=2, min_p=0.1, stop=stops))
        llm.unload()
    assert kind == "tgi" and added == [IM_START]
    bodies = server.completions()
    assert len(bodies) == 2
    for body in bodies:
        assert body["prompt"] == prompt[len("<|im_start|>"):]  # the server puts the BOS back
        assert len(body["stop"]) == 4 and "top_p" not in body and "min_p" not in body and "n" not in body
    assert all(ids == vocab(prompt) for ids in server.seen)  # exactly the template's tokens, one BOS
    assert [(s.text, s.finish_reason, s.stop_reason) for s in samples] == [("Tell me a joke. ", "stop", "STOP-5")] * 2
    assert "ignores min_p=0.1" in caplog.text


@pytest.mark.parametrize("status,message", [
    (404, "This is a chat model and not supported in the v1/completions endpoint. Did you mean to use "
          "v1/chat/completions?"),  # OpenAI's API for a chat model
    (404, "404 page not found"),  # Ollama's OpenAI layer
    (400, "Completions are not supported by this gateway, use chat completions"),
])
def test_chat_only_endpoints_are_refused_at_load_with_one_line(status, message):
    with ChatOnly(status, message) as server:
        with pytest.raises(MagpieError, match="offers no raw completions.*only offers chat") as e:
            CompletionServerEngine(base_url=server.url).load()
    assert "\n" not in str(e.value) and server.chat_calls == 0


def test_bad_settings_are_one_line_errors(vocab):
    with StandIn("vllm", vocab, looping) as server:
        cases = [(dict(server="vlm"), "server must be one of"), (dict(model="other"), "is not served"),
                 (dict(tokenizer="/nonexistent/tokenizer"), "cannot load a tokenizer")]
        for kwargs, message in cases:
            with pytest.raises(MagpieError, match=message) as e:
                engine(server.url, **kwargs)
            assert "\n" not in str(e.value)
        llm = engine(server.url)  # a vLLM server does not expose its chat template
        with pytest.raises(MagpieError, match="set the engine's template to a preset") as e:
            llm.own_template()
        llm.unload()


ROLE_LEAK = "What is 2+2?<|im_start|>assistant\nFour."  # a query that ran on into the next turn


@pytest.mark.parametrize("kind", ["vllm", "sglang", "llama.cpp", "tgi"])
def test_each_dialect_is_told_how_to_stop_on_a_role_marker(vocab, kind):
    """vLLM/SGLang: special tokens kept in the text and stop token ids; llama-server: the stops
    as preserved tokens (else it renders them empty); TGI: neither exists. A marker that comes
    back as text is cut here; one rendered empty (a bare "assistant" line) flags the query."""
    props = {"chat_template": "{{ bos_token }}", "bos_token": "<|im_start|>", "total_slots": 1}
    stops = tuple(SMOLLM2.query_stop)
    answers = iter([(ROLE_LEAK, "length"), (ROLE_LEAK.replace("<|im_start|>", ""), "length")])
    with StandIn(kind, vocab, lambda ids, body, i: next(answers), props=props) as server:
        llm = engine(server.url, template="smollm2")
        out = [llm.complete([SMOLLM2.pre_query()], SamplingParams(max_new_tokens=16, stop=stops, seed=k))[0][0]
               for k in range(2)]
        llm.unload()
    body = server.completions()[0]
    assert "<|im_start|>" in stops and body["stop"] == list(stops)[:4]
    if kind in ("vllm", "sglang"):
        assert IM_START in body["stop_token_ids"] and body["skip_special_tokens"] is False
    if kind == "llama.cpp":
        assert body["preserved_tokens"] == list(stops) and "stop_token_ids" not in body
    if kind == "tgi":
        assert "preserved_tokens" not in body and "stop_token_ids" not in body
    as_text, rendered_empty = out
    assert (as_text.text, as_text.finish_reason, as_text.stop_reason) == ("What is 2+2?", "stop", "<|im_start|>")
    assert clean_query(as_text, SMOLLM2) == ("What is 2+2?", "ok")
    assert clean_query(rendered_empty, SMOLLM2) == ("What is 2+2?", "leaked_role")


def test_sft_rows_in_one_continuous_stream_of_requests_are_the_batch_rows(vocab, monkeypatch):
    """On a server, a query's answer is sent as soon as the query returns, before queries not yet
    sent (2 in flight here), with the seeds and prompts of the query-then-answer path: the same
    rows from the same requests, in another order."""
    from distilabel_magpie.engines.server_runner import ServerRunner
    from distilabel_magpie.generation import MagpieSFTGenerator

    user_slot = vocab("<|im_start|>user\n")

    def script(ids, body, i):
        if ids[-len(user_slot):] == user_slot:  # a query prompt: some repeats, one runaway
            return [("What is 2+2?", "stop"), ("Name a fruit.", "stop"), ("Count to ten " * 4, "length")][
                body["seed"] % 3]
        return (f"Answer {body['seed'] % 97}.", "stop")

    def run(server):
        step = MagpieSFTGenerator(name="sft", llm=CompletionServerEngine(base_url=server.url, max_concurrency=2),
                                  template="smollm2", num_rows=8, batch_size=8, seed=4, max_new_tokens=16)
        step.load()
        try:
            return [r for rows, _ in step.process() for r in rows]
        finally:
            step.llm.unload()

    def kind(body):
        return "query" if body["prompt"].endswith("user\n") else "answer"

    with StandIn("vllm", vocab, script) as server:
        streamed, streamed_bodies = run(server), server.completions()
    with StandIn("vllm", vocab, script) as server:
        monkeypatch.delattr(ServerRunner, "run")  # the engine has no continuous batch: query then answer
        batched, batched_bodies = run(server), server.completions()
    fields = ("row_index", "instruction", "instruction_status", "response", "response_status")
    assert [[r[f] for f in fields] for r in streamed] == [[r[f] for f in fields] for r in batched]
    assert {r["instruction_status"] for r in streamed} >= {"ok", "duplicate", "truncated"}
    sent = lambda bodies, k: sorted((b["prompt"], b["seed"]) for b in bodies if kind(b) == k)  # noqa: E731
    assert sent(streamed_bodies, "query") == sent(batched_bodies, "query")
    # every answer of the batch path, plus at most one per duplicate: a query answered as it
    # ended, before a lower row with the same text did (that answer is dropped from the rows)
    extra = sent(streamed_bodies, "answer")
    for body in sent(batched_bodies, "answer"):
        extra.remove(body)
    assert len(extra) <= sum(r["instruction_status"] == "duplicate" for r in streamed)
    order = [kind(b) for b in streamed_bodies]
    assert order.index("answer") < len(order) - 1 - order[::-1].index("query")  # answers go out between queries
    order = [kind(b) for b in batched_bodies]
    assert order.index("answer") > len(order) - 1 - order[::-1].index("query")
