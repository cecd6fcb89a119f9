"""Named filter recipes (the Magpie paper's released filters) and user rules.

A rule is a small dict, so recipes serialise into pipeline YAML:
    {"column": "quality", "op": ">=", "value": "average"}      threshold (labels compare by rank)
    {"column": "instruction", "op": "not_endswith", "value": ":"}
    {"top_k": 300000, "by": "response_length"}                keep the k largest (ties: content hash)
Rules apply in order; each reports how many rows it removed.
"""


import hashlib
import json
import operator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional

from distilabel.mixins.runtime_parameters import RuntimeParameter
from distilabel.steps.base import GlobalStep, StepInput
from pydantic import Field, PrivateAttr

from distilabel_magpie.curation.base import DropCounter
from distilabel_magpie.generation.docstrings import cites_magpie
from distilabel_magpie.errors import MagpieError
from distilabel_magpie.scoring.parsing import DIFFICULTY_LEVELS, QUALITY_LEVELS
from distilabel_magpie.storage.columns import require_columns

if TYPE_CHECKING:
    from distilabel.typing import StepColumns, StepOutput

ORDINAL = {"quality": QUALITY_LEVELS, "difficulty": DIFFICULTY_LEVELS}
# Columns computed from others, usable in any rule.
DERIVED: dict[str, Callable[[dict], Any]] = {
    "response_length": lambda r: len(r["response"]) if isinstance(r.get("response"), str) else None,
    "instruction_length": lambda r: len(r["instruction"]) if isinstance(r.get("instruction"), str) else None,
}
_DERIVED_FROM = {"response_length": "response", "instruction_length": "instruction"}

RECIPES: dict[str, list[dict]] = {
    # Magpie-Pro-300K-Filtered (paper Table 5)
    "pro-300k-filtered": [
        {"column": "quality", "op": ">=", "value": "average"},
        {"column": "min_neighbor_distance", "op": ">", "value": 0},
        {"column": "reward", "op": ">", "value": -12},
        {"top_k": 300_000, "by": "response_length"},
    ],
    # Magpie-Air-300K-Filtered (paper Table 5)
    "air-300k-filtered": [
        {"column": "quality", "op": ">=", "value": "good"},
        {"column": "difficulty", "op": ">=", "value": "medium"},
        {"column": "min_neighbor_distance", "op": ">", "value": 0},
        {"column": "reward_difference", "op": ">", "value": 0},
        {"top_k": 300_000, "by": "response_length"},
    ],
    # The filter described on the released dataset cards: "no repeats" keeps one row per
    # near-duplicate cluster (its representative), so a repeated query survives once.
    "card": [
        {"column": "quality", "op": ">=", "value": "average"},
        {"column": "reward", "op": ">=", "value": -10},
        {"column": "is_representative", "op": "==", "value": True},
        {"column": "instruction", "op": "not_endswith", "value": ":"},
    ],
    # Building blocks for the other curation steps (combine with `rules`): one row per lexical
    # near-duplicate cluster (LexicalDuplicates), and no row contaminated by a benchmark
    # (Decontaminate; `status_columns=["contamination_status"]` does the same as a status check).
    "lexical-dedup": [{"column": "lexical_is_representative", "op": "==", "value": True}],
    "decontaminated": [{"column": "contamination_status", "op": "==", "value": "ok"}],
}

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le, "==": operator.eq, "!=": operator.ne,
    "in": lambda a, b: a in b, "not_in": lambda a, b: a not in b,
    "endswith": lambda a, b: str(a).rstrip().endswith(b), "not_endswith": lambda a, b: not str(a).rstrip().endswith(b),
    "startswith": lambda a, b: str(a).lstrip().startswith(b),
    "contains": lambda a, b: b in str(a), "not_contains": lambda a, b: b not in str(a),
}


