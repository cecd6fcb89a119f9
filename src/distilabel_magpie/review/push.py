"""distilabel steps that log rows to Argilla for human review: SFT pairs, chat conversations and
preference pairs. Each row passes through with its record id and what happened to it."""

from typing import TYPE_CHECKING, Any, ClassVar, Optional

from distilabel.mixins.runtime_parameters import RuntimeParameter
from distilabel.steps.base import Step, StepInput
from pydantic import Field, PrivateAttr

from distilabel_magpie.errors import ArgillaUnavailable, MagpieError
from distilabel_magpie.generation.docstrings import cites_magpie
from distilabel_magpie.review.connection import ArgillaConnection, ensure_dataset
from distilabel_magpie.review.dataset_settings import (
    FLAG_FIELD,
    REASONING_FIELD,
    TAG_QUESTION_NAMES,
    has_flag,
    has_reasoning,
)
from distilabel_magpie.review.records import (
    BUILDERS,
    OPTIONAL,
    PREFERENCE_OPTIONAL,
    REQUIRED,
    ReviewRecord,
    SkipRow,
    flag_of,
)
from distilabel_magpie.review.uploader import PushCounts, RecordUploader
from distilabel_magpie.runtime.step import UsesRuntime
from distilabel_magpie.storage.columns import PRODUCERS

if TYPE_CHECKING:
    from distilabel.typing import StepColumns, StepOutput

OUTPUT_COLUMNS = ["argilla_id", "argilla_status", "argilla_error"]


