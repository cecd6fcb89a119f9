"""The statistics of a comparison, each a plain function of texts, numbers or vectors: bootstrap
confidence intervals, distinct openings, distinct-n, repeats and minimum-neighbour distances."""

from __future__ import annotations

import collections
import math
import re
from typing import Optional, Sequence

import numpy as np

from distilabel_magpie.curation.dedup import exact_neighbours
from distilabel_magpie.generation.cleaning import normalize

RESAMPLES = 2000
SEED = 0
LEVEL = 0.95
_WORD = re.compile(r"\w+")


def bootstrap_mean(values: Sequence[float], seed: int = SEED, resamples: int = RESAMPLES,
                   level: float = LEVEL) -> Optional[dict]:
    """The mean of `values` with a percentile bootstrap interval: `resamples` resamples with
    replacement drawn by numpy's PCG64 from `seed`, so the same values give the same interval
    on every machine. None without values; one value has an interval of zero width."""
    data = np.asarray([float(v) for v in values], dtype=np.float64)
    if data.size == 0:
        return None
    mean = float(data.mean())
    if data.size == 1:
        low = high = mean
    else:
        rng = np.random.default_rng(seed)
        means = data[rng.integers(0, data.size, size=(resamples, data.size))].mean(axis=1)
        low, high = (float(x) for x in np.quantile(means, [(1 - level) / 2, (1 + level) / 2]))
    return {"mean": rounded(mean), "low": rounded(low), "high": rounded(high), "n": int(data.size)}


def rounded(x: float) -> float:
    return round(x, 6) if math.isfinite(x) else x


def words(text: str) -> list[str]:
    """Case-folded runs of letters and digits ("Don't stop!" -> don, t, stop)."""
    return _WORD.findall(text.casefold())


def opening(text: str, n: int = 4) -> str:
    """The first `n` words (fewer for a shorter text)."""
    return " ".join(words(text)[:n])


def distinct_openings(texts: Sequence[str], n: int = 4) -> dict:
    """How many different first-`n`-word openings the texts have, and that count per text."""
    found = {opening(t, n) for t in texts}
    return {"distinct": len(found), "texts": len(texts), "ratio": rounded(len(found) / len(texts)) if texts else None}


def distinct_n(texts: Sequence[str], n: int) -> Optional[float]:
    """distinct-n (Li et al., 2016): different word n-grams over all n-grams of all texts; None
    when no text has n words."""
    grams: collections.Counter = collections.Counter()
    for text in texts:
        w = words(text)
        grams.update(tuple(w[i:i + n]) for i in range(len(w) - n + 1))
    total = sum(grams.values())
    return rounded(len(grams) / total) if total else None


def repeat_flags(texts: Sequence[str]) -> list[bool]:
    """Per text, whether it repeats an earlier one (case, spacing and Unicode form aside)."""
    seen: set = set()
    flags = []
    for text in texts:
        key = normalize(text)
        flags.append(key in seen)
        seen.add(key)
    return flags


def min_neighbour_distances(vectors: np.ndarray) -> np.ndarray:
    """Per vector, the cosine distance (1 - cosine similarity) to its nearest other vector; inf
    for a lone vector. The vectors are normalised here; the search is NearDuplicates' exact one
    (L2 between unit vectors, for which 1 - cos = L2² / 2)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if len(vectors) == 0:
        return np.zeros(0)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = np.ascontiguousarray(vectors / np.where(norms == 0, 1, norms), dtype=np.float32)
    l2 = exact_neighbours(unit, threshold=-1.0).min_distance.astype(np.float64)
    return np.where(np.isfinite(l2), l2 ** 2 / 2, np.inf)


def histogram(values: Sequence[float], low: float, high: float, bins: int) -> list[int]:
    """Counts of `values` in `bins` equal bins over [low, high] (the last bin closed)."""
    counts, _ = np.histogram(np.asarray(values, dtype=np.float64), bins=bins, range=(low, high))
    return [int(c) for c in counts]
