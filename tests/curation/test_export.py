import pytest

from distilabel_magpie.curation import FormatSFT, load_rows, save_rows
from distilabel_magpie.curation.export import select
from distilabel_magpie.errors import MagpieError

SINGLE = {"instruction": "Hi?", "response": "Hello!", "reward": 1.5}
MULTI = {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "A?"},
                      {"role": "assistant", "content": "B."}, {"role": "user", "content": "C?"},
                      {"role": "assistant", "content": "D."}]}
UNANSWERED = {"instruction": "Hi?", "response": None}


def fmt(kind, rows):
    step = FormatSFT(format=kind)
    step.load()
    return step, next(step.process([dict(r) for r in rows]))


def test_messages_format():
    step, out = fmt("messages", [SINGLE, MULTI, UNANSWERED])
    assert out[0]["messages"] == [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Hello!"}]
    assert out[1]["messages"] == MULTI["messages"]
    assert len(out) == 2 and step.stats["reasons"] == {"no answered turn": 1}


def test_sharegpt_format():
    _, out = fmt("sharegpt", [MULTI])
    assert [m["from"] for m in out[0]["conversations"]] == ["system", "human", "gpt", "human", "gpt"]
    assert out[0]["conversations"][-1]["value"] == "D."


def test_alpaca_format_holds_one_turn():
    step, out = fmt("alpaca", [SINGLE, MULTI])
    assert {k: out[0][k] for k in ("instruction", "input", "output")} == {"instruction": "Hi?", "input": "", "output": "Hello!"}
    assert len(out) == 1 and step.stats["reasons"] == {"alpaca holds one turn only": 1}


@pytest.mark.parametrize("suffix", [".parquet", ".jsonl"])
def test_files_round_trip(tmp_path, suffix):
    path = save_rows([SINGLE, UNANSWERED], tmp_path / f"sft{suffix}", kind="messages")
    assert load_rows(path) == [{"messages": [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Hello!"}]}]
    dpo = {"prompt": [{"role": "user", "content": "Q"}], "chosen": [{"role": "assistant", "content": "a"}],
           "rejected": [{"role": "assistant", "content": "b"}], "chosen_score": 1.0, "rejected_score": 0.0,
           "margin": 1.0, "generations": ["a", "b"]}
    back = load_rows(save_rows([dpo], tmp_path / f"dpo{suffix}", kind="dpo"))
    assert back == [{k: v for k, v in dpo.items() if k != "generations"}]


def test_export_errors():
    with pytest.raises(MagpieError, match="needs column 'prompt'; add PreferencePairs"):
        select([SINGLE], "dpo")
    with pytest.raises(MagpieError, match="use .parquet or .jsonl"):
        save_rows([SINGLE], "out.csv")


# -- reasoning --------------------------------------------------------------------------------------

REASONED = {"instruction": "2+2?", "response": "4.", "reasoning": "Two and two."}
REASONED_CHAT = {"messages": [{"role": "user", "content": "2+2?"},
                              {"role": "assistant", "content": "4.", "reasoning_content": "Two and two."},
                              {"role": "user", "content": "3+3?"},
                              {"role": "assistant", "content": "6.", "thinking": "Three and three."}]}


def test_messages_keep_reasoning_in_reasoning_content_by_default():
    _, out = fmt("messages", [REASONED, REASONED_CHAT, SINGLE])
    assert out[0]["messages"][1] == {"role": "assistant", "content": "4.", "reasoning_content": "Two and two."}
    assert [m.get("reasoning_content") for m in out[1]["messages"]] == [None, "Two and two.", None, "Three and three."]
    assert out[2]["messages"][1] == {"role": "assistant", "content": "Hello!"}  # no reasoning, no field


def test_reasoning_inline_or_dropped():
    step = FormatSFT(format="messages", reasoning_format="inline")
    step.load()
    (row,) = next(step.process([dict(REASONED)]))
    assert row["messages"][1] == {"role": "assistant", "content": "<think>\nTwo and two.\n</think>\n\n4."}
    step = FormatSFT(format="messages", reasoning_format="drop")
    step.load()
    (row,) = next(step.process([dict(REASONED)]))
    assert row["messages"][1] == {"role": "assistant", "content": "4."}


def test_sharegpt_and_alpaca_write_reasoning_inline_with_the_models_tags():
    step = FormatSFT(format="alpaca", reasoning_tags=("<thought>", "</thought>"))
    step.load()
    (row,) = next(step.process([dict(REASONED)]))
    assert row["output"] == "<thought>\nTwo and two.\n</thought>\n\n4."
    _, out = fmt("sharegpt", [REASONED])
    assert out[0]["conversations"][1]["value"] == "<think>\nTwo and two.\n</think>\n\n4."
    with pytest.raises(MagpieError, match="the sharegpt format has no reasoning field"):
        FormatSFT(format="sharegpt", reasoning_format="field")


def test_reasoning_survives_a_parquet_round_trip(tmp_path):
    back = load_rows(save_rows([REASONED], tmp_path / "sft.parquet", kind="messages"))
    assert back[0]["messages"][1]["reasoning_content"] == "Two and two."
