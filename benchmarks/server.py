"""Client overhead of the completion-server engine: our default single-turn step over HTTP to
llama-cpp-python's server against the same step in process, with the same model file, threads
and sampling settings (the default pipeline's).

    python benchmarks/server.py [--rows 32] [--chunk 16] [--threads 2] [--concurrency 4]

Three configurations, each running our step:
- `engine`: our in-process llama.cpp engine, one sequence at a time (`n_parallel=1`), since
  llama-cpp-python's server decodes one request at a time: the concurrency the server can use;
- `llama_cpp_python`: llama-cpp-python's `Llama.create_completion` in process, the code its
  server runs for each request, without HTTP;
- `server`: `CompletionServerEngine` over HTTP to `python -m llama_cpp.server`.
`server / llama_cpp_python` is what the client, HTTP and the server process cost; `server /
engine` also holds the difference between llama-cpp-python's decoding loop and ours. Whether
the client keeps the server busy is measured directly: the server's own per-request timings
(llama.cpp's `total time` lines in its log) summed over a chunk, against the chunk's wall time.
Chunks alternate (e1 l1 s1 e2 ...) so machine noise hits all alike; loading is not timed.
Tokens are the generated tokens (queries and answers) each engine reports; our engine ends
looping samples early while the others write them to the limit, so tokens per second is the
comparable figure. The last line is machine-readable.
"""

from __future__ import annotations

import argparse
import re
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


def llama_cpp_python_engine(model_path: str, threads: int):
    """Our step on llama-cpp-python's own `Llama.create_completion` (what its server runs)."""
    from llama_cpp import Llama

    from distilabel_magpie.engines.base import Completion
    from distilabel_magpie.engines.llm import CompletionLLM
    from distilabel_magpie.templates import from_gguf

    class Runner:
        def __init__(self) -> None:
            self.llama = Llama(model_path=model_path, n_threads=threads, n_threads_batch=threads, n_ctx=2048,
                               verbose=False)

        def tokenize(self, text: str) -> list[int]:
            return self.llama.tokenize(text.encode(), add_bos=False, special=True)

        def complete(self, prompts, params, progress=None):
            out = []
            for p, prompt in enumerate(prompts):
                samples = []
                for i in range(params.n):  # the fields our engine sends its server
                    r = self.llama.create_completion(
                        prompt, max_tokens=params.max_new_tokens, temperature=max(params.temperature, 0.0),
                        top_p=params.top_p, top_k=params.top_k, min_p=params.min_p, stop=list(params.stop),
                        repeat_penalty=params.repetition_penalty, seed=params.sample_seed(p, i))
                    choice, usage = r["choices"][0], r["usage"]
                    reason = "length" if choice["finish_reason"] == "length" else "stop"
                    samples.append(Completion(choice["text"], reason, usage["prompt_tokens"],
                                              usage["completion_tokens"]))
                out.append(samples)
            return out

    class LlamaCppPython(CompletionLLM):
        def load(self) -> None:
            super().load()
            self._runner = Runner()

        @property
        def model_name(self) -> str:
            return Path(model_path).name

        def own_template(self, default_system=None):
            return from_gguf(model_path, default_system)

    return LlamaCppPython()


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


def server_busy_seconds(log: Path, start: int) -> tuple[float, int]:
    """Seconds the server spent generating (llama.cpp's per-request `total time`) in its log
    after byte `start`, and the new end of the log."""
    text = log.read_bytes()
    times = re.findall(rb"total time =\s+([0-9.]+) ms", text[start:])
    return sum(float(t) for t in times) / 1000, len(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=32)
    parser.add_argument("--chunk", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()

    from engines.servers import LlamaServer

    from distilabel_magpie.engines import CompletionServerEngine, LlamaCppEngine
    from distilabel_magpie.engines.models import embedded_model_path

    settings = default_settings()
    model = embedded_model_path()
    server = LlamaServer(model, Path("/tmp"), threads=args.threads).wait_ready()
    totals = {"engine": [0.0, 0, 0], "llama_cpp_python": [0.0, 0, 0], "server": [0.0, 0, 0]}
    make = {"engine": lambda: LlamaCppEngine(model_path=model, n_parallel=1, n_threads=args.threads),
            "llama_cpp_python": lambda: llama_cpp_python_engine(model, args.threads),
            "server": lambda: CompletionServerEngine(base_url=server.url, max_concurrency=args.concurrency)}
    busy, log_end = 0.0, server.log.stat().st_size
    try:
        for chunk in range(args.rows // args.chunk):
            for name in totals:
                llm = make[name]()
                seconds, tokens, accepted = run_chunk(llm, args.chunk, seed=1000 * chunk, settings=settings)
                if name == "server":
                    spent, log_end = server_busy_seconds(server.log, log_end)
                    busy += spent
                for i, v in enumerate((seconds, tokens, accepted)):
                    totals[name][i] += v
                print(f"chunk {chunk} {name:16}: {seconds:6.1f} s {tokens:5d} tokens {tokens / seconds:6.1f} tok/s "
                      f"{accepted:2d}/{args.chunk} accepted", flush=True)
    finally:
        server.stop()
    rate = {name: t[1] / t[0] for name, t in totals.items()}
    print("\n| configuration | seconds | generated tokens | tokens/s | accepted pairs |")
    print("|---|---:|---:|---:|---:|")
    labels = {"engine": "in-process LlamaCppEngine (n_parallel=1)",
              "llama_cpp_python": "in-process llama-cpp-python Llama.create_completion",
              "server": f"CompletionServerEngine -> llama_cpp.server (max_concurrency={args.concurrency})"}
    for name, (seconds, tokens, accepted) in totals.items():
        print(f"| {labels[name]} | {seconds:.1f} | {tokens} | {rate[name]:.1f} | {accepted}/{args.rows} |")
    print(f"\nthe server was generating for {busy:.1f} s of the client's {totals['server'][0]:.1f} s "
          f"({100 * busy / totals['server'][0]:.1f} %)")
    print(f"\nthreads={args.threads} rows={args.rows} server_busy={busy / totals['server'][0]:.3f} "
          f"ratio_server_vs_llama_cpp_python_tokens_per_s={rate['server'] / rate['llama_cpp_python']:.3f} "
          f"ratio_server_vs_engine_tokens_per_s={rate['server'] / rate['engine']:.3f}")


if __name__ == "__main__":
    main()
