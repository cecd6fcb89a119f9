"""A tiny randomly initialised reward model built locally (no download): it stands in for a real
reward model in tests, examples and the CPU runs of `pipelines/magpie-dpo.yaml` and
`pipelines/magpie-full.yaml`. Its scores are meaningless but deterministic; it goes through the
real `from_pretrained` path. `RewardModelLabeler(model="tiny-random")` builds it once into the
user's cache (`tiny_reward_model_path`)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Literal

# The reward model name that stands for this tiny model.
TINY_REWARD_MODEL = "tiny-random"
_VERSION = 1  # bump when the model built below changes

# Ends every turn with the EOS token, which is also the pad token: the case where naive
# "last non-pad token" pooling goes wrong.
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}{{ eos_token }}{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)

_CORPUS = [
    "Write a short poem about the sea and the wind.",
    "How do I sort a list in Python? Use sorted(items) or items.sort().",
    "What is the capital of France? Paris is the capital of France.",
    "Explain gradient descent in simple terms, with an example.",
    "user assistant system: 0123456789 ,.;:!?()[]{}<>'\"-+=*/\\_",
]


def build_tiny_reward_model(path: str | Path, arch: Literal["llama", "gpt2"] = "llama", seed: int = 0,
                            padding_side: Literal["left", "right"] = "right") -> str:
    """Save a tiny sequence-classification model (one logit) and its byte-level BPE tokenizer
    with a chat template to `path`; returns the path."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import (
        GPT2Config,
        GPT2ForSequenceClassification,
        LlamaConfig,
        LlamaForSequenceClassification,
        PreTrainedTokenizerFast,
    )

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    specials = ["<|bos|>", "<|eos|>"]
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(_CORPUS, trainers.BpeTrainer(
        vocab_size=400, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe, bos_token="<|bos|>", eos_token="<|eos|>", pad_token="<|eos|>",
        padding_side=padding_side, model_max_length=512)
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(path)

    torch.manual_seed(seed)
    vocab = len(tokenizer)
    eos = tokenizer.eos_token_id
    if arch == "llama":
        config = LlamaConfig(vocab_size=vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                             num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                             num_labels=1, pad_token_id=eos, bos_token_id=tokenizer.bos_token_id, eos_token_id=eos)
        model = LlamaForSequenceClassification(config)
    else:
        config = GPT2Config(vocab_size=vocab, n_embd=32, n_layer=2, n_head=4, n_positions=512, num_labels=1,
                            pad_token_id=eos, bos_token_id=tokenizer.bos_token_id, eos_token_id=eos)
        model = GPT2ForSequenceClassification(config)
    with torch.no_grad():  # random init gives near-zero rewards: spread them so ranking tests mean something
        for p in model.parameters():
            p.normal_(0.0, 0.5)
    model.save_pretrained(path)
    return str(path)


def tiny_reward_model_path() -> str:
    """The tiny reward model in the user's cache (`$XDG_CACHE_HOME/distilabel-magpie`), built on
    first use into a temporary folder and then moved in place, so concurrent runs never read a
    half-written model."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "distilabel-magpie"
    path = base / f"tiny-reward-model-v{_VERSION}"
    if (path / "config.json").is_file():
        return str(path)
    base.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tiny-reward-", dir=base))
    try:
        build_tiny_reward_model(tmp)
        try:
            tmp.rename(path)
        except OSError:  # another process was first
            if not (path / "config.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return str(path)
