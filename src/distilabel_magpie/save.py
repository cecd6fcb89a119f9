"""Write a pipeline's rows to a folder the user chose (distilabel's CLI keeps them only in its cache)."""


import collections
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from distilabel.mixins.runtime_parameters import RuntimeParameter
from distilabel.steps.base import GlobalStep, StepInput
from pydantic import Field

if TYPE_CHECKING:
    from distilabel.typing import StepOutput


def _status_counts(rows: list[dict], column: str) -> dict[str, int]:
    return dict(collections.Counter(r.get(column) for r in rows if column in r).most_common())


class SaveDataset(GlobalStep):
    """Writes all rows to `output_dir` as `data.jsonl` and `data.parquet`, plus `summary.json`
    (row count and status counts). Files are replaced, so re-running never duplicates rows.

    Attributes:
        output_dir: folder to write to (created if missing).

    Runtime parameters:
        - `output_dir`: folder to write to.

    Input columns:
        - any: every column is written.

    Output columns:
        - none added; rows pass through unchanged.

    Examples:
        Save at the end of a pipeline:

        ```python
        from distilabel_magpie.save import SaveDataset

        save = SaveDataset(output_dir="data/magpie-sft")
        ```
    """

    output_dir: RuntimeParameter[str] = Field(default="data/magpie", description="Folder to write the dataset to.")

    def process(self, inputs: StepInput) -> "StepOutput":  # type: ignore[override]
        rows = [dict(r) for r in inputs]
        out = Path(self.output_dir)
        out.mkdir(parents=True, exist_ok=True)
        with (out / "data.jsonl").open("w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
        if rows:
            import pyarrow as pa
            import pyarrow.parquet as pq

            pq.write_table(pa.Table.from_pylist([_plain(r) for r in rows]), out / "data.parquet")
        summary = {"rows": len(rows)}
        for column in ("instruction_status", "response_status"):
            if any(column in r for r in rows):
                summary[column] = _status_counts(rows, column)
        (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        self._logger.info(f"{self.name}: wrote {len(rows)} rows to {out}/ ({summary})")
        yield rows


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    # Parquet needs one type per column; metadata dicts vary by row, so store them as JSON text.
    return {k: (json.dumps(v, ensure_ascii=False, default=str) if isinstance(v, dict) else v) for k, v in row.items()}
