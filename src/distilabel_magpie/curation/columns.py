"""Which step produces which column, so a missing column is reported with the step to add."""

from __future__ import annotations

from typing import Iterable, Sequence

from distilabel_magpie.errors import MagpieError

PRODUCERS = {
    "instruction": "MagpieSampler (distilabel_magpie.generation)",
    "instruction_status": "MagpieSampler (distilabel_magpie.generation)",
    "response": "MagpieResponder (distilabel_magpie.generation)",
    "response_status": "MagpieResponder (distilabel_magpie.generation)",
    "messages": "the multi-turn generation steps (distilabel_magpie.generation)",
    "reward": "RewardModelLabeler",
    "reward_difference": "RewardModelLabeler with base_response_column set",
    "reward_base": "RewardModelLabeler with base_response_column set",
    "quality": "MagpieJudge",
    "difficulty": "MagpieJudge",
    "task_category": "MagpieJudge",
    "language": "LanguageTagger",
    "safety": "SafetyTagger",
    "min_neighbor_distance": "NearDuplicates",
    "repeat_count": "NearDuplicates",
    "cluster_id": "NearDuplicates",
    "is_representative": "NearDuplicates",
    "generations": "SampleCandidates",
    "ratings": "RewardModelLabeler with response_column='generations', output_column='ratings'",
}


def require_columns(rows: Sequence[dict], columns: Iterable[str], step: str) -> None:
    """One-line error naming the first missing column and the step that produces it."""
    if not rows:
        return
    present = set().union(*(r.keys() for r in rows))
    for column in columns:
        if column not in present:
            producer = PRODUCERS.get(column)
            hint = f"; add {producer} before it" if producer else ""
            raise MagpieError(f"step {step!r} needs column {column!r}, which its input rows lack{hint}")
