"""Magpie-PO preference pairs (Magpie paper §5): k sampled responses per query, scored by a
reward model, chosen = best, rejected = worst — with an explicit minimum margin and tie policy.

Three composable steps: `SampleCandidates` (k responses in one engine call, sharing the prompt
prefill), `RewardModelLabeler(response_column="generations", output_column="ratings")`, and
`PreferencePairs` (selection, TRL and distilabel formats).
"""


import math
from typing import TYPE_CHECKING, Any, Dict, Literal, Optional

from distilabel.mixins.runtime_parameters import RuntimeParameter
from distilabel.steps.base import Step, StepInput
from distilabel.steps.tasks.base import Task
from pydantic import Field, PrivateAttr

from distilabel_magpie.curation.base import DropCounter
from distilabel_magpie.engines import CompletionEngine, SamplingParams, raw_engine
from distilabel_magpie.errors import MagpieError
from distilabel_magpie.generation.base import seeded_per_row
from distilabel_magpie.generation.docstrings import cites_magpie
from distilabel_magpie.runtime.step import UsesRuntime
from distilabel_magpie.storage.columns import require_columns
from distilabel_magpie.templates import MagpieTemplate

if TYPE_CHECKING:
    from distilabel.typing import ChatType, StepColumns, StepOutput


@cites_magpie
class SampleCandidates(UsesRuntime, Task):
    """Samples k responses per query in one call per batch, so the k samples of a query share one
    prefill (the engine's `n`).

    Attributes:
        llm: a raw-completion LLM (our engines or distilabel's LlamaCppLLM/TransformersLLM/vLLM);
            chat-only LLMs are called through distilabel's `generate` with `num_generations=k`.
        num_candidates: k, the responses per query (at least 2).
        temperature / top_p / max_new_tokens / seed: sampling (paper: T=0.8).
        template: chat template: "auto" (the model's own) or a preset name / path.

    Runtime parameters:
        - `num_candidates`: k, the responses per query.
        - `temperature`, `top_p`, `max_new_tokens`, `seed`: sampling.

    Input columns:
        - instruction (`str`): the query.
        - instruction_status (`str`, optional): rows not `ok` get no candidates.

    Output columns:
        - generations (`list[str]`): the k responses (empty list for skipped rows).
        - generation_statuses (`list[str]`): `ok`, `truncated` or `empty` per response.
        - model_name (`str`): the model.

    Categories:
        - preference

    References:
        - [Magpie: Alignment Data Synthesis from Scratch by Prompting Aligned LLMs with Nothing](https://arxiv.org/abs/2406.08464)

    Examples:
        Five answers per query from the embedded model:

        ```python
        from distilabel_magpie.curation import SampleCandidates
        from distilabel_magpie.engines import LlamaCppEngine
        from distilabel_magpie.engines.models import embedded_model_path

        llm = LlamaCppEngine(model_path=embedded_model_path())
        step = SampleCandidates(llm=llm, num_candidates=5, max_new_tokens=128)
        step.load()
        rows = next(step.process([{"instruction": "Name three rivers."}]))  # rows[0]["generations"]: 5 texts
        ```
    """

    # Not `k`: distilabel 1.5.3 dumps steps with `model_dump(exclude="api_key")`, which drops
    # every one-letter field named by a letter of "api_key".
    num_candidates: RuntimeParameter[int] = Field(ge=2, default=5, description="Responses sampled per query (k, at least 2).")
    temperature: RuntimeParameter[float] = Field(ge=0, default=0.8, description="Sampling temperature (paper: 0.8).")
    top_p: RuntimeParameter[float] = Field(gt=0, le=1, default=1.0, description="Nucleus sampling.")
    max_new_tokens: RuntimeParameter[int] = Field(ge=1, default=512, description="Token limit of one response.")
    seed: Optional[RuntimeParameter[int]] = Field(default=None, description="Sampling seed (None: random).")
    template: str = "auto"

    _engine: Optional[CompletionEngine] = PrivateAttr(default=None)
    _chat_template: Optional[MagpieTemplate] = PrivateAttr(default=None)

    def load(self) -> None:
        super().load()
        self._engine, self._chat_template = raw_engine(self.llm, self.template)

    @property
    def inputs(self) -> "StepColumns":
        return {"instruction": True, "instruction_status": False}

    @property
    def outputs(self) -> "StepColumns":
        return ["generations", "generation_statuses", "model_name"]

    def format_input(self, input: Dict[str, Any]) -> "ChatType":
        return [{"role": "user", "content": input["instruction"]}]

    def format_output(self, output: Optional[str], input: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        return {"generations": [output]}

    def process(self, inputs: StepInput) -> "StepOutput":  # type: ignore[override]
        require_columns(inputs, ["instruction"], self.name)
        todo = [r for r in inputs if isinstance(r.get("instruction"), str) and r["instruction"].strip()
                and r.get("instruction_status", "ok") == "ok"]
        chats = [self.format_input(r) for r in todo]
        if self._engine is None:
            outputs = self.llm.generate_outputs(
                inputs=chats, num_generations=self.num_candidates, **self.llm.generation_kwargs)
            samples = [[(t or "", "stop") for t in o.get("generations", [])] for o in outputs]
        else:
            params = SamplingParams(max_new_tokens=self.max_new_tokens, temperature=self.temperature,
                                    top_p=self.top_p, n=self.num_candidates,
                                    stop=tuple(self._chat_template.response_stop),
                                    seed=self.seed)
            prompts = [self._chat_template.response_prompt(chat) for chat in chats]
            params = seeded_per_row(params, todo)
            samples = [[(c.text, c.finish_reason) for c in out] for out in self._engine.complete(prompts, params)]
        done = {id(r): s for r, s in zip(todo, samples)}
        for row in inputs:
            got = done.get(id(row), [])
            row["generations"] = [text.strip() for text, _ in got]
            row["generation_statuses"] = [
                "empty" if not text.strip() else "truncated" if reason == "length" else "ok" for text, reason in got]
            row["model_name"] = self.llm.model_name
        yield inputs


@cites_magpie
class PreferencePairs(DropCounter, Step):
    """Builds one preference pair per query from scored candidates: chosen = best, rejected =
    worst. Rows without a valid pair are dropped and counted by reason.

    Candidates that are empty, unscored (None/NaN) or — unless `allow_truncated` — truncated are
    left out; identical texts count once. Then:
        - fewer than 2 candidates left: dropped ("fewer than 2 scored responses");
        - all scores equal (within `tie_tolerance`): dropped ("all rewards equal");
        - several candidates tie for best or worst (within `tie_tolerance`): `tie_policy`
          "drop" drops the row, "first" takes the earliest sampled, "length" takes the
          shortest tied-best as chosen and the longest tied-worst as rejected (against length bias);
        - margin (chosen - rejected score) below `min_margin`: dropped.

    Attributes:
        min_margin: smallest accepted score difference between chosen and rejected.
        tie_policy: "length" (default), "first" or "drop".
        tie_tolerance: scores this close count as tied.
        allow_truncated: keep candidates that hit the token limit.

    Runtime parameters:
        - `min_margin`: smallest accepted margin.
        - `tie_policy`: "length", "first" or "drop".
        - `tie_tolerance`: scores this close count as tied.
        - `allow_truncated`: keep candidates that hit the token limit.
        - `dropped_path`: JSONL file receiving rows without a pair, with their `drop_reason`.

    Input columns:
        - instruction (`str`): the query.
        - generations (`list[str]`): candidate responses.
        - ratings (`list[float | None]`): their rewards.
        - generation_statuses (`list[str]`, optional): `ok` / `truncated` / `empty`.

    Output columns:
        - prompt (`list[dict]`): `[{"role": "user", "content": instruction}]` (TRL conversational DPO).
        - chosen (`list[dict]`): `[{"role": "assistant", "content": best}]`.
        - rejected (`list[dict]`): `[{"role": "assistant", "content": worst}]`.
        - chosen_score (`float`), rejected_score (`float`), margin (`float`).
        - generations / ratings pass through (distilabel's preference format).

    Categories:
        - preference

    References:
        - [Magpie: Alignment Data Synthesis from Scratch by Prompting Aligned LLMs with Nothing](https://arxiv.org/abs/2406.08464)
        - [TRL dataset formats](https://huggingface.co/docs/trl/dataset_formats)

    Examples:
        Select a pair:

        ```python
        from distilabel_magpie.curation import PreferencePairs

        step = PreferencePairs(min_margin=0.5)
        step.load()
        row = {"instruction": "2+2?", "generations": ["4", "5", "four"], "ratings": [2.0, -1.0, 1.5]}
        next(step.process([row]))[0]["chosen"]  # [{"role": "assistant", "content": "4"}]
        ```
    """

    min_margin: RuntimeParameter[float] = Field(
        ge=0, default=0.0, description="Smallest accepted score difference between chosen and rejected.")
    tie_policy: RuntimeParameter[Literal["length", "first", "drop"]] = Field(
        default="length", description="Ties for best/worst: 'length' (shortest chosen, longest rejected), "
        "'first' (earliest sampled) or 'drop' (no pair).")
    tie_tolerance: RuntimeParameter[float] = Field(ge=0, default=0.0, description="Scores this close count as tied.")
    allow_truncated: RuntimeParameter[bool] = Field(
        default=False, description="Keep candidates that hit the token limit.")

    def load(self) -> None:
        super().load()
        if self.min_margin < 0 or self.tie_tolerance < 0:
            raise MagpieError("min_margin and tie_tolerance must be >= 0")
        self._reset_counts()

    def unload(self) -> None:
        if self._stats["seen"]:
            self._logger.info(f"{self.name}: {self.summary()}")
        super().unload()

    @property
    def inputs(self) -> "StepColumns":
        return {"instruction": True, "generations": True, "ratings": True, "generation_statuses": False}

    @property
    def outputs(self) -> "StepColumns":
        return ["prompt", "chosen", "rejected", "chosen_score", "rejected_score", "margin"]

    def select(self, row: dict) -> tuple[Optional[tuple[int, int]], Optional[str]]:
        """(chosen index, rejected index) into `generations`, or the reason there is no pair."""
        texts, scores = row.get("generations") or [], row.get("ratings") or []
        if len(texts) != len(scores):
            return None, f"{len(texts)} generations but {len(scores)} ratings"
        statuses = row.get("generation_statuses") or ["ok"] * len(texts)
        seen: set[str] = set()
        cands = []
        for i, (text, score, status) in enumerate(zip(texts, scores, statuses)):
            usable = isinstance(text, str) and text.strip() and isinstance(score, (int, float)) \
                and not math.isnan(score) and (status == "ok" or (self.allow_truncated and status == "truncated"))
            if usable and text not in seen:
                seen.add(text)
                cands.append(i)
        if len(cands) < 2:
            return None, "fewer than 2 scored responses"
        best = max(scores[i] for i in cands)
        worst = min(scores[i] for i in cands)
        if best - worst <= self.tie_tolerance:
            return None, "all rewards equal"
        top = [i for i in cands if best - scores[i] <= self.tie_tolerance]
        bottom = [i for i in cands if scores[i] - worst <= self.tie_tolerance]
        if (len(top) > 1 or len(bottom) > 1) and self.tie_policy == "drop":
            return None, "tie for best or worst"
        if self.tie_policy == "length":
            chosen = min(top, key=lambda i: (len(texts[i]), i))
            rejected = max(bottom, key=lambda i: (len(texts[i]), -i))
        else:
            chosen = max(top, key=lambda i: (scores[i], -i))
            rejected = min(bottom, key=lambda i: (scores[i], i))
        if scores[chosen] - scores[rejected] < self.min_margin:
            return None, f"margin below {self.min_margin}"
        return (chosen, rejected), None

    def process(self, inputs: StepInput) -> "StepOutput":  # type: ignore[override]
        require_columns(inputs, ["instruction", "generations", "ratings"], self.name)
        kept, dropped = [], []
        for row in inputs:
            pair, reason = self.select(row)
            if pair is None:
                dropped.append((row, reason))
                continue
            c, r = pair
            scores = row["ratings"]
            row["prompt"] = [{"role": "user", "content": row["instruction"]}]
            row["chosen"] = [{"role": "assistant", "content": row["generations"][c]}]
            row["rejected"] = [{"role": "assistant", "content": row["generations"][r]}]
            row["chosen_score"], row["rejected_score"] = float(scores[c]), float(scores[r])
            row["margin"] = float(scores[c] - scores[r])
            kept.append(row)
        self._count(len(kept), dropped, lambda reason: reason.split(" below ")[0])
        yield kept
