"""Pulling reviewed data back, after responses were submitted through the SDK."""

import logging

import pytest

from distilabel_magpie.errors import MagpieError
from distilabel_magpie.review.pull import LoadReviewedFromArgilla
from distilabel_magpie.review.push import PushChatToArgilla, PushPreferencesToArgilla, PushSFTToArgilla

pytestmark = pytest.mark.argilla
logging.getLogger("distilabel.step").setLevel(logging.ERROR)


def push(step_class, name, rows):
    step = step_class(dataset_name=name)
    step.load()
    return next(step.process(rows))


def respond(client, dataset, answers: dict) -> None:
    """answers: record external id -> (status, {question: value})"""
    import argilla as rg

    me = client.me.id
    records = [r for r in dataset.records if r.id in answers]
    for record in records:
        status, values = answers[record.id]
        for question, value in values.items():
            record.responses.add(rg.Response(question, value, user_id=me, status=status))
    dataset.records.log(records)


def pull(name, kind):
    step = LoadReviewedFromArgilla(kind=kind, dataset_name=name, batch_size=2)
    step.load()
    rows = [row for batch, _ in step.process() for row in batch]
    return rows, step.counts


def test_sft_pull_keeps_accepted_records_with_the_reviewers_edits(review_server, client, dataset_name):
    rows = [{"instruction": f"Question {i}?", "response": f"Answer {i}.", "difficulty": "medium"} for i in range(6)]
    out = push(PushSFTToArgilla, dataset_name, rows)
    ids = [r["argilla_id"] for r in out]
    dataset = client.datasets(dataset_name)
    respond(client, dataset, {
        ids[0]: ("submitted", {"quality": 5, "verdict": "accept"}),
        ids[1]: ("submitted", {"quality": 3, "verdict": "accept", "corrected_response": "A better answer 1.",
                               "difficulty": "easy"}),
        ids[2]: ("submitted", {"quality": 1, "verdict": "reject"}),
        ids[3]: ("discarded", {"verdict": "reject"}),
        ids[4]: ("draft", {"quality": 4, "verdict": "accept"}),
        # ids[5]: no response -> pending
    })
    pulled, counts = pull(dataset_name, "sft")
    assert (counts.records, counts.pulled, counts.rejected, counts.discarded, counts.pending) == (6, 2, 1, 1, 2)
    by_id = {r["argilla_id"]: r for r in pulled}
    assert set(by_id) == {ids[0], ids[1]}
    assert by_id[ids[0]]["response"] == "Answer 0." and by_id[ids[0]]["review_edited"] is False
    assert by_id[ids[1]]["response"] == "A better answer 1." and by_id[ids[1]]["review_edited"] is True
    assert by_id[ids[1]]["instruction"] == "Question 1?"
    assert by_id[ids[0]]["review_quality"] == 5 and by_id[ids[1]]["review_quality"] == 3
    assert by_id[ids[1]]["review_difficulty"] == "easy" and by_id[ids[0]]["review_difficulty"] is None
    assert by_id[ids[1]]["review_verdict"] == "accept" and by_id[ids[1]]["review_reviewers"] == 1


def test_text_with_markup_comes_back_byte_for_byte(review_server, client, dataset_name):
    text = 'if a < b && c > d: print("<b>&amp;</b>")\n\ttab, ünïcode, emoji 🦜'
    out = push(PushSFTToArgilla, dataset_name, [{"instruction": "Explain this code", "response": text}])
    answer = ("submitted", {"quality": 4, "verdict": "accept"})
    respond(client, client.datasets(dataset_name), {out[0]["argilla_id"]: answer})
    pulled, _ = pull(dataset_name, "sft")
    assert pulled[0]["response"] == text


def test_dpo_pull_follows_the_reviewers_choice(review_server, client, dataset_name):
    prompt = [{"role": "user", "content": "Best sorting algorithm for nearly sorted data?"}]
    rows = [{"prompt": prompt, "chosen": [{"role": "assistant", "content": f"Insertion sort ({i})."}],
             "rejected": [{"role": "assistant", "content": f"Bogosort ({i})."}], "chosen_score": 1.0,
             "rejected_score": 0.0} for i in range(3)]
    out = push(PushPreferencesToArgilla, dataset_name, rows)
    dataset = client.datasets(dataset_name)
    sides = {r.id: r.metadata["reward_choice"] for r in dataset.records}
    other = {"response_1": "response_2", "response_2": "response_1"}
    ids = [r["argilla_id"] for r in out]
    respond(client, dataset, {
        ids[0]: ("submitted", {"preference": sides[ids[0]], "quality": 4}),  # agrees with the reward model
        ids[1]: ("submitted", {"preference": other[sides[ids[1]]], "corrected_response": "Timsort (1)."}),
        ids[2]: ("submitted", {"preference": "tie"}),
    })
    pulled, counts = pull(dataset_name, "preference")
    assert (counts.pulled, counts.tie) == (2, 1)
    by_id = {r["argilla_id"]: r for r in pulled}
    agree, disagree = by_id[ids[0]], by_id[ids[1]]
    assert agree["prompt"] == prompt
    assert agree["chosen"] == [{"role": "assistant", "content": "Insertion sort (0)."}]
    assert agree["rejected"] == [{"role": "assistant", "content": "Bogosort (0)."}]
    assert agree["review_agrees_with_reward"] is True and agree["review_quality"] == 4
    assert disagree["chosen"] == [{"role": "assistant", "content": "Timsort (1)."}]  # the reviewer's rewrite
    assert disagree["rejected"] == [{"role": "assistant", "content": "Insertion sort (1)."}]
    assert disagree["review_agrees_with_reward"] is False


