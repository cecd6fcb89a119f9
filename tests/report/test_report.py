"""The run report: each plot from its own columns (or a note saying why it is skipped), escaped
sample rows, the three kinds of SOURCE, and the report SaveDataset writes at the end of a run."""

import json
import logging
import shutil
from pathlib import Path

import pytest

from distilabel_magpie.cli import main
from distilabel_magpie.errors import MagpieError
from distilabel_magpie.report import PLOTS, RunData, load_source, render_all, summarise, write_report
from distilabel_magpie.report.plots import token_counts

ROWS = [
    {"instruction": "What is DNA?", "instruction_status": "ok", "response": "A molecule.", "response_status": "ok",
     "distilabel_metadata": {"statistics_x": {"output_tokens": 5}}},
    {"instruction": "", "instruction_status": "empty", "response": None, "response_status": "skipped"},
    {"instruction": "Loop", "instruction_status": "truncated", "response": None, "response_status": "skipped"},
]
XSS = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">'


def full_row(i: int) -> dict:
    """A row with every column some plot reads."""
    return {
        "instruction": f"Question {i}?" + (XSS if i == 0 else ""), "instruction_status": "ok",
        "response": f"Answer {i}. " * (i + 1), "response_status": "ok" if i % 3 else "truncated",
        "base_response": f"Base {i}.", "base_response_status": "ok", "judge_status": "ok",
        "quality": ["poor", "average", "good"][i % 3], "difficulty": ["easy", "medium"][i % 2],
        "task_category": ["Math", "Coding & Debugging", "Math"][i % 3],
        "reward": float(i), "reward_base": float(i) / 2, "reward_difference": float(i) / 2,
        "min_neighbor_distance": 0.1 * i, "repeat_count": i % 2, "system_prompt_key": ["math", "code"][i % 2],
        "language": ["EN", "FR"][i % 2], "safety": "safe" if i else "unsafe", "safety_categories": [] if i else ["S1"],
        "messages": [{"role": "user", "content": f"Question {i}?"}, {"role": "assistant", "content": "Yes."}] * (1 + i % 2),
        "failed_turn": 2 if i == 1 else None, "failure_reason": "response_truncated" if i == 1 else None,
        "margin": 0.5 * i, "chosen_score": float(i), "rejected_score": 0.5 * i,
        "reasoning": "Let me think. " * (i + 1),
        "distilabel_metadata": {"magpie_gen": {}, "statistics_gen": {"output_tokens": 10 + i},
                                "statistics_response_gen": {"output_tokens": 20 + i},
                                "statistics_base_response_base": {"output_tokens": 30 + i}},
    }


def full_run() -> RunData:
    rows = [full_row(i) for i in range(6)]
    rejected = [dict(full_row(10 + i), drop_reason=reason) for i, reason in enumerate(
        ["failed: response_status == 'ok'", "failed: quality >= 'average'", "failed: quality >= 'average'"])]
    rejected[0]["response_status"] = "truncated"
    return RunData(rows=rows, rejected=rejected, source="test")


# plot key -> the columns whose removal skips it
COLUMNS = {
    "statuses": ["instruction_status", "response_status", "base_response_status", "judge_status"],
    "rejections": ["drop_reason"], "lengths_chars": ["instruction", "response", "messages"],
    "lengths_tokens": ["distilabel_metadata"], "task_categories": ["task_category"],
    "difficulty_quality": ["difficulty"], "reward": ["reward"], "reward_difference": ["reward_difference"],
    "diversity": ["min_neighbor_distance", "repeat_count"], "system_prompts": ["system_prompt_key"],
    "languages": ["language"], "safety": ["safety"], "conversations": ["messages"],
    "preferences": ["margin", "chosen_score"], "reasoning": ["reasoning", "messages"],
}


def by_key(run: RunData) -> dict:
    return {r.plot.key: r for r in render_all(run)}


def test_every_plot_is_drawn_from_a_run_that_has_its_columns():
    assert set(COLUMNS) == {p.key for p in PLOTS}
    rendered = by_key(full_run())
    for key, item in rendered.items():
        assert item.skipped is None, (key, item.skipped)
        assert item.png[:8] == b"\x89PNG\r\n\x1a\n" and len(item.png) > 5_000, key


