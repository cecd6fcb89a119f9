"""A real run with both secrets set, an Argilla API key (the review server's) and a completion
server's API key (a real llama-cpp-python server that wants one): every file the run wrote (the
distilabel cache with its pipeline.yaml and logs, the pipeline YAML, the dataset, the report) and
every record's metadata in Argilla are scanned for them."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from engines.servers import LlamaServer

pytestmark = pytest.mark.argilla
ROOT = Path(__file__).resolve().parents[2]
ROWS = 3


def test_no_key_is_written_anywhere(review_server, client, dataset_name, embedded_model_path, tmp_path):
    from distilabel.pipeline import Pipeline

    from distilabel_magpie.engines import CompletionServerEngine
    from distilabel_magpie.generation import FinalizeRows, MagpieSFTStep, RowIndices
    from distilabel_magpie.review.push import PushSFTToArgilla
    from distilabel_magpie.output.save import SaveDataset

    _, creds = review_server
    key = f"sk-magpie-{secrets.token_hex(12)}"
    server = LlamaServer(embedded_model_path, tmp_path, api_key=key)
    try:
        server.wait_ready()
        with Pipeline(name="magpie-secrets") as pipeline:
            rows = RowIndices(name="row_indices")
            generate = MagpieSFTStep(
                name="magpie_sft", llm=CompletionServerEngine(base_url=server.url, api_key_env="MAGPIE_TEST_KEY"),
                num_rows=ROWS, batch_size=ROWS, max_new_tokens=16, response_max_new_tokens=16, seed=0)
            push = PushSFTToArgilla(name="push_to_argilla", dataset_name=dataset_name, include_flagged=True)
            rows >> generate >> FinalizeRows(name="finalize_rows") >> push >> SaveDataset(
                name="save_dataset", output_dir=str(tmp_path / "out"))
        config = tmp_path / "secrets.yaml"
        pipeline.save(str(config), format="yaml")
        env = {**os.environ, "MAGPIE_TEST_KEY": key, "ARGILLA_API_URL": creds.api_url,
               "ARGILLA_API_KEY": creds.api_key, "DISTILABEL_CACHE_DIR": str(tmp_path / "cache"),
               "TMPDIR": str(tmp_path),
               "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
        done = subprocess.run([sys.executable, "-m", "distilabel_magpie.cli", "run", str(config), "--ignore-cache"],
                              capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)
    finally:
        server.stop()
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    rows = [json.loads(line) for line in (tmp_path / "out" / "data.jsonl").read_text().splitlines()]
    assert len(rows) == ROWS and all(r["argilla_status"] in ("created", "skipped") for r in rows)
    records = [r.to_dict() for r in client.datasets(dataset_name).records]
    assert len(records) == sum(r["argilla_status"] == "created" for r in rows) >= 1
    secrets_ = {"completion-server key": key, "Argilla key": creds.api_key}
    files = [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "llama-server-%d.log" % server.port]
    assert any(p.name == "pipeline.yaml" for p in files) and any(p.name == "pipeline.log" for p in files)
    assert any(p.suffix == ".parquet" for p in files) and (tmp_path / "out" / "report.html").is_file()
    for what, value in secrets_.items():
        assert value not in output, what
        assert [str(p) for p in files if value.encode() in p.read_bytes()] == [], what
        assert value not in json.dumps(records, default=str), what
    print(f"secrets: {len(files)} files written by the run and {len(records)} Argilla records scanned, "
          "neither key found")
