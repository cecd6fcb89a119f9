"""The review server's own virtualenv: created on first start, reused afterwards (its UI patched,
see ui_patch.py)."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable

from distilabel_magpie.errors import MagpieError
from distilabel_magpie.review.server.pins import ARGILLA_SERVER_VERSION, PINS
from distilabel_magpie.review.server.ui_patch import PATCH_VERSION, patch_ui

_READY = ".magpie-ready"


def default_venv_dir() -> Path:
    env = os.environ.get("MAGPIE_REVIEW_VENV")
    if env:
        return Path(env).expanduser()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "distilabel-magpie" / f"argilla-server-{ARGILLA_SERVER_VERSION}"


def _pins_digest() -> str:
    return hashlib.sha256("\n".join([*PINS, f"ui-patch {PATCH_VERSION}"]).encode()).hexdigest()[:16]


def venv_python(venv_dir: Path) -> Path:
    return venv_dir / "bin" / "python"


def is_ready(venv_dir: Path) -> bool:
    marker = venv_dir / _READY
    return marker.is_file() and marker.read_text().strip() == _pins_digest() and venv_python(venv_dir).exists()


def ensure_venv(venv_dir: Path, echo: Callable[[str], None] = print) -> Path:
    """Returns the venv's python, building the venv first if it is missing or stale.

    A lock file serialises concurrent first starts; the ready marker is written last, so an
    interrupted build is detected and redone.
    """
    venv_dir = Path(venv_dir)
    if is_ready(venv_dir):
        return venv_python(venv_dir)
    venv_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{venv_dir}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if is_ready(venv_dir):
            return venv_python(venv_dir)
        echo(
            f"first start: building the review server's virtualenv (argilla-server=={ARGILLA_SERVER_VERSION}) "
            f"in {venv_dir}; this takes 1-3 minutes once..."
        )
        shutil.rmtree(venv_dir, ignore_errors=True)
        _run([sys.executable, "-m", "venv", str(venv_dir)], "create the virtualenv")
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as req:
            req.write("\n".join(PINS) + "\n")
        try:
            _run(
                [str(venv_python(venv_dir)), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                 "-r", req.name],
                f"install argilla-server=={ARGILLA_SERVER_VERSION}",
            )
        finally:
            os.unlink(req.name)
        patch_ui(_static_dir(venv_dir))
        (venv_dir / _READY).write_text(_pins_digest() + "\n")
        echo("virtualenv ready")
    return venv_python(venv_dir)


def _static_dir(venv_dir: Path) -> Path:
    found = sorted(venv_dir.glob("lib/python3*/site-packages/argilla_server/static"))
    if not found:
        raise MagpieError(f"argilla_server's UI files are missing in {venv_dir}")
    return found[0]


def _run(cmd: list, what: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        lines = [line for line in (proc.stderr or proc.stdout).splitlines() if line.strip()]
        last = next((line for line in reversed(lines) if "ERROR" in line), lines[-1] if lines else "")
        raise MagpieError(f"could not {what} for the review server: {last.strip()}")
