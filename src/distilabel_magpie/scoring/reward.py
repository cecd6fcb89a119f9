"""Reward labeler: any Hugging Face sequence-classification reward model, one float per row.

Why not distilabel's `RewardModelScore`: it passes no attention mask and returns lists for batch
sizes other than 2. Here every batch is padded by us, with an attention mask and position ids
taken from that mask (absolute-position models such as GPT-2 would otherwise see shifted
positions under left padding), and the pad id is one that no real token of the batch uses, so
the model's "last non-pad token" pooling finds the true last token even when the tokenizer pads
with its EOS. The score of a row is therefore the same whatever the batch size or padding side.
"""


import inspect
from pathlib import Path
from typing import TYPE_CHECKING, Any, List, Literal, Optional, Sequence

from distilabel.mixins.runtime_parameters import RuntimeParameter
from distilabel.steps.base import Step, StepInput
from pydantic import Field, PrivateAttr

from distilabel_magpie.engines.reward_models import load_reward_model
from distilabel_magpie.errors import MagpieError
from distilabel_magpie.generation.docstrings import cites_magpie
from distilabel_magpie.runtime.step import UsesRuntime
from distilabel_magpie.scoring.tiny import TINY_REWARD_MODEL, tiny_reward_model_path
from distilabel_magpie.storage.columns import require_columns
from distilabel_magpie.templates.reasoning import DEFAULT_TAGS, inline
from distilabel_magpie.templates.render import REASONING_FIELDS

if TYPE_CHECKING:
    from distilabel.typing import StepColumns, StepOutput

Conversation = list[dict]


class RewardScorer:
    """A loaded reward model that scores conversations (plain class; the steps wrap it).

    Args:
        model: local directory (or hub id when the hub is reachable) of an
            `AutoModelForSequenceClassification` checkpoint with its tokenizer.
        device: "auto" (CUDA when available), "cpu", "cuda", "cuda:1", ...
        dtype: "auto" (float32 on CPU, the checkpoint's dtype on GPU), "float32", "float16", "bfloat16".
        max_length: longest input in tokens; longer ones are truncated and flagged. None: the
            model's limit.
        batch_size: sequences per forward pass.
        input_format: "chat_template" (the reward model's own chat template), "pair" (tokenizer
            text pair: prompt, response) or "auto" (chat template when the tokenizer has one).
        padding_side: None follows the tokenizer; "left" or "right" forces one (scores do not
            depend on it).
        truncation_side: which end of a too-long input is cut.
        label_index: which logit is the reward when the head has several (ArmoRM-style
            multi-objective heads expose a `score` output instead, which is used as is).
    """

    def __init__(self, model: str, *, device: str = "auto", dtype: str = "auto", trust_remote_code: bool = False,
                 max_length: Optional[int] = None, batch_size: int = 8, input_format: str = "auto",
                 padding_side: Optional[str] = None, truncation_side: str = "right",
                 label_index: Optional[int] = None) -> None:
        if batch_size < 1:
            raise MagpieError(f"batch_size must be >= 1, got {batch_size}")
        self.name = model
        loaded = load_reward_model(model, device=device, dtype=dtype, trust_remote_code=trust_remote_code)
        self.model, self.tokenizer, self.device = loaded.model, loaded.tokenizer, loaded.device
        if input_format == "auto":
            input_format = "chat_template" if getattr(self.tokenizer, "chat_template", None) else "pair"
        if input_format not in ("chat_template", "pair"):
            raise MagpieError(f"input_format must be 'auto', 'chat_template' or 'pair', got {input_format!r}")
        if input_format == "chat_template" and not getattr(self.tokenizer, "chat_template", None):
            raise MagpieError(f"reward model {model!r} has no chat template; use input_format='pair'")
        self.input_format = input_format
        self.max_length = max_length or loaded.max_length
        self.batch_size = batch_size
        self.padding_side = padding_side or getattr(self.tokenizer, "padding_side", "right") or "right"
        if self.padding_side not in ("left", "right") or truncation_side not in ("left", "right"):
            raise MagpieError("padding_side and truncation_side must be 'left' or 'right'")
        self.truncation_side = truncation_side
        self.label_index = label_index
        self._accepts_positions = "position_ids" in inspect.signature(self.model.forward).parameters

    # -- tokens ---------------------------------------------------------------------------
    def encode(self, conversation: Conversation) -> tuple[list[int], bool]:
        """Token ids of a conversation as the reward model sees it, and whether it was truncated."""
        tok = self.tokenizer
        if self.input_format == "chat_template":
            text = tok.apply_chat_template(conversation, tokenize=False)
            ids = tok(text, add_special_tokens=False, verbose=False)["input_ids"]  # the template holds its BOS
        else:
            *context, last = conversation
            prompt = "\n\n".join(m["content"] for m in context)
            ids = tok(prompt, last["content"], add_special_tokens=True, verbose=False)["input_ids"]
        if len(ids) <= self.max_length:
            return list(ids), False
        return (list(ids[: self.max_length]) if self.truncation_side == "right"
                else list(ids[-self.max_length:])), True

    # -- scoring --------------------------------------------------------------------------
    def score(self, conversations: Sequence[Conversation]) -> list[tuple[float, bool]]:
        """(reward, truncated) for each conversation; batched longest-first to limit padding."""
        encoded = [self.encode(c) for c in conversations]
        order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i][0]))
        scores: list[float] = [0.0] * len(encoded)
        for start in range(0, len(order), self.batch_size):
            chunk = order[start: start + self.batch_size]
            for i, value in zip(chunk, self._forward([encoded[i][0] for i in chunk])):
                scores[i] = value
        return [(scores[i], encoded[i][1]) for i in range(len(encoded))]

    def _forward(self, batch: list[list[int]]) -> list[float]:
        import torch

        pad_id = _unused_id(batch, self.tokenizer.pad_token_id, len(self.tokenizer))
        width = max(len(ids) for ids in batch)
        input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, ids in enumerate(batch):
            span = slice(0, len(ids)) if self.padding_side == "right" else slice(width - len(ids), width)
            input_ids[row, span] = torch.tensor(ids, dtype=torch.long)
            mask[row, span] = 1
        kwargs: dict[str, Any] = {"input_ids": input_ids.to(self.device), "attention_mask": mask.to(self.device)}
        if self._accepts_positions:
            kwargs["position_ids"] = (mask.cumsum(-1) - 1).clamp(min=0).to(self.device)
        config = self.model.config
        text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
        saved = text_config.pad_token_id
        text_config.pad_token_id = pad_id  # pooling takes the last token that is not this id
        try:
            with torch.inference_mode():
                out = self.model(**kwargs)
        finally:
            text_config.pad_token_id = saved
        logits = getattr(out, "score", None)
        if logits is None:
            logits = out.logits
        logits = logits.float()
        if logits.dim() == 2 and logits.shape[-1] > 1:
            if self.label_index is None:
                raise MagpieError(f"reward model {self.name!r} returns {logits.shape[-1]} logits per input; "
                                  "set label_index to the one that is the reward")
            logits = logits[:, self.label_index]
        return [float(v) for v in logits.reshape(len(batch)).cpu()]


