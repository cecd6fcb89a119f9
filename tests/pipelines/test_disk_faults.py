"""A full disk and a read-only output folder, for real: the output folder's parent is a tiny
tmpfs (4 KiB: one page) or a read-only tmpfs, mounted in a private mount namespace
(`unshare --mount --map-root-user`, so no root and nothing left mounted afterwards), and the
default pipeline runs through `distilabel-magpie run` inside it. Each run ends non-zero with one
`error:` line, and no dataset (and no half-written folder) is left in the output folder's place."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e  # a whole pipeline, a server or a killed process

ROOT = Path(__file__).resolve().parents[2]
INSIDE = r'''
mnt="$1"; opts="$2"; listing="$3"; shift 3
mount -t tmpfs -o "$opts" tmpfs "$mnt" || exit 97
"$@"; rc=$?
ls -A "$mnt" > "$listing"
exit $rc
'''


def _namespaces_work() -> bool:
    if shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "--mount", "--map-root-user", "true"], capture_output=True).returncode == 0


def run_on_tmpfs(tmp: Path, opts: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    if not _namespaces_work():
        message = "unshare --mount --map-root-user is not allowed here (no user namespaces)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    mnt = tmp / "mnt"
    mnt.mkdir()
    listing = tmp / "listing.txt"
    cmd = [sys.executable, "-m", "distilabel_magpie.cli", "run", str(ROOT / "pipelines" / "magpie-sft.yaml"),
           "--ignore-cache"]
    for key, value in {"magpie_sft.num_rows": 4, "magpie_sft.batch_size": 4, "magpie_sft.max_new_tokens": 16,
                       "magpie_sft.response_max_new_tokens": 16, "save_dataset.output_dir": mnt / "out"}.items():
        cmd += ["--param", f"{key}={value}"]
    env = {**os.environ, "DISTILABEL_CACHE_DIR": str(tmp / "cache"), "TMPDIR": str(tmp),
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(["unshare", "--mount", "--map-root-user", "sh", "-c", INSIDE, "sh", str(mnt), opts,
                           str(listing), *cmd], capture_output=True, text=True, timeout=300, cwd=tmp, env=env)
    assert done.returncode != 97, f"tmpfs mount failed: {done.stderr[-2000:]}"
    return done, listing.read_text().split()


def test_a_full_disk_fails_the_run_with_one_line_and_no_dataset(tmp_path):
    done, left = run_on_tmpfs(tmp_path, "size=4k")
    assert done.returncode != 0
    last = (done.stdout + done.stderr).strip().splitlines()[-1]
    assert last.startswith("error: ") and "No space left on device" in last, last
    assert "could not write the dataset" in last and "previous contents are unchanged" in last
    assert left == []  # neither out/ nor a half-written .out.writing-* folder


def test_a_read_only_output_folder_fails_before_any_row_is_made(tmp_path):
    done, left = run_on_tmpfs(tmp_path, "ro")
    output = done.stdout + done.stderr
    assert done.returncode != 0
    last = output.strip().splitlines()[-1]
    assert last.startswith("error: ") and "Read-only file system" in last and "choose a writable output_dir" in last
    assert left == []
    assert not list((tmp_path / "cache").glob("*/steps_data/magpie_sft_*/batch_*.json"))  # refused at load
