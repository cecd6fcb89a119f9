"""The rows of a run: their indices, and putting the rows of all replicas back together.

distilabel 1.5.3 replicates only normal steps (a generator step runs once), so generation runs
as a normal step fed by `RowIndices`, a generator of row indices only. Each row is a function
of its global index (system prompt, seeds), so neither the replica count nor the batching
changes what a row is, no two replicas make the same row, and a resumed run makes exactly the
rows that are missing. `FinalizeRows` then sees every row: it checks that each requested row is
there once and flags exact duplicates across replicas, the same way on every run.

The generation step owns `num_rows` and `batch_size` (the documented `--param magpie_sft.num_rows`
keeps working); `RowIndices.prepare_run` copies them to the `RowIndices` (and `num_rows` to the
`FinalizeRows` after it) before a run (the runtime calls it; with the runtime switched off, the
`num_rows` of all three must be set where the pipeline is defined).
"""


from typing import TYPE_CHECKING, Any, Dict, List, Optional

from distilabel.steps.base import GeneratorStep, GlobalStep, StepInput
from pydantic import Field

from distilabel_magpie.errors import MagpieError, PipelineFailed
from distilabel_magpie.generation.cleaning import DUPLICATE, OK, SKIPPED, normalize
from distilabel_magpie.runtime.step import UsesRuntime

if TYPE_CHECKING:
    from distilabel.typing import GeneratorStepOutput, StepColumns, StepOutput


class RowIndices(UsesRuntime, GeneratorStep):
    """Yields `{"row_index": i}` for i in 0..num_rows-1, `batch_size` per batch: the light
    source that feeds a replicable generation step (a `GeneratorStep` cannot be replicated).

    Attributes:
        num_rows: rows of the run; taken from the step it feeds when the pipeline runs.

    Runtime parameters:
        - `batch_size`: taken from the step it feeds when the pipeline runs.

    Output columns:
        - row_index (`int`): the global index of a row.

    Categories:
        - load

    Examples:
        Feed a generation step:

        ```python
        from distilabel_magpie.generation import RowIndices

        rows = RowIndices(name="row_indices", num_rows=4, batch_size=2)
        rows.load()
        print(list(rows.process()))  # [([{'row_index': 0}, {'row_index': 1}], False), ([...2, 3], True)]
        ```
    """

    num_rows: Optional[int] = Field(
        default=None, ge=1, description="Rows of the run (set from the step this one feeds when the pipeline runs).")

    @property
    def outputs(self) -> "StepColumns":
        return ["row_index"]

    def process(self, offset: int = 0) -> "GeneratorStepOutput":  # type: ignore[override]
        if self.num_rows is None:
            raise MagpieError(f"{self.name}: num_rows is not set; it comes from the step it feeds")
        if offset >= self.num_rows:
            yield [], True
            return
        for start in range(offset, self.num_rows, self.batch_size):
            end = min(start + self.batch_size, self.num_rows)
            yield [{"row_index": i} for i in range(start, end)], end >= self.num_rows

    def prepare_run(self, dag: Any, parameters: Dict[str, Any]) -> None:
        """Before a run: take the `num_rows` and `batch_size` of the step this one feeds (its
        runtime parameters included), give that step an `input_batch_size` of the same size, and
        the `FinalizeRows` steps after it the `num_rows`. They are then part of the run's cache
        signature."""
        if "batch_size" in (parameters.get(self.name) or {}):
            raise PipelineFailed(f"{self.name}.batch_size comes from the step it feeds; set that step's batch_size")
        fed = [dag.get_step(s)["step"] for s in dag.get_step_successors(self.name)]
        owners = [s for s in fed if hasattr(s, "num_rows") and hasattr(s, "batch_size")]
        if len(owners) != 1:
            return
        owner = owners[0]
        given = parameters.get(owner.name) or {}
        num_rows = _as_int(given.get("num_rows", owner.num_rows))
        batch_size = _as_int(given.get("batch_size", owner.batch_size))
        if num_rows is not None and num_rows >= 1:
            self.num_rows = num_rows
            for after in _descendants(dag, owner.name):
                if isinstance(after, FinalizeRows):
                    after.num_rows = num_rows
        if batch_size is not None and batch_size >= 1:
            self.batch_size = batch_size
            owner.input_batch_size = batch_size


