"""A real check: Magpie queries from a coding model (a local GGUF, e.g. Qwen2.5-Coder-1.5B-Instruct)
checked against HumanEval. Samples the queries with the package's sampler, writes
them to OUT/queries.jsonl (batch by batch: a stopped run resumes), runs the same code as `distilabel-magpie decontaminate ... --benchmark
humaneval`, and prints how many rows are flagged, the flagged rows, and the rows with the highest
overlap ratios (flagged or not).

    python benchmarks/decontaminate_humaneval.py MODEL.gguf --rows 220 --out data/coder-decont
"""

import argparse
import json
import time
from pathlib import Path


def generate(model: str, rows: int, max_new_tokens: int, path: Path, threads: int | None = None,
             start: int = 0) -> None:
    """Queries `start`..`rows`-1 with the package's sampler (each row's seed follows from its index),
    appended to `path` batch by batch (a stopped run keeps what it made and resumes after it)."""
    from distilabel_magpie.engines.llamacpp import LlamaCppEngine
    from distilabel_magpie.generation import MagpieSampler

    path.parent.mkdir(parents=True, exist_ok=True)
    done = start + (len(path.read_text().splitlines()) if path.exists() else 0)
    if done >= rows:
        return
    sampler = MagpieSampler(llm=LlamaCppEngine(model_path=model, n_threads=threads), num_rows=rows, batch_size=20,
                            max_new_tokens=max_new_tokens, min_p=0.02, seed=0)
    sampler.load()
    began = time.perf_counter()
    for batch, _ in sampler.process(offset=done):
        with path.open("a") as f:
            f.writelines(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in batch)
        done += len(batch)
        print(f"{done}/{rows} queries, {time.perf_counter() - began:.0f} s", flush=True)
    sampler.unload()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a GGUF file")
    parser.add_argument("--rows", type=int, default=220)
    parser.add_argument("--out", default="data/coder-decont")
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, help="llama.cpp threads (1 on a machine shared with other jobs: "
                        "spinning thread pools stall each other)")
    parser.add_argument("--start", type=int, default=0,
                        help="first row index (a second process can make the last rows into another --out)")
    parser.add_argument("--skip-generation", action="store_true", help="only check OUT/queries.jsonl as it is")
    args = parser.parse_args()
    out = Path(args.out)
    queries = out / "queries.jsonl"
    if not args.skip_generation:
        generate(args.model, args.rows, args.max_new_tokens, queries, args.threads, args.start)
    from distilabel_magpie.curation.decontaminate import decontaminate_dataset

    print(decontaminate_dataset(str(queries), ["humaneval"], str(out / "checked")))
    rows = [json.loads(line) for line in (out / "checked" / "data.jsonl").read_text().splitlines()]
    ok = [r for r in rows if r.get("instruction_status") == "ok"]
    print(f"{len(rows)} rows, {len(ok)} with instruction_status ok")
    for r in sorted(rows, key=lambda r: -r["contamination_ratio"])[:10]:
        print(json.dumps({k: r.get(k) for k in ("contamination_status", "contamination_ratio", "contamination_item",
                                                 "contamination_ngram", "instruction")}, ensure_ascii=False)[:600])


if __name__ == "__main__":
    main()
