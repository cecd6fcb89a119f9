"""Sample Magpie queries (no answers) from a named or local GGUF model and save them as JSONL.

The queries of a real model, for reading and for the measurements built on them (statuses,
the judge's labelled set, decontamination):

    python benchmarks/real_queries.py --model qwen2.5-coder-1.5b-instruct --rows 200 --out data/qwen-queries.jsonl
"""

from __future__ import annotations

import argparse
import collections
import json
import time
import warnings
from pathlib import Path


def main() -> None:
    warnings.filterwarnings("ignore")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="qwen2.5-coder-1.5b-instruct")
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--top-p", type=float, default=1.0)
    parser.add_argument("--min-p", type=float, default=0.0)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--no-default-system", action="store_true", help="drop the template's default system turn")
    parser.add_argument("--n-parallel", type=int, default=8)
    parser.add_argument("--threads", type=int, help="CPU threads (default: all cores)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    from distilabel_magpie.engines import LlamaCppEngine
    from distilabel_magpie.generation.sampler import MagpieSampler
    from fast_paths import cpu_model  # this folder is on sys.path when run as a script

    sampler = MagpieSampler(
        llm=LlamaCppEngine(model_path=args.model, n_parallel=args.n_parallel, n_threads=args.threads), num_rows=args.rows,
        batch_size=args.n_parallel * 4, temperature=args.temperature, top_p=args.top_p, min_p=args.min_p,
        max_new_tokens=args.max_new_tokens, seed=args.seed,
        default_system=not args.no_default_system)
    sampler.load()
    started = time.monotonic()
    rows = [row for batch, _ in sampler.process() for row in batch]
    seconds = time.monotonic() - started
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
    statuses = collections.Counter(r["instruction_status"] for r in rows)
    print(json.dumps({"model": args.model, "rows": len(rows), "seconds": round(seconds, 1),
                      "statuses": dict(statuses), "cpu": cpu_model(), "out": str(out)}))


if __name__ == "__main__":
    main()
