"""Side-by-side throughput on one CPU: distilabel 1.5.3's MagpieGenerator (the anchor), our
single-turn step, and two bare llama.cpp loops, on the same model, threads, token limits, rows
and seeds.

    python benchmarks/throughput.py            # or: make bench  (20 to 45 minutes on 2 cores)
    python benchmarks/throughput.py --configs anchor,ours_same --seeds 0 --rows 32   # a quick look

Configurations (queries always T=1.0, top_p=1.0, the paper's setting):
- anchor       MagpieGenerator + LlamaCppLLM as its docs configure it: one set of generation
               kwargs, so answers are sampled like queries (T=1.0, top_p=1.0; llama-cpp-python's
               hidden top_k=40 / min_p=0.05 switched off, see PLAIN_SAMPLING).
- ours_same    MagpieSFTGenerator with the anchor's answer setting (T=1.0, top_p=1.0): the
               headline, where only the pipeline differs (stops, filtering before answering,
               batched decoding, the loop guard).
- ours_paper   the same with the paper's greedy answers.
- ours_small   our options for small models (query min_p 0.02; greedy answers with repetition
               penalty 1.1 under "Answer in a few sentences."): this changes the data, and its
               line says how (mean answer tokens, answers ending on their own).
- engine_batched  a bare batched llama.cpp loop (continuous batching, as many sequences per
               decode step as our engine, EOS as the only stop, no prompt sharing): the
               reference for tokens/s ("engine ceiling" in the last line). Our engine can pass
               it: it prefills identical prompts once and answers only usable queries.
- engine_single   llama-cpp-python's create_completion, one sequence at a time.
- decode_limit    pure decoding: as many sequences as our engine, each getting a token in every
               decode step (no prompts after the first, none ending: no idle slot), T=1.0; the
               ceiling of tokens/s at that width (`ratio_tokens_per_s_vs_decode_limit`, goal 0.9).
Both bare loops sample answers like the anchor (T=1.0) on the same prompts.

Acceptance (one function for all): a pair is accepted when the query is non-empty, below the
token limit, not a repeat (case/space normalised) of an earlier accepted query of the same
run, and the response is non-empty and below the limit. What our step flags (`repetitive`:
cut short in a loop, `leaked_role`, ...) counts as empty. Accepted tokens are the query and
answer tokens of accepted pairs, so a configuration cannot gain there by shorter answers alone.

Each configuration runs in its own process per chunk (its own peak RSS); chunks are interleaved
(a1 b1 c1 a2 b2 c2 ...) so machine noise hits all alike; chunk k of every configuration uses
seed k of `--seeds`. The table gives medians of the per-chunk rates with their range; model
loading is not timed. The last line is machine-readable.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import warnings
from collections import deque
from pathlib import Path

warnings.filterwarnings("ignore")
ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ("anchor", "ours_same", "ours_paper", "ours_small", "engine_batched", "engine_single", "decode_limit")
LABELS = {"anchor": "distilabel MagpieGenerator", "ours_same": "ours, anchor's sampling",
          "ours_paper": "ours, greedy answers (paper)", "ours_small": "ours, small-model options",
          "engine_batched": "bare batched llama.cpp loop", "engine_single": "bare one-sequence loop",
          "decode_limit": "pure decoding (no prompts, no tail)"}
N_PARALLEL = 8  # sequences per decode step, ours and the batched loop (--n-parallel; the engine picks its own by model size)
# llama-cpp-python's create_completion adds top_k=40 and min_p=0.05 unless told otherwise: the
# anchor and the one-sequence loop get them switched off, so every side samples from the whole
# distribution at T=1.0, top_p=1.0.
PLAIN_SAMPLING = {"top_k": 0, "min_p": 0.0}
# Answer sampling of our configurations (queries: T=1.0, top_p=1.0 in all of them).
OURS = {
    "ours_same": dict(response_temperature=1.0, response_top_p=1.0),
    "ours_paper": dict(response_temperature=0.0),
    "ours_small": "default pipeline",
}


def accepted(rows: list[dict], max_new_tokens: int) -> list[dict]:
    """rows: {query, query_tokens, response, response_tokens}; the accepted ones."""
    seen, out = set(), []
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
        out.append(r)
    return out


def accepted_pairs(rows: list[dict], max_new_tokens: int) -> int:
    return len(accepted(rows, max_new_tokens))


# -- workers: each returns (rows, seconds) ---------------------------------------------------
def run_anchor(model_path: str, rows: int, max_new: int, threads: int, seed: int) -> tuple[list[dict], float]:
    """distilabel's MagpieGenerator with LlamaCppLLM, configured as its docs show (a local
    tokenizer directory stands in for the hub id)."""
    from distilabel.models.llms import LlamaCppLLM

    llm = LlamaCppLLM(model_path=model_path, tokenizer_id=_tokenizer_dir(model_path), magpie_pre_query_template="qwen2",
                      n_ctx=1024, seed=seed, extra_kwargs={"n_threads": threads},
                      generation_kwargs={"max_new_tokens": max_new, "temperature": 1.0, "top_p": 1.0,
                                         "extra_generation_kwargs": PLAIN_SAMPLING})
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
                    "response": r.get("response"), "response_tokens": _first(assistant_tokens), "answered": True})
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


def run_ours(model_path: str, rows: int, max_new: int, threads: int, seed: int, config: str = "ours_same"):
    from distilabel_magpie.engines.llamacpp import LlamaCppEngine

    import dataclasses

    llm = LlamaCppEngine(model_path=model_path, n_threads=threads, n_parallel=N_PARALLEL)
    rows_, seconds = ours_rows(llm, rows, max_new, seed, config)
    return rows_, seconds, dataclasses.asdict(llm.runner.stats)


def ours_settings(config: str) -> dict:
    """MagpieSFTGenerator settings of one of our configurations."""
    from distilabel_magpie.pipelines import build_sft_pipeline

    keys = ("temperature", "top_p", "top_k", "min_p", "early_stop_newline", "repetition_ngram", "response_temperature",
            "response_top_p", "response_repetition_penalty", "response_system_prompt")
    default = build_sft_pipeline().dag.get_step("magpie_sft")["step"]
    settings = {k: getattr(default, k) for k in keys}
    if OURS[config] == "default pipeline":
        return settings
    settings.update(temperature=1.0, top_p=1.0, top_k=0, min_p=0.0, early_stop_newline=False, response_top_p=1.0,
                    response_repetition_penalty=1.0, response_system_prompt=None)
    settings.update(OURS[config])
    return settings


def ours_rows(llm, rows: int, max_new: int, seed: int, config: str = "ours_same") -> tuple[list[dict], float]:
    """Our single-turn step on `llm` with one configuration's sampling and the benchmark's limits."""
    import logging

    from distilabel_magpie.generation import MagpieSFTGenerator

    step = MagpieSFTGenerator(llm=llm, num_rows=rows, batch_size=rows, max_new_tokens=max_new,
                              response_max_new_tokens=max_new, seed=seed, **ours_settings(config))
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
                    "response": r["response"] if r["response_status"] == "ok" else "", "response_tokens": a,
                    "answered": r["response_status"] != "skipped"})
    return out, seconds


def run_engine_single(model_path: str, rows: int, max_new: int, threads: int, seed: int):
    """llama-cpp-python's create_completion, one completion at a time, EOS as the only stop."""
    from llama_cpp import Llama

    from distilabel_magpie.templates import from_gguf

    template = from_gguf(model_path)
    llm = Llama(model_path=model_path, n_ctx=1024, n_threads=threads, seed=seed, verbose=False)
    pre_query = llm.tokenize(template.pre_query().encode(), add_bos=False, special=True)
    started = time.perf_counter()
    out = []
    for _ in range(rows):
        q = llm.create_completion(pre_query, max_tokens=max_new, temperature=1.0, top_p=1.0, **PLAIN_SAMPLING)
        query = q["choices"][0]["text"]
        prompt = llm.tokenize(template.response_prompt([{"role": "user", "content": query}]).encode(),
                              add_bos=False, special=True)
        a = llm.create_completion(prompt, max_tokens=max_new, temperature=1.0, top_p=1.0, **PLAIN_SAMPLING)
        out.append({"query": query, "query_tokens": q["usage"]["completion_tokens"], "answered": True,
                    "response": a["choices"][0]["text"], "response_tokens": a["usage"]["completion_tokens"]})
    return out, time.perf_counter() - started


