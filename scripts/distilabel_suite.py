#!/usr/bin/env python
"""Run distilabel's own test suite (from its sdist) plain, with distilabel_magpie imported, or
with our run-time mends applied to every pipeline, and compare the outcomes.

Modes (each runs in fresh pytest processes, from the unpacked sdist, against the distilabel
installed in this interpreter):

- `plain`:    distilabel's suite as it is.
- `imported`: `-p magpie_imported` imports distilabel_magpie, distilabel_magpie.generation and
              distilabel_magpie.output.save first and checks that nothing in distilabel changed
              (at the start and at the end of the session). Outcomes must equal `plain`.
- `mended`:   DISTILABEL_MAGPIE_RUNTIME=all and `-p magpie_mended`, which calls
              `distilabel_magpie.runtime.install()` first: every `Pipeline.run` of the suite is a
              mended run. Differences from `plain` are what the mends change.

The plugins live in tests/runtime/distilabel_suite/ (put on PYTHONPATH here). The sdist
(`pip download distilabel==1.5.3 --no-binary :all: --no-deps`) is cached, unpacked, under
~/.cache/distilabel-magpie/distilabel-suite/ (or $DISTILABEL_SUITE_CACHE), with the test-only
packages distilabel's suite needs that this project does not install (TEST_DEPS, installed
there with `pip install --no-deps --target`, never into the virtualenv).

Every test gets a per-test timeout (pytest-timeout, thread method). A hung test ends its pytest
process; the run then goes on in a new process without the tests already done, and the hung one
counts as `timeout` (a crash of the process: `crashed`). Each mode gets its own $HOME (so
distilabel's default cache ~/.cache/distilabel starts empty and no run reuses another's
outputs). Tests in NEEDS_NETWORK (they download from the Hugging Face Hub or another host) are
deselected unless --with-network.

Usage:
    python scripts/distilabel_suite.py fetch
    python scripts/distilabel_suite.py run --mode plain --mode imported --mode mended \\
        [--path tests/unit --path tests/integration] [--timeout 180] [--json out.json] \\
        [--work-dir DIR] [--with-network] [--parallel] [--pytest-arg=-k --pytest-arg=cache]
    python scripts/distilabel_suite.py compare plain.json mended.json

`run` prints one JSON document on stdout: {"distilabel", "paths", "modes": {mode: {"counts":
{"tests/unit": {...}, "tests/integration": {...}, "total": {...}}, "outcomes": {test id:
outcome}, "details": {test id: last lines of the failure}, "problems", "checks", "deselected",
"sessions", "elapsed_s"}}, "differences": {mode: {test id: [outcome in the first mode, outcome
in this mode]}}}, and a short table with the differences on stderr. Outcomes: passed, failed,
error (setup, teardown or collection), skipped, xfailed, xpassed, timeout, crashed. A module
that fails to import is one entry, its path, with outcome error. A mode's "problems" are a
failed check of its plugin (imported: distilabel changed by the end of the session), tests that
ran without a recorded outcome, and pytest sessions that ended interrupted or with an internal
error. `--parallel` runs the modes side by side (the full suite: ~15 min instead of ~40 on 2
cores). Exit status: 0, or 1 when a mode has problems or its outcomes differ from the first
mode's (`--allow-differences` keeps 0 for the latter).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

DISTILABEL_VERSION = "1.5.3"
ROOT = Path(__file__).resolve().parents[1]
PLUGINS = ROOT / "tests" / "runtime" / "distilabel_suite"
MODES = ("plain", "imported", "mended")
MODE_PLUGINS = {"plain": [], "imported": ["magpie_imported"], "mended": ["magpie_mended"]}
DEFAULT_PATHS = ("tests/unit", "tests/integration")
OUTCOMES = ("passed", "failed", "error", "skipped", "xfailed", "xpassed", "timeout", "crashed")

# distilabel's `tests` extra (pytest-asyncio) and what its suite imports beyond this project's
# dependencies for the pipeline-level tests (MinHashDedup: datasketch 2.x no longer fits
# distilabel 1.5.3's MinHashLSH subclass, hence 1.6.5). The LLM-client libraries (anthropic,
# cohere, groq, litellm, mistralai, ollama, vertexai, mlx, instructor, outlines, umap) are left
# out: their unit tests fail the same way in every mode, and the mends do not touch them.
TEST_DEPS = ("pytest-asyncio==1.5.0", "datasketch==1.6.5", "nltk==3.10.4")

# Tests that need a host other than PyPI: a test id, or a module / class (every test under it).
# They are deselected unless --with-network (offline they fail on the download, in every mode).
_HF_MODEL = "downloads a model or tokenizer from the Hugging Face Hub"
NEEDS_NETWORK: dict[str, str] = {
    "tests/unit/models/embeddings/test_llamacpp.py": "downloads a GGUF model (conftest local_llamacpp_model_path)",
    "tests/unit/models/llms/test_llamacpp.py": "downloads a GGUF model (conftest local_llamacpp_model_path)",
    "tests/unit/models/embeddings/test_sentence_transformers.py": _HF_MODEL,
    "tests/unit/models/llms/huggingface/test_transformers.py": _HF_MODEL,
    "tests/unit/models/llms/test_vllm.py::TestvLLM": _HF_MODEL,
    "tests/unit/models/llms/test_vllm.py::TestClientvLLM::test_agenerate": _HF_MODEL,
    "tests/unit/steps/embeddings/test_embedding_generation.py": _HF_MODEL,
    "tests/unit/steps/tasks/structured_outputs/test_outlines.py": _HF_MODEL,
    "tests/unit/steps/tasks/test_generate_embeddings.py": _HF_MODEL,
    "tests/unit/steps/test_reward_model.py": _HF_MODEL,
    "tests/unit/steps/test_truncate.py::test_truncate_row[4-This is a sample text that is longer than 10 characters-"
    "teknium/OpenHermes-2.5-Mistral-7B-This is a sample]": _HF_MODEL,
    **dict.fromkeys([f"tests/unit/steps/filtering/test_minhash.py::{t}" for t in (
        "TestMinHashDedup::test_process[0.1-1-dict]", "TestMinHashDedup::test_process[0.9-4-dict]",
        "TestMinHashDedup::test_process[0.9-4-disk]", "test_tokenize_on_words")],
        "nltk's word tokenizer downloads its punkt_tab data"),
}


class SuiteUnavailable(RuntimeError):
    """The sdist or the test packages could not be downloaded (no network?)."""


# -- the sdist ---------------------------------------------------------------------------------

def cache_dir() -> Path:
    return Path(os.environ.get("DISTILABEL_SUITE_CACHE")
                or Path.home() / ".cache" / "distilabel-magpie" / "distilabel-suite")


def _pip(*args: str) -> None:
    cmd = [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]
    try:
        result = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired as e:
        raise SuiteUnavailable(f"{' '.join(cmd)} did not finish in {e.timeout:.0f} s") from e
    if result.returncode != 0:
        raise SuiteUnavailable(f"{' '.join(cmd)} failed:\n{(result.stdout + result.stderr)[-2000:]}")


def fetch(version: str = DISTILABEL_VERSION) -> Path:
    """The unpacked sdist of distilabel `version` (downloaded once)."""
    cache = cache_dir()
    source = cache / f"distilabel-{version}"
    if (source / "tests" / "conftest.py").is_file():
        return source
    cache.mkdir(parents=True, exist_ok=True)
    archive = cache / f"distilabel-{version}.tar.gz"
    if not archive.is_file():
        with tempfile.TemporaryDirectory(dir=cache) as tmp:
            _pip("download", f"distilabel=={version}", "--no-binary", ":all:", "--no-deps", "-d", tmp)
            found = list(Path(tmp).glob("distilabel-*.tar.gz"))
            if not found:
                raise SuiteUnavailable(f"pip download left no distilabel sdist in {tmp}")
            os.replace(found[0], archive)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")
        unpacked = Path(tmp) / f"distilabel-{version}"
        if not (unpacked / "tests" / "conftest.py").is_file():
            raise SuiteUnavailable(f"{archive} holds no tests/conftest.py")
        try:
            os.replace(unpacked, source)
        except OSError:  # another run unpacked it meanwhile
            if not (source / "tests" / "conftest.py").is_file():
                raise
    return source


def test_deps() -> Path:
    """A folder with TEST_DEPS (for PYTHONPATH), installed once."""
    key = hashlib.sha1("\n".join(TEST_DEPS).encode()).hexdigest()[:10]
    target = cache_dir() / f"deps-{key}"
    if (target / ".complete").is_file():
        return target
    cache_dir().mkdir(parents=True, exist_ok=True)
    tmp = tempfile.mkdtemp(dir=cache_dir(), prefix=".deps-")
    try:
        _pip("install", "--no-deps", "--no-compile", "--target", tmp, *TEST_DEPS)
        Path(tmp, ".complete").write_text("\n".join(TEST_DEPS) + "\n")
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


# -- one mode ----------------------------------------------------------------------------------

def _group(nodeid: str) -> str:
    parts = nodeid.split("::", 1)[0].split("/")
    return "/".join(parts[:2]) if len(parts) >= 2 else parts[0]


def _outcome(phases: dict[str, dict]) -> str | None:
    setup, call, teardown = phases.get("setup"), phases.get("call"), phases.get("teardown")
    if setup and setup["outcome"] == "failed":
        return "error"
    if setup and setup["outcome"] in ("skipped", "xfailed"):
        return setup["outcome"]
    if call is None:
        return None
    if teardown and teardown["outcome"] == "failed" and call["outcome"] == "passed":
        return "error"
    return call["outcome"]


def _detail(phases: dict[str, dict]) -> str:
    return "\n".join(f"[{when}] {p['detail']}" for when, p in phases.items() if p.get("detail"))


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_mode(mode: str, paths: Iterable[str] = DEFAULT_PATHS, *, timeout: int = 180, work_dir: Path | None = None,
             with_network: bool = False, pytest_args: Iterable[str] = (), max_sessions: int = 40,
             source: Path | None = None, deps: Path | None = None, test_packages: bool = True,
             quiet: bool = False) -> dict:
    """Run distilabel's tests at `paths` (relative to the sdist) in `mode`; returns the summary.
    `test_packages=False`: without TEST_DEPS (enough for distilabel's integration tests but
    test_deduplication.py)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    paths = list(paths)
    source = source or fetch()
    if deps is None and test_packages:
        deps = test_deps()
    work = Path(work_dir or tempfile.mkdtemp(prefix="distilabel-suite-")) / mode
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    home = work / "home"
    home.mkdir()
    events, skip_file = work / "events.jsonl", work / "skip.txt"
    deselected = {} if with_network else dict(NEEDS_NETWORK)

    env = dict(os.environ)
    env.pop("DISTILABEL_MAGPIE_RUNTIME", None)
    env.pop("PYTEST_ADDOPTS", None)
    env.pop("PYTEST_PLUGINS", None)
    if mode == "mended":
        env["DISTILABEL_MAGPIE_RUNTIME"] = "all"
    env["HOME"] = str(home)
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in (deps, PLUGINS, env.get("PYTHONPATH")) if p)
    env["MAGPIE_SUITE_EVENTS"] = str(events)
    env["MAGPIE_SUITE_SKIP"] = str(skip_file)
    env["PYTHONFAULTHANDLER"] = "1"
    plugins = ["magpie_suite_report", *MODE_PLUGINS[mode]]
    cmd = [sys.executable, "-m", "pytest", *paths, "-p", "no:cacheprovider", *(a for p in plugins for a in ("-p", p)),
           "--continue-on-collection-errors", f"--timeout={timeout}", "--timeout-method=thread", "-q", "-rN",
           "--no-header"]
    if deps:
        cmd += ["-o", "asyncio_default_fixture_loop_scope=function"]  # pytest-asyncio's default, said once
    cmd += list(pytest_args)

    phases: dict[str, dict[str, dict]] = {}
    finished: set[str] = set()
    ended_abnormally: dict[str, tuple[str, str]] = {}  # test id -> (timeout / crashed, session log)
    collect_errors: dict[str, str] = {}
    checks: list[dict] = []  # the mode plugin's own checks (e.g. "imported" patched nothing)
    sessions: list[dict] = []
    started = time.monotonic()
    offset = 0
    while len(sessions) < max_sessions:
        skip_file.write_text("\n".join(sorted(finished | set(ended_abnormally) | set(deselected))) + "\n")
        log = work / f"session-{len(sessions)}.log"
        with open(log, "w", encoding="utf-8") as out:
            proc = subprocess.Popen(cmd, cwd=source, env=env, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)
            try:
                rc = proc.wait()
            finally:
                _kill_group(proc.pid)  # pool workers, Ray processes left by a hung test
        running: str | None = None
        if events.exists():
            with open(events, encoding="utf-8") as f:
                f.seek(offset)
                lines = f.read().splitlines()
                offset = f.tell()
            for line in lines:
                try:
                    event = json.loads(line)
                except ValueError:
                    continue  # a line cut by a hard exit
                kind, nodeid = event["event"], event.get("nodeid", "")
                if kind == "check":
                    checks.append({"ok": bool(event.get("ok")), "message": event.get("message", "")})
                elif kind == "start":
                    running = nodeid
                    phases[nodeid] = {}
                elif kind == "phase":
                    phases.setdefault(nodeid, {})[event["when"]] = event
                elif kind == "finish":
                    finished.add(nodeid)
                    running = None
                elif kind == "collect":
                    collect_errors[nodeid] = event.get("detail", "")
        text = log.read_text(encoding="utf-8", errors="replace")
        sessions.append({"log": str(log), "returncode": rc, "hung": running})
        if running is None:
            break
        why = "timeout" if "+ Timeout +" in text else "crashed"
        ended_abnormally[running] = (why, str(log))
        if not quiet:
            print(f"[{mode}] {running}: {why}; going on in a new session", file=sys.stderr, flush=True)
    outcomes: dict[str, str] = {}
    details: dict[str, str] = {}
    unrecorded: list[str] = []  # ran, but no setup / call report reached the events file
    for nodeid, detail in collect_errors.items():
        outcomes[nodeid] = "error"
        details[nodeid] = detail
    for nodeid, test_phases in phases.items():
        abnormal = ended_abnormally.get(nodeid)
        outcome = abnormal[0] if abnormal else _outcome(test_phases)
        if outcome is None:
            if nodeid in finished:
                unrecorded.append(nodeid)
            continue
        outcomes[nodeid] = outcome
        detail = _detail(test_phases)
        if abnormal:
            detail = f"{outcome}: its pytest process ended while it ran; stacks in {abnormal[1]}\n{detail}".strip()
        if detail and outcome != "passed":
            details[nodeid] = detail
    shutil.rmtree(home, ignore_errors=True)
    problems = [c["message"] for c in checks if not c["ok"]]
    if unrecorded:
        problems.append(f"{len(unrecorded)} test(s) ran without a recorded outcome, e.g. {unrecorded[0]}")
    problems += [f"pytest session ended with status {s['returncode']} (interrupted, internal or usage error); "
                 f"see {s['log']}" for s in sessions if s["returncode"] in (2, 3, 4)]
    return {"mode": mode, "paths": paths, "counts": count(outcomes), "outcomes": dict(sorted(outcomes.items())),
            "details": dict(sorted(details.items())), "problems": problems, "checks": checks,
            "deselected": deselected, "sessions": sessions, "work_dir": str(work),
            "elapsed_s": round(time.monotonic() - started, 1)}


