"""Instruction sampler: the model writes user queries from its pre-query template alone.

Every row is a function of its global row index (system-prompt choice, sample seeds), so the
same rows come out whether they are made by the generator (`MagpieSampler`) or by replicas of
the normal step (`MagpieSamplerStep`, fed by `RowIndices`), in any batching."""


import collections
import dataclasses
import time
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Dict, List, Literal, Optional, TypeVar, Union

from distilabel.constants import DISTILABEL_METADATA_KEY
from distilabel.mixins.runtime_parameters import RuntimeParameter
from distilabel.steps.base import StepInput
from distilabel.steps.tasks.base import GeneratorTask, Task
from pydantic import Field, PrivateAttr

from distilabel_magpie.generation.docstrings import cites_magpie, with_sections
from distilabel_magpie.engines.base import SamplingParams
from distilabel_magpie.errors import MagpieError
from distilabel_magpie.generation.base import MagpieLLMMixin, merge_metadata
from distilabel_magpie.generation.cleaning import (
    DUPLICATE,
    OK,
    WRONG_LANGUAGE,
    clean_query,
    normalize,
    system_text,
)
from distilabel_magpie.generation.control import detect_language, domain_prompt, language_code, language_system_prompt
from distilabel_magpie.runtime.progress import report_rows
from distilabel_magpie.generation.system_prompts import SystemPromptSampler

if TYPE_CHECKING:
    from distilabel.typing import GeneratorStepOutput, StepColumns, StepOutput


