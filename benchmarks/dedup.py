"""Near-dedup benchmark: synthetic queries (made here, nothing downloaded) with planted exact and
near duplicates, tagged by the same code as the `NearDuplicates` step; prints time and peak
memory per size. Each size runs in a fresh process so peaks do not carry over.

    python benchmarks/dedup.py                       # 10k, 50k, 100k with the hashing embedder
    python benchmarks/dedup.py --sizes 2000 --embedder minilm   # the real all-MiniLM-L6-v2

The default embedder hashes word unigrams and bigrams into 384 dimensions: it stands in for a
sentence-transformers model so that the benchmark measures the neighbour search, clustering and
representative choice (what this package adds). `--embedder minilm` adds the real model's
embedding time (CPU-bound: a few hundred short queries per second on 2 cores; use a GPU).
"""

import argparse
import json
import random
import resource
import subprocess
import sys
import time
import tracemalloc
import zlib

import numpy as np

SUBJECTS = ["a list", "a dictionary", "a string", "a CSV file", "a JSON file", "a linked list", "a binary tree",
            "a web page", "an image", "a database table", "a date", "a matrix", "a sentence", "a recipe", "a budget"]
ACTIONS = ["sort", "reverse", "parse", "validate", "compress", "translate", "summarise", "visualise", "merge",
           "split", "filter", "encrypt", "format", "debug", "document", "test", "optimise", "explain", "clean"]
CONTEXTS = ["in Python", "in Rust", "in JavaScript", "with SQL", "in Excel", "on Linux", "for a beginner",
            "step by step", "without libraries", "in one line", "for a job interview", "for my homework",
            "in Go", "in Java", "using pandas", "as fast as possible", "for a school project", "in C++"]
OPENERS = ["How do I", "How can I", "What is the best way to", "Can you show me how to", "Explain how to",
           "I need to", "Help me", "Is there a simple way to"]


def synthetic_queries(n: int, seed: int = 0) -> list[str]:
    """~75% fresh queries, ~20% near duplicates (another opener, a suffix), ~5% exact repeats."""
    rng = random.Random(seed)
    out: list[str] = []
    for _ in range(n):
        roll = rng.random()
        if out and roll < 0.05:
            out.append(rng.choice(out))
        elif out and roll < 0.25:
            base = rng.choice(out).rstrip("?")
            opener = next((o for o in OPENERS if base.startswith(o)), None)
            rest = base[len(opener):] if opener else " " + base
            out.append(f"{rng.choice(OPENERS)}{rest}{rng.choice(['?', ', please?', ' quickly?'])}")
        else:
            out.append(f"{rng.choice(OPENERS)} {rng.choice(ACTIONS)} {rng.choice(SUBJECTS)} {rng.choice(CONTEXTS)}"
                       f" ({rng.randrange(10_000)})?")
    return out


def hashing_embed(texts: list[str], dim: int = 384) -> np.ndarray:
    rows, cols = [], []
    for i, text in enumerate(texts):
        words = text.lower().replace("?", " ").replace(",", " ").split()
        feats = words + [a + " " + b for a, b in zip(words, words[1:])]
        rows += [i] * len(feats)
        cols += [zlib.crc32(f.encode()) % dim for f in feats]
    x = np.zeros((len(texts), dim), dtype=np.float32)
    np.add.at(x, (np.array(rows), np.array(cols)), 1.0)
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return x


def run_one(n: int, embedder: str, threshold: float, backend: str) -> dict:
    from distilabel_magpie.curation.dedup import embed, load_embedder, near_duplicates

    texts = synthetic_queries(n)
    rewards = [random.Random(i).uniform(-20, 5) for i in range(n)]
    if embedder == "minilm":
        model = load_embedder("embedded")
        vectors_for = lambda unique: embed(model, unique)  # noqa: E731
    else:
        vectors_for = hashing_embed
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    start = time.perf_counter()
    result = near_duplicates(texts, vectors_for, threshold, backend, rank=rewards)
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"rows": n, "embedder": embedder, "backend": backend, "seconds": round(seconds, 2),
            "peak_traced_mib": round(peak / 2**20, 1), "peak_rss_mib": round(rss / 1024, 1),
            "rss_growth_mib": round((rss - base_rss) / 1024, 1),
            "clusters": len(set(result.cluster_id)), "kept": sum(result.is_representative),
            "exact_repeats": sum(d == 0.0 for d in result.min_neighbor_distance)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000, 100_000])
    parser.add_argument("--embedder", choices=["hashing", "minilm"], default="hashing")
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--backend", choices=["auto", "exact", "faiss"], default="auto")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # internal: run one size, print JSON
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.embedder, args.threshold, args.backend)))
        return
    print(f"{'rows':>8} {'seconds':>8} {'traced peak MiB':>16} {'RSS peak MiB':>13} {'RSS growth MiB':>15} "
          f"{'clusters':>9} {'kept':>8}  backend/embedder")
    for n in args.sizes:
        out = subprocess.run([sys.executable, __file__, "--one", str(n), "--embedder", args.embedder,
                              "--threshold", str(args.threshold), "--backend", args.backend],
                             capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{r['rows']:>8} {r['seconds']:>8} {r['peak_traced_mib']:>16} {r['peak_rss_mib']:>13} "
              f"{r['rss_growth_mib']:>15} {r['clusters']:>9} {r['kept']:>8}  {r['backend']}/{r['embedder']}",
              flush=True)


if __name__ == "__main__":
    main()
