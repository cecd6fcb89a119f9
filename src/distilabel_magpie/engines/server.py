"""Raw completions from an OpenAI-compatible `/v1/completions` server: vLLM, SGLang, TGI,
llama.cpp's `llama-server` and llama-cpp-python's server.

The exact prompt our template renders reaches the model: token ids where the server takes
them (it then adds no BOS), otherwise the text, with a BOS the server would add a second time
taken off the front. Requests run concurrently (`max_concurrency`), retried with backoff on
429/5xx/dropped connections; chat-only endpoints are refused at load with one line.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from distilabel.mixins.runtime_parameters import RuntimeParameter
from pydantic import Field, PrivateAttr

from distilabel_magpie.engines.base import (
    Completion, CompletionEngine, ProgressCallback, SamplingParams, apply_stops, repetition_end)
from distilabel_magpie.engines.dialects import (
    DIALECTS, LLAMA_CPP_PYTHON, LLAMA_SERVER, OPENAI, OWNERS, SGLANG, TGI, VLLM, Dialect, finish_reason,
    request_body, unsupported)
from distilabel_magpie.engines.http import HttpClient, LoopThread, Response, RetryPolicy
from distilabel_magpie.engines.llm import CompletionLLM
from distilabel_magpie.errors import MagpieError
from distilabel_magpie.templates import MagpieTemplate, from_chat_template, from_hf_tokenizer, from_path, resolve

logger = logging.getLogger("distilabel_magpie.engines.server")

CHAT_ONLY_HINTS = ("chat", "not supported", "unsupported", "does not support", "not implemented")
SERVERS = ("auto",) + tuple(DIALECTS)


def _lcp(a: Sequence[int], b: Sequence[int]) -> list[int]:
    out = []
    for x, y in zip(a, b):
        if x != y:
            break
        out.append(x)
    return out


class ServerRunner:
    """The engine's connection to one server (created and used through `LoopThread`)."""

    def __init__(self, base_url: str, *, model: Optional[str], server: str, api_key: Optional[str],
                 local_tokenizer: Optional[Callable[[str], list[int]]], policy: RetryPolicy,
                 max_concurrency: int, bos_text: Callable[[], Optional[str]] = lambda: None) -> None:
        url = base_url.rstrip("/")
        self.base_url = url if url.endswith("/v1") else f"{url}/v1"
        self.root = self.base_url[: -len("/v1")]
        self.model = model
        self.server = server
        self.has_key = api_key is not None
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._local = local_tokenizer
        self._policy, self._max_concurrency = policy, max_concurrency
        self._bos_text = bos_text
        self.dialect: Dialect = OPENAI
        self.props: Optional[dict] = None  # llama-server's /props (chat template, BOS/EOS)
        self.info: Optional[dict] = None  # SGLang's /get_model_info or TGI's /info
        self.added: Optional[list[int]] = None  # tokens the server puts in front of a string prompt
        self.max_stop: Optional[int] = None
        self._cache: dict[str, list[int]] = {}
        self._warned: set[str] = set()
        self._loop = LoopThread()
        self.http: Optional[HttpClient] = None

    # -- set-up ---------------------------------------------------------------------------
    def start(self) -> None:
        self._loop.run(self._start())

    def close(self) -> None:
        if self.http is not None:
            self._loop.run(self.http.aclose())
            self.http = None
        self._loop.close()

    async def _start(self) -> None:
        self.http = HttpClient(self.root, self._headers, self._policy, self._max_concurrency)
        models = await self.http.call("GET", "/v1/models")  # retried: the server may still be starting
        self._check_auth(models)
        served = [m for m in ((models.data or {}).get("data") or []) if isinstance(m, dict)] \
            if models.status == 200 and isinstance(models.data, dict) else []
        ids = [m.get("id") for m in served]
        if self.model is None:
            self.model = ids[0] if ids else None
        elif ids and self.model not in ids:
            raise MagpieError(f"model {self.model!r} is not served at {self.base_url} (it serves {ids}); "
                              "set model to one of them")
        owner = served[0].get("owned_by") if served else None
        self.dialect = DIALECTS[self.server] if self.server != "auto" else await self._detect(owner)
        if self.dialect is LLAMA_SERVER and self.props is None:
            self.props = await self._get_json("/props")
        if self.dialect is TGI:
            self.info = self.info or await self._get_json("/info")
            self.max_stop = (self.info or {}).get("max_stop_sequences", 4)
        await self._probe()
        if self.dialect.tokenize in ("llama-cpp-python", "tgi"):  # their tokenizers add what prompts get
            self.added = _lcp(await self._server_tokens("a"), await self._server_tokens("Z"))
        elif self.dialect.token_prompts and self.can_tokenize:
            self.added = []  # token ids go in as they are
        logger.info(f"{self.base_url}: {self.dialect.name} server, model {self.model!r}, prompts as "
                    f"{'token ids' if self.sends_ids else 'text'}")

    async def _get_json(self, path: str) -> Optional[dict]:
        try:
            r = await self.http.call("GET", path, retry=False)
        except MagpieError:
            return None
        return r.data if r.status == 200 and isinstance(r.data, dict) else None

    async def _detect(self, owner: Optional[str]) -> Dialect:
        """The server kind: from /v1/models' `owned_by` where it says, else from the endpoints
        only one kind has."""
        guess = OWNERS.get(owner or "")
        if guess in (VLLM, SGLANG):
            return guess
        props = await self._get_json("/props")
        if props is not None and ("default_generation_settings" in props or "chat_template" in props):
            self.props = props
            return LLAMA_SERVER
        if guess is None:
            if (info := await self._get_json("/get_model_info")) is not None:
                self.info = info
                return SGLANG
            if (info := await self._get_json("/info")) is not None and "max_stop_sequences" in info:
                self.info = info
                return TGI
            if "version" in (await self._get_json("/version") or {}):
                return VLLM
        try:
            r = await self.http.call("POST", "/extras/tokenize", {"input": "a"}, retry=False)
        except MagpieError:
            return OPENAI
        return LLAMA_CPP_PYTHON if r.status == 200 else OPENAI

    def _check_auth(self, r: Response) -> None:
        if r.status not in (401, 403):
            return
        if self.has_key:
            raise MagpieError(f"{self.base_url} refused the API key ({r.status}: {r.message()}); "
                              "put a valid key in the environment variable named by api_key_env")
        raise MagpieError(f"{self.base_url} needs an API key ({r.status}: {r.message()}); set api_key_env to "
                          "the name of an environment variable that holds it")

    async def _probe(self) -> None:
        """One tiny completion: refuses chat-only endpoints before any data is made."""
        body = {"prompt": "Hello", "max_tokens": 1, "temperature": 0.0, **({"model": self.model} if self.model else {})}
        r = await self.http.call("POST", "/v1/completions", body)
        self._check_auth(r)
        message = r.message()
        if r.status == 404 and "model" in message.lower() and ("exist" in message or "found" in message):
            raise MagpieError(f"{self.base_url} does not serve model {self.model!r} ({message}); set model")
        if r.status in (404, 405, 501) or (r.status in (400, 422) and any(
                h in message.lower() for h in CHAT_ONLY_HINTS)) or (
                r.status == 200 and not isinstance((r.data or {}).get("choices"), list)):
            raise MagpieError(
                f"{self.base_url}/completions offers no raw completions ({r.status}: {message or 'no choices'}); "
                "Magpie must send the pre-query text as a raw prompt and this endpoint only offers chat: serve the "
                "model with vLLM, SGLang, TGI or llama.cpp (their /v1/completions)")
        if r.status >= 400:
            raise MagpieError(f"{self.base_url}/completions refused a one-token test request ({r.status}: {message})")

    # -- tokens ---------------------------------------------------------------------------
    @property
    def can_tokenize(self) -> bool:
        return self._local is not None or self.dialect.tokenize is not None

    @property
    def sends_ids(self) -> bool:
        return self.dialect.token_prompts and self.can_tokenize

    async def _server_tokens(self, text: str) -> list[int]:
        """The server's tokenization of `text` (for llama-cpp-python and TGI: with what they add)."""
        style = self.dialect.tokenize
        if style == "vllm":
            body = {"prompt": text, "add_special_tokens": False, **({"model": self.model} if self.model else {})}
            path = "/tokenize"
        elif style == "llama.cpp":
            body, path = {"content": text, "add_special": False, "parse_special": True}, "/tokenize"
        elif style == "llama-cpp-python":
            body, path = {"input": text}, "/extras/tokenize"
        else:
            body, path = {"inputs": text}, "/tokenize"
        r = await self.http.call("POST", path, body)
        self._check_auth(r)
        data = r.data.get("tokens") if isinstance(r.data, dict) else r.data
        if r.status != 200 or not isinstance(data, list):
            raise MagpieError(f"{self.root}{path} could not tokenize ({r.status}: {r.message()}); pass a local "
                              "tokenizer (tokenizer=DIR or .gguf) or template=")
        return [t["id"] if isinstance(t, dict) else t for t in data]

    async def exact_tokens(self, text: str) -> list[int]:
        """Token ids of `text` as our engines send prompts: special tokens parsed, none added."""
        got = self._cache.get(text)
        if got is None:
            if self._local is not None:
                got = self._local(text)
            elif self.dialect.tokenize is None:
                raise MagpieError(f"{self.base_url}: this server cannot tokenize; pass tokenizer= (a tokenizer "
                                  "directory or .gguf of the served model)")
            else:
                got = await self._server_tokens(text)
                if self.added:
                    if got[: len(self.added)] != self.added:
                        raise MagpieError(f"{self.base_url}: tokenization of {text[:40]!r} does not start with "
                                          f"the {self.added} the server adds; pass tokenizer=")
                    got = got[len(self.added):]
            if len(self._cache) > 4096:
                self._cache.clear()
            self._cache[text] = got
        return got

    def tokenize(self, text: str) -> list[int]:
        return self._loop.run(self.exact_tokens(text))

    async def _payload(self, text: str) -> tuple[Any, Optional[int]]:
        """What to send for a prompt, and how many prompt tokens the server should count."""
        if self.sends_ids:
            ids = await self.exact_tokens(text)
            return ids, len(ids)
        if not self.added or not self.can_tokenize:
            return text, (len(await self.exact_tokens(text)) if self.can_tokenize else None)
        ids = await self.exact_tokens(text)
        bos = self._bos_text()
        if ids[: len(self.added)] == self.added:  # the server adds this BOS back
            if not bos or not text.startswith(bos) or await self.exact_tokens(bos) != self.added:
                raise MagpieError(f"{self.base_url} adds a BOS to every text prompt and this prompt already has "
                                  "one; set the engine's template so its BOS text can be taken off")
            return text[len(bos):], len(ids)
        self._warn(f"{self.base_url} adds {self.added} to every text prompt, which the template does not print: "
                   "the model sees one token more than the template renders (a server taking token ids avoids it)")
        return text, len(ids) + len(self.added)

    # -- completions ----------------------------------------------------------------------
    def _warn(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            logger.warning(message)

    def complete(self, prompts: Sequence[str], params: SamplingParams,
                 progress: Optional[ProgressCallback] = None) -> list[list[Completion]]:
        return self._loop.run(self._complete(list(prompts), params, progress))

    async def _complete(self, prompts: list[str], params: SamplingParams,
                        progress: Optional[ProgressCallback]) -> list[list[Completion]]:
        d = self.dialect
        missing = unsupported(d, params)
        if missing:
            self._warn(f"{self.base_url} ({d.name}) ignores {', '.join(missing)}")
        schema, grammar = params.json_schema, params.grammar
        if (schema or grammar) and not self.supports_grammar():
            raise MagpieError(f"{self.base_url} ({d.name}) cannot constrain output to a grammar or JSON schema; "
                              "switch the grammar off (use_grammar=False)")
        if schema and d.schema == "gbnf":
            from distilabel_magpie.engines.structured import gbnf_for_schema

            grammar = gbnf_for_schema(schema)
        stop = list(params.stop)[: self.max_stop] if self.max_stop is not None else list(params.stop)
        stop_ids: list[int] = []
        if d.stop_token_ids and self.can_tokenize:  # single-token stops (end-of-turn markers) by id too
            for s in params.stop:
                ids = await self.exact_tokens(s)
                if len(ids) == 1 and ids[0] not in stop_ids:
                    stop_ids.append(ids[0])
        distinct = list(dict.fromkeys(prompts))
        payloads = dict(zip(distinct, await asyncio.gather(*(self._payload(p) for p in distinct))))
        results: list[list[Optional[Completion]]] = [[None] * params.n for _ in prompts]
        total, state = len(prompts) * params.n, {"done": 0, "tokens": 0}

        async def run(p: int, samples: list[int]) -> None:
            payload, expected = payloads[prompts[p]]
            body = request_body(d, payload, params, model=self.model, n=len(samples),
                                seed=params.sample_seed(p, samples[0]), stop=stop, stop_token_ids=stop_ids,
                                json_schema=schema, grammar=grammar)
            r = await self.http.call("POST", "/v1/completions", body)
            self._check_auth(r)
            choices = (r.data or {}).get("choices") if r.status == 200 and isinstance(r.data, dict) else None
            if not isinstance(choices, list):
                error = f"HTTP {r.status}: {r.message()}" if r.status != 200 else "answer without choices"
                choices = []
            else:
                error = f"the server returned {len(choices)} of {len(samples)} samples"
                choices = sorted(choices, key=lambda c: c.get("index", 0))
            usage = (r.data.get("usage") if isinstance(r.data, dict) else None) or {}
            for k, i in enumerate(samples):
                if k < len(choices):
                    c = await self._completion(choices[k], usage, len(samples), expected, params)
                else:
                    c = Completion("", "error", expected or 0, 0, error=error)
                results[p][i] = c
                state["done"] += 1
                state["tokens"] += c.completion_tokens
                if progress:
                    progress(state["done"], total, state["tokens"])

        jobs = [(p, list(range(params.n))) for p in range(len(prompts))] if d.takes_n else \
            [(p, [i]) for p in range(len(prompts)) for i in range(params.n)]
        tasks = [asyncio.ensure_future(run(p, s)) for p, s in jobs]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        return results  # type: ignore[return-value]

    async def _completion(self, choice: dict, usage: dict, n: int, expected: Optional[int],
                          params: SamplingParams) -> Completion:
        raw = choice.get("text") or ""
        reason = finish_reason(choice)
        text, hit = apply_stops(raw, params.stop)  # stops the server left in (special tokens, TGI's stop limit)
        matched = choice.get("stop_reason", choice.get("matched_stop"))
        stop_reason = hit or (matched if isinstance(matched, str) and matched != "repetition_detected" else None)
        if hit:
            reason = "stop"
        token_ids = [int(t) for t in choice.get("token_ids") or []]
        if token_ids:
            completion_tokens = len(token_ids)
        elif n == 1 and isinstance(usage.get("completion_tokens"), int):
            completion_tokens = usage["completion_tokens"]
        else:
            completion_tokens = len(await self.exact_tokens(raw)) if self.can_tokenize and raw else 0
        prompt_tokens = usage.get("prompt_tokens")
        if expected is not None and isinstance(prompt_tokens, int) and prompt_tokens != expected:
            self._warn(f"{self.base_url} counted {prompt_tokens} prompt tokens where {expected} were meant: "
                       "its tokenization differs from the template's (check tokenizer= / template=)")
        # A server that cannot end a loop early: flag the sample that looped to the limit.
        if reason == "length" and params.repetition_ngram > 0 and (token_ids or self.can_tokenize):
            ids = token_ids or await self.exact_tokens(raw)
            if repetition_end(ids, params.repetition_ngram) is not None:
                reason = "repetition"
        return Completion(
            text=text, finish_reason=reason,  # type: ignore[arg-type]
            prompt_tokens=prompt_tokens if isinstance(prompt_tokens, int) else (expected or 0),
            completion_tokens=completion_tokens, stop_reason=stop_reason, token_ids=token_ids,
            error=f"finish_reason={choice.get('finish_reason')!r}" if reason == "error" else None)

    def supports_grammar(self) -> bool:
        if self.dialect.schema != "gbnf":
            return self.dialect.schema is not None
        try:  # llama-cpp-python's server takes GBNF, converted here from the schema
            import llama_cpp.llama_grammar  # noqa: F401
        except ImportError:
            return False
        return True


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

    Our exact prompt reaches the model: as token ids where the server takes them (vLLM, SGLang,
    llama-server: no BOS added), otherwise as text without a BOS the server adds itself. Every
    supported sampling field is sent explicitly (stop strings and single-token stop ids, `n`,
    seed, top_k, min_p, repetition penalty); `n` samples share one request where the server
    returns them (vLLM, SGLang) and are sent as `n` seeded requests elsewhere. Samples that ran
    to the limit in a loop are flagged `repetition` (vLLM also ends them early). Requests are
    retried with exponential backoff and jitter on 429 (honouring `Retry-After`), 5xx, timeouts
    and dropped connections, for at most `max_retry_wait` seconds, then the run stops with one
    line. At load the engine asks the server which model it serves and what kind of server it
    is, and sends one one-token completion: chat-only endpoints (OpenAI's API, most gateways,
    Ollama's OpenAI layer) are refused there, before any data is made.

    Attributes:
        base_url: the server's OpenAI-compatible base URL, e.g. `http://HOST:8000/v1`.
        model: the served model name; `None` takes the first of `/v1/models`.
        template: chat template (preset name, tokenizer directory, `tokenizer_config.json` or
            `.gguf`); `None` reads it from the server (llama-server's `/props`) or from the
            served model's path when it is a local directory or GGUF file.
        tokenizer: a local tokenizer directory or `.gguf` of the served model, used instead of
            the server's tokenize endpoint (servers without one need it for exact token ids).
        server: `auto` (detected) or one of `vllm`, `sglang`, `llama.cpp`, `llama-cpp-python`,
            `tgi`, `openai` (plain OpenAI fields, text prompts).
        api_key_env: name of the environment variable holding the API key (the key itself is
            never stored in the pipeline).
        max_concurrency: requests in flight.
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
        try:
            runner.start()
        except BaseException:
            runner.close()
            raise
        self._runner = runner

    def unload(self) -> None:
        if self._runner is not None:
            self._runner.close()
        super().unload()

    @property
    def model_name(self) -> str:
        served = self._runner.model if self._runner is not None else None
        return served or self.model or self.base_url

    def _bos_text(self) -> Optional[str]:
        try:
            return self.chat_template().bos_token
        except MagpieError:
            return None

    def own_template(self, default_system: Optional[bool] = None) -> MagpieTemplate:
        return server_template(self.runner, self.template, self.tokenizer, default_system)

    def supports_grammar(self) -> bool:
        return self.runner.supports_grammar()


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
        try:
            runner.start()
        except BaseException:
            runner.close()
            raise
        self._runner = runner

    @property
    def model_name(self) -> str:
        return self._runner.model or self.llm.base_url

    def _bos_text(self) -> Optional[str]:
        try:
            return self.own_template().bos_token
        except MagpieError:
            return None

    def own_template(self, default_system: Optional[bool] = None) -> MagpieTemplate:
        if self._tokenizer is not None:
            return from_hf_tokenizer(self._tokenizer, default_system)
        return server_template(self._runner, None, None, default_system)

    def supports_grammar(self) -> bool:
        return self._runner.supports_grammar()
