"""What our generation steps share: the LLM check, the engine and the resolved template."""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, Iterable, List, Optional

from distilabel.mixins.runtime_parameters import RuntimeParameter
from pydantic import Field, PrivateAttr

from distilabel_magpie.engines import CompletionEngine, check_supported, engine_for, template_for
from distilabel_magpie.engines.base import SamplingParams
from distilabel_magpie.errors import MagpieError
from distilabel_magpie.runtime.step import UsesRuntime
from distilabel_magpie.templates import MagpieTemplate


class MagpieLLMMixin(UsesRuntime):
    """Fields and loading shared by every step that prompts the model with exact text."""

    template: RuntimeParameter[str] = Field(
        default="auto",
        description="Chat template: 'auto' (the model's own, from its tokenizer or GGUF), a preset name "
        "(see `distilabel-magpie template --list`) or a path to a tokenizer dir / tokenizer_config.json / .gguf.",
    )
    default_system: Optional[RuntimeParameter[bool]] = Field(
        default=None,
        description="Keep the default system turn some templates inject (Qwen2.5, SmolLM2, Llama-3.1...). "
        "None: the preset's choice (official Magpie configs), or the template as is.",
    )
    template_kwargs: Optional[RuntimeParameter[Dict[str, Any]]] = Field(
        default=None,
        description="Keyword arguments of the chat template, passed as apply_chat_template(**kwargs) passes "
        "them, for queries and answers (e.g. {'reasoning_effort': 'high'} for gpt-oss).",
    )
    repetition_ngram: RuntimeParameter[int] = Field(
        ge=0, default=16,
        description="End a query or answer once the same run of this many tokens comes a third time (the "
        "model is looping) and flag it `repetitive`; saves the rest of its token budget. 0: off.",
    )

    _engine: Optional[CompletionEngine] = PrivateAttr(default=None)
    _template: Optional[MagpieTemplate] = PrivateAttr(default=None)
    _answer_template: Optional[MagpieTemplate] = PrivateAttr(default=None)

    def model_post_init(self, __context: Any) -> None:
        # Defined so pydantic chains to distilabel's step set-up instead of replacing it with
        # its private-attribute initialiser; refuses chat-only LLMs at construction.
        super().model_post_init(__context)
        check_supported(getattr(self, "llm"))

    def _load_engine(self) -> None:
        """Call after `llm.load()`."""
        self._engine = engine_for(getattr(self, "llm"))
        base = template_for(self._engine, self.template, self.default_system)
        if self.template_kwargs:
            base = base.with_options(template_kwargs=tuple(self.template_kwargs.items()))
        # A step's `thinking` is the mode of the prompts it writes first (queries, or a
        # responder's answers); `response_thinking`, where a step has it, that of its answers.
        query_mode = getattr(self, "thinking", None)
        self._template = base.with_thinking(query_mode)
        self._answer_template = base.with_thinking(getattr(self, "response_thinking", query_mode))

    def _check_system_prompts(self, template: MagpieTemplate, prompts: Iterable[Optional[str]]) -> None:
        """Refuse a system prompt the template does not print as given; tell what it adds to one."""
        for prompt in dict.fromkeys(p for p in prompts if p):
            notice = template.system_prompt_notice(prompt)
            if notice and getattr(self, "_logger", None) is not None:
                self._logger.warning(f"{getattr(self, 'name', '')}: {notice}")

    def check_context(self, prompt: str, max_new_tokens: int, setting: str, extra_tokens: int = 0) -> None:
        """Refuse, at load, a context that cannot hold `prompt` (+ `extra_tokens`) and its token
        budget: otherwise every sample would be cut short and flagged truncated."""
        limit = self.engine.context_length()
        if limit is None:
            return
        used = len(self.engine.tokenize(prompt)) + extra_tokens
        if used + max_new_tokens > limit:
            raise MagpieError(
                f"{getattr(self, 'name', type(self).__name__)}: the model's context holds {limit} tokens per sequence, "
                f"but a prompt takes {used} and {setting}={max_new_tokens} more; "
                f"{self.engine.context_advice(used + max_new_tokens)} or lower {setting}")

    @property
    def engine(self) -> CompletionEngine:
        assert self._engine is not None, "step not loaded"
        return self._engine

    @property
    def magpie_template(self) -> MagpieTemplate:
        """The template in the mode of this step's queries (a responder's: of its answers)."""
        assert self._template is not None, "step not loaded"
        return self._template

    @property
    def answer_template(self) -> MagpieTemplate:
        """The template in the mode of this step's answers."""
        assert self._answer_template is not None, "step not loaded"
        return self._answer_template


def seeded_per_row(params: SamplingParams, rows: List[Dict[str, Any]]) -> SamplingParams:
    """`params` with each prompt seeded by its row's global `row_index` (one prompt per row), so
    a row's samples are the same whatever batch or replica it was in; unchanged when a row has none."""
    keys = [row.get("row_index") for row in rows]
    if params.seed is None or not keys or not all(isinstance(k, int) for k in keys):
        return params
    return dataclasses.replace(params, prompt_keys=tuple(keys))


def merge_metadata(row: dict, step_name: str, **entries: Any) -> dict:
    """distilabel_metadata with `<key>_<step_name>` entries added (the convention of distilabel)."""
    metadata = dict(row.get("distilabel_metadata") or {})
    for key, value in entries.items():
        metadata[f"{key}_{step_name}"] = value
    return metadata
