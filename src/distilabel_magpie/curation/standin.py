"""STAND-IN for `distilabel_magpie.generation.MagpieSampler` until it lands on main: yields crafted
queries with the sampler's columns, so the preference pipeline runs end to end. Unlike
distilabel's `LoadDataFromDicts`, whose `data` is left out of the dumped YAML, the queries here
survive `Pipeline.save` / `Pipeline.from_yaml`."""

from typing import TYPE_CHECKING, List

from distilabel.steps.base import GeneratorStep
from pydantic import Field

if TYPE_CHECKING:
    from distilabel.typing import GeneratorStepOutput, StepColumns


class StandInQueries(GeneratorStep):
    """Stand-in query source (replace with `MagpieSampler`): one row per query.

    Attributes:
        queries: the queries to emit.

    Runtime parameters:
        - `batch_size`: rows per batch.

    Output columns:
        - instruction (`str`): the query.
        - instruction_status (`str`): always `ok`.

    Categories:
        - load

    Examples:
        Two queries:

        ```python
        from distilabel_magpie.curation.standin import StandInQueries

        step = StandInQueries(queries=["Hi?", "Name a river."])
        step.load()
        next(step.process())  # ([{"instruction": "Hi?", "instruction_status": "ok"}, ...], True)
        ```
    """

    queries: List[str] = Field(default_factory=list)

    @property
    def outputs(self) -> "StepColumns":
        return ["instruction", "instruction_status"]

    def process(self, offset: int = 0) -> "GeneratorStepOutput":  # type: ignore[override]
        rows = [{"instruction": q, "instruction_status": "ok"} for q in self.queries]
        while offset < len(rows):
            batch = rows[offset: offset + self.batch_size]
            offset += len(batch)
            yield batch, offset >= len(rows)
        if not rows:
            yield [], True
