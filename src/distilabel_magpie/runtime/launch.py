"""`distilabel-magpie run CONFIG [--ray] [--replicas N] [--param step.field=value ...]`: one of
our pipeline YAMLs on distilabel's local `Pipeline`, or on its `RayPipeline`.

With `--ray` the run joins the cluster at `RAY_ADDRESS` when that is set (`ray start --head` on
one node, `ray start --address=HEAD:6379` on the others); otherwise it starts a small local
cluster on loopback for the run and stops it afterwards. `--replicas N` runs each generation
step (a normal step with an LLM) N times. Without `--ignore-cache` a run that was killed
resumes from distilabel's cache; run it with the same arguments.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence

from distilabel_magpie.errors import MagpieError, one_line

# Ray binds a local cluster to the machine's network address unless told it runs on one
# machine only (its switch for macOS/Windows, honoured on Linux too).
_LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def parse_params(items: Sequence[str]) -> Dict[str, Any]:
    """`["magpie_sft.num_rows=24", "magpie_sft.llm.base_url=http://h:8000/v1"]` as distilabel's
    `pipeline run --param` parses them: nested by the dots of the name, values as given (text),
    except that a value in JSON brackets (`[...]`, `{...}`) is parsed as JSON, for the list and
    mapping parameters (`magpie_sft.system_prompt=["You are a chef.", "You are a tutor."]`)."""
    params: Dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        keys = name.strip().split(".")
        if not sep or len(keys) < 2 or not all(keys):
            raise MagpieError(f"--param {item!r} must look like step.field=value (e.g. magpie_sft.num_rows=24)")
        node = params
        for key in keys[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise MagpieError(f"--param {item!r} sets a field inside {key!r}, which another --param sets")
        node[keys[-1]] = _json_value(item, value)
    return params


def _json_value(item: str, value: str) -> Any:
    text = value.strip()
    if not (text.startswith("[") and text.endswith("]") or text.startswith("{") and text.endswith("}")):
        return value
    import json

    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise MagpieError(f"--param {item!r}: the value in brackets is not valid JSON ({e.msg})") from None


def generation_steps(pipeline: Any) -> List[str]:
    """Normal steps that call an LLM: the ones `--replicas` runs several times."""
    names = []
    for name in pipeline.dag:
        step = pipeline.dag.get_step(name)["step"]
        if step.is_normal and getattr(step, "llm", None) is not None:
            names.append(name)
    return names


def load_pipeline(config: str) -> Any:
    from distilabel.pipeline import Pipeline

    path = Path(config)
    if not path.is_file():
        raise MagpieError(f"{config} is not a file; give a pipeline YAML such as pipelines/magpie-sft.yaml")
    try:
        return Pipeline.from_yaml(path)
    except Exception as e:  # noqa: BLE001 - a YAML that is not a distilabel pipeline
        raise MagpieError(f"{config} is not a distilabel pipeline YAML ({one_line(e)})") from None


def check_run(pipeline: Any, params: Dict[str, Any]) -> None:
    """What a run of `pipeline` with `params` would refuse before loading anything: unknown step
    or parameter names, batch sizes below 1, values a step's field does not take (a one-line
    MagpieError). Sets the values on `pipeline`'s steps, as a run does."""
    from pydantic import ValidationError

    from distilabel_magpie.errors import PipelineFailed
    from distilabel_magpie.runtime.guard import _validation_message, check_parameters

    try:
        check_parameters(pipeline, params)
        pipeline._set_runtime_parameters(params)
    except PipelineFailed as e:  # bad input here, not a failed run
        raise MagpieError(str(e)) from None
    except ValidationError as e:
        raise MagpieError(_validation_message(e, params)) from None


def run(config: str, params: Dict[str, Any], *, use_ray: bool = False, replicas: Optional[int] = None,
        use_cache: bool = True, ray_cpus: Optional[int] = None) -> Any:
    """Run the pipeline in `config`; returns distilabel's `Distiset`. A failed run raises
    `PipelineFailed` (one line)."""
    pipeline = load_pipeline(config)
    if replicas is not None:
        if replicas < 1:
            raise MagpieError(f"--replicas must be at least 1, got {replicas}")
        steps = generation_steps(pipeline)
        if not steps:
            raise MagpieError(f"{config} has no normal generation step to replicate")
        for name in steps:
            params.setdefault(name, {}).setdefault("resources", {})["replicas"] = replicas
    if not use_ray:
        return pipeline.run(parameters=params, use_cache=use_cache)
    from distilabel_magpie.runtime.progress import RUN_KEY_ENV, RunWatcher

    # Ray actors' output stays in their logs: they count under a key given here (the processes of
    # a local cluster inherit it), and this process prints the summed progress lines.
    key = os.environ[RUN_KEY_ENV] = f"{pipeline.name}-ray-{os.getpid()}"
    try:
        with ray_cluster(ray_cpus):
            watcher = RunWatcher(key).start()
            try:
                return pipeline.ray().run(parameters=params, use_cache=use_cache)
            finally:
                watcher.stop()
    finally:
        os.environ.pop(RUN_KEY_ENV, None)  # later runs in this process count under their own key


@contextlib.contextmanager
def ray_cluster(num_cpus: Optional[int] = None) -> Iterator[str]:
    """Connected to Ray for the block: the cluster at `RAY_ADDRESS`, or a local one on loopback
    (no dashboard, a small object store) that is stopped at the end. Yields the address."""
    address = os.environ.get("RAY_ADDRESS")
    saved = os.environ.get(_LOOPBACK_ENV)
    if not address:
        os.environ[_LOOPBACK_ENV] = "0"  # read when Ray is imported, and by the processes it starts
    try:
        import ray
        from ray._private import ray_constants
    except ImportError:
        raise MagpieError("--ray needs Ray: pip install 'distilabel-magpie[ray]'") from None
    if not address:
        ray_constants.ENABLE_RAY_CLUSTER = False  # Ray was imported before (e.g. by distilabel)
    if address:
        try:
            ray.init(address=address, log_to_driver=False)
        except Exception as e:  # noqa: BLE001 - nothing there, wrong version, ...
            raise MagpieError(f"cannot join the Ray cluster at RAY_ADDRESS={address} ({one_line(e)})") from None
        try:
            yield address
        finally:
            ray.shutdown()  # disconnects; the cluster stays up
        return
    try:
        context = ray.init(num_cpus=num_cpus or os.cpu_count() or 1, include_dashboard=False,
                           object_store_memory=256 * 1024**2, log_to_driver=False)
        try:
            yield context.address_info.get("gcs_address", "local")
        finally:
            ray.shutdown()  # stops the processes this run started
    finally:
        if saved is None:
            os.environ.pop(_LOOPBACK_ENV, None)
        else:
            os.environ[_LOOPBACK_ENV] = saved
