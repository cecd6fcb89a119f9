"""What the LLM-driven scoring steps share: one run summary line per step (the engine and chat
template behind a step's LLM come from `engines.raw_engine`)."""

from __future__ import annotations


def rate(part: int, whole: int) -> str:
    return f"{part}/{whole} ({100.0 * part / whole:.1f}%)" if whole else "0/0"
