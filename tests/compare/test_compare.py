"""`distilabel-magpie compare`: the statistics on hand-made rows and vectors (exact numbers, the
seeded bootstrap), settings read from what runs saved and the ones that differ, and a page whose
every value from the runs is escaped."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from distilabel_magpie.cli import main
from distilabel_magpie.compare import COMPARE_HTML, COMPARE_JSON, load_runs, stats, write_compare
from distilabel_magpie.compare.metrics import compare
from distilabel_magpie.errors import MagpieError
from distilabel_magpie.output.settings import HIDDEN, dag_settings, flatten, read_settings
from distilabel_magpie.storage.files import write_rows

ROOT = Path(__file__).resolve().parents[2]
QUERIES_YAML = ROOT / "pipelines" / "magpie-queries.yaml"
XSS = "<script>alert(1)</script>"


# -- statistics --------------------------------------------------------------------------------------

def test_bootstrap_interval_is_seeded_and_exact():
    values = [0.3, 1.7, 2.2, 5.9, 3.1, 0.05, 4.4]
    assert stats.bootstrap_mean(values) == {"mean": 2.521429, "low": 1.135714, "high": 3.971429, "n": 7}
    assert stats.bootstrap_mean(values) == stats.bootstrap_mean(list(values))  # same numbers every time
    assert stats.bootstrap_mean(values, seed=1) == {"mean": 2.521429, "low": 1.171429, "high": 3.943214, "n": 7}
    assert stats.bootstrap_mean([1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 0.0]) == {
        "mean": 0.625, "low": 0.25, "high": 0.875, "n": 8}
    assert stats.bootstrap_mean([7.0]) == {"mean": 7.0, "low": 7.0, "high": 7.0, "n": 1}
    assert stats.bootstrap_mean([]) is None


def test_openings_distinct_n_and_repeats():
    texts = ["How do I sort a list?", "how do  I sort numbers", "What is DNA?", "Hi"]
    assert stats.opening(texts[0]) == "how do i sort" and stats.opening("Hi") == "hi"
    assert stats.distinct_openings(texts) == {"distinct": 3, "texts": 4, "ratio": 0.75}
    # unigrams a b a b a c: 3 of 6; bigrams ab ba ab ac: 3 of 4
    assert stats.distinct_n(["a b a b", "A c"], 1) == 0.5
    assert stats.distinct_n(["a b a b", "A c"], 2) == 0.75
    assert stats.distinct_n(["one", "two"], 2) is None
    assert stats.repeat_flags(["Hi there", "hi  there", "HI THERE", "other"]) == [False, True, True, False]


def test_min_neighbour_distance_is_the_cosine_distance_to_the_nearest_other_vector():
    vectors = np.array([[3.0, 0, 0], [0.6, 0.8, 0], [0, 1, 0], [0, 0, 2]])  # not unit length on purpose
    got = stats.min_neighbour_distances(vectors)
    assert np.allclose(got, [0.4, 0.2, 0.2, 1.0], atol=1e-6)
    assert stats.min_neighbour_distances(np.array([[1.0, 0]])).tolist() == [np.inf]
    assert stats.min_neighbour_distances(np.array([[1.0, 1.0], [2.0, 2.0]])).tolist() == pytest.approx([0, 0], abs=1e-6)


# -- runs on disk --------------------------------------------------------------------------------------

def row(text: str, status: str = "ok", answer: str | None = "An answer.", q: int = 5, a: int = 3, **extra) -> dict:
    return {"instruction": text, "instruction_status": status, "response": answer if status == "ok" else None,
            "response_status": extra.pop("response_status", "ok" if status == "ok" else "skipped"),
            "distilabel_metadata": {"magpie_gen": {}, "statistics_gen": {"output_tokens": q},
                                    "statistics_response_gen": {"output_tokens": a}}, **extra}


RUN_A = [
    row("How do I sort a list in Python?", q=8, a=4, quality="good", difficulty="easy", reward=1.0,
        reward_difference=0.5, task_category="Coding & Debugging"),
    row("How do I reverse a string?", q=6, a=3, quality="excellent", difficulty="medium", reward=2.0,
        reward_difference=-0.5, task_category="Coding & Debugging"),
    row("Write a poem about the sea.", q=7, a=5, quality="average", difficulty="easy", reward=3.0,
        reward_difference=1.0, task_category="Creative writing"),
    row("What is DNA?", q=4, a=3, quality="good", difficulty="very easy", reward=4.0, reward_difference=1.5,
        task_category="Information seeking"),
    row("how do i sort a list  in python?", status="duplicate"),
    row("", status="empty"),
]
RUN_B = [
    row("Tell me a joke.", q=5, a=9, quality="poor", reward=0.0),
    row("Tell me a story." + XSS, q=5, a=20, quality="very poor", reward=0.5),
    row("Sing.", response_status="truncated"),
]
RUN_B_REJECTED = [dict(row("Bad."), drop_reason="failed: quality >= 'average'")]
VECTORS = {  # hand-made embeddings: A's MNDs are 0.4, 0.2, 0.2, 1.0; B's two queries are 0.04 apart
    "How do I sort a list in Python?": [1, 0, 0], "How do I reverse a string?": [0.6, 0.8, 0],
    "Write a poem about the sea.": [0, 1, 0], "What is DNA?": [0, 0, 1],
    "Tell me a joke.": [1, 0, 0], "Tell me a story." + XSS: [0.96, 0.28, 0],
}
SPEED = {"wall_seconds": 60.0, "tokens": 120, "tokens_per_s": 2.0, "rows_per_hour": 360.0, "accepted_rows": 4,
         "accepted_rows_per_hour": 240.0}


def write_run(folder: Path, rows: list[dict], settings: dict | None, rejected: list[dict] | None = None,
              summary: dict | None = None) -> Path:
    write_rows(folder / "data.jsonl", rows)
    (folder / "summary.json").write_text(json.dumps(summary or {"rows": len(rows)}))
    if rejected:
        write_rows(folder / "rejected.jsonl", rejected)
    if settings is not None:
        (folder / "settings.json").write_text(json.dumps({"pipeline": "p", "settings": settings}))
    return folder


@pytest.fixture
def two_runs(tmp_path):
    a = write_run(tmp_path / "base", RUN_A, {"gen.temperature": 1.0, "gen.top_p": 1.0, "gen.llm.model_path": "embedded",
                                             "save.output_dir": "data/a"},
                  summary={"rows": 6, "throughput": SPEED})
    b = write_run(tmp_path / "hot", RUN_B, {"gen.temperature": 1.2, "gen.top_p": 1.0, "gen.llm.model_path": XSS,
                                            "gen.extra_stop": ["x"], "save.output_dir": "data/b"},
                  rejected=RUN_B_REJECTED)
    return a, b


class Embed:
    """The hand-made vectors; counts its calls."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return np.array([VECTORS[t] for t in texts], dtype=np.float32)