class FinalizeRows(UsesRuntime, GlobalStep):
    """Puts the rows of every replica (and of every resumed run) together, in row order: checks
    that each row 0..num_rows-1 is there exactly once, and flags exact duplicate queries.

    A query (case, spacing and Unicode form aside) that an `ok` row of a lower index already has
    becomes `instruction_status="duplicate"`; an answer it got is cleared (`response` and
    `reasoning` None, `response_status="skipped"`; the text stays in `distilabel_metadata`), as
    if it had been flagged before answering. Every row is kept. A missing or repeated row index
    fails the step (and so the run) instead of passing on an incomplete dataset.

    Attributes:
        num_rows: rows the run must have (set from the generation step when the pipeline runs;
            None checks only that no index repeats).

    Input columns:
        - row_index (`int`), instruction (`str`), instruction_status (`str`).
        - response, reasoning, response_status: cleared for late duplicates, where present.

    Output columns:
        - instruction_status (`str`): `duplicate` for a repeat of a lower row index's query.

    Categories:
        - filtering

    Examples:
        Flag a repeat:

        ```python
        from distilabel_magpie.generation import FinalizeRows

        step = FinalizeRows(num_rows=2)
        step.load()
        rows = next(step.process([{"row_index": 1, "instruction": "Hi", "instruction_status": "ok"},
                                  {"row_index": 0, "instruction": "hi", "instruction_status": "ok"}]))
        print([r["instruction_status"] for r in rows])  # ['ok', 'duplicate']
        ```
    """

    num_rows: Optional[int] = Field(
        default=None, ge=1, description="Rows the run must have (set from the generation step when the pipeline runs).")

    @property
    def inputs(self) -> "StepColumns":
        return ["row_index", "instruction", "instruction_status"]

    @property
    def outputs(self) -> "StepColumns":
        return ["instruction_status"]

    def process(self, inputs: StepInput) -> "StepOutput":  # type: ignore[override]
        rows = sorted(inputs, key=lambda r: r["row_index"])
        check_complete(self.name, [r["row_index"] for r in rows], self.num_rows)
        seen: Dict[str, int] = {}
        flagged = 0
        for row in rows:
            if row.get("instruction_status") != OK or not isinstance(row.get("instruction"), str):
                continue
            key = normalize(row["instruction"])
            if key in seen:
                flagged += 1
                row["instruction_status"] = DUPLICATE
                if "response_status" in row:
                    row.update(response=None, reasoning=None, response_status=SKIPPED)
            else:
                seen[key] = row["row_index"]
        self._logger.info(f"{self.name}: {len(rows)} rows, {flagged} exact duplicate queries flagged")
        yield rows


def check_complete(step: str, indices: List[Any], num_rows: Optional[int]) -> None:
    """Each of 0..num_rows-1 exactly once (sorted `indices`), else a one-line error."""
    repeated = sorted({i for a, i in zip(indices, indices[1:]) if a == i})
    if repeated:
        raise MagpieError(f"{step}: row indices {_few(repeated)} came more than once; the run made rows twice")
    if num_rows is None:
        return
    missing = sorted(set(range(num_rows)) - set(indices))
    extra = sorted(set(indices) - set(range(num_rows)))
    if missing or extra:
        what = f"{len(missing)} of {num_rows} rows are missing (row indices {_few(missing)})" if missing else (
            f"row indices {_few(extra)} are outside 0..{num_rows - 1}")
        raise MagpieError(f"{step}: {what}; the dataset is incomplete and was not passed on (run the same command "
                          "again to resume from the cache)")


def _few(values: List[Any]) -> str:
    return ", ".join(map(str, values[:8])) + (f", ... ({len(values)} in all)" if len(values) > 8 else "")


def feed_row_sources(pipeline: Any, parameters: Optional[Dict[str, Any]]) -> None:
    """`prepare_run` of every `RowIndices` in `pipeline` (what the runtime does before a run)."""
    for name in list(pipeline.dag.G):
        source = pipeline.dag.get_step(name)["step"]
        if isinstance(source, RowIndices):
            source.prepare_run(pipeline.dag, parameters or {})


def _descendants(dag: Any, name: str) -> List[Any]:
    import networkx as nx

    return [dag.get_step(s)["step"] for s in nx.descendants(dag.G, name)]


def _as_int(value: Any) -> Optional[int]:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None  # pydantic says what is wrong when the value is set
