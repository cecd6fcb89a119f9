"""pytest plugin (`-p magpie_imported`): mode "imported" of scripts/distilabel_suite.py.

Imports distilabel_magpie and its step modules before distilabel's test suite is collected,
and checks that this patched nothing: importing our package must leave distilabel as it is, so
the suite's outcomes must be identical to a plain run."""

from __future__ import annotations

import importlib
import os

MODULES = ("distilabel_magpie", "distilabel_magpie.generation", "distilabel_magpie.output.save")


def snapshot() -> dict[str, object]:
    """Every attribute of the distilabel classes and modules that the run-time mends patch."""
    from distilabel.pipeline import base, batch_manager, local, step_wrapper
    from distilabel.steps import base as steps_base
    from distilabel.utils import serialization

    found: dict[str, object] = {}
    for owner in (local.Pipeline, base.BasePipeline, step_wrapper._StepWrapper, batch_manager._BatchManager,
                  steps_base._Step, local, serialization):
        for name, value in list(vars(owner).items()):
            if not (name.startswith("__") and name.endswith("__")):  # e.g. copyreg's __slotnames__ cache
                found[f"{getattr(owner, '__qualname__', owner.__name__)}.{name}"] = value
    try:
        from distilabel.pipeline import ray as ray_pipeline
    except ImportError:
        pass
    else:
        for name, value in list(vars(ray_pipeline.RayPipeline).items()):
            if not (name.startswith("__") and name.endswith("__")):
                found[f"RayPipeline.{name}"] = value
    return found


def changed(before: dict[str, object]) -> list[str]:
    after = snapshot()
    return sorted(k for k in set(before) | set(after) if before.get(k) is not after.get(k))


_before: dict[str, object] = {}


def _check_untouched(when: str) -> None:
    from distilabel_magpie import runtime

    if runtime.installed():
        raise RuntimeError(f"{when}: distilabel_magpie.runtime is installed though only imported")
    patched = changed(_before)
    if patched:
        raise RuntimeError(f"{when}: importing distilabel_magpie changed {', '.join(patched)}")


def pytest_configure(config) -> None:
    if os.environ.get("DISTILABEL_MAGPIE_RUNTIME", "").strip():
        raise RuntimeError("mode 'imported' runs with DISTILABEL_MAGPIE_RUNTIME unset")
    _before.update(snapshot())
    for name in MODULES:
        importlib.import_module(name)
    _check_untouched("after import")


def pytest_sessionfinish(session, exitstatus) -> None:
    """Nothing in distilabel's suite builds one of our steps, so nothing may have been patched
    by the end either; a change is recorded as a failed check (scripts/distilabel_suite.py
    reports it) rather than raised, which would hide the session's results."""
    from magpie_suite_report import emit

    try:
        _check_untouched("at the end of the session")
    except RuntimeError as e:
        emit(event="check", ok=False, message=str(e))
        print(f"\nmagpie_imported: {e}", flush=True)
    else:
        emit(event="check", ok=True, message="distilabel unchanged at the end of the session")
