"""Side-by-side throughput: distilabel 1.5.3's MagpieGenerator (the anchor), our default
single-turn step, and a bare llama.cpp loop, on the same model, threads, token limits and rows.

    python benchmarks/throughput.py            # or: make bench
    python benchmarks/throughput.py --configs anchor,ours,engine,ours_paper   # + our step with the paper's sampling

Each configuration runs in its own process per chunk (so peak RSS is its own), chunks are
interleaved (a1 b1 c1 a2 b2 c2 ...) so machine noise hits all alike, and medians of the
per-chunk rates are reported. Model loading is not timed. The last line is machine-readable.

Acceptance (one function for all three): a pair is accepted when the query is non-empty, its
generated-token count is below the limit (not truncated), it is not a repeat (case/space
normalised) of an earlier accepted query of the same configuration, and the response is
non-empty and below the limit. Token counts are what each engine reports. Queries and answers
our step flags (`repetitive`: cut short in a loop, `leaked_role`, ...) count as empty.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")
ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ("anchor", "ours", "engine", "ours_paper")
DEFAULT_CONFIGS = ("anchor", "ours", "engine")
LABELS = {"anchor": "distilabel MagpieGenerator", "ours": "distilabel-magpie default", "engine": "bare llama.cpp loop",
          "ours_paper": "distilabel-magpie, paper sampling"}


def accepted_pairs(rows: list[dict], max_new_tokens: int) -> int:
    """rows: {query, query_tokens, response, response_tokens}."""
    seen, accepted = set(), 0
    for r in rows:
        query, response = (r["query"] or "").strip(), (r["response"] or "").strip()
        if not query or r["query_tokens"] >= max_new_tokens:
            continue
        if not response or r["response_tokens"] >= max_new_tokens:
            continue
        key = " ".join(query.casefold().split())
        if key in seen:
            continue
        seen.add(key)
        accepted += 1
    return accepted


# -- workers: each returns (rows, seconds) ---------------------------------------------------
def run_anchor(model_path: str, rows: int, max_new: int, threads: int, seed: int) -> tuple[list[dict], float]:
    """distilabel's MagpieGenerator with LlamaCppLLM, configured as its docs show (a local
    tokenizer directory stands in for the hub id)."""
    from distilabel.models.llms import LlamaCppLLM

    llm = LlamaCppLLM(model_path=model_path, tokenizer_id=_tokenizer_dir(model_path), magpie_pre_query_template="qwen2",
                      n_ctx=1024, seed=seed, extra_kwargs={"n_threads": threads},
                      generation_kwargs={"max_new_tokens": max_new, "temperature": 1.0, "top_p": 1.0})
    return anchor_rows(llm, rows)


def anchor_rows(llm, rows: int) -> tuple[list[dict], float]:
    """`rows` single-turn rows from distilabel's MagpieGenerator on `llm` (any backend)."""
    from distilabel.steps.tasks import MagpieGenerator

    step = MagpieGenerator(llm=llm, num_rows=rows, batch_size=rows, n_turns=1)
    step.load()
    started = time.perf_counter()
    for batch, last in step.process():
        if last:
            break
    seconds = time.perf_counter() - started
    out = []
    for r in batch:
        stats = r["distilabel_metadata"][f"statistics_{step.name}"]
        user_tokens, assistant_tokens = (stats["output_tokens"] + [0, 0])[:2]
        out.append({"query": r.get("instruction"), "query_tokens": _first(user_tokens),
                    "response": r.get("response"), "response_tokens": _first(assistant_tokens)})
    return out, seconds


def _first(value) -> int:
    return int(value[0] if isinstance(value, list) else value)


def _tokenizer_dir(model_path: str) -> str:
    """The GGUF's tokenizer saved as a Hugging Face tokenizer (what an offline user would do)."""
    target = ROOT / "benchmarks" / ".cache" / "tokenizer"
    if not (target / "tokenizer_config.json").exists():
        from transformers import AutoTokenizer

        path = Path(model_path)
        AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name).save_pretrained(target)
    return str(target)


