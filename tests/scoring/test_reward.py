import json
import math
from pathlib import Path

import pytest

from distilabel_magpie.errors import MagpieError
from distilabel_magpie.scoring import RewardModelLabeler, RewardScorer

CONVERSATIONS = [
    [{"role": "user", "content": "Hi " * i}, {"role": "assistant", "content": "Hello there, friend. " * (9 - i)}]
    for i in range(1, 9)
]


def scores(path, **kwargs):
    return [s for s, _ in RewardScorer(path, **kwargs).score(CONVERSATIONS)]


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_rewards_do_not_depend_on_batch_size_or_padding_side(reward_models, arch):
    """GPT-2 has absolute positions, so left padding without position ids would shift them; both
    tokenizers pad with their EOS, which also ends every turn, so naive pooling would be off too."""
    reference = scores(reward_models[(arch, "right")], batch_size=1)
    assert all(isinstance(s, float) for s in reference)
    assert len({round(s, 4) for s in reference}) > 1  # the model does tell inputs apart
    for side in ("left", "right"):
        for batch_size in (2, 3, 8):
            got = scores(reward_models[(arch, side)], batch_size=batch_size)
            assert got == pytest.approx(reference, abs=1e-5), (side, batch_size)


def test_forced_padding_side_matches_the_tokenizer_default(reward_model):
    assert scores(reward_model, batch_size=8, padding_side="left") == pytest.approx(
        scores(reward_model, batch_size=8, padding_side="right"), abs=1e-5)


def test_scores_are_deterministic_across_loads(reward_model):
    assert scores(reward_model, batch_size=4) == scores(reward_model, batch_size=4)


def test_uses_the_reward_models_chat_template(reward_model):
    scorer = RewardScorer(reward_model)
    ids, truncated = scorer.encode(CONVERSATIONS[0])
    text = scorer.tokenizer.decode(ids)
    assert text.startswith("<|bos|><|user|>\n") and text.endswith("<|eos|>") and not truncated
    assert text.count("<|bos|>") == 1  # no second BOS from add_special_tokens


def test_the_last_token_is_scored_even_when_it_is_the_pad_token(reward_model):
    """The conversation ends with EOS, which is also the pad token: the score must be the head's
    output at that EOS (what the model computes unpadded), not at the token before it."""
    import torch

    scorer = RewardScorer(reward_model, batch_size=4)
    ids, _ = scorer.encode(CONVERSATIONS[0])
    assert ids[-1] == scorer.tokenizer.pad_token_id
    saved, scorer.model.config.pad_token_id = scorer.model.config.pad_token_id, None
    with torch.inference_mode():
        expected = float(scorer.model(input_ids=torch.tensor([ids])).logits[0, 0])
    scorer.model.config.pad_token_id = saved
    assert scorer.score(CONVERSATIONS)[0][0] == pytest.approx(expected, abs=1e-5)


def run(step, rows):
    step.load()
    return next(step.process([dict(r) for r in rows]))


def test_labeler_outputs_one_float_per_row_and_reward_difference(reward_model):
    rows = [{"instruction": "What is 2+2?", "response": "4", "base_response": "It is four."},
            {"instruction": "Name a colour.", "response": None, "base_response": "Blue."},
            {"instruction": "Say hi.", "response": "Hi!", "base_response": None}]
    out = run(RewardModelLabeler(model=reward_model, base_response_column="base_response"), rows)
    assert isinstance(out[0]["reward"], float) and isinstance(out[0]["reward_base"], float)
    assert out[0]["reward_difference"] == pytest.approx(out[0]["reward"] - out[0]["reward_base"])
    assert out[0]["reward_truncated"] is False and out[0]["reward_model"] == reward_model
    assert out[1]["reward"] is None and out[1]["reward_difference"] is None  # no response: flagged, not dropped
    assert isinstance(out[1]["reward_base"], float)
    assert out[2]["reward_base"] is None and out[2]["reward_difference"] is None
    single = run(RewardModelLabeler(model=reward_model, batch_size=1), rows[:1])
    assert single[0]["reward"] == pytest.approx(out[0]["reward"], abs=1e-5)


def test_labeler_scores_lists_of_responses_as_ratings(reward_model):
    rows = [{"instruction": "Pick a number.", "generations": ["1", "two", None, "3"]}]
    out = run(RewardModelLabeler(model=reward_model, response_column="generations", output_column="ratings"), rows)
    ratings = out[0]["ratings"]
    assert len(ratings) == 4 and ratings[2] is None and all(isinstance(ratings[i], float) for i in (0, 1, 3))
    alone = run(RewardModelLabeler(model=reward_model), [{"instruction": "Pick a number.", "response": "two"}])
    assert ratings[1] == pytest.approx(alone[0]["reward"], abs=1e-5)


def test_labeler_scores_whole_conversations(reward_model):
    rows = [{"messages": CONVERSATIONS[0] + [{"role": "user", "content": "More?"},
                                              {"role": "assistant", "content": "Sure."}]}]
    out = run(RewardModelLabeler(model=reward_model, conversation_column="messages"), rows)
    direct = RewardScorer(reward_model).score([rows[0]["messages"]])[0][0]
    assert out[0]["reward"] == pytest.approx(direct, abs=1e-6)


