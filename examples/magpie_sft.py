"""Single-turn Magpie SFT data on the embedded SmolLM2-135M-Instruct (CPU, no download).

    python examples/magpie_sft.py --rows 20

Same pipeline as `distilabel pipeline run --config pipelines/magpie-sft.yaml`.
"""

import argparse

from distilabel_magpie.pipelines import build_sft_pipeline

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100)
    parser.add_argument("--model-path", default="embedded", help="a .gguf chat model")
    parser.add_argument("--output-dir", default="data/magpie-sft")
    args = parser.parse_args()
    pipeline = build_sft_pipeline(args.rows, args.model_path, args.output_dir)
    distiset = pipeline.run(use_cache=False)
    print(distiset)
