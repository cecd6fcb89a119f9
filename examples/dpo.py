"""Magpie-PO: preference pairs from the embedded SmolLM2 model.

Queries come from `MagpieSampler`; for each, k responses are sampled in one engine call (T=0.8,
one shared prefill), scored by a reward model, and the best/worst become chosen/rejected (TRL's
DPO format). Same pipeline as `pipelines/magpie-dpo.yaml`.

    # CPU smoke run: a tiny random reward model built locally (scores are meaningless)
    python examples/dpo.py --rows 8 --out dpo.jsonl
    # A real reward model on a GPU
    python examples/dpo.py --reward-model Skywork/Skywork-Reward-Llama-3.1-8B-v0.2 --device cuda --dtype bfloat16
    python examples/dpo.py --reward-model RLHFlow/ArmoRM-Llama3-8B-v0.1 --trust-remote-code --device cuda
"""

import argparse
import tempfile

from distilabel_magpie.curation import save_rows
from distilabel_magpie.pipelines import build_dpo_pipeline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reward-model", help="reward model directory or hub id (default: a tiny local one)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--trust-remote-code", action="store_true")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--out", default="dpo.jsonl", help="TRL DPO rows (.jsonl or .parquet)")
    parser.add_argument("--rows", type=int, default=20)
    args = parser.parse_args()
    from distilabel_magpie.scoring.tiny import build_tiny_reward_model

    reward_model = args.reward_model or build_tiny_reward_model(tempfile.mkdtemp(prefix="tiny-reward-"))
    pipeline = build_dpo_pipeline(args.rows, "embedded", reward_model, args.k, args.max_new_tokens)
    distiset = pipeline.run(use_cache=False, parameters={"score_candidates": {
        "device": args.device, "dtype": args.dtype, "trust_remote_code": args.trust_remote_code}})
    rows = distiset["default"]["train"].to_list()
    print(f"{len(rows)} preference pairs -> {save_rows(rows, args.out, kind='dpo')}")


if __name__ == "__main__":
    main()
