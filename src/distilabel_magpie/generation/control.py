"""Steering Magpie: domain system prompts (after the paper's control prompts) and target languages."""

from __future__ import annotations

import difflib
from functools import lru_cache
from typing import Optional

from distilabel_magpie.errors import MagpieError

# The math prompt is the paper's (Fig. 2); code and translation follow the same pattern.
DOMAINS: dict[str, str] = {
    "math": (
        "You are an AI assistant designed to provide helpful, step-by-step guidance on solving math problems. "
        "The user will ask you a wide range of complex mathematical questions. Your purpose is to assist users in "
        "understanding mathematical concepts, working through equations, and arriving at the correct solutions."
    ),
    "code": (
        "You are an AI assistant designed to provide helpful, step-by-step guidance on coding problems. The user "
        "will ask you a wide range of coding questions. Your purpose is to assist users in understanding coding "
        "concepts, working through code, and arriving at the correct solutions."
    ),
    "translation": (
        "You are an AI assistant specifically designed to provide accurate and contextually appropriate "
        "translations. Users will ask you to translate a large text between various languages. Your purpose is to "
        "translate the text, maintaining the original context and nuances."
    ),
}


def register_domain(name: str, system_prompt: str) -> None:
    """Add (or replace) a domain preset usable as `domain=name` in the steps."""
    if not name or not system_prompt or not system_prompt.strip():
        raise MagpieError("a domain needs a name and a non-empty system prompt")
    DOMAINS[name] = system_prompt


def domain_prompt(name: str) -> str:
    if name not in DOMAINS:
        close = difflib.get_close_matches(name, list(DOMAINS), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise MagpieError(f"unknown domain {name!r}: {hint}known: {', '.join(sorted(DOMAINS))} "
                          "(add one with distilabel_magpie.generation.control.register_domain)")
    return DOMAINS[name]


# The paper's Chinese control prompt; other languages get the English pattern.
_NATIVE = {"chinese": "你是一个人工智能助手，旨在为用户的中文问题提供准确、简洁的回答。"}


def _lingua():
    try:
        import lingua
    except ImportError:
        raise MagpieError("language control needs lingua: pip install 'distilabel-magpie[curation]'") from None
    return lingua


@lru_cache(maxsize=None)
def _detector():
    return _lingua().LanguageDetectorBuilder.from_all_languages().build()  # models load on demand


def _language(language: str):
    key = language.strip()
    for lang in _lingua().Language.all():
        if key.upper() == lang.name or key.lower() == lang.iso_code_639_1.name.lower():
            return lang
    raise MagpieError(f"the language detector does not know {language!r}; use an English name ('French') "
                      "or an ISO 639-1 code ('fr')")


def language_code(language: str) -> str:
    """ISO 639-1 code of a language given by name ("French") or code ("fr"); clear error otherwise."""
    return _language(language).iso_code_639_1.name.lower()


def language_system_prompt(language: str) -> str:
    name = _language(language).name.capitalize()
    return _NATIVE.get(name.lower()) or (
        f"You are an AI assistant designed to provide accurate and concise answers to the user's questions. "
        f"The user writes in {name} and you answer in {name}.")


def detect_language(text: str) -> Optional[str]:
    """ISO 639-1 code of `text`, or None when the detector cannot tell."""
    if not text or not text.strip():
        return None
    found = _detector().detect_language_of(text)
    return found.iso_code_639_1.name.lower() if found is not None else None
