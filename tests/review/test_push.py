"""Push steps against the real local review server."""

import logging
import math

import pytest
from pydantic import SecretStr

from distilabel_magpie.errors import MagpieError
from distilabel_magpie.review.push import PushChatToArgilla, PushPreferencesToArgilla, PushSFTToArgilla

from .faulty_proxy import FaultyProxy

pytestmark = pytest.mark.argilla

logging.getLogger("distilabel.step").setLevel(logging.ERROR)  # steps outside a Pipeline warn about it


def sft_rows(n, **extra):
    return [{"instruction": f"How do I do task number {i}?", "response": f"Do step {i}, then step {i + 1}.",
             "model_name": "smollm2-135m", "template": "chatml", "instruction_status": "ok", "response_status": "ok",
             "quality": "good", "quality_score": 0.8125, "reward": -3.5 + i, **extra} for i in range(n)]


def push(step_class, name, rows, **kwargs):
    step = step_class(dataset_name=name, **kwargs)
    step.load()
    out = next(step.process(rows))
    return step, out


def test_sft_push_is_idempotent(review_server, client, dataset_name):
    rows = sft_rows(6)
    step, out = push(PushSFTToArgilla, dataset_name, rows)
    assert [r["argilla_status"] for r in out] == ["created"] * 6
    assert step.counts.created == 6 and step.counts.failed == 0
    dataset = client.datasets(dataset_name)
    before = {r.id: (r.fields, r.metadata) for r in dataset.records}
    assert set(before) == {r["argilla_id"] for r in out}

    _step2, out2 = push(PushSFTToArgilla, dataset_name, sft_rows(6))
    assert [r["argilla_status"] for r in out2] == ["updated"] * 6
    assert [r["argilla_id"] for r in out2] == [r["argilla_id"] for r in out]
    after = {r.id: (r.fields, r.metadata) for r in client.datasets(dataset_name).records}
    assert after == before  # same records, same content: nothing doubled


def test_sft_metadata_and_suggestions_with_float_scores(review_server, client, dataset_name):
    push(PushSFTToArgilla, dataset_name, sft_rows(2), run_id="run-7")
    records = list(client.datasets(dataset_name).records(with_suggestions=True))
    record = next(r for r in records if r.fields["instruction"].endswith("number 1?"))
    assert record.metadata["reward"] == -2.5
    assert record.metadata["model"] == "smollm2-135m" and record.metadata["run_id"] == "run-7"
    assert record.metadata["instruction_length"] == len("How do I do task number 1?")
    suggestion = record.suggestions["instruction_quality"]
    assert suggestion.value == "good" and suggestion.score == 0.8125 and suggestion.agent == "judge"


def test_chat_push_renders_as_chat_field(review_server, client, dataset_name):
    conversation = [{"role": "user", "content": "Name a prime."}, {"role": "assistant", "content": "7"},
                    {"role": "user", "content": "Another?"}, {"role": "assistant", "content": "11"}]
    _, out = push(PushChatToArgilla, dataset_name, [{"messages": conversation, "language": "en"}])
    assert out[0]["argilla_status"] == "created"
    dataset = client.datasets(dataset_name)
    assert dataset.settings.fields["messages"].type == "chat"
    record = next(iter(dataset.records))
    assert [(m.role, m.content) for m in record.fields["messages"]] == [(m["role"], m["content"]) for m in conversation]
    assert record.metadata["turns"] == 2 and record.metadata["language"] == "en"


def test_preference_push_suggests_the_reward_choice_with_its_probability(review_server, client, dataset_name):
    row = {"prompt": [{"role": "user", "content": "Capital of Peru?"}],
           "chosen": [{"role": "assistant", "content": "Lima."}],
           "rejected": [{"role": "assistant", "content": "Cusco."}],
           "chosen_score": 2.0, "rejected_score": 0.5, "margin": 1.5, "generations": ["Lima.", "Cusco."],
           "ratings": [2.0, 0.5]}
    _, out = push(PushPreferencesToArgilla, dataset_name, [row])
    assert out[0]["argilla_status"] == "created"
    record = next(iter(client.datasets(dataset_name).records(with_suggestions=True)))
    choice = record.suggestions["preference"]
    assert record.fields[choice.value] == "Lima."
    assert choice.score == pytest.approx(0.8175744761936437)  # sigmoid(1.5)
    assert record.metadata["margin"] == 1.5 and record.metadata["chosen_score"] == 2.0