class ArgillaReviewStep(ArgillaConnection, UsesRuntime, Step):
    """Base of the push steps: connection, dataset creation and counted, idempotent upserts.

    Subclasses set `kind` ("sft", "chat" or "preference"); the record layout lives in
    `distilabel_magpie.review.dataset_settings` and `distilabel_magpie.review.records`.
    """

    kind: ClassVar[str]

    dataset_name: Optional[RuntimeParameter[str]] = Field(
        default=None, description="Name of the Argilla dataset to log to (required, unless the step is optional).")
    dataset_workspace: Optional[RuntimeParameter[str]] = Field(
        default=None, description="Argilla workspace of the dataset (default: the user's first workspace).")
    run_id: Optional[RuntimeParameter[str]] = Field(
        default=None, description="Run id stored in each record's metadata (default: the pipeline's name).")
    max_retries: RuntimeParameter[int] = Field(
        ge=0, default=5, description="Retries of a batch on connection errors, 429 and 5xx answers.")
    retry_backoff: RuntimeParameter[float] = Field(
        ge=0, default=1.0, description="First retry delay in seconds; doubles each retry (at most 30 s).")
    max_text_chars: RuntimeParameter[int] = Field(
        ge=1, default=100_000, description="Rows with a longer text are skipped (counted, with the reason).")
    include_flagged: RuntimeParameter[bool] = Field(
        default=False, description="Also push rows whose answer is flagged (response_status not ok: truncated, "
        "repetitive...), with the reason in a Flag field above the texts; off: they are skipped and counted.")
    # Pipelines that push only when asked: without a dataset_name the step passes rows unchanged.
    optional: bool = False

    _client: Any = PrivateAttr(None)
    _dataset: Any = PrivateAttr(None)
    _uploader: Optional[RecordUploader] = PrivateAttr(None)
    _counts: PushCounts = PrivateAttr(default_factory=PushCounts)
    _pipeline_name: Optional[str] = PrivateAttr(None)
    _warned_no_vectors: bool = PrivateAttr(False)
    _warned_left_out: set = PrivateAttr(default_factory=set)

    @property
    def inputs(self) -> "StepColumns":
        optional = OPTIONAL + (PREFERENCE_OPTIONAL if self.kind == "preference" else ())
        return {**{c: True for c in REQUIRED[self.kind]}, **{c: False for c in optional}}

    @property
    def outputs(self) -> "StepColumns":
        return list(OUTPUT_COLUMNS)

    @property
    def counts(self) -> PushCounts:
        """What happened to the rows processed so far."""
        return self._counts

    def load(self) -> None:
        super().load()
        self._counts = PushCounts()
        if not self.dataset_name and self.optional:
            self._logger.info(f"{self.name}: no dataset_name given, nothing is pushed to Argilla (push with "
                              f"--param {self.name}.dataset_name=NAME)")
            return
        if not self.dataset_name:
            raise MagpieError(f"{type(self).__name__} needs `dataset_name` (the Argilla dataset to log to)")
        self._client = self.argilla_client()

    def unload(self) -> None:
        if self._logger is not None and self._counts.total:
            self._logger.info(f"Argilla dataset {self.dataset_name!r}: {self._counts.summary()}")
        super().unload()

    def model_post_init(self, __context: Any) -> None:
        super().model_post_init(__context)
        # Default run id: the pipeline's name, stable across re-runs so a re-push changes nothing.
        # Taken now: the copy of the step that runs in a worker process has no pipeline.
        self._pipeline_name = getattr(self.pipeline, "name", None)

    def _run_id(self) -> Optional[str]:
        return self.run_id or self._pipeline_name

    def _check_columns(self, row: dict) -> None:
        for column in REQUIRED[self.kind]:
            if column not in row:
                raise MagpieError(
                    f"{type(self).__name__} needs column {column!r} (produced by {PRODUCERS[column]}); "
                    f"the rows have {sorted(row)}"
                )

    def _ensure_uploader(self, records: list[ReviewRecord]) -> None:
        if self._uploader is not None:
            return
        dims = next((len(r.vector) for r in records if r.vector is not None), None)
        reasoning = any(REASONING_FIELD in r.fields for r in records)
        # Declared from the first records: only the metadata and judge tags the rows have.
        metadata = {name for r in records for name in r.metadata}
        tags = {s[0] for r in records for s in r.suggestions if s[0] in TAG_QUESTION_NAMES}
        flag = self.include_flagged and self.kind != "preference"
        self._dataset = ensure_dataset(self._client, self.dataset_name, self.kind, self.dataset_workspace, dims,
                                       reasoning, metadata, tags, flag)
        self._uploader = RecordUploader(self._client, self._dataset, self.max_retries, self.retry_backoff,
                                        logger=self._logger)

    def _fit_reasoning(self, record: ReviewRecord) -> Optional[str]:
        """A reason to skip the record if its reasoning has no field in the dataset."""
        if REASONING_FIELD in record.fields and not has_reasoning(self._dataset.settings):
            return "the dataset has no reasoning field (it was created from rows without reasoning)"
        return None

    def _fit_layout(self, record: ReviewRecord) -> Optional[str]:
        """Leaves out the metadata and suggestions the dataset has no place for (logged once each);
        a reason to skip the record if its flag has no field."""
        settings = self._dataset.settings
        if FLAG_FIELD in record.fields and not has_flag(settings):
            return "the dataset has no flag field (it was created without include_flagged)"
        properties = {m.name for m in settings.metadata}
        questions = {q.name for q in settings.questions}
        left_out = sorted(set(record.metadata) - properties) + sorted(
            {s[0] for s in record.suggestions} - questions)
        record.metadata = {k: v for k, v in record.metadata.items() if k in properties}
        record.suggestions = [s for s in record.suggestions if s[0] in questions]
        new = [name for name in left_out if name not in self._warned_left_out]
        if new and self._logger is not None:
            self._warned_left_out.update(new)
            self._logger.warning(f"Argilla dataset {self.dataset_name!r} has no metadata property or question for "
                                 f"{', '.join(new)} (it was created from rows without them): left out")
        return None

    def _fit_vector(self, record: ReviewRecord) -> Optional[str]:
        """A reason to skip the record if its embedding cannot go into the dataset's vector field."""
        vectors = self._dataset.settings.vectors
        if record.vector is None:
            return None
        if not vectors:  # the dataset was created from rows without embeddings: keep the record
            if self._logger is not None and not self._warned_no_vectors:
                self._logger.warning(f"Argilla dataset {self.dataset_name!r} has no vector field: embeddings dropped")
                self._warned_no_vectors = True
            record.vector = None
            return None
        dims = vectors[0].dimensions
        return None if len(record.vector) == dims else f"embedding has {len(record.vector)} dimensions, not {dims}"

    def push_rows(self, rows: list[dict]) -> PushCounts:
        """Logs `rows` and adds `argilla_id`, `argilla_status` (created, updated, failed, skipped or
        duplicate) and `argilla_error` to each of them in place. Returns this batch's counts."""
        counts = PushCounts()
        if not rows:
            return counts
        self._check_columns(rows[0])
        build, run_id = BUILDERS[self.kind], self._run_id()
        records, positions, seen = [], [], {}
        for i, row in enumerate(rows):
            try:
                record = build(row, run_id, self.max_text_chars)
                flag = flag_of(row) if self.kind == "sft" else None
                if flag and not self.include_flagged:
                    raise SkipRow(f"response_status is {row['response_status']!r}: flagged answers are not pushed "
                                  "(include_flagged=True pushes them with a visible flag)")
            except SkipRow as e:
                row.update(argilla_id=None, argilla_status="skipped", argilla_error=str(e))
                counts.add("skipped", str(e))
                continue
            if flag:
                record.fields[FLAG_FIELD] = flag
            row["argilla_id"] = record.id
            if record.id in seen:  # same content twice in one batch: one record
                row.update(argilla_status="duplicate", argilla_error=f"same content as row {seen[record.id]}")
                counts.add("duplicate")
                continue
            seen[record.id] = i
            records.append(record)
            positions.append(i)
        if records:
            try:
                self._ensure_uploader(records)
            except ArgillaUnavailable as e:  # not reachable now: these rows fail, the next batch retries
                for i in positions:
                    rows[i].update(argilla_status="failed", argilla_error=str(e))
                    counts.add("failed", str(e))
                records = []
        if records:
            sendable = []
            for record, i in zip(records, positions):
                problem = self._fit_reasoning(record) or self._fit_layout(record) or self._fit_vector(record)
                if problem:
                    rows[i].update(argilla_status="skipped", argilla_error=problem)
                    counts.add("skipped", problem)
                else:
                    sendable.append((record, i))
            outcomes = self._uploader.upsert([record for record, _ in sendable])
            for (_, i), outcome in zip(sendable, outcomes):
                rows[i].update(argilla_status=outcome.status, argilla_error=outcome.error)
                counts.add(outcome.status, outcome.error)
        self._counts.merge(counts)
        if self._logger is not None:
            log = self._logger.warning if counts.failed else self._logger.info
            log(f"Argilla dataset {self.dataset_name!r}: {counts.summary()}")
        return counts

    def process(self, inputs: StepInput) -> "StepOutput":  # type: ignore[override]
        rows = [dict(r) for r in inputs]
        if self._client is not None:
            self.push_rows(rows)
        yield rows


