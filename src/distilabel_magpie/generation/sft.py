"""Queries and answers in one step: one process, one loaded model (as a generator, or as a
normal step fed by `RowIndices` that distilabel can replicate)."""

import functools
import random
import threading
import time
from typing import TYPE_CHECKING, Any, ClassVar, Dict, Iterator, List, Literal, Optional

from distilabel.mixins.runtime_parameters import RuntimeParameter
from distilabel.steps.base import StepInput
from pydantic import Field

from distilabel_magpie.engines.base import Completion, Job, SamplingParams, sample_seed
from distilabel_magpie.generation.cleaning import OK, normalize
from distilabel_magpie.generation.docstrings import cites_magpie
from distilabel_magpie.runtime.progress import continuous, report_rows, tracker
from distilabel_magpie.generation.responder import (
    AnswerPromptMixin, AnswerSampling, answer_prompt, answer_rows, answered_row, wants_answer)
from distilabel_magpie.generation.sampler import (
    MagpieSampler, MagpieSamplerStep, checked_indices, row_index_step, sample_row_batches)

if TYPE_CHECKING:
    from distilabel.typing import GeneratorStepOutput, StepColumns, StepOutput


class SFTAnswers(AnswerSampling, AnswerPromptMixin):
    """The answer settings of `MagpieSFTGenerator` and `MagpieSFTStep` (their queries are
    `MagpieSampler`'s)."""

    counts_queries: ClassVar[bool] = False  # rows count in the live progress once answered

    response_thinking: Optional[RuntimeParameter[Literal["on", "off"]]] = Field(
        default=None, description="Thinking mode of the answer prompts: 'on' or 'off' through the template's own "
        "switch, null for the template's default (`thinking` is that of the queries).")

    def load(self) -> None:
        super().load()
        self._check_system_prompts(self.answer_template, [self.response_system_prompt])
        # The longest answer prompt holds a query of max_new_tokens tokens.
        self.check_answer_context(self.response_max_new_tokens, "response_max_new_tokens", self.max_new_tokens)

    @property
    def outputs(self) -> "StepColumns":
        return super().outputs + ["response", "reasoning", "response_status"]


@cites_magpie
class MagpieSFTGenerator(SFTAnswers, MagpieSampler):
    """`MagpieSampler` followed by `MagpieResponder` inside one step, sharing one loaded model.

    Two llama.cpp steps in a distilabel pipeline run in two processes that compete for the same
    cores (and each holds a copy of the model); on a CPU this step is much faster. Queries are
    cleaned and checked for exact duplicates, and only `ok` ones are answered. On llama.cpp,
    queries and answers share one continuous batch: a query is answered as soon as it ends, and
    a free slot takes the next waiting answer or query, so every slot stays busy until the last
    rows (other engines sample a batch of queries, then answer it). A row is the same either way.

    Attributes:
        (all of `MagpieSampler`'s, for the queries)
        response_temperature / response_top_p / response_max_new_tokens / response_repetition_penalty:
            answer sampling
            (paper: greedy).
        use_system_prompt: answer with the row's system prompt (paper: without).
        response_system_prompt: a system prompt for every answer, not for the queries (paper: none).
        response_thinking: the thinking mode of the answers (`thinking` is that of the queries).

    Runtime parameters:
        - `num_rows`, `n`, `temperature`, `top_p`, `top_k`, `max_new_tokens`,
          `early_stop_newline`, `extra_stop`, `seed`, `template`, `default_system`, `template_kwargs`,
          `thinking`, `repetition_ngram`: as in `MagpieSampler` (`repetition_ngram` and
          `template_kwargs` apply to answers too).
        - `response_temperature`, `response_top_p`, `response_max_new_tokens`,
          `response_repetition_penalty`: answer sampling (`response_max_new_tokens` includes the reasoning).
        - `response_thinking`: thinking mode of the answers.
        - `use_system_prompt`: include the row's system prompt when answering.
        - `response_system_prompt`: system prompt of every answer prompt.

    Output columns:
        - row_index, instruction, instruction_status, system_prompt_key, system_prompt, template, model_name:
          as in `MagpieSampler`.
        - response (`str | None`), reasoning (`str | None`), response_status (`str`): as in
          `MagpieResponder`.
        - distilabel_metadata (`dict`): raw texts, finish reasons, token counts and settings of both.

    Categories:
        - text-generation
        - instruction
        - generator

    References:
        - [Magpie: Alignment Data Synthesis from Scratch by Prompting Aligned LLMs with Nothing](https://arxiv.org/abs/2406.08464)

    Examples:
        Single-turn SFT rows on the embedded model:

        ```python
        from distilabel_magpie.engines import LlamaCppEngine
        from distilabel_magpie.generation import MagpieSFTGenerator

        step = MagpieSFTGenerator(llm=LlamaCppEngine(), num_rows=8, early_stop_newline=True, seed=0)
        step.load()
        rows, last = next(step.process())
        ```
    """

    def process(self, offset: int = 0) -> "GeneratorStepOutput":
        params = self.response_params()
        if not continuous(self.engine):
            for rows, last in super().process(offset):
                rows = answer_rows(self, rows, params)
                report_rows(self, rows, accepted(rows))
                yield rows, last
            return
        produced = offset
        for rows in continuous_batches(self, list(range(offset, self.num_rows)), params, self.batch_size):
            produced += len(rows)
            self._log_progress(f"{produced}/{self.num_rows} rows")
            last = produced >= self.num_rows
            if last:
                self._summarise()
            yield rows, last


