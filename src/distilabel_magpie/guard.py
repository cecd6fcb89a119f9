"""What distilabel 1.5.3 gets wrong when a run fails, mended in one place.

- A step's worker process that dies (segfault, OOM kill, SIGKILL) is replaced by its pool
  without a word and the pipeline waits forever. Here the pool watches its workers: a dead one
  is logged with its step and signal, the pipeline is stopped, and if it has not ended 30 s
  later the process exits anyway.
- On Ray (`RayPipeline`) nobody looks at a step's actor after starting it: an actor that dies
  or a step that raises leaves the run waiting forever. Here each actor's run is watched: a
  dead actor or a failed step ends the run the same way, naming the step and replica.
- A batch that fails in a normal step is passed on by distilabel with empty (None) outputs and
  the run goes on; in the cache those rows then count as made. Here the run stops at the first
  failed batch instead (the rows made so far stay in the cache, the failed batch is made again
  when the run is resumed).
- A failed step (load error, failed generator or global step, a failed batch), a bad `--param`
  or an unknown parameter name leave a run that ends with exit 0, or with several tracebacks.
  Here every such run ends with one line, `error: ...`, and a non-zero exit (the exception is
  a `PipelineFailed`, a `MagpieError`, so Python callers can catch it).

Installed as soon as distilabel's pipeline modules are imported (see `install_on_import`), in
the main process and so in every forked worker and Ray actor that loads our steps.
"""

from __future__ import annotations

import difflib
import functools
import logging
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Optional

from distilabel_magpie.errors import MagpieError

GRACE_SECONDS = 30.0  # after a worker died: time for the pipeline to stop cleanly before a hard exit
_BATCH_FAILED = re.compile(r"Processing batch (\d+) with step '([^']+)' failed")


class PipelineFailed(MagpieError):
    """A pipeline run that did not do what it was asked; the message is one line."""


class _RunWatch:
    """Failures of one `Pipeline.run`, in the order they happened."""

    def __init__(self, pipeline: Any) -> None:
        self.pipeline = pipeline
        self.failures: list[str] = []
        self.failed_batches: dict[str, int] = {}
        self.lock = threading.Lock()
        self.handler = _FailedBatchHandler(self)
        self.ray_runs: list = []  # (ObjectRef of the actor's run, step, label) on RayPipeline

    def fail(self, message: str) -> None:
        with self.lock:
            if message not in self.failures:
                self.failures.append(message)

    def summary(self) -> str:
        parts = list(self.failures)
        for step, n in self.failed_batches.items():
            parts.append(f"step '{step}' failed on {n} batch{'es' if n > 1 else ''} (its rows were passed on "
                         "with empty outputs; see the log above)")
        return f"pipeline '{self.pipeline.name}' failed: " + "; ".join(parts)


class _FailedBatchHandler(logging.Handler):
    """Counts the batches distilabel passed on with empty outputs after a step raised."""

    def __init__(self, watch: _RunWatch) -> None:
        super().__init__(level=logging.WARNING)
        self.watch = watch

    def emit(self, record: logging.LogRecord) -> None:
        match = _BATCH_FAILED.search(record.getMessage())
        if match:
            with self.watch.lock:
                step = match.group(2)
                self.watch.failed_batches[step] = self.watch.failed_batches.get(step, 0) + 1


_current: Optional[_RunWatch] = None


def one_line(error: BaseException) -> str:
    """An exception as one line: our own messages as they are, others with their type."""
    if isinstance(error, MagpieError):
        return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    text = next((line.strip() for line in str(error).splitlines() if line.strip()), "")
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


# -- worker processes ----------------------------------------------------------------------

def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            sig = signal.Signals(-code)
        except ValueError:
            return f"was killed by signal {-code}"
        hint = {signal.SIGSEGV: " (a crash in native code)", signal.SIGKILL: " (killed from outside, often by the "
                "kernel's out-of-memory killer)", signal.SIGBUS: " (a crash in native code)",
                signal.SIGABRT: " (aborted by native code)"}.get(sig, "")
        return f"was killed by {sig.name}{hint}"
    return f"exited with status {code}"