@cites_magpie
class PushSFTToArgilla(ArgillaReviewStep):
    """Logs instruction/response pairs to Argilla for human review.

    Reviewers rate the response (1-5), accept or reject the pair, may edit the corrected response
    (it starts as the response) and may correct the judge's tags, which are pre-filled as
    suggestions with the judge's scores (questions only for the tags the rows have). With a reward
    difference r* - r_base the verdict is pre-filled too: accept when the answer beats the base
    model's, with probability sigmoid(r* - r_base). Metadata properties are declared for the
    columns the first rows have. Rows whose answer is flagged (`response_status` not ok, e.g. cut
    at the token limit) are skipped unless `include_flagged`, which pushes them with the reason in
    a `Flag` field above the texts. Records get a stable id derived from their content, so pushing
    the same rows again updates the same records; batches are retried on connection errors and 5xx
    answers; every row ends with a status.

    Attributes:
        dataset_name: the Argilla dataset (created with this layout if missing).
        dataset_workspace: its workspace.
        api_url: Argilla URL; default `ARGILLA_API_URL`, else the running local review server.
        api_key: Argilla key (a `SecretStr`, never dumped); default `ARGILLA_API_KEY`, else the
            local review server's.
        run_id: stored in each record's metadata; default the pipeline's name.
        max_retries: retries of a batch.
        retry_backoff: first retry delay in seconds (doubling).
        max_text_chars: rows with longer texts are skipped and counted.
        include_flagged: push flagged answers too, with a visible flag.
        optional: without a `dataset_name`, pass the rows on unpushed instead of failing (for
            pipelines that push only when asked).

    Runtime parameters:
        - `dataset_name`, `dataset_workspace`, `api_url`, `api_key`, `run_id`, `max_retries`,
          `retry_backoff`, `max_text_chars`, `include_flagged`: as the attributes.

    Input columns:
        - instruction (`str`): the query.
        - response (`str`): the answer (rows without one are skipped and counted).
        - reasoning (`str`, optional): the model's reasoning before the answer, shown in a field of
          its own (the dataset gets it when the first rows pushed carry reasoning).
        - model_name, template, system_prompt_key, language, instruction_status, response_status
          (`str`, optional): metadata.
        - quality, difficulty, task_category (`str`, optional): judge tags, suggested with
          `quality_score`, `difficulty_score`, `task_category_score` (floats in [0, 1]) as scores.
        - reward, reward_base, reward_difference, min_neighbor_distance (`float`, optional), repeat_count
          (`int`, optional), safety (`str`, optional): metadata; reward_difference also suggests the verdict.
        - embedding (`list[float]`, optional): a vector, for "find similar" in the UI.

    Output columns:
        - argilla_id (`str | None`): the record's stable id.
        - argilla_status (`str`): `created`, `updated`, `failed`, `skipped` or `duplicate`.
        - argilla_error (`str | None`): why a row failed or was skipped.

    Categories:
        - save

    References:
        - [Argilla 2.x documentation](https://docs.argilla.io/latest/)
        - [Magpie](https://arxiv.org/abs/2406.08464)

    Examples:
        Push generated pairs (to the local review server when no ARGILLA_API_* is set):

        ```python
        from distilabel_magpie.review import PushSFTToArgilla

        push = PushSFTToArgilla(dataset_name="magpie-sft")
        push.load()
        rows = next(push.process([{"instruction": "What is 2 + 2?", "response": "4"}]))
        print(rows[0]["argilla_status"], push.counts.summary())
        ```
    """

    kind: ClassVar[str] = "sft"


