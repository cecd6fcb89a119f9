"""What the LLM-driven scoring steps share: the raw-completion engine and chat template behind
the step's LLM, and one run summary line per step."""

from __future__ import annotations

from typing import Any, Optional

from distilabel_magpie.engines import CompletionEngine, engine_for
from distilabel_magpie.errors import MagpieError
from distilabel_magpie.templates import MagpieTemplate, resolve


def raw_engine(llm: Any, template: str = "auto") -> tuple[Optional[CompletionEngine], Optional[MagpieTemplate]]:
    """The engine and chat template behind `llm`, or (None, None) for chat-only LLMs (which are
    then driven through distilabel's own `generate`)."""
    try:
        engine = engine_for(llm)
    except MagpieError:
        return None, None
    return engine, (engine.own_template() if template == "auto" else resolve(template))


def rate(part: int, whole: int) -> str:
    return f"{part}/{whole} ({100.0 * part / whole:.1f}%)" if whole else "0/0"
