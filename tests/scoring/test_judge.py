"""The judge on the embedded SmolLM2-135M model (real llama.cpp runs, kept short)."""

import pytest

from distilabel_magpie.engines import LlamaCppEngine
from distilabel_magpie.errors import MagpieError
from distilabel_magpie.engines.models import embedded_model_path
from distilabel_magpie.scoring import MagpieJudge
from distilabel_magpie.engines.structured import gbnf_for_schema
from distilabel_magpie.scoring.judge import SCHEMAS, expected_rating, schema_for
from distilabel_magpie.scoring.parsing import QUALITY_LEVELS

ROWS = [{"instruction": "How do I boil an egg?", "instruction_status": "ok"},
        {"instruction": "Write a haiku about rain.", "instruction_status": "ok"},
        {"instruction": "Tell me", "instruction_status": "truncated"}]


@pytest.fixture(scope="module")
def llm():
    return LlamaCppEngine(model_path=embedded_model_path(), n_parallel=4, n_ctx=4096)


def judge(llm, **kwargs):
    step = MagpieJudge(name="judge", llm=llm, **kwargs)
    step.load()  # the fixture's model is reloaded cheaply (98 MB GGUF)
    return step


def test_grammar_constrained_judgements_parse(llm):
    """The rating comes first in the grammar, so even an output cut at 16 tokens parses."""
    step = judge(llm, tags=["quality"], max_new_tokens=16)
    rows = next(step.process([dict(r) for r in ROWS]))
    for row in rows[:2]:
        assert row["judge_status"] == "ok", row["judge_error"]
        assert row["quality"] in QUALITY_LEVELS
        assert row["distilabel_metadata"]["raw_output_judge"]["quality"].replace(" ", "").startswith('{"input_quality":"')
    assert rows[2]["judge_status"] == "skipped" and rows[2]["quality"] is None  # not-ok query is not judged
    assert "0/2 (0.0%)" in step.summary()


def test_the_judges_label_probabilities_give_an_expected_rating_and_the_labels_confidence(llm):
    """Read where the judge is about to write the label: the expected rating lies in [1, 5] and
    the score is the probability of the label written; a row not judged has neither."""
    step = judge(llm, tags=["quality"], max_new_tokens=16)
    rows = next(step.process([dict(r) for r in ROWS]))
    for row in rows[:2]:
        assert 1.0 <= row["quality_rating"] <= 5.0 and 0.0 < row["quality_score"] <= 1.0
    assert rows[2]["quality_rating"] is None and rows[2]["quality_score"] is None
    assert expected_rating([0.5, 0.0, 0.0, 0.0, 0.5]) == 3.0 and expected_rating([0, 0, 0, 0.25, 0.75]) == 4.75
    assert expected_rating(None) is None


def test_a_judge_without_label_probabilities_leaves_the_rating_empty(llm):
    """Backends that give no probabilities (chat APIs, servers): the label only."""
    step = judge(llm, tags=["quality"], max_new_tokens=16)
    object.__setattr__(step, "_judge", lambda rows, tag: [('{"input_quality": "good", "explanation": "clear"}', None)] * len(rows))
    rows = next(step.process([dict(r) for r in ROWS[:1]]))
    assert rows[0]["quality"] == "good" and rows[0]["quality_rating"] is None and rows[0]["quality_score"] is None


def test_garbage_from_the_judge_is_flagged_and_counted(llm):
    """Without grammar and with 3 tokens the 135M judge cannot write a JSON object."""
    step = judge(llm, tags=["quality"], use_grammar=False, max_new_tokens=3)
    rows = next(step.process([dict(r) for r in ROWS[:2]]))
    assert [r["judge_status"] for r in rows] == ["failed", "failed"]
    assert all(r["quality"] is None and r["judge_error"].startswith("quality: ") for r in rows)
    assert "2/2 (100.0%)" in step.summary()


def test_grammars_are_built_from_the_schemas_in_the_judges_order():
    for tag, schema in SCHEMAS.items():
        grammar = gbnf_for_schema(schema_for(tag))
        assert grammar.count("root ::=") == 1
        for key in schema["properties"]:
            assert f'\\"{key}\\"' in grammar
    root = next(line for line in gbnf_for_schema(schema_for("quality")).splitlines() if line.startswith("root"))
    assert root.index("input-quality") < root.index("explanation")  # the rating first, not alphabetical


def test_missing_instruction_column_is_a_one_line_error(llm):
    step = judge(llm)
    with pytest.raises(MagpieError, match="needs column 'instruction'.*MagpieSampler"):
        next(step.process([{"response": "x"}]))


def test_the_judge_names_itself_and_keeps_the_generators_model_name(llm):
    step = judge(llm, tags=["quality"], max_new_tokens=16)
    rows = next(step.process([{**ROWS[0], "model_name": "the-generator.gguf"}]))
    assert rows[0]["model_name"] == "the-generator.gguf"
    assert rows[0]["judge_model"] == llm.model_name