def test_embeddings_become_vectors(review_server, client, dataset_name):
    rows = sft_rows(3)
    for i, row in enumerate(rows):
        row["embedding"] = [1.0, float(i), 0.5]
    rows.append(dict(sft_rows(4)[3], embedding=[1.0, 2.0]))  # wrong size
    _step, out = push(PushSFTToArgilla, dataset_name, rows)
    assert [r["argilla_status"] for r in out] == ["created"] * 3 + ["skipped"]
    assert out[3]["argilla_error"] == "embedding has 2 dimensions, not 3"
    dataset = client.datasets(dataset_name)
    assert dataset.settings.vectors["embedding"].dimensions == 3
    record = next(iter(dataset.records(with_vectors=True)))
    assert len(record.vectors["embedding"]) == 3


def test_bad_rows_are_skipped_and_counted_never_lost(review_server, client, dataset_name):
    rows = sft_rows(2) + [
        {"instruction": "q1", "response": None, "response_status": "skipped"},
        {"instruction": "q2", "response": "x" * 2000},
        {"instruction": b"\xff\xfe broken", "response": "a"},
        {"instruction": "q3 \udcff", "response": "a"},
        dict(sft_rows(1)[0]),  # the same content twice in one batch
    ]
    step, out = push(PushSFTToArgilla, dataset_name, rows, max_text_chars=1000)
    statuses = [r["argilla_status"] for r in out]
    assert statuses == ["created", "created", "skipped", "skipped", "skipped", "skipped", "duplicate"]
    assert out[3]["argilla_error"] == "response has 2000 characters, over the limit of 1000 (max_text_chars)"
    assert out[4]["argilla_error"] == "instruction is not valid UTF-8"
    counts = step.counts
    assert (counts.created, counts.skipped, counts.duplicate, counts.total) == (2, 4, 1, 7)
    assert len(list(client.datasets(dataset_name).records)) == 2


def test_missing_required_column_is_a_one_line_error(review_server, dataset_name):
    step = PushSFTToArgilla(dataset_name=dataset_name)
    step.load()
    with pytest.raises(MagpieError) as e:
        next(step.process([{"instruction": "q"}]))
    message = str(e.value)
    assert "\n" not in message
    assert "needs column 'response' (produced by MagpieResponder)" in message


def test_existing_dataset_with_other_settings_is_refused(review_server, client, dataset_name):
    push(PushSFTToArgilla, dataset_name, sft_rows(1))
    step = PushChatToArgilla(dataset_name=dataset_name)
    step.load()
    with pytest.raises(MagpieError, match=f"dataset '{dataset_name}' exists as a sft review dataset"):
        next(step.process([{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}]))
    assert len(list(client.datasets(dataset_name).records)) == 1


def test_wrong_key_and_unreachable_server_are_one_line_errors(review_server, dataset_name):
    _, _creds = review_server
    with pytest.raises(MagpieError, match="rejected the API key"):
        PushSFTToArgilla(dataset_name=dataset_name, api_key=SecretStr("not-the-key")).load()
    with pytest.raises(MagpieError, match=r"cannot reach Argilla at http://127.0.0.1:9 \(ConnectError\)"):
        PushSFTToArgilla(dataset_name=dataset_name, api_url="http://127.0.0.1:9", api_key=SecretStr("k")).load()


