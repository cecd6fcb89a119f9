"""Filter stages in the style of HF datatrove: a filter answers "keep?" with a reason, the base
class counts seen / kept / dropped (per reason) and can write every dropped row with its reason
to a JSONL file, so nothing disappears without a trace."""


import collections
import json
from abc import abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Optional

from distilabel.mixins.runtime_parameters import RuntimeParameter
from distilabel.steps.base import Step, StepInput
from pydantic import Field, PrivateAttr

from distilabel_magpie.runtime.step import UsesRuntime

if TYPE_CHECKING:
    from distilabel.typing import StepOutput


class DropCounter(UsesRuntime):
    """Mixin for steps that drop rows: counts and, with `dropped_path`, keeps the dropped rows."""

    dropped_path: Optional[RuntimeParameter[str]] = Field(
        default=None, description="JSONL file that receives every dropped row with a `drop_reason` column "
        "(rewritten at each run).")

    _stats: dict = PrivateAttr(default_factory=lambda: {"seen": 0, "kept": 0, "dropped": 0,
                                                        "reasons": collections.Counter()})

    def model_post_init(self, __context: Any) -> None:
        # Defined so that pydantic does not shadow the step's own hook (pipeline registration).
        super().model_post_init(__context)

    def _reset_counts(self) -> None:
        self._stats = {"seen": 0, "kept": 0, "dropped": 0, "reasons": collections.Counter()}
        if self.dropped_path:
            path = Path(self.dropped_path)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("", encoding="utf-8")

    def _count(self, kept: int, dropped: Iterable[tuple[dict, str]], reason_key=lambda r: r) -> None:
        dropped = list(dropped)
        self._stats["seen"] += kept + len(dropped)
        self._stats["kept"] += kept
        self._stats["dropped"] += len(dropped)
        for _, reason in dropped:
            self._stats["reasons"][reason_key(reason)] += 1
        if self.dropped_path and dropped:
            with open(self.dropped_path, "a", encoding="utf-8") as f:
                for row, reason in dropped:
                    f.write(json.dumps({**row, "drop_reason": reason}, default=str, ensure_ascii=False) + "\n")

    @property
    def stats(self) -> dict[str, Any]:
        """seen / kept / dropped and dropped rows per reason, so far in this run."""
        return {**self._stats, "reasons": dict(self._stats["reasons"])}

    def summary(self) -> str:
        s = self._stats
        reasons = ", ".join(f"{reason}: {n}" for reason, n in s["reasons"].most_common())
        return f"seen {s['seen']}, kept {s['kept']}, dropped {s['dropped']}" + (f" ({reasons})" if reasons else "")


class RowFilter(DropCounter, Step):
    """Base of row filters: subclasses implement `keep(row) -> (keep, reason)`.

    Runtime parameters:
        - `dropped_path`: JSONL file receiving the dropped rows with their `drop_reason`.
    """

    @abstractmethod
    def keep(self, row: dict) -> tuple[bool, Optional[str]]:
        """Whether to keep `row`, and why not."""

    def reason_group(self, reason: str) -> str:
        """The key a reason is counted under (override to group reasons that embed values)."""
        return reason

    def load(self) -> None:
        super().load()
        self._reset_counts()

    def unload(self) -> None:
        if self._stats["seen"]:
            self._logger.info(f"{self.name}: {self.summary()}")
        super().unload()

    def process(self, inputs: StepInput) -> "StepOutput":  # type: ignore[override]
        kept, dropped = [], []
        for row in inputs:
            ok, reason = self.keep(row)
            if ok:
                kept.append(row)
            else:
                dropped.append((row, reason or "dropped"))
        self._count(len(kept), dropped, self.reason_group)
        yield kept


class StatusFilter(RowFilter):
    """Keeps rows whose status columns are `ok` (e.g. drop truncated or leaked queries before
    spending a reward model or a judge on them).

    Attributes:
        columns: status columns that must equal one of `allowed`; a missing column is ignored.
        allowed: accepted values.

    Runtime parameters:
        - `dropped_path`: JSONL file receiving the dropped rows with their `drop_reason`.

    Input columns:
        - instruction_status (`str`, optional): and any other column in `columns`.

    Output columns:
        - none: rows pass unchanged or are dropped.

    Categories:
        - filtering

    Examples:
        Keep only accepted queries:

        ```python
        from distilabel_magpie.curation import StatusFilter

        step = StatusFilter(columns=["instruction_status"])
        step.load()
        next(step.process([{"instruction_status": "ok"}, {"instruction_status": "truncated"}]))  # 1 row
        ```
    """

    columns: list[str] = Field(default_factory=lambda: ["instruction_status"])
    allowed: list[str] = Field(default_factory=lambda: ["ok"])

    @property
    def inputs(self):
        return {c: False for c in self.columns}

    @property
    def outputs(self):
        return []

    def keep(self, row: dict) -> tuple[bool, Optional[str]]:
        for column in self.columns:
            if column in row and row[column] not in self.allowed:
                return False, f"{column}={row[column]}"
        return True, None