def run_ours(model_path: str, rows: int, max_new: int, threads: int, seed: int,
             paper_sampling: bool = False) -> tuple[list[dict], float]:
    from distilabel_magpie.engines.llamacpp import LlamaCppEngine

    return ours_rows(LlamaCppEngine(model_path=model_path, n_threads=threads), rows, max_new, seed, paper_sampling)


def ours_rows(llm, rows: int, max_new: int, seed: int, paper_sampling: bool = False) -> tuple[list[dict], float]:
    """The default pipeline's step (MagpieSFTGenerator with its sampling settings) on `llm`,
    with the benchmark's token limits. `paper_sampling`: the paper's sampling instead (queries
    T=1.0, top_p=1.0, no min_p; answers greedy, no penalty, no system prompt), to show what our
    sampling settings add to the rest (stops, filtering, batching, loop guard)."""
    import logging

    from distilabel_magpie.generation import MagpieSFTGenerator
    from distilabel_magpie.pipelines import build_sft_pipeline

    default = build_sft_pipeline().dag.get_step("magpie_sft")["step"]
    settings = {k: getattr(default, k) for k in (
        "temperature", "top_p", "top_k", "min_p", "early_stop_newline", "repetition_ngram", "response_temperature",
        "response_top_p", "response_repetition_penalty", "response_system_prompt")}
    if paper_sampling:
        settings.update(temperature=1.0, top_p=1.0, top_k=0, min_p=0.0, response_temperature=0.0,
                        response_top_p=1.0, response_repetition_penalty=1.0, response_system_prompt=None)
    step = MagpieSFTGenerator(llm=llm, num_rows=rows, batch_size=rows, max_new_tokens=max_new,
                              response_max_new_tokens=max_new, seed=seed, **settings)
    step.load()
    step._logger.setLevel(logging.WARNING)
    started = time.perf_counter()
    batch = [r for rows_, _ in step.process() for r in rows_]
    seconds = time.perf_counter() - started
    out = []
    for r in batch:
        meta = r["distilabel_metadata"]
        q = meta[f"statistics_{step.name}"]["output_tokens"]
        a = meta.get(f"statistics_response_{step.name}", {}).get("output_tokens", 0)
        # What our step rejected counts as empty here: a looping sample it cut short would
        # otherwise pass the token-limit test.
        ok = r["instruction_status"] == "ok"
        out.append({"query": r["instruction"] if ok else "", "query_tokens": q,
                    "response": r["response"] if r["response_status"] == "ok" else "", "response_tokens": a})
    return out, seconds


def run_engine(model_path: str, rows: int, max_new: int, threads: int, seed: int) -> tuple[list[dict], float]:
    """A bare llama-cpp-python loop: the same prompts, one completion at a time, EOS as the only stop."""
    from llama_cpp import Llama

    from distilabel_magpie.templates import from_gguf

    template = from_gguf(model_path)
    llm = Llama(model_path=model_path, n_ctx=1024, n_threads=threads, seed=seed, verbose=False)
    pre_query = llm.tokenize(template.pre_query().encode(), add_bos=False, special=True)
    started = time.perf_counter()
    out = []
    for _ in range(rows):
        q = llm.create_completion(pre_query, max_tokens=max_new, temperature=1.0, top_p=1.0)
        query = q["choices"][0]["text"]
        prompt = llm.tokenize(template.response_prompt([{"role": "user", "content": query}]).encode(),
                              add_bos=False, special=True)
        a = llm.create_completion(prompt, max_tokens=max_new, temperature=1.0, top_p=1.0)
        out.append({"query": query, "query_tokens": q["usage"]["completion_tokens"],
                    "response": a["choices"][0]["text"], "response_tokens": a["usage"]["completion_tokens"]})
    return out, time.perf_counter() - started