def test_5xx_answers_are_retried(review_server, client, dataset_name):
    _, creds = review_server
    push(PushSFTToArgilla, dataset_name, sft_rows(1))  # dataset exists; the proxy then fails 2 upserts
    with FaultyProxy(creds.api_url, fail_method="PUT", failures=2) as proxy:
        _step, out = push(PushSFTToArgilla, dataset_name, sft_rows(5), api_url=proxy.url, retry_backoff=0.05)
    assert proxy.seen["failed"] == 2
    assert [r["argilla_status"] for r in out] == ["updated"] + ["created"] * 4
    assert len(list(client.datasets(dataset_name).records)) == 5


def test_a_batch_that_cannot_be_sent_is_reported_failed(review_server, client, dataset_name):
    _, creds = review_server
    push(PushSFTToArgilla, dataset_name, sft_rows(1))
    with FaultyProxy(creds.api_url, fail_method="PUT", failures=100) as proxy:
        step, out = push(PushSFTToArgilla, dataset_name, sft_rows(3), api_url=proxy.url, max_retries=2,
                         retry_backoff=0.01)
    assert proxy.seen["failed"] == 3  # first try + 2 retries
    assert [r["argilla_status"] for r in out] == ["failed"] * 3
    assert out[0]["argilla_error"] == "server unavailable after 2 retries: HTTP 503"
    assert step.counts.failed == 3


def test_a_record_the_server_refuses_is_cut_out_of_its_batch(review_server, client, dataset_name):
    push(PushSFTToArgilla, dataset_name, sft_rows(1))
    step = PushSFTToArgilla(dataset_name=dataset_name)
    step.load()
    rows = sft_rows(3)
    # Bypass our own checks to send the server something it refuses: text in a float metadata property.
    from distilabel_magpie.review import records

    original = records.BUILDERS["sft"]

    def build(row, run_id, max_chars):
        record = original(row, run_id, max_chars)
        if row["instruction"].endswith("number 1?"):
            record.metadata["reward"] = "not a number"
        return record

    records.BUILDERS["sft"] = build
    try:
        out = next(step.process(rows))
    finally:
        records.BUILDERS["sft"] = original
    assert [r["argilla_status"] for r in out] == ["updated", "failed", "created"]
    assert "reward" in out[1]["argilla_error"]
    assert len(list(client.datasets(dataset_name).records)) == 2


def test_connection_errors_are_retried_then_reported(review_server, client, dataset_name):
    _, creds = review_server
    with FaultyProxy(creds.api_url, failures=0) as proxy:
        step = PushSFTToArgilla(dataset_name=dataset_name, api_url=proxy.url, max_retries=1, retry_backoff=0.01)
        step.load()
        first = next(step.process(sft_rows(1)))
    # the proxy is gone now: every request fails to connect
    out = next(step.process(sft_rows(3)))
    assert first[0]["argilla_status"] == "created"
    assert [r["argilla_status"] for r in out] == ["failed"] * 3
    assert out[0]["argilla_error"].startswith("server unavailable after 1 retries: ConnectError")
    assert step.counts.failed == 3 and len(list(client.datasets(dataset_name).records)) == 1


def test_an_unreachable_server_at_the_first_batch_fails_the_rows(review_server, dataset_name):
    _, creds = review_server
    with FaultyProxy(creds.api_url, failures=0) as proxy:
        step = PushSFTToArgilla(dataset_name=dataset_name, api_url=proxy.url)
        step.load()
    out = next(step.process(sft_rows(2)))
    assert [r["argilla_status"] for r in out] == ["failed", "failed"]
    assert out[0]["argilla_error"].startswith(f"cannot look up Argilla dataset '{dataset_name}': ConnectError")
    assert step.counts.failed == 2


