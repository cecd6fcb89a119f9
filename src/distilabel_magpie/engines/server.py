"""Raw completions from an OpenAI-compatible `/v1/completions` server: vLLM, SGLang, TGI,
llama.cpp's `llama-server` and llama-cpp-python's server.

The exact prompt our template renders reaches the model, in one request per completion: the
text, with a BOS the server would add a second time taken off the front (or token ids from a
local `tokenizer=`, for servers that take them). Requests run concurrently (`max_concurrency`), retried with backoff on
429/5xx/dropped connections; chat-only endpoints are refused at load with one line. The
protocol lives in `server_runner.py`, what each server takes in `dialects.py`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Optional

from distilabel.mixins.runtime_parameters import RuntimeParameter
from pydantic import Field, PrivateAttr

from distilabel_magpie.engines.base import CompletionEngine
from distilabel_magpie.engines.dialects import CONTEXT_OPTIONS, DIALECTS
from distilabel_magpie.engines.http import RetryPolicy
from distilabel_magpie.engines.llm import CompletionLLM
from distilabel_magpie.engines.server_runner import ServerRunner
from distilabel_magpie.errors import MagpieError
from distilabel_magpie.templates import MagpieTemplate, from_chat_template, from_hf_tokenizer, from_path, resolve

SERVERS = ("auto",) + tuple(DIALECTS)


def _api_key(env: Optional[str]) -> Optional[str]:
    if not env:
        return None
    key = os.environ.get(env)
    if not key:
        raise MagpieError(f"api_key_env names {env!r}, but that environment variable is not set; export it "
                          "with the server's API key")
    return key


class CompletionServerEngine(CompletionLLM):
    """Raw completions from an OpenAI-compatible `/v1/completions` server (vLLM, SGLang, TGI,
    llama.cpp's `llama-server`, llama-cpp-python's server), many requests in flight.

    Our exact prompt reaches the model in one request per completion: as text without a BOS the
    server adds itself (what it adds is asked once, at load), or as token ids where a local
    `tokenizer` gives them (vLLM, SGLang, llama-server). Stops on special tokens hold: stop token
    ids (vLLM, SGLang) or preserved tokens (llama-server). Every
    supported sampling field is sent explicitly (stop strings and single-token stop ids, `n`,
    seed, top_k, min_p, repetition penalty); `n` samples share one request where the server
    returns them (vLLM, SGLang) and are sent as `n` seeded requests elsewhere. Samples that ran
    to the limit in a loop are flagged `repetition` (vLLM also ends them early). Requests are
    retried with exponential backoff and jitter on 429 (honouring `Retry-After`), 5xx, timeouts
    and dropped connections, for at most `max_retry_wait` seconds (an outage is logged once,
    with its wait), then the run stops with one line; a server never reachable at load fails it
    in seconds. At load the engine asks the server which model it serves and what kind of server it
    is, and sends one one-token completion: chat-only endpoints (OpenAI's API, most gateways,
    Ollama's OpenAI layer) are refused there, before any data is made.

    Attributes:
        base_url: the server's OpenAI-compatible base URL, e.g. `http://HOST:8000/v1` (`/v1` is
            added when missing, a pasted `/v1/completions` taken off).
        model: the served model name; `None` takes the first of `/v1/models`.
        template: chat template (preset name, tokenizer directory, `tokenizer_config.json` or
            `.gguf`); `None` reads it from the server (llama-server's `/props`) or from the
            served model's path when it is a local directory or GGUF file.
        tokenizer: a local tokenizer directory or `.gguf` of the served model: prompts then go
            as token ids where the server takes them, and the server's prompt-token counts are
            checked (servers without a tokenize endpoint need it to take off a BOS they add).
        server: `auto` (detected) or one of `vllm`, `sglang`, `llama.cpp`, `llama-cpp-python`,
            `tgi`, `openai` (plain OpenAI fields, text prompts).
        api_key_env: name of the environment variable holding the API key (the key itself is
            never stored in the pipeline).
        max_concurrency: requests in flight; for llama.cpp servers, which decode one request
            (llama-cpp-python) or `total_slots` requests (llama-server) at a time, at most two per
            slot, so requests wait here rather than in the server's queue against `timeout`.
        timeout: seconds one request may take.
        max_retries / max_retry_wait: most retries of one request, and most seconds spent
            retrying it, before the run stops with an error.

    Runtime parameters:
        - `base_url`, `model`, `template`, `tokenizer`, `server`, `api_key_env`,
          `max_concurrency`, `timeout`, `max_retries`, `max_retry_wait`.

    Examples:
        Queries from a vLLM server (`vllm serve meta-llama/Llama-3.1-8B-Instruct --enable-prefix-caching`):

        ```python
        from distilabel_magpie.engines import CompletionServerEngine
        from distilabel_magpie.generation import MagpieSFTGenerator

        llm = CompletionServerEngine(base_url="http://gpu-node:8000/v1", template="llama3.1")
        step = MagpieSFTGenerator(llm=llm, num_rows=1000)
        ```
    """

    base_url: RuntimeParameter[str] = Field(
        default="http://127.0.0.1:8000/v1", description="OpenAI-compatible base URL of the server, e.g. "
        "http://HOST:8000/v1.")
    model: Optional[RuntimeParameter[str]] = Field(
        default=None, description="Served model name; None takes the first one of /v1/models.")
    template: Optional[RuntimeParameter[str]] = Field(
        default=None, description="Chat template: preset name, tokenizer dir, tokenizer_config.json or .gguf; None "
        "reads it from the server (llama-server's /props) or from the served model's local path.")
    tokenizer: Optional[RuntimeParameter[str]] = Field(
        default=None, description="Local tokenizer dir or .gguf of the served model, used instead of the server's "
        "tokenize endpoint.")
    server: RuntimeParameter[str] = Field(
        default="auto", description="Server kind: auto, vllm, sglang, llama.cpp, llama-cpp-python, tgi or openai.")
    api_key_env: Optional[RuntimeParameter[str]] = Field(
        default=None, description="Name of the environment variable that holds the API key (never the key).")
    max_concurrency: RuntimeParameter[int] = Field(
        default=64, ge=1, description="Requests in flight (a GPU server batches them).")
    timeout: RuntimeParameter[float] = Field(default=600.0, gt=0, description="Seconds one request may take.")
    max_retries: RuntimeParameter[int] = Field(default=8, ge=0, description="Most retries of one request.")
    max_retry_wait: RuntimeParameter[float] = Field(
        default=120.0, ge=0, description="Most seconds spent retrying one request before the run stops.")

    _runner: Optional[ServerRunner] = PrivateAttr(default=None)

    def load(self) -> None:
        super().load()
        if self.server not in SERVERS:
            raise MagpieError(f"server must be one of {', '.join(SERVERS)}, got {self.server!r}")
        local = local_tokenizer(self.tokenizer) if self.tokenizer else None
        runner = ServerRunner(
            self.base_url, model=self.model, server=self.server, api_key=_api_key(self.api_key_env),
            local_tokenizer=local, max_concurrency=self.max_concurrency, bos_text=self._bos_text,
            policy=RetryPolicy(timeout=self.timeout, max_retries=self.max_retries, max_retry_wait=self.max_retry_wait))
        self._runner = started(runner)

    def unload(self) -> None:
        if self._runner is not None:
            self._runner.close()
        super().unload()

    @property
    def model_name(self) -> str:
        served = self._runner.model if self._runner is not None else None
        return served or self.model or self.base_url

    def _bos_text(self) -> Optional[str]:
        return bos_text(self.chat_template)

    def own_template(self, default_system: Optional[bool] = None) -> MagpieTemplate:
        return server_template(self.runner, self.template, self.tokenizer, default_system)

    def supports_grammar(self) -> bool:
        return self.runner.supports_grammar()

    def context_advice(self, needed: int) -> str:
        return server_context_advice(self._runner, needed)


def server_template(runner: ServerRunner, template: Optional[str], tokenizer: Optional[str],
                    default_system: Optional[bool]) -> MagpieTemplate:
    """The chat template: as given, from llama-server's /props, or from a local path of the model."""
    if template:
        return resolve(template, default_system)
    props = runner.props or {}
    if props.get("chat_template"):
        return from_chat_template(props["chat_template"], props.get("bos_token"), props.get("eos_token"),
                                  source=f"{runner.root}/props", default_system=default_system)
    info = runner.info or {}
    for candidate in (tokenizer, runner.model, info.get("tokenizer_path"), info.get("model_path")):
        if candidate and Path(candidate).exists():  # e.g. llama-cpp-python serves a model named by its path
            return from_path(candidate, default_system)
    raise MagpieError(
        f"cannot read the chat template of {runner.model!r} from {runner.base_url} (the server does not expose it); "
        "set the engine's template to a preset (e.g. llama3.1, qwen2.5, chatml), a tokenizer directory, a "
        "tokenizer_config.json or a .gguf file (--param STEP.llm.template=...)")


def server_context_advice(runner: Optional[ServerRunner], needed: int) -> str:
    """The server decides the context: say which of its options sets it, where we know the server."""
    dialect = getattr(runner, "dialect", None)
    option = CONTEXT_OPTIONS.get(getattr(dialect, "name", ""))
    how = f" ({option})" if option else ""
    return f"restart the server with a context of at least {needed} tokens per sequence{how}"


def started(runner: ServerRunner) -> ServerRunner:
    """The runner connected to its server (its load checks done), or closed and the error raised."""
    try:
        runner.start()
    except BaseException:
        runner.close()
        raise
    return runner


def bos_text(template: Callable[[], MagpieTemplate]) -> Optional[str]:
    """The template's BOS text, for servers that add their own (None when no template is known)."""
    try:
        return template().bos_token
    except MagpieError:
        return None


def local_tokenizer(source: str) -> Callable[[str], list[int]]:
    from distilabel_magpie.engines.tokenizers import tokenizer_for

    return tokenizer_for(source)


class ClientvLLMAdapter(CompletionEngine):
    """distilabel's `ClientvLLM`, driven through our server runner on its `base_url` (its own
    client applies the chat template and sends no stop strings). The tokenizer it loaded, if
    any, gives the template and the token ids."""

    def __init__(self, llm: Any) -> None:
        self.llm = llm
        self._tokenizer = getattr(llm, "_tokenizer", None)
        local = (lambda text: self._tokenizer(text, add_special_tokens=False)["input_ids"]) \
            if self._tokenizer is not None else None
        runner = ServerRunner(llm.base_url, model=llm.model or None, server="auto", api_key=None,
                              local_tokenizer=local, max_concurrency=64, bos_text=self._bos_text,
                              policy=RetryPolicy(timeout=float(llm.timeout), max_retries=int(llm.max_retries)))
        self._runner = started(runner)

    @property
    def model_name(self) -> str:
        return self._runner.model or self.llm.base_url

    def _bos_text(self) -> Optional[str]:
        return bos_text(self.own_template)

    def own_template(self, default_system: Optional[bool] = None) -> MagpieTemplate:
        if self._tokenizer is not None:
            return from_hf_tokenizer(self._tokenizer, default_system)
        return server_template(self._runner, None, None, default_system)

    def supports_grammar(self) -> bool:
        return self._runner.supports_grammar()

    def context_advice(self, needed: int) -> str:
        return server_context_advice(self._runner, needed)
