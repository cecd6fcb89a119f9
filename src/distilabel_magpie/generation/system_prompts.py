"""System prompts given as a string, a list, or named prompts with weights; one chosen per row,
reproducibly from a seed and the row's index (so results do not depend on batching)."""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass
from typing import Optional, Union

from distilabel_magpie.errors import MagpieError

SystemPromptSpec = Union[None, str, list, dict]


@dataclass(frozen=True)
class SystemPromptChoice:
    key: Optional[str]
    text: Optional[str]


class SystemPromptSampler:
    """Normalises a system-prompt spec and picks one per row.

    - `None`: no system prompt (key `None`).
    - `"text"`: always that prompt (key `"default"`).
    - `["a", "b"]`: uniform choice (keys `"0"`, `"1"`, ...).
    - `{"math": "text", "code": ("text", 0.3)}`: named prompts, optional positive weights
      (normalised, so 0.7/0.2/0.1 need not sum exactly to 1). A `None` text means "no system prompt".
    """

    def __init__(self, spec: SystemPromptSpec, seed: Optional[int] = None) -> None:
        self.seed = seed
        self.entries: list[tuple[Optional[str], Optional[str], float]] = self._normalise(spec)
        total = sum(w for _, _, w in self.entries)
        self._cumulative = []
        acc = 0.0
        for _, _, w in self.entries:
            acc += w / total
            self._cumulative.append(acc)

    @staticmethod
    def _normalise(spec: SystemPromptSpec) -> list[tuple[Optional[str], Optional[str], float]]:
        if spec is None:
            return [(None, None, 1.0)]
        if isinstance(spec, str):
            return [("default", spec, 1.0)]
        if isinstance(spec, (list, tuple)):
            if not spec:
                raise MagpieError("system_prompt is an empty list; give at least one prompt or None")
            return [(str(i), _text(str(i), t), 1.0) for i, t in enumerate(spec)]
        if isinstance(spec, dict):
            if not spec:
                raise MagpieError("system_prompt is an empty dict; give at least one named prompt or None")
            entries = []
            for key, value in spec.items():
                if isinstance(value, (list, tuple)):
                    if len(value) != 2:
                        raise MagpieError(f"system_prompt[{key!r}] must be 'text' or ['text', weight]")
                    text, weight = value
                else:
                    text, weight = value, 1.0
                try:
                    weight = float(weight)
                except (TypeError, ValueError):
                    raise MagpieError(f"system_prompt[{key!r}] weight {weight!r} is not a number") from None
                if not math.isfinite(weight) or weight < 0:
                    raise MagpieError(f"system_prompt[{key!r}] weight must be a positive number, got {weight}")
                entries.append((str(key), _text(str(key), text), weight))
            if sum(w for _, _, w in entries) <= 0:
                raise MagpieError("system_prompt weights are all zero; give at least one positive weight")
            return [e for e in entries if e[2] > 0]
        raise MagpieError(f"system_prompt must be a string, a list or a dict, got {type(spec).__name__}")

    def choose(self, row_index: int) -> SystemPromptChoice:
        if len(self.entries) == 1:
            key, text, _ = self.entries[0]
            return SystemPromptChoice(key, text)
        if self.seed is None:
            u = random.random()
        else:
            digest = hashlib.blake2b(f"{self.seed}|{row_index}".encode(), digest_size=8).digest()
            u = int.from_bytes(digest, "little") / 2**64
        for (key, text, _), edge in zip(self.entries, self._cumulative):
            if u < edge:
                return SystemPromptChoice(key, text)
        key, text, _ = self.entries[-1]
        return SystemPromptChoice(key, text)


def _text(key: str, text) -> Optional[str]:
    if text is None or isinstance(text, str):
        return text
    raise MagpieError(f"system_prompt[{key!r}] must be a string, got {type(text).__name__}")