def row_hash(row: dict) -> str:
    """A content hash of a row: the order-independent tie-breaker."""
    return hashlib.sha1(json.dumps(row, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class Rule:
    column: str
    op: Optional[str] = None
    value: Any = None
    top_k: Optional[int] = None
    descending: bool = True

    @classmethod
    def parse(cls, spec: dict) -> "Rule":
        if not isinstance(spec, dict):
            raise MagpieError(f"a filter rule must be a dict, got {spec!r}")
        if "top_k" in spec:
            k = spec["top_k"]
            if not isinstance(k, int) or k < 0:
                raise MagpieError(f"top_k must be a non-negative integer, got {k!r}")
            return cls(column=spec.get("by", "response_length"), top_k=k, descending=spec.get("descending", True))
        unknown = set(spec) - {"column", "op", "value"}
        if unknown or "column" not in spec or spec.get("op") not in _OPS:
            raise MagpieError(f"bad filter rule {spec!r}: expected {{'column', 'op', 'value'}} with op one of "
                              f"{', '.join(_OPS)}, or {{'top_k', 'by'}}")
        column, value = spec["column"], spec.get("value")
        if column in ORDINAL and spec["op"] in (">", ">=", "<", "<=") and value not in ORDINAL[column]:
            raise MagpieError(f"{column} is compared by rank: value must be one of {', '.join(ORDINAL[column])}")
        return cls(column=column, op=spec["op"], value=value)

    @property
    def source_column(self) -> str:
        return _DERIVED_FROM.get(self.column, self.column)

    def describe(self) -> str:
        if self.top_k is not None:
            return f"top {self.top_k} by {self.column}" + ("" if self.descending else " (ascending)")
        return f"{self.column} {self.op} {self.value!r}"

    def value_of(self, row: dict) -> Any:
        return DERIVED[self.column](row) if self.column in DERIVED else row.get(self.column)

    def keeps(self, row: dict) -> bool:
        got = self.value_of(row)
        if got is None:
            return False  # an unknown value never passes a threshold
        if self.column in ORDINAL and self.op in (">", ">=", "<", "<="):
            if got not in ORDINAL[self.column]:
                return False
            got, value = ORDINAL[self.column].index(got), ORDINAL[self.column].index(self.value)
        else:
            value = self.value
        try:
            return bool(_OPS[self.op](got, value))
        except TypeError:
            return False

    def top(self, rows: list[dict]) -> set[int]:
        """Positions of the rows kept by a top-k rule (rows without a value rank last)."""
        sign = -1 if self.descending else 1

        def key(i: int):
            v = self.value_of(rows[i])
            return (v is None, sign * v if isinstance(v, (int, float)) else 0, row_hash(rows[i]))

        return set(sorted(range(len(rows)), key=key)[: self.top_k])


def resolve_rules(recipe: Optional[str], rules: list[dict], top_k: Optional[int] = None,
                  allow_empty: bool = False) -> list[Rule]:
    specs: list[dict] = []
    if recipe:
        if recipe not in RECIPES:
            raise MagpieError(f"unknown filter recipe {recipe!r}; known: {', '.join(RECIPES)}")
        specs += [dict(s) for s in RECIPES[recipe]]
    specs += list(rules)
    if top_k is not None:
        specs = [({**s, "top_k": top_k} if "top_k" in s else s) for s in specs]
    if not specs and not allow_empty:
        raise MagpieError("FilterRecipe needs a recipe name or at least one rule")
    return [Rule.parse(s) for s in specs]


@cites_magpie
class FilterRecipe(DropCounter, GlobalStep):
    """Applies a named filter recipe and/or user rules to the whole dataset, in order, and reports
    how many rows each rule removed.

    Recipes (Magpie paper Table 5 and the released dataset cards):
        - `pro-300k-filtered`: quality >= average, min_neighbor_distance > 0, reward > -12,
          then the 300K longest responses.
        - `air-300k-filtered`: quality >= good, difficulty >= medium, min_neighbor_distance > 0,
          reward_difference > 0, then the 300K longest responses.
        - `card`: quality >= average, reward >= -10, no repeats (cluster representatives only),
          no query ending with ':'.
        - `lexical-dedup`: lexical cluster representatives only (`LexicalDuplicates`).
        - `decontaminated`: rows `Decontaminate` did not flag.

    Rules are dicts: `{"column", "op", "value"}` (ops: > >= < <= == != in not_in endswith
    not_endswith startswith contains not_contains; `quality` and `difficulty` compare by rank) or
    `{"top_k", "by"}` (optionally `"descending": false`). `response_length` and
    `instruction_length` are derived columns. A row whose value is missing fails a threshold.

    Status columns (`status_columns`, e.g. `instruction_status`, `response_status`) are checked
    first: a row whose query or answer failed is dropped for that (`failed: response_status ==
    'ok'`, its value in the dropped row) rather than for a tag its judge never gave; a status
    column no row has is left out.

    Attributes:
        recipe: a recipe name (optional).
        rules: rules applied after the recipe's.
        status_columns: columns that must be `ok`, checked before the rules.
        top_k: replaces the `k` of every top-k rule (e.g. a smaller dataset than 300K).

    Runtime parameters:
        - `recipe`: the recipe name.
        - `top_k`: the `k` of the top-k rules.
        - `dropped_path`: JSONL file receiving the dropped rows with their `drop_reason`.

    Input columns:
        - the columns the rules name (e.g. quality, difficulty, reward, reward_difference,
          min_neighbor_distance, is_representative, instruction, response).

    Output columns:
        - none: rows pass unchanged or are dropped.

    Categories:
        - filtering

    References:
        - [Magpie: Alignment Data Synthesis from Scratch by Prompting Aligned LLMs with Nothing](https://arxiv.org/abs/2406.08464)

    Examples:
        The Pro-300K-Filtered recipe with a smaller top-k and a language rule:

        ```python
        from distilabel_magpie.curation import FilterRecipe

        step = FilterRecipe(recipe="pro-300k-filtered", top_k=1000,
                            rules=[{"column": "language", "op": "==", "value": "EN"}])
        ```
    """

    recipe: Optional[RuntimeParameter[str]] = Field(
        default=None, description="A named recipe: pro-300k-filtered, air-300k-filtered, card, lexical-dedup or "
        "decontaminated.")
    rules: List[Dict[str, Any]] = Field(default_factory=list)
    status_columns: List[str] = Field(default_factory=list)
    top_k: Optional[RuntimeParameter[int]] = Field(
        ge=1, default=None, description="Replaces k in every top-k rule of the recipe.")

    _rules: list[Rule] = PrivateAttr(default_factory=list)
    _rule_counts: list = PrivateAttr(default_factory=list)

    @property
    def rule_counts(self) -> list[tuple[str, int]]:
        """(rule, rows it removed) for the last `filter` call."""
        return self._rule_counts

    def load(self) -> None:
        super().load()
        self._rules = resolve_rules(self.recipe, self.rules, self.top_k, allow_empty=bool(self.status_columns))
        self._reset_counts()

    @property
    def inputs(self) -> "StepColumns":
        rules = resolve_rules(self.recipe, self.rules, self.top_k, allow_empty=bool(self.status_columns))
        return {**{c: False for c in self.status_columns}, **{r.source_column: True for r in rules}}

    @property
    def outputs(self) -> "StepColumns":
        return []

    def filter(self, rows: list[dict]) -> list[dict]:
        """Apply the rules to all rows; fills `rule_counts` with (rule, removed)."""
        require_columns(rows, [r.source_column for r in self._rules], self.name)
        self._rule_counts = []
        present = set().union(*(r.keys() for r in rows)) if rows else set()
        status = [Rule(column=c, op="==", value="ok") for c in self.status_columns if c in present]
        for rule in status + self._rules:
            if rule.top_k is not None:
                keep = rule.top(rows)
                kept = [r for i, r in enumerate(rows) if i in keep]
                dropped = [r for i, r in enumerate(rows) if i not in keep]
            else:
                kept, dropped = [], []
                for r in rows:
                    (kept if rule.keeps(r) else dropped).append(r)
            reason = rule.describe()
            self._rule_counts.append((reason, len(dropped)))
            self._count(0, [(r, f"failed: {reason}") for r in dropped])
            rows = kept
        self._count(len(rows), [])
        return rows

    def process(self, inputs: StepInput) -> "StepOutput":  # type: ignore[override]
        kept = self.filter(list(inputs))
        lines = "; ".join(f"{rule}: -{n}" for rule, n in self.rule_counts)
        self._logger.info(f"{self.name}: {self.summary()} [{lines}]")
        yield kept
