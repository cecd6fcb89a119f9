"""The connection of `CompletionServerEngine` to one OpenAI-compatible completion server:
what kind of server it is, how its prompts must be sent, and the concurrent requests.

One HTTP request per completion: prompts go as text (the server tokenizes them, special tokens
parsed, and a BOS it adds itself is taken off the text first), or as token ids where a local
tokenizer gives them; token counts and ids come back in the completion. The server's tokenize
endpoint is used at load (what it adds to a prompt) and for the few stop strings, not per
prompt."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import deque
from typing import Any, Callable, Iterable, Optional, Sequence

from distilabel_magpie.engines.base import (
    Completion, Job, ProgressCallback, SamplingParams, apply_stops, common_prefix_length, repetition_end)
from distilabel_magpie.engines.dialects import (
    DIALECTS, LLAMA_CPP_PYTHON, LLAMA_SERVER, OPENAI, OWNERS, SGLANG, TGI, VLLM, Dialect, choice_token_ids,
    finish_reason, request_body, unsupported)
from distilabel_magpie.engines.http import HttpClient, LoopThread, Response, RetryPolicy
from distilabel_magpie.errors import MagpieError

logger = logging.getLogger("distilabel_magpie.engines.server")

CHAT_ONLY_HINTS = ("chat", "not supported", "unsupported", "does not support", "not implemented")
UNREACHABLE_AT_LOAD = 3.0  # seconds a server that never answered is waited for at load
ENDPOINTS = ("/chat/completions", "/completions", "/models")


def normalise_base_url(base_url: str) -> str:
    """The server's OpenAI-compatible root, `.../v1`: a missing scheme becomes http://, a pasted
    endpoint (`/v1/completions`, `/v1/chat/completions`) is taken off, a missing `/v1` added
    (llama-server answers without it, vLLM and SGLang do not)."""
    url = base_url.strip()
    if "://" not in url:
        url = f"http://{url}"
    url = url.rstrip("/")
    for tail in ENDPOINTS:
        if url.endswith(tail):
            url = url[: -len(tail)].rstrip("/")
            break
    return url if url.endswith("/v1") else f"{url}/v1"


class ServerRunner:
    """The engine's connection to one server (created and used through `LoopThread`)."""

    def __init__(self, base_url: str, *, model: Optional[str], server: str, api_key: Optional[str],
                 local_tokenizer: Optional[Callable[[str], list[int]]], policy: RetryPolicy,
                 max_concurrency: int, bos_text: Callable[[], Optional[str]] = lambda: None) -> None:
        self.base_url = normalise_base_url(base_url)
        if self.base_url != base_url.rstrip("/"):
            logger.info(f"base_url {base_url!r} taken as {self.base_url!r}")
        self.root = self.base_url[: -len("/v1")]
        self.model = model
        self.server = server
        self.has_key = api_key is not None
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._local = local_tokenizer
        self._policy, self._max_concurrency = policy, max_concurrency
        self._bos_text = bos_text
        self.dialect: Dialect = OPENAI
        self._models_status = 200
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
        # Retried while the server is starting (503 while it loads); one that never answered
        # at all is given a few seconds only (a wrong host or port is not worth a minute).
        models = await self.http.call("GET", "/v1/models", unreachable_after=UNREACHABLE_AT_LOAD)
        self._models_status = models.status
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
        # Servers that decode a few requests at a time: more in flight would only queue there,
        # against the request timeout. Keep one waiting per slot so the server never idles.
        slots = {LLAMA_CPP_PYTHON: 1, LLAMA_SERVER: (self.props or {}).get("total_slots")}.get(self.dialect)
        if isinstance(slots, int) and slots > 0:
            self.http.narrow(2 * slots)
        if self.sends_ids:
            self.added = []  # token ids go in as they are
        elif self.dialect.tokenize is not None:  # what the server puts in front of a text prompt
            a, z = await self._server_tokens("a", add=True), await self._server_tokens("Z", add=True)
            self.added = list(a[: common_prefix_length(a, z)])
        logger.info(f"{self.base_url}: {self.dialect.name} server, model {self.model!r}, prompts as "
                    f"{'token ids' if self.sends_ids else 'text'}, {self.http.max_concurrency} requests in flight")

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
        if r.status == 404 and self._models_status == 404:
            raise MagpieError(
                f"a server answers at {self.root} but not at {self.base_url} (404 on /models and /completions): "
                "check the path of base_url, the server's OpenAI-compatible root such as http://HOST:PORT/v1")
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
        """Prompts go as token ids: only from a local tokenizer (the server's would cost a
        request per prompt; a text prompt is tokenized by the server the same way)."""
        return self.dialect.token_prompts and self._local is not None

    async def _server_tokens(self, text: str, add: bool = False) -> list[int]:
        """The server's tokenization of `text`, with what it adds to a prompt when `add` (always
        for llama-cpp-python and TGI, whose endpoints have no switch)."""
        style = self.dialect.tokenize
        if style == "vllm":
            body = {"prompt": text, "add_special_tokens": add, **({"model": self.model} if self.model else {})}
            path = "/tokenize"
        elif style == "llama.cpp":
            body, path = {"content": text, "add_special": add, "parse_special": True}, "/tokenize"
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
                if self.added and self.dialect.tokenize in ("llama-cpp-python", "tgi"):
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
        """What to send for a prompt, and how many prompt tokens the server should count (None:
        unknown without a request of its own, not made)."""
        if self.sends_ids:
            ids = await self.exact_tokens(text)  # the local tokenizer: no request
            return ids, len(ids)
        expected = len(self._local(text)) if self._local is not None else None
        if not self.added:
            return text, expected
        bos = self._bos_text()
        if bos and text.startswith(bos):  # the server puts this BOS back
            if await self.exact_tokens(bos) != self.added:  # cached: one request per run
                raise MagpieError(f"{self.base_url} adds {self.added} to every text prompt, not the template's BOS "
                                  f"{bos!r}; set the engine's template (or tokenizer=) to the served model's")
            return text[len(bos):], expected
        self._warn(f"{self.base_url} adds {self.added} to every text prompt, which the template does not print: "
                   "the model sees one token more than the template renders (pass tokenizer= to send token ids)")
        return text, None if expected is None else expected + len(self.added)

    # -- completions ----------------------------------------------------------------------
    def _warn(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            logger.warning(message)

    def complete(self, prompts: Sequence[str], params: SamplingParams,
                 progress: Optional[ProgressCallback] = None) -> list[list[Completion]]:
        return self._loop.run(self._complete(list(prompts), params, progress))

    def run(self, jobs: Iterable[Job], progress: Optional[ProgressCallback] = None) -> None:
        """Each job one request, at most `max_concurrency` in flight: as a request returns, the jobs
        that follow from it (the answer of a query) are sent before any job not yet started, so
        the server's batch stays full. Each request carries its job's seed, as `complete` would."""
        self._loop.run(self._run(iter(jobs), progress))

    async def _run(self, source, progress: Optional[ProgressCallback]) -> None:
        ready: deque[Job] = deque()
        pending: set[asyncio.Future] = set()
        done = tokens = 0

        async def one(job: Job) -> tuple[Job, Completion]:
            params = dataclasses.replace(job.params, n=1, prompt_keys=None)
            [[completion]] = await self._complete([job.prompt], params, None, seed=job.seed)
            return job, completion

        try:
            while True:
                while len(pending) < self.http.max_concurrency:
                    job = ready.popleft() if ready else next(source, None)
                    if job is None:
                        break
                    pending.add(asyncio.ensure_future(one(job)))
                if not pending:
                    return
                finished, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in finished:
                    job, completion = task.result()
                    done, tokens = done + 1, tokens + completion.completion_tokens
                    if job.then is not None:
                        ready.extend(job.then(completion))
                    if progress:
                        progress(done, done + len(ready) + len(pending), tokens)
        except BaseException:
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            raise

    async def _complete(self, prompts: list[str], params: SamplingParams,
                        progress: Optional[ProgressCallback], seed: Optional[int] = None) -> list[list[Completion]]:
        """`seed`: the request seed of a one-prompt call (a job's), instead of `params.sample_seed`."""
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
                                seed=params.sample_seed(p, samples[0]) if seed is None else seed, stop=stop, stop_token_ids=stop_ids,
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
        token_ids = choice_token_ids(choice)
        if token_ids:
            completion_tokens = len(token_ids)
        elif n == 1 and isinstance(usage.get("completion_tokens"), int):
            completion_tokens = usage["completion_tokens"]
        else:  # n choices without ids or usage per choice: a server we do not know
            completion_tokens = len(await self.exact_tokens(raw)) if self.can_tokenize and raw else 0
        prompt_tokens = usage.get("prompt_tokens")
        if expected is not None and isinstance(prompt_tokens, int) and prompt_tokens != expected:
            self._warn(f"{self.base_url} counted {prompt_tokens} prompt tokens where {expected} were meant: "
                       "its tokenization differs from the template's (check tokenizer= / template=)")
        # A server that cannot end a loop early: flag the sample that looped to the limit (ids
        # from the answer; only llama-cpp-python and TGI, which return none, cost a tokenize,
        # and only for samples that ran to the limit).
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
