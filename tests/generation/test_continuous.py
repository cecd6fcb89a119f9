"""Queries and answers in one continuous batch: the same rows as the query-then-answer path,
whatever order the sequences end in (a stand-in engine), and on the embedded model."""

from __future__ import annotations

import logging
import random

import pytest

from distilabel_magpie.engines.base import Completion, CompletionEngine, Job
from distilabel_magpie.engines.llamacpp import LlamaCppEngine
from distilabel_magpie.generation import MagpieSFTGenerator, MagpieSFTStep

# Queries picked by seed: repeats (one differing only in case and spacing), an empty one, one
# that hits the token limit.
QUERIES = ["What is 2+2?", "Name a fruit.", "what is  2+2?", "", "Write a poem about the sea.", "Count to ten."]


def reply(prompt: str, seed: int) -> Completion:
    """A completion that depends on the prompt and the seed only."""
    if prompt.rstrip().endswith("assistant"):  # an answer prompt
        return Completion(text=f"Answer {seed % 997} to {prompt[-40:]!r}", finish_reason="stop", prompt_tokens=9,
                          completion_tokens=7)
    text = QUERIES[seed % len(QUERIES)]
    return Completion(text=text, finish_reason="length" if text.startswith("Count") else "stop", prompt_tokens=5,
                      completion_tokens=len(text.split()) + 1)


class StandIn(CompletionEngine):
    """`complete` in call order; `run` with `slots` sequences, the next to end drawn at random."""

    def __init__(self, continuous: bool, slots: int = 3, order: int = 0) -> None:
        self._continuous, self.slots, self.order, self.jobs = continuous, slots, order, 0

    @property
    def model_name(self) -> str:
        return "stand-in"

    @property
    def runner(self):
        return self

    def continuous(self) -> bool:
        return self._continuous

    def complete(self, prompts, params, progress=None):
        return [[reply(p, params.sample_seed(i, j)) for j in range(params.n)] for i, p in enumerate(prompts)]

    def run(self, jobs, progress=None):
        source, active, rng = iter(jobs), [], random.Random(self.order)
        while True:
            while len(active) < self.slots and (job := next(source, None)) is not None:
                active.append(job)
            if not active:
                return
            job: Job = active.pop(rng.randrange(len(active)))
            self.jobs += 1
            active.extend(job.then(reply(job.prompt, job.seed)))

    def own_template(self, default_system=None):
        raise AssertionError("the tests name their template")

    def context_length(self):
        return None


def rows_of(step_cls, monkeypatch, engine, **settings):
    monkeypatch.setattr(LlamaCppEngine, "load", lambda self: None)
    monkeypatch.setattr("distilabel_magpie.generation.base.engine_for", lambda llm: engine)
    step = step_cls(llm=LlamaCppEngine(), template="chatml", **settings)
    step.load()
    step._logger.setLevel(logging.WARNING)
    if step_cls is MagpieSFTStep:
        return list(next(step.process([{"row_index": i} for i in range(settings["num_rows"])])))
    return [r for rows, _ in step.process() for r in rows]


@pytest.mark.parametrize("step_cls", [MagpieSFTGenerator, MagpieSFTStep])
@pytest.mark.parametrize("n", [1, 2])
def test_continuous_rows_are_the_query_then_answer_rows_in_any_order(monkeypatch, step_cls, n):
    settings = dict(num_rows=23, batch_size=5, seed=3, n=n)
    reference = rows_of(step_cls, monkeypatch, StandIn(continuous=False), **settings)
    statuses = {r["instruction_status"] for r in reference}
    assert {"ok", "empty", "truncated"} <= statuses
    if step_cls is MagpieSFTGenerator:
        assert "duplicate" in statuses  # exact repeats of a lower row are flagged, not answered
    for order in range(4):
        engine = StandIn(continuous=True, slots=4, order=order)
        got = rows_of(step_cls, monkeypatch, engine, **settings)
        assert got == reference
        assert engine.jobs >= len(reference)


