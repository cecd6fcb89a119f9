"""The one place that knows backends: exact prompt string in, raw completion out.

Our engines (`LlamaCppEngine`, `TransformersEngine`, `VLLMEngine`, `CompletionServerEngine`) are
distilabel `LLM`s; steps also accept distilabel's own `LlamaCppLLM`, `TransformersLLM` and `vLLM`,
driven through the same code on their loaded models, and `ClientvLLM`, driven through the server
engine on its `base_url`. Chat-only LLMs are refused: Magpie needs raw completions.
"""

from __future__ import annotations

from typing import Any

from distilabel_magpie.engines.base import (
    Completion,
    CompletionEngine,
    SamplingParams,
    apply_stops,
    find_stop,
)
from distilabel_magpie.errors import MagpieError

SUPPORTED = (
    "distilabel_magpie.engines.LlamaCppEngine, TransformersEngine, VLLMEngine, CompletionServerEngine, "
    "or distilabel's LlamaCppLLM, TransformersLLM, vLLM, ClientvLLM"
)

# distilabel class name -> (module of our adapter, adapter class)
_ADAPTERS = {
    "LlamaCppLLM": ("distilabel_magpie.engines.llamacpp", "LlamaCppLLMAdapter"),
    "TransformersLLM": ("distilabel_magpie.engines.transformers", "TransformersLLMAdapter"),
    "vLLM": ("distilabel_magpie.engines.vllm", "VLLMAdapter"),
    "ClientvLLM": ("distilabel_magpie.engines.server", "ClientvLLMAdapter"),
}


def check_supported(llm: Any) -> None:
    """Raise a one-line error for LLMs that cannot do raw completions."""
    if isinstance(llm, CompletionEngine) or type(llm).__name__ in _ADAPTERS:
        return
    raise MagpieError(
        f"{type(llm).__name__} only offers chat completions, but Magpie must send the exact pre-query "
        f"text as a raw completion prompt; use {SUPPORTED}"
    )


def engine_for(llm: Any) -> CompletionEngine:
    """The raw-completion engine behind a (loaded) LLM object."""
    check_supported(llm)
    if isinstance(llm, CompletionEngine):
        return llm
    import importlib

    module, name = _ADAPTERS[type(llm).__name__]
    return getattr(importlib.import_module(module), name)(llm)


def __getattr__(name: str):  # lazy: importing a backend pulls its heavy dependencies
    lazy = {
        "LlamaCppEngine": "distilabel_magpie.engines.llamacpp",
        "TransformersEngine": "distilabel_magpie.engines.transformers",
        "VLLMEngine": "distilabel_magpie.engines.vllm",
        "CompletionServerEngine": "distilabel_magpie.engines.server",
    }
    if name in lazy:
        import importlib

        return getattr(importlib.import_module(lazy[name]), name)
    raise AttributeError(name)


__all__ = [
    "Completion",
    "CompletionEngine",
    "SamplingParams",
    "apply_stops",
    "find_stop",
    "check_supported",
    "engine_for",
    "LlamaCppEngine",
    "TransformersEngine",
    "VLLMEngine",
    "CompletionServerEngine",
]