class _Tagged:
    """Runs a pool task after noting, in a file named by the worker's pid, which step it runs."""

    def __init__(self, func: Any, folder: str, label: str) -> None:
        self.func, self.folder, self.label = func, folder, label

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        Path(self.folder, str(os.getpid())).write_text(self.label, encoding="utf-8")
        return self.func(*args, **kwargs)


def _watched_pool_class(local_module: Any) -> type:
    """distilabel's `_NoDaemonPool` (non-daemon workers), watching its workers."""
    from multiprocessing.pool import Pool

    process_base, context_base = local_module._NoDaemonProcess, local_module._NoDaemonContext

    class WatchedPool(Pool):
        def __init__(self, processes=None, initializer=None, initargs=(), maxtasksperchild=None) -> None:
            self._started: list = []
            self._labels = tempfile.mkdtemp(prefix="magpie-workers-")
            self._closing = False
            self._reported: set[int] = set()
            started = self._started

            class Process(process_base):
                def start(self) -> None:
                    super().start()
                    started.append(self)

            class Context(context_base):
                pass

            Context.Process = Process
            super().__init__(processes=processes, initializer=initializer, initargs=initargs,
                             maxtasksperchild=maxtasksperchild, context=Context())
            self._watcher = threading.Thread(target=self._watch, name="magpie-worker-watch", daemon=True)
            self._watcher.start()

        def apply_async(self, func, args=(), kwds={}, callback=None, error_callback=None):  # noqa: B006
            wrapper = getattr(func, "__self__", None)
            step = getattr(getattr(wrapper, "step", None), "name", None)
            label = f"step '{step}' (replica {getattr(wrapper, 'replica', 0)})" if step else "a pipeline task"
            return super().apply_async(_Tagged(func, self._labels, f"{step or ''}\n{label}"), args, kwds,
                                       callback, error_callback)

        def _watch(self) -> None:
            while not self._closing:
                for worker in list(self._started):
                    code = worker.exitcode
                    if code not in (None, 0) and worker.pid not in self._reported and not self._closing:
                        self._reported.add(worker.pid)
                        self._died(worker.pid, code)
                time.sleep(0.5)

        def _died(self, pid: int, code: int) -> None:
            try:
                step, label = Path(self._labels, str(pid)).read_text(encoding="utf-8").split("\n", 1)
            except OSError:
                step, label = "", "an idle pipeline worker"
            message = f"{label} died: its worker process (pid {pid}) {_describe_exit(code)}"
            watch = _current
            if watch is None:
                return
            watch.fail(message)
            watch.pipeline._logger.error(f"❌ {message}; stopping the pipeline")
            threading.Thread(target=_stop_after_death, args=(watch, step), daemon=True).start()

        def terminate(self) -> None:
            self._closing = True
            super().terminate()
            shutil.rmtree(self._labels, ignore_errors=True)

        def close(self) -> None:
            self._closing = True
            super().close()

    return WatchedPool


def _stop_after_death(watch: _RunWatch, step: str) -> None:
    """Unblock distilabel's waits on the dead step, stop the run, and exit if it still hangs."""
    from distilabel.pipeline import base as pipeline_base

    pipeline = watch.pipeline
    timer = threading.Timer(GRACE_SECONDS, _hard_exit, args=(watch,))
    timer.daemon = True
    timer.start()
    if step:
        with pipeline._steps_load_status_lock:
            status = pipeline._steps_load_status.get(step)
            if status == pipeline_base._STEP_NOT_LOADED_CODE:  # died while loading: a load failure
                pipeline._steps_load_status[step] = pipeline_base._STEP_LOAD_FAILED_CODE
            elif status is not None and status > 1:
                pipeline._steps_load_status[step] = status - 1
            elif status is not None:
                pipeline._steps_load_status[step] = pipeline_base._STEP_UNLOADED_CODE
    pipeline._stop()


