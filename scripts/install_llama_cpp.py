"""Build and install llama-cpp-python for this CPU, without llama.cpp's AMX kernels.

Usage: python scripts/install_llama_cpp.py   (with the virtualenv's python; `make install` does it)

Why not `pip install llama-cpp-python`: it compiles llama.cpp with -march=native, and on Intel
Xeons with AMX (Sapphire Rapids class) the native build adds llama.cpp's AMX buffer type, whose
kernels crash at the first decode (general protection fault in libggml-cpu.so; public reports
tie it to GCC < 13 miscompiling them, and Debian 12 ships GCC 12). So the build keeps
-march=native (AVX2, AVX-512, VNNI where the CPU has them) and switches AMX off.

Why not pip's wheel cache: it keys a built wheel by package version only, so a wheel built
with other flags (or on another CPU) would be reused silently. Here the wheel is cached under a
key of version, flags, compiler and CPU features, in a folder beside pip's own cache, and the
virtualenv records the key of the build it holds: a changed key always rebuilds or reinstalls.
(llama.cpp's own release builds solve the same problem with one backend library per CPU variant,
picked at run time; llama-cpp-python 0.3.36 installs only the one CPU backend.)
"""

from __future__ import annotations

import hashlib
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path

VERSION = "0.3.36"
NO_AMX = "-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
CMAKE_ARGS = [
    "-DGGML_NATIVE=ON",
    f"-DCMAKE_C_FLAGS={NO_AMX}",  # explicit -mno-* flags win over -march=native whatever their order
    f"-DCMAKE_CXX_FLAGS={NO_AMX}",
    # Only the library: no tests, examples, tools or llava (a much shorter build).
    "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF", "-DLLAMA_BUILD_TOOLS=OFF",
    "-DLLAVA_BUILD=OFF", "-DLLAMA_CURL=OFF",
]


def cpu_features() -> str:
    """The CPU's feature flags (what -march=native compiles for)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return " ".join(sorted(line.split(":", 1)[1].split()))
    except OSError:
        pass
    return platform.processor() or platform.machine()


def compiler(command: str = "cc") -> str:
    try:
        return subprocess.run([command, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    except (OSError, IndexError):
        return "unknown"


def build_key() -> str:
    parts = [VERSION, *CMAKE_ARGS, compiler(), cpu_features(), platform.python_version()]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def pip(*args: str, env: dict | None = None) -> None:
    subprocess.run([sys.executable, "-m", "pip", *args], check=True, env=env)


def cache_root() -> Path:
    if os.environ.get("DISTILABEL_MAGPIE_WHEEL_CACHE"):
        return Path(os.environ["DISTILABEL_MAGPIE_WHEEL_CACHE"])
    out = subprocess.run([sys.executable, "-m", "pip", "cache", "dir"], capture_output=True, text=True)
    base = Path(out.stdout.strip()) if out.returncode == 0 and out.stdout.strip() else Path.home() / ".cache" / "pip"
    return base / "distilabel-magpie-wheels"  # kept wherever pip's own cache is kept


def main() -> int:
    key = build_key()
    stamp = Path(sys.prefix) / ".llama-cpp-build"
    if stamp.exists() and stamp.read_text().strip() == key:
        print(f"llama-cpp-python {VERSION} (build {key}) already installed")
        return 0
    folder = cache_root() / f"llama_cpp_python-{VERSION}-{key}"
    wheels = sorted(folder.glob("llama_cpp_python-*.whl"))
    if not wheels:
        print(f"building llama-cpp-python {VERSION} for this CPU without AMX (build {key}); "
              "this takes several minutes on 2 cores")
        env = dict(os.environ, CMAKE_ARGS=shlex.join(CMAKE_ARGS))
        env.setdefault("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 2))
        folder.mkdir(parents=True, exist_ok=True)
        pip("wheel", "-q", "--no-deps", "--no-cache-dir", "--no-binary", "llama-cpp-python",
            "-w", str(folder), f"llama-cpp-python=={VERSION}", env=env)
        wheels = sorted(folder.glob("llama_cpp_python-*.whl"))
    pip("install", "-q", "--force-reinstall", "--no-deps", str(wheels[-1]))
    pip("install", "-q", f"llama-cpp-python=={VERSION}")  # its own dependencies (numpy, jinja2, ...)
    stamp.write_text(key + "\n")
    print(f"installed llama-cpp-python {VERSION} (build {key}) from {wheels[-1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
