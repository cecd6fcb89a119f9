"""Lexical near-duplicates at scale: MinHash LSH on the queries, independent of row order.

Complements `NearDuplicates` (semantic: embeddings, catches paraphrases): this step catches
texts that share most of their words (templated or lightly edited queries), on millions of rows
in flat memory, with no model. Signatures come from `rensa` (MinHash in Rust; see
docs/curation.md for the measurement against datasketch); the banding, the candidate check and
the clustering are numpy here, so memory is one row of band hashes per unique text.

Steps: exact repeats are merged and the unique texts put in a canonical order (sorted by a hash
of the text, as `NearDuplicates`); each text becomes a set of word n-grams ("shingles", after
the "words" normalisation of `decontaminate.normalise`); its MinHash signature is cut into
`bands` bands of `rows_per_band` values, each hashed; texts sharing a band hash are candidates;
each candidate is compared with the first (canonical) text of its bucket by exact Jaccard
similarity of the shingle sets and kept at or above `threshold`; clusters are the connected
components; the representative is picked by rule (best `rank_by`, then a content hash).
"""


import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional, Sequence

import numpy as np
from distilabel.mixins.runtime_parameters import RuntimeParameter
from distilabel.steps.base import GlobalStep, StepInput
from pydantic import Field

from distilabel_magpie.curation.base import DropCounter
from distilabel_magpie.curation.decontaminate import normalise
from distilabel_magpie.curation.recipes import row_hash
from distilabel_magpie.errors import MagpieError
from distilabel_magpie.storage.columns import require_columns

if TYPE_CHECKING:
    from distilabel.typing import StepColumns, StepOutput

SEED = 1234
OUTPUT_COLUMNS = ["lexical_cluster_id", "lexical_cluster_size", "lexical_is_representative"]


def shingles(text: str, n: int = 2) -> set[str]:
    """Word n-grams of the normalised text (the whole text when it is shorter than n words)."""
    words = normalise(text, "words") if isinstance(text, str) else []
    if len(words) <= n:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i: i + n]) for i in range(len(words) - n + 1)}


def jaccard(a: set, b: set) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def _rensa():
    try:
        import rensa
    except ImportError:
        raise MagpieError("lexical dedup needs rensa: pip install 'distilabel-magpie[curation]' (or pip install rensa)") \
            from None
    return rensa


