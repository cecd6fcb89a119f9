"""What a report is made from: the rows of a run, wherever they were written."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from distilabel_magpie.errors import MagpieError
from distilabel_magpie.storage.files import (
    DATA_JSONL,
    DATA_PARQUET,
    REJECTED_FILE,
    SUMMARY_FILE,
    decode_row,
    read_jsonl,
    read_parquet,
)


@dataclass
class RunData:
    """The rows of one run: those kept in the dataset, and those a filter dropped (each with its
    `drop_reason`), plus the run's `summary.json` when there is one."""

    rows: list[dict]
    rejected: list[dict] = field(default_factory=list)
    summary: Optional[dict] = None
    source: str = ""
    kind: str = "rows"  # how the rows were found (shown in the report)

    @property
    def all_rows(self) -> list[dict]:
        return self.rows + self.rejected


def _is_distiset(folder: Path) -> bool:
    return (folder / "distiset_configs").is_dir() or any(
        (sub / "dataset_info.json").is_file() or (sub / "dataset_dict.json").is_file()
        for sub in folder.iterdir() if sub.is_dir())


def _distiset_rows(folder: Path) -> list[dict]:
    from distilabel.distiset import Distiset

    try:
        distiset = Distiset.load_from_disk(str(folder))
    except Exception as e:  # noqa: BLE001 - datasets raises many kinds for a damaged folder
        raise MagpieError(f"{folder} looks like a Distiset folder but cannot be loaded "
                          f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from None
    rows: list[dict] = []
    for subset in distiset.values():
        splits = subset.values() if hasattr(subset, "keys") else [subset]
        for split in splits:
            rows += [decode_row(r) for r in split.to_list()]
    return rows


def load_source(source: str | Path) -> RunData:
    """The rows behind SOURCE: a folder written by SaveDataset (data.jsonl, or data.parquet, plus
    rejected.jsonl and summary.json when present), a Distiset folder (`Distiset.save_to_disk`), or
    a .jsonl / .parquet file. Rows carrying a `drop_reason` (a rejected-rows file) count as
    rejected."""
    path = Path(source).expanduser()
    if not path.exists():
        raise MagpieError(f"{path} does not exist; give a dataset folder (SaveDataset or Distiset) or a "
                          ".jsonl / .parquet file")
    summary = None
    rejected: list[dict] = []
    if path.is_dir():
        if (path / DATA_JSONL).is_file():
            rows, kind = read_jsonl(path / DATA_JSONL), "SaveDataset folder"
        elif (path / DATA_PARQUET).is_file():
            rows, kind = read_parquet(path / DATA_PARQUET), "SaveDataset folder (parquet)"
        elif _is_distiset(path):
            rows, kind = _distiset_rows(path), "Distiset folder"
        else:
            raise MagpieError(f"{path / DATA_JSONL} not found; point at a folder written by SaveDataset "
                              "(e.g. data/magpie-sft), a Distiset folder, or a .jsonl / .parquet file")
        if (path / REJECTED_FILE).is_file():
            rejected = read_jsonl(path / REJECTED_FILE, "a filter step")
        if (path / SUMMARY_FILE).is_file():
            try:
                summary = json.loads((path / SUMMARY_FILE).read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                summary = None  # the rows are what counts; a damaged summary is recomputed
    elif path.suffix == ".json" or path.name.endswith((".jsonl", ".jsonl.gz")):
        rows, kind = read_jsonl(path, "SaveDataset or a filter step"), "JSONL file"
    elif path.suffix == ".parquet":
        rows, kind = read_parquet(path), "Parquet file"
    else:
        raise MagpieError(f"{path}: unknown kind of file; give a .jsonl or .parquet file or a dataset folder")
    kept = [r for r in rows if "drop_reason" not in r]
    rejected += [r for r in rows if "drop_reason" in r]
    return RunData(rows=kept, rejected=rejected, summary=summary, source=str(path), kind=kind)


def value_rows(rows: list[dict], column: str) -> list[Any]:
    """The values of `column` in the rows that have one (not None)."""
    return [r[column] for r in rows if r.get(column) is not None]
