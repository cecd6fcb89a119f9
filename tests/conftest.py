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
    from distilabel_magpie.engines.models import embedded_model_path

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


def _bigram_model(path: Path, chat_template: str, chain: dict, extra_tokens: tuple = ()) -> str:
    """A tiny Llama whose weights are set by hand so that its next token depends only on the
    current one: `chain` maps a token to its successor ("*": any other token's). Attention and MLP
    outputs are zeroed, so the last hidden state is the current token's embedding (one direction
    per chain token) and the LM head picks the successor by a margin no CPU's rounding can flip:
    what it writes is known exactly, on every machine."""
    import torch
    from transformers import AutoTokenizer, LlamaForCausalLM

    _tiny_model(path, chat_template, extra_tokens)
    tok = AutoTokenizer.from_pretrained(path)
    model = LlamaForCausalLM.from_pretrained(path)
    ids = {t: tok.convert_tokens_to_ids(t) for pair in chain.items() for t in pair if t != "*"}
    assert tok.unk_token_id not in ids.values() and None not in ids.values(), ids
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        emb, head = model.model.embed_tokens.weight, model.lm_head.weight
        emb.zero_()
        emb[:, 0] = 1.0  # every token but the chain's points along direction 0
        head.zero_()
        for k, (token, successor) in enumerate(chain.items()):
            if token != "*":
                emb[ids[token]] = 0.0
                emb[ids[token], k + 1] = 1.0
            head[ids[successor], 0 if token == "*" else k + 1] = 50.0
    model.save_pretrained(path)
    return str(path)


@pytest.fixture(scope="session")
def bigram_query_model_dir(tmp_path_factory):
    """SmolLM2's template; after any prompt it writes the query 'Hi?' and ends the turn."""
    return _bigram_model(tmp_path_factory.mktemp("bigram-query"), FIXTURES["smollm2-135m-instruct"]["chat_template"],
                         {"*": "H", "H": "i", "i": "?", "?": "<|im_end|>"})


@pytest.fixture(scope="session")
def bigram_reasoning_model_dir(tmp_path_factory):
    """Qwen3-4B-Thinking-2507's template (the prompt opens <think>); it writes 'Ok</think>Yes'
    and ends the turn: reasoning 'Ok', answer 'Yes'."""
    return _bigram_model(tmp_path_factory.mktemp("bigram-reasoning"),
                         FIXTURES["qwen3-4b-thinking-2507"]["chat_template"],
                         {"*": "O", "O": "k", "k": "</think>", "</think>": "Y", "Y": "e", "e": "s", "s": "<|im_end|>"},
                         ("<think>", "</think>"))
