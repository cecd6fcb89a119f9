"""Our SFT (`messages`) and DPO exports, as our writers put them on disk, load with `datasets` and
train a few steps with TRL's SFTTrainer and DPOTrainer on a tiny random Llama (CPU, seconds): a
drift of the format TRL reads fails here. Each test also checks what TRL tokenised against the
chat template's text written out by hand, so a wrong role name or a lost turn cannot pass."""

import math
import os

import pytest

from distilabel_magpie.curation import FormatSFT, PreferencePairs, save_rows
from distilabel_magpie.output.save import SaveDataset


@pytest.fixture(scope="module")
def trl():
    """TRL, from the dev extra: missing, its tests fail under CI and skip elsewhere."""
    try:
        import trl
    except ImportError:
        message = "trl is not installed (pip install -e '.[dev]')"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return trl


# SmolLM2's template adds this system turn when a chat has none.
SMOL = "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"

# Rows as the generation steps leave them: single turn (sampler + responder) and multi-turn.
SINGLE = {"instruction": "Hi?", "instruction_status": "ok", "response": "Hello!", "response_status": "ok",
          "model_name": "tiny"}
CHAT = {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "A?"},
                     {"role": "assistant", "content": "B."}, {"role": "user", "content": "C?"},
                     {"role": "assistant", "content": "D."}],
        "conversation_status": "ok", "turns": 2, "model_name": "tiny"}
SFT_TEXTS = [
    SMOL + "<|im_start|>user\nHi?<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n",
    ("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nA?<|im_end|>\n<|im_start|>assistant\nB.<|im_end|>\n"
     "<|im_start|>user\nC?<|im_end|>\n<|im_start|>assistant\nD.<|im_end|>\n"),
]


def formatted(rows, **kwargs):
    step = FormatSFT(format="messages", **kwargs)
    step.load()
    return next(step.process([dict(r) for r in rows]))


def pairs(rows):
    step = PreferencePairs()
    step.load()
    return next(step.process([dict(r) for r in rows]))


def write(rows, tmp_path, how, kind):
    """The export file, written as a user would: `save_rows` reduced to the kind's columns, or the
    pipeline's own `SaveDataset` folder (every column)."""
    if how == "SaveDataset":
        step = SaveDataset(output_dir=str(tmp_path / "out"), report=False)
        step.load()
        next(step.process([dict(r) for r in rows]))
        return tmp_path / "out" / "data.parquet"
    return save_rows(rows, tmp_path / f"{kind}.{how}", kind=kind)


def load(path):
    from datasets import load_dataset

    return load_dataset("parquet" if path.suffix == ".parquet" else "json", data_files=str(path), split="train",
                        cache_dir=str(path.parent / "hf-cache"))


def quick(config_cls, tmp_path, steps, **kwargs):
    """A few fp32 CPU steps with nothing written or reported."""
    return config_cls(output_dir=str(tmp_path / "trainer"), max_steps=steps, per_device_train_batch_size=2,
                      learning_rate=1e-3, logging_steps=1, save_strategy="no", report_to="none", use_cpu=True,
                      bf16=False, dataloader_num_workers=0, seed=0, **kwargs)


def assert_trained(trainer, steps):
    assert trainer.state.global_step == steps
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    assert len(losses) == steps and all(math.isfinite(loss) for loss in losses), trainer.state.log_history


@pytest.mark.parametrize("how", ["parquet", "jsonl", "SaveDataset"])
def test_messages_export_trains_with_sft_trainer(trl, tiny_model_dir, tmp_path, how):
    from transformers import AutoTokenizer

    path = write(formatted([SINGLE, CHAT]), tmp_path, how, "messages")
    dataset = load(path)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    trainer = trl.SFTTrainer(model=tiny_model_dir, args=quick(trl.SFTConfig, tmp_path, 3), train_dataset=dataset,
                             processing_class=tokenizer)
    assert [tokenizer.decode(ex["input_ids"]) for ex in trainer.train_dataset] == SFT_TEXTS
    trainer.train()
    assert_trained(trainer, 3)