def _unused_id(batch: list[list[int]], preferred: Optional[int], vocab_size: int) -> int:
    """A pad id no real token of the batch uses (the tokenizer's when possible)."""
    used = {t for ids in batch for t in ids}
    if preferred is not None and preferred not in used:
        return preferred
    return next(i for i in range(vocab_size - 1, -1, -1) if i not in used)


def _conversation(row: dict, instruction_column: str, response: str) -> Conversation:
    return [{"role": "user", "content": row[instruction_column]}, {"role": "assistant", "content": response}]


def _scored_messages(messages: Sequence[dict], include_reasoning: bool, tags: Sequence[str]) -> Conversation:
    """role/content only: a message's reasoning is left out, or with `include_reasoning` written in
    front of its content (a reward model's own template could otherwise render a reasoning field)."""
    out = []
    for m in messages:
        reasoning = next((m[k] for k in REASONING_FIELDS if m.get(k) is not None), None)
        content = inline(reasoning, m["content"], tuple(tags)) if include_reasoning else m["content"]
        out.append({"role": m["role"], "content": content})
    return out


@cites_magpie
class RewardModelLabeler(UsesRuntime, Step):
    """Scores responses with a Hugging Face sequence-classification reward model: one float per
    response, the same whatever the batch size or padding side.

    The conversation `[user: instruction, assistant: response]` goes through the reward model's own
    chat template (or a tokenizer text pair for models without one). With `conversation_column`,
    whole multi-turn conversations are scored instead. A response column holding lists (such as
    `generations`) gives a list of scores per row. Rows with no response (`None`, e.g. skipped by
    the responder) get `None`. Inputs longer than `max_length` are truncated and flagged.

    Reasoning models: the answer is scored without its reasoning (the `reasoning` column, or a
    message's `reasoning_content`), as reward models are trained on answers; `include_reasoning`
    scores it written in front of the answer (`<think>…</think>`) instead.

    Attributes:
        model: directory of the reward model (`AutoModelForSequenceClassification` + tokenizer);
            `"tiny-random"` builds a tiny random one locally (meaningless scores: CPU smoke runs).
        device / dtype / trust_remote_code / max_length / batch_size / input_format /
            padding_side / truncation_side / label_index: see `RewardScorer`.
        instruction_column / response_column / conversation_column: what to score.
        base_response_column: a base model's response to the same query (`MagpieBaseResponder`);
            adds the reward difference r* - r_base (Magpie paper, section 4). Rows without a base
            response get `None` there.
        output_column: name of the score column (`reward`; `ratings` for preference candidates).
        include_reasoning: score the reasoning with the answer (off: the answer alone).
        reasoning_column: the column holding each response's reasoning.
        reasoning_tags: the tags the reasoning is written between when included.

    Runtime parameters:
        - `model`: directory or hub id of the reward model.
        - `device`: "auto", "cpu", "cuda", "cuda:N".
        - `dtype`: "auto", "float32", "float16" or "bfloat16".
        - `trust_remote_code`: allow the checkpoint's own code (off unless asked; ArmoRM needs it).
        - `max_length`: longest input in tokens (longer ones are truncated and flagged).
        - `batch_size`: sequences per forward pass.
        - `include_reasoning`: score the reasoning with the answer.

    Input columns:
        - instruction (`str`): the query (`instruction_column`).
        - response (`str | list[str] | None`): the response(s) to score (`response_column`).
        - reasoning (`str | list[str] | None`, optional): their reasoning (`reasoning_column`), read
          only with `include_reasoning`.
        - messages (`list[dict]`, optional): the conversation, when `conversation_column` is set.
        - base_response (`str`, optional): when `base_response_column` is set.

    Output columns:
        - reward (`float | list[float] | None`): the score (named by `output_column`).
        - reward_truncated (`bool | list[bool] | None`): the input was cut to `max_length`.
        - reward_base (`float | None`): score of the base response (with `base_response_column`).
        - reward_difference (`float | None`): reward - reward_base (with `base_response_column`).
        - reward_model (`str`): the `model` that scored the row, so a run's report and Argilla
          records name it (the report marks `tiny-random` as a stand-in).

    Categories:
        - scorer

    References:
        - [Magpie: Alignment Data Synthesis from Scratch by Prompting Aligned LLMs with Nothing](https://arxiv.org/abs/2406.08464)
        - [Skywork-Reward](https://huggingface.co/Skywork/Skywork-Reward-Llama-3.1-8B-v0.2)

    Examples:
        Score responses:

        ```python
        from distilabel_magpie.scoring import RewardModelLabeler

        labeler = RewardModelLabeler(model="Skywork/Skywork-Reward-Llama-3.1-8B-v0.2", device="cuda",
                                     dtype="bfloat16")
        labeler.load()
        rows = next(labeler.process([{"instruction": "2+2?", "response": "4"}]))
        # rows[0]["reward"] -> a float
        ```
    """

    model: RuntimeParameter[str] = Field(
        default=None, description="Directory (or hub id) of an AutoModelForSequenceClassification reward model; "
        "'tiny-random': a tiny random model built locally (meaningless scores, for CPU smoke runs).")
    device: RuntimeParameter[str] = Field(default="auto", description="'auto', 'cpu', 'cuda' or 'cuda:N'.")
    dtype: RuntimeParameter[Literal["auto", "float32", "float16", "bfloat16"]] = Field(
        default="auto", description="Weights dtype; 'auto' is float32 on CPU and the checkpoint's dtype on GPU.")
    trust_remote_code: RuntimeParameter[bool] = Field(
        default=False, description="Run the checkpoint's own code (needed by e.g. ArmoRM); off unless asked.")
    max_length: Optional[RuntimeParameter[int]] = Field(
        ge=1, default=None, description="Longest input in tokens; longer inputs are truncated and flagged.")
    batch_size: RuntimeParameter[int] = Field(ge=1, default=8, description="Sequences per forward pass.")
    input_format: RuntimeParameter[Literal["auto", "chat_template", "pair"]] = Field(
        default="auto", description="How (instruction, response) is shown to the model.")
    padding_side: Optional[Literal["left", "right"]] = None
    truncation_side: Literal["left", "right"] = "right"
    label_index: Optional[int] = None
    instruction_column: str = "instruction"
    response_column: str = "response"
    conversation_column: Optional[str] = None
    base_response_column: Optional[str] = None
    output_column: str = "reward"
    include_reasoning: RuntimeParameter[bool] = Field(
        default=False, description="Score each answer with its reasoning written in front of it (default: the "
        "answer alone, without the reasoning).")
    reasoning_column: str = "reasoning"
    # A list, not a tuple: YAML dumps of tuples need a Python-specific tag that safe loaders refuse.
    reasoning_tags: List[str] = Field(default_factory=lambda: list(DEFAULT_TAGS), min_length=2, max_length=2)

    _scorer: Optional[RewardScorer] = PrivateAttr(default=None)

    def load(self) -> None:
        super().load()
        if not self.model:
            raise MagpieError(f"step {self.name!r}: set `model` to a reward model directory")
        model = self.model
        if model == TINY_REWARD_MODEL:
            model = tiny_reward_model_path()
            self._logger.warning(
                f"{self.name}: reward model {TINY_REWARD_MODEL!r} is a tiny randomly initialised model built "
                f"locally ({model}): its scores are meaningless; give a real one with --param {self.name}.model=...")
        elif not Path(self.model).exists() and (self.model.startswith((".", "/", "~")) or self.model.count("/") != 1):
            raise MagpieError(f"reward model directory {self.model!r} does not exist")
        self._scorer = RewardScorer(
            model, device=self.device, dtype=self.dtype, trust_remote_code=self.trust_remote_code,
            max_length=self.max_length, batch_size=self.batch_size, input_format=self.input_format,
            padding_side=self.padding_side, truncation_side=self.truncation_side, label_index=self.label_index)

    def unload(self) -> None:
        self._scorer = None
        super().unload()

    @property
    def scorer(self) -> RewardScorer:
        if self._scorer is None:
            raise MagpieError(f"step {self.name!r} is not loaded; call load() first")
        return self._scorer

    @property
    def inputs(self) -> "StepColumns":
        if self.conversation_column:
            return [self.conversation_column]
        cols = [self.instruction_column, self.response_column]
        return cols + ([self.base_response_column] if self.base_response_column else [])

    @property
    def outputs(self) -> "StepColumns":
        out = self.output_column
        return [out, f"{out}_truncated", f"{out}_model"] + (
            [f"{out}_base", f"{out}_difference"] if self.base_response_column else [])

    def _conversations(self, row: dict) -> list[Optional[Conversation]]:
        """What to score for one row: one conversation per response (None where there is none)."""
        if self.conversation_column:
            conv = row.get(self.conversation_column)
            return [_scored_messages(conv, self.include_reasoning, self.reasoning_tags) if conv else None]
        value = row.get(self.response_column)
        responses = value if isinstance(value, list) else [value]
        reasoning = row.get(self.reasoning_column) if self.include_reasoning else None
        reasonings = reasoning if isinstance(reasoning, list) else [reasoning] * len(responses)
        return [None if not isinstance(r, str) or not r or row.get(self.instruction_column) is None
                else _conversation(row, self.instruction_column, inline(why, r, self.reasoning_tags))
                for r, why in zip(responses, reasonings)]

    def process(self, inputs: StepInput) -> "StepOutput":  # type: ignore[override]
        require_columns(inputs, self.inputs, self.name)
        out = self.output_column
        plans = [self._conversations(row) for row in inputs]
        bases = [self._base_conversation(row) for row in inputs] if self.base_response_column else []
        todo = [c for plan in plans for c in plan if c is not None] + [c for c in bases if c is not None]
        results = iter(self.scorer.score(todo))
        for row, plan in zip(inputs, plans):
            scored = [next(results) if c is not None else (None, None) for c in plan]
            is_list = not self.conversation_column and isinstance(row.get(self.response_column), list)
            row[out] = [s for s, _ in scored] if is_list else scored[0][0]
            row[f"{out}_truncated"] = [t for _, t in scored] if is_list else scored[0][1]
            row[f"{out}_model"] = self.model
        for row, base in zip(inputs, bases):
            base_score, base_truncated = next(results) if base is not None else (None, None)
            row[f"{out}_base"] = base_score
            row[f"{out}_difference"] = (row[out] - base_score if isinstance(row[out], float)
                                        and base_score is not None else None)
            row[f"{out}_truncated"] = (row[f"{out}_truncated"] or base_truncated) if base is not None \
                else row[f"{out}_truncated"]
        yield inputs

    def _base_conversation(self, row: dict) -> Optional[Conversation]:
        base = row.get(self.base_response_column)
        if not isinstance(base, str) or not base or row.get(self.instruction_column) is None:
            return None
        return _conversation(row, self.instruction_column, base)
