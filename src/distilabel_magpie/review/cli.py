"""`review-server start|stop|status` and `review push|pull` subcommands.

`register(subparsers)` adds them to the package CLI; `python -m distilabel_magpie.review.cli ...`
runs them on their own. Errors from bad input are one line (exit code 2).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Iterator, Optional, Sequence

from distilabel_magpie.errors import MagpieError

# -- review-server ----------------------------------------------------------------------------------


def _server(args: argparse.Namespace):
    from distilabel_magpie.review.server import ReviewServer

    return ReviewServer(data_dir=args.data_dir, host=args.host, port=args.port)


def _server_start(args: argparse.Namespace) -> int:
    server = _server(args)
    was_running = server.is_running()
    creds = server.start(echo=lambda line: print(line, file=sys.stderr, flush=True))
    print(f"Argilla review server {'already running' if was_running else 'running'} at {creds.api_url}")
    print(f"  user: {creds.username}   password: {creds.password}")
    print(f"  API key: {creds.api_key}")
    print(f"  data: {server.data_dir}")
    print("push/pull commands find it on their own; for other tools:")
    print(f"  export ARGILLA_API_URL={creds.api_url} ARGILLA_API_KEY={creds.api_key}")
    return 0


def _server_stop(args: argparse.Namespace) -> int:
    stopped = _server(args).stop()
    print(f"stopped: {', '.join(stopped)}" if stopped else "review server was not running")
    return 0


def _server_status(args: argparse.Namespace) -> int:
    info = _server(args).status()
    if args.json:
        print(json.dumps(info, indent=2))
    elif not info["running"]:
        print(f"review server not running (data: {info['data_dir']})")
    else:
        memory = sum(p["rss_mb"] for p in info["processes"].values())
        print(f"review server running at {info['url']} ({'healthy' if info['healthy'] else 'NOT answering'}), "
              f"user {info['username']}, {memory:.0f} MB RSS, data: {info['data_dir']}")
    return 0 if info["running"] or not args.check else 1


# -- review push / pull -----------------------------------------------------------------------------


def _data_file(path: Path) -> Path:
    if path.is_dir():
        for name in ("data.jsonl", "data.parquet"):
            if (path / name).is_file():
                return path / name
        raise MagpieError(f"{path} has no data.jsonl or data.parquet (write one with SaveDataset)")
    if not path.is_file():
        raise MagpieError(f"{path} does not exist")
    return path


def read_rows(path: Path, bad: list) -> Iterator[dict]:
    """Rows of a .jsonl/.json/.parquet file; unreadable .jsonl lines go to `bad` as reasons."""
    path = _data_file(path)
    if path.suffix == ".parquet":
        from distilabel_magpie.storage.files import read_parquet

        yield from read_parquet(path)  # dict columns decoded as SaveDataset wrote them
        return
    if path.suffix == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        yield from (data if isinstance(data, list) else [data])
        return
    with path.open("rb") as f:
        for n, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError:
                bad.append(f"line {n} is not valid UTF-8")
                continue
            except json.JSONDecodeError as e:
                bad.append(f"line {n} is not valid JSON ({e.msg})")
                continue
            if isinstance(row, dict):
                yield row
            else:
                bad.append(f"line {n} is not a JSON object")


def detect_kind(row: dict) -> str:
    if {"prompt", "chosen", "rejected"} <= row.keys():
        return "preference"
    if "messages" in row:
        return "chat"
    if {"instruction", "response"} <= row.keys():
        return "sft"
    raise MagpieError(
        f"cannot tell what to review from the columns {sorted(row)}: expected instruction+response (sft), "
        "messages (chat) or prompt+chosen+rejected (preference)"
    )


def _push(args: argparse.Namespace) -> int:
    from distilabel_magpie.review.push import PushChatToArgilla, PushPreferencesToArgilla, PushSFTToArgilla
    from distilabel_magpie.review.uploader import PushCounts

    bad: list = []
    rows = read_rows(Path(args.path), bad)
    first = next(rows, None)
    if first is None:
        raise MagpieError(f"{args.path} has no rows" + (f" ({bad[0]})" if bad else ""))
    kind = args.kind if args.kind != "auto" else detect_kind(first)
    step_class = {"sft": PushSFTToArgilla, "chat": PushChatToArgilla, "preference": PushPreferencesToArgilla}[kind]
    logging.getLogger("distilabel.step").setLevel(logging.ERROR)  # "no pipeline" warning: this is a CLI
    step = step_class(name="review_push", dataset_name=args.dataset, dataset_workspace=args.workspace,
                      api_url=args.api_url, run_id=args.run_id, max_text_chars=args.max_text_chars)
    step.load()
    batch, total = [first], PushCounts()
    for row in rows:
        batch.append(row)
        if len(batch) >= args.batch_size:
            total.merge(step.push_rows(batch))
            batch = []
    if batch:
        total.merge(step.push_rows(batch))
    for reason in bad:
        total.add("skipped", reason)
    print(f"{kind} -> Argilla dataset {args.dataset!r} at {step._client.api_url}: {total.summary()}")
    return 0 if total.failed == 0 else 1


def write_rows(rows: list, out: Path, summary: dict) -> Path:
    if out.suffix == ".jsonl":
        out.parent.mkdir(parents=True, exist_ok=True)
        target = out
    else:
        out.mkdir(parents=True, exist_ok=True)
        target = out / "data.jsonl"
        (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    with target.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return target


def _pull(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from distilabel_magpie.review.pull import open_dataset, pull_reviewed

    client, dataset = open_dataset(args.dataset, args.workspace, args.api_url, None)
    rows, counts = pull_reviewed(client, dataset, None if args.kind == "auto" else args.kind)
    target = write_rows(rows, Path(args.output), {"dataset": args.dataset, **asdict(counts)})
    print(f"{counts.summary()} -> {target}")
    return 0


# -- wiring -----------------------------------------------------------------------------------------


def _server_options(p: argparse.ArgumentParser) -> None:
    from distilabel_magpie.review.server.manager import DEFAULT_PORT

    p.add_argument("--data-dir", help="data directory (default: $MAGPIE_REVIEW_HOME or "
                                      "~/.local/share/distilabel-magpie/review-server)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port of the API and UI (default {DEFAULT_PORT})")


def _connection_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", required=True, help="Argilla dataset name")
    p.add_argument("--workspace", help="Argilla workspace (default: the user's first)")
    p.add_argument("--api-url", help="Argilla URL (default: $ARGILLA_API_URL, else the local review server); "
                                     "the key comes from $ARGILLA_API_KEY or the local server")
    p.add_argument("--kind", default="auto", choices=["auto", "sft", "chat", "preference"])


def register(subparsers) -> None:
    """Adds `review-server` and `review` to the package CLI's subparsers."""
    server = subparsers.add_parser("review-server", help="run a local Argilla review server (no Docker)")
    server_sub = server.add_subparsers(dest="review_server_command", required=True)
    p = server_sub.add_parser("start", help="start it (builds its virtualenv on first use) and print credentials")
    _server_options(p)
    p.set_defaults(func=_server_start)
    p = server_sub.add_parser("stop", help="stop the processes `start` launched")
    _server_options(p)
    p.set_defaults(func=_server_stop)
    p = server_sub.add_parser("status", help="is it running, where, how much memory")
    _server_options(p)
    p.add_argument("--json", action="store_true", help="print the status as JSON")
    p.add_argument("--check", action="store_true", help="exit 1 when not running")
    p.set_defaults(func=_server_status)

    review = subparsers.add_parser("review", help="push rows to Argilla for review, pull reviewed data back")
    review_sub = review.add_subparsers(dest="review_command", required=True)
    p = review_sub.add_parser("push", help="log a dataset (SaveDataset folder, .jsonl, .json, .parquet)")
    p.add_argument("path")
    _connection_options(p)
    p.add_argument("--run-id", help="run id stored in the records' metadata")
    p.add_argument("--batch-size", type=int, default=200)
    p.add_argument("--max-text-chars", type=int, default=100_000, help="skip rows with longer texts")
    p.set_defaults(func=_push)
    p = review_sub.add_parser("pull", help="write the reviewed records as SFT / chat / DPO rows")
    _connection_options(p)
    p.add_argument("--output", required=True, help="a folder (data.jsonl + summary.json) or a .jsonl file")
    p.set_defaults(func=_pull)


def main(argv: Optional[Sequence[str]] = None) -> int:
    import warnings

    warnings.filterwarnings("ignore")  # distilabel 1.5.3 + pydantic 2.x warn on import
    parser = argparse.ArgumentParser(prog="python -m distilabel_magpie.review.cli")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except MagpieError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