def band_hashes(shingle_sets: Sequence[set[str]], bands: int, rows_per_band: int, seed: int = SEED) -> np.ndarray:
    """(len, bands) uint64: one hash per band of each text's MinHash signature; an empty text
    gets a hash of its own (it is nobody's candidate)."""
    rensa = _rensa()
    num_perm = bands * rows_per_band
    tokens = [sorted(s) if s else [""] for s in shingle_sets]
    signatures = np.asarray(rensa.RMinHash.digest_matrix_from_token_sets(tokens, num_perm, seed).to_rows(),
                            dtype=np.uint64).reshape(len(tokens), bands, rows_per_band)
    h = np.zeros((len(tokens), bands), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for r in range(rows_per_band):
            h = h * np.uint64(0x9E3779B97F4A7C15) + signatures[:, :, r]
        h ^= h >> np.uint64(31)
    empty = np.array([not s for s in shingle_sets])
    if empty.any():  # unique per text, so no bucket
        h[empty] = (np.nonzero(empty)[0][:, None].astype(np.uint64) << np.uint64(32)) + np.arange(bands, dtype=np.uint64)
        h[empty] |= np.uint64(1 << 63)
    return h


def candidate_pairs(bands: np.ndarray) -> np.ndarray:
    """(m, 2) pairs (i < j) of texts that share a band hash: each bucket member is paired with the
    bucket's first (lowest-index) member."""
    n = len(bands)
    found = []
    for b in range(bands.shape[1]):
        order = np.argsort(bands[:, b], kind="stable")
        values = bands[order, b]
        same = np.zeros(n, dtype=bool)
        same[1:] = values[1:] == values[:-1]
        if not same.any():
            continue
        run_start = np.maximum.accumulate(np.where(~same, np.arange(n), 0))
        members = np.nonzero(same)[0]
        found.append(order[run_start[members]].astype(np.int64) * n + order[members])
    if not found:
        return np.zeros((0, 2), np.int64)
    codes = np.unique(np.concatenate(found))
    return np.stack([codes // n, codes % n], axis=1)


def cluster_labels(n: int, pairs: np.ndarray) -> np.ndarray:
    """Connected component of each node, labelled by its smallest member."""
    if len(pairs) == 0:
        return np.arange(n)
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(pairs), np.int8), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, comp = connected_components(graph, directed=False)
    smallest = np.full(comp.max() + 1, n, dtype=np.int64)
    np.minimum.at(smallest, comp, np.arange(n))
    return smallest[comp]


@dataclass
class LexicalResult:
    cluster_id: list[int]
    cluster_size: list[int]
    is_representative: list[bool]
    pairs: np.ndarray  # verified pairs of unique texts (canonical indices)
    candidates: int  # candidate pairs before the Jaccard check
    unique_texts: list[str]


def lexical_duplicates(texts: Sequence[str], threshold: float = 0.7, ngram_size: int = 2, bands: int = 20,
                       rows_per_band: int = 5, rank: Optional[Sequence[Any]] = None,
                       row_keys: Optional[Sequence[str]] = None, chunk: int = 10_000,
                       verify: bool = True) -> LexicalResult:
    """Tag rows (see the module docstring). `rank`: preferred representative (higher is better,
    None worst); `row_keys` break ties (default: the text's hash)."""
    from distilabel_magpie.curation.dedup import _better

    if not 0 < threshold <= 1:
        raise MagpieError(f"threshold is a Jaccard similarity: 0 < threshold <= 1, got {threshold}")
    keys = [hashlib.sha1(t.encode("utf-8")).hexdigest() for t in texts]
    first: dict[str, str] = {}
    for k, t in zip(keys, texts):
        first.setdefault(k, t)
    unique = sorted(first)
    position = {k: i for i, k in enumerate(unique)}
    u = len(unique)
    bh = np.zeros((u, bands), dtype=np.uint64)
    for start in range(0, u, chunk):  # bounded memory: shingles of one chunk at a time
        sets = [shingles(first[k], ngram_size) for k in unique[start: start + chunk]]
        bh[start: start + len(sets)] = band_hashes(sets, bands, rows_per_band)
    candidates = candidate_pairs(bh)
    del bh
    if verify and len(candidates):
        cache: dict[int, set] = {}

        def sh(i: int) -> set:
            s = cache.get(i)
            if s is None:
                if len(cache) > 200_000:
                    cache.clear()
                s = cache[i] = shingles(first[unique[i]], ngram_size)
            return s

        keep = np.fromiter((jaccard(sh(int(a)), sh(int(b))) >= threshold for a, b in candidates), dtype=bool,
                           count=len(candidates))
        pairs = candidates[keep]
    else:
        pairs = candidates
    labels = cluster_labels(u, pairs)
    cluster_rank = {label: i for i, label in enumerate(np.unique(labels).tolist())}
    uid = np.array([position[k] for k in keys], dtype=np.int64)
    row_label = labels[uid] if len(uid) else np.zeros(0, np.int64)
    size = np.bincount(row_label, minlength=u)
    cluster = [cluster_rank[int(x)] for x in row_label]
    rank = list(rank) if rank is not None else None
    tie = list(row_keys) if row_keys is not None else keys
    best: dict[int, int] = {}
    for row, c in enumerate(cluster):
        other = best.get(c)
        if other is None or _better(rank[row] if rank else None, tie[row], rank[other] if rank else None, tie[other]):
            best[c] = row
    chosen = np.zeros(len(texts), dtype=bool)
    chosen[list(best.values())] = True
    return LexicalResult(cluster, size[row_label].tolist(), chosen.tolist(), pairs, len(candidates),
                         [first[k] for k in unique])


class LexicalDuplicates(DropCounter, GlobalStep):
    """Finds lexical near-duplicate queries with MinHash LSH (word n-grams, exact Jaccard check of
    the candidates): each row's cluster, its size, and one representative per cluster. The
    result does not depend on row order. Complements `NearDuplicates` (embeddings): this one
    needs no model and scales to millions of rows in flat memory.

    Defaults: word 2-grams (queries are short: one changed word in a 20-word query keeps a
    Jaccard similarity of about 0.8), 20 bands of 5 MinHash values (100 permutations; the
    S-curve's midpoint is near 0.55, so pairs at 0.7 are candidates with probability 0.97),
    candidates kept at Jaccard >= 0.7.

    Attributes:
        column: text to compare (default `instruction`).
        ngram_size: words per shingle.
        threshold: exact Jaccard similarity of the shingle sets at or above which two texts are
            near-duplicates.
        bands: LSH bands.
        rows_per_band: MinHash values per band (bands x rows_per_band permutations).
        rank_by: column whose highest value makes a row its cluster's representative (default
            `reward`; ignored when absent); ties go to the smallest content hash.
        drop_duplicates: keep only each cluster's representative.

    Runtime parameters:
        - `threshold`: Jaccard similarity of near-duplicates.
        - `ngram_size`: words per shingle.
        - `bands`: LSH bands.
        - `rows_per_band`: MinHash values per band.
        - `drop_duplicates`: keep only representatives.
        - `dropped_path`: JSONL file receiving dropped rows with their `drop_reason`.

    Input columns:
        - instruction (`str`): the query (`column`).
        - reward (`float`, optional): preferred representative (`rank_by`).

    Output columns:
        - lexical_cluster_id (`int`): lexical near-duplicate cluster (stable under shuffling).
        - lexical_cluster_size (`int`): rows in the cluster.
        - lexical_is_representative (`bool`): the row kept for its cluster.

    Categories:
        - filtering

    References:
        - [On the resemblance and containment of documents](https://doi.org/10.1109/SEQUEN.1997.666900)
        - [datatrove MinHash deduplication](https://github.com/huggingface/datatrove)

    Examples:
        Tag and drop lexical near-duplicates:

        ```python
        from distilabel_magpie.curation import LexicalDuplicates

        step = LexicalDuplicates(drop_duplicates=True)
        step.load()
        rows = next(step.process([
            {"instruction": "Write a Python function that reverses a string without using slicing."},
            {"instruction": "Write a Python function that reverses a string without using slicing, please."}]))
        len(rows)  # 1
        ```
    """

    column: str = "instruction"
    ngram_size: RuntimeParameter[int] = Field(ge=1, default=2, description="Words per shingle.")
    threshold: RuntimeParameter[float] = Field(
        gt=0, le=1, default=0.7, description="Jaccard similarity of the shingle sets of near-duplicates.")
    bands: RuntimeParameter[int] = Field(ge=1, default=20, description="LSH bands.")
    rows_per_band: RuntimeParameter[int] = Field(ge=1, default=5, description="MinHash values per band.")
    rank_by: Optional[str] = "reward"
    drop_duplicates: RuntimeParameter[bool] = Field(
        default=False, description="Keep only each cluster's representative.")

    def load(self) -> None:
        super().load()
        _rensa()
        self._reset_counts()

    @property
    def inputs(self) -> "StepColumns":
        return {self.column: True, **({self.rank_by: False} if self.rank_by else {})}

    @property
    def outputs(self) -> "StepColumns":
        return list(OUTPUT_COLUMNS)

    def process(self, inputs: StepInput) -> "StepOutput":  # type: ignore[override]
        rows = list(inputs)
        require_columns(rows, [self.column], self.name)
        texts = [r.get(self.column) if isinstance(r.get(self.column), str) else "" for r in rows]
        result = lexical_duplicates(
            texts, self.threshold, self.ngram_size, self.bands, self.rows_per_band,
            rank=[r.get(self.rank_by) for r in rows] if self.rank_by else None,
            row_keys=[row_hash({k: v for k, v in r.items() if k not in ("distilabel_metadata", *OUTPUT_COLUMNS)})
                      for r in rows])
        for i, row in enumerate(rows):
            row["lexical_cluster_id"] = result.cluster_id[i]
            row["lexical_cluster_size"] = result.cluster_size[i]
            row["lexical_is_representative"] = result.is_representative[i]
        if not self.drop_duplicates:
            self._count(len(rows), [])
            yield rows
            return
        kept = [r for r in rows if r["lexical_is_representative"]]
        self._count(len(kept), [(r, f"lexical near-duplicate in cluster {r['lexical_cluster_id']}")
                                for r in rows if not r["lexical_is_representative"]],
                    lambda _: "lexical near-duplicate")
        self._logger.info(f"{self.name}: {self.summary()}")
        yield kept
