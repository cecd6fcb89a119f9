import pytest

from distilabel_magpie.scoring.parsing import (
    match_label,
    parse_difficulty,
    parse_llama_guard,
    parse_quality,
    parse_task_category,
)


@pytest.mark.parametrize("text, expected", [
    ('{"input_quality": "good", "explanation": "clear"}', "good"),
    ('Sure! ```json\n{"input_quality": "Very Poor"}\n```', "very poor"),
    ("{'input_quality': 'excellent', 'explanation': 'ok',}", "excellent"),  # Python quotes, trailing comma
    ('{"explanation": "fine", "input_quality": "average", "extra": [1, 2,]}', "average"),
    ('{"input_quality": "poor", "explanation": "cut off by the token lim', "poor"),  # never closed
    ('{"quality": 4}', "good"),  # number on the 5-point scale, key synonym
    ('Rating below.\n{"input_quality": "very_poor"}', "very poor"),
])
def test_quality_parser_tolerates_what_small_judges_write(text, expected):
    values, error = parse_quality(text)
    assert error is None and values["quality"] == expected


@pytest.mark.parametrize("text, reason", [
    ("The query is good.", "no JSON object"),
    ('{"input_quality": "superb"}', "'superb' is not one of"),
    ('{"rating_of_query": "good"}', "missing key 'input_quality'"),
    ('{"input_quality": good, bad}', "malformed JSON"),
    ("", "no JSON object"),
])
def test_quality_parser_gives_a_reason_when_it_fails(text, reason):
    values, error = parse_quality(text)
    assert values is None and reason in error


def test_difficulty_keeps_intent_and_knowledge():
    values, error = parse_difficulty('{"intent": "The user wants X", "knowledge": "Y", "difficulty": "Hard"}')
    assert error is None and values == {"difficulty": "hard", "intent": "The user wants X", "knowledge": "Y"}


def test_task_category_matches_labels_and_prefixes():
    values, _ = parse_task_category('{"primary_tag": "coding", "other_tags": ["Math", "math", "nonsense", "Coding & Debugging"]}')
    assert values == {"task_category": "Coding & Debugging", "other_task_categories": ["Math"]}
    assert parse_task_category('{"primary_tag": "cooking"}')[0] is None
    assert match_label("Information", ("Information seeking", "Reasoning")) == "Information seeking"
    assert match_label("very", ("very easy", "easy", "medium", "hard", "very hard")) is None  # ambiguous


@pytest.mark.parametrize("text, label, codes", [
    ("safe", "safe", []),
    ("\n\nsafe\n", "safe", []),
    ("unsafe\nS1,S10", "unsafe", ["S1", "S10"]),
    ("unsafe\nS2, S2", "unsafe", ["S2"]),
    ("unsafe\nO3", "unsafe", ["O3"]),  # Llama Guard 1 codes
])
def test_llama_guard_answers(text, label, codes):
    assert parse_llama_guard(text) == (label, codes, None)


def test_llama_guard_garbage_is_reported():
    label, codes, error = parse_llama_guard("I cannot help with that")
    assert label is None and codes == [] and "not 'safe' or 'unsafe'" in error
