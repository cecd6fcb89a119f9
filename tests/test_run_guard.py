"""A run whose worker dies ends (within 60 s, non-zero, one line naming the step and the signal),
and llama.cpp's CPU fast paths are only used where they work."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
DISTILABEL = Path(sys.executable).parent / "distilabel"


def _worker_pid(tmp: Path, step: str, timeout: float = 120) -> int:
    """The pid of the pool worker running `step` (the guard notes it under $TMPDIR)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for label in tmp.glob("magpie-workers-*/*"):
            if label.read_text().split("\n", 1)[0] == step:
                return int(label.name)
        time.sleep(0.2)
    raise AssertionError(f"no worker of step {step!r} appeared within {timeout} s")


# The multi-turn step starts after FinalizeRows has all first turns: few of them
FEW_FIRST_TURNS = ["magpie_first_turn.num_rows=4"]


@pytest.mark.parametrize("pipeline,step,sig,params", [
    ("magpie-sft.yaml", "magpie_sft", signal.SIGSEGV, []),
    ("magpie-sft.yaml", "magpie_sft", signal.SIGKILL, []),
    ("magpie-chat.yaml", "magpie_multi_turn", signal.SIGKILL, FEW_FIRST_TURNS),
])
def test_a_dead_generation_worker_ends_the_run(tmp_path, pipeline, step, sig, params):
    """A real `distilabel pipeline run`; its generation worker is killed with a real signal once
    the step runs (distilabel 1.5.3 alone replaces the worker and waits forever)."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "data.jsonl").write_text('{"instruction": "from an older run"}\n')
    (out / "summary.json").write_text('{"rows": 1}\n')
    args = [str(DISTILABEL), "pipeline", "run", "--config", str(ROOT / "pipelines" / pipeline), "--ignore-cache",
            "--param", f"save_dataset.output_dir={out}"]
    for param in params:
        args += ["--param", param]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path,
                            env=dict(os.environ, TMPDIR=str(tmp_path)), start_new_session=True)
    try:
        pid = _worker_pid(tmp_path, step, timeout=300)
        time.sleep(3)  # let it load and start generating
        os.kill(pid, sig)
        killed = time.monotonic()
        output, _ = proc.communicate(timeout=60)
        assert time.monotonic() - killed < 60
    finally:
        try:  # the run and any worker it left (they would hold its output pipe open)
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        if proc.returncode is None:
            proc.communicate(timeout=30)
    assert proc.returncode != 0
    last = output.strip().splitlines()[-1]
    assert last.startswith("error: ") and f"step '{step}' (replica 0) died" in last and sig.name in last, last
    assert (out / "data.jsonl").read_text() == '{"instruction": "from an older run"}\n'  # not replaced


def test_extra_buffer_types_are_used_where_there_is_no_amx(embedded_model_path, monkeypatch):
    from distilabel_magpie.engines import llamacpp_cpu

    monkeypatch.setattr(llamacpp_cpu, "cpu_has_amx", lambda: False)
    called = []
    monkeypatch.setattr(llamacpp_cpu, "probe", lambda *a: called.append(a))
    assert llamacpp_cpu.extra_buffers_safe(embedded_model_path)
    assert called == []  # nothing to check: no test decode


def test_the_test_decode_runs_on_the_embedded_model(embedded_model_path):
    from distilabel_magpie.engines import llamacpp_cpu

    assert llamacpp_cpu.probe(embedded_model_path) is None


def test_a_crashing_fast_path_is_turned_off_once_and_remembered(embedded_model_path, monkeypatch, tmp_path, caplog):
    """Where the build and the CPU have AMX, a test decode that dies (here a stand-in process
    that kills itself with SIGSEGV) turns extra buffer types off, with one warning, and the
    verdict is cached for the next load."""
    from distilabel_magpie.engines import llamacpp_cpu

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(llamacpp_cpu, "_checked", {})
    monkeypatch.setattr(llamacpp_cpu, "build_has_amx", lambda: True)
    monkeypatch.setattr(llamacpp_cpu, "cpu_has_amx", lambda: True)
    crash = "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"
    monkeypatch.setattr(llamacpp_cpu, "PROBE_COMMAND", [sys.executable, "-c", crash])
    with caplog.at_level("WARNING", logger=llamacpp_cpu.__name__):
        assert llamacpp_cpu.extra_buffers_safe(embedded_model_path) is False
        assert llamacpp_cpu.extra_buffers_safe(embedded_model_path) is False
    warnings = [r.getMessage() for r in caplog.records if r.name == llamacpp_cpu.__name__]
    assert len(warnings) == 1 and "crashed a test decode" in warnings[0] and "SIGSEGV" in warnings[0]
    monkeypatch.setattr(llamacpp_cpu, "_checked", {})
    monkeypatch.setattr(llamacpp_cpu, "PROBE_COMMAND", [sys.executable, "-c", "raise SystemExit('must not run')"])
    assert llamacpp_cpu.extra_buffers_safe(embedded_model_path) is False  # from the cache file


def test_the_engine_loads_without_extra_buffer_types_when_they_crash(embedded_model_path, monkeypatch):
    from distilabel_magpie.engines import llamacpp, llamacpp_cpu
    from distilabel_magpie.engines.base import SamplingParams

    monkeypatch.setattr(llamacpp_cpu, "extra_buffers_safe", lambda *a: False)
    seen = []
    from llama_cpp import _internals

    original = _internals.LlamaModel

    def spy(*, path_model, params, verbose):
        seen.append(params.use_extra_bufts)
        return original(path_model=path_model, params=params, verbose=verbose)

    monkeypatch.setattr(_internals, "LlamaModel", spy)
    engine = llamacpp.LlamaCppEngine(model_path=embedded_model_path, n_parallel=1)
    engine.load()
    try:
        out = engine.complete(["<|im_start|>user\n"], SamplingParams(max_new_tokens=4, seed=0))
    finally:
        engine.unload()
    assert seen == [False] and out[0][0].completion_tokens >= 1


def test_our_llama_cpp_build_has_no_amx_kernels():
    """`scripts/install_llama_cpp.py` builds natively minus AMX: the compiler flags switch AMX off
    even where -march names a CPU with it, and the installed library reports no AMX."""
    import llama_cpp

    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import install_llama_cpp
    finally:
        sys.path.pop(0)
    macros = subprocess.run(["cc", *install_llama_cpp.NO_AMX.split(), "-march=sapphirerapids", "-dM", "-E", "-"],
                            input="", capture_output=True, text=True, check=True).stdout
    assert "__AVX512F__" in macros and "__AMX" not in macros
    assert f"-DCMAKE_C_FLAGS={install_llama_cpp.NO_AMX}" in install_llama_cpp.CMAKE_ARGS
    assert "AMX" not in llama_cpp.llama_print_system_info().decode()
