"""Responder: answers the accepted queries with the model's normal chat template."""


import time
from typing import TYPE_CHECKING, Any, Dict, List, Literal, Optional

from distilabel.mixins.runtime_parameters import RuntimeParameter
from distilabel.steps.base import StepInput
from distilabel.steps.tasks.base import Task
from pydantic import BaseModel, Field

from distilabel_magpie.generation.docstrings import cites_magpie
from distilabel_magpie.engines.base import Completion, SamplingParams
from distilabel_magpie.errors import MagpieError
from distilabel_magpie.generation.base import MagpieLLMMixin, merge_metadata, seeded_per_row
from distilabel_magpie.generation.cleaning import OK, clean_response
from distilabel_magpie.runtime.progress import report_rows

if TYPE_CHECKING:
    from distilabel.typing import StepColumns, StepOutput


class AnswerPromptMixin(BaseModel):
    """Which system prompt an answer is written under (the paper: none, i.e. the template's default)."""

    use_system_prompt: RuntimeParameter[bool] = Field(
        default=False, description="Answer with the row's system prompt (the paper answers without).")
    response_system_prompt: Optional[RuntimeParameter[str]] = Field(
        default=None, description="System prompt for answers only (queries are sampled without it), e.g. "
        "'Answer in a few sentences.' so that a small model's answers end within a short token limit.")

    def model_post_init(self, __context: Any) -> None:
        super().model_post_init(__context)
        if self.use_system_prompt and self.response_system_prompt:
            raise MagpieError("give either use_system_prompt=True or response_system_prompt, not both")

    def check_answer_context(self, max_new_tokens: int, setting: str, query_tokens: int = 0) -> None:
        """An answer prompt around a query of `query_tokens` tokens, plus its budget, must fit."""
        prompt = self.answer_template.response_prompt(self.answer_messages({"instruction": ""}))
        self.check_context(prompt, max_new_tokens, setting, extra_tokens=query_tokens)

    def answer_messages(self, row: Dict[str, Any]) -> List[Dict[str, str]]:
        system = row.get("system_prompt") if self.use_system_prompt else self.response_system_prompt
        return ([{"role": "system", "content": system}] if system else []) + [
            {"role": "user", "content": row["instruction"]}]


class AnswerSampling(BaseModel):
    """How answers are sampled by the steps that also sample queries (`MagpieSFTGenerator`,
    `MagpieSFTStep`, `MagpieMultiTurn`): `MagpieResponder`'s settings with a `response_` prefix."""

    response_temperature: RuntimeParameter[float] = Field(ge=0, default=0.0, description="Answer temperature (0: greedy).")
    response_top_p: RuntimeParameter[float] = Field(gt=0, le=1, default=1.0, description="Answer nucleus sampling.")
    response_max_new_tokens: RuntimeParameter[int] = Field(
        ge=1, default=512, description="Token limit of an answer, its reasoning included.")
    response_repetition_penalty: RuntimeParameter[float] = Field(
        gt=0, default=1.0, description="Answer repetition penalty (1.0: off, the paper; 1.1 keeps small models out of loops).")

    def response_params(self, seed: Optional[int] = None) -> SamplingParams:
        """The answers' sampling settings (stopping where the answer template ends an answer),
        seeded with `seed`, by default the step's `seed`."""
        return SamplingParams(
            max_new_tokens=self.response_max_new_tokens, temperature=self.response_temperature,
            top_p=self.response_top_p, repetition_penalty=self.response_repetition_penalty,
            stop=tuple(self.answer_template.response_stop), seed=self.seed if seed is None else seed,
            repetition_ngram=self.repetition_ngram)


