"""Bad input, one case each: a clear one-line `error:` and a non-zero exit, never a traceback,
a hang or a run that looks finished (what a probe of the default pipeline found)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from distilabel_magpie.errors import MagpieError

pytestmark = pytest.mark.e2e  # a whole pipeline, a server or a killed process

ROOT = Path(__file__).resolve().parents[2]
SFT_YAML = ROOT / "pipelines" / "magpie-sft.yaml"
DISTILABEL = Path(sys.executable).parent / "distilabel"


def pipeline_run(tmp_path: Path, *params: str, rows: int = 2, timeout: int = 240) -> subprocess.CompletedProcess:
    args = [str(DISTILABEL), "pipeline", "run", "--config", str(SFT_YAML), "--ignore-cache",
            "--param", f"magpie_sft.num_rows={rows}", "--param", f"save_dataset.output_dir={tmp_path / 'out'}"]
    for p in params:
        args += ["--param", p]
    env = dict(os.environ, TMPDIR=str(tmp_path))
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env, cwd=tmp_path)


def last_line(done: subprocess.CompletedProcess) -> str:
    return (done.stdout + done.stderr).strip().splitlines()[-1]


def assert_one_line_error(done: subprocess.CompletedProcess, *expected: str) -> None:
    line = last_line(done)
    assert done.returncode != 0
    assert line.startswith("error: "), line
    for text in expected:
        assert text in line, line
    assert "Traceback" not in done.stderr.split("error: ")[-1]


@pytest.mark.parametrize("param,expected", [
    ("magpie_sft.batch_size=0", "magpie_sft.batch_size must be at least 1, got 0"),
    ("magpie_sft.temperature=-1", "for magpie_sft.temperature: Input should be greater than or equal to 0"),
    ("magpie_sft.top_p=2", "for magpie_sft.top_p: Input should be less than or equal to 1"),
    ("magpie_sft.repetition_ngram=-1", "for magpie_sft.repetition_ngram: Input should be greater than or equal to 0"),
    ("magpie_sft.num_rows=abc", "invalid value 'abc' for magpie_sft.num_rows"),
    ("magpie_sft.num_row=3", "unknown runtime parameter 'magpie_sft.num_row'; did you mean 'magpie_sft.num_rows'?"),
    ("magpie_sft.llm.n_parallel=0", "for magpie_sft.llm.n_parallel: Input should be greater than or equal to 1"),
    ("no_such_step.num_rows=3", "names step 'no_such_step', which is not in pipeline 'magpie-sft'"),
])
def test_bad_runtime_parameter_is_refused_before_anything_runs(tmp_path, param, expected):
    done = pipeline_run(tmp_path, param, timeout=120)
    assert_one_line_error(done, expected)
    assert not (tmp_path / "out").exists()


def test_missing_model_file(tmp_path):
    done = pipeline_run(tmp_path, "magpie_sft.llm.model_path=/nonexistent/model.gguf")
    assert_one_line_error(done, "step 'magpie_sft' failed to load: model file /nonexistent/model.gguf does not exist")
    assert "Traceback" not in done.stdout + done.stderr


def test_context_smaller_than_prompt_and_budget(tmp_path):
    done = pipeline_run(tmp_path, "magpie_sft.llm.n_ctx=16")
    assert_one_line_error(done, "step 'magpie_sft' failed to load", "raise llm.n_ctx to at least")


def test_unwritable_output_folder(tmp_path):
    done = pipeline_run(tmp_path, "save_dataset.output_dir=/proc/magpie-out")
    # refused before the run starts (SaveDataset, a global step, would only load after the generation)
    assert_one_line_error(done, "failed: cannot write the dataset to /proc/magpie-out", "choose a writable output_dir")
    assert "magpie_sft: rows" not in done.stdout + done.stderr


def test_failed_write_keeps_the_previous_dataset(tmp_path):
    """Rows that cannot be written as parquet (one column, two types) fail the save; the older
    run's files stay as they were, with no half-written folder beside them."""
    from distilabel_magpie.output.save import SaveDataset

    out = tmp_path / "data"
    step = SaveDataset(name="save", output_dir=str(out))
    step.load()
    next(step.process([{"instruction": "old", "score": 1}, {"instruction": "older", "score": 2}]))
    def files():  # the report's plots are in a folder of their own
        return {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    before = files()
    assert "report.html" in before and "plots/lengths_chars.png" in before
    with pytest.raises(MagpieError, match=r"could not write the dataset to .*previous contents are unchanged"):
        next(step.process([{"instruction": "new", "score": 1}, {"instruction": "x", "score": {"a": [1, "b"]}},
                           {"instruction": "y", "score": [1, 2]}]))
    assert files() == before
    assert [p.name for p in tmp_path.iterdir()] == ["data"]


def test_folder_with_other_files_is_not_replaced(tmp_path):
    from distilabel_magpie.output.save import SaveDataset

    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(MagpieError, match="holds files that are not a dataset written by SaveDataset"):
        step = SaveDataset(name="save", output_dir=str(tmp_path))
        step.load()
        next(step.process([{"a": 1}]))
    assert (tmp_path / "notes.txt").read_text() == "mine"


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "distilabel_magpie.cli", *args], capture_output=True, text=True,
                          timeout=120)


def test_gguf_with_a_cut_off_header(tmp_path, embedded_model_path):
    path = tmp_path / "cut.gguf"
    path.write_bytes(Path(embedded_model_path).read_bytes()[:100])
    done = cli("template", str(path))
    assert done.returncode == 2 and done.stderr.strip().splitlines() == [
        f"error: {path}: the GGUF header ends before its declared contents (a truncated or corrupt file); "
        "download or convert the model again"]


def test_report_of_a_file_with_a_corrupt_line(tmp_path):
    (tmp_path / "data.jsonl").write_text('{"instruction": "ok"}\n{"instruction": "cut\n')
    done = cli("report", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"error: {tmp_path / 'data.jsonl'}, line 2: not valid JSON "
                                                "(Unterminated string starting at); the file is damaged or was not "
                                                "written by SaveDataset"]


def test_report_of_lines_that_are_not_rows(tmp_path):
    (tmp_path / "data.jsonl").write_text("[1, 2]\n")
    done = cli("report", str(tmp_path))
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "line 1: a JSON list, not a row object" in done.stderr


def test_template_without_a_user_slot_names_a_real_option(tmp_path):
    (tmp_path / "chat_template.jinja").write_text("{% for m in messages %}{{ m['content'] }}{{ m['content'] }}"
                                                  "{% endfor %}")
    done = cli("template", str(tmp_path / "chat_template.jinja"))
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "--template" not in done.stderr and "distilabel-magpie template --list" in done.stderr


def test_token_ids_of_a_folder_with_only_tokenizer_config(tmp_path):
    from conftest import FIXTURES

    f = FIXTURES["qwen2-7b-instruct"]
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"chat_template": f["chat_template"]}))
    done = cli("template", str(tmp_path), "--tokens")
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "cannot load a tokenizer from" in done.stderr and "not only tokenizer_config.json" in done.stderr
