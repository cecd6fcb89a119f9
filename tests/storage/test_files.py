import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from distilabel_magpie.curation import load_rows
from distilabel_magpie.errors import MagpieError
from distilabel_magpie.storage.files import read_rows, write_rows

ROWS = [
    {"instruction": "Ünïcode ✓ 🙂 and a line separator \u2028 inside", "response": None, "reward": 1.5,
     "distilabel_metadata": {"raw_output": {"text": "x"}, "statistics": {"tokens": [3, None]}},
     "messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A", "reasoning_content": "R"}],
     "tags": [], "extra": {}},
    {"instruction": "second", "response": "ok", "reward": -2.0,
     "distilabel_metadata": {"other_step": None, "list": [{"a": 1}, {"b": "2"}]},
     "messages": [{"role": "user", "content": "Q2"}], "tags": ["a", "b"], "extra": {"k": [1, "mixed"]},
     "only_here": "x"},
]


@pytest.mark.parametrize("name", ["rows.jsonl", "rows.jsonl.gz", "rows.parquet"])
def test_rows_come_back_as_they_were_written(tmp_path, name):
    assert read_rows(write_rows(tmp_path / name, ROWS)) == ROWS


def test_parquet_keeps_columns_arrow_can_hold_as_arrow_types(tmp_path):
    schema = pq.read_schema(write_rows(tmp_path / "rows.parquet", ROWS))
    assert pa.types.is_list(schema.field("messages").type)  # trainers read messages as a list of structs
    assert schema.field("distilabel_metadata").type == pa.string()  # keys vary by row: JSON text


def test_parquet_written_before_the_layout_was_recorded(tmp_path):
    rows = [{"instruction": "a", "distilabel_metadata": json.dumps({"raw_output": "x"})}]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "data.parquet")
    assert read_rows(tmp_path / "data.parquet") == [{"instruction": "a", "distilabel_metadata": {"raw_output": "x"}}]


def test_load_rows_of_a_save_dataset_folder_gives_dicts(tmp_path):
    from distilabel_magpie.output.save import SaveDataset

    step = SaveDataset(output_dir=str(tmp_path / "out"), report=False)
    step.load()
    next(step.process([dict(r) for r in ROWS]))
    assert load_rows(tmp_path / "out" / "data.parquet") == ROWS
    assert load_rows(tmp_path / "out" / "data.jsonl") == ROWS


def test_a_damaged_jsonl_line_is_a_one_line_error_naming_it(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"a": 1}\n\n{"a": \n')
    with pytest.raises(MagpieError) as error:
        read_rows(path)
    assert str(error.value).startswith(f"{path}, line 3: not valid JSON") and "\n" not in str(error.value)
    path.write_text('{"a": 1}\n[1]\n')
    with pytest.raises(MagpieError, match="line 2: a JSON list, not a row object"):
        read_rows(path)


def test_unreadable_inputs_are_one_line_errors(tmp_path):
    with pytest.raises(MagpieError, match="does not exist"):
        read_rows(tmp_path / "missing.jsonl")
    (tmp_path / "rows.csv").write_text("a,b\n")
    with pytest.raises(MagpieError, match="unsupported file type; use .parquet or .jsonl"):
        read_rows(tmp_path / "rows.csv")
    (tmp_path / "rows.parquet").write_text("not parquet")
    with pytest.raises(MagpieError, match="not a readable parquet file"):
        read_rows(tmp_path / "rows.parquet")
    (tmp_path / "rows.jsonl.gz").write_bytes(b"not gzip")
    with pytest.raises(MagpieError, match="cannot read"):
        read_rows(tmp_path / "rows.jsonl.gz")
    with pytest.raises(MagpieError, match="column 'score' holds values of different types"):
        write_rows(tmp_path / "mixed.parquet", [{"score": 1}, {"score": "high"}])