def run_modes(modes: Iterable[str], paths: Iterable[str] = DEFAULT_PATHS, *, parallel: bool = False,
              **kwargs) -> dict[str, dict]:
    """`run_mode` for each mode, one after the other or all at once (`parallel`: each mode in its
    own pytest process, side by side; distilabel's pipelines mostly wait, so on 2 cores this
    takes about the time of one mode)."""
    modes, paths = list(modes), list(paths)
    if not parallel:
        return {mode: run_mode(mode, paths, **kwargs) for mode in modes}
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=len(modes)) as pool:
        futures = {mode: pool.submit(run_mode, mode, paths, **kwargs) for mode in modes}
        return {mode: future.result() for mode, future in futures.items()}


def count(outcomes: dict[str, str]) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    for nodeid, outcome in outcomes.items():
        for group in (_group(nodeid), "total"):
            counts.setdefault(group, dict.fromkeys(OUTCOMES, 0))[outcome] += 1
    return dict(sorted(counts.items(), key=lambda kv: (kv[0] == "total", kv[0])))


def differences(base: dict[str, str], other: dict[str, str]) -> dict[str, list]:
    """Test ids whose outcome differs (None: not run in that mode)."""
    return {k: [base.get(k), other.get(k)] for k in sorted(set(base) | set(other)) if base.get(k) != other.get(k)}


