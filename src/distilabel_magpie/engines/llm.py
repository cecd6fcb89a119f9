"""Base of our own engines as distilabel `LLM`s, so they serialise in pipelines and also work
in ordinary distilabel tasks (chat inputs are rendered with the model's own chat template)."""

from __future__ import annotations

from typing import Any, List, Optional, Sequence

from distilabel.models.llms.base import LLM
from pydantic import PrivateAttr

from distilabel_magpie.engines.base import CompletionEngine, SamplingParams
from distilabel_magpie.templates import MagpieTemplate


class CompletionLLM(LLM, CompletionEngine):
    """A distilabel `LLM` that is also a raw-completion engine."""

    _template: Optional[MagpieTemplate] = PrivateAttr(default=None)
    _runner: Any = PrivateAttr(default=None)

    def unload(self) -> None:
        self._runner = None
        super().unload()

    def chat_template(self) -> MagpieTemplate:
        if self._template is None:
            self._template = self.own_template()
        return self._template

    def generate(  # type: ignore[override]
        self,
        inputs: List[Any],
        num_generations: int = 1,
        max_new_tokens: int = 256,
        temperature: float = 0.0,
        top_p: float = 1.0,
        stop: Optional[Sequence[str]] = None,
        seed: Optional[int] = None,
    ) -> List[dict]:
        """distilabel's interface: chat inputs rendered with the model's chat template."""
        template = self.chat_template()
        prompts = [template.response_prompt(chat) for chat in inputs]
        params = SamplingParams(
            max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, n=num_generations,
            stop=tuple(template.response_stop) + tuple(stop or ()), seed=seed)
        outputs = []
        for completions in self.complete(prompts, params):
            outputs.append({
                "generations": [c.text for c in completions],
                "statistics": {
                    "input_tokens": [c.prompt_tokens for c in completions],
                    "output_tokens": [c.completion_tokens for c in completions],
                },
            })
        return outputs
