"""The completion-server engine against both real llama.cpp servers, llama-cpp-python's and
llama.cpp's own C++ `llama-server` (built by scripts/install_llama_server.py): stops on role
markers that are special tokens, one HTTP request per completion, and readable load failures."""

import json
import time
import urllib.request

import pytest

from distilabel_magpie.engines import CompletionServerEngine, SamplingParams
from distilabel_magpie.errors import MagpieError
from distilabel_magpie.generation.cleaning import LEAKED_ROLE, OK, clean_query
from distilabel_magpie.templates import get_preset

from .servers import FaultProxy, free_port

SMOLLM2 = get_preset("smollm2")
# A finished user turn: what the model writes next is the next turn's header, "<|im_start|>assistant\n"
# (<|im_start|> is a special token but not an end-of-generation one, unlike <|im_end|>).
ENDED_TURN = SMOLLM2.pre_query() + "Hi<|im_end|>\n"


def engine(url, **kwargs):
    llm = CompletionServerEngine(base_url=url, template="smollm2", **kwargs)
    llm.load()
    return llm


def test_a_query_that_runs_into_a_role_marker_is_stopped_or_flagged(any_server):
    """llama-server gets the stops as preserved tokens, so `<|im_start|>` is text and the stop
    string fires; llama-cpp-python renders special tokens as empty text (no way to stop on one),
    so the header arrives as a bare "assistant" line and the query is flagged."""
    llm = engine(any_server.url)
    params = SamplingParams(max_new_tokens=16, temperature=0.0, stop=tuple(SMOLLM2.query_stop))
    (c,), = llm.complete([ENDED_TURN], params)
    dialect = llm.runner.dialect.name
    llm.unload()
    text, status = clean_query(c, SMOLLM2)
    if dialect == "llama.cpp":  # stopped at the first token, <|im_start|> (its answer names no stop word)
        assert (c.text, c.finish_reason, c.completion_tokens) == ("", "stop", 1), c
        # without preserved tokens the same request runs on: the stop string never matches
        body = {"prompt": ENDED_TURN, "max_tokens": 16, "temperature": 0.0, "stop": list(SMOLLM2.query_stop)}
        req = urllib.request.Request(f"{any_server.url}/completions", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            (plain,) = json.loads(r.read())["choices"]
        assert plain["text"].startswith("assistant\n"), plain  # the header went by, printed as nothing
    else:
        assert c.text.startswith("assistant\n"), c  # the special token itself rendered as nothing
        assert status == LEAKED_ROLE, (c, text, status)
    assert status != OK and "assistant" not in text


@pytest.mark.parametrize("repetition_ngram", [0, 4])
def test_the_engine_sends_one_request_per_completion(any_server, repetition_ngram):
    """Counted at the server: after load, each completion is one POST /v1/completions and nothing
    else (no /tokenize): counts come from `usage`, ids (for the loop check) from the answer."""
    prompts = [SMOLLM2.response_prompt([{"role": "user", "content": f"Name {k} colours."}]) for k in range(2, 6)]
    with FaultProxy(any_server.url) as proxy:
        llm = engine(proxy.url, max_concurrency=4)
        kind = llm.runner.dialect.name
        if kind == "llama-cpp-python" and repetition_ngram:
            llm.unload()
            pytest.skip("llama-cpp-python returns no token ids: its samples that ran to the limit are tokenized")
        loaded = len(proxy.requests)
        out = llm.complete(prompts, SamplingParams(max_new_tokens=12, temperature=0.0, repetition_ngram=repetition_ngram,
                                                   stop=tuple(SMOLLM2.response_stop)))
        llm.unload()
    during = proxy.requests[loaded:]
    assert during == [("POST", "/v1/completions")] * len(prompts), during
    assert all(c.error is None and c.completion_tokens > 0 and c.prompt_tokens > 0 for (c,) in out)
    if kind == "llama.cpp" and repetition_ngram:  # ids from the answer's per-token logprobs
        assert all(len(c.token_ids) == c.completion_tokens for (c,) in out)


def test_a_server_never_started_fails_the_load_in_seconds_with_the_url():
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there; no /v1 either
    started = time.monotonic()
    with pytest.raises(MagpieError) as e:
        CompletionServerEngine(base_url=url, template="smollm2").load()  # default retry budget: 120 s
    elapsed = time.monotonic() - started
    message = str(e.value)
    assert message.startswith(f"no server answers at {url}: connection refused") and "\n" not in message
    assert "fix the host and port of base_url" in message
    assert elapsed < 8


def test_a_wrong_path_says_so(any_server):
    root = any_server.url[: -len("/v1")]
    with pytest.raises(MagpieError, match=r"a server answers at .* but not at .*/nope/v1 .*check the path") as e:
        CompletionServerEngine(base_url=f"{root}/nope/v1", template="smollm2", max_retry_wait=2).load()
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("given", ["{root}", "{root}/", "{root}/v1/", "{root}/v1/completions",
                                   "{root}/v1/chat/completions", "{hostport}"])
def test_base_url_is_normalised(given):
    from distilabel_magpie.engines.server_runner import normalise_base_url

    root = "http://gpu-node:8000"
    assert normalise_base_url(given.format(root=root, hostport="gpu-node:8000")) == f"{root}/v1"


def test_an_outage_is_logged_once_with_its_wait_and_its_end(llama_server, caplog):
    import logging

    prompts = [SMOLLM2.response_prompt([{"role": "user", "content": "Name a colour."}])] * 3
    with FaultProxy(llama_server.url, ["503", "503", "503", "503"]) as proxy:
        llm = engine(proxy.url, max_concurrency=1)
        with caplog.at_level(logging.WARNING, logger="distilabel_magpie.engines.server"):
            out = llm.complete(prompts, SamplingParams(max_new_tokens=4, temperature=0.0))
        llm.unload()
    assert all(c.error is None for (c,) in out)
    lines = [r.getMessage() for r in caplog.records]
    waiting = [m for m in lines if "waiting for it" in m]
    back = [m for m in lines if "answers again after" in m]
    assert len(waiting) == 1 and "HTTP 503" in waiting[0] and "up to 120 s" in waiting[0], lines
    assert len(back) == 1, lines
