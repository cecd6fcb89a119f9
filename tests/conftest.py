"""Shared fixtures: the official chat templates (test data) and the embedded model."""

from __future__ import annotations

import json
import warnings
from datetime import datetime
from pathlib import Path

import pytest

warnings.filterwarnings("ignore")  # distilabel 1.5.3 + pydantic 2.x warn on import

DATA = Path(__file__).parent / "data"
FIXTURE_DATE = datetime(2025, 1, 15, 12, 0)  # the date the fixtures were rendered with


def load_fixtures() -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted((DATA / "chat_templates").glob("*.json"))}


FIXTURES = load_fixtures()


@pytest.fixture(scope="session")
def embedded_model_path() -> str:
    from distilabel_magpie.models import embedded_model_path

    return embedded_model_path()


@pytest.fixture(scope="session")
def llamacpp_engine():
    """The embedded SmolLM2-135M-Instruct, loaded once for the session."""
    from distilabel_magpie.engines.llamacpp import LlamaCppEngine

    engine = LlamaCppEngine(model_path="embedded", n_parallel=4, n_ctx=2048)
    engine.load()
    yield engine
    engine.unload()


CORPUS = ["What is the capital of France?", "Write a poem about the sea.", "How do I sort a list in Python?",
          "Explain gravity to a child.", "The capital of France is Paris.", "user assistant system"] * 20


def _tiny_model(path: Path, chat_template: str, extra_tokens: tuple = ()) -> str:
    """A tiny random Llama with a locally trained BPE tokenizer (ChatML specials) and `chat_template`."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", *extra_tokens]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(CORPUS, trainers.BpeTrainer(vocab_size=300, special_tokens=specials,
                                                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|im_start|>", eos_token="<|im_end|>",
                                        pad_token="<|endoftext|>")
    tokenizer.chat_template = chat_template
    tokenizer.save_pretrained(path)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    LlamaForCausalLM(config).save_pretrained(path)
    return str(path)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A tiny random Llama with a locally trained BPE tokenizer and SmolLM2's chat template."""
    return _tiny_model(tmp_path_factory.mktemp("tiny-llama"), FIXTURES["smollm2-135m-instruct"]["chat_template"])


@pytest.fixture(scope="session")
def tiny_reasoning_model_dir(tmp_path_factory):
    """The same tiny random Llama carrying Qwen3-4B-Thinking-2507's template (its generation
    prompt opens `<think>`), with `<think>` and `</think>` as tokens of their own."""
    return _tiny_model(tmp_path_factory.mktemp("tiny-reasoning"), FIXTURES["qwen3-4b-thinking-2507"]["chat_template"],
                       ("<think>", "</think>"))
