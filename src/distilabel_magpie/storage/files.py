"""The one reader and writer of row datasets: JSONL (`.jsonl`, `.jsonl.gz`) and Parquet, chosen by
the file's suffix. Reading gives back the rows that were written, in either format: Parquet keeps
dict/list columns as Arrow types where they survive the trip (e.g. `messages`, for trainers that
read the file), and stores the others (dicts whose keys vary by row, like `distilabel_metadata`)
as JSON text; the file's metadata says which columns to decode."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any, Sequence

from distilabel_magpie.errors import MagpieError

# A dataset folder as SaveDataset writes it.
DATA_JSONL = "data.jsonl"
DATA_PARQUET = "data.parquet"
SUMMARY_FILE = "summary.json"
REJECTED_FILE = "rejected.jsonl"

SUFFIXES = (".jsonl.gz", ".jsonl", ".parquet")
_LAYOUT_KEY = b"distilabel_magpie.layout"
# Parquet files written before the layout was recorded: only this column was stored as JSON text.
LEGACY_LAYOUT = {"json": ["distilabel_metadata"]}


def is_dataset_folder(folder: Path) -> bool:
    """A folder SaveDataset wrote (it may also hold the run's report)."""
    return folder.is_dir() and {SUMMARY_FILE, DATA_JSONL} <= {p.name for p in folder.iterdir()}


def suffix_of(path: Path) -> str:
    """The dataset suffix of `path`, else a one-line error."""
    suffix = next((s for s in SUFFIXES if path.name.endswith(s)), None)
    if suffix is None:
        raise MagpieError(f"{path}: unsupported file type; use .parquet or .jsonl (or .jsonl.gz)")
    return suffix


def write_rows(path: str | Path, rows: Sequence[dict]) -> Path:
    """Write `rows` to `path` (its suffix picks the format); creates the parent folder."""
    path = Path(path)
    suffix = suffix_of(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".parquet":
        _write_parquet(path, rows)
    else:
        with _open_text(path, "w") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False, default=_json_default) + "\n")
    return path


def read_rows(path: str | Path, written_by: str = "SaveDataset") -> list[dict]:
    """The rows of a file `write_rows` wrote (or any JSONL / Parquet file of row objects)."""
    path = Path(path)
    suffix = suffix_of(path)
    if not path.is_file():
        raise MagpieError(f"{path} does not exist")
    return read_parquet(path) if suffix == ".parquet" else read_jsonl(path, written_by)


def read_jsonl(path: Path, written_by: str = "SaveDataset") -> list[dict]:
    """Rows of a JSONL file; a damaged line is a one-line error naming the file and line."""
    try:
        with _open_text(path, "r", errors="replace") as f:
            text = f.read()
    except (OSError, EOFError) as e:  # EOFError: a cut-off .gz
        raise MagpieError(f"cannot read {path}: {getattr(e, 'strerror', None) or e}") from None
    rows = []
    # Split on "\n" only: str.splitlines() would also cut at U+2028 and friends inside a text.
    for number, line in enumerate(text.split("\n"), 1):
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
        table = pq.read_table(path)
    except Exception as e:  # noqa: BLE001 - pyarrow raises several kinds for a file that is not parquet
        raise MagpieError(f"{path} is not a readable parquet file ({type(e).__name__})") from None
    stored = (table.schema.metadata or {}).get(_LAYOUT_KEY)
    layout = json.loads(stored) if stored else LEGACY_LAYOUT
    return [decode_row(r, layout) for r in table.to_pylist()]


def decode_row(row: dict, layout: dict = LEGACY_LAYOUT) -> dict:
    """A row read from Arrow, as it was written: JSON-text columns decoded, the None entries
    Arrow added to dicts ("sparse" columns) and rows ("absent" columns) removed."""
    out = dict(row)
    for name in layout.get("json", ()):
        if isinstance(out.get(name), str):
            try:
                out[name] = json.loads(out[name])
            except json.JSONDecodeError:
                pass  # a legacy file's plain text
    for name in layout.get("sparse", ()):
        out[name] = _drop_none(out.get(name))
    for name in layout.get("absent", ()):
        if out.get(name) is None:
            out.pop(name, None)
    return out


def _write_parquet(path: Path, rows: Sequence[dict]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = list(dict.fromkeys(k for r in rows for k in r))
    arrays, layout = [], {"json": [], "sparse": []}
    for name in names:
        array, how = _column(path, name, [_plain(r.get(name)) for r in rows])
        arrays.append(array)
        if how:
            layout[how].append(name)
    # Arrow gives every row every column; those a row lacked (and no row set to None) are left out again.
    layout["absent"] = [n for n in names if any(n not in r for r in rows) and all(r[n] is not None
                                                                                  for r in rows if n in r)]
    table = pa.Table.from_arrays(arrays, names=names) if names else pa.table({})
    pq.write_table(table.replace_schema_metadata({_LAYOUT_KEY: json.dumps(layout)}), path)


def _column(path: Path, name: str, values: list) -> tuple[Any, str | None]:
    """The Arrow array of one column and how it is stored: as it is (None), "sparse" (dicts whose
    keys vary, Arrow fills the missing ones with None) or "json" (as JSON text)."""
    import pyarrow as pa

    present = [v for v in values if v is not None]
    nested = bool(present) and all(isinstance(v, (dict, list)) for v in present)
    try:
        array = pa.array(values)
    except (pa.ArrowException, OverflowError) as e:
        if not nested:  # a scalar column of two types is the rows' problem, not the format's
            raise MagpieError(f"cannot write {path.name}: column {name!r} holds values of different types "
                              f"({str(e).splitlines()[0]}); parquet needs one type per column") from None
        return _json_array(values), "json"
    if not nested:
        return array, None
    if not _has_empty_struct(array.type):  # parquet cannot write a struct without fields ({})
        back = array.to_pylist()
        if back == values:
            return array, None
        if _drop_none(values) == values and _drop_none(back) == values:
            return array, "sparse"
    return _json_array(values), "json"


def _json_array(values: list) -> Any:
    import pyarrow as pa

    return pa.array([None if v is None else json.dumps(v, ensure_ascii=False, default=_json_default)
                     for v in values], type=pa.string())


def _has_empty_struct(kind: Any) -> bool:
    import pyarrow as pa

    if pa.types.is_struct(kind) and kind.num_fields == 0:
        return True
    return any(_has_empty_struct(kind.field(i).type) for i in range(kind.num_fields))


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    """Python values as JSON has them (numpy arrays and scalars, tuples), so both formats agree."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return value.tolist()
    return value


def _json_default(value: Any) -> Any:
    return value.tolist() if hasattr(value, "tolist") else str(value)


def _open_text(path: Path, mode: str, errors: str = "strict"):
    if path.name.endswith(".gz"):
        return gzip.open(path, mode + "t", encoding="utf-8", errors=errors)
    return path.open(mode, encoding="utf-8", errors=errors)
