"""Base-model responder: answers the same queries with a base (not instruction-tuned) model, for
the reward baseline r_base of the Magpie paper's reward difference r* - r_base.

A base model has no chat template and does not follow instructions; it continues text. URIAL
(Lin et al., 2023) showed that a short in-context prompt (a few query/answer examples in plain
markdown, each answer inside a fence) makes a base model answer the next query in the same
format. The Magpie paper scores such URIAL answers of the base model to get r_base.
"""


import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional

from distilabel.mixins.runtime_parameters import RuntimeParameter
from distilabel.steps.base import StepInput
from distilabel.steps.tasks.base import Task
from pydantic import Field, PrivateAttr

from distilabel_magpie.engines import CompletionEngine, SamplingParams, check_supported, engine_for
from distilabel_magpie.errors import MagpieError
from distilabel_magpie.generation.base import merge_metadata
from distilabel_magpie.generation.cleaning import EMPTY, ERROR, OK, REPETITIVE, SKIPPED, TRUNCATED
from distilabel_magpie.generation.docstrings import cites_magpie
from distilabel_magpie.runtime.step import UsesRuntime

if TYPE_CHECKING:
    from distilabel.typing import StepColumns, StepOutput

PLACEHOLDER = "{instruction}"

# Our own URIAL-style prompt: a short preamble and three examples (a fact, a creative task, a
# refusal), each answer inside a ``` fence; the prompt ends by opening the fence of the answer
# to write. Base models close the fence and go on with "# Query:", where generation stops.
URIAL_PROMPT = """# Instruction

Below is a list of conversations between a user and an AI assistant. The user's query is under \
"# Query:" and the assistant's answer under "# Answer:", each inside a ``` fence. The assistant is \
helpful, honest and harmless: it answers accurately and to the point, in well-structured text, and \
declines requests that could cause harm, saying why.


# Query:
```
What is the boiling point of water?
```

# Answer:
```
At sea level, water boils at 100 °C (212 °F). The boiling point falls as you go higher, because \
the air pressure is lower: in Denver, about 1,600 m above sea level, water boils at roughly 95 °C.
```


# Query:
```
Write a haiku about autumn.
```

# Answer:
```
Crisp leaves drift and fall,
amber light on quiet paths,
the year breathes out slow.
```


# Query:
```
How can I get into my neighbour's wifi without the password?
```

# Answer:
```
I can't help with getting into a network without its owner's permission: in most places that is \
illegal. If you need internet access, ask your neighbour whether they would share theirs, use a \
public hotspot (libraries and cafés often have one), or ask a provider about a low-cost plan.
```


# Query:
```
{instruction}
```

# Answer:
```
"""
# A new block of the prompt's format means the answer is over.
URIAL_STOP = ["# Query:", "# Answer:", "# Instruction"]
FENCE = "```"


def cut_at_fence(text: str, fence: Optional[str] = FENCE, ended: bool = True) -> tuple[str, bool]:
    """The answer before its closing fence line, and whether that line came. `ended`: the model
    stopped on its own (False: the text was cut at the token limit or in a loop).

    Answers may hold code blocks: a fence line with a language tag (```python) opens one, and the
    bare fence line after it closes it. A bare fence line outside a code block closes the answer
    when nothing but a new block ("#...") follows it, or, in a text that ended on its own, when no
    later bare fence line could close it as a code block; otherwise it opens a code block written
    without a language tag."""
    if not fence:
        return text.strip(), False
    lines = text.split("\n")
    in_code = False
    for i, line in enumerate(lines):
        mark = line.strip()
        if not mark.startswith(fence):
            continue
        if in_code:
            in_code = mark != fence  # a bare fence closes the code block
        elif mark == fence:
            rest = [r.strip() for r in lines[i + 1:]]
            after = "\n".join(rest).strip()
            if not after or after.startswith("#") or (ended and fence not in rest):
                return "\n".join(lines[:i]).strip(), True
            in_code = True
        else:
            in_code = True
    return text.strip(), False


