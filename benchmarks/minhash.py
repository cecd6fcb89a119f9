"""Lexical dedup benchmark: synthetic queries (made here, nothing downloaded) with planted near
duplicates, tagged by the same code as the `LexicalDuplicates` step. Prints the CPU, time, peak
memory (max RSS of a fresh process), recall on the planted pairs, and recall / precision against
exact Jaccard on a sample.

    python benchmarks/minhash.py                   # one million queries
    python benchmarks/minhash.py --rows 20000      # a quick run
    python benchmarks/minhash.py --compare         # signature time: rensa vs datasketch on 20k texts

Planted pairs: ~10% of the rows copy an earlier query with one word changed, added or removed
(exact Jaccard of the word-2-gram sets mostly >= 0.7, the default threshold) and ~2% repeat a
query exactly. "Recall (planted, J >= t)" counts the planted pairs whose exact Jaccard is at or
above the threshold (what the step promises to find); the sample check takes random rows plus
their planted partners, computes every pair's exact Jaccard, and compares with the clusters.
"""

import argparse
import json
import platform
import random
import resource
import subprocess
import sys
import time

import numpy as np

WORDS = ("python rust javascript sql list dictionary string file json csv tree graph matrix date image table "
         "function class loop recursion sort reverse parse validate compress merge split filter encrypt format "
         "debug test optimise explain clean convert count find remove replace read write print plot train "
         "model data error memory thread process server client request response cache index query user "
         "password email number prime even odd sum average maximum minimum length vowel word sentence "
         "letter character array stack queue heap binary search insert delete update schedule budget recipe "
         "poem story essay summary history science physics chemistry biology economics music travel health "
         "exercise diet sleep garden kitchen weather planet ocean mountain river city country language").split()
OPENERS = ["How do I", "Can you write a program to", "Write a function that will", "Explain how to",
           "What is the best way to", "Help me", "I need code to", "Show me how to"]


def make_query(rng: random.Random) -> str:
    return f"{rng.choice(OPENERS)} " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(10, 22))) + "?"


def edit(rng: random.Random, text: str) -> str:
    words = text.rstrip("?").split()
    i = rng.randrange(3, len(words))
    kind = rng.random()
    if kind < 0.4:
        words[i] = rng.choice(WORDS)
    elif kind < 0.7:
        words.insert(i, rng.choice(WORDS))
    else:
        del words[i]
    return " ".join(words) + "?"


def synthetic(n: int, seed: int = 0) -> tuple[list[str], list[tuple[int, int]]]:
    """Queries and the planted (original, copy) row pairs."""
    rng = random.Random(seed)
    texts: list[str] = []
    planted: list[tuple[int, int]] = []
    for i in range(n):
        roll = rng.random()
        if i and roll < 0.02:
            j = rng.randrange(i)
            texts.append(texts[j])
        elif i and roll < 0.12:
            j = rng.randrange(i)
            texts.append(edit(rng, texts[j]))
            planted.append((j, i))
        else:
            texts.append(make_query(rng))
    return texts, planted


def exact_pairs(sets: list[set], threshold: float) -> set[tuple[int, int]]:
    """All pairs (i < j) of the sample with exact Jaccard >= threshold (sparse matrix product)."""
    from scipy.sparse import csr_matrix

    vocab: dict[str, int] = {}
    rows, cols = [], []
    for i, s in enumerate(sets):
        for g in s:
            rows.append(i)
            cols.append(vocab.setdefault(g, len(vocab)))
    x = csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(len(sets), len(vocab)))
    inter = (x @ x.T).toarray()
    size = np.array([len(s) for s in sets], dtype=np.float32)
    jac = inter / np.maximum(size[:, None] + size[None, :] - inter, 1)
    i, j = np.nonzero(np.triu(jac >= threshold, k=1))
    return set(zip(i.tolist(), j.tolist()))


