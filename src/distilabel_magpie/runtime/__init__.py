"""The one place that changes how distilabel runs a pipeline.

distilabel 1.5.3 hangs when a step's worker dies, passes a failed batch on as if it were made,
resumes replicated and killed runs into missing or doubled rows, and ends many failed runs with
exit 0. The mends for this live here (each module says what it replaces and why):

- `guard.py`: dead workers stop the run, a failed batch stops it, every failure ends in one
  `error:` line and a non-zero exit; `--param` names and values are checked first.
- `ray_watch.py`: the same for `RayPipeline`'s actors.
- `batch_flow.py`: batch bookkeeping for replicas and resumed runs, chained cache keys, atomic
  cache files.
- `launch.py`: `distilabel-magpie run` (local or Ray).

How they are switched on:
- `install()` patches distilabel's classes once per process. Building or loading a pipeline
  that holds one of our steps calls it (so `distilabel pipeline run --config` needs nothing
  more); importing the package, a template, an engine or a step does not.
- Every mend acts only inside a *mended run*: `Pipeline.run` of a pipeline that holds one of
  our steps (or that `enable(pipeline)` marked). Any other pipeline in the process runs as
  distilabel documents, through the original methods.
- `DISTILABEL_MAGPIE_RUNTIME=off` keeps distilabel's own behaviour everywhere;
  `DISTILABEL_MAGPIE_RUNTIME=all` mends every pipeline's runs once `install()` has run (how
  distilabel's own test suite is run with the mends, to list what they change).
- On a distilabel version other than the one the mends were written for, `install()` patches
  nothing and says so once; the steps still work, without the mends.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from distilabel_magpie.runtime.scope import OPT_OUT_ENV, is_ours, mended, switched_off

SUPPORTED_DISTILABEL = "1.5.3"
__all__ = ["OPT_OUT_ENV", "SUPPORTED_DISTILABEL", "applies_to", "enable", "install", "installed", "is_ours",
           "switched_off"]

_logger = logging.getLogger("distilabel_magpie.runtime")
_lock = threading.Lock()
_installed: bool | None = None  # None: not tried yet; False: refused (version or opt-out)


def enable(pipeline: Any) -> Any:
    """Mend runs of `pipeline` though it holds none of our steps; returns the pipeline."""
    install()
    pipeline._magpie_runtime = True
    return pipeline


def applies_to(pipeline: Any) -> bool:
    """Whether a run of `pipeline` is mended: the mends are installed and `scope.mended` says so."""
    return bool(_installed) and mended(pipeline)


def installed() -> bool:
    return bool(_installed)


def install() -> bool:
    """Patch distilabel once (idempotent, thread-safe); returns whether the mends are in place."""
    global _installed
    with _lock:
        if _installed is not None:
            return _installed
        if switched_off():
            _installed = False
            _logger.info(f"{OPT_OUT_ENV}={os.environ.get(OPT_OUT_ENV)}: distilabel runs pipelines its own way")
            return False
        import distilabel

        if distilabel.__version__ != SUPPORTED_DISTILABEL:
            _installed = False
            _logger.warning(
                f"distilabel-magpie's run-time mends were written for distilabel {SUPPORTED_DISTILABEL}, "
                f"found {distilabel.__version__}: they are not installed, so pipelines run as distilabel runs "
                f"them (a dead worker may hang the run; a failed batch is passed on). Install "
                f"distilabel=={SUPPORTED_DISTILABEL} to have them.")
            return False
        from distilabel_magpie.runtime import batch_flow, guard, ray_watch

        guard.install()
        batch_flow.install()
        ray_watch.install()
        _installed = True
        return True
