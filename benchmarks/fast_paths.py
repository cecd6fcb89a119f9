"""llama.cpp's extra CPU buffer types (weight repacking; AMX where built in) on and off.

    python benchmarks/fast_paths.py [--tokens 128] [--repeats 3]

Loads the embedded SmolLM2-135M-Instruct (Q4_1, which llama.cpp does not repack on x86) and a
Q4_0 copy of it (requantised here once, into benchmarks/.cache; Q4_0 is what CPU repacking
rearranges), each with `use_extra_bufts` on and off, and times our batched runner on the same
prompts and seeds: prefill tokens/s of a long prompt, and generated tokens/s with 1 and 8
sequences per decode step. Prints a table and, last, the on/off ratios.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).parent.parent / "src"))

from distilabel_magpie.engines.base import SamplingParams  # noqa: E402
from distilabel_magpie.engines.llamacpp import LlamaCppRunner, load_llama_model  # noqa: E402
from distilabel_magpie.engines.models import embedded_model_path  # noqa: E402

CACHE = Path(__file__).parent / ".cache"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def q4_0_copy(source: str) -> str:
    import llama_cpp

    out = CACHE / (Path(source).stem.replace("Q4_1", "Q4_0") + ".gguf")
    if not out.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        params = llama_cpp.llama_model_quantize_default_params()
        params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_0
        params.allow_requantize = True
        if llama_cpp.llama_model_quantize(source.encode(), str(out).encode(), params) != 0:
            raise SystemExit(f"could not requantise {source} to Q4_0")
    return str(out)


def measure(path: str, extra: bool, tokens: int, repeats: int) -> dict:
    model = load_llama_model(path, use_extra_bufts=extra)
    runners = {width: LlamaCppRunner(model, n_parallel=width, n_ctx=1024) for width in (1, 8)}
    long_prompt = "<|im_start|>user\n" + "Tell me about the history of bread and baking. " * 40 + "<|im_end|>\n"
    prompts = [f"<|im_start|>user\nWrite a story about topic {i}.<|im_end|>\n<|im_start|>assistant\n" for i in range(8)]
    for runner in runners.values():  # warm up
        runner.complete(prompts[:1], SamplingParams(max_new_tokens=4, seed=0))
    got: dict = {"prefill": [], "decode_1": [], "decode_8": []}
    for r in range(repeats):
        prompt = f"{r} {long_prompt}"  # a new first token: nothing comes from the prompt cache
        start = time.perf_counter()
        runners[1].complete([prompt], SamplingParams(max_new_tokens=1, seed=r))
        got["prefill"].append(len(runners[1].tokenize(prompt)) / (time.perf_counter() - start))
        for width, runner in runners.items():
            start = time.perf_counter()
            out = runner.complete(prompts[:width], SamplingParams(max_new_tokens=tokens, temperature=1.0, seed=100 + r))
            generated = sum(c.completion_tokens for samples in out for c in samples)
            got[f"decode_{width}"].append(generated / (time.perf_counter() - start))
    for runner in runners.values():
        runner.close()
    model.close()
    return {k: statistics.median(v) for k, v in got.items()}


def decode_limit(model_path: str, n_seq: int, steps: int = 128, threads: Optional[int] = None) -> float:
    """Pure decoding: generated tokens/s of `n_seq` sequences that each get one new token in every
    decode step for `steps` steps (no prompts to prefill after the first, no sequence ending, so
    no slot idles), sampled at T=1.0 as the pipelines do, on a context set up as our runner's.
    The ceiling a generation step can reach with that many sequences per step."""
    import llama_cpp

    model = load_llama_model(model_path)
    runner = LlamaCppRunner(model, n_parallel=n_seq, n_ctx=steps + 64, n_threads=threads)
    lib, ctx = llama_cpp, runner.ctx.ctx
    samplers = [runner._sampler(SamplingParams(temperature=1.0), seed) for seed in range(n_seq)]
    prompt = runner.tokenize("<|im_start|>user\nTell me a long story.<|im_end|>\n<|im_start|>assistant\n")
    n = 0
    for seq in range(n_seq):  # the prompts, once
        for pos, token in enumerate(prompt):
            runner._put(n, token, pos, seq, pos == len(prompt) - 1)
            n += 1
    runner._batch.n_tokens = n
    lib.llama_decode(ctx, runner._batch)
    outputs = [len(prompt) * (seq + 1) - 1 for seq in range(n_seq)]
    pos, generated = len(prompt), 0
    start = time.perf_counter()
    for _ in range(steps):
        tokens = [lib.llama_sampler_sample(samplers[seq], ctx, outputs[seq]) for seq in range(n_seq)]
        for seq, token in enumerate(tokens):
            runner._put(seq, token, pos, seq, True)
        runner._batch.n_tokens = n_seq
        if lib.llama_decode(ctx, runner._batch) != 0:
            raise SystemExit("llama_decode failed")
        outputs, pos, generated = list(range(n_seq)), pos + 1, generated + n_seq
    seconds = time.perf_counter() - start
    for sampler in samplers:
        lib.llama_sampler_free(sampler)
    runner.close()
    model.close()
    return generated / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    import llama_cpp

    print(f"CPU: {cpu_model()}; llama.cpp: {llama_cpp.llama_print_system_info().decode().strip()}")
    embedded = embedded_model_path()
    rows = []
    for name, path in (("Q4_1 (embedded)", embedded), ("Q4_0 (requantised)", q4_0_copy(embedded))):
        for extra in (True, False):
            m = measure(path, extra, args.tokens, args.repeats)
            rows.append((name, extra, m))
    print("\n| model | extra buffer types | prefill tok/s | generated tok/s, 1 seq | generated tok/s, 8 seqs |")
    print("|---|---|---:|---:|---:|")
    for name, extra, m in rows:
        print(f"| {name} | {'on' if extra else 'off'} | {m['prefill']:.0f} | {m['decode_1']:.1f} | {m['decode_8']:.1f} |")
    ratios = []
    for i in range(0, len(rows), 2):
        on, off = rows[i][2], rows[i + 1][2]
        tag = "q4_1" if i == 0 else "q4_0"
        ratios += [f"{tag}_{k}_on_over_off={on[k] / off[k]:.2f}" for k in ("prefill", "decode_1", "decode_8")]
    print("\n" + " ".join(ratios))


if __name__ == "__main__":
    main()