@cites_magpie
class MagpieResponder(AnswerPromptMixin, MagpieLLMMixin, Task):
    """Answers queries: the chat template applied to `[user: instruction]` with the generation
    prompt, sampled with the responder's own settings (paper default: greedy).

    Rows whose `instruction_status` is not `ok` are not sent to the model: they get
    `response=None` and `response_status="skipped"`. Answers that hit the token limit are kept
    and marked `truncated`; answers caught looping end early and are marked `repetitive`.

    Reasoning models: the answer prompt is the template's generation prompt in the `thinking`
    mode (QwQ, R1 and the Thinking-2507 models open `<think>` themselves; a hybrid template with
    thinking off pre-fills an empty block). The completion is split: the reasoning goes to
    `reasoning`, the answer proper to `response`; gpt-oss answers are read by harmony channel
    (analysis, final). `max_new_tokens` counts reasoning and answer together.

    Attributes:
        llm: a raw-completion LLM (see `MagpieSampler`).
        template / default_system / template_kwargs / repetition_ngram: as in `MagpieSampler`.
        thinking: the thinking mode of the answer prompts ("on", "off", None: the template's default).
        temperature / top_p / max_new_tokens / repetition_penalty / seed: answer sampling
            (temperature 0 = greedy); `max_new_tokens` is the whole budget, reasoning included.
        use_system_prompt: answer with the row's `system_prompt` (paper: without).
        response_system_prompt: a system prompt for every answer (paper: none).
        extra_stop: stop strings added to the template's.

    Runtime parameters:
        - `temperature`, `top_p`, `max_new_tokens`, `repetition_penalty`, `seed`: sampling settings for answers.
        - `use_system_prompt`: include the row's system prompt in the answer prompt.
        - `response_system_prompt`: system prompt of every answer prompt.
        - `extra_stop`: additional stop strings.
        - `template`, `default_system`, `template_kwargs`, `thinking`: which chat template rendering
          to use.
        - `repetition_ngram`: end and flag a looping sample (0: off).

    Input columns:
        - instruction (`str`): the query.
        - instruction_status (`str`, optional): rows not `ok` are skipped.
        - system_prompt (`str`, optional): used when `use_system_prompt` is on.

    Output columns:
        - response (`str | None`): the answer, without its reasoning.
        - reasoning (`str | None`): the reasoning before the answer (None: the answer had none).
        - response_status (`str`): `ok`, `truncated`, `repetitive` (looped), `reasoning_truncated` (the
          token limit came before the reasoning ended: no answer), `empty` (no answer, or only
          reasoning), `skipped` or `error`.
        - model_name (`str`): the model.
        - distilabel_metadata (`dict`): raw answer, finish reason, token counts, settings.

    Categories:
        - text-generation

    References:
        - [Magpie: Alignment Data Synthesis from Scratch by Prompting Aligned LLMs with Nothing](https://arxiv.org/abs/2406.08464)

    Examples:
        Answer queries:

        ```python
        from distilabel_magpie.engines import LlamaCppEngine
        from distilabel_magpie.generation import MagpieResponder

        responder = MagpieResponder(llm=LlamaCppEngine(model_path="embedded"), max_new_tokens=128)
        responder.load()
        rows = next(responder.process([{"instruction": "What is 2 + 2?", "instruction_status": "ok"}]))
        ```
    """

    temperature: RuntimeParameter[float] = Field(ge=0, default=0.0, description="Answer temperature (0: greedy).")
    top_p: RuntimeParameter[float] = Field(gt=0, le=1, default=1.0, description="Answer nucleus sampling.")
    max_new_tokens: RuntimeParameter[int] = Field(
        ge=1, default=512, description="Token limit of an answer, its reasoning included.")
    repetition_penalty: RuntimeParameter[float] = Field(
        gt=0, default=1.0, description="Repetition penalty (1.0: off, the paper; 1.1 keeps small models out of loops).")
    seed: Optional[RuntimeParameter[int]] = Field(default=None, description="Random seed.")
    # None rather than []: distilabel 1.5.3's runtime-parameter dump indexes list values ([0]).
    extra_stop: Optional[RuntimeParameter[List[str]]] = Field(
        default=None, description="Stop strings added to the template's.")
    thinking: Optional[RuntimeParameter[Literal["on", "off"]]] = Field(
        default=None, description="Thinking mode of the answer prompts: 'on' or 'off' through the template's own "
        "switch (enable_thinking, ...), null for the template's default; a template without a switch refuses on/off.")

    def load(self) -> None:
        super().load()
        self._load_engine()
        self.check_answer_context(self.max_new_tokens, "max_new_tokens")
        self._check_system_prompts(self.answer_template, [self.response_system_prompt])

    @property
    def inputs(self) -> "StepColumns":
        return {"instruction": True, "instruction_status": False, "system_prompt": False}

    @property
    def outputs(self) -> "StepColumns":
        return ["response", "reasoning", "response_status", "model_name"]

    def format_input(self, input: Dict[str, Any]) -> List[Dict[str, str]]:
        return self.answer_messages(input)

    def format_output(self, output: Optional[str], input: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        return {"response": output}

    def sampling_params(self) -> SamplingParams:
        return SamplingParams(
            max_new_tokens=self.max_new_tokens, temperature=self.temperature, top_p=self.top_p,
            repetition_penalty=self.repetition_penalty,
            stop=tuple(self.answer_template.response_stop) + tuple(self.extra_stop or ()), seed=self.seed,
            repetition_ngram=self.repetition_ngram)

    def process(self, inputs: StepInput) -> "StepOutput":  # type: ignore[override]
        rows = answer_rows(self, list(inputs), self.sampling_params())
        report_rows(self, rows, sum(r["response_status"] == OK for r in rows))
        yield rows


def answer_rows(step: Any, rows: List[Dict[str, Any]], params: SamplingParams) -> List[Dict[str, Any]]:
    """Answer the `ok` rows in one engine call; the others get `response_status="skipped"`.
    Shared by `MagpieResponder` and `MagpieSFTGenerator`."""
    engine = step.engine
    todo = [i for i, row in enumerate(rows) if wants_answer(row)]
    prompt_of = {i: answer_prompt(step, rows[i]) for i in todo}
    started = time.monotonic()
    params = seeded_per_row(params, [rows[i] for i in todo])
    seeds = {i: params.sample_seed(p, 0) for p, i in enumerate(todo)} if params.seed is not None else {}
    completions = dict(zip(todo, (c[0] for c in engine.complete([prompt_of[i] for i in todo], params)))) if todo else {}
    tokens = sum(c.completion_tokens for c in completions.values())
    step._logger.info(f"{step.name}: answered {len(todo)} of {len(rows)} rows, "
                      f"{tokens / max(time.monotonic() - started, 1e-9):.1f} tok/s")
    return [answered_row(step, row, prompt_of.get(i), completions.get(i), params, seeds.get(i))
            for i, row in enumerate(rows)]


def wants_answer(row: Dict[str, Any]) -> bool:
    """Whether a row's query is to be answered: `ok` and not blank."""
    return row.get("instruction_status", OK) == OK and bool((row.get("instruction") or "").strip())


def answer_prompt(step: Any, row: Dict[str, Any]) -> str:
    """The exact answer prompt of `row`'s query."""
    return step.answer_template.response_prompt(step.answer_messages(row))


def answered_row(step: Any, row: Dict[str, Any], prompt: Optional[str], completion: Optional[Completion],
                 params: SamplingParams, seed: Optional[int]) -> Dict[str, Any]:
    """`row` with the answer `completion` to `prompt` (None: not answered, `skipped`)."""
    template = step.answer_template
    answer = clean_response(completion, template)
    out = {**row, "response": answer.text, "reasoning": answer.reasoning, "response_status": answer.status,
           "model_name": step.engine.model_name}
    out["distilabel_metadata"] = dict(row.get("distilabel_metadata") or {})
    if completion is not None:
        out["distilabel_metadata"] = merge_metadata(
            row, step.name,
            raw_output_response=completion.text,
            magpie_response=dict(prompt=prompt, thinking=template.thinking,
                                 finish_reason=completion.finish_reason,
                                 stop_reason=completion.stop_reason, error=answer.error,
                                 temperature=params.temperature, top_p=params.top_p,
                                 max_new_tokens=params.max_new_tokens, seed=seed),
            statistics_response={"input_tokens": completion.prompt_tokens,
                                 "output_tokens": completion.completion_tokens})
    return out
