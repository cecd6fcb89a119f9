"""GPU side by side with the transformers backend: distilabel's MagpieGenerator +
TransformersLLM (the anchor), our default single-turn step on TransformersEngine, and plain
batched `generate` (the engine's own limit), with the same model, token limits and acceptance
rule as `throughput.py`.

    python benchmarks/gpu_transformers.py --model-path SmolLM2-135M-Instruct.Q4_1.gguf [--rows 64]

The model is the embedded GGUF, dequantised by transformers to bf16 and saved with
`save_pretrained` (nothing is downloaded), so the accepted pairs are real. The anchor decodes
one sequence at a time and gets fewer rows (`--anchor-rows`); rates are per minute.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from throughput import accepted_pairs, anchor_rows, ours_rows  # noqa: E402


def build_model(gguf_path: str) -> str:
    """The GGUF's weights and tokenizer as a bf16 Hugging Face model directory."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(gguf_path)
    out = Path(tempfile.mkdtemp()) / path.stem
    AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name).save_pretrained(out)
    loaded = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.bfloat16)
    # A GGUF-loaded model refuses save_pretrained (its loader counts as a quantizer): copy the
    # dequantised weights into a plain model of the same config.
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
    if unexpected or any(not k.startswith("lm_head") for k in missing):  # lm_head is tied to the embeddings
        raise SystemExit(f"weights did not transfer: missing {missing}, unexpected {unexpected}")
    model.tie_weights()
    model.save_pretrained(out)
    return str(out)


def run_anchor(model: str, rows: int, max_new: int, device: str) -> tuple[list[dict], float]:
    from distilabel.models.llms import TransformersLLM

    llm = TransformersLLM(model=model, tokenizer=model, device=device, torch_dtype="bfloat16",
                          disable_cuda_device_placement=True,  # no pipeline here to assign devices
                          magpie_pre_query_template="qwen2",
                          generation_kwargs={"max_new_tokens": max_new, "temperature": 1.0, "top_p": 1.0})
    return anchor_rows(llm, rows)


def run_ours(model: str, rows: int, max_new: int, seed: int, batch: int, device: str) -> tuple[list[dict], float]:
    from distilabel_magpie.engines.transformers import TransformersEngine

    llm = TransformersEngine(model=model, device=device, torch_dtype="bfloat16", batch_size=batch)
    return ours_rows(llm, rows, max_new, seed, "ours_small")  # the default pipeline's sampling


def run_engine(model: str, rows: int, max_new: int, seed: int, batch: int, device: str) -> tuple[list[dict], float]:
    """Plain batched `generate`: queries from the pre-query text, then an answer to each, T=1.0,
    EOS as the only stop."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from distilabel_magpie.templates import from_hf_tokenizer

    tok = AutoTokenizer.from_pretrained(model)
    lm = AutoModelForCausalLM.from_pretrained(model, dtype=torch.bfloat16).to(device).eval()
    template = from_hf_tokenizer(tok)
    tok.padding_side = "left"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    eos = tok.eos_token_id
    torch.manual_seed(seed)

    def generate(prompts: list[str]) -> list[tuple[str, int]]:
        enc = tok(prompts, add_special_tokens=False, return_tensors="pt", padding=True).to(device)
        with torch.inference_mode():
            out = lm.generate(**enc, max_new_tokens=max_new, do_sample=True, temperature=1.0, top_p=1.0,
                              eos_token_id=eos, pad_token_id=tok.pad_token_id)
        results = []
        for row in out[:, enc["input_ids"].shape[1]:].tolist():
            n = row.index(eos) + 1 if eos in row else len(row)  # tokens generated, EOS included
            results.append((tok.decode(row[: n - 1 if eos in row else n], skip_special_tokens=True), n))
        return results

    started, out = time.perf_counter(), []
    for start in range(0, rows, batch):
        queries = generate([template.pre_query()] * min(batch, rows - start))
        answers = generate([template.response_prompt([{"role": "user", "content": q}]) for q, _ in queries])
        out += [{"query": q, "query_tokens": qn, "response": a, "response_tokens": an}
                for (q, qn), (a, an) in zip(queries, answers)]
    return out, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-path", required=True, help="a .gguf chat model (the embedded SmolLM2)")
    parser.add_argument("--rows", type=int, default=64)
    parser.add_argument("--anchor-rows", type=int, default=8, help="the anchor decodes one sequence at a time")
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--batch", type=int, default=64, help="sequences per generate call (ours, engine)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cuda", help="cuda (cpu only to try the script out)")
    parser.add_argument("--configs", default="engine,ours,anchor")
    args = parser.parse_args()
    import torch

    model = build_model(args.model_path)
    name = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else args.device
    print(f"device={name} model={Path(args.model_path).name} (bf16) rows={args.rows} "
          f"anchor_rows={args.anchor_rows} max_new_tokens={args.max_new_tokens} batch={args.batch}", flush=True)
    run_engine(model, 8, 16, args.seed, args.batch, args.device)  # warm-up: CUDA kernels, allocator
    runs = {"engine": lambda: run_engine(model, args.rows, args.max_new_tokens, args.seed, args.batch, args.device),
            "ours": lambda: run_ours(model, args.rows, args.max_new_tokens, args.seed, args.batch, args.device),
            "anchor": lambda: run_anchor(model, args.anchor_rows, args.max_new_tokens, args.device)}
    summary = {}
    print(f"{'configuration':8s} {'seconds':>8s} {'tok/s':>8s} {'rows':>5s} {'accepted':>8s} {'acc/min':>8s}")
    for name in args.configs.split(","):
        run = runs[name]
        rows, seconds = run()
        tokens = sum(r["query_tokens"] + r["response_tokens"] for r in rows)
        accepted = accepted_pairs(rows, args.max_new_tokens)
        summary[name] = (tokens / seconds, accepted / seconds * 60)
        print(f"{name:8s} {seconds:8.1f} {tokens / seconds:8.1f} {len(rows):5d} {accepted:8d} {summary[name][1]:8.2f}",
              flush=True)
    shutil.rmtree(Path(model).parent, ignore_errors=True)
    if {"ours", "anchor", "engine"} <= summary.keys():
        print(f"\nratio_accepted_pairs_per_min={summary['ours'][1] / max(summary['anchor'][1], 1e-9):.2f} "
              f"ratio_tokens_per_s_vs_anchor={summary['ours'][0] / summary['anchor'][0]:.2f} "
              f"ratio_tokens_per_s_vs_engine={summary['ours'][0] / summary['engine'][0]:.2f}")


if __name__ == "__main__":
    main()