def worker(args: argparse.Namespace) -> None:
    run = {"anchor": run_anchor, "ours": run_ours, "engine": run_engine,
           "ours_paper": lambda *a: run_ours(*a, paper_sampling=True)}[args.worker]
    rows, seconds = run(args.model_path, args.rows, args.max_new_tokens, args.threads, args.seed)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps({"rows": rows, "seconds": seconds, "peak_rss_mb": peak_mb}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=16, help="rows requested per chunk")
    parser.add_argument("--chunks", type=int, default=3, help="interleaved chunks per configuration")
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--model-path", default=None, help="a .gguf chat model (default: the embedded SmolLM2)")
    parser.add_argument("--configs", default=",".join(DEFAULT_CONFIGS),
                        help=f"comma-separated, from {','.join(CONFIGS)}")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--worker", choices=CONFIGS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.model_path is None:
        from distilabel_magpie.models import embedded_model_path

        args.model_path = embedded_model_path()
    if args.worker:
        return worker(args)

    configs = args.configs.split(",")
    print(f"model={Path(args.model_path).name} threads={args.threads} max_new_tokens={args.max_new_tokens} "
          f"rows/chunk={args.rows} chunks={args.chunks} query T=1.0 top_p=1.0; anchor and engine answer at "
          "T=1.0 (one setting for both); ours as the default pipeline (queries min_p 0.02; answers greedy, "
          "repetition penalty 1.1, a system prompt asking for a few sentences)", flush=True)
    results: dict[str, list[dict]] = {c: [] for c in configs}
    for chunk in range(args.chunks):
        for config in configs:
            cmd = [sys.executable, __file__, "--worker", config, "--rows", str(args.rows), "--model-path",
                   args.model_path, "--max-new-tokens", str(args.max_new_tokens), "--threads", str(args.threads),
                   "--seed", str(args.seed + chunk)]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            line = next((l for l in proc.stdout.splitlines() if l.startswith("RESULT ")), None)
            if proc.returncode != 0 or line is None:
                sys.exit(f"{config} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
            data = json.loads(line[len("RESULT "):])
            results[config].append(data)
            tokens = sum(r["query_tokens"] + r["response_tokens"] for r in data["rows"])
            print(f"  chunk {chunk + 1} {config:7s} {data['seconds']:7.1f} s  {tokens / data['seconds']:6.1f} tok/s  "
                  f"accepted {accepted_pairs(data['rows'], args.max_new_tokens)}/{len(data['rows'])}", flush=True)

    summary = {}
    print(f"\n{'configuration':30s} {'wall s':>8s} {'tok/s':>7s} {'rows':>5s} {'accepted':>8s} {'acc/min':>8s} {'peak MB':>8s}")
    for config in configs:
        chunks = results[config]
        all_rows = [r for c in chunks for r in c["rows"]]
        wall = sum(c["seconds"] for c in chunks)
        tok_rates = [sum(r["query_tokens"] + r["response_tokens"] for r in c["rows"]) / c["seconds"] for c in chunks]
        acc_rates = [accepted_pairs(c["rows"], args.max_new_tokens) / (c["seconds"] / 60) for c in chunks]
        accepted = accepted_pairs(all_rows, args.max_new_tokens)
        summary[config] = {"tok_s": statistics.median(tok_rates), "acc_min": statistics.median(acc_rates)}
        print(f"{LABELS[config]:30s} {wall:8.1f} {summary[config]['tok_s']:7.1f} {len(all_rows):5d} {accepted:8d} "
              f"{summary[config]['acc_min']:8.2f} {max(c['peak_rss_mb'] for c in chunks):8.0f}")
    ratios = {}
    if "ours" in summary and "anchor" in summary:
        ratios["ratio_accepted_pairs_per_min"] = summary["ours"]["acc_min"] / max(summary["anchor"]["acc_min"], 1e-9)
        ratios["ratio_tokens_per_s_vs_anchor"] = summary["ours"]["tok_s"] / summary["anchor"]["tok_s"]
    if "ours_paper" in summary and "anchor" in summary:
        ratios["ratio_accepted_pairs_per_min_paper_sampling"] = (
            summary["ours_paper"]["acc_min"] / max(summary["anchor"]["acc_min"], 1e-9))
    if "ours" in summary and "engine" in summary:
        ratios["ratio_tokens_per_s_vs_engine"] = summary["ours"]["tok_s"] / summary["engine"]["tok_s"]
        ratios["ratio_accepted_pairs_per_min_vs_engine"] = summary["ours"]["acc_min"] / max(summary["engine"]["acc_min"], 1e-9)
    print("\n" + " ".join(f"{k}={v:.2f}" for k, v in ratios.items()))


if __name__ == "__main__":
    main()
