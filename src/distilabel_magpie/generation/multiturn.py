"""Multi-turn extender: more user + assistant turns, for any chat template."""

import functools
import random
from typing import TYPE_CHECKING, Any, Dict, List, Literal, Optional

from distilabel.mixins.runtime_parameters import RuntimeParameter
from distilabel.steps.base import StepInput
from distilabel.steps.tasks.base import Task
from pydantic import Field

from distilabel_magpie.generation.docstrings import cites_magpie
from distilabel_magpie.engines.base import Job, SamplingParams, sample_seed
from distilabel_magpie.runtime.progress import continuous, report_rows
from distilabel_magpie.errors import MagpieError
from distilabel_magpie.generation.base import MagpieLLMMixin, merge_metadata, seeded_per_row
from distilabel_magpie.generation.cleaning import OK, clean_query, clean_response, system_text
from distilabel_magpie.generation.responder import AnswerSampling
from distilabel_magpie.templates import PAPER_FOLLOWUP_SYSTEM_PROMPT
from distilabel_magpie.templates.render import REASONING_FIELDS

if TYPE_CHECKING:
    from distilabel.typing import StepColumns, StepOutput


def assistant_message(content: str, reasoning: Optional[str] = None) -> Dict[str, str]:
    """An assistant turn as stored in `messages`: its reasoning, if any, in `reasoning_content`
    (the field transformers' chat templates read; `MagpieTemplate` renders it for any template)."""
    return {"role": "assistant", "content": content,
            **({"reasoning_content": reasoning} if reasoning is not None else {})}


def _message(m: Dict[str, Any]) -> Dict[str, Any]:
    reasoning = next((m[k] for k in REASONING_FIELDS if m.get(k) is not None), None)
    if m.get("role") == "assistant" and reasoning is not None:
        return assistant_message(m.get("content"), reasoning)
    return {"role": m.get("role"), "content": m.get("content")}


def conversation_of(row: Dict[str, Any]) -> tuple[Optional[List[Dict[str, str]]], Optional[str]]:
    """(messages, None) for a usable row, or (None, why not)."""
    if row.get("messages") is not None:
        messages = [_message(m) for m in row["messages"]]
    elif row.get("instruction") is not None:
        if row.get("instruction_status", OK) != OK or row.get("response_status", OK) != OK:
            return None, "input_not_ok"
        if not row.get("response"):
            return None, "invalid_input: no response to follow up on"
        messages = [{"role": "user", "content": row["instruction"]},
                    assistant_message(row["response"], row.get("reasoning"))]
    else:
        return None, "invalid_input: neither messages nor instruction/response"
    body = messages[1:] if messages and messages[0]["role"] == "system" else messages
    if not body:
        return None, "invalid_input: empty conversation"
    for i, m in enumerate(body):
        expected = "user" if i % 2 == 0 else "assistant"
        if m["role"] != expected or not isinstance(m["content"], str):
            return None, f"invalid_input: message {i} is {m['role']!r}, expected {expected!r} (roles must alternate)"
    if body[-1]["role"] != "assistant":
        return None, "invalid_input: the conversation must end with an assistant message"
    return messages, None