def _hard_exit(watch: _RunWatch) -> None:
    if _current is not watch:
        return  # the run ended in time
    pool = getattr(watch.pipeline, "_pool", None)
    for worker in list(getattr(pool, "_started", [])):
        if worker.exitcode is None:
            try:
                os.kill(worker.pid, signal.SIGKILL)
            except OSError:
                pass
    if watch.ray_runs:
        _kill_ray_actors(watch)
    sys.stdout.flush()
    print(f"error: {watch.summary()} (it did not stop within {GRACE_SECONDS:.0f} s)", file=sys.stderr, flush=True)
    os._exit(1)


# -- parameters ------------------------------------------------------------------------------

def check_parameters(pipeline: Any, parameters: Optional[dict]) -> None:
    """Refuse unknown steps and parameter names (distilabel only warns and runs on), and batch
    sizes below 1 on any step (distilabel's fields: a generator with batch_size=0 sends empty
    batches forever)."""
    parameters = parameters or {}
    steps = list(pipeline.dag.G)
    for step_name, values in parameters.items():
        if step_name not in steps:
            raise PipelineFailed(f"--param names step '{step_name}', which is not in pipeline '{pipeline.name}'; "
                                 f"its steps: {', '.join(steps)}")
        step = pipeline.dag.get_step(step_name)["step"]
        _check_names(step_name, values, step.runtime_parameters_names)
    for step_name in steps:
        step = pipeline.dag.get_step(step_name)["step"]
        for field in ("batch_size", "input_batch_size"):
            value = (parameters.get(step_name) or {}).get(field, getattr(step, field, None))
            try:
                too_small = value is not None and int(value) < 1
            except (TypeError, ValueError):
                continue  # not a number: pydantic says so when the value is set
            if too_small:
                raise PipelineFailed(f"{step_name}.{field} must be at least 1, got {value}")


def _check_names(prefix: str, values: Any, expected: dict) -> None:
    if not isinstance(values, dict):
        raise PipelineFailed(f"--param {prefix} needs a field name after it: {prefix}.<field>=value, "
                             f"with <field> one of {', '.join(expected)}")
    for name, value in values.items():
        if name not in expected:
            close = difflib.get_close_matches(name, list(expected), n=1, cutoff=0.5)
            hint = f"did you mean '{prefix}.{close[0]}'?" if close else f"known: {', '.join(sorted(expected))}"
            raise PipelineFailed(f"unknown runtime parameter '{prefix}.{name}'; {hint}")
        if isinstance(expected[name], dict):
            _check_names(f"{prefix}.{name}", value, expected[name])


def _validation_message(error: Any, parameters: Optional[dict]) -> str:
    """A pydantic error on a runtime parameter, named the way the user wrote it."""
    parts = []
    for item in error.errors():
        field = ".".join(str(x) for x in item.get("loc", ()))
        path = _find_parameter(parameters or {}, field.split(".")[-1], item.get("input")) or field
        parts.append(f"invalid value {item.get('input')!r} for {path}: {item.get('msg')}")
    return "; ".join(parts) or one_line(error)


def _find_parameter(tree: dict, name: str, value: Any, prefix: str = "") -> Optional[str]:
    for key, sub in tree.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(sub, dict):
            found = _find_parameter(sub, name, value, path)
            if found:
                return found
        elif key == name and (sub == value or str(sub) == str(value)):
            return path
    return None


# -- the run ---------------------------------------------------------------------------------

