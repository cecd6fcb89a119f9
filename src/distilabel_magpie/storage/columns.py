"""The dataset schema: which step produces which column (so a missing column is reported with the
step to add), and the status columns the steps write."""

from __future__ import annotations

from typing import Iterable, Sequence

from distilabel_magpie.errors import MagpieError

# column -> the step of this package that produces it (for "missing column" errors)
PRODUCERS = {
    "instruction": "MagpieSampler",
    "instruction_status": "MagpieSampler",
    "response": "MagpieResponder",
    "response_status": "MagpieResponder",
    "messages": "MagpieMultiTurn",
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
    "lexical_cluster_id": "LexicalDuplicates",
    "lexical_cluster_size": "LexicalDuplicates",
    "lexical_is_representative": "LexicalDuplicates",
    "contamination_status": "Decontaminate with benchmarks set",
    "contamination_ratio": "Decontaminate with benchmarks set",
    "contamination_benchmark": "Decontaminate with benchmarks set",
    "generations": "SampleCandidates",
    "ratings": "RewardModelLabeler with response_column='generations', output_column='ratings'",
    "prompt": "PreferencePairs",
    "chosen": "PreferencePairs",
    "rejected": "PreferencePairs",
}
# One outcome per row and stage ("ok" or why not): counted in summaries and reports.
# contamination_status: "ok" or "contaminated" (Decontaminate); a filter drops the latter with
# `status_columns=["contamination_status"]` (reason "failed: contamination_status == 'ok'").
STATUS_COLUMNS = ("instruction_status", "response_status", "base_response_status", "judge_status",
                  "conversation_status", "argilla_status", "contamination_status")


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


def accepted_row(row: dict) -> bool:
    """A row every status column of which says `ok` (`conversation_status` for multi-turn rows)."""
    columns = [c for c in ("instruction_status", "response_status", "conversation_status") if c in row]
    return all(row[c] == "ok" for c in columns)
