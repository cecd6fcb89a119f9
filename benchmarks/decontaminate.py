"""Decontamination benchmark: a synthetic benchmark of 100k items and a million synthetic query
rows (made here, nothing downloaded), ~1% of them copied from benchmark items (the whole item, or
one sentence of it, inside other words), streamed in batches through the same code as the
`Decontaminate` step. Prints the CPU, the time to hash the benchmark and to check the rows, the
peak memory (max RSS of a fresh process), recall on the planted rows and false flags on the rest.

    python benchmarks/decontaminate.py                              # 1M rows vs 100k items
    python benchmarks/decontaminate.py --rows 20000 --items 2000    # a quick run
"""

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from minhash import WORDS, cpu_model, make_query  # noqa: E402  (the same synthetic queries)

FILLER = ["Please help me with this:", "Solve the following.", "Here is my homework:", "Can you explain this?",
          "I found this problem online.", "Answer step by step."]


def make_item(rng: random.Random, i: int) -> str:
    """A benchmark item: three sentences of 12-25 words, with numbers (items differ by more than
    their numbers: digits are normalised)."""
    return " ".join(" ".join(rng.choice(WORDS) for _ in range(rng.randint(12, 25))).capitalize()
                    + f" {rng.randrange(1000)} item{i}." for _ in range(3))


def rows_batch(rng: random.Random, items: list[str], size: int, rate: float) -> tuple[list[str], list[int]]:
    """Query texts and the planted item of each (-1: clean)."""
    texts, truth = [], []
    for _ in range(size):
        if rng.random() < rate:
            k = rng.randrange(len(items))
            item = items[k]
            if rng.random() < 0.5:  # one sentence, inside other words
                item = rng.choice([s for s in item.split(". ") if s])
            texts.append(f"{rng.choice(FILLER)} {item}")
            truth.append(k)
        else:
            texts.append(make_query(rng))
            truth.append(-1)
    return texts, truth


def run_one(n: int, n_items: int, ngram: int, threshold: float, batch: int, rate: float) -> dict:
    from distilabel_magpie.curation.decontaminate import Benchmark, NgramIndex

    rng = random.Random(0)
    items = [make_item(rng, i) for i in range(n_items)]
    start = time.perf_counter()
    index = NgramIndex([Benchmark("synthetic", [str(i) for i in range(n_items)], items)], ngram)
    t_index = time.perf_counter() - start
    del items[:]  # the index is all the step keeps
    rng_items = random.Random(0)
    items = [make_item(rng_items, i) for i in range(n_items)]  # regenerated for planting (not timed)
    rss_index = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t_rows = 0.0
    planted = found = wrong_item = false_flags = 0
    rng_rows = random.Random(1)
    for start_row in range(0, n, batch):
        texts, truth = rows_batch(rng_rows, items, min(batch, n - start_row), rate)
        start = time.perf_counter()
        matches = index.match(texts)
        t_rows += time.perf_counter() - start
        for m, k in zip(matches, truth):
            flagged = m.ratio >= threshold
            if k >= 0:
                planted += 1
                found += flagged
                wrong_item += flagged and m.item != str(k)
            else:
                false_flags += flagged
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"rows": n, "items": n_items, "ngram": ngram, "threshold": threshold, "distinct_ngrams": len(index),
            "index_seconds": round(t_index, 1), "rows_seconds": round(t_rows, 1),
            "rows_per_second": round(n / max(t_rows, 1e-9)), "rss_after_index_mib": round(rss_index / 1024),
            "peak_rss_mib": round(rss / 1024), "planted": planted, "recall": round(found / max(planted, 1), 4),
            "wrong_item": wrong_item, "false_flags": false_flags}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--ngram", type=int, default=8)
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=0.01, help="share of rows copied from the benchmark")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.rows, args.items, args.ngram, args.threshold, args.batch, args.rate)))
        return
    print(f"CPU: {cpu_model()} ({len(os.sched_getaffinity(0))} cores available)")
    out = subprocess.run([sys.executable, __file__, "--one", "--rows", str(args.rows), "--items", str(args.items),
                          "--ngram", str(args.ngram), "--threshold", str(args.threshold), "--batch", str(args.batch),
                          "--rate", str(args.rate)], check=False, capture_output=True, text=True)
    if out.returncode:
        sys.exit(out.stderr)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"benchmark: {r['items']:,} items -> {r['distinct_ngrams']:,} distinct {r['ngram']}-grams, hashed in "
          f"{r['index_seconds']} s (peak RSS so far {r['rss_after_index_mib']} MiB)")
    print(f"{r['rows']:,} rows checked in {r['rows_seconds']} s ({r['rows_per_second']:,} rows/s), peak RSS "
          f"{r['peak_rss_mib']} MiB")
    print(f"planted rows {r['planted']:,}: recall {r['recall']} (wrong item named: {r['wrong_item']}); clean rows "
          f"flagged: {r['false_flags']}")
    print(json.dumps(r))


if __name__ == "__main__":
    main()
