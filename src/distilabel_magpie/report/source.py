"""What a report is made from: the rows of a run, wherever they were written."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from distilabel_magpie.errors import MagpieError

REJECTED_FILE = "rejected.jsonl"


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


def read_jsonl(path: Path, written_by: str = "SaveDataset") -> list[dict]:
    """Rows of a JSONL file; a damaged line is a one-line error naming the file and line."""
    rows = []
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise MagpieError(f"cannot read {path}: {e.strerror or e}") from None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise MagpieError(f"{path}, line {number}: not valid JSON ({e.msg}); the file is damaged or was not "
                              f"written by {written_by}") from None
        if not isinstance(row, dict):
            raise MagpieError(f"{path}, line {number}: a JSON {type(row).__name__}, not a row object; the file "
                              f"was not written by {written_by}")
        rows.append(row)
    return rows


def read_parquet(path: Path) -> list[dict]:
    import pyarrow.parquet as pq

    try:
        rows = pq.read_table(path).to_pylist()
    except Exception as e:  # noqa: BLE001 - pyarrow raises several kinds for a file that is not parquet
        raise MagpieError(f"{path} is not a readable parquet file ({type(e).__name__})") from None
    return [_unpack(r) for r in rows]


def _unpack(row: dict) -> dict:
    # SaveDataset writes dict columns (distilabel_metadata) to parquet as JSON text.
    out = dict(row)
    meta = out.get("distilabel_metadata")
    if isinstance(meta, str):
        try:
            out["distilabel_metadata"] = json.loads(meta)
        except json.JSONDecodeError:
            pass
    return out


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
            rows += [_unpack(r) for r in split.to_list()]
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
        if (path / "data.jsonl").is_file():
            rows, kind = read_jsonl(path / "data.jsonl"), "SaveDataset folder"
        elif (path / "data.parquet").is_file():
            rows, kind = read_parquet(path / "data.parquet"), "SaveDataset folder (parquet)"
        elif _is_distiset(path):
            rows, kind = _distiset_rows(path), "Distiset folder"
        else:
            raise MagpieError(f"{path / 'data.jsonl'} not found; point at a folder written by SaveDataset "
                              "(e.g. data/magpie-sft), a Distiset folder, or a .jsonl / .parquet file")
        if (path / REJECTED_FILE).is_file():
            rejected = read_jsonl(path / REJECTED_FILE, "a filter step")
        if (path / "summary.json").is_file():
            try:
                summary = json.loads((path / "summary.json").read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                summary = None  # the rows are what counts; a damaged summary is recomputed
    elif path.suffix in (".jsonl", ".json"):
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
