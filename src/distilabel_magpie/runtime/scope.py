"""Which runs the mends act on: the opt-out, our own steps, and the pipelines that hold them."""

from __future__ import annotations

import os
from typing import Any

OPT_OUT_ENV = "DISTILABEL_MAGPIE_RUNTIME"
_OFF_VALUES = ("off", "0", "false", "no")
_ALL = "all"


def switched_off() -> bool:
    """Whether the user asked for distilabel's own behaviour (`DISTILABEL_MAGPIE_RUNTIME=off`)."""
    return os.environ.get(OPT_OUT_ENV, "").strip().lower() in _OFF_VALUES


def is_ours(step: Any) -> bool:
    """A step defined by this package."""
    return type(step).__module__.startswith("distilabel_magpie.")


def mended(pipeline: Any) -> bool:
    """Whether a run of `pipeline` is to be mended: it holds one of our steps or was marked by
    `runtime.enable` (or `DISTILABEL_MAGPIE_RUNTIME=all`), and the user did not switch it off."""
    if switched_off():
        return False
    if getattr(pipeline, "_magpie_runtime", False) or os.environ.get(OPT_OUT_ENV, "").strip().lower() == _ALL:
        return True
    dag = pipeline.dag
    return any(is_ours(dag.get_step(name)["step"]) for name in dag.G)