# -- the command line --------------------------------------------------------------------------

def _table(summaries: dict[str, dict]) -> str:
    rows = [f"{'mode':<10} {'group':<18} " + " ".join(f"{o:>8}" for o in OUTCOMES)]
    for mode, summary in summaries.items():
        for group, counts in summary["counts"].items():
            rows.append(f"{mode:<10} {group:<18} " + " ".join(f"{counts[o]:>8}" for o in OUTCOMES))
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("fetch", help="download and unpack the sdist and the test packages; print the sdist's folder")
    run = sub.add_parser("run", help="run distilabel's tests in one or more modes")
    run.add_argument("--mode", action="append", choices=MODES, help="plain, imported, mended (repeatable; "
                     "differences are against the first); default: all three")
    run.add_argument("--path", action="append", help=f"test path in the sdist (repeatable); default: "
                     f"{' '.join(DEFAULT_PATHS)}")
    run.add_argument("--timeout", type=int, default=180, help="per-test timeout in seconds (default 180)")
    run.add_argument("--work-dir", type=Path, help="where logs and events go (default: a new temporary folder)")
    run.add_argument("--with-network", action="store_true", help="keep the tests that need the network")
    run.add_argument("--pytest-arg", action="append", default=[], help="one more pytest argument (repeatable)")
    run.add_argument("--parallel", action="store_true", help="run the modes side by side (for small selections: "
                     "the per-test timeouts then count on a shared CPU)")
    run.add_argument("--json", type=Path, help="also write the JSON summary to this file")
    run.add_argument("--allow-differences", action="store_true", help="exit 0 even when outcomes differ")
    compare = sub.add_parser("compare", help="differences between two summaries written by run --json")
    compare.add_argument("base", type=Path)
    compare.add_argument("other", type=Path)
    args = parser.parse_args(argv)

    if args.command == "fetch":
        print(fetch())
        test_deps()
        return 0
    if args.command == "compare":
        def outcomes_of(path: Path) -> dict[str, str]:
            data = json.loads(path.read_text())
            if "modes" in data:  # a run's summary: its last mode
                data = list(data["modes"].values())[-1]
            return data["outcomes"]
        diff = differences(outcomes_of(args.base), outcomes_of(args.other))
        print(json.dumps(diff, indent=1))
        return 1 if diff else 0

    modes = args.mode or list(MODES)
    paths = args.path or list(DEFAULT_PATHS)
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="distilabel-suite-"))
    source, deps = fetch(), test_deps()
    print(f"running {' '.join(paths)} in mode(s) {', '.join(modes)}{' side by side' if args.parallel else ''} "
          f"(logs in {work}/<mode>)", file=sys.stderr, flush=True)
    summaries = run_modes(modes, paths, parallel=args.parallel, timeout=args.timeout, work_dir=work,
                          with_network=args.with_network, pytest_args=args.pytest_arg, source=source, deps=deps)
    for mode, summary in summaries.items():
        print(f"[{mode}] {summary['elapsed_s']} s", file=sys.stderr, flush=True)
    base = modes[0]
    diffs = {m: differences(summaries[base]["outcomes"], summaries[m]["outcomes"]) for m in modes[1:]}
    result = {"distilabel": DISTILABEL_VERSION, "paths": paths, "base_mode": base, "modes": summaries,
              "differences": diffs}
    text = json.dumps(result, indent=1)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    print(text)
    print(_table(summaries), file=sys.stderr)
    for mode, diff in diffs.items():
        print(f"{mode} vs {base}: {len(diff)} test(s) differ", file=sys.stderr)
        for nodeid, (a, b) in diff.items():
            print(f"  {nodeid}: {a} -> {b}", file=sys.stderr)
    problems = {m: summary["problems"] for m, summary in summaries.items() if summary["problems"]}
    for mode, found in problems.items():
        for problem in found:
            print(f"PROBLEM [{mode}]: {problem}", file=sys.stderr)
    return 1 if problems or (any(diffs.values()) and not args.allow_differences) else 0


if __name__ == "__main__":
    sys.exit(main())
