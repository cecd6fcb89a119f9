import pytest

from distilabel_magpie.curation import PreferencePairs, SampleCandidates
from distilabel_magpie.engines import LlamaCppEngine
from distilabel_magpie.errors import MagpieError
from distilabel_magpie.engines.models import embedded_model_path


def pairs(rows, **kwargs):
    step = PreferencePairs(**kwargs)
    step.load()
    return step, next(step.process([dict(r) for r in rows]))


def row(generations, ratings, statuses=None):
    r = {"instruction": "Q?", "generations": generations, "ratings": ratings}
    if statuses is not None:
        r["generation_statuses"] = statuses
    return r


def test_chosen_is_best_rejected_is_worst_in_trl_and_distilabel_formats():
    _, out = pairs([row(["a", "bb", "ccc", "dddd"], [0.5, 2.0, -1.0, 1.0])])
    r = out[0]
    assert r["prompt"] == [{"role": "user", "content": "Q?"}]
    assert r["chosen"] == [{"role": "assistant", "content": "bb"}]
    assert r["rejected"] == [{"role": "assistant", "content": "ccc"}]
    assert (r["chosen_score"], r["rejected_score"], r["margin"]) == (2.0, -1.0, 3.0)
    assert r["generations"] == ["a", "bb", "ccc", "dddd"] and r["ratings"] == [0.5, 2.0, -1.0, 1.0]


@pytest.mark.parametrize("policy, expected", [
    ("length", ("b", "cccc")),   # shortest of the tied best, longest of the tied worst
    ("first", ("aaa", "cccc")),  # earliest sampled
    ("drop", None),
])
def test_tie_policies(policy, expected):
    rows = [row(["aaa", "b", "cccc", "dd"], [3.0, 3.0, -1.0, -1.0])]
    step, out = pairs(rows, tie_policy=policy)
    if expected is None:
        assert out == [] and step.stats["reasons"] == {"tie for best or worst": 1}
    else:
        assert (out[0]["chosen"][0]["content"], out[0]["rejected"][0]["content"]) == expected


def test_tie_tolerance_widens_ties():
    _, out = pairs([row(["long answer", "s", "x"], [1.0, 0.99, -2.0])], tie_tolerance=0.05)
    assert out[0]["chosen"][0]["content"] == "s"


def test_rows_without_a_valid_pair_are_dropped_and_counted(tmp_path):
    rows = [
        row(["a", "b", "c"], [1.0, 1.0, 1.0]),                       # all rewards equal
        row(["a", "b"], [1.0, 0.8]),                                 # margin 0.2 < 0.5
        row(["a"], [1.0]),                                           # one candidate
        row(["a", "a", "a"], [1.0, 1.0, 1.0]),                       # identical texts count once
        row(["a", None, "", "b"], [1.0, None, 3.0, float("nan")]),   # unusable candidates
        row(["a", "b", "c"], [5.0, 0.0, 9.0], ["ok", "ok", "truncated"]),  # truncated left out
        row(["a", "b"], [1.0]),                                      # misaligned
    ]
    step, out = pairs(rows, min_margin=0.5, dropped_path=str(tmp_path / "d.jsonl"))
    assert len(out) == 1 and out[0]["chosen"][0]["content"] == "a" and out[0]["margin"] == 5.0
    assert step.stats["reasons"] == {"all rewards equal": 1, "margin": 1, "fewer than 2 scored responses": 3,
                                     "2 generations but 1 ratings": 1}
    assert step.stats["seen"] == 7 and step.stats["dropped"] == 6
    assert len((tmp_path / "d.jsonl").read_text().splitlines()) == 6


def test_truncated_candidates_can_be_allowed():
    _, out = pairs([row(["a", "b", "c"], [5.0, 0.0, 9.0], ["ok", "ok", "truncated"])], allow_truncated=True)
    assert out[0]["chosen"][0]["content"] == "c"


def test_missing_ratings_name_the_step_that_produces_them():
    step = PreferencePairs()
    step.load()
    with pytest.raises(MagpieError, match=r"needs column 'ratings'.*RewardModelLabeler"):
        next(step.process([{"instruction": "Q", "generations": ["a", "b"]}]))


def test_k_below_two_is_refused():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="num_candidates"):
        SampleCandidates(llm=LlamaCppEngine(model_path=embedded_model_path()), num_candidates=1)


def test_candidates_come_from_one_engine_call_with_n_samples(monkeypatch):
    """The k samples of a query are requested as n=k of one prompt (one shared prefill)."""
    llm = LlamaCppEngine(model_path=embedded_model_path(), n_parallel=6)
    step = SampleCandidates(llm=llm, num_candidates=3, max_new_tokens=8, seed=1)
    step.load()
    calls, real = [], LlamaCppEngine.complete

    def spy(self, prompts, params, progress=None):
        calls.append((len(prompts), params.n, params.temperature))
        return real(self, prompts, params, progress)

    monkeypatch.setattr(LlamaCppEngine, "complete", spy)
    rows = next(step.process([{"instruction": "Name a fruit."}, {"instruction": "Name a colour."},
                              {"instruction": "x", "instruction_status": "truncated"}]))
    assert calls == [(2, 3, 0.8)]
    assert [len(r["generations"]) for r in rows] == [3, 3, 0]
    assert all(s in ("ok", "truncated", "empty") for s in rows[0]["generation_statuses"])
    assert rows[0]["model_name"].endswith(".gguf")
