"""A real check: Magpie queries from a coding model (a local GGUF, e.g. Qwen2.5-Coder-1.5B-Instruct)
checked against HumanEval. Samples the queries with the package's own pipeline steps, writes
them to OUT/queries, runs the same code as `distilabel-magpie decontaminate ... --benchmark
humaneval`, and prints how many rows are flagged, the flagged rows, and the rows with the highest
overlap ratios (flagged or not).

    python benchmarks/decontaminate_humaneval.py MODEL.gguf --rows 220 --out data/coder-decont
"""

import argparse
import json
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a GGUF file")
    parser.add_argument("--rows", type=int, default=220)
    parser.add_argument("--out", default="data/coder-decont")
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--skip-generation", action="store_true", help="reuse OUT/queries")
    args = parser.parse_args()
    out = Path(args.out)
    if not args.skip_generation:
        from distilabel.pipeline import Pipeline

        from distilabel_magpie.engines.llamacpp import LlamaCppEngine
        from distilabel_magpie.generation import FinalizeRows, MagpieSamplerStep, RowIndices
        from distilabel_magpie.output.save import SaveDataset

        start = time.perf_counter()
        with Pipeline(name="coder-queries") as pipeline:
            rows = RowIndices(name="row_indices", num_rows=args.rows, batch_size=20)
            queries = MagpieSamplerStep(name="magpie_sampler", llm=LlamaCppEngine(model_path=args.model),
                                        num_rows=args.rows, batch_size=20, input_batch_size=20,
                                        max_new_tokens=args.max_new_tokens, min_p=0.02, seed=0)
            save = SaveDataset(name="save_dataset", output_dir=str(out / "queries"), report=False)
            rows >> queries >> FinalizeRows(name="finalize_rows", num_rows=args.rows) >> save
        pipeline.run(use_cache=False)
        print(f"generated {args.rows} queries in {time.perf_counter() - start:.0f} s")
    from distilabel_magpie.curation.decontaminate import decontaminate_dataset

    print(decontaminate_dataset(str(out / "queries"), ["humaneval"], str(out / "checked")))
    rows = [json.loads(line) for line in (out / "checked" / "data.jsonl").read_text().splitlines()]
    ok = [r for r in rows if r.get("instruction_status") == "ok"]
    print(f"{len(rows)} rows, {len(ok)} with instruction_status ok")
    for r in sorted(rows, key=lambda r: -r["contamination_ratio"])[:10]:
        print(json.dumps({k: r.get(k) for k in ("contamination_status", "contamination_ratio", "contamination_item",
                                                 "contamination_ngram", "instruction")}, ensure_ascii=False)[:600])


if __name__ == "__main__":
    main()