def test_numbers_of_two_runs_of_different_sizes(two_runs):
    embed = Embed()
    result = compare(load_runs(two_runs), embed, "hand-made")
    m = result["metrics"]
    assert embed.calls == [sorted(VECTORS)]  # every accepted query once, for all runs together
    assert m["rows"] == [6, 4] and m["accepted"] == [4, 2]  # B: 3 kept + 1 rejected, 2 accepted
    assert [v["mean"] for v in m["accepted_rate"]] == [0.666667, 0.5]
    assert m["query_tokens"][0] == {"mean": 6.25, "low": 4.75, "high": 7.5, "n": 4}
    assert m["answer_tokens"][0]["mean"] == 3.75 and m["answer_tokens"][1]["mean"] == 14.5
    assert m["mnd"][0] == {"mean": 0.45, "low": 0.2, "high": 0.8, "n": 4} and m["mnd_median"] == [0.3, 0.04]
    assert m["mnd"][1] == {"mean": 0.04, "low": 0.04, "high": 0.04, "n": 2}
    assert [v["mean"] for v in m["near_duplicate_rate"]] == [0.0, 1.0]
    # A: the sixth row is empty, the fifth repeats the first (case and spacing aside)
    assert m["repeated_queries"] == [1, 0] and m["repeat_rate"][0]["mean"] == 0.2 and m["repeat_rate"][0]["n"] == 5
    assert m["distinct_openings"] == [4, 2] and m["openings_ratio"] == [1.0, 1.0]
    # A's queries: 23 words, 18 different; 19 bigrams, "how do" and "do i" twice
    assert m["query_distinct_1"][0] == round(18 / 23, 6) and m["query_distinct_2"][0] == round(17 / 19, 6)
    assert m["quality"] == [{"mean": 4.0, "low": 3.25, "high": 4.75, "n": 4},
                            {"mean": 1.5, "low": 1.0, "high": 2.0, "n": 2}]
    assert m["difficulty"] == [{"mean": 2.0, "low": 1.25, "high": 2.75, "n": 4}, None]
    assert m["reward"][0]["mean"] == 2.5 and m["reward"][1]["mean"] == 0.25
    assert m["reward_difference"][0]["mean"] == 0.625 and m["reward_difference_positive"][0]["mean"] == 0.75
    assert m["reward_difference"][1] is None
    assert m["tokens_per_s"] == [2.0, None] and m["accepted_rows_per_hour"] == [240.0, None]
    marks = result["versus_first"]
    assert marks["quality"] == [None, "lower"] and marks["mnd"] == [None, "lower"]
    assert marks["accepted_rate"] == [None, "overlap"]  # 4 of 6 against 2 of 4: noise
    dist = result["distributions"]
    assert dist[0]["instruction_status"] == {"ok": 4, "duplicate": 1, "empty": 1}
    assert dist[1]["kept_or_rejected"] == {"kept": 3, "rejected": 1}
    assert dist[0]["quality"] == {"very poor": 0, "poor": 0, "average": 1, "good": 2, "excellent": 1}
    assert dist[0]["task_category"] == {"Coding & Debugging": 2, "Creative writing": 1, "Information seeking": 1}
    assert sum(result["mnd_histogram"]["counts"][0]) == 4 and result["mnd_histogram"]["edges"][-1] == 1.0
    assert result["bootstrap"] == {"seed": 0, "resamples": 2000, "level": 0.95}