class QuerySampling(MagpieLLMMixin):
    """Fields and row making shared by `MagpieSampler` (a generator) and `MagpieSamplerStep`
    (a normal, replicable step fed by `RowIndices`): a row is a function of its global index."""

    system_prompt: Optional[RuntimeParameter[Union[str, List[Optional[str]], Dict[str, Any]]]] = Field(
        default=None,
        description="None, a string, a list, or {name: text | [text, weight]} (weights are normalised).",
    )
    domain: Optional[RuntimeParameter[Union[str, List[str]]]] = Field(
        default=None, description="Domain preset(s) used as system prompts: math, code, translation or one "
        "registered with distilabel_magpie.generation.control.register_domain (instead of system_prompt).")
    language: Optional[RuntimeParameter[str]] = Field(
        default=None, description="Target language of the queries (name or ISO 639-1 code): steered by the "
        "system prompt and checked on each query (status 'wrong_language' when it differs).")
    num_rows: RuntimeParameter[int] = Field(ge=1, default=None, description="Rows to produce (all statuses).")
    n: RuntimeParameter[int] = Field(ge=1, default=1, description="Queries sampled per prompt (one shared prefill).")
    temperature: RuntimeParameter[float] = Field(ge=0, default=1.0, description="Query sampling temperature.")
    top_p: RuntimeParameter[float] = Field(gt=0, le=1, default=1.0, description="Query nucleus sampling.")
    top_k: RuntimeParameter[int] = Field(ge=0, default=0, description="Query top-k sampling (0: off).")
    min_p: RuntimeParameter[float] = Field(
        ge=0, lt=1, default=0.0, description="Query min-p sampling: drop tokens below this fraction of the top token's "
        "probability (0: off, the paper; 0.02 stops most runaway queries of small models).")
    max_new_tokens: RuntimeParameter[int] = Field(ge=1, default=256, description="Token limit of a query.")
    early_stop_newline: RuntimeParameter[bool] = Field(
        default=False, description="Also stop a query at its first newline.")
    # None rather than []: distilabel 1.5.3's runtime-parameter dump indexes list values ([0]).
    extra_stop: Optional[RuntimeParameter[List[str]]] = Field(
        default=None, description="Stop strings added to the template's.")
    seed: Optional[RuntimeParameter[int]] = Field(default=None, description="Random seed.")
    thinking: Optional[RuntimeParameter[Literal["on", "off"]]] = Field(
        default=None, description="Thinking mode of the query prompts: 'on' or 'off' through the template's own "
        "switch (enable_thinking, ...), null for the template's default; a template without a switch refuses on/off.")

    # A generator sees every row in order and flags repeats itself; replicas of the normal step
    # each see a part, so `FinalizeRows` flags them there, over all rows.
    flags_duplicates: ClassVar[bool] = True
    # Whether the live progress counts this step's rows when its queries are made (a step that
    # also answers counts them once answered).
    counts_queries: ClassVar[bool] = True
    _seen: dict = PrivateAttr(default_factory=dict)  # normalised ok query -> lowest row index seen
    _counts: collections.Counter = PrivateAttr(default_factory=collections.Counter)
    _seconds: float = PrivateAttr(default=0.0)  # query sampling only (answers log their own speed)
    _tokens: int = PrivateAttr(default=0)

    def model_post_init(self, __context: Any) -> None:
        super().model_post_init(__context)
        SystemPromptSampler(self.system_prompt_spec())  # bad specs fail at construction

    def system_prompt_spec(self):
        """`system_prompt`, or the domain presets, with the language instruction appended."""
        if self.domain is not None and self.system_prompt is not None:
            raise MagpieError("give either system_prompt or domain, not both")
        spec = self.system_prompt
        if self.domain is not None:
            names = [self.domain] if isinstance(self.domain, str) else list(self.domain)
            spec = {name: domain_prompt(name) for name in names}
        if self.language is None:
            return spec
        extra = language_system_prompt(self.language)
        join = lambda text: extra if not text else f"{text}\n\n{extra}"  # noqa: E731
        if spec is None or isinstance(spec, str):
            return join(spec)
        if isinstance(spec, (list, tuple)):
            return [join(t) for t in spec]
        return {k: ([join(v[0]), v[1]] if isinstance(v, (list, tuple)) else join(v)) for k, v in spec.items()}

    def load(self) -> None:
        super().load()
        self._load_engine()
        texts = [text for _, text, _ in SystemPromptSampler(self.system_prompt_spec()).entries]
        self._check_system_prompts(self.magpie_template, texts)
        if self.num_rows is None:
            raise MagpieError("num_rows is not set; give the number of rows to produce (--param STEP.num_rows=N)")
        for text in texts:
            self.check_context(self.magpie_template.pre_query(text), self.max_new_tokens, "max_new_tokens")

    @property
    def outputs(self) -> "StepColumns":
        columns = ["row_index", "instruction", "instruction_status", "system_prompt_key", "system_prompt", "template",
                   "model_name"]
        return columns + (["language"] if self.language is not None else [])

    def format_output(self, output: Optional[str], input: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        return {"instruction": output}

    def sampling_params(self) -> SamplingParams:
        stop = list(self.magpie_template.query_stop) + list(self.extra_stop or ())
        if self.early_stop_newline:
            stop.append("\n")
        return SamplingParams(max_new_tokens=self.max_new_tokens, temperature=self.temperature, top_p=self.top_p,
                              top_k=self.top_k, min_p=self.min_p, stop=tuple(stop), n=self.n, seed=self.seed,
                              repetition_ngram=self.repetition_ngram)

    def sample_rows(self, indices: List[int]) -> List[Dict[str, Any]]:
        """The rows with these global indices, in one engine call. Rows `g*n` to `g*n + n - 1`
        share a prompt (and its prefill); its system prompt and sample seeds are keyed by `g*n`."""
        n = self.n
        groups: Dict[int, List[int]] = {}
        for index in indices:
            groups.setdefault(index - index % n, []).append(index % n)
        chooser = SystemPromptSampler(self.system_prompt_spec(), self.seed)
        starts = list(groups)
        choices = [chooser.choose(start) for start in starts]
        prompts = [self.magpie_template.pre_query(c.text) for c in choices]
        params = dataclasses.replace(self.sampling_params(), prompt_keys=tuple(starts))
        started = time.monotonic()
        completions = self.engine.complete(prompts, params)
        self._seconds += time.monotonic() - started
        rows = {}
        for p, (start, choice, prompt, samples) in enumerate(zip(starts, choices, prompts, completions)):
            for j in groups[start]:
                seed = params.sample_seed(p, j) if params.seed is not None else None
                rows[start + j] = self._row(start + j, choice, prompt, samples[j], params, seed)
                self._tokens += samples[j].completion_tokens
        return [rows[index] for index in indices]

    def query_plan(self, indices: List[int]) -> List[tuple]:
        """(prompt key, sample index, system-prompt choice, prompt) of each row of `indices`:
        rows `g*n` to `g*n + n - 1` share a prompt; its system prompt and seeds are keyed by `g*n`."""
        chooser = SystemPromptSampler(self.system_prompt_spec(), self.seed)
        choices: Dict[int, Any] = {}
        plan = []
        for index in indices:
            start = index - index % self.n
            if start not in choices:
                choices[start] = chooser.choose(start)
            choice = choices[start]
            plan.append((start, index % self.n, choice, self.magpie_template.pre_query(choice.text)))
        return plan

    def _row(self, index: int, choice, prompt: str, completion, params: SamplingParams,
             seed: Optional[int]) -> Dict[str, Any]:
        return self.register_query(self.query_row(index, choice, prompt, completion, params, seed))

    def register_query(self, row: Dict[str, Any]) -> Dict[str, Any]:
        """Flag `row` as a duplicate of an `ok` query of a lower row index seen before (where this
        step flags duplicates) and count its status; rows are registered in index order."""
        if row["instruction_status"] == OK and self.flags_duplicates:
            index, key = row["row_index"], normalize(row["instruction"])
            first = self._seen.setdefault(key, index)
            if first < index:
                row["instruction_status"] = DUPLICATE
            else:
                self._seen[key] = index
        self._counts[row["instruction_status"]] += 1
        return row

    def seen_before(self, row: Dict[str, Any]) -> bool:
        """Whether an `ok` query of a lower row index than `row`'s already has its text."""
        return self.flags_duplicates and self._seen.get(normalize(row["instruction"]), row["row_index"]) < row["row_index"]

    def query_row(self, index: int, choice, prompt: str, completion, params: SamplingParams,
                  seed: Optional[int]) -> Dict[str, Any]:
        """The row of query `completion`, cleaned and checked (duplicates aside: `register_query`)."""
        text, status = clean_query(completion, self.magpie_template, system_text(self.magpie_template, choice.text))
        detected = None
        if self.language is not None and status == OK:
            detected = detect_language(text)
            if detected != language_code(self.language):
                status = WRONG_LANGUAGE
        return {
            "row_index": index,
            "instruction": text,
            "instruction_status": status,
            "system_prompt_key": choice.key,
            "system_prompt": choice.text,
            "template": self.magpie_template.name,
            "model_name": self.engine.model_name,
            **({"language": detected} if self.language is not None else {}),
            DISTILABEL_METADATA_KEY: merge_metadata(
                {}, self.name,
                raw_output=completion.text,
                magpie=dict(
                    prompt=prompt, thinking=self.magpie_template.thinking,
                    finish_reason=completion.finish_reason, stop_reason=completion.stop_reason,
                    error=completion.error, temperature=params.temperature, top_p=params.top_p,
                    top_k=params.top_k, min_p=params.min_p, max_new_tokens=params.max_new_tokens, seed=seed),
                statistics={"input_tokens": completion.prompt_tokens, "output_tokens": completion.completion_tokens},
            ),
        }

    def _log_progress(self, done: str) -> None:
        total = sum(self._counts.values())
        self._logger.info(
            f"{self.name}: {done}, {self._counts[OK]} ok ({self._counts[OK] / max(1, total):.0%}), "
            f"{self._tokens / max(self._seconds, 1e-9):.1f} tok/s")

    def _summarise(self) -> None:
        total = sum(self._counts.values())
        counts = ", ".join(f"{k}={v}" for k, v in self._counts.most_common())
        if self._counts[OK] == 0:
            self._logger.error(
                f"{self.name}: none of {total} queries is usable ({counts}). Check the stop strings "
                f"({list(self.sampling_params().stop)}), the template ({self.magpie_template.name}) and max_new_tokens.")
        else:
            self._logger.info(f"{self.name}: {self._counts[OK]} of {total} queries usable ({counts})")


@cites_magpie
class MagpieSampler(QuerySampling, GeneratorTask):
    """Samples user queries with Magpie: the model gets only its chat template up to where a
    user message starts (the pre-query text) and writes the query itself.

    Every query is kept as a row; `instruction_status` says whether it is usable (`ok`) or why
    not (`empty` = no letter or digit, `truncated` = hit the token limit, `repetitive` = ended in a loop (see
    `repetition_ngram`), `leaked_role` = the model wrote a dialogue, `self_answered` = the query
    carries its own answer ("The answer is: C", a `Q:`/`A:` pair; cut before it), `identity_echo`
    = it names the model or maker from the system turn ("Hi Qwen, ..."),
    `duplicate` = exact repeat of a query of a lower row index, `error`). Queries are cleaned:
    stripped, cut at leaked role markers, "Question:"-style labels removed. The prompt is exactly
    the model's chat template rendering (with the chosen system prompt), tokenised without
    adding special tokens.

    Attributes:
        llm: a raw-completion LLM: `LlamaCppEngine`, `TransformersEngine`, `VLLMEngine` or
            distilabel's `LlamaCppLLM`, `TransformersLLM`, `vLLM`.
        template: 'auto', a preset name or a tokenizer/GGUF path.
        default_system: keep the template's default system turn (None: the preset's choice).
        template_kwargs: keyword arguments of the chat template (`apply_chat_template(**kwargs)`).
        thinking: the thinking mode of the query prompts, "on" / "off" through the template's own
            switch (SmolLM3 writes it into its system block), None for the template's default.
        system_prompt: None (paper default), a string, a list, or `{name: text | [text, weight]}`.
        domain: domain preset(s) as system prompts (`math`, `code`, `translation`, or registered ones).
        language: target language of the queries; off-language queries get `wrong_language`.
        num_rows: rows to produce (all statuses).
        n: queries sampled per prompt (they share one prefill).
        temperature / top_p / top_k / min_p / max_new_tokens: query sampling (paper: T=1.0,
            top_p=1.0). `min_p` drops tokens less likely than that fraction of the top token's
            probability: the unlikely tail is what sends a small model's query off course.
        early_stop_newline: also stop at the first newline (the official "early stopping").
        extra_stop: stop strings added to the template's.
        seed: makes system-prompt choices and sampling reproducible: both follow from the seed and
            the row's global index (with `n` > 1, the index of the first row of its prompt).
        repetition_ngram: a sample whose last `repetition_ngram` tokens were already generated twice
            is looping: it ends there (llama.cpp, transformers; vLLM only flags it) as `repetitive`.

    Runtime parameters:
        - `num_rows`: rows to produce.
        - `n`: queries per prompt.
        - `temperature`, `top_p`, `top_k`, `min_p`, `max_new_tokens`: sampling settings for queries.
        - `early_stop_newline`: stop at the first newline.
        - `extra_stop`: additional stop strings.
        - `seed`: random seed.
        - `system_prompt`, `domain`, `language`: steering.
        - `template`, `default_system`, `template_kwargs`, `thinking`: which chat template rendering
          to use.
        - `repetition_ngram`: end and flag a looping sample (0: off).

    Output columns:
        - row_index (`int`): the row's global index, 0 to `num_rows` - 1.
        - instruction (`str`): the cleaned query ('' when empty).
        - instruction_status (`str`): `ok`, `empty`, `truncated`, `repetitive` (looped), `leaked_role`,
          `self_answered`, `identity_echo`, `duplicate`, `wrong_language` or `error`.
        - system_prompt_key (`str | None`): which system prompt was used.
        - system_prompt (`str | None`): its text.
        - template (`str`): the chat template preset or source.
        - language (`str | None`): detected language of the query (only with `language`).
        - model_name (`str`): the model.
        - distilabel_metadata (`dict`): raw query, finish reason, token counts, sampling settings
          (`seed`: the row's own sample seed).

    Categories:
        - text-generation
        - instruction
        - generator

    References:
        - [Magpie: Alignment Data Synthesis from Scratch by Prompting Aligned LLMs with Nothing](https://arxiv.org/abs/2406.08464)

    Examples:
        Sample queries with the embedded SmolLM2 model:

        ```python
        from distilabel_magpie.engines import LlamaCppEngine
        from distilabel_magpie.generation import MagpieSampler

        sampler = MagpieSampler(llm=LlamaCppEngine(model_path="embedded"), num_rows=8, seed=0)
        sampler.load()
        rows, last = next(sampler.process())
        ```
    """

    def process(self, offset: int = 0) -> "GeneratorStepOutput":
        """Yields batches of `batch_size` rows until `num_rows` rows exist."""
        produced = offset
        while produced < self.num_rows:
            size = min(self.batch_size, self.num_rows - produced)
            rows = self.sample_rows(list(range(produced, produced + size)))
            if self.counts_queries:
                report_rows(self, rows, sum(r["instruction_status"] == OK for r in rows))
            produced += len(rows)
            self._log_progress(f"{produced}/{self.num_rows} queries")
            last = produced >= self.num_rows
            if last:
                self._summarise()
            yield rows, last


C = TypeVar("C", bound=type)

# The docstring sections of a generator step's twin fed by `RowIndices` (see `row_index_step`).
ROW_INDEX_STEP_SECTIONS = """
    Attributes:
        (all of `{generator}`'s)
        batch_size: rows per engine call; the pipeline's `RowIndices` sends batches of this size.

    Runtime parameters:
        - as in `{generator}`, `num_rows` and `batch_size` included (the `RowIndices` step
          feeding this one takes both from here when the pipeline runs).

    Input columns:
        - row_index (`int`): the global index of the row to make.

    Output columns:
        - as in `{generator}`.
"""


def row_index_step(generator: str) -> Callable[[C], C]:
    """Class decorator of the twin of generator step `generator` that is a normal step fed by
    `RowIndices` (`MagpieSamplerStep`, `MagpieSFTStep`): adds to its docstring the sections that
    every such twin has (all of the generator's settings and columns, and one input column)."""
    return with_sections(ROW_INDEX_STEP_SECTIONS.format(generator=generator), before="Categories")


@cites_magpie
@row_index_step("MagpieSampler")
class MagpieSamplerStep(QuerySampling, Task):
    """`MagpieSampler` as a normal step: it makes the rows whose global indices it receives
    (from `RowIndices`), so distilabel can run it in several replicas (it forces generator steps
    to one) and a resumed run makes exactly the rows that are missing. Row `i` is the same as
    `MagpieSampler`'s row `i` with the same settings, whichever replica or batch it lands in.

    Exact duplicates are not flagged here (a replica sees only part of the rows): a
    `FinalizeRows` step after it flags them over all rows, across replicas and resumed runs.

    Categories:
        - text-generation
        - instruction

    References:
        - [Magpie: Alignment Data Synthesis from Scratch by Prompting Aligned LLMs with Nothing](https://arxiv.org/abs/2406.08464)

    Examples:
        Queries in two replicas:

        ```python
        from distilabel.pipeline import Pipeline
        from distilabel_magpie.engines import LlamaCppEngine
        from distilabel_magpie.generation import FinalizeRows, MagpieSamplerStep, RowIndices

        with Pipeline(name="queries") as pipeline:
            rows = RowIndices(name="row_indices")
            queries = MagpieSamplerStep(name="magpie_sampler", llm=LlamaCppEngine(), num_rows=100, seed=0,
                                        resources={"replicas": 2})
            rows >> queries >> FinalizeRows(name="finalize_rows")
        ```
    """

    flags_duplicates: ClassVar[bool] = False
    batch_size: RuntimeParameter[int] = Field(
        default=50, ge=1, description="Rows per engine call (the row-index source sends batches of this size).")

    @property
    def inputs(self) -> "StepColumns":
        return ["row_index"]

    def format_input(self, input: Dict[str, Any]) -> Any:
        return []  # prompts are built from the row index in `sample_rows`, not from a chat

    def process(self, inputs: StepInput) -> "StepOutput":  # type: ignore[override]
        """The rows of `inputs`' row indices, `batch_size` per engine call (one output batch)."""
        rows = sample_row_batches(self, inputs)
        report_rows(self, rows, sum(r["instruction_status"] == OK for r in rows))
        self._log_progress(f"rows {rows[0]['row_index']}..{rows[-1]['row_index']}" if rows else "no rows")
        yield rows


def sample_row_batches(step: QuerySampling, inputs: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """`step.sample_rows` over `inputs`' `row_index` values, `batch_size` at a time, refusing
    indices outside 0..num_rows-1 (a row-index source out of step with the step it feeds)."""
    indices = checked_indices(step, inputs)
    rows = []
    for start in range(0, len(indices), step.batch_size):
        rows += step.sample_rows(indices[start:start + step.batch_size])
    return rows


def checked_indices(step: QuerySampling, inputs: List[Dict[str, Any]]) -> List[int]:
    """`inputs`' `row_index` values, refusing any outside 0..num_rows-1."""
    indices = [row["row_index"] for row in inputs]
    bad = [i for i in indices if not isinstance(i, int) or not 0 <= i < step.num_rows]
    if bad:
        raise MagpieError(f"{step.name}: row indices {bad[:5]} are outside 0..{step.num_rows - 1} (num_rows="
                          f"{step.num_rows}); the RowIndices step feeding it must have the same num_rows")
    return indices
