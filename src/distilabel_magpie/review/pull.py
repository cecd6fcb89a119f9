"""Reading a reviewed Argilla dataset back as training data (SFT rows or DPO pairs).

A record counts as reviewed when at least one reviewer submitted a response. With several
reviewers: ratings are averaged, a pair is kept only if every reviewer accepted it, a preference
needs a strict majority, and the first non-empty corrected response wins. Everything that is not
yielded is counted by reason (pending, discarded, rejected, tie).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Iterator, Literal, Optional

from distilabel.mixins.runtime_parameters import RuntimeParameter
from distilabel.steps.base import GeneratorStep
from pydantic import Field, PrivateAttr

from distilabel_magpie.errors import MagpieError
from distilabel_magpie.review.connection import ArgillaConnection, secret_value
from distilabel_magpie.review.dataset_settings import METADATA, REASONING_FIELD, ROW_COLUMNS, TAG_QUESTIONS, kind_of
from distilabel_magpie.review.records import turn_reasoning_of
from distilabel_magpie.runtime.step import UsesRuntime

if TYPE_CHECKING:
    import argilla as rg
    from distilabel.typing import GeneratorStepOutput, StepColumns

PAGE = 500
_TAG_COLUMNS = [f"review_{question}" for question, _ in TAG_QUESTIONS.values()]
REVIEW_COLUMNS = ["review_quality", "review_edited", "original_response", "review_reviewers", *_TAG_COLUMNS,
                  "argilla_id"]
OUTPUT_COLUMNS = {
    "sft": ["instruction", "response", "reasoning", "review_verdict", *REVIEW_COLUMNS],
    "chat": ["messages", "review_verdict", *REVIEW_COLUMNS],
    "preference": ["prompt", "chosen", "rejected", "review_agrees_with_reward", *REVIEW_COLUMNS],
}
# The row's own columns the push kept in the record's metadata, back under their names.
ORIGINAL_COLUMNS = {kind: [column for name, column in ROW_COLUMNS.items() if name in METADATA[kind]]
                    for kind in OUTPUT_COLUMNS}


@dataclass
class PullCounts:
    records: int = 0
    pulled: int = 0
    pending: int = 0  # no submitted response (none at all, or drafts)
    discarded: int = 0  # every reviewer discarded it
    rejected: int = 0  # submitted, but not accepted by every reviewer
    tie: int = 0  # preference: tie or no majority

    def summary(self) -> str:
        return ", ".join(f"{v} {k}" for k, v in asdict(self).items())


def _iter_records(client: "rg.Argilla", dataset: "rg.Dataset") -> Iterator[dict]:
    # The raw API: the SDK's Record drops responses without values (e.g. discarded ones).
    offset = 0
    while True:
        import httpx

        try:
            response = client.http_client.get(
                f"/api/v1/datasets/{dataset.id}/records",
                params={"include": "responses", "offset": offset, "limit": PAGE},
            )
            response.raise_for_status()
        except httpx.HTTPError as e:
            raise MagpieError(f"reading Argilla dataset {dataset.name!r} failed: {type(e).__name__}: {e}") from None
        items = response.json().get("items", [])
        yield from items
        if len(items) < PAGE:
            return
        offset += PAGE


def _first_edit(values: list, originals: tuple) -> Optional[str]:
    """The first corrected response that changes something (the box starts as the original text)."""
    return next((v for v in values if isinstance(v, str) and v.strip() and v not in originals), None)


def _review(record: dict, kind: str, counts: PullCounts) -> Optional[dict]:
    """The reviewed row of one record, or None (counted) when it is not to be used."""
    responses = record.get("responses") or []
    submitted = [{q: v.get("value") for q, v in (r.get("values") or {}).items()}
                 for r in responses if r.get("status") == "submitted"]
    if not submitted:
        if responses and all(r.get("status") == "discarded" for r in responses):
            counts.discarded += 1
        else:
            counts.pending += 1
        return None

    def answers(question: str) -> list:
        return [s.get(question) for s in submitted if s.get(question) is not None]

    ratings = [v for v in answers("quality") if isinstance(v, (int, float))]
    fields = record.get("fields") or {}
    corrected = _first_edit(answers("corrected_response"), _originals(fields, kind))
    metadata = record.get("metadata") or {}
    row = {
        **{column: metadata.get(name) for name, column in ROW_COLUMNS.items() if name in METADATA[kind]},
        "review_quality": sum(ratings) / len(ratings) if ratings else None,
        "review_edited": corrected is not None,
        "original_response": None,
        "review_reviewers": len(submitted),
        **{f"review_{q}": (answers(q) or [None])[0] for q, _ in TAG_QUESTIONS.values()},
        "argilla_id": record.get("external_id"),
    }
    if kind == "preference":
        votes = answers("preference")
        winner = max(("response_1", "response_2"), key=votes.count)
        if votes.count(winner) * 2 <= len(votes):
            counts.tie += 1
            return None
        loser = "response_2" if winner == "response_1" else "response_1"
        reward_choice = (record.get("metadata") or {}).get("reward_choice")
        if corrected:
            row["original_response"] = fields[winner]
        row.update(
            prompt=fields["prompt"],
            chosen=[{"role": "assistant", "content": corrected or fields[winner]}],
            rejected=[{"role": "assistant", "content": fields[loser]}],
            review_agrees_with_reward=(reward_choice == winner) if reward_choice else None,
        )
        return row
    if any(v != "accept" for v in answers("verdict")) or not answers("verdict"):
        counts.rejected += 1
        return None
    row["review_verdict"] = "accept"
    if kind == "sft":
        row.update(instruction=fields["instruction"], response=corrected or fields["response"],
                   reasoning=fields.get(REASONING_FIELD), original_response=fields["response"] if corrected else None)
    else:
        messages = [dict(m) for m in fields["messages"]]
        reasonings = turn_reasoning_of(fields.get(REASONING_FIELD))
        turn = 0
        for m in messages:
            if m["role"] == "assistant":
                turn += 1
                if turn in reasonings:
                    m["reasoning_content"] = reasonings[turn]
        if corrected:
            last = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
            row["original_response"] = messages[last]["content"]
            messages[last]["content"] = corrected
        row["messages"] = messages
    return row


def _originals(fields: dict, kind: str) -> tuple:
    """The texts a corrected response may replace: unchanged, it is no edit."""
    if kind == "sft":
        return (fields.get("response"),)
    if kind == "preference":
        return (fields.get("response_1"), fields.get("response_2"))
    assistants = [m.get("content") for m in fields.get("messages") or [] if m.get("role") == "assistant"]
    return tuple(assistants[-1:])


def pull_reviewed(client: "rg.Argilla", dataset: "rg.Dataset", kind: Optional[str] = None) -> tuple[list, PullCounts]:
    """All usable reviewed rows of `dataset` and the counts of what was left out."""
    found = kind_of(dataset.settings)
    if found is None:
        raise MagpieError(f"Argilla dataset {dataset.name!r} was not created by distilabel-magpie's push steps")
    if kind is not None and kind != found:
        raise MagpieError(f"Argilla dataset {dataset.name!r} is a {found} review dataset, not {kind}")
    counts, rows = PullCounts(), []
    declared = {m.name for m in dataset.settings.metadata}
    original = [column for name, column in ROW_COLUMNS.items() if name in METADATA[found] and name in declared]
    for record in _iter_records(client, dataset):
        counts.records += 1
        row = _review(record, found, counts)
        if row is not None:
            rows.append({c: row.get(c) for c in OUTPUT_COLUMNS[found] + original})
            counts.pulled += 1
    return rows, counts


def open_dataset(name: str, workspace: Optional[str], api_url: Optional[str], api_key: Optional[str]):
    from distilabel_magpie.review.connection import connect, get_dataset

    client = connect(api_url, api_key)
    dataset = get_dataset(client, name, workspace)
    if dataset is None:
        where = f" in workspace {workspace!r}" if workspace else ""
        raise MagpieError(f"Argilla dataset {name!r} not found{where} at {client.api_url}")
    return client, dataset


class LoadReviewedFromArgilla(ArgillaConnection, UsesRuntime, GeneratorStep):
    """Yields the reviewed records of an Argilla dataset as an SFT, chat or DPO dataset.

    Only records with a submitted review are yielded; pending, discarded, rejected and tied records
    are left out and counted (logged, and available as `counts`). A reviewer's corrected response
    replaces the response (SFT), the final assistant message (chat) or the chosen answer (DPO); the
    text it replaced stays in `original_response`, and the row's columns kept as metadata come back. The
    reviewer's ratings become `review_*` columns. Reasoning comes back as it was pushed (the
    `reasoning` column, or `reasoning_content` of the assistant messages), also next to a
    corrected answer.

    Attributes:
        kind: the layout the dataset was pushed with: `sft`, `chat` or `preference` (checked).
        dataset_name: the Argilla dataset.
        dataset_workspace: its workspace.
        api_url: Argilla URL; default `ARGILLA_API_URL`, else the running local review server.
        api_key: Argilla key (a `SecretStr`, never dumped); default `ARGILLA_API_KEY`, else the
            local review server's.

    Runtime parameters:
        - `dataset_name`, `dataset_workspace`, `api_url`, `api_key`: as the attributes.
        - `batch_size`: rows per batch.

    Output columns:
        - instruction, response (`str`), reasoning (`str | None`): for `kind="sft"`.
        - messages (`list[dict]`): for `kind="chat"` (assistant reasoning in `reasoning_content`).
        - prompt, chosen, rejected (`list[dict]`): for `kind="preference"`, in TRL's DPO format.
        - review_verdict (`str`): `accept` (sft and chat).
        - review_agrees_with_reward (`bool | None`): whether the reviewers picked the reward
          model's choice (preference).
        - the row's own columns the push kept as metadata (model_name, template, system_prompt_key,
          language, instruction_status, response_status, quality, difficulty, task_category, reward,
          reward_base, reward_difference, safety, min_neighbor_distance, repeat_count; preference:
          chosen_score, rejected_score, margin), where the dataset has them.
        - original_response (`str | None`): for an edited record, the text the correction replaced.
        - review_quality (`float | None`): mean rating; review_edited (`bool`: a reviewer changed
          the corrected response, which starts as the original); review_reviewers
          (`int`); review_instruction_quality, review_difficulty, review_task_category
          (`str | None`): corrected judge tags; argilla_id (`str`).

    Categories:
        - load

    References:
        - [Argilla: export and collect responses](https://docs.argilla.io/latest/how_to_guides/query/)

    Examples:
        Load reviewed pairs into a pipeline:

        ```python
        from distilabel_magpie.review import LoadReviewedFromArgilla

        load = LoadReviewedFromArgilla(kind="sft", dataset_name="magpie-sft")
        load.load()
        rows, is_last = next(load.process())
        ```
    """

    kind: Literal["sft", "chat", "preference"] = "sft"
    dataset_name: RuntimeParameter[str] = Field(default=None, description="Name of the reviewed Argilla dataset.")
    dataset_workspace: Optional[RuntimeParameter[str]] = Field(
        default=None, description="Argilla workspace of the dataset.")

    _rows: list = PrivateAttr(default_factory=list)
    _counts: PullCounts = PrivateAttr(default_factory=PullCounts)

    @property
    def outputs(self) -> "StepColumns":
        return list(OUTPUT_COLUMNS[self.kind]) + ORIGINAL_COLUMNS[self.kind]

    @property
    def counts(self) -> PullCounts:
        return self._counts

    def load(self) -> None:
        super().load()
        if not self.dataset_name:
            raise MagpieError("LoadReviewedFromArgilla needs `dataset_name` (the reviewed Argilla dataset)")
        client, dataset = open_dataset(self.dataset_name, self.dataset_workspace, self.api_url,
                                       secret_value(self.api_key))
        self._rows, self._counts = pull_reviewed(client, dataset, self.kind)
        self._logger.info(f"Argilla dataset {self.dataset_name!r}: {self._counts.summary()}")

    def process(self, offset: int = 0) -> "GeneratorStepOutput":  # type: ignore[override]
        rows = self._rows
        if not rows:
            yield [], True
            return
        for start in range(offset, len(rows), self.batch_size):
            batch = rows[start : start + self.batch_size]
            yield [dict(r) for r in batch], start + self.batch_size >= len(rows)
