"""What every backend provides: an exact prompt string in, raw completions out."""

from __future__ import annotations

import hashlib
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Literal, Optional, Sequence

from distilabel_magpie.errors import MagpieError
from distilabel_magpie.templates import MagpieTemplate

FinishReason = Literal["stop", "length", "repetition", "error"]
# Called after each finished sample with (samples done, samples total, tokens generated so far).
ProgressCallback = Callable[[int, int, int], None]


@dataclass(frozen=True)
class SamplingParams:
    """Per-call sampling settings. `temperature <= 0` means greedy decoding."""

    max_new_tokens: int = 256
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    min_p: float = 0.0
    stop: tuple[str, ...] = ()
    n: int = 1
    seed: Optional[int] = None
    grammar: Optional[str] = None  # GBNF constraining the output (llama.cpp backends)
    json_schema: Optional[str] = None  # a JSON schema (as JSON text) the output must follow, where supported
    repetition_ngram: int = 0  # > 0: a sample is in a loop once a run of this many tokens comes a third time
    repetition_penalty: float = 1.0  # > 1 discourages repeating recent tokens (each backend's own rule)
    # Seed key of each prompt (e.g. the global row index it is for) instead of its position in the
    # call: a sample's seed then does not depend on which batch or replica the prompt landed in.
    prompt_keys: Optional[tuple[int, ...]] = None
    # Label probabilities (llama.cpp in-process; other backends leave `Completion.probe` None): at
    # the first point where the generated text ends with a match of the regex `probe_after` (""
    # or None: before the first token), the model's own next-token distribution (before grammar
    # and sampling) over the first tokens of `probe_labels`, renormalised. Sampling is unchanged.
    probe_after: Optional[str] = None
    probe_labels: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.n < 1:
            raise ValueError(f"n must be >= 1, got {self.n}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if not 0 <= self.min_p < 1:
            raise ValueError(f"min_p must be in [0, 1), got {self.min_p}")
        if self.repetition_penalty <= 0:
            raise ValueError(f"repetition_penalty must be > 0 (1.0: off), got {self.repetition_penalty}")
        object.__setattr__(self, "stop", tuple(s for s in self.stop if s))
        if self.probe_after:
            try:
                re.compile(self.probe_after)
            except re.error as e:
                raise ValueError(f"probe_after is not a regular expression: {e}") from None

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0

    def sample_seed(self, prompt_index: int, sample_index: int) -> int:
        """A 32-bit seed for one sample, fixed by (seed, prompt key, sample index) so results do
        not depend on how a backend batches requests; the key is `prompt_keys[prompt_index]`, or
        the position itself without keys. Random when no seed is set."""
        if self.seed is None:
            import random

            return random.getrandbits(32)
        key = self.prompt_keys[prompt_index] if self.prompt_keys is not None else prompt_index
        return sample_seed(self.seed, key, sample_index)


def sample_seed(seed: int, key: int, sample_index: int = 0) -> int:
    """The 32-bit seed of sample `sample_index` of the prompt with seed key `key`."""
    digest = hashlib.blake2b(f"{seed}|{key}|{sample_index}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "little")


@dataclass
class Completion:
    """One raw completion. `stop_reason` is the stop string that ended it (None for an
    end-of-generation token or the token limit)."""

    text: str
    finish_reason: FinishReason
    prompt_tokens: int
    completion_tokens: int
    stop_reason: Optional[str] = None
    error: Optional[str] = None
    token_ids: list[int] = field(default_factory=list, repr=False)
    probe: Optional[list[float]] = None  # probabilities of `SamplingParams.probe_labels`, where taken


@dataclass
class Job:
    """One completion for a runner that takes work as its slots free up (`CompletionEngine.run`):
    an exact prompt, its sampling settings (`params.n` is ignored: one sample) and the sample's
    seed. `then` gets the completion and returns the jobs that follow from it (the answer of a
    query); they start before any job not yet started."""

    prompt: str
    params: SamplingParams
    seed: int
    then: Optional[Callable[[Completion], Sequence["Job"]]] = None


class RepetitionGuard:
    """Spots a sample stuck in a loop: the same run of `ngram` tokens generated a third time.

    Small models decoding greedily often repeat one sentence until the token limit; such a
    sample is lost either way, so ending it there saves the rest of its budget."""

    REPEATS = 3

    def __init__(self, ngram: int) -> None:
        self.ngram = ngram
        self._seen: dict[tuple[int, ...], int] = {}

    def looping(self, tokens: Sequence[int], end: Optional[int] = None) -> bool:
        """Call once per new token with the tokens generated so far (`tokens[:end]`)."""
        end = len(tokens) if end is None else end
        if self.ngram <= 0 or end < self.ngram:
            return False
        key = tuple(tokens[end - self.ngram : end])
        count = self._seen[key] = self._seen.get(key, 0) + 1
        return count >= self.REPEATS


def repetition_end(tokens: Sequence[int], ngram: int) -> Optional[int]:
    """How many tokens a sample had when `RepetitionGuard` fired, or None."""
    guard = RepetitionGuard(ngram)
    for n in range(1, len(tokens) + 1):
        if guard.looping(tokens, n):
            return n
    return None


def common_prefix_length(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading token ids `a` and `b` share."""
    k = 0
    for x, y in zip(a, b):
        if x != y:
            break
        k += 1
    return k


def hf_plain_text_prefix(tokenizer: Any) -> str:
    """What a Hugging Face tokenizer adds in front of a plain text (e.g. Llama's `<s>`), as text."""
    probe = "Hello"
    with_special = list(tokenizer(probe)["input_ids"])
    without = list(tokenizer(probe, add_special_tokens=False)["input_ids"])
    for start in range(len(with_special) - len(without) + 1):
        if with_special[start: start + len(without)] == without:
            return tokenizer.decode(with_special[:start], skip_special_tokens=False) if start else ""
    return ""


def find_stop(text: str, stops: Sequence[str], start: int = 0) -> Optional[tuple[int, str]]:
    """Earliest occurrence of any stop string in `text[start:]`: (index, stop) or None."""
    best: Optional[tuple[int, str]] = None
    for s in stops:
        i = text.find(s, start)
        if i != -1 and (best is None or i < best[0]):
            best = (i, s)
    return best


def apply_stops(text: str, stops: Sequence[str]) -> tuple[str, Optional[str]]:
    """Cut `text` at the earliest stop string (for backends that return text past it)."""
    hit = find_stop(text, stops)
    return (text, None) if hit is None else (text[: hit[0]], hit[1])


class CompletionEngine(ABC):
    """A loaded backend that turns exact prompt strings into raw completions.

    No chat template is applied by anyone but us: prompts are tokenized without adding special
    tokens, so the text sent is exactly the text rendered by `MagpieTemplate`. The work is done
    by a backend runner (`self._runner`, with `complete` and `tokenize`); engines and adapters
    only load it and say which template the model has."""

    @property
    @abstractmethod
    def model_name(self) -> str: ...

    @property
    def runner(self) -> Any:
        runner = getattr(self, "_runner", None)  # no class attribute: pydantic engines keep it private
        if runner is None:
            raise MagpieError(f"{type(self).__name__}: the model is not loaded; call load() first")
        return runner

    def complete(
        self, prompts: Sequence[str], params: SamplingParams, progress: Optional[ProgressCallback] = None
    ) -> list[list[Completion]]:
        """`params.n` completions for each prompt, in order."""
        return self.runner.complete(prompts, params, progress)

    def continuous(self) -> bool:
        """Whether `run` is there: jobs and their follow-ups in one continuous batch (llama.cpp)."""
        try:
            return callable(getattr(self.runner, "run", None))
        except MagpieError:  # no runner: an engine that only completes
            return False

    def run(self, jobs: Iterable[Job], progress: Optional[ProgressCallback] = None) -> None:
        """Every job of `jobs` (taken lazily, in order) and the jobs that follow from them, each
        slot taking the next waiting job as soon as it is free (see `continuous`)."""
        run = getattr(self.runner, "run", None)
        if not callable(run):
            raise MagpieError(f"{type(self).__name__} has no continuous batch; use complete()")
        run(jobs, progress)

    def tokenize(self, text: str) -> list[int]:
        """Token ids of `text` exactly as sent (special tokens parsed, none added)."""
        return self.runner.tokenize(text)

    def plain_text_prefix(self) -> str:
        """What the model's tokenizer puts in front of a plain text (its BOS token, as text, when
        it adds one; "" when it adds none or the backend cannot tell). Prompts that are not
        rendered by a chat template (a base model's few-shot prompt) start with it."""
        prefix = getattr(self.runner, "plain_text_prefix", None)
        return prefix() if callable(prefix) else ""

    def context_length(self) -> Optional[int]:
        """Tokens one sequence holds (prompt + new tokens) where the backend fixes it, else None."""
        return getattr(self.runner, "context_length", None)

    def context_advice(self, needed: int) -> str:
        """How to give this backend a context of `needed` tokens per sequence (for error messages)."""
        return f"use a model whose context holds at least {needed} tokens"

    @abstractmethod
    def own_template(self, default_system: Optional[bool] = None) -> MagpieTemplate:
        """The model's own chat template (from its tokenizer or GGUF metadata)."""

    def supports_grammar(self) -> bool:
        """Whether outputs can be constrained (`SamplingParams.json_schema`, and GBNF on llama.cpp)."""
        return False
