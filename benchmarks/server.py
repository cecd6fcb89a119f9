"""Client overhead of the completion-server engine: our default single-turn step over HTTP to
llama-cpp-python's server against the same step on the in-process llama.cpp engine, with the
same model file, threads and sampling settings (the default pipeline's).

    python benchmarks/server.py [--rows 32] [--chunk 16] [--threads 2] [--concurrency 4]

llama-cpp-python's server decodes one request at a time, so the in-process engine runs one
sequence at a time too (`n_parallel=1`): that is the concurrency the server can use. The
client keeps `--concurrency` requests queued so the server never waits for the next one.
Chunks alternate between the two (e1 s1 e2 s2 ...) so machine noise hits both alike; loading
is not timed. Tokens are the generated tokens (queries and answers) each engine reports. The
in-process engine ends looping samples early while the server writes them to the limit, so
the two generate different token counts: tokens per second is the comparable figure.
The last line is machine-readable.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

# the default pipeline's sampling settings of its one generation step
SETTINGS = ("max_new_tokens", "temperature", "top_p", "top_k", "min_p", "response_max_new_tokens",
            "response_temperature", "response_top_p", "response_repetition_penalty", "response_system_prompt",
            "repetition_ngram", "early_stop_newline")


def default_settings() -> dict:
    from distilabel_magpie.pipelines import build_sft_pipeline

    steps = build_sft_pipeline().dump()["pipeline"]["steps"]
    step = next(s["step"] for s in steps if s["step"]["name"] == "magpie_sft")
    return {k: step[k] for k in SETTINGS}


def run_chunk(llm, rows: int, seed: int, settings: dict) -> tuple[float, int, int]:
    """(seconds, generated tokens, accepted pairs) of our step on one chunk of rows."""
    from distilabel_magpie.generation import MagpieSFTGenerator

    step = MagpieSFTGenerator(name="bench", llm=llm, num_rows=rows, batch_size=rows, seed=seed, **settings)
    step.load()
    started = time.perf_counter()
    out = [row for batch, _ in step.process() for row in batch]
    seconds = time.perf_counter() - started
    tokens = 0
    for row in out:
        meta = row["distilabel_metadata"]
        tokens += meta["statistics_bench"]["output_tokens"]
        tokens += (meta.get("statistics_response_bench") or {}).get("output_tokens", 0)
    accepted = sum(r["instruction_status"] == "ok" and r["response_status"] == "ok" for r in out)
    step.llm.unload()
    return seconds, tokens, accepted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=32)
    parser.add_argument("--chunk", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()

    from engines.servers import LlamaServer

    from distilabel_magpie.engines import CompletionServerEngine, LlamaCppEngine
    from distilabel_magpie.models import embedded_model_path

    settings = default_settings()
    model = embedded_model_path()
    server = LlamaServer(model, Path("/tmp"), threads=args.threads).wait_ready()
    totals = {"engine": [0.0, 0, 0], "server": [0.0, 0, 0]}
    try:
        for chunk in range(args.rows // args.chunk):
            for name in ("engine", "server"):
                llm = (LlamaCppEngine(model_path=model, n_parallel=1, n_threads=args.threads) if name == "engine"
                       else CompletionServerEngine(base_url=server.url, max_concurrency=args.concurrency))
                seconds, tokens, accepted = run_chunk(llm, args.chunk, seed=1000 * chunk, settings=settings)
                for i, v in enumerate((seconds, tokens, accepted)):
                    totals[name][i] += v
                print(f"chunk {chunk} {name:6}: {seconds:6.1f} s {tokens:5d} tokens {tokens / seconds:6.1f} tok/s "
                      f"{accepted:2d}/{args.chunk} accepted", flush=True)
    finally:
        server.stop()
    rate = {name: t[1] / t[0] for name, t in totals.items()}
    print("\n| configuration | seconds | generated tokens | tokens/s | accepted pairs |")
    print("|---|---:|---:|---:|---:|")
    labels = {"engine": "in-process LlamaCppEngine (n_parallel=1)",
              "server": f"CompletionServerEngine -> llama_cpp.server (max_concurrency={args.concurrency})"}
    for name, (seconds, tokens, accepted) in totals.items():
        print(f"| {labels[name]} | {seconds:.1f} | {tokens} | {rate[name]:.1f} | {accepted}/{args.rows} |")
    ratio = rate["server"] / rate["engine"]
    print(f"\nthreads={args.threads} rows={args.rows} ratio_server_vs_engine_tokens_per_s={ratio:.3f}")


if __name__ == "__main__":
    main()
