"""Queries and answers in one step: one process, one loaded model (as a generator, or as a
normal step fed by `RowIndices` that distilabel can replicate)."""

from typing import TYPE_CHECKING, Literal, Optional

from distilabel.mixins.runtime_parameters import RuntimeParameter
from distilabel.steps.base import StepInput
from pydantic import Field

from distilabel_magpie.generation.docstrings import cites_magpie
from distilabel_magpie.generation.responder import AnswerPromptMixin, AnswerSampling, answer_rows
from distilabel_magpie.generation.sampler import (
    MagpieSampler, MagpieSamplerStep, row_index_step, sample_row_batches)

if TYPE_CHECKING:
    from distilabel.typing import GeneratorStepOutput, StepColumns, StepOutput


class SFTAnswers(AnswerSampling, AnswerPromptMixin):
    """The answer settings of `MagpieSFTGenerator` and `MagpieSFTStep` (their queries are
    `MagpieSampler`'s)."""

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
    cores (and each holds a copy of the model); on a CPU this step is much faster. Each batch of
    queries is sampled, cleaned, deduplicated, and only its `ok` queries are answered.

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
        for rows, last in super().process(offset):
            yield answer_rows(self, rows, params), last


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
        rows = answer_rows(self, sample_row_batches(self, inputs), self.response_params())
        self._log_progress(f"rows {rows[0]['row_index']}..{rows[-1]['row_index']}" if rows else "no rows")
        yield rows