def run_engine_batched(model_path: str, rows: int, max_new: int, threads: int, seed: int):
    """A bare batched loop on llama.cpp's C API: `rows` queries from the pre-query text, then an
    answer to each, N_PARALLEL sequences per decode step (a new one starts as soon as one ends,
    its prompt decoded in the same step), EOS as the only stop, T=1.0. The context is set up as
    our engine sets up its own (split KV buffers, no flash attention)."""
    import llama_cpp
    from llama_cpp._internals import LlamaContext, LlamaModel
    from llama_cpp._logger import set_verbose

    from distilabel_magpie.templates import from_gguf

    set_verbose(False)
    template = from_gguf(model_path)
    model = LlamaModel(path_model=model_path, params=llama_cpp.llama_model_default_params(), verbose=False)
    params = llama_cpp.llama_context_default_params()
    params.n_ctx, params.n_batch, params.n_ubatch, params.n_seq_max = 1024 * N_PARALLEL, 512, 512, N_PARALLEL
    params.kv_unified, params.flash_attn_type = False, 0
    params.n_threads = params.n_threads_batch = threads
    ctx = LlamaContext(model=model, params=params, verbose=False)
    vocab, batch = model.vocab, llama_cpp.llama_batch_init(512, 0, 1)
    tokenize = lambda text: model.tokenize(text.encode(), add_bos=False, special=True)  # noqa: E731

    def detok(tokens: list[int]) -> str:
        buf, pieces = ctypes.create_string_buffer(256), []
        for t in tokens:
            n = llama_cpp.llama_token_to_piece(vocab, t, buf, 256, 0, False)
            pieces.append(buf.raw[:max(n, 0)])
        return b"".join(pieces).decode("utf-8", "replace")

    def complete(prompts: list[list[int]], salt: int) -> list[tuple[str, int]]:
        results: list = [None] * len(prompts)
        queue, free, active = deque(enumerate(prompts)), list(range(N_PARALLEL)), []
        while queue or active:
            while queue and free:
                i, tokens = queue.popleft()
                chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
                llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_temp(1.0))
                llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_dist(seed * 100003 + salt + i))
                active.append({"i": i, "seq": free.pop(), "pending": list(tokens), "pos": 0, "gen": [],
                               "next": None, "sampler": chain})
            n, wants = 0, []
            for s in active:  # next tokens first, then prompt chunks, as many as the batch holds
                if s["next"] is not None:
                    n = _put(batch, n, s["next"], s["pos"], s["seq"], True)
                    wants.append((s, n - 1))
                    s["pos"], s["next"] = s["pos"] + 1, None
            for s in active:
                take = s["pending"][: 512 - n]
                del s["pending"][: len(take)]
                for j, t in enumerate(take):
                    last = not s["pending"] and j == len(take) - 1
                    n = _put(batch, n, t, s["pos"], s["seq"], last)
                    s["pos"] += 1
                    if last:
                        wants.append((s, n - 1))
            batch.n_tokens = n
            if llama_cpp.llama_decode(ctx.ctx, batch) != 0:
                raise SystemExit("llama_decode failed")
            for s, idx in wants:
                token = llama_cpp.llama_sampler_sample(s["sampler"], ctx.ctx, idx)
                s["gen"].append(token)
                if llama_cpp.llama_vocab_is_eog(vocab, token) or len(s["gen"]) >= max_new:
                    text = detok(s["gen"][:-1] if llama_cpp.llama_vocab_is_eog(vocab, token) else s["gen"])
                    results[s["i"]] = (text, len(s["gen"]))
                    llama_cpp.llama_sampler_free(s["sampler"])
                    llama_cpp.llama_memory_seq_rm(ctx.memory, s["seq"], -1, -1)
                    free.append(s["seq"])
                    active.remove(s)
                else:
                    s["next"] = token
        return results

    complete([tokenize(template.pre_query())], salt=10**6)  # warm up
    started = time.perf_counter()
    queries = complete([tokenize(template.pre_query())] * rows, salt=0)
    answers = complete([tokenize(template.response_prompt([{"role": "user", "content": q}])) for q, _ in queries],
                       salt=rows)
    seconds = time.perf_counter() - started
    return [{"query": q, "query_tokens": qn, "response": a, "response_tokens": an, "answered": True}
            for (q, qn), (a, an) in zip(queries, answers)], seconds


