"""LLM judge tags (Magpie paper §3): input quality, difficulty (with intent and the
knowledge needed) and task category, one short prompt per tag so that small judges cope.

Raw-completion backends that can constrain output (llama.cpp, and completion servers that take a
JSON schema) get each tag's JSON schema, so the output is JSON by construction; the engine turns
it into what its backend takes (a GBNF grammar for llama.cpp). Other LLMs (chat APIs) go through
distilabel's `generate` and the tolerant parser. Rows whose judgement still cannot be parsed keep
`None` in that tag's columns, `judge_status="failed"` and the reason in `judge_error`; the step
logs the parse-failure rate.
"""


import json
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Literal, Optional

from distilabel.mixins.runtime_parameters import RuntimeParameter
from distilabel.steps.base import StepInput
from distilabel.steps.tasks.base import Task
from pydantic import Field, PrivateAttr, field_validator

from distilabel_magpie.engines import CompletionEngine, SamplingParams, raw_engine
from distilabel_magpie.generation.docstrings import cites_magpie
from distilabel_magpie.runtime.step import UsesRuntime
from distilabel_magpie.scoring.llm import rate
from distilabel_magpie.scoring.parsing import (
    DIFFICULTY_LEVELS,
    QUALITY_LEVELS,
    TASK_CATEGORIES,
    parse_difficulty,
    parse_quality,
    parse_task_category,
)
from distilabel_magpie.storage.columns import require_columns
from distilabel_magpie.templates import MagpieTemplate

if TYPE_CHECKING:
    from distilabel.typing import ChatType, StepColumns, StepOutput

Tag = Literal["quality", "difficulty", "task_category"]

PROMPTS: dict[str, str] = {
    "quality": (
        "Rate the quality of the user query below: how clear, specific and coherent it is.\n"
        "- very poor: unclear, vague or incoherent; essential information is missing.\n"
        "- poor: somewhat unclear, or important details are missing.\n"
        "- average: moderately clear and specific; may need some clarification.\n"
        "- good: clear, specific and well-formed.\n"
        "- excellent: very clear, specific and well-articulated, with all the context needed.\n\n"
        "<query>\n{query}\n</query>\n\n"
        'Answer with JSON only: {{"input_quality": "<very poor|poor|average|good|excellent>", '
        '"explanation": "<one short sentence>"}}'
    ),
    "difficulty": (
        "Read the user query below. Say what the user wants, what knowledge is needed to answer it, "
        "and how difficult it is to answer: very easy, easy, medium, hard or very hard.\n\n"
        "<query>\n{query}\n</query>\n\n"
        'Answer with JSON only: {{"intent": "<The user wants to ...>", '
        '"knowledge": "<To answer, one needs to know ...>", '
        '"difficulty": "<very easy|easy|medium|hard|very hard>"}}'
    ),
    "task_category": (
        "Classify the user query below. Pick its main task category, and any other categories "
        "it also fits, from: " + ", ".join(TASK_CATEGORIES) + ".\n\n"
        "<query>\n{query}\n</query>\n\n"
        'Answer with JSON only: {{"primary_tag": "<category>", "other_tags": ["<category>", ...]}}'
    ),
}

_TEXT = {"type": "string", "maxLength": 120}  # bounded: small judges otherwise ramble to the token limit
SCHEMAS: dict[str, dict] = {
    "quality": {"type": "object", "properties": {
        "input_quality": {"type": "string", "enum": list(QUALITY_LEVELS)},
        "explanation": _TEXT}, "required": ["input_quality", "explanation"]},
    "difficulty": {"type": "object", "properties": {
        "intent": _TEXT, "knowledge": _TEXT,
        "difficulty": {"type": "string", "enum": list(DIFFICULTY_LEVELS)}},
        "required": ["intent", "knowledge", "difficulty"]},
    "task_category": {"type": "object", "properties": {
        "primary_tag": {"type": "string", "enum": list(TASK_CATEGORIES)},
        "other_tags": {"type": "array", "items": {"type": "string", "enum": list(TASK_CATEGORIES)},
                       "maxItems": 3}}, "required": ["primary_tag", "other_tags"]},
}
# Property order of the output (rating first for quality: a short answer fits any token limit).
_ORDER = {"quality": ["input_quality", "explanation"], "difficulty": ["intent", "knowledge", "difficulty"],
          "task_category": ["primary_tag", "other_tags"]}
PARSERS: dict[str, Callable[[str], tuple[Optional[dict], Optional[str]]]] = {
    "quality": parse_quality, "difficulty": parse_difficulty, "task_category": parse_task_category}
COLUMNS: dict[str, list[str]] = {
    "quality": ["quality", "quality_score", "quality_rating", "quality_explanation"],
    "difficulty": ["difficulty", "intent", "knowledge"],
    "task_category": ["task_category", "other_task_categories"],
}


