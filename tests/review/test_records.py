"""Rows -> Argilla records, without a server."""

import math

import pytest

from distilabel_magpie.review.records import (
    MAX_CHAT_MESSAGE_CHARS,
    SkipRow,
    chat_record,
    preference_record,
    record_id,
    sft_record,
)

SFT = {"instruction": "What is 2 + 2?", "response": "4"}
CORRECTION = ("corrected_response", "4", None, "model response")


def test_ids_are_stable_and_depend_only_on_reviewed_content():
    a = sft_record(dict(SFT, model_name="m1", reward=1.0), "run1", 1000)
    b = sft_record(dict(SFT, model_name="m2", reward=-3.0), "run2", 1000)
    c = sft_record(dict(SFT, response="5"), None, 1000)
    assert a.id == b.id == record_id("sft", {"instruction": "What is 2 + 2?", "response": "4"})
    assert a.id != c.id
    assert a.id.startswith("sft-")


def test_sft_metadata_and_judge_suggestions_keep_float_scores():
    row = dict(SFT, model_name="smollm2", template="chatml", system_prompt_key=None, language="en",
               instruction_status="ok", response_status="ok", quality="Good", quality_score=0.8125,
               difficulty="very hard", difficulty_score=0.3, task_category="Math", reward=-7.25,
               min_neighbor_distance=0.42, repeat_count=3, judge_model="judge-1")
    record = sft_record(row, "abc", 1000)
    assert record.metadata == {
        "model": "smollm2", "template": "chatml", "language": "en", "instruction_status": "ok",
        "response_status": "ok", "tag_quality": "Good", "tag_difficulty": "very hard", "tag_task_category": "Math",
        "reward": -7.25, "min_neighbor_distance": 0.42, "repeat_count": 3, "run_id": "abc",
        "instruction_length": 14, "response_length": 1,
    }
    assert ("instruction_quality", "good", 0.8125, "judge-1") in record.suggestions
    assert ("difficulty", "very hard", 0.3, "judge-1") in record.suggestions
    assert ("task_category", "Math", None, "judge-1") in record.suggestions
    assert record.vector is None


def test_missing_optional_columns_are_simply_absent():
    record = sft_record(dict(SFT), None, 1000)
    assert set(record.metadata) == {"instruction_length", "response_length"}
    assert record.suggestions == [CORRECTION]  # only the corrected response, pre-filled with the answer


def test_unknown_tag_values_and_out_of_range_scores_are_not_suggested():
    record = sft_record(dict(SFT, quality="superb", difficulty="easy", difficulty_score=7.0), None, 1000)
    assert record.suggestions == [("difficulty", "easy", None, "judge"), CORRECTION]
    assert record.metadata["tag_quality"] == "superb"  # still visible and filterable as metadata


@pytest.mark.parametrize(
    "row, reason",
    [
        ({"instruction": "q", "response": None, "response_status": "skipped"},
         "response is missing (response_status=skipped)"),
        ({"instruction": "  ", "response": "a"}, "instruction is empty"),
        ({"instruction": "q", "response": b"\xff\xfe"}, "response is not valid UTF-8"),
        ({"instruction": "bad \udcff surrogate", "response": "a"}, "instruction is not valid UTF-8"),
        ({"instruction": "q", "response": 42}, "response is a int, not text"),
        ({"instruction": "x" * 101, "response": "a"}, "instruction has 101 characters, over the limit of 100"),
    ],
)
def test_rows_that_cannot_be_reviewed_are_skipped_with_a_one_line_reason(row, reason):
    with pytest.raises(SkipRow) as e:
        sft_record(row, None, 100)
    assert str(e.value).startswith(reason)
    assert "\n" not in str(e.value)


def test_bytes_that_are_utf8_are_accepted():
    record = sft_record({"instruction": "caf\u00e9".encode(), "response": "ok"}, None, 100)
    assert record.fields["instruction"] == "café"


def test_chat_record_counts_turns_and_validates_messages():
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"},
                {"role": "user", "content": "and?"}, {"role": "assistant", "content": "bye"}]
    record = chat_record({"messages": messages, "embedding": [0.5, 1, -2]}, None, 1000)
    assert record.fields == {"messages": messages}
    assert record.metadata["turns"] == 2
    assert record.vector == [0.5, 1.0, -2.0]
    with pytest.raises(SkipRow, match=r"messages\[1\].content is empty"):
        chat_record({"messages": [messages[0], {"role": "assistant", "content": ""}]}, None, 1000)
    with pytest.raises(SkipRow, match="at least one user and one assistant"):
        chat_record({"messages": messages[:1]}, None, 1000)
    with pytest.raises(SkipRow, match="over the limit of 20000"):
        chat_record({"messages": [messages[0], {"role": "assistant", "content": "x" * (MAX_CHAT_MESSAGE_CHARS + 1)}]},
                    None, 10**6)
    with pytest.raises(SkipRow, match="non-finite"):
        chat_record({"messages": messages, "embedding": [0.1, float("nan")]}, None, 1000)