@pytest.mark.parametrize("key", sorted(COLUMNS))
def test_without_its_columns_a_plot_is_skipped_and_says_which(key):
    run = full_run()
    gone = COLUMNS[key]
    if key == "rejections":
        run.rejected = []
    for row in run.rows + run.rejected:
        for column in gone:
            row.pop(column, None)
    item = by_key(run)[key]
    assert item.png is None and item.skipped
    assert any(c in item.skipped for c in gone) or "rejected" in item.skipped, item.skipped
    others = [k for k, r in by_key(run).items() if r.png is not None]
    assert len(others) >= 5  # the rest of the report is still there


def test_each_plot_shows_the_values_of_its_own_column():
    run = full_run()
    plots = by_key(run)
    data = {k: v.data.values for k, v in plots.items()}
    assert data["statuses"]["response_status"] == {"ok": 5, "truncated": 4}  # kept and rejected rows together
    assert data["rejections"]["reasons"] == {"failed: response_status == 'ok'": 1, "failed: quality >= 'average'": 2}
    assert data["rejections"]["details"] == {"failed: response_status == 'ok'": {"truncated": 1}}
    assert data["lengths_chars"]["instruction"]["kept"] == [len(r["instruction"]) for r in run.rows]
    assert data["lengths_chars"]["base_response"]["rejected"] == [len(r["base_response"]) for r in run.rejected]
    assert data["lengths_tokens"]["response"]["kept"] == [20 + i for i in range(6)]
    assert data["lengths_tokens"]["instruction"]["kept"] == [10 + i for i in range(6)]
    assert data["task_categories"]["kept"] == {"Math": 4, "Coding & Debugging": 2}
    assert sum(map(sum, data["difficulty_quality"]["grid"])) == 9
    assert data["reward"]["kept"] == [float(i) for i in range(6)]
    assert data["reward"]["pairs"][:2] == [(0.0, 0.0, "kept"), (0.5, 1.0, "kept")]
    assert data["reward_difference"]["rejected"] == [5.0, 5.5, 6.0]
    assert data["diversity"]["repeat_count"] == {0: 5, 1: 4, 2: 0, 3: 0, 4: 0, "5+": 0}
    assert data["system_prompts"]["keys"]["math"] == {"usable": 2, "not usable": 1, "rejected": 2}
    assert data["languages"]["counts"] == {"EN": 5, "FR": 4}
    assert data["safety"] == {"labels": {"unsafe": 1, "safe": 8}, "categories": {"S1 Violent Crimes": 1}}
    assert data["conversations"]["turns"] == {1: 5, 2: 4}
    assert data["conversations"]["failed"] == {"turn 2: response_truncated": 1}
    assert data["preferences"]["margin"][:3] == [0.0, 0.5, 1.0]
    assert data["reasoning"]["lengths"][0] == len("Let me think. ")
    assert plots["reward_difference"].data.note.startswith("8 of 9 answers score above")


def test_token_counts_come_from_the_generation_steps_statistics():
    row = full_row(2)
    assert token_counts(row) == {"instruction": 12, "response": 22, "base_response": 32}
    assert token_counts({"distilabel_metadata": json.dumps(row["distilabel_metadata"])})["response"] == 22  # parquet
    assert token_counts({"distilabel_metadata": {"statistics_judge": {"output_tokens": 3}}}) == {}  # not a query


def test_markup_in_the_data_is_escaped_in_the_html(tmp_path):
    (tmp_path / "data.jsonl").write_text("\n".join(json.dumps(full_row(i)) for i in range(3)))
    page = write_report(tmp_path).read_text()
    assert "<script>window" not in page and "onerror=" not in page.replace("onerror=&quot;", "")
    assert "&lt;script&gt;window.__xss = 1&lt;/script&gt;" in page
    assert page.count("<script") == 0  # the page itself runs no script