@pytest.mark.parametrize("end_with_user", [False, True])
def test_multi_turn_continuous_rows_are_the_turn_by_turn_rows(monkeypatch, end_with_user):
    from distilabel_magpie.generation import MagpieMultiTurn

    def rows(engine):
        monkeypatch.setattr(LlamaCppEngine, "load", lambda self: None)
        monkeypatch.setattr("distilabel_magpie.generation.base.engine_for", lambda llm: engine)
        step = MagpieMultiTurn(llm=LlamaCppEngine(), template="chatml", n_turns=3, seed=5, end_with_user=end_with_user)
        step.load()
        step._logger.setLevel(logging.WARNING)
        inputs = [{"row_index": i, "instruction": f"Question {i}?", "instruction_status": "ok", "response": "Yes.",
                   "response_status": "ok"} for i in range(12)]
        return list(next(step.process(inputs)))

    reference = rows(StandIn(continuous=False))
    assert len({r["conversation_status"] for r in reference}) == 2 and {r["turns"] for r in reference} >= {1, 4}
    for order in range(3):
        assert rows(StandIn(continuous=True, slots=3, order=order)) == reference


def test_an_answer_given_before_a_lower_row_turned_out_the_same_is_dropped(monkeypatch):
    """Row 1 ends first and is answered; row 0 then ends with the same query: row 1 becomes the
    duplicate, without the answer, as in the query-then-answer path."""

    class LowerLast(StandIn):
        def run(self, jobs, progress=None):
            queue = list(jobs)
            for job in reversed(queue):
                for follow in job.then(Completion("Same question?", "stop", 5, 3)):
                    follow.then(reply(follow.prompt, follow.seed))

    rows = rows_of(MagpieSFTGenerator, monkeypatch, LowerLast(continuous=True), num_rows=2, batch_size=2, seed=0)
    assert [r["instruction_status"] for r in rows] == ["ok", "duplicate"]
    assert rows[0]["response_status"] == "ok" and rows[1]["response"] is None
    assert rows[1]["response_status"] == "skipped"


@pytest.mark.slow
def test_embedded_model_continuous_batch_and_one_at_a_time_make_the_same_rows():
    """Real decoding: 4 slots against 1 (one sequence at a time). Prompts, seeds and settings of
    every query and answer are the same. The tokens are the same up to what llama.cpp's kernels
    for other batch shapes move (low-order bits of the logits, see tests/engines): a sequence
    that read another's cells would change nearly every row, so most rows must be identical."""

    def run(n_parallel):
        step = MagpieSFTGenerator(name="sft", llm=LlamaCppEngine(n_parallel=n_parallel, n_ctx=512), num_rows=6,
                                  batch_size=6, seed=1, max_new_tokens=24, response_max_new_tokens=16,
                                  response_temperature=0.0, early_stop_newline=True)
        step.load()
        step._logger.setLevel(logging.WARNING)
        try:
            return [r for rows, _ in step.process() for r in rows]
        finally:
            step.llm.unload()

    one, four = run(1), run(4)
    meta = lambda r, key: r["distilabel_metadata"].get(key) or {}  # noqa: E731
    # the query prompt and seed of every row, and the answer seed (an answer prompt holds its query)
    assert [(meta(r, "magpie_sft").get("prompt"), meta(r, "magpie_sft").get("seed")) for r in one] == [
        (meta(r, "magpie_sft").get("prompt"), meta(r, "magpie_sft").get("seed")) for r in four]
    answered = [(a, b) for a, b in zip(one, four) if meta(a, "magpie_response_sft") and meta(b, "magpie_response_sft")]
    assert answered and all(meta(a, "magpie_response_sft")["seed"] == meta(b, "magpie_response_sft")["seed"]
                            for a, b in answered)
    same = sum((a["instruction"], a["response"]) == (b["instruction"], b["response"]) for a, b in zip(one, four))
    assert same >= len(one) // 2