def _guard_run(run: Any) -> Any:
    @functools.wraps(run)
    def guarded(self, parameters=None, *args, **kwargs):
        global _current
        from pydantic import ValidationError

        from distilabel_magpie.generation.rows import feed_row_sources
        from distilabel_magpie.save import check_pipeline_outputs

        watch = _RunWatch(self)
        if len(args) < 7:  # `logging_handlers` not given positionally: add the failed-batch counter
            kwargs["logging_handlers"] = [*(kwargs.get("logging_handlers") or []), watch.handler]
        _current = watch
        try:
            check_parameters(self, parameters)
            check_pipeline_outputs(self, parameters)  # an unwritable output_dir fails before any row is made
            feed_row_sources(self, parameters)
            distiset = run(self, parameters, *args, **kwargs)
        except PipelineFailed as e:
            watch.fail(str(e))
        except ValidationError as e:
            watch.fail(_validation_message(e, parameters))
        except Exception as e:  # noqa: BLE001 - becomes the run's one-line error
            if not watch.failures:  # e.g. "Failed to load all the steps": the cause is already recorded
                watch.fail(one_line(e.__cause__ if isinstance(e.__cause__, Exception) else e))
        finally:
            _current = None
        if watch.failures or watch.failed_batches:
            from distilabel.utils.logging import stop_logging

            stop_logging()  # flush the log before the error line
            _print_one_line_on_exit()
            raise PipelineFailed(watch.summary())
        return distiset

    guarded._magpie_guarded = True
    return guarded


def _record_error_callback(callback: Any) -> Any:
    @functools.wraps(callback)
    def recorded(self, e: BaseException) -> None:
        watch = _current
        if watch is not None:
            step = getattr(getattr(e, "step", None), "name", None)
            cause = getattr(e, "subprocess_exception", None) or e
            what = "failed to load" if getattr(e, "is_load_error", False) else "failed"
            watch.fail(f"step '{step}' {what}: {one_line(cause)}" if step else one_line(cause))
        return callback(self, e)

    return recorded


def _print_one_line_on_exit() -> None:
    """When `PipelineFailed` is not caught, print its message alone (no traceback) and exit 1.
    Set at failure time so it wins over hooks installed earlier (typer's pretty tracebacks)."""
    previous = sys.excepthook

    def hook(kind, value, tb):
        if isinstance(value, PipelineFailed):
            sys.stdout.flush()
            print(f"error: {value}", file=sys.stderr, flush=True)
        else:
            previous(kind, value, tb)

    sys.excepthook = hook


def install(local_module: Any) -> None:
    """Patch distilabel's local pipeline module (idempotent)."""
    pipeline = local_module.Pipeline
    if getattr(pipeline.run, "_magpie_guarded", False):
        return
    local_module._NoDaemonPool = _watched_pool_class(local_module)
    pipeline.run = _guard_run(pipeline.run)
    pipeline._error_callback = _record_error_callback(pipeline._error_callback)


# -- Ray ---------------------------------------------------------------------------------------

def _watch_ray_run(run_step: Any) -> Any:
    """`RayPipeline._run_step`, keeping the ObjectRef of the actor's `run` call (distilabel drops it)."""
    @functools.wraps(run_step)
    def watched(self, step, input_queue, replica) -> None:
        import ray.actor

        refs = []
        remote = ray.actor.ActorMethod.remote

        def keep(method, *args, **kwargs):
            ref = remote(method, *args, **kwargs)
            if getattr(method, "_method_name", None) == "run":
                refs.append(ref)
            return ref

        ray.actor.ActorMethod.remote = keep  # only while this step's actor is started
        try:
            run_step(self, step, input_queue, replica)
        finally:
            ray.actor.ActorMethod.remote = remote
        watch = _current
        if watch is not None:
            with watch.lock:
                first = not watch.ray_runs
                watch.ray_runs += [(ref, step.name, f"step '{step.name}' (replica {replica})") for ref in refs]
            if first:
                threading.Thread(target=_watch_ray_actors, args=(watch,), name="magpie-actor-watch",
                                 daemon=True).start()

    return watched


