"""`UsesRuntime`: the base of every step of this package. Building one inside a pipeline
installs the run-time mends (once per process); so does loading one in a worker, for a Ray
actor, which unpickles our steps without building them. The mends then act on runs of
pipelines that hold our steps (see `runtime/__init__.py`)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class UsesRuntime(BaseModel):
    def model_post_init(self, __context: Any) -> None:
        super().model_post_init(__context)
        if getattr(self, "pipeline", None) is not None:
            from distilabel_magpie.runtime import install

            install()

    def load(self) -> None:
        from distilabel_magpie.runtime import install

        install()
        super().load()
