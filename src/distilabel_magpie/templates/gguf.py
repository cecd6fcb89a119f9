"""The key/value header of a GGUF file, read without loading the model."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO, Optional

from distilabel_magpie.errors import MagpieError

_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9


class _Reader:
    """Reads exactly what the header says is there, or says the file is cut off."""

    def __init__(self, f: BinaryIO, path: Path) -> None:
        self.f, self.path = f, path
        self.size = path.stat().st_size

    def truncated(self) -> MagpieError:
        return MagpieError(f"{self.path}: the GGUF header ends before its declared contents (a truncated or "
                           "corrupt file); download or convert the model again")

    def bytes(self, n: int) -> bytes:
        if n > self.size - self.f.tell():
            raise self.truncated()
        return self.f.read(n)

    def skip(self, n: int) -> None:
        if n > self.size - self.f.tell():
            raise self.truncated()
        self.f.seek(n, 1)

    def scalar(self, fmt: str):
        return struct.unpack(fmt, self.bytes(struct.calcsize(fmt)))[0]

    def string(self, keep: bool = True) -> Optional[str]:
        n = self.scalar("<Q")
        if not keep:
            return self.skip(n)
        return self.bytes(n).decode("utf-8", errors="replace")

    def value(self, vtype: int, keep: bool):
        if vtype in _SCALARS:
            return self.scalar(_SCALARS[vtype])
        if vtype == _STRING:
            return self.string(keep)
        if vtype == _ARRAY:
            item_type, n = self.scalar("<I"), self.scalar("<Q")
            if not keep and item_type in _SCALARS:
                return self.skip(n * struct.calcsize(_SCALARS[item_type]))
            if n > self.size:  # each item takes at least one byte
                raise self.truncated()
            return [self.value(item_type, keep) for _ in range(n)]
        raise MagpieError(f"{self.path}: unknown GGUF value type {vtype}; the file may be corrupt")


def read_gguf_metadata(path: str | Path, keys: Optional[set[str]] = None) -> dict:
    """Key/value metadata of a GGUF file (header only; no tensors are read). With `keys`,
    values of other keys are skipped rather than decoded."""
    path = Path(path)
    try:
        f = path.open("rb")
    except OSError as e:
        raise MagpieError(f"cannot read {path}: {e.strerror or e}") from None
    with f:
        r = _Reader(f, path)
        if f.read(4) != b"GGUF":
            raise MagpieError(f"{path} is not a GGUF file (bad magic number)")
        version = r.scalar("<I")
        if version < 2:
            raise MagpieError(f"{path}: GGUF version {version} is too old; convert the model again")
        _, kv_count = r.scalar("<Q"), r.scalar("<Q")
        meta = {}
        for _ in range(kv_count):
            key = r.string()
            keep = keys is None or key in keys
            value = r.value(r.scalar("<I"), keep)
            if keep:
                meta[key] = value
        return meta
