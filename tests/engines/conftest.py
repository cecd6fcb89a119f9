"""Fixtures of the completion-server engine tests: one real llama-cpp-python server for the
session (started and stopped here) and the embedded model's vocabulary."""

import pytest

from .servers import LlamaServer


@pytest.fixture(scope="session")
def llama_server(embedded_model_path, tmp_path_factory):
    """llama-cpp-python's OpenAI-compatible server on the embedded GGUF (one thread: the
    in-process engine of the same tests needs the other core)."""
    server = LlamaServer(embedded_model_path, tmp_path_factory.mktemp("llama-server"))
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def vocab(embedded_model_path):
    """Tokenize with the embedded GGUF's vocabulary, as our engines send prompts."""
    from distilabel_magpie.engines.tokenizers import tokenizer_for

    return tokenizer_for(embedded_model_path)


@pytest.fixture(scope="session")
def keyed_server(embedded_model_path, tmp_path_factory):
    """A second real server that wants an API key: (server, key)."""
    import secrets

    key = f"sk-magpie-{secrets.token_hex(8)}"
    server = LlamaServer(embedded_model_path, tmp_path_factory.mktemp("keyed-server"), api_key=key)
    try:
        server.wait_ready()
        yield server, key
    finally:
        server.stop()
