"""Exports: SFT rows as OpenAI/TRL `messages`, ShareGPT or Alpaca; DPO rows in TRL's format; files
as Parquet or JSONL. For the Hub, use the pipeline's `Distiset.push_to_hub(repo_id)`.

Reasoning: in `messages` it stays in each assistant message's `reasoning_content`, the field
transformers' chat templates read (TRL's SFT trainer passes messages to `apply_chat_template`,
which also gives it to gpt-oss templates as `thinking`), or is written inline in front of the
answer (`<think>…</think>`, for templates that read no such field), or dropped. ShareGPT and
Alpaca have no such field: inline by default."""


from pathlib import Path
from typing import TYPE_CHECKING, Any, List, Literal, Optional, Sequence

from distilabel.steps.base import Step, StepInput
from pydantic import Field

from distilabel_magpie.curation.base import DropCounter
from distilabel_magpie.errors import MagpieError
from distilabel_magpie.storage.files import read_rows, write_rows
from distilabel_magpie.templates.reasoning import DEFAULT_TAGS, inline
from distilabel_magpie.templates.render import REASONING_FIELDS

if TYPE_CHECKING:
    from distilabel.typing import StepColumns, StepOutput

SFT_FORMATS = ("messages", "sharegpt", "alpaca")
ROLES = ("system", "user", "assistant")
_SHAREGPT_ROLES = dict(zip(ROLES, ("system", "human", "gpt")))
DPO_COLUMNS = ("prompt", "chosen", "rejected", "chosen_score", "rejected_score", "margin")
REASONING_FORMATS = ("field", "inline", "drop")


def _message(role: str, content: str, reasoning: Optional[str] = None) -> dict:
    return {"role": role, "content": content, **({"reasoning_content": reasoning} if reasoning is not None else {})}


def conversation(row: dict) -> Optional[list[dict]]:
    """The row as a message list: its `messages` (multi-turn), else `[user, assistant]`; None when
    there is no answered turn. Assistant reasoning is kept in `reasoning_content`."""
    messages = row.get("messages")
    if messages:
        return [_message(m.get("role"), m.get("content"),
                         next((m[k] for k in REASONING_FIELDS if m.get(k) is not None), None)) for m in messages]
    if isinstance(row.get("instruction"), str) and isinstance(row.get("response"), str) and row["response"]:
        return [_message("user", row["instruction"]), _message("assistant", row["response"], row.get("reasoning"))]
    return None


def reasoning_format_of(fmt: str, reasoning_format: Optional[str]) -> str:
    """The reasoning format to use: `field` for messages, `inline` for ShareGPT/Alpaca by default."""
    chosen = reasoning_format or ("field" if fmt == "messages" else "inline")
    if chosen not in REASONING_FORMATS:
        raise MagpieError(f"unknown reasoning format {chosen!r}; use one of {', '.join(REASONING_FORMATS)}")
    if chosen == "field" and fmt != "messages":
        raise MagpieError(f"the {fmt} format has no reasoning field; use reasoning_format='inline' or 'drop'")
    return chosen


def _with_reasoning(conv: list[dict], how: str, tags: Sequence[str]) -> list[dict]:
    if how == "field":
        return conv
    out = []
    for m in conv:
        reasoning = m.get("reasoning_content")
        m = {"role": m["role"], "content": m["content"]}
        if how == "inline" and reasoning is not None:
            m["content"] = inline(reasoning, m["content"], tuple(tags))
        out.append(m)
    return out


