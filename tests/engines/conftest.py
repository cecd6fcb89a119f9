"""Fixtures of the completion-server engine tests: one real llama-cpp-python server and one real
llama.cpp `llama-server` for the session (started and stopped here), and the embedded model's
vocabulary."""

import os

import pytest

from .servers import LlamaCppServer, LlamaServer, llama_server_binary

SERVER_KINDS = ["llama-cpp-python", "llama-server"]


def require_llama_server_binary() -> str:
    """The built llama-server: missing, it fails in CI (`make install` builds it) and skips elsewhere."""
    binary = llama_server_binary()
    if binary is None:
        message = "llama-server not built (run: python scripts/install_llama_server.py, or make install)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return binary


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
def cpp_server(embedded_model_path, tmp_path_factory):
    """llama.cpp's C++ llama-server on the embedded GGUF: two decoding slots, one thread."""
    server = LlamaCppServer(embedded_model_path, tmp_path_factory.mktemp("cpp-server"),
                            binary=require_llama_server_binary())
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture(params=SERVER_KINDS)
def any_server(request):
    """Each real server in turn: llama-cpp-python's and llama.cpp's llama-server."""
    return request.getfixturevalue("llama_server" if request.param == "llama-cpp-python" else "cpp_server")


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