@cites_magpie
@row_index_step("MagpieSFTGenerator")
class MagpieSFTStep(SFTAnswers, MagpieSamplerStep):
    """`MagpieSFTGenerator` as a normal step fed by `RowIndices`: distilabel can run it in several
    replicas (generator steps are forced to one), and row `i` is the same as the generator's row
    `i` whatever replica or batch makes it. Follow it with `FinalizeRows`, which flags exact
    duplicates across replicas and clears their answers.

    Categories:
        - text-generation
        - instruction

    References:
        - [Magpie: Alignment Data Synthesis from Scratch by Prompting Aligned LLMs with Nothing](https://arxiv.org/abs/2406.08464)

    Examples:
        The default pipeline's shape, with two replicas:

        ```python
        from distilabel.pipeline import Pipeline
        from distilabel_magpie.engines import LlamaCppEngine
        from distilabel_magpie.generation import FinalizeRows, MagpieSFTStep, RowIndices

        with Pipeline(name="sft") as pipeline:
            rows = RowIndices(name="row_indices")
            sft = MagpieSFTStep(name="magpie_sft", llm=LlamaCppEngine(), num_rows=100, seed=0,
                                resources={"replicas": 2})
            rows >> sft >> FinalizeRows(name="finalize_rows")
        ```
    """

    def process(self, inputs: StepInput) -> "StepOutput":  # type: ignore[override]
        params = self.response_params()
        if continuous(self.engine):
            indices = checked_indices(self, inputs)
            rows = [r for part in continuous_batches(self, indices, params, max(1, len(indices))) for r in part]
        else:
            rows = answer_rows(self, sample_row_batches(self, inputs), params)
            report_rows(self, rows, accepted(rows))
        self._log_progress(f"rows {rows[0]['row_index']}..{rows[-1]['row_index']}" if rows else "no rows")
        yield rows


