"""llama.cpp's CPU fast paths (extra buffer types) are used only where they work."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parents[2]


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