def test_settings_that_differ_leave_paths_aside(two_runs, tmp_path):
    files = tmp_path / "rows.jsonl"
    write_rows(files, RUN_A)
    result = compare(load_runs([*two_runs, files]), None)
    settings = result["settings"]
    assert settings["differ"] == ["gen.temperature", "gen.llm.model_path", "gen.extra_stop"]
    assert settings["values"]["gen.extra_stop"] == ["(absent)", ["x"], None]
    assert settings["recorded"] == [True, True, False] and settings["sources"][0] == "settings.json"
    assert settings["sources"][2].startswith("not recorded")
    assert result["metrics"]["mnd"] == [None, None, None] and result["embedder"] is None


def test_page_and_plots_escape_what_the_runs_hold(two_runs, tmp_path):
    runs = load_runs(two_runs, names=["base", XSS])
    page = write_compare(runs, tmp_path / "out", embed=Embed())
    html = page.read_text()
    assert "<script" not in html.lower()  # the run name, a setting and a query, all escaped
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 3
    assert '<td class="diff">1.2</td>' in html  # a differing setting is highlighted
    numbers = json.loads((tmp_path / "out" / COMPARE_JSON).read_text())
    assert numbers["runs"][1]["name"] == XSS and numbers["embedder"] == "given function"
    pngs = {p.name for p in (tmp_path / "out" / "plots").iterdir()}
    assert pngs == {"means.png", "statuses.png", "mnd.png", "judge.png"}
    assert all((tmp_path / "out" / "plots" / p).read_bytes()[:4] == b"\x89PNG" for p in pngs)
    assert html.count('src="data:image/png;base64,') == 4  # self-contained: plots inline
    # again without an embedder: the MND plot goes, and the page says why
    write_compare(runs, tmp_path / "out", embedder=None)
    assert not (tmp_path / "out" / "plots" / "mnd.png").exists()
    assert "skipped because no embedder was given" in (tmp_path / "out" / COMPARE_HTML).read_text()