def continuous_batches(step: Any, indices: List[int], params: SamplingParams,
                       batch_size: int) -> Iterator[List[Dict[str, Any]]]:
    """The SFT rows of `indices` in one continuous batch of the engine (`engine.run`), yielded
    `batch_size` rows at a time in index order: a query is answered as soon as it ends `ok`
    (cleaned, and not an exact repeat of an `ok` query of a lower index already seen), and every
    slot takes the next waiting answer or query when it frees up. Each query and answer has the
    seed and prompt of `sample_rows` + `answer_rows`, so the rows are theirs, whatever the order
    in which sequences end; duplicates are flagged in index order as there (an answer given to a
    query that a lower row turns out to repeat is dropped)."""
    qparams = step.sampling_params()
    queries: Dict[int, Dict[str, Any]] = {}
    answers: Dict[int, tuple] = {}
    pending: Dict[int, int] = {}  # row index -> jobs of the row not finished
    first_ok: Dict[str, int] = {}  # normalised ok query -> lowest row index that ended with it
    lock = threading.Condition()
    state: Dict[str, Any] = {"error": None, "stop": False, "tokens": 0}

    def seed_of(p: SamplingParams, key: int, sample: int) -> int:
        return sample_seed(p.seed, key, sample) if p.seed is not None else random.getrandbits(32)

    def jobs() -> Iterator[Job]:
        for index, (key, sample, choice, prompt) in zip(indices, step.query_plan(indices)):
            if state["stop"]:
                return
            seed = seed_of(qparams, key, sample)
            pending[index] = 1
            yield Job(prompt, qparams, seed, then=functools.partial(on_query, index, choice, prompt, seed))

    def on_query(index: int, choice: Any, prompt: str, seed: int, completion: Completion) -> List[Job]:
        row = step.query_row(index, choice, prompt, completion, qparams, seed if qparams.seed is not None else None)
        state["tokens"] += completion.completion_tokens
        live.tokens_only(completion.completion_tokens)
        follow: List[Job] = []
        if wants_answer(row) and not state["stop"] and not step.seen_before(row):
            key = normalize(row["instruction"])
            earlier = first_ok.get(key)
            if earlier is None or earlier > index or not step.flags_duplicates:
                first_ok[key] = index if earlier is None else min(earlier, index)
                aprompt = answer_prompt(step, row)
                aseed = seed_of(params, index, 0)
                follow.append(Job(aprompt, params, aseed, then=functools.partial(on_answer, index, aprompt, aseed)))
        with lock:
            queries[index] = row
            pending[index] += len(follow) - 1
            lock.notify_all()
        if not follow:
            live.add(rows=1)
        return follow

    def on_answer(index: int, prompt: str, seed: int, completion: Completion) -> List[Job]:
        state["tokens"] += completion.completion_tokens
        live.tokens_only(completion.completion_tokens)
        with lock:
            answers[index] = (prompt, completion, seed if params.seed is not None else None)
            pending[index] -= 1
            lock.notify_all()
        live.add(rows=1)
        return []

    def work() -> None:
        try:
            step.engine.run(jobs())
        except BaseException as e:  # handed to the consumer
            state["error"] = e
        with lock:
            state["done"] = True
            lock.notify_all()

    live = tracker(step)
    started = time.monotonic()
    worker = threading.Thread(target=work, name=f"{step.name}-decode", daemon=True)
    worker.start()
    try:
        for first in range(0, len(indices), batch_size):
            part = indices[first:first + batch_size]
            with lock:
                lock.wait_for(lambda: state.get("done") or all(pending.get(i, 1) == 0 for i in part))
            if state["error"] is not None:
                raise state["error"]
            rows = []
            for index in part:
                row = step.register_query(queries[index])
                answer = answers.get(index) if row["instruction_status"] == OK else None
                rows.append(answered_row(step, row, *(answer or (None, None, None))[:2], params,
                                         (answer or (None, None, None))[2]))
            step._tokens, step._seconds = state["tokens"], time.monotonic() - started
            live.add(accepted=accepted(rows))  # rows were counted as they ended; accepted once flagged
            yield rows
    finally:
        state["stop"] = True
        worker.join()


def accepted(rows: List[Dict[str, Any]]) -> int:
    """Rows with a usable query and a usable answer."""
    return sum(r.get("instruction_status") == OK and r.get("response_status") == OK for r in rows)