def _watch_ray_actors(watch: _RunWatch) -> None:
    """Until the run ends: a step's actor whose run ended with an error (the actor died, or the
    step raised) stops the run with one line."""
    import ray
    from distilabel.pipeline.step_wrapper import _StepWrapperException

    done: set = set()
    while _current is watch:
        with watch.lock:
            pending = [r for r in watch.ray_runs if r[0] not in done]
        if not pending:
            time.sleep(0.5)
            continue
        ready, _ = ray.wait([r[0] for r in pending], num_returns=1, timeout=0.5)
        for ref, step, label in pending:
            if ref not in ready:
                continue
            done.add(ref)
            try:
                ray.get(ref, timeout=5)
            except ray.exceptions.RayActorError as e:
                message = f"{label} died: its Ray actor {_first_line(e)}"
                watch.fail(message)
                watch.pipeline._logger.error(f"❌ {message}; stopping the pipeline")
                threading.Thread(target=_stop_after_death, args=(watch, step), daemon=True).start()
            except Exception as e:  # noqa: BLE001 - the step's own error, raised in its actor
                cause = e if isinstance(e, _StepWrapperException) else getattr(e, "cause", e)
                if getattr(cause, "is_load_error", False):
                    continue  # distilabel saw the load failure through its load queue
                inner = getattr(cause, "subprocess_exception", None) or cause
                watch.fail(f"step '{step}' failed: {one_line(inner)}")
                if getattr(cause, "_magpie_unloaded", False):  # our failed-batch stop: unload was notified
                    threading.Thread(target=watch.pipeline._stop, daemon=True).start()
                else:
                    threading.Thread(target=_stop_after_death, args=(watch, step), daemon=True).start()


def _first_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    if "exit" in text.lower() or "killed" in text.lower() or "SIG" in text:
        return text[:300]
    return f"is gone ({type(error).__name__}: {text[:300]})"


def _kill_ray_actors(watch: _RunWatch) -> None:
    try:
        import ray

        for name in {f"distilabel-{watch.pipeline.name}-{step}" for _, step, _ in watch.ray_runs}:
            for actor in ray.util.list_named_actors(all_namespaces=False):
                if actor.startswith(name):
                    ray.kill(ray.get_actor(actor))
    except Exception:  # noqa: BLE001 - best effort before a hard exit
        pass


def install_ray(ray_module: Any) -> None:
    """Patch distilabel's Ray pipeline module (idempotent)."""
    pipeline = ray_module.RayPipeline
    if getattr(pipeline.run, "_magpie_guarded", False):
        return
    pipeline.run = _guard_run(pipeline.run)
    pipeline._run_step = _watch_ray_run(pipeline._run_step)


# -- failed batches ----------------------------------------------------------------------------

def install_step_wrapper(module: Any) -> None:
    """A batch that fails in a normal step stops the run instead of going on with None outputs
    (which a resumed run would take as made). Runs inside each step's worker (idempotent)."""
    wrapper = module._StepWrapper
    if getattr(wrapper._impute_step_outputs, "_magpie_patched", False):
        return
    send = wrapper._send_batch

    def stop_instead(self, batch) -> Any:
        error = sys.exc_info()[1]  # called by distilabel inside `except Exception`
        self._magpie_failed_batch = batch
        self.step._logger.error(f"❌ Batch {batch.seq_no} failed in step '{self.step.name}': {one_line(error)}; "
                                "stopping the pipeline (its rows are made again when the run is resumed)")
        self.step.unload()
        self._notify_unload()
        failure = module._StepWrapperException(str(error), self.step, 2, error)
        failure._magpie_unloaded = True
        raise failure from error

    def send_unless_failed(self, batch) -> None:
        if getattr(self, "_magpie_failed_batch", None) is batch:
            return  # distilabel's `finally` would send it, emptied
        send(self, batch)

    stop_instead._magpie_patched = True
    wrapper._impute_step_outputs = stop_instead
    wrapper._send_batch = send_unless_failed


def install_on_import() -> None:
    from distilabel_magpie.patching import after_import

    after_import("distilabel.pipeline.local", install)
    after_import("distilabel.pipeline.ray", install_ray)
    after_import("distilabel.pipeline.step_wrapper", install_step_wrapper)