def run_one(n: int, threshold: float, sample: int) -> dict:
    from distilabel_magpie.curation.minhash import jaccard, lexical_duplicates, shingles

    texts, planted = synthetic(n)
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    result = lexical_duplicates(texts, threshold=threshold)
    seconds = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cluster = result.cluster_id
    above = [(a, b) for a, b in planted if jaccard(shingles(texts[a]), shingles(texts[b])) >= threshold]
    found_above = sum(cluster[a] == cluster[b] for a, b in above)
    found_all = sum(cluster[a] == cluster[b] for a, b in planted)
    # sample check: random rows plus their planted partners, all pairs by exact Jaccard
    rng = random.Random(1)
    partner = {}
    for a, b in planted:
        partner.setdefault(a, b)
        partner.setdefault(b, a)
    picked = sorted({i for r in rng.sample(range(n), min(sample, n)) for i in (r, partner.get(r, r))})
    sets = [shingles(texts[i]) for i in picked]
    truth = {(a, b) for a, b in exact_pairs(sets, threshold) if texts[picked[a]] != texts[picked[b]]}
    same = {(a, b) for a in range(len(picked)) for b in range(a + 1, len(picked))
            if cluster[picked[a]] == cluster[picked[b]] and texts[picked[a]] != texts[picked[b]]} \
        if len(picked) <= 12_000 else set()
    return {"rows": n, "unique_texts": len(result.unique_texts), "seconds": round(seconds, 1),
            "peak_rss_mib": round(rss / 1024), "rss_before_mib": round(base_rss / 1024),
            "planted_pairs": len(planted), "planted_at_or_above_threshold": len(above),
            "recall_planted_at_or_above": round(found_above / max(len(above), 1), 4),
            "recall_planted_all": round(found_all / max(len(planted), 1), 4),
            "candidates": result.candidates, "verified_pairs": len(result.pairs),
            "sample_rows": len(picked), "sample_true_pairs": len(truth),
            "sample_recall": round(len(truth & same) / max(len(truth), 1), 4),
            "sample_precision": round(len(truth & same) / max(len(same), 1), 4)}


def compare(n: int = 20_000) -> dict:
    """Signature time of the two maintained MinHash libraries on the same shingle sets."""
    import datasketch
    import rensa

    from distilabel_magpie.curation.minhash import shingles

    texts, _ = synthetic(n)
    sets = [sorted(shingles(t)) for t in texts]
    start = time.perf_counter()
    rensa.RMinHash.digest_matrix_from_token_sets(sets, 100, 1).to_rows()
    t_rensa = time.perf_counter() - start
    start = time.perf_counter()
    datasketch.MinHash.bulk([[g.encode() for g in s] for s in sets], num_perm=100)
    t_ds = time.perf_counter() - start
    return {"texts": n, "rensa_s": round(t_rensa, 2), "datasketch_s": round(t_ds, 2),
            "datasketch_over_rensa": round(t_ds / t_rensa, 1)}


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--threshold", type=float, default=0.7)
    parser.add_argument("--sample", type=int, default=4000, help="random rows of the exact-Jaccard check")
    parser.add_argument("--compare", action="store_true", help="time rensa against datasketch signatures")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.rows, args.threshold, args.sample)))
        return
    print(f"CPU: {cpu_model()} ({len(__import__('os').sched_getaffinity(0))} cores available)")
    if args.compare:
        print(json.dumps(compare()))
        return
    out = subprocess.run([sys.executable, __file__, "--one", "--rows", str(args.rows), "--threshold",
                          str(args.threshold), "--sample", str(args.sample)], check=False, capture_output=True, text=True)
    if out.returncode:
        sys.exit(out.stderr)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"{r['rows']:,} queries ({r['unique_texts']:,} unique): {r['seconds']} s, peak RSS {r['peak_rss_mib']} MiB "
          f"({r['rss_before_mib']} MiB holding the texts before)")
    print(f"planted near-duplicate pairs: {r['planted_pairs']:,}; recall {r['recall_planted_all']} "
          f"(of those with Jaccard >= {args.threshold}: {r['planted_at_or_above_threshold']:,}, recall "
          f"{r['recall_planted_at_or_above']})")
    print(f"LSH candidates {r['candidates']:,}, kept after the exact check {r['verified_pairs']:,}")
    print(f"exact Jaccard on a sample of {r['sample_rows']:,} rows: {r['sample_true_pairs']} true pairs, "
          f"recall {r['sample_recall']}, precision of the clusters {r['sample_precision']}")
    print(json.dumps(r))


if __name__ == "__main__":
    main()
