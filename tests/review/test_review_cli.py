"""The CLI: review-server status, review push / pull, one-line errors."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.argilla

SRC = str(Path(__file__).resolve().parents[2] / "src")


def cli(*args, env=None):
    full_env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""), **(env or {})}
    return subprocess.run([sys.executable, "-m", "distilabel_magpie.review.cli", *args], capture_output=True,
                          text=True, env=full_env, timeout=300)


def test_push_a_saved_dataset_then_pull_the_reviewed_rows(review_server, client, dataset_name, tmp_path):
    import argilla as rg

    folder = tmp_path / "magpie-sft"
    folder.mkdir()
    rows = [{"instruction": f"CLI question {i}?", "response": f"CLI answer {i}.", "reward": -1.0 * i,
             "instruction_status": "ok", "response_status": "ok"} for i in range(4)]
    with (folder / "data.jsonl").open("wb") as f:
        for row in rows:
            f.write((json.dumps(row) + "\n").encode())
        f.write(b"{not json}\n")
        f.write(b'{"instruction": "caf\xe9 latin-1", "response": "x"}\n')
    result = cli("review", "push", str(folder), "--dataset", dataset_name)
    assert result.returncode == 0, result.stderr
    assert "sft -> Argilla dataset" in result.stdout
    assert "6 rows: 4 created, 0 updated, 0 failed, 2 skipped" in result.stdout
    assert "line N is not valid UTF-8" in result.stdout and "line N is not valid JSON" in result.stdout
    again = cli("review", "push", str(folder / "data.jsonl"), "--dataset", dataset_name)
    assert "0 created, 4 updated" in again.stdout

    dataset = client.datasets(dataset_name)
    record = next(r for r in dataset.records if r.fields["instruction"] == "CLI question 2?")
    record.responses.add(rg.Response("quality", 5, user_id=client.me.id, status="submitted"))
    record.responses.add(rg.Response("verdict", "accept", user_id=client.me.id, status="submitted"))
    dataset.records.log([record])

    out = tmp_path / "reviewed"
    result = cli("review", "pull", "--dataset", dataset_name, "--output", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("4 records, 1 pulled, 3 pending")
    pulled = [json.loads(line) for line in (out / "data.jsonl").read_text().splitlines()]
    assert [(r["instruction"], r["response"], r["review_quality"]) for r in pulled] == [
        ("CLI question 2?", "CLI answer 2.", 5)]
    assert json.loads((out / "summary.json").read_text())["pending"] == 3


def test_status_reports_the_running_server(review_server):
    server, creds = review_server
    result = cli("review-server", "status", "--data-dir", str(server.data_dir), "--json")
    info = json.loads(result.stdout)
    assert info["running"] and info["healthy"] and info["url"] == creds.api_url
    assert creds.api_key not in result.stdout


@pytest.mark.parametrize(
    "args, env, message",
    [
        (["review", "push", "/no/such/file.jsonl", "--dataset", "x"], {}, "error: /no/such/file.jsonl does not exist"),
        (["review", "pull", "--dataset", "x", "--output", "out"], {"ARGILLA_API_KEY": "wrong"},
         "error: Argilla at http://127.0.0.1:"),
        (["review", "pull", "--dataset", "x", "--output", "out"],
         {"ARGILLA_API_URL": "http://127.0.0.1:9", "ARGILLA_API_KEY": "k"},
         "error: cannot reach Argilla at http://127.0.0.1:9 (ConnectError): is the server running?"),
    ],
)
def test_bad_input_is_one_line_with_exit_code_2(review_server, tmp_path, args, env, message):
    result = cli(*args, env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), result.stderr


def test_unknown_columns_are_refused_in_one_line(review_server, tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps({"text": "hello"}) + "\n")
    result = cli("review", "push", str(path), "--dataset", "x")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: cannot tell what to review from the columns ['text']: expected instruction+response (sft), "
        "messages (chat) or prompt+chosen+rejected (preference)")