def test_long_inputs_are_truncated_and_flagged(reward_model):
    rows = [{"instruction": "Hi", "response": "ok"}, {"instruction": "Hi", "response": "word " * 200}]
    out = run(RewardModelLabeler(model=reward_model, max_length=24), rows)
    assert [r["reward_truncated"] for r in out] == [False, True]
    assert all(isinstance(r["reward"], float) for r in out)


def test_a_model_that_is_not_a_classifier_is_refused(tmp_path, reward_model):
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    GPT2LMHeadModel(GPT2Config(vocab_size=300, n_embd=16, n_layer=1, n_head=2)).save_pretrained(tmp_path)
    with pytest.raises(MagpieError, match="GPT2LMHeadModel, not a sequence-classification reward model") as e:
        RewardScorer(str(tmp_path))
    assert "\n" not in str(e.value)


def test_missing_model_directory_and_missing_column_are_one_line_errors(reward_model, tmp_path):
    with pytest.raises(MagpieError, match="does not exist"):
        RewardModelLabeler(model=str(tmp_path / "nope")).load()
    with pytest.raises(MagpieError, match="set `model`"):
        RewardModelLabeler().load()
    step = RewardModelLabeler(model=reward_model)
    step.load()
    with pytest.raises(MagpieError, match=r"needs column 'response'.*MagpieResponder"):
        next(step.process([{"instruction": "Hi"}]))


def test_multi_logit_heads_need_a_label_index(tmp_path):
    import torch
    from transformers import LlamaConfig, LlamaForSequenceClassification

    from distilabel_magpie.scoring.tiny import build_tiny_reward_model

    path = build_tiny_reward_model(tmp_path / "rm")
    config = json.loads((Path(path) / "config.json").read_text())
    model = LlamaForSequenceClassification(LlamaConfig(**{**config, "num_labels": 3}))
    torch.manual_seed(0)
    model.save_pretrained(path)
    with pytest.raises(MagpieError, match="set label_index"):
        RewardScorer(path).score(CONVERSATIONS[:1])
    picked = RewardScorer(path, label_index=2).score(CONVERSATIONS[:2])
    assert all(isinstance(s, float) and not math.isnan(s) for s, _ in picked)


def test_answers_are_scored_without_their_reasoning_unless_asked(reward_model):
    plain = {"instruction": "What is 2+2?", "response": "4"}
    reasoned = {**plain, "reasoning": "Two and two make four."}
    default = run(RewardModelLabeler(model=reward_model), [plain, reasoned])
    assert default[0]["reward"] == pytest.approx(default[1]["reward"], abs=1e-6)
    included = run(RewardModelLabeler(model=reward_model, include_reasoning=True), [reasoned])
    inline = run(RewardModelLabeler(model=reward_model),
                 [{**plain, "response": "<think>\nTwo and two make four.\n</think>\n\n4"}])
    assert included[0]["reward"] == pytest.approx(inline[0]["reward"], abs=1e-6)
    assert included[0]["reward"] != pytest.approx(default[0]["reward"], abs=1e-6)


def test_conversations_are_scored_without_reasoning_fields_unless_asked(reward_model):
    messages = [{"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello!", "reasoning_content": "A greeting."}]
    bare = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]
    out = run(RewardModelLabeler(model=reward_model, conversation_column="messages"), [{"messages": messages}])
    assert out[0]["reward"] == pytest.approx(RewardScorer(reward_model).score([bare])[0][0], abs=1e-6)
    out = run(RewardModelLabeler(model=reward_model, conversation_column="messages", include_reasoning=True),
              [{"messages": messages}])
    inline = [bare[0], {"role": "assistant", "content": "<think>\nA greeting.\n</think>\n\nHello!"}]
    assert out[0]["reward"] == pytest.approx(RewardScorer(reward_model).score([inline])[0][0], abs=1e-6)


def test_tiny_random_is_built_once_into_the_cache_and_scores_like_the_local_build(tmp_path, monkeypatch, caplog,
                                                                                  reward_model):
    """`model="tiny-random"`: the CPU stand-in of the full pipeline. It says its scores are
    meaningless, is built once (a second load reuses the folder) and is the same model as
    `build_tiny_reward_model` makes."""
    import logging

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    rows = [{"instruction": "What is 2+2?", "response": "4", "base_response": "Four, I think."}]
    with caplog.at_level(logging.WARNING, logger="distilabel.step"):
        out = run(RewardModelLabeler(model="tiny-random", base_response_column="base_response"), rows)
    assert "its scores are meaningless" in caplog.text
    (folder,) = (tmp_path / "distilabel-magpie").iterdir()
    assert folder.name.startswith("tiny-reward-model-v") and (folder / "config.json").is_file()
    stamp = (folder / "config.json").stat().st_mtime_ns
    again = run(RewardModelLabeler(model="tiny-random", base_response_column="base_response"), rows)
    assert (folder / "config.json").stat().st_mtime_ns == stamp  # reused, not rebuilt
    local = run(RewardModelLabeler(model=reward_model, base_response_column="base_response"), rows)
    assert out[0]["reward"] == again[0]["reward"] == pytest.approx(local[0]["reward"], abs=1e-5)
    assert out[0]["reward_difference"] == pytest.approx(out[0]["reward"] - out[0]["reward_base"])
