"""Write a pipeline's rows to a folder the user chose (distilabel's CLI keeps them only in its cache)."""


import collections
import json
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from distilabel.mixins.runtime_parameters import RuntimeParameter
from distilabel.steps.base import GlobalStep, StepInput
from pydantic import Field

from distilabel_magpie.errors import MagpieError

if TYPE_CHECKING:
    from distilabel.typing import StepOutput


def _status_counts(rows: list[dict], column: str) -> dict[str, int]:
    return dict(collections.Counter(r.get(column) for r in rows if column in r).most_common())


class SaveDataset(GlobalStep):
    """Writes all rows to `output_dir` as `data.jsonl` and `data.parquet`, plus `summary.json`
    (row count and status counts). The folder is written beside `output_dir` and then put in its
    place, so re-running never duplicates rows and a failed write (an error line, a non-zero
    exit) leaves the previous dataset as it was. A folder holding other files is refused.

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
        summary = {"rows": len(rows)}
        for column in ("instruction_status", "response_status"):
            if any(column in r for r in rows):
                summary[column] = _status_counts(rows, column)
        write_dataset(Path(self.output_dir), rows, summary)
        self._logger.info(f"{self.name}: wrote {len(rows)} rows to {self.output_dir}/ ({summary})")
        yield rows


def write_dataset(out: Path, rows: list[dict], summary: dict) -> None:
    """Write `data.jsonl`, `data.parquet` and `summary.json` into a fresh folder beside `out`, then
    put it in `out`'s place: a failed write leaves the previous dataset as it was, and a
    half-written one never sits under the name of a finished one."""
    if out.exists() and not _replaceable(out):
        raise MagpieError(f"output_dir {out} holds files that are not a dataset written by SaveDataset; "
                          "choose a new or empty folder")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.writing-", dir=out.parent))
    except OSError as e:
        raise MagpieError(f"cannot write the dataset to {out}: {e.strerror or e}; choose a writable "
                          "output_dir") from None
    old = out.parent / f"{tmp.name.replace('.writing-', '.replaced-')}"
    try:
        with (tmp / "data.jsonl").open("w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
        if rows:
            import pyarrow as pa
            import pyarrow.parquet as pq

            pq.write_table(pa.Table.from_pylist([_plain(r) for r in rows]), tmp / "data.parquet")
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        if out.exists():
            out.rename(old)
        tmp.rename(out)
    except Exception as e:  # noqa: BLE001 - any failure leaves the previous dataset in place
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists() and not out.exists():
            old.rename(out)
        detail = f"{e.strerror}" if isinstance(e, OSError) and e.strerror else f"{type(e).__name__}: {e}"
        raise MagpieError(f"could not write the dataset to {out} ({detail.splitlines()[0]}); "
                          "its previous contents are unchanged") from None
    shutil.rmtree(old, ignore_errors=True)


def _replaceable(out: Path) -> bool:
    """An empty folder, or one a previous SaveDataset wrote (it may also hold the run's report)."""
    if not out.is_dir():
        return False
    names = {p.name for p in out.iterdir()}
    return not names or {"summary.json", "data.jsonl"} <= names


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    # Parquet needs one type per column; metadata dicts vary by row, so store them as JSON text.
    return {k: (json.dumps(v, ensure_ascii=False, default=str) if isinstance(v, dict) else v) for k, v in row.items()}