def test_reasoning_content_reaches_the_chat_template(trl, tiny_reasoning_model_dir, tmp_path):
    """`reasoning_content` (our default for `messages`) is what a thinking model's template renders;
    rows without reasoning beside it (Arrow gives them `reasoning_content: None`) render none."""
    from transformers import AutoTokenizer

    reasoned = {"instruction": "2+2?", "response": "4.", "reasoning": "Two and two."}
    dataset = load(write(formatted([reasoned, SINGLE]), tmp_path, "parquet", "messages"))
    tokenizer = AutoTokenizer.from_pretrained(tiny_reasoning_model_dir)
    trainer = trl.SFTTrainer(model=tiny_reasoning_model_dir, args=quick(trl.SFTConfig, tmp_path, 2),
                             train_dataset=dataset, processing_class=tokenizer)
    assert [tokenizer.decode(ex["input_ids"]) for ex in trainer.train_dataset] == [
        "<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n<think>\nTwo and two.\n</think>\n\n4.<|im_end|>\n",
        "<|im_start|>user\nHi?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nHello!<|im_end|>\n",
    ]
    trainer.train()
    assert_trained(trainer, 2)


# Scored candidates as SampleCandidates + RewardModelLabeler leave them.
SCORED = [
    {"instruction": "Q?", "generations": ["Good.", "Bad answer.", "Meh."], "ratings": [2.0, -1.0, 0.5],
     "generation_statuses": ["ok", "ok", "ok"], "model_name": "tiny"},
    {"instruction": "R?", "generations": ["X.", "Y."], "ratings": [0.0, 1.0],
     "generation_statuses": ["ok", "ok"], "model_name": "tiny"},
]


@pytest.mark.parametrize("how", ["jsonl", "SaveDataset"])
def test_dpo_export_trains_with_dpo_trainer(trl, tiny_model_dir, tmp_path, how):
    from transformers import AutoTokenizer

    dataset = load(write(pairs(SCORED), tmp_path, how, "dpo"))
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    trainer = trl.DPOTrainer(model=tiny_model_dir, args=quick(trl.DPOConfig, tmp_path, 2), train_dataset=dataset,
                             processing_class=tokenizer)
    decoded = [tuple(tokenizer.decode(ex[k]) for k in ("prompt_ids", "chosen_ids", "rejected_ids"))
               for ex in trainer.train_dataset]
    prompt = SMOL + "<|im_start|>user\n{}<|im_end|>\n<|im_start|>assistant\n"
    assert decoded == [(prompt.format("Q?"), "Good.<|im_end|>\n", "Bad answer.<|im_end|>\n"),
                       (prompt.format("R?"), "Y.<|im_end|>\n", "X.<|im_end|>\n")]
    trainer.train()
    assert_trained(trainer, 2)


def test_malformed_chats_are_dropped_before_any_trainer_sees_them(tmp_path):
    """Templates render any role name as it is: a ShareGPT `gpt` turn or a lost user turn would
    train silently on the wrong text, so the exporter drops and counts such rows; a pair whose
    chosen and rejected texts are the same never leaves PreferencePairs."""
    bad = [
        {"messages": [{"role": "user", "content": "A?"}, {"role": "gpt", "content": "B."}]},
        {"messages": [{"from": "human", "value": "A?"}, {"role": "assistant", "content": "B."}]},
        {"messages": [{"role": "system", "content": "S."}, {"role": "assistant", "content": "B."}]},
        {"messages": [{"role": "user", "content": "A?"}, {"role": "user", "content": "A?"},
                      {"role": "assistant", "content": "B."}]},
        {"messages": [{"role": "user", "content": "A?"}, {"role": "assistant", "content": ""}]},
    ]
    step = FormatSFT(format="messages")
    step.load()
    assert next(step.process([dict(r) for r in bad + [SINGLE]]))[0]["messages"][1]["content"] == "Hello!"
    assert step.stats["reasons"] == {"unknown role 'gpt'": 1, "unknown role None": 1, "turns out of order": 2,
                                     "no answered turn": 1}
    assert save_rows(bad, tmp_path / "sft.jsonl", kind="messages").read_text() == ""
    same = {**SCORED[0], "generations": ["Same.", "Same."], "ratings": [1.0, 0.0]}
    assert pairs([same]) == []
