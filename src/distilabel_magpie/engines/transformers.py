"""transformers backend: batched `generate` on exact token ids (left padding, attention masks)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Sequence

from distilabel.mixins.runtime_parameters import RuntimeParameter
from pydantic import Field

from distilabel_magpie.engines.base import (
    Completion,
    CompletionEngine,
    ProgressCallback,
    RepetitionGuard,
    SamplingParams,
    find_stop,
    hf_plain_text_prefix,
    repetition_end,
)
from distilabel_magpie.engines.llm import CompletionLLM
from distilabel_magpie.errors import MagpieError
from distilabel_magpie.templates import MagpieTemplate, from_hf_tokenizer


def torch_device(device: Optional[str]) -> str:
    """`device` as given ("cpu", "cuda", "cuda:1", ...); None: CUDA when available, else the CPU."""
    if device:
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _loop_stop(width: int, ngram: int, rows: int) -> Any:
    """A `generate` stopping criterion that ends each row once `RepetitionGuard` sees a loop."""
    import torch
    from transformers import StoppingCriteria

    class LoopStop(StoppingCriteria):
        def __init__(self) -> None:
            self.guards = [RepetitionGuard(ngram) for _ in range(rows)]
            self.stopped = [False] * rows

        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            if input_ids.shape[1] - width >= ngram:
                for i, tail in enumerate(input_ids[:, -ngram:].tolist()):
                    self.stopped[i] = self.stopped[i] or self.guards[i].looping(tail)
            return torch.tensor(self.stopped, dtype=torch.bool, device=input_ids.device)

    return LoopStop()


class TransformersRunner:
    """Raw completions with a loaded causal LM and its tokenizer."""

    def __init__(self, model: Any, tokenizer: Any, batch_size: int = 8) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.batch_size = max(1, batch_size)
        eos = model.generation_config.eos_token_id
        eos = [eos] if isinstance(eos, int) else list(eos or [])
        if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in eos:
            eos.append(tokenizer.eos_token_id)
        self.eos_ids = set(eos)
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (eos[0] if eos else 0)

    def tokenize(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def plain_text_prefix(self) -> str:
        return hf_plain_text_prefix(self.tokenizer)

    def complete(self, prompts: Sequence[str], params: SamplingParams,
                 progress: Optional[ProgressCallback] = None) -> list[list[Completion]]:
        import torch

        if params.grammar or params.json_schema:
            raise MagpieError("the transformers engine does not support grammars; use LlamaCppEngine")
        results: list[list[Completion]] = []
        done, generated = 0, 0
        per_call = max(1, self.batch_size // params.n)
        for start in range(0, len(prompts), per_call):
            chunk = list(prompts[start : start + per_call])
            ids = [self.tokenize(p) for p in chunk]
            width = max(len(x) for x in ids)
            input_ids = torch.tensor([[self.pad_id] * (width - len(x)) + x for x in ids])  # left padding
            attention = torch.tensor([[0] * (width - len(x)) + [1] * len(x) for x in ids])
            kwargs: dict = dict(max_new_tokens=params.max_new_tokens, num_return_sequences=params.n,
                                pad_token_id=self.pad_id, eos_token_id=sorted(self.eos_ids) or None)
            if params.greedy:
                kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
            else:
                kwargs.update(do_sample=True, temperature=params.temperature, top_p=params.top_p,
                              top_k=params.top_k or None, min_p=params.min_p or None)
            if params.repetition_penalty != 1.0:  # transformers' rule: every earlier token, prompt included
                kwargs["repetition_penalty"] = params.repetition_penalty
            if params.stop:
                kwargs.update(stop_strings=list(params.stop), tokenizer=self.tokenizer)
            if params.repetition_ngram > 0:
                kwargs["stopping_criteria"] = [_loop_stop(width, params.repetition_ngram, len(chunk) * params.n)]
            if params.seed is not None:
                torch.manual_seed(params.sample_seed(start, 0))
            with torch.inference_mode():
                out = self.model.generate(input_ids=input_ids.to(self.model.device),
                                          attention_mask=attention.to(self.model.device), **kwargs)
            new = out[:, width:].tolist()
            for p, prompt_ids in enumerate(ids):
                samples = []
                for j in range(params.n):
                    samples.append(self._completion(new[p * params.n + j], len(prompt_ids), params))
                    generated += samples[-1].completion_tokens
                    done += 1
                    if progress:
                        progress(done, len(prompts) * params.n, generated)
                results.append(samples)
        return results

    def _completion(self, tokens: list[int], prompt_tokens: int, params: SamplingParams) -> Completion:
        # Sequences that finish before the others are padded; padding is not output.
        while tokens and tokens[-1] == self.pad_id and self.pad_id not in self.eos_ids:
            tokens = tokens[:-1]
        kept, reason = [], "length"
        for t in tokens:
            if t in self.eos_ids:
                reason = "stop"
                kept.append(t)
                break
            kept.append(t)
        end = repetition_end(kept, params.repetition_ngram) if params.repetition_ngram > 0 else None
        if end is not None:
            kept, reason = kept[:end], "repetition"
        body = kept[:-1] if reason == "stop" else kept
        text = self.tokenizer.decode(body, skip_special_tokens=False)
        hit = find_stop(text, params.stop)
        if hit is not None:
            return Completion(text[: hit[0]], "stop", prompt_tokens, len(kept), stop_reason=hit[1], token_ids=kept)
        if reason == "length" and len(kept) < params.max_new_tokens:
            reason = "stop"  # generate() stopped early without EOS: a stop string at a token edge
        return Completion(text, reason, prompt_tokens, len(kept), token_ids=kept)


class TransformersEngine(CompletionLLM):
    """Raw completions with Hugging Face transformers (batched, left-padded, CPU or GPU).

    Attributes:
        model: a model directory (or hub id where a hub is reachable); with `gguf_file`, the
            directory holding that GGUF file (transformers dequantises it; needs `gguf`).
        tokenizer: tokenizer directory when it differs from `model`.
        gguf_file: GGUF file name inside `model`.
        torch_dtype: "float32", "bfloat16", "float16" or "auto".
        device: "cpu", "cuda", "cuda:1", ... ; None picks CUDA when available.
        batch_size: sequences per `generate` call.
        trust_remote_code: run code shipped with the model (off unless asked).

    Runtime parameters:
        - `batch_size`: sequences per `generate` call.
        - `device`: where to run.

    Examples:
        The embedded GGUF through transformers:

        ```python
        from pathlib import Path
        from distilabel_magpie.engines import TransformersEngine
        from distilabel_magpie.engines.models import embedded_model_path

        path = Path(embedded_model_path())
        llm = TransformersEngine(model=str(path.parent), gguf_file=path.name)
        llm.load()
        ```
    """

    model: str
    tokenizer: Optional[str] = None
    gguf_file: Optional[str] = None
    torch_dtype: str = "float32"
    device: Optional[RuntimeParameter[str]] = Field(default=None, description="cpu, cuda, cuda:N; None: auto.")
    batch_size: RuntimeParameter[int] = Field(ge=1, default=8, description="Sequences per generate call.")
    trust_remote_code: bool = False

    def load(self) -> None:
        super().load()
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError:
            raise MagpieError("transformers/torch are not installed: pip install 'distilabel-magpie[transformers]'") from None
        if Path(self.model).exists() and self.gguf_file and not (Path(self.model) / self.gguf_file).is_file():
            raise MagpieError(f"{Path(self.model) / self.gguf_file} does not exist")
        device = torch_device(self.device)
        dtype = "auto" if self.torch_dtype == "auto" else getattr(torch, self.torch_dtype)
        kwargs = dict(trust_remote_code=self.trust_remote_code)
        if self.gguf_file:
            kwargs["gguf_file"] = self.gguf_file
        try:
            tokenizer = AutoTokenizer.from_pretrained(self.tokenizer or self.model, **kwargs)
            model = AutoModelForCausalLM.from_pretrained(self.model, dtype=dtype, **kwargs).to(device).eval()
        except OSError as e:
            raise MagpieError(f"cannot load {self.model}: {str(e).splitlines()[0]}") from None
        self._runner = TransformersRunner(model, tokenizer, self.batch_size)

    @property
    def model_name(self) -> str:
        return self.gguf_file or self.model

    def context_advice(self, needed: int) -> str:
        return f"transformers uses the model's own limit: use a model whose context holds at least {needed} tokens"

    def own_template(self, default_system: Optional[bool] = None) -> MagpieTemplate:
        return from_hf_tokenizer(self.runner.tokenizer, default_system)


class TransformersLLMAdapter(CompletionEngine):
    """distilabel's `TransformersLLM`, driven through our runner on its loaded pipeline."""

    def __init__(self, llm: Any, batch_size: int = 8) -> None:
        self.llm = llm
        self._runner = TransformersRunner(llm._pipeline.model, llm._pipeline.tokenizer, batch_size)

    @property
    def model_name(self) -> str:
        return self.llm.model

    def context_advice(self, needed: int) -> str:
        return f"transformers uses the model's own limit: use a model whose context holds at least {needed} tokens"

    def own_template(self, default_system: Optional[bool] = None) -> MagpieTemplate:
        return from_hf_tokenizer(self.runner.tokenizer, default_system)