# The judge's own probabilities of the five quality labels, read where it is about to write the
# label: its expected rating (1 very poor ... 5 excellent) tells well-formed from broken queries
# better than the label it writes, which ties often (benchmarks/judge_eval.py).
QUALITY_PROBE = r'"input_quality"\s*:\s*"'


def expected_rating(probe: Optional[List[float]]) -> Optional[float]:
    """1 + sum(i * p_i) over the labels in scale order; None without probabilities."""
    if not probe:
        return None
    return round(1.0 + sum(i * p for i, p in enumerate(probe)), 4)


@lru_cache(maxsize=None)
def schema_for(tag: str) -> str:
    """A tag's JSON schema as JSON text, its properties in the order the judge writes them."""
    schema = dict(SCHEMAS[tag])
    schema["properties"] = {name: SCHEMAS[tag]["properties"][name] for name in _ORDER[tag]}
    return json.dumps(schema)


@cites_magpie
class MagpieJudge(UsesRuntime, Task):
    """Tags queries with an LLM judge: input quality, difficulty (with intent and knowledge) and
    task category, using the Magpie paper's label sets and our own short prompts.

    With a raw-completion LLM (our engines, distilabel's LlamaCppLLM/TransformersLLM/vLLM) each tag's
    prompt is rendered with the judge's chat template and, when the backend can constrain output
    (llama.cpp, vLLM, SGLang, llama.cpp servers) and `use_grammar` is on, constrained to the tag's
    JSON schema. Chat-only LLMs are
    called through distilabel's `generate`. Outputs are parsed tolerantly (code fences, single
    quotes, trailing commas, cut-off objects, label case). Rows that still fail keep `None` and a
    reason; rows whose `instruction_status` is not `ok` are skipped.

    Attributes:
        llm: the judge.
        tags: which judgements to make (default all three).
        use_grammar: constrain the output to the tag's JSON schema where the backend allows.
        template: judge's chat template: "auto" (its own) or a preset name / path.
        max_new_tokens / temperature / seed: judge sampling (default greedy).

    Runtime parameters:
        - `use_grammar`: constrain outputs to the tag's JSON schema (where the backend allows).
        - `max_new_tokens`: token limit of one judgement.
        - `temperature`: judge sampling temperature (0 = greedy).
        - `seed`: sampling seed.

    Input columns:
        - instruction (`str`): the query to judge.
        - instruction_status (`str`, optional): rows not `ok` are skipped.

    Output columns:
        - quality (`str | None`): very poor, poor, average, good, excellent.
        - quality_rating (`float | None`): the judge's expected rating, 1 (very poor) to 5
          (excellent), from its own probabilities of the five labels where it writes the label
          (llama.cpp in-process judges; None on other backends). It separates well-formed from
          broken queries better than the label, which small judges give in ties.
        - quality_score (`float | None`): the judge's probability of the label it wrote (the
          suggestion's score in Argilla); same backends.
        - quality_explanation (`str | None`): the judge's reason.
        - difficulty (`str | None`): very easy, easy, medium, hard, very hard.
        - intent (`str | None`): what the user wants.
        - knowledge (`str | None`): knowledge needed to answer.
        - task_category (`str | None`): one of the paper's 12 categories.
        - other_task_categories (`list[str] | None`): further categories.
        - judge_status (`str`): `ok`, `failed` (some tag unparsable) or `skipped`.
        - judge_error (`str | None`): `tag: reason` for each failed tag.
        - judge_model (`str`): the judge (the row's `model_name`, the model that wrote it, is kept).

    Categories:
        - scorer

    References:
        - [Magpie: Alignment Data Synthesis from Scratch by Prompting Aligned LLMs with Nothing](https://arxiv.org/abs/2406.08464)

    Examples:
        Judge queries with the embedded model (grammar-constrained):

        ```python
        from distilabel_magpie.engines import LlamaCppEngine
        from distilabel_magpie.engines.models import embedded_model_path
        from distilabel_magpie.scoring import MagpieJudge

        judge = MagpieJudge(llm=LlamaCppEngine(model_path=embedded_model_path()))
        judge.load()
        rows = next(judge.process([{"instruction": "How do I boil an egg?"}]))
        # rows[0]["quality"], rows[0]["task_category"], rows[0]["judge_status"]
        ```
    """

    tags: List[Tag] = Field(default_factory=lambda: ["quality", "difficulty", "task_category"])
    use_grammar: RuntimeParameter[bool] = Field(
        default=True, description="Constrain outputs to each tag's JSON schema where the backend supports it.")
    template: str = "auto"
    max_new_tokens: RuntimeParameter[int] = Field(ge=1, default=128, description="Token limit of one judgement.")
    temperature: RuntimeParameter[float] = Field(ge=0, default=0.0, description="Sampling temperature (0 = greedy).")
    seed: Optional[RuntimeParameter[int]] = Field(default=0, description="Sampling seed.")

    _engine: Optional[CompletionEngine] = PrivateAttr(default=None)
    _chat_template: Optional[MagpieTemplate] = PrivateAttr(default=None)
    _counts: Dict[str, int] = PrivateAttr(default_factory=dict)

    @field_validator("tags")
    @classmethod
    def _known_tags(cls, tags: list[str]) -> list[str]:
        if not tags:
            raise ValueError("give at least one tag: quality, difficulty, task_category")
        return list(dict.fromkeys(tags))

    def load(self) -> None:
        super().load()
        self._engine, self._chat_template = raw_engine(self.llm, self.template)
        self._counts = {"judged": 0, "failed": 0, "skipped": 0, **{f"failed_{t}": 0 for t in self.tags}}

    def unload(self) -> None:
        if self._counts.get("judged"):
            self._logger.info(f"{self.name}: {self.summary()}")
        super().unload()

    def summary(self) -> str:
        """The run's parse-failure rate (overall and per tag)."""
        c = self._counts
        per_tag = ", ".join(f"{t} {c.get(f'failed_{t}', 0)}" for t in self.tags)
        return (f"judge parse failures {rate(c.get('failed', 0), c.get('judged', 0))} of judged rows "
                f"({per_tag}); {c.get('skipped', 0)} rows skipped")

    @property
    def inputs(self) -> "StepColumns":
        return {"instruction": True, "instruction_status": False}

    @property
    def outputs(self) -> "StepColumns":
        return [c for t in self.tags for c in COLUMNS[t]] + ["judge_status", "judge_error", "judge_model"]

    def format_input(self, input: Dict[str, Any], tag: str = "quality") -> "ChatType":
        return [{"role": "user", "content": PROMPTS[tag].format(query=input["instruction"])}]

    def format_output(self, output: Optional[str], input: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        """Parse one quality judgement (distilabel's single-output interface)."""
        values, error = parse_quality(output or "")
        return {**(values or {"quality": None, "quality_explanation": None}), "judge_error": error}

    def _judge(self, rows: list[dict], tag: str) -> list[tuple[str, Optional[list[float]]]]:
        """Each row's judgement text, with the quality labels' probabilities where the backend gives them."""
        chats = [self.format_input(r, tag) for r in rows]
        if self._engine is None:  # chat-only LLM: distilabel's interface, tolerant parsing only
            outputs = self.llm.generate_outputs(inputs=chats, num_generations=1, **self.llm.generation_kwargs)
            return [((o.get("generations") or [None])[0] or "", None) for o in outputs]
        schema = schema_for(tag) if self.use_grammar and self._engine.supports_grammar() else None
        probe = {"probe_after": QUALITY_PROBE, "probe_labels": tuple(QUALITY_LEVELS)} if tag == "quality" else {}
        params = SamplingParams(max_new_tokens=self.max_new_tokens, temperature=self.temperature,
                                stop=tuple(self._chat_template.response_stop), seed=self.seed, json_schema=schema,
                                **probe)
        prompts = [self._chat_template.response_prompt(chat) for chat in chats]
        return [(samples[0].text, samples[0].probe) for samples in self._engine.complete(prompts, params)]

    def process(self, inputs: StepInput) -> "StepOutput":  # type: ignore[override]
        require_columns(inputs, ["instruction"], self.name)
        todo = [r for r in inputs if isinstance(r.get("instruction"), str) and r["instruction"].strip()
                and r.get("instruction_status", "ok") == "ok"]
        errors: dict[int, list[str]] = {id(r): [] for r in todo}
        raw: dict[int, dict] = {id(r): {} for r in todo}
        for row in inputs:
            for tag in self.tags:
                row.update(dict.fromkeys(COLUMNS[tag]))
        for tag in self.tags:
            if not todo:
                break
            for row, (text, probe) in zip(todo, self._judge(todo, tag)):
                raw[id(row)][tag] = text
                values, error = PARSERS[tag](text)
                if values is None:
                    errors[id(row)].append(f"{tag}: {error}")
                    self._counts[f"failed_{tag}"] += 1
                else:
                    row.update(values)
                if tag == "quality" and probe:
                    row["quality_rating"] = expected_rating(probe)
                    if row.get("quality") in QUALITY_LEVELS:  # the confidence of the label written
                        row["quality_score"] = round(probe[QUALITY_LEVELS.index(row["quality"])], 4)
        for row in inputs:
            row["judge_model"] = self.llm.model_name  # `model_name` stays the generator's
            if id(row) not in errors:
                row["judge_status"], row["judge_error"] = "skipped", "no ok instruction to judge"
                self._counts["skipped"] += 1
                continue
            failed = errors[id(row)]
            row["judge_status"] = "failed" if failed else "ok"
            row["judge_error"] = "; ".join(failed) or None
            metadata = dict(row.get("distilabel_metadata") or {})
            metadata[f"raw_output_{self.name}"] = raw[id(row)]
            row["distilabel_metadata"] = metadata
            self._counts["judged"] += 1
            self._counts["failed"] += bool(failed)
        self._logger.info(f"{self.name}: {self.summary()}")
        yield inputs