def test_cli_compare_and_its_errors(two_runs, tmp_path, capsys):
    assert main(["compare", *map(str, two_runs), "--out", str(tmp_path / "cmp"), "--embedder", "none"]) == 0
    assert (tmp_path / "cmp" / COMPARE_HTML).is_file() and (tmp_path / "cmp" / COMPARE_JSON).is_file()
    assert main(["compare", str(two_runs[0]), "--out", str(tmp_path / "one")]) == 2
    assert main(["compare", str(two_runs[0]), str(tmp_path / "missing"), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0] == "error: give at least two runs to compare"
    assert err[1].startswith("error: ") and "missing does not exist" in err[1]


def test_named_embedder_measures_every_run_alike(two_runs, tmp_path):
    """The embedded MiniLM (what the tests' embedder is), loaded by name as NearDuplicates does."""
    page = write_compare(load_runs(two_runs), tmp_path / "out", embedder="embedded")
    numbers = json.loads(page.with_name(COMPARE_JSON).read_text())
    assert numbers["embedder"] == "embedded"
    for value in numbers["metrics"]["mnd"]:
        assert 0 < value["low"] <= value["mean"] <= value["high"] < 2


def test_run_names_are_folder_names_or_paths_when_those_repeat(tmp_path):
    a = write_run(tmp_path / "x" / "run", RUN_A, None)
    b = write_run(tmp_path / "y" / "run", RUN_A, None)
    assert [r.name for r in load_runs([a, b])] == [str(a), str(b)]
    with pytest.raises(MagpieError, match="at least two runs"):
        load_runs([a])


# -- what runs record ----------------------------------------------------------------------------------

def test_flatten_names_settings_as_params_do_and_hides_secrets():
    dump = {"name": "gen", "temperature": 1.0, "llm": {"model_path": "m", "api_key": "sk-123", "api_key_env": "KEY",
                                                        "type_info": {"module": "x", "name": "OpenAILLM"}},
            "runtime_parameters_info": [{"name": "temperature"}], "input_mappings": {}, "resources": {"replicas": 1}}
    assert flatten(dump, "gen.") == {"gen.temperature": 1.0, "gen.llm.model_path": "m", "gen.llm.api_key": HIDDEN,
                                     "gen.llm.api_key_env": "KEY", "gen.llm.type": "OpenAILLM",
                                     "gen.resources.replicas": 1}


def test_dag_settings_put_the_run_parameters_in_place_in_their_types():
    from distilabel_magpie.runtime.launch import load_pipeline, parse_params

    pipeline = load_pipeline(str(QUERIES_YAML))
    settings = dag_settings(pipeline.dag, parse_params([
        "magpie_sampler.temperature=1", "magpie_sampler.top_p=0.9", "magpie_sampler.llm.model_path=other",
        'magpie_sampler.system_prompt={"chef": "You cook."}', "magpie_sampler.thinking=on", "magpie_sampler.seed=3"]))
    assert settings["magpie_sampler.temperature"] == 1.0 and isinstance(settings["magpie_sampler.temperature"], float)
    assert settings["magpie_sampler.top_p"] == 0.9 and settings["magpie_sampler.seed"] == 3
    assert settings["magpie_sampler.llm.model_path"] == "other"
    assert settings["magpie_sampler.llm.type"] == "LlamaCppEngine"  # the rest of the component kept
    assert settings["magpie_sampler.system_prompt.chef"] == "You cook." and settings["magpie_sampler.thinking"] == "on"
    assert settings["save_dataset.output_dir"] == "data/magpie-queries"


def test_save_dataset_writes_the_settings_a_run_was_given(tmp_path):
    from distilabel_magpie.runtime.launch import load_pipeline, parse_params

    logging.getLogger("distilabel.step").setLevel(logging.ERROR)
    pipeline = load_pipeline(str(QUERIES_YAML))
    out = tmp_path / "out"
    params = parse_params(["magpie_sampler.temperature=0.8", f"save_dataset.output_dir={out}"])
    save = pipeline.dag.get_step("save_dataset")["step"]
    save.prepare_run(pipeline.dag, params)  # what the runtime does before a run
    save.output_dir = str(out)
    save.load()
    next(save.process([row("What is DNA?")]))
    settings, where = read_settings(out)
    assert where == "settings.json" and settings["magpie_sampler.temperature"] == 0.8
    assert settings["save_dataset.output_dir"] == str(out)
    assert json.loads((out / "settings.json").read_text())["pipeline"] == "magpie-queries"


def test_a_distiset_pipeline_yaml_gives_the_settings(tmp_path):
    (tmp_path / "pipeline.yaml").write_text(QUERIES_YAML.read_text())
    settings, where = read_settings(tmp_path)
    assert where == "pipeline.yaml"
    assert settings["magpie_sampler.temperature"] == 1.0 and settings["magpie_sampler.min_p"] == 0.0
    assert settings["magpie_sampler.type"] == "MagpieSamplerStep"
