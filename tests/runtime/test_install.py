"""When the runtime mends are installed, on which runs they act, and how a user keeps
distilabel's own behaviour. Each case runs in a fresh interpreter: installing patches classes
for the whole process."""

from __future__ import annotations

import hashlib
import inspect
import os
import subprocess
import sys
import textwrap

import pytest

from distilabel_magpie.runtime import batch_flow


def _python(*parts: str, **env: str) -> subprocess.CompletedProcess:
    code = "\n".join(textwrap.dedent(part) for part in parts)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **env})


UNPATCHED = """
    import distilabel.pipeline.local as local, distilabel.pipeline.step_wrapper as sw
    from distilabel.pipeline.base import BasePipeline
    from distilabel.steps.base import _Step
    assert local._NoDaemonPool.__module__ == "distilabel.pipeline.local", local._NoDaemonPool
    for f in (local.Pipeline.run, local.Pipeline._error_callback, sw._StepWrapper._impute_step_outputs,
              sw._StepWrapper.run, BasePipeline._process_batch, _Step.signature.fget):
        assert not hasattr(f, "_magpie_wrapped"), f
"""


def test_importing_the_package_its_templates_engines_and_steps_patches_nothing():
    done = _python("""
        import distilabel_magpie, distilabel_magpie.templates, distilabel_magpie.engines
        import distilabel_magpie.pipelines, distilabel_magpie.output.save, distilabel_magpie.review
        from distilabel_magpie.generation import MagpieSFTStep, RowIndices
        from distilabel_magpie import runtime
        step = RowIndices(name="rows", num_rows=2)  # built outside any pipeline
        assert not runtime.installed()
    """, UNPATCHED)
    assert done.returncode == 0, done.stderr


def test_building_one_of_our_pipelines_installs_the_mends_once():
    done = _python("""
        from distilabel_magpie import runtime
        from distilabel_magpie.pipelines import build_sft_pipeline as magpie_sft
        p = magpie_sft(num_rows=2)
        assert runtime.installed() and runtime.applies_to(p)
        import distilabel.pipeline.local as local
        run = local.Pipeline.run
        magpie_sft(num_rows=2)
        assert local.Pipeline.run is run  # not wrapped twice
        assert local._NoDaemonPool.__module__ == "distilabel.pipeline.local"  # swapped only during a run
        from distilabel.pipeline import Pipeline
        from distilabel.steps import LoadDataFromDicts
        with Pipeline(name="users-own") as own:
            LoadDataFromDicts(data=[{"a": 1}])
        assert not runtime.applies_to(own)  # a pipeline without our steps: distilabel's behaviour
        assert runtime.applies_to(runtime.enable(own))
    """)
    assert done.returncode == 0, done.stderr


def test_loading_a_pipeline_yaml_installs_the_mends(tmp_path):
    done = _python("""
        from distilabel.pipeline import Pipeline
        from distilabel_magpie import runtime
        p = Pipeline.from_yaml("pipelines/magpie-sft.yaml")
        assert runtime.installed() and runtime.applies_to(p)
    """)
    assert done.returncode == 0, done.stderr


def test_the_opt_out_keeps_distilabels_behaviour():
    done = _python("""
        from distilabel_magpie import runtime
        from distilabel_magpie.pipelines import build_sft_pipeline as magpie_sft
        p = magpie_sft(num_rows=2)
        assert not runtime.installed() and not runtime.applies_to(p)
    """, UNPATCHED, DISTILABEL_MAGPIE_RUNTIME="off")
    assert done.returncode == 0, done.stderr


def test_another_distilabel_version_is_not_patched_and_said_once():
    done = _python("""
        import distilabel
        distilabel.__version__ = "1.6.0"
        from distilabel_magpie import runtime
        from distilabel_magpie.pipelines import build_sft_pipeline as magpie_sft
        magpie_sft(num_rows=2)
        magpie_sft(num_rows=2)
        assert not runtime.installed()
    """, UNPATCHED)
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("were written for distilabel 1.5.3, found 1.6.0") == 1, done.stderr


@pytest.mark.parametrize("name,digest", sorted(batch_flow.COPIED_SOURCES.items()))
def test_each_copied_distilabel_method_is_the_source_it_was_copied_from(name, digest):
    """A mend that had to copy a private distilabel method: the copy is valid only while that
    source is unchanged (re-check the mend against the new source, then update the digest)."""
    import importlib

    module, cls, method = name.rsplit(".", 2)
    func = getattr(getattr(importlib.import_module(module), cls), method)
    func = getattr(func, "__wrapped__", func)  # the original if the mends are installed here
    assert hashlib.sha256(inspect.getsource(func).encode()).hexdigest() == digest


@pytest.mark.e2e
def test_our_pipeline_runs_without_the_mends_when_switched_off(tmp_path):
    """`distilabel pipeline run --config` on our YAML with the runtime off: distilabel's own run
    machinery, our steps unchanged (num_rows set in the YAML, as the runtime no longer copies it)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    config = tmp_path / "sft.yaml"
    config.write_text((root / "pipelines" / "magpie-sft.yaml").read_text().replace("num_rows: 100", "num_rows: 4"))
    done = subprocess.run(
        [str(Path(sys.executable).parent / "distilabel"), "pipeline", "run", "--config", str(config), "--ignore-cache",
         "--param", "magpie_sft.max_new_tokens=16", "--param", "magpie_sft.response_max_new_tokens=16",
         "--param", f"save_dataset.output_dir={tmp_path / 'out'}",
         "--param", "magpie_sft.no_such_field=1"],  # mended: refused; distilabel alone: a warning
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
        env={**os.environ, "DISTILABEL_MAGPIE_RUNTIME": "off", "DISTILABEL_CACHE_DIR": str(tmp_path / "cache")})
    assert done.returncode == 0, done.stderr[-3000:]
    rows = (tmp_path / "out" / "data.jsonl").read_text().splitlines()
    assert len(rows) == 4