def test_the_page_names_the_models_and_marks_the_tiny_reward_model_as_a_stand_in(tmp_path):
    rows = [dict(full_row(i), model_name="qwen.gguf", base_model_name="gemma.gguf", judge_model="qwen.gguf",
                 reward_model="tiny-random") for i in range(2)]
    (tmp_path / "data.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    page = write_report(tmp_path).read_text()
    assert ("<b>base model</b> gemma.gguf · <b>judge</b> qwen.gguf · <b>reward model</b> tiny-random "
            "(a stand-in: tiny random weights, meaningless scores)") in page
    rows = [dict(r, reward_model="/models/skywork-reward") for r in rows]
    (tmp_path / "data.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    page = write_report(tmp_path).read_text()
    assert "<b>reward model</b> /models/skywork-reward</p>" in page and "stand-in" not in page


@pytest.mark.browser
def test_markup_in_the_data_shows_as_text_in_a_browser(tmp_path):
    if shutil.which("chromium") is None:
        pytest.skip("chromium not installed (bash scripts/system-deps.sh)")
    sync_api = pytest.importorskip("playwright.sync_api")
    (tmp_path / "data.jsonl").write_text("\n".join(json.dumps(full_row(i)) for i in range(3)))
    page_path = write_report(tmp_path)
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run"]
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=flags)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(page_path.as_uri())
        cell = page.locator("table.samples td.text").first
        assert XSS in cell.inner_text()  # the markup is on screen, as text
        page.wait_for_timeout(300)
        assert page.evaluate("window.__xss") is None and page.locator("img[src='x']").count() == 0
        images = page.locator("figure img")
        assert images.count() >= 10 and all(images.nth(i).evaluate("i => i.naturalWidth > 300")
                                            for i in range(images.count()))
        browser.close()


def test_the_report_says_why_plots_are_missing(tmp_path):
    (tmp_path / "data.jsonl").write_text("\n".join(json.dumps(r) for r in ROWS))
    assert main(["report", str(tmp_path), "--out", str(tmp_path / "out")]) == 0
    page = (tmp_path / "out" / "report.html").read_text()
    assert "Reward</b> skipped because no row has a `reward` column (add RewardModelLabeler)" in page
    assert "Rejection reasons</b> skipped because no row was rejected" in page
    assert "Lengths in tokens</b> skipped because no token counts" in page  # statistics_x is no query's
    assert sorted(p.name for p in (tmp_path / "out" / "plots").iterdir()) == ["lengths_chars.png", "statuses.png"]
    assert "What is DNA?" in page


def _write_sources(tmp_path: Path, rows: list[dict]) -> dict[str, Path]:
    from datasets import Dataset, DatasetDict
    from distilabel.distiset import Distiset

    from distilabel_magpie.output.save import write_dataset

    folder = tmp_path / "savedataset"
    write_dataset(folder, rows, {"rows": len(rows)})
    distiset = tmp_path / "distiset"
    Distiset({"default": DatasetDict({"train": Dataset.from_list(rows)})}).save_to_disk(
        str(distiset), save_card=False, save_pipeline_config=False, save_pipeline_log=False)
    return {"folder": folder, "distiset": distiset, "jsonl": folder / "data.jsonl",
            "parquet": folder / "data.parquet"}


def test_every_kind_of_source_gives_the_same_report(tmp_path):
    rows = [full_row(i) for i in range(5)]
    for row in rows:  # one type per column, as in a real dataset (parquet and Arrow need it)
        row["failed_turn"], row["failure_reason"] = 2, "response_truncated"
    sources = _write_sources(tmp_path, rows)
    plots = {}
    for kind, source in sources.items():
        run = load_source(source)
        assert len(run.rows) == 5, kind
        assert run.rows[0]["instruction"] == rows[0]["instruction"]
        out = tmp_path / f"report-{kind}"
        assert main(["report", str(source), "--out", str(out)]) == 0
        assert (out / "report.html").is_file()
        plots[kind] = sorted(p.name for p in (out / "plots").iterdir())
    assert plots["folder"] == plots["distiset"] == plots["jsonl"] == plots["parquet"]
    assert "lengths_tokens.png" in plots["parquet"]  # metadata stored as JSON text is read back
    assert len(plots["folder"]) == 14  # all but the rejection reasons


def test_a_rejected_rows_file_is_a_source_of_its_own(tmp_path):
    path = tmp_path / "rejected.jsonl"
    path.write_text("\n".join(json.dumps(dict(full_row(i), drop_reason="failed: reward > -12")) for i in range(3)))
    run = load_source(path)
    assert run.rows == [] and len(run.rejected) == 3
    assert write_report(path) == tmp_path / "rejected-report" / "report.html"


def test_bad_sources_are_one_line_errors(tmp_path):
    with pytest.raises(MagpieError, match="does not exist"):
        write_report(tmp_path / "nothing")
    with pytest.raises(MagpieError, match="data.jsonl not found"):
        write_report(tmp_path)
    (tmp_path / "x.csv").write_text("a,b\n")
    with pytest.raises(MagpieError, match="unknown kind of file"):
        write_report(tmp_path / "x.csv")
    (tmp_path / "x.parquet").write_text("not parquet")
    with pytest.raises(MagpieError, match="not a readable parquet file"):
        write_report(tmp_path / "x.parquet")


def test_save_dataset_writes_the_report_and_the_rejected_rows(tmp_path):
    from distilabel_magpie.output.save import SaveDataset

    logging.getLogger("distilabel.step").setLevel(logging.ERROR)
    staged = tmp_path / "out.rejected.jsonl"
    staged.write_text(json.dumps(dict(full_row(9), drop_reason="failed: quality >= 'average'")) + "\n")
    step = SaveDataset(output_dir=str(tmp_path / "out"), rejected_from=str(staged))
    step.load()
    next(step.process([full_row(i) for i in range(4)]))
    out = tmp_path / "out"
    assert {p.name for p in out.iterdir()} == {"data.jsonl", "data.parquet", "summary.json", "rejected.jsonl",
                                               "report.html", "plots"}
    assert not staged.exists()  # moved into the dataset folder
    summary = json.loads((out / "summary.json").read_text())
    assert summary["rejected"] == {"rows": 1, "reasons": {"failed: quality >= 'average'": 1}}
    assert (out / "plots" / "rejections.png").is_file()
    assert "kept in the dataset" in (out / "report.html").read_text()
    # the next run replaces it all; without the staged file it is a one-line error
    with pytest.raises(MagpieError, match="rejected_from .* does not exist"):
        next(step.process([full_row(0)]))
    quiet = SaveDataset(output_dir=str(out), report=False)
    quiet.load()
    next(quiet.process([full_row(0)]))
    assert {p.name for p in out.iterdir()} == {"data.jsonl", "data.parquet", "summary.json"}


def test_summary_counts():
    s = summarise(ROWS)
    assert s["rows"] == 3 and s["usable_rows"] == 1
    assert s["instruction_status"] == {"ok": 1, "empty": 1, "truncated": 1}
    assert s["response_status"] == {"skipped": 2, "ok": 1}
    s = summarise([dict(r, judge_model="q.gguf", reward_model="tiny-random") for r in ROWS])
    assert s["judge_model"] == {"q.gguf": 3} and s["reward_model"] == {"tiny-random": 3}


def test_reasoning_lengths_and_reasoning_truncated_are_counted():
    rows = [
        {"instruction": "2+2?", "instruction_status": "ok", "response": "4", "reasoning": "Add two and two.",
         "response_status": "ok"},
        {"instruction": "Prove it", "instruction_status": "ok", "response": None, "reasoning": "Let me" * 10,
         "response_status": "reasoning_truncated"},
        {"messages": [{"role": "user", "content": "Hi"},
                      {"role": "assistant", "content": "Hello", "reasoning_content": "Greet."}],
         "conversation_status": "ended_early", "failure_reason": "response_reasoning_truncated"},
    ]
    s = summarise(rows)
    assert s["reasoning"] == {"with_reasoning": 3, "reasoning_truncated": 2,
                              "reasoning_chars": {"mean": 27.3, "median": 16, "max": 60}}
    assert s["response_status"]["reasoning_truncated"] == 1
    assert "reasoning" not in summarise(ROWS)  # runs without reasoning: nothing added
