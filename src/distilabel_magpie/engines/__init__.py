"""The one place that knows backends: exact prompt string in, raw completion out.

Our engines (`LlamaCppEngine`, `TransformersEngine`, `VLLMEngine`, `CompletionServerEngine`) are
distilabel `LLM`s; steps also accept distilabel's own `LlamaCppLLM`, `TransformersLLM` and `vLLM`,
driven through the same code on their loaded models, and `ClientvLLM`, driven through the server
engine on its `base_url` (subclasses of these too). Chat-only LLMs are refused: Magpie needs
raw completions. Only this package reads the private fields of distilabel's LLMs.
"""

from __future__ import annotations

from typing import Any, Optional

from distilabel_magpie.engines.base import (
    Completion,
    CompletionEngine,
    SamplingParams,
    apply_stops,
    find_stop,
)
from distilabel_magpie.errors import MagpieError
from distilabel_magpie.templates import MagpieTemplate, resolve

SUPPORTED = (
    "distilabel_magpie.engines.LlamaCppEngine, TransformersEngine, VLLMEngine, CompletionServerEngine, "
    "or distilabel's LlamaCppLLM, TransformersLLM, vLLM, ClientvLLM"
)

# distilabel LLM class (in distilabel.models.llms) -> (module of our adapter, adapter class)
_ADAPTERS = {
    "LlamaCppLLM": ("distilabel_magpie.engines.llamacpp", "LlamaCppLLMAdapter"),
    "TransformersLLM": ("distilabel_magpie.engines.transformers", "TransformersLLMAdapter"),
    "vLLM": ("distilabel_magpie.engines.vllm", "VLLMAdapter"),
    "ClientvLLM": ("distilabel_magpie.engines.server", "ClientvLLMAdapter"),
}


def _adapter(llm: Any) -> Optional[tuple[str, str]]:
    """Our adapter for a distilabel LLM or a subclass of one (the nearest class in its MRO wins)."""
    # distilabel imports every LLM module here; the optional backends are only imported by `load()`.
    import distilabel.models.llms as llms

    known = {getattr(llms, name, None): adapter for name, adapter in _ADAPTERS.items()}
    return next((known[cls] for cls in type(llm).__mro__ if cls in known), None)


def check_supported(llm: Any) -> None:
    """Raise a one-line error for LLMs that cannot do raw completions."""
    if isinstance(llm, CompletionEngine) or _adapter(llm) is not None:
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

    module, name = _adapter(llm)  # type: ignore[misc]
    return getattr(importlib.import_module(module), name)(llm)


def template_for(engine: CompletionEngine, template: str = "auto",
                 default_system: Optional[bool] = None) -> MagpieTemplate:
    """The template a step names: the engine's own for "auto", else a preset name or a path."""
    if template == "auto":
        return engine.own_template(default_system)
    return resolve(template, default_system)


def raw_engine(llm: Any, template: str = "auto") -> tuple[Optional[CompletionEngine], Optional[MagpieTemplate]]:
    """The engine and chat template behind `llm`, or (None, None) for chat-only LLMs (which are
    then driven through distilabel's own `generate`)."""
    try:
        engine = engine_for(llm)
    except MagpieError:
        return None, None
    return engine, template_for(engine, template)


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
    "template_for",
    "check_supported",
    "engine_for",
    "raw_engine",
    "LlamaCppEngine",
    "TransformersEngine",
    "VLLMEngine",
    "CompletionServerEngine",
]