class PushChatToArgilla(ArgillaReviewStep):
    """Logs multi-turn conversations to Argilla, rendered as a chat, for human review.

    Reviewers rate the conversation, accept or reject it and may rewrite its final assistant
    message. Ids, retries, statuses and credentials work as in `PushSFTToArgilla`.

    Attributes:
        dataset_name, dataset_workspace, api_url, api_key, run_id, max_retries, retry_backoff,
        max_text_chars: as in `PushSFTToArgilla`.

    Runtime parameters:
        - `dataset_name`, `dataset_workspace`, `api_url`, `api_key`, `run_id`, `max_retries`,
          `retry_backoff`, `max_text_chars`: as in `PushSFTToArgilla`.

    Input columns:
        - messages (`list[dict]`): the conversation as {role, content} messages (TRL/OpenAI format);
          assistant reasoning (`reasoning_content`) is shown in a `reasoning` field, turn by turn.
        - the optional metadata, judge-tag and embedding columns of `PushSFTToArgilla`.

    Output columns:
        - argilla_id (`str | None`), argilla_status (`str`), argilla_error (`str | None`): as in
          `PushSFTToArgilla`.

    Categories:
        - save

    References:
        - [Argilla ChatField](https://docs.argilla.io/latest/reference/argilla/settings/fields/)

    Examples:
        ```python
        from distilabel_magpie.review import PushChatToArgilla

        push = PushChatToArgilla(dataset_name="magpie-chat")
        push.load()
        chat = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]
        rows = next(push.process([{"messages": chat}]))
        ```
    """

    kind: ClassVar[str] = "chat"


@cites_magpie
class PushPreferencesToArgilla(ArgillaReviewStep):
    """Logs preference pairs (TRL DPO format) to Argilla for human review.

    The prompt is shown as a chat and the two responses side by side, on sides decided by the record
    id (the chosen one is not always first). The reward model's choice is a suggestion whose score is
    sigmoid(chosen_score - rejected_score), the Bradley-Terry probability that it is right. Ids,
    retries, statuses and credentials work as in `PushSFTToArgilla`.

    Attributes:
        dataset_name, dataset_workspace, api_url, api_key, run_id, max_retries, retry_backoff,
        max_text_chars: as in `PushSFTToArgilla`.

    Runtime parameters:
        - `dataset_name`, `dataset_workspace`, `api_url`, `api_key`, `run_id`, `max_retries`,
          `retry_backoff`, `max_text_chars`: as in `PushSFTToArgilla`.

    Input columns:
        - prompt (`list[dict]` or `str`): the conversation before the answer.
        - chosen, rejected (`list[dict]` or `str`): the two answers.
        - chosen_score, rejected_score, margin (`float`, optional): reward scores.
        - generations (`list[str]`, optional), ratings (`list[float]`, optional).
        - reward_model (`str`, optional): the suggestion's agent.
        - the optional metadata, judge-tag and embedding columns of `PushSFTToArgilla`.

    Output columns:
        - argilla_id (`str | None`), argilla_status (`str`), argilla_error (`str | None`): as in
          `PushSFTToArgilla`.

    Categories:
        - save

    References:
        - [Magpie-PO](https://arxiv.org/abs/2406.08464)
        - [TRL dataset formats](https://huggingface.co/docs/trl/dataset_formats)

    Examples:
        ```python
        from distilabel_magpie.review import PushPreferencesToArgilla

        push = PushPreferencesToArgilla(dataset_name="magpie-dpo")
        push.load()
        row = {"prompt": [{"role": "user", "content": "2 + 2?"}],
               "chosen": [{"role": "assistant", "content": "4"}],
               "rejected": [{"role": "assistant", "content": "5"}],
               "chosen_score": 1.5, "rejected_score": -0.5}
        rows = next(push.process([row]))
        ```
    """

    kind: ClassVar[str] = "preference"
