"""How well the judge's quality tag separates well-formed queries from broken ones.

The labelled set comes from real generations (JSONL rows of `real_queries.py`), by rule:
- broken: the sampler flagged it (`truncated`, `repetitive`, `leaked_role`, `self_answered`), or
  an `ok` query of at most one word;
- good: an `ok` query of 5 to 80 words that starts with a capital letter and ends like a sentence
  (`?`, `.`, `!`, `:` or a closing code fence).
Other rows are left out. Reported: pairwise win rate (a good query rated above a broken one; ties
count half), parse rate, mean rating per group (0 = very poor ... 4 = excellent), seconds per row.

    python benchmarks/judge_eval.py data/qwen-queries.jsonl --judge qwen2.5-coder-1.5b-instruct --per-group 40
"""

from __future__ import annotations

import argparse
import json
import re
import time
import warnings
from pathlib import Path

BROKEN = ("truncated", "repetitive", "leaked_role", "self_answered")
SENTENCE_END = re.compile(r"(?:[?.!:]|```)\s*$")


def label(row: dict) -> str | None:
    text, status = (row.get("instruction") or "").strip(), row.get("instruction_status")
    words = len(text.split())
    if status in BROKEN and text:
        return "broken"
    if status == "ok" and words <= 1 and text:
        return "broken"
    if status == "ok" and 5 <= words <= 80 and text[0].isupper() and SENTENCE_END.search(text):
        return "good"
    return None


def labelled_set(paths: list[str], per_group: int) -> list[dict]:
    rows = [json.loads(line) for p in paths for line in Path(p).read_text().splitlines() if line.strip()]
    groups: dict[str, list[dict]] = {"good": [], "broken": []}
    for row in rows:
        kind = label(row)
        if kind and len(groups[kind]) < per_group:
            groups[kind].append({"instruction": row["instruction"], "instruction_status": "ok", "label": kind,
                                 "sampler_status": row.get("instruction_status")})
    return groups["good"] + groups["broken"]


def win_rate(good: list[float], broken: list[float]) -> float:
    pairs = [(g > b) + 0.5 * (g == b) for g in good for b in broken]
    return sum(pairs) / len(pairs) if pairs else float("nan")


def main() -> None:
    warnings.filterwarnings("ignore")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("queries", nargs="+", help="JSONL files of real_queries.py")
    parser.add_argument("--judge", default="qwen2.5-coder-1.5b-instruct")
    parser.add_argument("--per-group", type=int, default=40)
    parser.add_argument("--variant", action="store_true",
                        help="also run REASON_FIRST_PROMPT (reason before rating) beside the step's prompt")
    parser.add_argument("--n-parallel", type=int, default=8)
    parser.add_argument("--out", help="write the judged rows here (JSONL)")
    args = parser.parse_args()

    from fast_paths import cpu_model  # this folder is on sys.path when run as a script
    from distilabel_magpie.engines import LlamaCppEngine
    from distilabel_magpie.scoring import judge as judge_module
    from distilabel_magpie.scoring.parsing import QUALITY_LEVELS

    rows = labelled_set(args.queries, args.per_group)
    counts = {k: sum(r["label"] == k for r in rows) for k in ("good", "broken")}
    llm = LlamaCppEngine(model_path=args.judge, n_parallel=args.n_parallel)
    variants = {"step": (judge_module.PROMPTS["quality"], judge_module._ORDER["quality"])}
    if args.variant:
        variants["reason_first"] = (REASON_FIRST_PROMPT, ["explanation", "input_quality"])
    results = {}
    judged_rows = []
    for name, (prompt, order) in variants.items():
        judge_module.PROMPTS["quality"], judge_module._ORDER["quality"] = prompt, order
        judge_module.schema_for.cache_clear()
        judge = judge_module.MagpieJudge(llm=llm, tags=["quality"])
        judge.load()
        batch = [dict(r) for r in rows]
        started = time.monotonic()
        out = next(judge.process(batch))
        seconds = time.monotonic() - started
        score = {level: i for i, level in enumerate(QUALITY_LEVELS)}
        parsed = [r for r in out if r.get("quality") in score]
        good = [score[r["quality"]] for r in parsed if r["label"] == "good"]
        broken = [score[r["quality"]] for r in parsed if r["label"] == "broken"]
        rated = [r for r in out if isinstance(r.get("quality_rating"), float)]
        good_rating = [r["quality_rating"] for r in rated if r["label"] == "good"]
        broken_rating = [r["quality_rating"] for r in rated if r["label"] == "broken"]
        results[name] = {"win_rate": round(win_rate(good, broken), 3), "parse_rate": round(len(parsed) / len(out), 3),
                         "mean_good": round(sum(good) / max(len(good), 1), 2),
                         "mean_broken": round(sum(broken) / max(len(broken), 1), 2),
                         "rating_win_rate": round(win_rate(good_rating, broken_rating), 3),
                         "rating_rate": round(len(rated) / len(out), 3),
                         "mean_rating_good": round(sum(good_rating) / max(len(good_rating), 1), 2),
                         "mean_rating_broken": round(sum(broken_rating) / max(len(broken_rating), 1), 2),
                         "seconds_per_row": round(seconds / len(out), 2)}
        judged_rows += [{**r, "variant": name} for r in out]
        print(json.dumps({name: results[name]}), flush=True)
    if args.out:
        with open(args.out, "w") as f:
            for r in judged_rows:
                f.write(json.dumps({k: r.get(k) for k in ("variant", "label", "sampler_status", "instruction", "quality",
                                                          "quality_rating", "quality_explanation")}, ensure_ascii=False) + "\n")
    print(json.dumps({"judge": args.judge, "set": counts, "cpu": cpu_model(), **results}))


# A variant measured against the step's prompt (`--variant`): the reason before the rating, the
# broken forms named in the rubric, three examples, the query last. On 20 good and 20 broken real
# queries it did worse with Qwen2.5-Coder-1.5B (win rate 0.705 against 0.807) and took longer per
# row: its reasons said "incomplete" for broken queries, but it rated them "poor", not "very poor",
# and it called good queries incomplete too (docs/real-models.md).
REASON_FIRST_PROMPT = (
    "You check user queries written for a chatbot training set. Some are well-formed requests. "
    "Others are broken: cut off in the middle of a sentence, repeating themselves, carrying their "
    "own answer or another speaker's turn, or not a request at all.\n\n"
    "Rate the query:\n"
    "- very poor: broken (cut off, repetitive, contains an answer or a dialogue), a fragment, or "
    "not a request or question.\n"
    "- poor: a complete request, but unclear or missing essential information.\n"
    "- average: a complete, understandable request; some details are missing.\n"
    "- good: a complete, clear and specific request.\n"
    "- excellent: a complete, very clear and specific request with all the context needed.\n\n"
    "Examples:\n"
    '"How do I reverse a list in Python without changing the original?" -> good\n'
    '"Write a function that takes a list of integers and returns the" -> very poor (cut off)\n'
    '"What is the capital of France? The answer is Paris." -> very poor (contains its answer)\n\n'
    "First say in one sentence whether the query is complete and what it asks, then rate it.\n"
    'Answer with JSON only: {{"explanation": "<one sentence>", '
    '"input_quality": "<very poor|poor|average|good|excellent>"}}\n\n'
    "<query>\n{query}\n</query>"
)

if __name__ == "__main__":
    main()
