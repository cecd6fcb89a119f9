"""Faults between the engine and each real server (llama-cpp-python's, llama.cpp's llama-server),
injected by our own proxy: retries happen, every prompt gets exactly one answer (none lost, none
doubled), a server that never answers ends the run within the bounded wait with one line, and
one never reachable fails the load in seconds."""

import time

import pytest

from distilabel_magpie.engines import CompletionServerEngine, SamplingParams
from distilabel_magpie.errors import MagpieError
from distilabel_magpie.templates import get_preset

from .servers import FaultProxy, free_port

SMOLLM2 = get_preset("smollm2")
# prompts of different lengths, so each answer's prompt_tokens says which prompt it belongs to
PROMPTS = [SMOLLM2.response_prompt([{"role": "user", "content": "Name a colour." + " Please." * i}]) for i in range(6)]
GREEDY = SamplingParams(max_new_tokens=6, temperature=0.0)


def engine(url, **kwargs):
    llm = CompletionServerEngine(base_url=url, template="smollm2", **kwargs)
    llm.load()
    return llm


def test_faults_are_retried_and_every_prompt_gets_exactly_one_answer(any_server):
    faults = ["500", "429:1", "drop", "drop-after", "503"]
    with FaultProxy(any_server.url, faults) as proxy:
        llm = engine(proxy.url, max_concurrency=2, timeout=60)
        started = time.monotonic()
        out = llm.complete(PROMPTS, GREEDY)
        elapsed = time.monotonic() - started
        retries = llm.runner.http.retries
        lengths = [len(llm.tokenize(p)) for p in PROMPTS]
        llm.unload()
    assert len(out) == len(PROMPTS) and all(len(samples) == 1 for samples in out)
    assert all(c.error is None and c.finish_reason in ("stop", "length") for (c,) in out)
    assert [c.prompt_tokens for (c,) in out] == lengths  # each answer is its own prompt's
    assert retries == len(faults) and proxy.log.count("ok") == len(PROMPTS)
    assert proxy.forwarded == len(PROMPTS) + 1  # "drop-after": the server answered one prompt twice, kept once
    # The 429 said Retry-After: 1, and the retry of that request came no sooner.
    i = proxy.log.index("429:1")
    retry = next(j for j in range(i + 1, len(proxy.bodies)) if proxy.bodies[j]["prompt"] == proxy.bodies[i]["prompt"])
    assert proxy.times[retry] - proxy.times[i] >= 1.0 and elapsed >= 1.0


def test_a_slow_answer_times_out_and_is_retried(any_server):
    with FaultProxy(any_server.url, ["slow:4"]) as proxy:
        llm = engine(proxy.url, timeout=1.5)
        (c,), = llm.complete(PROMPTS[:1], GREEDY)
        retries = llm.runner.http.retries
        llm.unload()
    assert c.error is None and c.prompt_tokens > 0
    assert retries == 1 and proxy.log == ["slow:4", "ok"]


def test_a_server_that_never_answers_ends_the_run_within_the_bounded_wait(any_server):
    with FaultProxy(any_server.url, ["hang"] * 50) as proxy:
        llm = engine(proxy.url, timeout=1, max_retry_wait=3)
        started = time.monotonic()
        with pytest.raises(MagpieError, match="did not answer POST /v1/completions after .* no answer within 1 s") as e:
            llm.complete(PROMPTS[:2], GREEDY)
        elapsed = time.monotonic() - started
        llm.unload()
    assert "\n" not in str(e.value) and "max_retry_wait" in str(e.value)
    assert 3 <= elapsed < 3 + 1 + 4  # the budget, one last attempt, and slack for a loaded CI machine
    assert len(proxy.log) >= 3  # it did retry


def test_an_unreachable_server_is_a_one_line_error_within_seconds():
    """Never reachable at load (nothing listens on the port): a few seconds, not the retry budget."""
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    started = time.monotonic()
    with pytest.raises(MagpieError, match=f"no server answers at {url[:-3]}: connection refused") as e:
        CompletionServerEngine(base_url=url, max_retry_wait=120).load()
    assert time.monotonic() - started < 3 + 4 and "\n" not in str(e.value)
