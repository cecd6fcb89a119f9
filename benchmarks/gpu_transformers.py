"""GPU tokens/s with the transformers backend: distilabel's MagpieGenerator + TransformersLLM
(the anchor), our TransformersEngine, and plain batched `generate` (the engine's own limit), on
the same work: `rows` queries from the pre-query prompt, then an answer to each.

    python benchmarks/gpu_transformers.py --tokenizer DIR [--rows 64]

No weights are downloaded: the model is SmolLM2-135M's architecture with random weights, built
here and saved with `save_pretrained` (speed per token does not depend on the weights, but random
weights rarely stop early, so only tokens/s is meaningful; accepted pairs are not reported).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")


def build_model(tokenizer_dir: str) -> str:
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    out = Path(tempfile.mkdtemp()) / "smollm2-135m-random"
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    config = LlamaConfig(vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                         num_attention_heads=9, num_key_value_heads=3, max_position_embeddings=8192,
                         rope_theta=100000.0, rms_norm_eps=1e-5, tie_word_embeddings=True,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    LlamaForCausalLM(config).to(torch.bfloat16).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return str(out)


def anchor(model: str, rows: int, max_new: int) -> tuple[int, float]:
    from distilabel.models.llms import TransformersLLM
    from distilabel.steps.tasks import MagpieGenerator

    llm = TransformersLLM(model=model, tokenizer=model, device=0, torch_dtype="bfloat16",
                          magpie_pre_query_template="qwen2",
                          generation_kwargs={"max_new_tokens": max_new, "temperature": 1.0})
    step = MagpieGenerator(llm=llm, num_rows=rows, batch_size=rows, n_turns=1)
    step.load()
    started = time.perf_counter()
    batch = next(step.process())[0]
    seconds = time.perf_counter() - started
    tokens = 0
    for r in batch:
        stats = r["distilabel_metadata"][f"statistics_{step.name}"]["output_tokens"]
        tokens += sum(s[0] if isinstance(s, list) else s for s in stats)
    return tokens, seconds


def ours(model: str, rows: int, max_new: int, batch: int) -> tuple[int, float]:
    """Our engine on the same work: `rows` queries, then an answer to every query (random
    weights make every query hit the limit, so the step itself would answer none)."""
    from distilabel_magpie.engines.base import SamplingParams
    from distilabel_magpie.engines.transformers import TransformersEngine

    llm = TransformersEngine(model=model, device="cuda", torch_dtype="bfloat16", batch_size=batch)
    llm.load()
    template = llm.own_template()
    started = time.perf_counter()
    queries = llm.complete([template.pre_query()], SamplingParams(max_new_tokens=max_new, n=rows, seed=0,
                                                                  stop=tuple(template.query_stop)))[0]
    answers = llm.complete([template.response_prompt([{"role": "user", "content": q.text}]) for q in queries],
                           SamplingParams(max_new_tokens=max_new, temperature=1.0, seed=0,
                                          stop=tuple(template.response_stop)))
    seconds = time.perf_counter() - started
    return sum(q.completion_tokens for q in queries) + sum(a[0].completion_tokens for a in answers), seconds


def bare(model: str, rows: int, max_new: int, batch: int) -> tuple[int, float]:
    """Plain batched generate over the same kind of prompts: queries, then answers to them."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from distilabel_magpie.templates import from_hf_tokenizer

    tok = AutoTokenizer.from_pretrained(model)
    lm = AutoModelForCausalLM.from_pretrained(model, dtype=torch.bfloat16).to("cuda").eval()
    template = from_hf_tokenizer(tok)
    tok.padding_side = "left"
    started, tokens = time.perf_counter(), 0

    def generate(prompts):
        nonlocal tokens
        enc = tok(prompts, add_special_tokens=False, return_tensors="pt", padding=True).to("cuda")
        with torch.inference_mode():
            out = lm.generate(**enc, max_new_tokens=max_new, do_sample=True, temperature=1.0,
                              pad_token_id=tok.pad_token_id)
        new = out[:, enc["input_ids"].shape[1]:]
        tokens += int((new != tok.pad_token_id).sum())
        return tok.batch_decode(new, skip_special_tokens=True)

    for start in range(0, rows, batch):
        n = min(batch, rows - start)
        queries = generate([template.pre_query()] * n)
        generate([template.response_prompt([{"role": "user", "content": q}]) for q in queries])
    return tokens, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokenizer", required=True, help="SmolLM2 tokenizer directory")
    parser.add_argument("--rows", type=int, default=64)
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--anchor-rows", type=int, default=16, help="the anchor decodes one sequence at a time")
    args = parser.parse_args()
    import torch

    model = build_model(args.tokenizer)
    print(f"device={torch.cuda.get_device_name(0)} rows={args.rows} max_new_tokens={args.max_new_tokens} "
          f"batch={args.batch} (random-weight SmolLM2-135M, bf16)", flush=True)
    bare(model, min(8, args.rows), 16, args.batch)  # warm-up: CUDA kernels, allocator
    results = {}
    for name, run in (("engine", lambda: bare(model, args.rows, args.max_new_tokens, args.batch)),
                      ("ours", lambda: ours(model, args.rows, args.max_new_tokens, args.batch)),
                      ("anchor", lambda: anchor(model, args.anchor_rows, args.max_new_tokens))):
        tokens, seconds = run()
        results[name] = tokens / seconds
        print(f"{name:7s} {tokens:7d} tokens {seconds:7.1f} s {tokens / seconds:9.1f} tok/s", flush=True)
    shutil.rmtree(Path(model).parent, ignore_errors=True)
    print(f"ratio_tokens_per_s_vs_anchor={results['ours'] / results['anchor']:.2f} "
          f"ratio_tokens_per_s_vs_engine={results['ours'] / results['engine']:.2f}")


if __name__ == "__main__":
    main()
