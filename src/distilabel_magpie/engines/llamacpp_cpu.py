"""Whether llama.cpp's extra CPU buffer types are safe to use on this machine.

llama.cpp can move weights into "extra" buffer types at load time: CPU repacking (Q4_0, IQ4_NL,
Q4_K, ... rearranged for wider SIMD) and, in builds compiled with AMX, Intel's AMX tiles. The
AMX kernels of a native build crash at the first decode on some Sapphire Rapids class machines
(general protection fault; public reports tie it to GCC < 13 miscompiling them).
`scripts/install_llama_cpp.py` builds without AMX, so with our build there is nothing to check.
For a llama-cpp-python built elsewhere whose library has AMX on a CPU that has AMX, one test
decode runs in a subprocess before the model is loaded; if it crashes, the model is loaded
without extra buffer types (slower, correct), and the log says so once. Results are cached per
library, model file and CPU.

    python -m distilabel_magpie.engines.llamacpp_cpu MODEL.gguf [N_GPU_LAYERS]   # the test decode
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Optional

logger = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 600
# The command that runs the test decode; a list so tests can put a crashing stand-in here.
PROBE_COMMAND = [sys.executable, "-m", "distilabel_magpie.engines.llamacpp_cpu"]
_checked: dict[str, bool] = {}


def build_has_amx() -> bool:
    import llama_cpp

    return "AMX_INT8 = 1" in llama_cpp.llama_print_system_info().decode("utf-8", "replace")


def cpu_has_amx() -> bool:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    flags = next((line for line in text.splitlines() if line.startswith("flags")), "")
    return "amx_int8" in flags.split()


def _cache_file() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "distilabel-magpie" / "llamacpp-extra-buffers.json"


def _key(model_path: str, n_gpu_layers: int) -> str:
    import llama_cpp

    lib = Path(llama_cpp.__file__).parent / "lib"
    parts = [str(n_gpu_layers), Path("/proc/cpuinfo").read_text().split("\n\n")[0] if Path("/proc/cpuinfo").exists()
             else ""]
    for f in sorted(lib.glob("*.so")) + [Path(model_path)]:
        st = f.stat()
        parts.append(f"{f.resolve()}:{st.st_size}:{st.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24]


def extra_buffers_safe(model_path: str, n_gpu_layers: int = 0) -> bool:
    """True unless this build's AMX path is used on this CPU and a test decode crashes with it."""
    if not (build_has_amx() and cpu_has_amx()):
        return True
    key = _key(model_path, n_gpu_layers)
    if key in _checked:
        return _checked[key]
    cache = _cache_file()
    try:
        known = json.loads(cache.read_text())
    except (OSError, ValueError):
        known = {}
    if key in known:
        safe = bool(known[key])
    else:
        failure = probe(model_path, n_gpu_layers)
        safe = failure is None
        if not safe:
            logger.warning(
                f"llama.cpp's extra CPU buffer types (AMX) crashed a test decode of {Path(model_path).name} on this "
                f"CPU ({failure}); loading without them, which is slower. For a build without AMX that keeps the "
                "other fast paths, run: python scripts/install_llama_cpp.py")
        known[key] = safe
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_text(json.dumps(known))
        except OSError:
            pass
    _checked[key] = safe
    return safe


def probe(model_path: str, n_gpu_layers: int = 0) -> Optional[str]:
    """Run the test decode in a subprocess: None when it worked, else what went wrong."""
    try:
        done = subprocess.run([*PROBE_COMMAND, str(model_path), str(n_gpu_layers)], capture_output=True,
                              timeout=PROBE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return f"the test decode did not finish within {PROBE_TIMEOUT_S} s"
    if done.returncode == 0:
        return None
    if done.returncode < 0:
        try:
            return f"killed by {signal.Signals(-done.returncode).name}"
        except ValueError:
            return f"killed by signal {-done.returncode}"
    tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
    return f"exit status {done.returncode}: {tail[0]}"


def _test_decode(model_path: str, n_gpu_layers: int) -> None:
    """Load with the default (extra buffer types on) and decode a prompt batch, then one token."""
    import llama_cpp
    from llama_cpp._internals import LlamaBatch, LlamaContext, LlamaModel
    from llama_cpp._logger import set_verbose

    set_verbose(False)
    params = llama_cpp.llama_model_default_params()
    params.n_gpu_layers = n_gpu_layers
    model = LlamaModel(path_model=model_path, params=params, verbose=False)
    cparams = llama_cpp.llama_context_default_params()
    cparams.n_ctx, cparams.n_batch, cparams.n_threads, cparams.n_threads_batch = 64, 32, 2, 2
    ctx = LlamaContext(model=model, params=cparams, verbose=False)
    tokens = model.tokenize(b"Hello, how are you today? I am fine, thank you.", add_bos=True, special=False)[:16]
    batch = LlamaBatch(n_tokens=32, embd=0, n_seq_max=1, verbose=False)
    batch.set_batch(tokens, n_past=0, logits_all=False)
    ctx.decode(batch)
    batch.set_batch(tokens[-1:], n_past=len(tokens), logits_all=False)
    ctx.decode(batch)


if __name__ == "__main__":
    _test_decode(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 0)
