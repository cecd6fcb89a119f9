"""Write a pipeline's rows to a folder the user chose (distilabel's CLI keeps them only in its cache)."""


import collections
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

from distilabel.mixins.runtime_parameters import RuntimeParameter
from distilabel.steps.base import GlobalStep, StepInput
from pydantic import Field, PrivateAttr

from distilabel_magpie.errors import MagpieError
from distilabel_magpie.output.settings import SETTINGS_FILE, dag_settings
from distilabel_magpie.runtime.step import UsesRuntime
from distilabel_magpie.storage.columns import accepted_row
from distilabel_magpie.storage.files import (
    DATA_JSONL,
    DATA_PARQUET,
    REJECTED_FILE,
    SUMMARY_FILE,
    is_dataset_folder,
    read_jsonl,
    write_rows,
)

if TYPE_CHECKING:
    from distilabel.typing import StepOutput


def _status_counts(rows: list[dict], column: str) -> dict[str, int]:
    return dict(collections.Counter(r.get(column) for r in rows if column in r).most_common())


class SaveDataset(UsesRuntime, GlobalStep):
    """Writes all rows to `output_dir` as `data.jsonl` and `data.parquet`, plus `summary.json`
    (row count and status counts), `settings.json` (every step's settings as the run was given
    them, `step.field` -> value) and the run report (`report.html`, `plots/*.png`). With
    `rejected_from`, the rows a filter step dropped (its `dropped_path`, each with its
    `drop_reason`) go beside them as `rejected.jsonl`. The folder is written beside `output_dir`
    and then put in its place, so re-running never duplicates rows and a failed write (an error
    line, a non-zero exit) leaves the previous dataset as it was. A folder holding other files is
    refused. A report that cannot be drawn is a warning, not a failed run.

    Attributes:
        output_dir: folder to write to (created if missing).
        rejected_from: the JSONL file of a filter step's dropped rows (moved into the folder).
        report: write the run report.

    Runtime parameters:
        - `output_dir`: folder to write to.
        - `rejected_from`: the filter step's `dropped_path`.
        - `report`: write report.html and plots/*.png.

    Input columns:
        - any: every column is written.

    Output columns:
        - none added; rows pass through unchanged.

    Examples:
        Save at the end of a pipeline:

        ```python
        from distilabel_magpie.output.save import SaveDataset

        save = SaveDataset(output_dir="data/magpie-sft")
        ```
    """

    output_dir: RuntimeParameter[str] = Field(default="data/magpie", description="Folder to write the dataset to.")
    rejected_from: Optional[RuntimeParameter[str]] = Field(
        default=None, description="JSONL file a filter step wrote its dropped rows to (its `dropped_path`); it is "
        "moved into the dataset folder as rejected.jsonl and counted in summary.json.")
    report: RuntimeParameter[bool] = Field(
        default=True, description="Write the run report (report.html and plots/*.png) into the dataset folder.")

    _pipeline_name: Optional[str] = PrivateAttr(default=None)
    _run_started: Optional[float] = PrivateAttr(default=None)  # wall clock when the run began
    _settings: Optional[dict] = PrivateAttr(default=None)  # every step's settings, taken before the run

    def model_post_init(self, __context: Any) -> None:
        super().model_post_init(__context)
        self._run_started = time.time()  # built for the run (the CLI builds, then runs); prepare_run refines
        # Taken now: the copy of the step that runs in a worker process has no pipeline.
        self._pipeline_name = getattr(self.pipeline, "name", None)

    def load(self) -> None:
        """Refuses an output folder that cannot be written (the guard also checks it before the
        run makes any row; a write that fails later, e.g. on a full disk, leaves no partial dataset)."""
        super().load()
        check_writable(Path(self.output_dir))

    def prepare_run(self, dag: Any, parameters: dict) -> None:
        """Before a run (a global step loads only when its stage starts, after the generation):
        the output_dir, as the run's parameters set it, can be written."""
        check_writable(Path(str((parameters.get(self.name) or {}).get("output_dir", self.output_dir))))
        self._run_started = time.time()
        # Taken now, with the run's parameters: the copy of the step that runs in a worker has no pipeline.
        try:
            self._settings = {"pipeline": self._pipeline_name, "settings": dag_settings(dag, parameters)}
        except Exception as e:  # noqa: BLE001 - a record for comparisons; the run goes on without it
            self._logger.warning(f"{self.name}: the run's settings are not recorded ({type(e).__name__}: {e})")

    def process(self, inputs: StepInput) -> "StepOutput":  # type: ignore[override]
        rows = [dict(r) for r in inputs]
        rejected = self._rejected()
        summary: dict = {"rows": len(rows)}
        for column in ("instruction_status", "response_status"):
            if any(column in r for r in rows):
                summary[column] = _status_counts(rows, column)
        if rejected is not None:
            summary["rejected"] = {"rows": len(rejected), "reasons": dict(collections.Counter(
                str(r.get("drop_reason")) for r in rejected).most_common())}
        summary["throughput"] = throughput(rows, rejected or [], time.time() - (self._run_started or time.time()))
        write_dataset(Path(self.output_dir), rows, summary, lambda folder: self._extras(folder, rows, rejected, summary))
        if self.rejected_from:
            Path(self.rejected_from).unlink(missing_ok=True)  # moved into the dataset folder
        self._logger.info(f"{self.name}: wrote {len(rows)} rows to {self.output_dir}/ ({summary})")
        if self.report:  # a plain line: distilabel's log handler wraps at 80 columns, cutting the path
            print(f"{self.name}: run report {Path(self.output_dir) / 'report.html'}", file=sys.stderr, flush=True)
        yield rows

    def _rejected(self) -> Optional[list[dict]]:
        if not self.rejected_from:
            return None
        path = Path(self.rejected_from)
        if not path.is_file():
            raise MagpieError(f"{self.name}: rejected_from {path} does not exist; set it to the dropped_path of the "
                              "filter step before this one")
        return read_jsonl(path, "a filter step")

    def _extras(self, folder: Path, rows: list[dict], rejected: Optional[list[dict]], summary: dict) -> None:
        """Written into the new dataset folder before it takes the place of the old one."""
        if rejected is not None:
            shutil.copyfile(self.rejected_from, folder / REJECTED_FILE)
        if self._settings is not None:  # for `distilabel-magpie compare`
            (folder / SETTINGS_FILE).write_text(json.dumps(self._settings, indent=2, default=str) + "\n",
                                                encoding="utf-8")
        if not self.report:
            return
        try:
            from distilabel_magpie.report import RunData, write_run_report

            run = RunData(rows=rows, rejected=rejected or [], summary=summary, source=str(self.output_dir),
                          kind="SaveDataset folder")
            title = f"Run report: {self._pipeline_name or 'pipeline'} → {self.output_dir}"
            write_run_report(run, folder, title)
        except Exception as e:  # noqa: BLE001 - the dataset is what the run is for; a failed report is logged
            self._logger.warning(f"{self.name}: the run report was not written ({type(e).__name__}: {e}); "
                                 f"write it later with `distilabel-magpie report {self.output_dir}`")