def _put(batch, i: int, token: int, pos: int, seq: int, logits: bool) -> int:
    batch.token[i], batch.pos[i], batch.n_seq_id[i], batch.logits[i] = token, pos, 1, logits
    batch.seq_id[i][0] = seq
    return i + 1


def worker(args: argparse.Namespace) -> None:
    global N_PARALLEL
    N_PARALLEL = args.n_parallel
    if args.worker == "decode_limit":
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from fast_paths import decode_limit

        tok_s = decode_limit(args.model_path, N_PARALLEL, steps=args.max_new_tokens, threads=args.threads)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print("RESULT " + json.dumps({"rows": [], "seconds": args.max_new_tokens * N_PARALLEL / tok_s,
                                      "tok_s": tok_s, "peak_rss_mb": peak_mb}))
        return
    runner = None
    if args.worker.startswith("ours"):
        rows, seconds, runner = run_ours(args.model_path, args.rows, args.max_new_tokens, args.threads, args.seed,
                                         args.worker)
    else:
        run = {"anchor": run_anchor, "engine_batched": run_engine_batched,
               "engine_single": run_engine_single}[args.worker]
        rows, seconds = run(args.model_path, args.rows, args.max_new_tokens, args.threads, args.seed)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps({"rows": rows, "seconds": seconds, "peak_rss_mb": peak_mb, "runner": runner}))


