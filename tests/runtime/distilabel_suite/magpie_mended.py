"""pytest plugin (`-p magpie_mended`): mode "mended" of scripts/distilabel_suite.py.

Imports distilabel_magpie and its step modules, then installs the run-time mends
(`distilabel_magpie.runtime.install()`) before distilabel's test suite is collected. Run with
DISTILABEL_MAGPIE_RUNTIME=all, so every pipeline run of the suite is a mended run."""

from __future__ import annotations

import importlib
import os

from magpie_imported import MODULES, changed, snapshot


def pytest_configure(config) -> None:
    if os.environ.get("DISTILABEL_MAGPIE_RUNTIME", "").strip().lower() != "all":
        raise RuntimeError("mode 'mended' runs with DISTILABEL_MAGPIE_RUNTIME=all")
    before = snapshot()
    for name in MODULES:
        importlib.import_module(name)
    from distilabel_magpie import runtime

    if not runtime.install():
        raise RuntimeError("distilabel_magpie.runtime.install() refused (distilabel version?)")
    patched = changed(before)
    if not patched:
        raise RuntimeError("distilabel_magpie.runtime.install() patched nothing")
    from magpie_suite_report import emit

    emit(event="check", ok=True, message=f"mends installed: {', '.join(patched)}")