def test_chat_pull_replaces_the_final_answer_when_corrected(review_server, client, dataset_name):
    chat = [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"},
            {"role": "user", "content": "times 3?"}, {"role": "assistant", "content": "13"}]
    out = push(PushChatToArgilla, dataset_name, [{"messages": chat}])
    respond(client, client.datasets(dataset_name),
            {out[0]["argilla_id"]: ("submitted", {"quality": 2, "verdict": "accept", "corrected_response": "12"})})
    pulled, counts = pull(dataset_name, "chat")
    assert counts.pulled == 1
    assert pulled[0]["messages"] == chat[:3] + [{"role": "assistant", "content": "12"}]


def test_pull_refuses_a_dataset_of_another_kind_or_missing(review_server, dataset_name):
    push(PushSFTToArgilla, dataset_name, [{"instruction": "q", "response": "a"}])
    with pytest.raises(MagpieError, match="is a sft review dataset, not preference"):
        pull(dataset_name, "preference")
    with pytest.raises(MagpieError, match="Argilla dataset 'no-such-dataset' not found"):
        pull("no-such-dataset", "sft")


def test_reasoning_is_shown_in_its_own_field_and_pulled_back(review_server, client, dataset_name):
    rows = [{"instruction": "2+2?", "response": "4", "reasoning": "Two and two make four."},
            {"instruction": "Hi", "response": "Hello!", "reasoning": None}]
    out = push(PushSFTToArgilla, dataset_name, rows)
    assert [r["argilla_status"] for r in out] == ["created", "created"]
    dataset = client.datasets(dataset_name)
    assert [f.name for f in dataset.settings.fields] == ["instruction", "response", "reasoning"]
    respond(client, dataset, {r["argilla_id"]: ("submitted", {"quality": 4, "verdict": "accept"}) for r in out})
    pulled, _ = pull(dataset_name, "sft")
    assert sorted((r["instruction"], r["reasoning"]) for r in pulled) == [
        ("2+2?", "Two and two make four."), ("Hi", None)]


def test_chat_reasoning_comes_back_on_its_assistant_turns(review_server, client, dataset_name):
    chat = [{"role": "user", "content": "2+2?"},
            {"role": "assistant", "content": "4", "reasoning_content": "Add."},
            {"role": "user", "content": "times 3?"},
            {"role": "assistant", "content": "13", "reasoning_content": "Multiply 4 by 3."}]
    out = push(PushChatToArgilla, dataset_name, [{"messages": chat}])
    respond(client, client.datasets(dataset_name),
            {out[0]["argilla_id"]: ("submitted", {"quality": 2, "verdict": "accept", "corrected_response": "12"})})
    pulled, _ = pull(dataset_name, "chat")
    assert pulled[0]["messages"] == chat[:3] + [{"role": "assistant", "content": "12",
                                                 "reasoning_content": "Multiply 4 by 3."}]


def test_a_dataset_made_without_reasoning_refuses_reasoning_rows(review_server, dataset_name):
    step = PushSFTToArgilla(dataset_name=dataset_name)
    step.load()
    next(step.process([{"instruction": "q", "response": "a"}]))
    (later,) = next(step.process([{"instruction": "q2", "response": "a2", "reasoning": "r"}]))  # same run
    assert later["argilla_status"] == "skipped" and "no reasoning field" in later["argilla_error"]
    with pytest.raises(MagpieError, match="created from rows without reasoning"):  # another run
        push(PushSFTToArgilla, dataset_name, [{"instruction": "q3", "response": "a3", "reasoning": "r"}])


def test_layouts_with_a_reasoning_field_are_still_recognised(review_server):
    from distilabel_magpie.errors import MagpieError
    from distilabel_magpie.review.dataset_settings import build_settings, has_reasoning, kind_of

    for kind in ("sft", "chat"):
        settings = build_settings(kind, reasoning=True)
        assert has_reasoning(settings) and kind_of(settings) == kind
        field = next(f for f in settings.fields if f.name == "reasoning")
        assert field.required is False
        assert not has_reasoning(build_settings(kind))
    with pytest.raises(MagpieError, match="no reasoning field"):
        build_settings("preference", reasoning=True)


def test_the_pull_keeps_the_rows_columns_and_the_original_beside_a_correction(review_server, client, dataset_name):
    rows = [{"instruction": f"Question {i}?", "response": f"Answer {i}.", "model_name": "smollm2", "reward": float(i),
             "quality": "good", "response_status": "ok", "min_neighbor_distance": 0.5} for i in range(3)]
    out = push(PushSFTToArgilla, dataset_name, rows)
    ids = [r["argilla_id"] for r in out]
    respond(client, client.datasets(dataset_name), {
        ids[0]: ("submitted", {"quality": 4, "verdict": "accept", "corrected_response": "Answer 0."}),  # untouched
        ids[1]: ("submitted", {"quality": 2, "verdict": "accept", "corrected_response": "A better answer 1."}),
    })
    pulled, counts = pull(dataset_name, "sft")
    by_id = {r["argilla_id"]: r for r in pulled}
    kept, edited = by_id[ids[0]], by_id[ids[1]]
    assert (kept["review_edited"], kept["original_response"], kept["response"]) == (False, None, "Answer 0.")
    assert (edited["review_edited"], edited["original_response"], edited["response"]) == (
        True, "Answer 1.", "A better answer 1.")
    for row, source in ((kept, rows[0]), (edited, rows[1])):
        assert {k: row[k] for k in ("model_name", "reward", "quality", "response_status", "min_neighbor_distance")} \
            == {k: source[k] for k in ("model_name", "reward", "quality", "response_status", "min_neighbor_distance")}
    assert "language" not in kept  # a column the rows never had is not invented