def throughput(rows: list[dict], rejected: list[dict], seconds: float) -> dict:
    """The run's speed: wall time (from the run's start to the write), tokens generated (the
    `statistics*` metadata of every row made, the ones a filter dropped included: the run generated
    them too), tokens/s, rows and accepted rows per hour. Dropped rows count as made, not as accepted."""
    from distilabel_magpie.runtime.progress import row_tokens

    seconds = max(seconds, 1e-9)
    tokens = sum(row_tokens(r) for r in rows + rejected)
    accepted = sum(accepted_row(r) for r in rows)
    return {"wall_seconds": round(seconds, 1), "tokens": tokens, "tokens_per_s": round(tokens / seconds, 1),
            "rows_per_hour": round((len(rows) + len(rejected)) * 3600 / seconds, 1),
            "accepted_rows": accepted, "accepted_rows_per_hour": round(accepted * 3600 / seconds, 1)}


def check_writable(out: Path) -> None:
    """`out` can be written as SaveDataset writes it (a new folder beside it), else a one-line error."""
    _folder_beside(out, "check").rmdir()


def _folder_beside(out: Path, purpose: str) -> Path:
    """A new empty folder beside `out`, which must be new, empty or a dataset SaveDataset wrote."""
    if out.exists() and not (out.is_dir() and (not any(out.iterdir()) or is_dataset_folder(out))):
        raise MagpieError(f"output_dir {out} holds files that are not a dataset written by SaveDataset; "
                          "choose a new or empty folder")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f".{out.name}.{purpose}-", dir=out.parent))
    except OSError as e:
        raise MagpieError(f"cannot write the dataset to {out}: {e.strerror or e}; choose a writable "
                          "output_dir") from None


def write_dataset(out: Path, rows: list[dict], summary: dict,
                  extras: Optional[Callable[[Path], None]] = None) -> None:
    """Write `data.jsonl`, `data.parquet` and `summary.json` (and what `extras(folder)` adds) into a
    fresh folder beside `out`, then put it in `out`'s place: a failed write leaves the previous
    dataset as it was, and a half-written one never sits under the name of a finished one."""
    tmp = _folder_beside(out, "writing")
    old = out.parent / f"{tmp.name.replace('.writing-', '.replaced-')}"
    try:
        write_rows(tmp / DATA_JSONL, rows)
        if rows:
            write_rows(tmp / DATA_PARQUET, rows)
        (tmp / SUMMARY_FILE).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        if extras is not None:
            extras(tmp)
        if out.exists():
            out.rename(old)
        tmp.rename(out)
    except Exception as e:  # noqa: BLE001 - any failure leaves the previous dataset in place
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists() and not out.exists():
            old.rename(out)
        if isinstance(e, OSError) and e.strerror:
            detail = e.strerror
        else:
            detail = str(e) if isinstance(e, MagpieError) else f"{type(e).__name__}: {e}"
        raise MagpieError(f"could not write the dataset to {out} ({detail.splitlines()[0]}); "
                          "its previous contents are unchanged") from None
    shutil.rmtree(old, ignore_errors=True)
