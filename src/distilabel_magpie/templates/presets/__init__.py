"""Presets: an official chat template plus the official Magpie choices (whether to keep the
default system turn, extra stop strings), one JSON file per family in this folder."""

from __future__ import annotations

import difflib
import json
from functools import lru_cache
from importlib import resources
from typing import Optional

from distilabel_magpie.errors import MagpieError
from distilabel_magpie.templates.template import MagpieTemplate


@lru_cache(maxsize=1)
def _preset_files() -> dict[str, dict]:
    presets = {}
    for entry in resources.files(__name__).iterdir():
        if entry.name.endswith(".json"):
            data = json.loads(entry.read_text(encoding="utf-8"))
            presets[data["name"]] = data
    return presets


def _aliases() -> dict[str, str]:
    table = {}
    for name, data in _preset_files().items():
        for alias in [name, *data.get("aliases", [])]:
            table[alias.lower()] = name
    return table


def preset_names() -> list[str]:
    return sorted(_preset_files())


def get_preset(name: str, default_system: Optional[bool] = None) -> MagpieTemplate:
    """A preset by name or alias (case-insensitive). Unknown names suggest the closest."""
    aliases = _aliases()
    key = name.strip().lower()
    if key not in aliases:
        close = difflib.get_close_matches(key, list(aliases), n=1, cutoff=0.5)
        hint = f"did you mean {aliases[close[0]]!r}? " if close else ""
        raise MagpieError(f"unknown template preset {name!r}: {hint}known presets: {', '.join(preset_names())}")
    data = _preset_files()[aliases[key]]
    return _from_preset_data(data, default_system)


def _from_preset_data(data: dict, default_system: Optional[bool] = None, **overrides) -> MagpieTemplate:
    return MagpieTemplate(
        name=data["name"],
        chat_template=data["chat_template"],
        bos_token=overrides.get("bos_token", data.get("bos_token")),
        eos_token=overrides.get("eos_token", data.get("eos_token")),
        default_system=data["default_system"] if default_system is None else default_system,
        extra_stop=tuple(data.get("stop", [])),
        reasoning_tags=tuple(data["reasoning_tags"]) if data.get("reasoning_tags") else None,
    )


def match_preset(chat_template: str) -> Optional[dict]:
    """The preset whose official chat template is exactly `chat_template`, if any."""
    for data in _preset_files().values():
        if data["chat_template"] == chat_template:
            return data
    return None