def where_time_went(runner: dict, width: int) -> str:
    """One line from our runner's counters: slot occupancy and the split of its time."""
    loop, decode = max(runner["loop_s"], 1e-9), runner["decode_s"]
    return (f"{runner['busy'] / max(runner['steps'], 1):.2f} of {width} sequences sampled per decode step; "
            f"llama_decode {decode / loop:.0%} of the loop ({runner['prefill_s'] / loop:.0%} on steps carrying "
            f"{runner['prompt_tokens']} prompt tokens), Python (batching, sampling, stops, rows) {1 - decode / loop:.0%}")


def cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
        name = next(line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name"))
        flags = next(line for line in text.splitlines() if line.startswith("flags")).split()
        isa = "AVX-512" if "avx512f" in flags else ("AVX2" if "avx2" in flags else "no AVX2")
        return f"{name} ({isa}{', AMX' if 'amx_int8' in flags else ''})"
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"


def chunk_stats(chunk: dict, max_new: int) -> dict:
    if "tok_s" in chunk:  # pure decoding: tokens/s only
        return {"tok_s": chunk["tok_s"], "acc_min": 0.0, "acc_tok_min": 0.0, "accepted": 0, "answer_tokens": [],
                "answered": 0, "ended": 0}
    rows, minutes = chunk["rows"], chunk["seconds"] / 60
    good = accepted(rows, max_new)
    answered = [r for r in rows if r.get("answered", True) and (r["query"] or "").strip()]
    ended = [r for r in answered if (r["response"] or "").strip() and r["response_tokens"] < max_new]
    return {
        "tok_s": sum(r["query_tokens"] + r["response_tokens"] for r in rows) / chunk["seconds"],
        "acc_min": len(good) / minutes,
        "acc_tok_min": sum(r["query_tokens"] + r["response_tokens"] for r in good) / minutes,
        "accepted": len(good),
        "answer_tokens": [r["response_tokens"] for r in good],
        "answered": len(answered),
        "ended": len(ended),
    }


def median_range(values: list[float], fmt: str) -> str:
    m = statistics.median(values)
    return f"{m:{fmt}} ({min(values):{fmt}}–{max(values):{fmt}})" if len(values) > 1 else f"{m:{fmt}}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=32, help="rows requested per chunk")
    parser.add_argument("--seeds", default="0,1,2", help="one chunk per seed, the same seeds for every configuration")
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--model-path", default=None, help="a .gguf chat model (default: the embedded SmolLM2)")
    parser.add_argument("--configs", default=",".join(CONFIGS), help=f"comma-separated, from {','.join(CONFIGS)}")
    parser.add_argument("--n-parallel", type=int, default=N_PARALLEL, help="sequences per decode step")
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--worker", choices=CONFIGS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.model_path is None:
        from distilabel_magpie.engines.models import embedded_model_path

        args.model_path = embedded_model_path()
    if args.worker:
        return worker(args)

    configs, seeds = args.configs.split(","), [int(s) for s in args.seeds.split(",")]
    print(f"cpu={cpu_model()} threads={args.threads} model={Path(args.model_path).name} "
          f"max_new_tokens={args.max_new_tokens} rows/chunk={args.rows} seeds={seeds} "
          f"sequences/step={args.n_parallel}", flush=True)
    results: dict[str, list[dict]] = {c: [] for c in configs}
    for seed in seeds:
        for config in configs:
            cmd = [sys.executable, __file__, "--worker", config, "--rows", str(args.rows), "--model-path",
                   args.model_path, "--max-new-tokens", str(args.max_new_tokens), "--threads", str(args.threads),
                   "--seed", str(seed), "--n-parallel", str(args.n_parallel)]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
            if proc.returncode != 0 or line is None:
                sys.exit(f"{config} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
            data = json.loads(line[len("RESULT "):])
            results[config].append(data)
            s = chunk_stats(data, args.max_new_tokens)
            print(f"  seed {seed} {config:15s} {data['seconds']:7.1f} s  {s['tok_s']:6.1f} tok/s  "
                  f"accepted {s['accepted']}/{len(data['rows'])}", flush=True)

    summary = {}
    print("\n| configuration | wall s | tokens/s | accepted pairs | accepted / min | accepted tokens / min | "
          "mean answer tokens (accepted) | answers ending on their own | peak RSS MB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for config in configs:
        stats = [chunk_stats(c, args.max_new_tokens) for c in results[config]]
        summary[config] = {k: statistics.median(s[k] for s in stats) for k in ("tok_s", "acc_min", "acc_tok_min")}
        answer_tokens = [t for s in stats for t in s["answer_tokens"]]
        answered, ended = sum(s["answered"] for s in stats), sum(s["ended"] for s in stats)
        print(f"| {LABELS[config]} | {sum(c['seconds'] for c in results[config]):.0f} | "
              f"{median_range([s['tok_s'] for s in stats], '.1f')} | {sum(s['accepted'] for s in stats)}"
              f"/{sum(len(c['rows']) for c in results[config])} | {median_range([s['acc_min'] for s in stats], '.2f')} | "
              f"{median_range([s['acc_tok_min'] for s in stats], '.0f')} | "
              f"{statistics.fmean(answer_tokens) if answer_tokens else 0:.0f} | {ended}/{answered} | "
              f"{max(c['peak_rss_mb'] for c in results[config]):.0f} |")
    print("\n(medians of the per-chunk rates, range in brackets)")
    for config in configs:
        for c in results[config]:
            if c.get("runner"):
                print(f"where the time went, {config} seed chunk: {where_time_went(c['runner'], args.n_parallel)}")

    def ratio(a: str, b: str, key: str) -> float:
        return summary[a][key] / max(summary[b][key], 1e-9)

    ratios = {}
    if {"ours_same", "anchor"} <= summary.keys():
        ratios["ratio_accepted_pairs_per_min_same_sampling"] = ratio("ours_same", "anchor", "acc_min")
        ratios["ratio_accepted_tokens_per_min_same_sampling"] = ratio("ours_same", "anchor", "acc_tok_min")
        ratios["ratio_tokens_per_s_vs_anchor"] = ratio("ours_same", "anchor", "tok_s")
    for other in ("ours_paper", "ours_small"):
        if {other, "anchor"} <= summary.keys():
            ratios[f"ratio_accepted_pairs_per_min_{other}"] = ratio(other, "anchor", "acc_min")
            ratios[f"ratio_accepted_tokens_per_min_{other}"] = ratio(other, "anchor", "acc_tok_min")
    if {"ours_same", "engine_batched"} <= summary.keys():
        ratios["ratio_tokens_per_s_vs_engine_ceiling"] = ratio("ours_same", "engine_batched", "tok_s")
    if {"ours_same", "decode_limit"} <= summary.keys():  # the ceiling: every slot decoding in every step
        ratios["ratio_tokens_per_s_vs_decode_limit"] = ratio("ours_same", "decode_limit", "tok_s")
    if {"ours_same", "engine_single"} <= summary.keys():
        ratios["ratio_tokens_per_s_vs_engine_single"] = ratio("ours_same", "engine_single", "tok_s")
    print("\n" + " ".join(f"{k}={v:.2f}" for k, v in ratios.items()))


if __name__ == "__main__":
    main()
