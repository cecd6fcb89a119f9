"""Safety tag with a guard model in Llama-Guard format: the guard's own chat template renders the
classification prompt (categories included) from the conversation; it answers "safe", or
"unsafe" and a line of category codes."""


from typing import TYPE_CHECKING, Any, Dict, Literal, Optional

from distilabel.mixins.runtime_parameters import RuntimeParameter
from distilabel.steps.base import Step, StepInput
from distilabel.steps.tasks.base import Task
from pydantic import Field, PrivateAttr

from distilabel_magpie.engines import CompletionEngine, SamplingParams, raw_engine
from distilabel_magpie.runtime.step import UsesRuntime
from distilabel_magpie.scoring.llm import rate
from distilabel_magpie.scoring.parsing import parse_llama_guard
from distilabel_magpie.storage.columns import require_columns
from distilabel_magpie.templates import MagpieTemplate

if TYPE_CHECKING:
    from distilabel.typing import ChatType, StepColumns, StepOutput

# Llama Guard 3 hazard taxonomy (MLCommons).
LLAMA_GUARD_3_CATEGORIES = {
    "S1": "Violent Crimes", "S2": "Non-Violent Crimes", "S3": "Sex-Related Crimes", "S4": "Child Sexual Exploitation",
    "S5": "Defamation", "S6": "Specialized Advice", "S7": "Privacy", "S8": "Intellectual Property",
    "S9": "Indiscriminate Weapons", "S10": "Hate", "S11": "Suicide & Self-Harm", "S12": "Sexual Content",
    "S13": "Elections", "S14": "Code Interpreter Abuse",
}


class SafetyTagger(UsesRuntime, Task):
    """Tags queries (or query + response) as safe/unsafe with a Llama-Guard-format guard model.

    The conversation is rendered with the guard model's own chat template (Llama Guard 3's holds
    the category list) and decoded greedily; the answer is parsed into a label and category
    codes. Unparsable answers leave `safety=None` and say why in `safety_error`.

    Attributes:
        llm: the guard model as a raw-completion LLM (e.g. `LlamaCppEngine` on a Llama-Guard-3 GGUF,
            or `TransformersEngine` / `vLLM` on meta-llama/Llama-Guard-3-8B).
        target: "query" classifies the user turn; "response" classifies the assistant turn.
        template: the guard's chat template: "auto" (its own) or a path to its tokenizer.
        enabled: tag the rows (False: the guard is not loaded, rows pass unchanged and get no
            safety columns).

    Runtime parameters:
        - `enabled`: tag the rows, or pass them unchanged without loading the guard.
        - `target`: "query" or "response".
        - `max_new_tokens`: token limit of the guard's answer.

    Input columns:
        - instruction (`str`): the query.
        - response (`str`, optional): needed when `target="response"`.

    Output columns:
        - safety (`str | None`): "safe" or "unsafe".
        - safety_categories (`list[str]`): category codes (e.g. ["S1", "S10"]); see
          `LLAMA_GUARD_3_CATEGORIES` for names.
        - safety_error (`str | None`): why the guard's answer could not be parsed.

    Categories:
        - filtering

    References:
        - [Llama Guard 3](https://huggingface.co/meta-llama/Llama-Guard-3-8B)

    Citations:
        ```
        @misc{inan2023llamaguard,
            title={Llama Guard: LLM-based Input-Output Safeguard for Human-AI Conversations},
            author={Hakan Inan and Kartikeya Upasani and Jianfeng Chi and Rashi Rungta and Krithika Iyer and Yuning Mao and Michael Tontchev and Qing Hu and Brian Fuller and Davide Testuggine and Madian Khabsa},
            year={2023},
            eprint={2312.06674},
            archivePrefix={arXiv},
            primaryClass={cs.CL},
        }
        ```

    Examples:
        Tag queries with Llama Guard 3 (needs the model):

        ```python
        from distilabel_magpie.engines import LlamaCppEngine
        from distilabel_magpie.scoring import SafetyTagger

        tagger = SafetyTagger(llm=LlamaCppEngine(model_path="Llama-Guard-3-1B.Q8_0.gguf"))
        tagger.load()
        next(tagger.process([{"instruction": "How do I bake bread?"}]))[0]["safety"]  # "safe"
        ```
    """

    enabled: RuntimeParameter[bool] = Field(
        default=True, description="Tag the rows; false: the guard model is not loaded and rows pass unchanged "
        "(pipelines where safety tags come only with a guard model: set this and llm.model_path).")
    target: RuntimeParameter[Literal["query", "response"]] = Field(
        default="query", description="Classify the user query or the assistant response.")
    template: str = "auto"
    max_new_tokens: RuntimeParameter[int] = Field(ge=1, default=16, description="Token limit of the guard's answer.")

    _engine: Optional[CompletionEngine] = PrivateAttr(default=None)
    _chat_template: Optional[MagpieTemplate] = PrivateAttr(default=None)
    _counts: Dict[str, int] = PrivateAttr(default_factory=lambda: {"tagged": 0, "unparsed": 0})

    def load(self) -> None:
        if not self.enabled:
            Step.load(self)  # no guard model to load
            self._logger.info(f"{self.name}: safety tagging is off (no guard model given); rows pass unchanged. "
                              f"Switch it on with --param {self.name}.enabled=true --param "
                              f"{self.name}.llm.model_path=Llama-Guard-3-1B.Q8_0.gguf")
            return
        super().load()
        self._engine, self._chat_template = raw_engine(self.llm, self.template)

    def unload(self) -> None:
        if not self.enabled:
            return
        if self._counts["tagged"]:
            unparsed = rate(self._counts["unparsed"], self._counts["tagged"])
            self._logger.info(f"{self.name}: unparsable guard answers {unparsed}")
        super().unload()

    @property
    def inputs(self) -> "StepColumns":
        return ["instruction", "response"] if self.target == "response" else ["instruction"]

    @property
    def outputs(self) -> "StepColumns":
        return ["safety", "safety_categories", "safety_error"]

    def format_input(self, input: Dict[str, Any]) -> "ChatType":
        chat = [{"role": "user", "content": input["instruction"]}]
        if self.target == "response":
            chat.append({"role": "assistant", "content": input["response"]})
        return chat

    def format_output(self, output: Optional[str], input: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        label, categories, error = parse_llama_guard(output or "")
        return {"safety": label, "safety_categories": categories, "safety_error": error}

    def process(self, inputs: StepInput) -> "StepOutput":  # type: ignore[override]
        if not self.enabled:
            yield inputs
            return
        require_columns(inputs, self.inputs, self.name)
        todo = [r for r in inputs if all(isinstance(r.get(c), str) and r[c] for c in self.inputs)]
        chats = [self.format_input(r) for r in todo]
        if self._engine is None:
            outputs = self.llm.generate_outputs(inputs=chats, num_generations=1, **self.llm.generation_kwargs)
            texts = [(o.get("generations") or [None])[0] or "" for o in outputs]
        else:
            params = SamplingParams(max_new_tokens=self.max_new_tokens, temperature=0.0,
                                    stop=tuple(self._chat_template.response_stop))
            prompts = [self._chat_template.response_prompt(c) for c in chats]
            texts = [samples[0].text for samples in self._engine.complete(prompts, params)]
        parsed = {id(r): self.format_output(t) for r, t in zip(todo, texts)}
        for row in inputs:
            row.update(parsed.get(id(row)) or {"safety": None, "safety_categories": [],
                                               "safety_error": f"no {self.target} to classify"})
            self._counts["tagged"] += id(row) in parsed
            self._counts["unparsed"] += id(row) in parsed and row["safety"] is None
        yield inputs