@cites_magpie
class MagpieMultiTurn(AnswerSampling, MagpieLLMMixin, Task):
    """Extends conversations by `n_turns` user + assistant turns with Magpie.

    The prompt for the next user message is the conversation rendered by the model's own chat
    template followed by the start of a new user turn: exactly the template's rendering of
    `history + [user: ▯]` cut before the slot (correct for every template, where distilabel
    1.5.3 appends the pre-query text after an assistant header). Follow-up queries are sampled
    with the paper's follow-up system prompt (replaceable, or off with `""`), answers without
    it (with the conversation's own system message, if any). A turn that fails (query empty,
    truncated, repetitive, leaked role; answer truncated, repetitive, reasoning_truncated or
    empty) ends that row at its last complete turn and records why; the other rows go on.

    Reasoning models: each answer's reasoning is kept in its message's `reasoning_content`, and
    the history is rendered as the template takes it (in that field for Qwen3 and gpt-oss, in
    front of the content for templates that keep or strip it themselves), so turn-2 prompts are
    the template's own rendering of the conversation. `thinking` and `response_thinking` set the
    thinking modes of the follow-up queries and of the answers.

    Attributes:
        n_turns: user + assistant turns to add (>= 1).
        end_with_user: stop after the last user message (for pipelines that answer elsewhere).
        followup_system_prompt: system prompt while sampling follow-up queries ('' or None: none).
        temperature / top_p / min_p / max_new_tokens / early_stop_newline: query sampling.
        response_temperature / response_top_p / response_max_new_tokens / response_repetition_penalty:
            answer sampling (`response_max_new_tokens` includes the reasoning).
        thinking / response_thinking: thinking modes of queries and answers ("on", "off", None:
            the template's default).
        template_kwargs: keyword arguments of the chat template.
        seed: random seed.

    Runtime parameters:
        - `n_turns`, `end_with_user`, `followup_system_prompt`.
        - `temperature`, `top_p`, `min_p`, `max_new_tokens`, `early_stop_newline`: follow-up queries.
        - `response_temperature`, `response_top_p`, `response_max_new_tokens`, `response_repetition_penalty`:
          answers.
        - `thinking`, `response_thinking`: thinking modes of queries and answers.
        - `seed`, `template`, `default_system`, `template_kwargs`, `repetition_ngram` (end and flag a
          looping turn; 0: off).

    Input columns:
        - messages (`list[dict]`, optional): the conversation so far (system?, user, assistant, ...);
          an assistant message's reasoning in `reasoning_content` (or `thinking`).
        - instruction (`str`, optional), response (`str`, optional) and reasoning (`str`,
          optional): a first turn, used when
          there is no `messages`; rows whose `instruction_status`/`response_status` is not `ok`
          pass through with `conversation_status="skipped"`.

    Output columns:
        - messages (`list[dict]`): the extended conversation (TRL / OpenAI `messages` format;
          assistant messages with reasoning carry it in `reasoning_content`).
        - conversation_status (`str`): `ok`, `ended_early`, `skipped` or `invalid_input`.
        - failure_reason (`str | None`): e.g. `query_truncated`, `response_empty`, or what is wrong
          with the input.
        - failed_turn (`int | None`): the user turn number that failed.
        - turns (`int`): user turns in `messages`.
        - model_name (`str`): the model.

    Categories:
        - text-generation

    References:
        - [Magpie: Alignment Data Synthesis from Scratch by Prompting Aligned LLMs with Nothing](https://arxiv.org/abs/2406.08464)

    Examples:
        Two more turns on a first exchange:

        ```python
        from distilabel_magpie.engines import LlamaCppEngine
        from distilabel_magpie.generation import MagpieMultiTurn

        step = MagpieMultiTurn(llm=LlamaCppEngine(), n_turns=2, seed=0)
        step.load()
        rows = next(step.process([{"instruction": "What is a prime?", "response": "A number ..."}]))
        ```
    """

    n_turns: RuntimeParameter[int] = Field(ge=1, default=1, description="User + assistant turns to add.")
    end_with_user: RuntimeParameter[bool] = Field(default=False, description="Stop after the last user message.")
    followup_system_prompt: Optional[RuntimeParameter[str]] = Field(
        default=PAPER_FOLLOWUP_SYSTEM_PROMPT,
        description="System prompt used only while sampling follow-up queries ('' or null: none).")
    temperature: RuntimeParameter[float] = Field(ge=0, default=1.0, description="Follow-up query temperature.")
    top_p: RuntimeParameter[float] = Field(gt=0, le=1, default=1.0, description="Follow-up query nucleus sampling.")
    min_p: RuntimeParameter[float] = Field(ge=0, lt=1, default=0.0, description="Follow-up query min-p sampling (0: off).")
    max_new_tokens: RuntimeParameter[int] = Field(ge=1, default=256, description="Token limit of a follow-up query.")
    early_stop_newline: RuntimeParameter[bool] = Field(default=False, description="Stop queries at a newline.")
    seed: Optional[RuntimeParameter[int]] = Field(default=None, description="Random seed.")
    thinking: Optional[RuntimeParameter[Literal["on", "off"]]] = Field(
        default=None, description="Thinking mode of the follow-up query prompts: 'on' or 'off' through the "
        "template's own switch, null for the template's default.")
    response_thinking: Optional[RuntimeParameter[Literal["on", "off"]]] = Field(
        default=None, description="Thinking mode of the answer prompts: 'on' or 'off' through the template's own "
        "switch, null for the template's default.")

    def load(self) -> None:
        super().load()
        self._load_engine()
        self._check_followup_system_prompt()

    def _check_followup_system_prompt(self) -> None:
        if self.followup_system_prompt:
            try:
                self._check_system_prompts(self.magpie_template, [self.followup_system_prompt])
            except MagpieError as e:
                raise MagpieError(f"{e}; set followup_system_prompt='' for this template") from None

    @property
    def inputs(self) -> "StepColumns":
        return {"messages": False, "instruction": False, "response": False}

    @property
    def outputs(self) -> "StepColumns":
        return ["messages", "conversation_status", "failure_reason", "failed_turn", "turns", "model_name"]

    def format_input(self, input: Dict[str, Any]) -> List[Dict[str, str]]:
        return conversation_of(input)[0] or []

    def format_output(self, output: Optional[str], input: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        return {"messages": output}

    def _params(self, turn: int) -> tuple[SamplingParams, SamplingParams]:
        t = self.magpie_template
        seed = None if self.seed is None else self.seed + 7919 * turn
        query = SamplingParams(
            max_new_tokens=self.max_new_tokens, temperature=self.temperature, top_p=self.top_p,
            min_p=self.min_p, seed=seed,
            stop=tuple(t.query_stop) + (("\n",) if self.early_stop_newline else ()),
            repetition_ngram=self.repetition_ngram)
        return query, self.response_params(seed)

    def process(self, inputs: StepInput) -> "StepOutput":  # type: ignore[override]
        template, answering_template, engine = self.magpie_template, self.answer_template, self.engine
        states = []
        for row in inputs:
            messages, problem = conversation_of(row)
            status = None if messages is not None else ("skipped" if problem == "input_not_ok" else "invalid_input")
            states.append({"row": row, "messages": messages, "status": status, "reason": problem,
                           "failed_turn": None, "log": []})
        if continuous(self.engine) and all(isinstance(s["row"].get("row_index"), int) for s in states):
            self._continuous(states)
            self._report_and_log(states)
            yield [self._output(s) for s in states]
            return
        for turn in range(self.n_turns):
            active = [s for s in states if s["status"] is None]
            if not active:
                break
            query_params, answer_params = self._params(turn)
            prompts, systems = [], []
            for s in active:
                own_system = s["messages"][0]["content"] if s["messages"][0]["role"] == "system" else None
                history = [m for m in s["messages"] if m["role"] != "system"]
                prompts.append(template.pre_query(self.followup_system_prompt or own_system, history))
                systems.append(system_text(template, self.followup_system_prompt or own_system))
            queries = [c[0] for c in engine.complete(prompts, seeded_per_row(query_params, [s["row"] for s in active]))]
            answering = []
            for s, prompt, system, completion in zip(active, prompts, systems, queries):
                text = self._query_done(s, turn, prompt, system, completion)
                if text is not None:
                    answering.append((s, text))
            if not answering:
                continue
            prompts = [answering_template.response_prompt(s["messages"] + [{"role": "user", "content": q}])
                       for s, q in answering]
            answers = [c[0] for c in engine.complete(
                prompts, seeded_per_row(answer_params, [s["row"] for s, _ in answering]))]
            for (s, query), prompt, completion in zip(answering, prompts, answers):
                self._answer_done(s, query, prompt, completion)
        self._report_and_log(states)
        yield [self._output(s) for s in states]

    def _query_done(self, s: dict, turn: int, prompt: str, system: Optional[str], completion) -> Optional[str]:
        """Record turn `turn`'s query of row state `s`; the query to answer, or None when the
        conversation ends here (a query that is not ok, or the last user turn of `end_with_user`)."""
        text, status = clean_query(completion, self.magpie_template, system)
        s["log"].append({"turn": len(s["messages"]) // 2 + 1, "query_prompt": prompt,
                         "query_finish_reason": completion.finish_reason,
                         "query_tokens": completion.completion_tokens})
        if status != OK:
            self._end(s, f"query_{status}")
            return None
        if self.end_with_user and turn == self.n_turns - 1:
            s["messages"].append({"role": "user", "content": text})
            return None
        return text

    def _answer_done(self, s: dict, query: str, prompt: str, completion) -> bool:
        """Record the answer to `query`; whether the conversation goes on (the answer is ok)."""
        answer = clean_response(completion, self.answer_template)
        s["log"][-1].update(response_prompt=prompt, response_finish_reason=completion.finish_reason,
                            response_tokens=completion.completion_tokens, response_error=answer.error)
        if answer.status != OK:
            self._end(s, f"response_{answer.status}")
            return False
        s["messages"] += [{"role": "user", "content": query}, assistant_message(answer.text, answer.reasoning)]
        return True

    def _report_and_log(self, states: List[dict]) -> None:
        ok = sum((s["status"] or "ok") == "ok" for s in states)
        report_rows(self, [{}] * len(states), ok, sum(
            log.get("query_tokens", 0) + (log.get("response_tokens") or 0) for s in states for log in s["log"]))

    def _continuous(self, states: List[dict]) -> None:
        """The turns of every row in one continuous batch (`engine.run`): a turn's answer starts
        as soon as its query ends, the next turn's query as soon as the answer does. Seeds and
        prompts are those of the turn-by-turn path (rows keyed by `row_index`), so are the rows."""
        template, answering_template = self.magpie_template, self.answer_template
        params = [self._params(turn) for turn in range(self.n_turns)]

        def seed(p: SamplingParams, s: dict) -> int:
            return sample_seed(p.seed, s["row"]["row_index"], 0) if p.seed is not None else random.getrandbits(32)

        def query_job(s: dict, turn: int) -> Job:
            own_system = s["messages"][0]["content"] if s["messages"][0]["role"] == "system" else None
            history = [m for m in s["messages"] if m["role"] != "system"]
            prompt = template.pre_query(self.followup_system_prompt or own_system, history)
            system = system_text(template, self.followup_system_prompt or own_system)
            qp = params[turn][0]
            return Job(prompt, qp, seed(qp, s), then=functools.partial(on_query, s, turn, prompt, system))

        def on_query(s: dict, turn: int, prompt: str, system: Optional[str], completion) -> List[Job]:
            text = self._query_done(s, turn, prompt, system, completion)
            if text is None:
                return []
            answer_prompt = answering_template.response_prompt(s["messages"] + [{"role": "user", "content": text}])
            ap = params[turn][1]
            return [Job(answer_prompt, ap, seed(ap, s), then=functools.partial(on_answer, s, turn, text, answer_prompt))]

        def on_answer(s: dict, turn: int, query: str, prompt: str, completion) -> List[Job]:
            if not self._answer_done(s, query, prompt, completion):
                return []
            return [query_job(s, turn + 1)] if turn + 1 < self.n_turns else []

        if self.n_turns > 0:
            self.engine.run(query_job(s, 0) for s in states if s["status"] is None)

    @staticmethod
    def _end(state: dict, reason: str) -> None:
        state.update(status="ended_early", reason=reason, failed_turn=state["log"][-1]["turn"])

    def _output(self, s: dict) -> Dict[str, Any]:
        messages = s["messages"]
        row = {**s["row"], "messages": messages if messages is not None else s["row"].get("messages"),
               "conversation_status": s["status"] or "ok", "failure_reason": s["reason"],
               "failed_turn": s["failed_turn"], "model_name": self.engine.model_name}
        row["turns"] = sum(1 for m in row["messages"] or [] if m.get("role") == "user")
        row["distilabel_metadata"] = merge_metadata(s["row"], self.name, magpie_turns=s["log"])
        return row