def test_preference_record_hides_the_side_and_scores_the_reward_choice():
    prompt = [{"role": "user", "content": "2 + 2?"}]
    sides = set()
    for i in range(12):
        row = {"prompt": prompt, "chosen": prompt + [{"role": "assistant", "content": f"4 ({i})"}],
               "rejected": [{"role": "assistant", "content": f"5 ({i})"}], "chosen_score": 1.0, "rejected_score": -1.0,
               "generations": ["a", "b", "c"]}
        record = preference_record(row, None, 1000)
        choice = record.metadata["reward_choice"]
        sides.add(choice)
        assert record.fields[choice] == f"4 ({i})"  # the chosen text is on the suggested side
        other = "response_2" if choice == "response_1" else "response_1"
        assert record.fields[other] == f"5 ({i})"
        question, value, score, agent = record.suggestions[0]
        assert (question, value, agent) == ("preference", choice, "reward-model")
        assert score == pytest.approx(1 / (1 + math.exp(-2.0)))
        assert record.metadata["margin"] == 2.0 and record.metadata["num_generations"] == 3
        assert record.fields["prompt"] == prompt
    assert sides == {"response_1", "response_2"}  # not always the same side


def test_preference_accepts_plain_strings_and_rejects_a_chosen_without_answer():
    record = preference_record({"prompt": "2 + 2?", "chosen": "4", "rejected": "5"}, None, 1000)
    assert record.fields["prompt"] == [{"role": "user", "content": "2 + 2?"}]
    assert record.suggestions[0][2] is None  # no scores, no confidence
    with pytest.raises(SkipRow, match="chosen does not end with an assistant message"):
        preference_record({"prompt": "q", "chosen": [{"role": "user", "content": "q"}], "rejected": "5"}, None, 1000)


# -- reasoning ------------------------------------------------------------------------------------


def test_sft_reasoning_gets_its_own_field_and_counts_in_the_id():
    record = sft_record(dict(SFT, reasoning="Two and two."), None, 1000)
    assert record.fields == {"instruction": "What is 2 + 2?", "response": "4", "reasoning": "Two and two."}
    assert record.id == record_id("sft", record.fields) != sft_record(dict(SFT), None, 1000).id
    assert "reasoning" not in sft_record(dict(SFT, reasoning=""), None, 1000).fields  # an empty think block
    assert "reasoning" not in sft_record(dict(SFT, reasoning=None), None, 1000).fields
    with pytest.raises(SkipRow, match="reasoning has 101 characters"):
        sft_record(dict(SFT, reasoning="x" * 101), None, 100)


def test_chat_reasoning_is_one_field_turn_by_turn_that_reads_back_exactly():
    from distilabel_magpie.review.records import turn_reasoning_of

    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello", "reasoning_content": "Greet.\n"},
                {"role": "user", "content": "and?"}, {"role": "assistant", "content": "bye"},
                {"role": "user", "content": "ok?"}, {"role": "assistant", "content": "ok", "thinking": ""}]
    record = chat_record({"messages": messages}, None, 1000)
    assert record.fields["messages"] == [{"role": m["role"], "content": m["content"]} for m in messages]
    assert record.fields["reasoning"] == "[reasoning of assistant turn 1]\nGreet.\n\n\n[reasoning of assistant turn 3]\n"
    assert turn_reasoning_of(record.fields["reasoning"]) == {1: "Greet.\n", 3: ""}
    plain = chat_record({"messages": [{k: v for k, v in m.items() if k in ("role", "content")} for m in messages]},
                        None, 1000)
    assert "reasoning" not in plain.fields and plain.id == record_id("chat", plain.fields["messages"]) != record.id
    tricky = [messages[0], {**messages[1], "reasoning_content": "a\n\n[reasoning of assistant turn 2]\nb"}]
    with pytest.raises(SkipRow, match="cannot be shown exactly"):
        chat_record({"messages": tricky}, None, 1000)