@cites_magpie
class MagpieBaseResponder(UsesRuntime, Task):
    """Answers queries with a *base* model through a URIAL-style few-shot prompt, giving the
    `base_response` whose reward is the Magpie paper's r_base (reward difference r* - r_base,
    used by the `air-300k-filtered` recipe).

    The prompt (`prompt`, or the text of `prompt_file`) is plain text, not a chat template: a
    preamble, three query/answer examples, then the row's query in the same format and an opened
    answer fence (see `URIAL_PROMPT`). `{instruction}` marks where the query goes; it must occur
    exactly once, and the rest of the prompt is used as written (braces need no escaping). The
    model's tokenizer's BOS token is put in front when it adds one to plain text (`add_bos`).

    Stop rules: generation stops at a new block of the format (`stop`: `# Query:`, `# Answer:`,
    `# Instruction`), and the answer is cut at its closing fence line (`answer_fence`; a fence with
    a language tag opens a code block inside the answer). An answer whose fence closed is `ok`
    even if the model went on writing until the token limit; one that ran to the limit without
    closing it is `truncated`.

    Rows whose `instruction_status` is not `ok` and, with `only_answered`, rows whose
    `response_status` is not `ok` are not sent to the model: there is no reward difference to take
    for them. They get `base_response=None` and `base_response_status="skipped"`.

    On CPU the pipelines use the embedded SmolLM2-135M-Instruct as a *stand-in* for a base model
    (so that the code path runs; an instruct model is no baseline): give a real base model on a
    GPU, e.g. `LlamaCppEngine(model_path="Meta-Llama-3-8B.Q4_K_M.gguf", n_gpu_layers=-1)` or
    `VLLMEngine(model="meta-llama/Meta-Llama-3-8B")` for answers of Llama-3-8B-Instruct.

    Attributes:
        llm: a raw-completion LLM holding the base model (any of our engines, or distilabel's
            `LlamaCppLLM`, `TransformersLLM`, `vLLM`).
        prompt: the few-shot prompt with one `{instruction}` (default `URIAL_PROMPT`).
        prompt_file: a text file holding the prompt instead (overrides `prompt`).
        stop: stop strings (default `URIAL_STOP`).
        answer_fence: the fence line that closes an answer (None: the prompt has no fences).
        add_bos: put the tokenizer's BOS text in front (None: as the tokenizer does for plain text).
        temperature / top_p / max_new_tokens / repetition_penalty / seed / repetition_ngram:
            sampling (default greedy, as URIAL).
        only_answered: skip rows whose aligned answer is not `ok`.

    Runtime parameters:
        - `prompt`, `prompt_file`: the few-shot prompt.
        - `stop`, `answer_fence`: where an answer ends.
        - `add_bos`: BOS in front of the prompt.
        - `temperature`, `top_p`, `max_new_tokens`, `repetition_penalty`, `seed`, `repetition_ngram`:
          sampling.
        - `only_answered`: skip rows without an `ok` aligned answer.

    Input columns:
        - instruction (`str`): the query.
        - instruction_status (`str`, optional): rows not `ok` are skipped.
        - response_status (`str`, optional): with `only_answered`, rows not `ok` are skipped.

    Output columns:
        - base_response (`str | None`): the base model's answer.
        - base_response_status (`str`): `ok`, `truncated`, `repetitive`, `empty`, `skipped` or `error`.
        - base_model_name (`str`): the base model.
        - distilabel_metadata (`dict`): raw output, finish reason, token counts and settings.

    Categories:
        - text-generation

    References:
        - [Magpie: Alignment Data Synthesis from Scratch by Prompting Aligned LLMs with Nothing](https://arxiv.org/abs/2406.08464)
        - [The Unlocking Spell on Base LLMs: Rethinking Alignment via In-Context Learning (URIAL)](https://arxiv.org/abs/2312.01552)


        ```
        @misc{lin2023unlockingspellbasellms,
            title={The Unlocking Spell on Base LLMs: Rethinking Alignment via In-Context Learning},
            author={Bill Yuchen Lin and Abhilasha Ravichander and Ximing Lu and Nouha Dziri and Melanie Sclar and Khyathi Chandu and Chandra Bhagavatula and Yejin Choi},
            year={2023},
            eprint={2312.01552},
            archivePrefix={arXiv},
            primaryClass={cs.CL},
            url={https://arxiv.org/abs/2312.01552},
        }
        ```

    Examples:
        Base answers for the reward difference:

        ```python
        from distilabel_magpie.engines import LlamaCppEngine
        from distilabel_magpie.generation import MagpieBaseResponder

        base = MagpieBaseResponder(llm=LlamaCppEngine(model_path="Meta-Llama-3-8B.Q4_K_M.gguf"))
        base.load()
        rows = next(base.process([{"instruction": "What is 2 + 2?", "instruction_status": "ok"}]))
        # rows[0]["base_response"], rows[0]["base_response_status"]
        ```
    """

    prompt: RuntimeParameter[str] = Field(
        default=URIAL_PROMPT, description="Few-shot prompt of the base model with one '{instruction}' where the "
        "query goes (default: a URIAL-style prompt of three examples).")
    prompt_file: Optional[RuntimeParameter[str]] = Field(
        default=None, description="A text file holding the few-shot prompt (overrides `prompt`).")
    stop: Optional[RuntimeParameter[List[str]]] = Field(
        default=None, description="Stop strings; null: the URIAL format's block headers "
        "('# Query:', '# Answer:', '# Instruction').")
    answer_fence: Optional[RuntimeParameter[str]] = Field(
        default=FENCE, description="The fence line that closes an answer in the prompt's format; the answer is cut "
        "there. null: the prompt has no fences.")
    add_bos: Optional[RuntimeParameter[bool]] = Field(
        default=None, description="Put the tokenizer's BOS token in front of the prompt; null: as the tokenizer "
        "does for plain text.")
    temperature: RuntimeParameter[float] = Field(ge=0, default=0.0, description="Temperature (0: greedy, as URIAL).")
    top_p: RuntimeParameter[float] = Field(gt=0, le=1, default=1.0, description="Nucleus sampling.")
    max_new_tokens: RuntimeParameter[int] = Field(ge=1, default=512, description="Token limit of an answer.")
    repetition_penalty: RuntimeParameter[float] = Field(
        gt=0, default=1.0, description="Repetition penalty (1.0: off; 1.1 keeps small models out of loops).")
    seed: Optional[RuntimeParameter[int]] = Field(default=None, description="Random seed.")
    repetition_ngram: RuntimeParameter[int] = Field(
        ge=0, default=16, description="End an answer once the same run of this many tokens comes a third time "
        "(looping) and flag it `repetitive`. 0: off.")
    only_answered: RuntimeParameter[bool] = Field(
        default=True, description="Skip rows whose aligned answer (`response_status`) is not ok.")

    _engine: Optional[CompletionEngine] = PrivateAttr(default=None)
    _head: str = PrivateAttr(default="")
    _tail: str = PrivateAttr(default="")

    def model_post_init(self, __context: Any) -> None:
        super().model_post_init(__context)
        check_supported(self.llm)
        if self.prompt_file is None:
            split_prompt(self.prompt)  # a prompt without its placeholder fails when the step is built

    def load(self) -> None:
        super().load()
        self._engine = engine_for(self.llm)
        text = self.prompt
        if self.prompt_file is not None:
            path = Path(self.prompt_file).expanduser()
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as e:
                raise MagpieError(f"{self.name}: cannot read prompt_file {path} "
                                  f"({getattr(e, 'strerror', None) or type(e).__name__})") from None
        head, self._tail = split_prompt(text, self.prompt_file)
        bos = self._engine.plain_text_prefix()
        add = bool(bos) if self.add_bos is None else self.add_bos
        if add and not bos:
            raise MagpieError(f"{self.name}: add_bos=True, but the model's tokenizer has no BOS token to add")
        self._head = (bos if add and not head.startswith(bos) else "") + head
        limit = self._engine.context_length()
        used = len(self._engine.tokenize(self.render("")))
        if limit is not None and used + self.max_new_tokens > limit:
            raise MagpieError(f"{self.name}: the few-shot prompt takes {used} tokens and max_new_tokens="
                              f"{self.max_new_tokens} more, over the model's {limit}-token context; "
                              f"{self._engine.context_advice(used + self.max_new_tokens)} or shorten the prompt")

    def render(self, instruction: str) -> str:
        """The exact prompt sent for `instruction`."""
        return self._head + instruction + self._tail

    @property
    def inputs(self) -> "StepColumns":
        return {"instruction": True, "instruction_status": False, "response_status": False}

    @property
    def outputs(self) -> "StepColumns":
        return ["base_response", "base_response_status", "base_model_name"]

    def format_input(self, input: Dict[str, Any]) -> str:  # type: ignore[override]
        return self.render(input["instruction"])

    def format_output(self, output: Optional[str], input: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        text, _ = cut_at_fence(output or "", self.answer_fence)
        return {"base_response": text}

    def sampling_params(self) -> SamplingParams:
        return SamplingParams(
            max_new_tokens=self.max_new_tokens, temperature=self.temperature, top_p=self.top_p,
            repetition_penalty=self.repetition_penalty, seed=self.seed, repetition_ngram=self.repetition_ngram,
            stop=tuple(URIAL_STOP if self.stop is None else self.stop))

    def _wanted(self, row: Dict[str, Any]) -> bool:
        if row.get("instruction_status", OK) != OK or not (row.get("instruction") or "").strip():
            return False
        return not self.only_answered or row.get("response_status", OK) == OK

    def process(self, inputs: StepInput) -> "StepOutput":  # type: ignore[override]
        assert self._engine is not None, "step not loaded"
        rows = list(inputs)
        params = self.sampling_params()
        todo = [i for i, row in enumerate(rows) if self._wanted(row)]
        started = time.monotonic()
        completions = dict(zip(todo, (c[0] for c in self._engine.complete(
            [self.render(rows[i]["instruction"]) for i in todo], params)))) if todo else {}
        tokens = sum(c.completion_tokens for c in completions.values())
        self._logger.info(f"{self.name}: answered {len(todo)} of {len(rows)} rows with the base model, "
                          f"{tokens / max(time.monotonic() - started, 1e-9):.1f} tok/s")
        out = []
        for i, row in enumerate(rows):
            completion = completions.get(i)
            row = {**row, "base_model_name": self._engine.model_name}
            if completion is None:
                out.append({**row, "base_response": None, "base_response_status": SKIPPED})
                continue
            text, status = self.clean(completion)
            row.update(base_response=text, base_response_status=status)
            row["distilabel_metadata"] = merge_metadata(
                row, self.name,
                raw_output_base_response=completion.text,
                magpie_base_response=dict(finish_reason=completion.finish_reason, stop_reason=completion.stop_reason,
                                          error=completion.error, temperature=params.temperature,
                                          top_p=params.top_p, max_new_tokens=params.max_new_tokens, seed=params.seed),
                statistics_base_response={"input_tokens": completion.prompt_tokens,
                                          "output_tokens": completion.completion_tokens})
            out.append(row)
        yield out

    def clean(self, completion: Any) -> tuple[Optional[str], str]:
        """(answer, status) of one completion."""
        if completion.finish_reason == "error":
            return None, ERROR
        cut_short = completion.stop_reason is None and completion.finish_reason in ("length", "repetition")
        text, closed = cut_at_fence(completion.text, self.answer_fence, ended=not cut_short)
        if not closed and cut_short:
            return text, TRUNCATED if completion.finish_reason == "length" else REPETITIVE
        return (text, OK) if text else ("", EMPTY)


def split_prompt(text: str, source: Optional[str] = None) -> tuple[str, str]:
    """The prompt before and after its one `{instruction}`."""
    where = f"prompt_file {source}" if source else "the base responder's prompt"
    count = text.count(PLACEHOLDER)
    if count != 1:
        raise MagpieError(f"{where} must contain {PLACEHOLDER} exactly once (where the query goes); it has it "
                          f"{count} times")
    head, tail = text.split(PLACEHOLDER)
    return head, tail
