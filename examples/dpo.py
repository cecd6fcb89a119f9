"""Magpie-PO: preference pairs from the embedded SmolLM2 model.

For each query, k responses are sampled in one engine call (T=0.8, one shared prefill), scored
by a reward model, and the best/worst become chosen/rejected (TRL's DPO format).

The queries come from a stand-in (`queries_stand_in`, a few crafted queries) until the
generation steps land; then `MagpieSampler` replaces it.

    # CPU smoke run: a tiny random reward model built locally (scores are meaningless)
    python examples/dpo.py --out dpo.jsonl
    # A real reward model on a GPU
    python examples/dpo.py --reward-model Skywork/Skywork-Reward-Llama-3.1-8B-v0.2 --device cuda --dtype bfloat16
    python examples/dpo.py --reward-model RLHFlow/ArmoRM-Llama3-8B-v0.1 --trust-remote-code --device cuda
    # Write the pipeline YAML (pipelines/magpie-dpo.yaml)
    python examples/dpo.py --dump pipelines/magpie-dpo.yaml
"""

from __future__ import annotations

import argparse
import tempfile

from distilabel.pipeline import Pipeline

from distilabel_magpie.curation import PreferencePairs, SampleCandidates, save_rows
from distilabel_magpie.curation.standin import StandInQueries
from distilabel_magpie.engines import LlamaCppEngine
from distilabel_magpie.scoring import RewardModelLabeler

STAND_IN_QUERIES = [
    "How do I make a cup of green tea?",
    "Write a short poem about the moon.",
    "What are three tips for learning a new language?",
    "Explain what a prime number is.",
]


YAML_HEADER = """\
# Magpie-PO preference pairs. Written by `python examples/dpo.py --dump pipelines/magpie-dpo.yaml`.
# `queries_stand_in` holds crafted queries until MagpieSampler replaces it.
# CPU run with a tiny local reward model (build one with distilabel_magpie.scoring.tiny):
#   distilabel pipeline run --config pipelines/magpie-dpo.yaml \\
#     --param score_candidates.model=/path/to/tiny-reward --param sample_candidates.num_candidates=3
# GPU run with a real reward model:
#   distilabel pipeline run --config pipelines/magpie-dpo.yaml \\
#     --param score_candidates.model=Skywork/Skywork-Reward-Llama-3.1-8B-v0.2 \\
#     --param score_candidates.device=cuda --param score_candidates.dtype=bfloat16
"""


def build_pipeline(model_path: str = "embedded", reward_model: str = "Skywork/Skywork-Reward-Llama-3.1-8B-v0.2",
                   k: int = 5, max_new_tokens: int = 256) -> Pipeline:
    with Pipeline(name="magpie-dpo", description="Magpie-PO preference pairs (k samples, reward model, "
                  "chosen = best, rejected = worst)") as pipeline:
        queries = StandInQueries(name="queries_stand_in", queries=STAND_IN_QUERIES)  # until MagpieSampler lands
        candidates = SampleCandidates(
            name="sample_candidates", llm=LlamaCppEngine(model_path=model_path), num_candidates=k, temperature=0.8,
            max_new_tokens=max_new_tokens, input_batch_size=8)
        score = RewardModelLabeler(
            name="score_candidates", model=reward_model, response_column="generations", output_column="ratings")
        select = PreferencePairs(name="preference_pairs", min_margin=0.0, tie_policy="length")
        queries >> candidates >> score >> select
    return pipeline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reward-model", help="reward model directory or hub id (default: a tiny local one)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--trust-remote-code", action="store_true")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--out", default="dpo.jsonl", help="TRL DPO rows (.jsonl or .parquet)")
    parser.add_argument("--dump", help="write the pipeline YAML here and exit")
    args = parser.parse_args()
    if args.dump:
        build_pipeline().save(args.dump, format="yaml")
        with open(args.dump, encoding="utf-8") as f:
            body = f.read()
        with open(args.dump, "w", encoding="utf-8") as f:
            f.write(YAML_HEADER + body)
        return
    from distilabel_magpie.models import embedded_model_path
    from distilabel_magpie.scoring.tiny import build_tiny_reward_model

    reward_model = args.reward_model or build_tiny_reward_model(tempfile.mkdtemp(prefix="tiny-reward-"))
    pipeline = build_pipeline(embedded_model_path(), reward_model, args.k, args.max_new_tokens)
    distiset = pipeline.run(use_cache=False, parameters={"score_candidates": {
        "device": args.device, "dtype": args.dtype, "trust_remote_code": args.trust_remote_code}})
    rows = distiset["default"]["train"].to_list()
    print(f"{len(rows)} preference pairs -> {save_rows(rows, args.out, kind='dpo')}")


if __name__ == "__main__":
    main()