def test_the_layout_follows_the_data_and_later_rows_fit_in_it(review_server, client, dataset_name, caplog):
    """Metadata properties and judge-tag questions are declared for what the first rows have; later
    rows with more are pushed with what has a place (the rest is logged once), and a dataset with
    tag questions takes rows without tags."""
    push(PushSFTToArgilla, dataset_name, [{"instruction": "q1?", "response": "a1", "reward": 1.0}])
    settings = client.datasets(dataset_name).settings
    assert sorted(m.name for m in settings.metadata) == ["instruction_length", "response_length", "reward"]
    assert [q.name for q in settings.questions] == ["quality", "verdict", "corrected_response"]
    with caplog.at_level(logging.WARNING, logger="distilabel.step"):
        logging.getLogger("distilabel.step").setLevel(logging.WARNING)
        try:
            _, out = push(PushSFTToArgilla, dataset_name, [{"instruction": "q2?", "response": "a2", "reward": 2.0,
                                                            "quality": "good", "language": "EN"}])
        finally:
            logging.getLogger("distilabel.step").setLevel(logging.ERROR)
    assert out[0]["argilla_status"] == "created"
    assert "no metadata property or question for language, tag_quality, instruction_quality" in caplog.text
    record = next(r for r in client.datasets(dataset_name).records(with_suggestions=True)
                  if r.fields["instruction"] == "q2?")
    assert record.metadata["reward"] == 2.0 and "language" not in record.metadata
    tagged = f"{dataset_name}-tags"
    push(PushSFTToArgilla, tagged, [{"instruction": "q?", "response": "a", "task_category": "Math"}])
    assert [q.name for q in client.datasets(tagged).settings.questions][-1] == "task_category"
    _, out = push(PushSFTToArgilla, tagged, [{"instruction": "untagged?", "response": "a"}])
    assert out[0]["argilla_status"] == "created"


def test_flagged_answers_are_skipped_unless_asked_and_then_carry_the_flag(review_server, client, dataset_name):
    rows = [dict(sft_rows(1)[0]), {"instruction": "Cut?", "response": "It stops", "response_status": "truncated"},
            {"instruction": "Loop?", "response": "a a a", "response_status": "repetitive"}]
    step, out = push(PushSFTToArgilla, dataset_name, [dict(r) for r in rows])
    assert [r["argilla_status"] for r in out] == ["created", "skipped", "skipped"]
    assert out[1]["argilla_error"] == ("response_status is 'truncated': flagged answers are not pushed "
                                       "(include_flagged=True pushes them with a visible flag)")
    with pytest.raises(MagpieError, match="created without a flag field"):
        push(PushSFTToArgilla, dataset_name, [dict(r) for r in rows], include_flagged=True)
    flagged = f"{dataset_name}-flagged"
    _, out = push(PushSFTToArgilla, flagged, [dict(r) for r in rows], include_flagged=True)
    assert [r["argilla_status"] for r in out] == ["created"] * 3
    dataset = client.datasets(flagged)
    assert [f.name for f in dataset.settings.fields] == ["flag", "instruction", "response"]
    flags = {r.fields["instruction"]: r.fields.get("flag") for r in dataset.records}
    assert flags["Cut?"].startswith("The answer hit the token limit") and "repetitive" in flags["Loop?"]
    assert flags[rows[0]["instruction"]] is None
    assert out[1]["argilla_id"] == push(PushSFTToArgilla, f"{dataset_name}-ids", [dict(rows[1], response_status="ok")])[
        1][0]["argilla_id"]  # the flag is not part of the record's identity


def test_the_verdict_is_suggested_from_the_reward_difference(review_server, client, dataset_name):
    rows = [{"instruction": "Better?", "response": "yes", "reward_difference": 2.0},
            {"instruction": "Worse?", "response": "no", "reward_difference": -1.0},
            {"instruction": "Unscored?", "response": "maybe"}]
    push(PushSFTToArgilla, dataset_name, rows)
    suggestions = {r.fields["instruction"]: r.suggestions for r in
                   client.datasets(dataset_name).records(with_suggestions=True)}
    better, worse = suggestions["Better?"]["verdict"], suggestions["Worse?"]["verdict"]
    assert (better.value, better.score) == ("accept", pytest.approx(1 / (1 + math.exp(-2.0))))
    assert (worse.value, worse.score) == ("reject", pytest.approx(1 - 1 / (1 + math.exp(1.0))))
    with pytest.raises(KeyError):
        suggestions["Unscored?"]["verdict"]  # no reward difference, no verdict suggested
    assert suggestions["Better?"]["corrected_response"].value == "yes"
