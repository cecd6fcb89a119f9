"""vLLM backend (offline `LLM`): exact token ids, `n` samples per prompt, prefix caching on."""

from __future__ import annotations

from typing import Any, Optional, Sequence

from distilabel.mixins.runtime_parameters import RuntimeParameter
from pydantic import Field

from distilabel_magpie.engines.base import (
    Completion, CompletionEngine, ProgressCallback, SamplingParams, apply_stops, hf_plain_text_prefix, repetition_end)
from distilabel_magpie.engines.llm import CompletionLLM
from distilabel_magpie.errors import MagpieError
from distilabel_magpie.templates import MagpieTemplate, from_hf_tokenizer


class VLLMRunner:
    """Raw completions with a loaded `vllm.LLM`."""

    def __init__(self, llm: Any) -> None:
        self.llm = llm
        self.tokenizer = llm.get_tokenizer()

    def tokenize(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def plain_text_prefix(self) -> str:
        return hf_plain_text_prefix(self.tokenizer)

    def complete(self, prompts: Sequence[str], params: SamplingParams,
                 progress: Optional[ProgressCallback] = None) -> list[list[Completion]]:
        from vllm import SamplingParams as VllmSamplingParams

        if params.grammar or params.json_schema:
            raise MagpieError("grammars are only supported by LlamaCppEngine and CompletionServerEngine")
        def sampling(seed: Optional[int]):
            return VllmSamplingParams(
                n=params.n, temperature=max(params.temperature, 0.0), top_p=params.top_p,
                top_k=params.top_k if params.top_k > 0 else -1, min_p=params.min_p, max_tokens=params.max_new_tokens,
                repetition_penalty=params.repetition_penalty,
                stop=list(params.stop) or None, seed=seed, skip_special_tokens=False,
                spaces_between_special_tokens=False)

        # Token ids, not text: vLLM would otherwise add the tokenizer's BOS in front of the template's.
        requests = [{"prompt_token_ids": self.tokenize(p)} for p in prompts]
        if params.seed is not None and params.prompt_keys is not None:  # each prompt seeded by its own key
            sampling = [sampling(params.sample_seed(i, 0)) for i in range(len(prompts))]
        else:
            sampling = sampling(params.seed)
        outputs = self.llm.generate(requests, sampling, use_tqdm=progress is not None)
        results = []
        for request, output in zip(requests, outputs):
            samples = []
            for o in output.outputs:
                reason = o.finish_reason if o.finish_reason in ("stop", "length") else "error"
                text, hit = apply_stops(o.text, params.stop)  # stop strings inside special tokens
                stop_reason = hit or (o.stop_reason if isinstance(o.stop_reason, str) else None)
                # vLLM cannot end a loop early; a sample that looped to the limit is flagged as such.
                if reason == "length" and not hit and params.repetition_ngram > 0 and repetition_end(
                        list(o.token_ids), params.repetition_ngram) is not None:
                    reason = "repetition"
                samples.append(Completion(text, "stop" if hit else reason, len(request["prompt_token_ids"]),
                                          len(o.token_ids), stop_reason=stop_reason, token_ids=list(o.token_ids)))
            results.append(samples)
        return results


class VLLMEngine(CompletionLLM):
    """Raw completions with vLLM on a GPU: prefix caching shares the pre-query prefill across
    requests and `n` samples share one prefill.

    Attributes:
        model: model directory or hub id.
        tokenizer: tokenizer when it differs from `model`.
        dtype: "auto", "bfloat16", "float16".
        enable_prefix_caching: reuse KV blocks of shared prompt prefixes (on by default).
        gpu_memory_utilization / max_model_len / tensor_parallel_size: vLLM's.
        trust_remote_code: run code shipped with the model (off unless asked).
        seed: vLLM's global seed.

    Runtime parameters:
        - `gpu_memory_utilization`, `max_model_len`, `tensor_parallel_size`.

    Examples:
        ```python
        from distilabel_magpie.engines import VLLMEngine

        llm = VLLMEngine(model="meta-llama/Llama-3.1-8B-Instruct")
        ```
    """

    model: str
    tokenizer: Optional[str] = None
    dtype: str = "auto"
    enable_prefix_caching: bool = True
    gpu_memory_utilization: RuntimeParameter[float] = Field(gt=0, le=1, default=0.9, description="GPU memory share for vLLM.")
    max_model_len: Optional[RuntimeParameter[int]] = Field(ge=1, default=None, description="Context length.")
    tensor_parallel_size: RuntimeParameter[int] = Field(ge=1, default=1, description="GPUs per model.")
    trust_remote_code: bool = False
    seed: int = 0

    def load(self) -> None:
        super().load()
        try:
            from vllm import LLM
        except ImportError:
            raise MagpieError("vLLM is not installed: pip install 'distilabel-magpie[vllm]' (needs a GPU)") from None
        self._runner = VLLMRunner(LLM(
            model=self.model, tokenizer=self.tokenizer or self.model, dtype=self.dtype,
            enable_prefix_caching=self.enable_prefix_caching, gpu_memory_utilization=self.gpu_memory_utilization,
            max_model_len=self.max_model_len, tensor_parallel_size=self.tensor_parallel_size,
            trust_remote_code=self.trust_remote_code, seed=self.seed))

    @property
    def model_name(self) -> str:
        return self.model

    def context_advice(self, needed: int) -> str:
        return f"raise llm.max_model_len to at least {needed} (within the model's own limit)"

    def own_template(self, default_system: Optional[bool] = None) -> MagpieTemplate:
        return from_hf_tokenizer(self.runner.tokenizer, default_system)


class VLLMAdapter(CompletionEngine):
    """distilabel's `vLLM`, driven through our runner on its loaded `vllm.LLM`."""

    def __init__(self, llm: Any) -> None:
        self.llm = llm
        self._runner = VLLMRunner(llm._model)

    @property
    def model_name(self) -> str:
        return self.llm.model

    def context_advice(self, needed: int) -> str:
        return f"set max_model_len to at least {needed} in llm.extra_kwargs (within the model's own limit)"

    def own_template(self, default_system: Optional[bool] = None) -> MagpieTemplate:
        return from_hf_tokenizer(self.runner.tokenizer, default_system)