def chat_problem(conv: list[dict]) -> Optional[str]:
    """Why a message list is no chat a trainer can take, or None: chat templates render any role
    name as it is (a `gpt` or `human` turn trains silently on the wrong tokens) and some refuse
    turns out of order. A chat is an optional system message, then user and assistant in turn."""
    roles = [m["role"] for m in conv]
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        return f"unknown role {unknown[0]!r}"
    turns = roles[1:] if roles[0] == "system" else roles
    if turns != ["user", "assistant"] * (len(turns) // 2) + ["user"] * (len(turns) % 2):
        return "turns out of order"
    if not all(isinstance(m["content"], str) for m in conv):
        return "message without text"
    return None


def to_sft(row: dict, fmt: str, reasoning_format: Optional[str] = None,
           tags: Sequence[str] = DEFAULT_TAGS) -> tuple[Optional[dict], Optional[str]]:
    """The row in an SFT format, or why it cannot be expressed in it; its reasoning in
    `reasoning_format` (see the module docstring), inline between `tags`."""
    conv = conversation(row)
    problem = chat_problem(conv) if conv else None
    if problem is not None:
        return None, problem
    if conv is None or conv[-1]["role"] != "assistant" or not conv[-1]["content"]:
        return None, "no answered turn"
    conv = _with_reasoning(conv, reasoning_format_of(fmt, reasoning_format), tags)
    if fmt == "messages":
        return {"messages": conv}, None
    if fmt == "sharegpt":
        return {"conversations": [{"from": _SHAREGPT_ROLES[m["role"]], "value": m["content"]}
                                  for m in conv]}, None
    if fmt == "alpaca":
        turns = [m for m in conv if m["role"] != "system"]
        if len(turns) != 2:
            return None, "alpaca holds one turn only"
        system = [m["content"] for m in conv if m["role"] == "system"]
        return {"instruction": turns[0]["content"], "input": "", "output": turns[1]["content"],
                **({"system": system[0]} if system else {})}, None
    raise MagpieError(f"unknown SFT format {fmt!r}; use one of {', '.join(SFT_FORMATS)}")


class FormatSFT(DropCounter, Step):
    """Adds the SFT columns of one format: `messages` (OpenAI / TRL), `conversations` (ShareGPT)
    or `instruction`/`input`/`output` (Alpaca). Rows without an answered turn, or whose messages
    are no chat (a role other than system/user/assistant, turns out of order), are dropped and
    counted.

    Reasoning (the `reasoning` column, or `reasoning_content` of assistant messages) is kept as
    `reasoning_format` says: "field" keeps it in each assistant message's `reasoning_content`
    (messages only; what transformers' chat templates read, e.g. Qwen3 and gpt-oss), "inline"
    writes it in front of the answer between `reasoning_tags` (for templates that read no such
    field; R1-style), "drop" leaves it out. Default: "field" for messages, "inline" otherwise.

    Attributes:
        format: "messages", "sharegpt" or "alpaca".
        reasoning_format: "field", "inline", "drop" or None (the format's default).
        reasoning_tags: the tags of inline reasoning (`<think>`, `</think>`; EXAONE-Deep: `<thought>`).

    Runtime parameters:
        - `dropped_path`: JSONL file receiving the rows that cannot be formatted.

    Input columns:
        - instruction (`str`), response (`str`) and reasoning (`str`, optional), or messages
          (`list[dict]`, reasoning in `reasoning_content`).

    Output columns:
        - messages (`list[dict]`): for format "messages" (with `reasoning_content` for "field").
        - conversations (`list[dict]`): for format "sharegpt" (`from`: human/gpt/system, `value`).
        - instruction (`str`), input (`str`), output (`str`): for format "alpaca".

    Categories:
        - format

    Examples:
        ShareGPT rows:

        ```python
        from distilabel_magpie.curation import FormatSFT

        step = FormatSFT(format="sharegpt")
        step.load()
        next(step.process([{"instruction": "Hi", "response": "Hello!"}]))[0]["conversations"]
        ```
    """

    format: Literal["messages", "sharegpt", "alpaca"] = "messages"
    reasoning_format: Optional[Literal["field", "inline", "drop"]] = None
    # A list, not a tuple: YAML dumps of tuples need a Python-specific tag that safe loaders refuse.
    reasoning_tags: List[str] = Field(default_factory=lambda: list(DEFAULT_TAGS), min_length=2, max_length=2)

    def model_post_init(self, __context: Any) -> None:
        super().model_post_init(__context)
        reasoning_format_of(self.format, self.reasoning_format)  # refuse "field" for ShareGPT/Alpaca now

    def load(self) -> None:
        super().load()
        self._reset_counts()

    @property
    def inputs(self) -> "StepColumns":
        return {"instruction": False, "response": False, "reasoning": False, "messages": False}

    @property
    def outputs(self) -> "StepColumns":
        return {"messages": ["messages"], "sharegpt": ["conversations"],
                "alpaca": ["instruction", "input", "output"]}[self.format]

    def process(self, inputs: StepInput) -> "StepOutput":  # type: ignore[override]
        kept, dropped = [], []
        for row in inputs:
            formatted, reason = to_sft(row, self.format, self.reasoning_format, self.reasoning_tags)
            if formatted is None:
                dropped.append((row, reason))
            else:
                row.update(formatted)
                kept.append(row)
        self._count(len(kept), dropped)
        yield kept


def select(rows: Sequence[dict], kind: str) -> list[dict]:
    """Only the columns of an export kind: an SFT format or "dpo" (rows that cannot be expressed
    are left out; use `FormatSFT` in a pipeline to have them counted)."""
    if kind == "dpo":
        missing = [c for c in ("prompt", "chosen", "rejected") if rows and c not in rows[0]]
        if missing:
            raise MagpieError(f"DPO export needs column {missing[0]!r}; add PreferencePairs before it")
        return [{c: r[c] for c in DPO_COLUMNS if c in r} for r in rows]
    return [formatted for formatted, _ in (to_sft(r, kind) for r in rows) if formatted is not None]


def save_rows(rows: Sequence[dict], path: str | Path, kind: Optional[str] = None) -> Path:
    """Write rows (optionally reduced to an export kind) to `.parquet`, `.jsonl` or `.jsonl.gz`."""
    return write_rows(path, select(rows, kind) if kind else [dict(r) for r in rows])


def load_rows(path: str | Path) -> list[dict[str, Any]]:
    """Read rows written by `save_rows` or `SaveDataset` (its `data.jsonl` / `data.parquet`)."""
    return read_rows(path)
