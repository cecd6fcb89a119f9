"""What distilabel 1.5.3 does when a run fails, mended for our pipelines (see `runtime/`).

- `Pipeline._NoDaemonPool` (swapped only while a mended run lasts): a step's worker process
  that dies (segfault, OOM kill, SIGKILL) is replaced by the pool without a word and the
  pipeline waits forever. The watched pool logs the dead worker with its step and signal and
  stops the pipeline; if it has not ended 30 s later, the process exits anyway.
- `_StepWrapper._impute_step_outputs` / `_send_batch` (in the step's worker): a batch that fails
  in a normal step is passed on with None outputs and the run goes on; in the cache those rows
  then count as made. Here the run stops at the first failed batch (rows made so far stay in
  the cache; the failed batch is made again when the run is resumed).
- `Pipeline.run` / `RayPipeline.run`: a failed step, a bad `--param` or an unknown parameter
  name leave a run that ends with exit 0, or with several tracebacks. Here `--param` names and
  batch sizes are checked first, each step's `prepare_run(dag, parameters)` runs (our row
  sources and output folders), and every failure ends in one `PipelineFailed` line, printed as
  `error: ...` with exit 1 when nobody catches it.
- `Pipeline._error_callback`: records the failing step for that line; distilabel's graceful
  stop for offline batch generation ("run again later") is left alone.
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

from distilabel_magpie.errors import PipelineFailed, one_line
from distilabel_magpie.runtime import run_state, scope
from distilabel_magpie.runtime.run_state import MendedRun, current

GRACE_SECONDS = 30.0  # after a worker died: time for the pipeline to stop cleanly before a hard exit
_BATCH_FAILED = re.compile(r"Processing batch (\d+) with step '([^']+)' failed")


class _FailedBatchHandler(logging.Handler):
    """Counts the batches distilabel passed on with empty outputs after a step raised (where the
    failed-batch mend does not act: distilabel's own steps in a Ray actor)."""

    def __init__(self, run: MendedRun) -> None:
        super().__init__(level=logging.WARNING)
        self.run = run

    def emit(self, record: logging.LogRecord) -> None:
        match = _BATCH_FAILED.search(record.getMessage())
        if match:
            with self.run.lock:
                step = match.group(2)
                self.run.failed_batches[step] = self.run.failed_batches.get(step, 0) + 1


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
            watch = current()
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


def _stop_after_death(watch: MendedRun, step: str) -> None:
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


def _hard_exit(watch: MendedRun) -> None:
    if current() is not watch:
        return  # the run ended in time
    pool = getattr(watch.pipeline, "_pool", None)
    for worker in list(getattr(pool, "_started", [])):
        if worker.exitcode is None:
            try:
                os.kill(worker.pid, signal.SIGKILL)
            except OSError:
                pass
    for stop in watch.before_hard_exit:
        stop()
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

def prepare_steps(pipeline: Any, parameters: Optional[dict]) -> None:
    """Each step's own check or setup before a run (`prepare_run(dag, parameters)`, where a step
    of ours defines it), after the parameter names are checked."""
    dag = pipeline.dag
    for name in list(dag.G):
        prepare = getattr(dag.get_step(name)["step"], "prepare_run", None)
        if callable(prepare):
            prepare(dag, parameters or {})


_pool_swap_lock = threading.Lock()


def _guard_run(run: Any, watched_pool: Optional[type] = None) -> Any:
    @functools.wraps(run)
    def guarded(self, parameters=None, *args, **kwargs):
        if not scope.mended(self):
            return run(self, parameters, *args, **kwargs)
        from pydantic import ValidationError

        mended = run_state.start(self)
        handler = _FailedBatchHandler(mended)
        if len(args) < 7:  # `logging_handlers` not given positionally: add the failed-batch counter
            kwargs["logging_handlers"] = [*(kwargs.get("logging_handlers") or []), handler]
        local = sys.modules.get("distilabel.pipeline.local") if watched_pool is not None else None
        original_pool = getattr(local, "_NoDaemonPool", None)
        try:
            if local is not None:
                local._NoDaemonPool = watched_pool  # this run's workers are watched
            check_parameters(self, parameters)
            prepare_steps(self, parameters)  # e.g. an unwritable output_dir fails before any row is made
            distiset = run(self, parameters, *args, **kwargs)
        except PipelineFailed as e:
            mended.fail(str(e))
        except ValidationError as e:
            mended.fail(_validation_message(e, parameters))
        except Exception as e:  # noqa: BLE001 - becomes the run's one-line error
            if not mended.failures:  # e.g. "Failed to load all the steps": the cause is already recorded
                mended.fail(one_line(e.__cause__ if isinstance(e.__cause__, Exception) else e))
        finally:
            if local is not None:
                local._NoDaemonPool = original_pool
            run_state.end(mended)
        if mended.failures or mended.failed_batches:
            from distilabel.utils.logging import stop_logging

            stop_logging()  # flush the log before the error line
            _print_one_line_on_exit()
            raise PipelineFailed(mended.summary())
        return distiset

    guarded._magpie_wrapped = run
    return guarded


def _record_error_callback(callback: Any) -> Any:
    @functools.wraps(callback)
    def recorded(self, e: BaseException) -> None:
        mended = current()
        if mended is not None and not _graceful_stop(e):
            step = getattr(getattr(e, "step", None), "name", None)
            cause = getattr(e, "subprocess_exception", None) or e
            what = "failed to load" if getattr(e, "is_load_error", False) else "failed"
            mended.fail(f"step '{step}' {what}: {one_line(cause)}" if step else one_line(cause))
            trace = getattr(e, "formatted_traceback", None)
            if trace and not getattr(e, "is_load_error", False) and hasattr(self, "_logger"):
                path = _keep_traceback(self, trace)
                line = f"❌ Step '{step}' failed: {one_line(cause)}" + (f" (traceback in {path})" if path else "")
                quiet = _TracebackOffConsole(self._logger, line)
                self._logger.addFilter(quiet)
                try:
                    return callback(self, e)
                finally:
                    self._logger.removeFilter(quiet)
        return callback(self, e)

    recorded._magpie_wrapped = callback
    return recorded


def _keep_traceback(pipeline: Any, trace: str) -> Optional[Path]:
    """The subprocess traceback, appended to traceback.txt beside the run's pipeline.log."""
    try:
        path = Path(pipeline._cache_location["log_file"]).with_name("traceback.txt")
        with path.open("a") as fh:
            fh.write(trace + "\n")
        return path
    except (AttributeError, KeyError, OSError, TypeError):
        return None


class _TracebackOffConsole(logging.Filter):
    """distilabel logs a failed step's whole subprocess traceback at ERROR, above our one-line
    error (and calls a normal step a "global step"): the traceback goes to a file and shows at
    DEBUG only; the headline becomes one line with the cause and where the traceback is."""

    def __init__(self, logger: logging.Logger, line: str) -> None:
        super().__init__()
        self.logger, self.line = logger, line

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith("Subprocess traceback"):
            if not self.logger.isEnabledFor(logging.DEBUG):
                return False
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        elif message.startswith("An error occurred in global step"):
            record.msg, record.args = self.line, ()
        return True


def _graceful_stop(e: BaseException) -> bool:
    """distilabel's "offline batch jobs submitted, run again later": a stop, not a failure."""
    from distilabel.exceptions import DistilabelOfflineBatchGenerationNotFinishedException

    return isinstance(getattr(e, "subprocess_exception", None), DistilabelOfflineBatchGenerationNotFinishedException)


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


# -- failed batches (in the step's worker) ------------------------------------------------------

def _mends_worker(wrapper: Any) -> bool:
    """In a forked worker the mended run is inherited; a Ray actor has none, and there the mend
    acts for our own steps."""
    return current() is not None or (scope.is_ours(wrapper.step) and not scope.switched_off())


def _stop_instead(impute: Any, exception_class: type) -> Any:
    @functools.wraps(impute)
    def stop_instead(self, batch) -> Any:
        if not _mends_worker(self):
            return impute(self, batch)
        error = sys.exc_info()[1]  # called by distilabel inside `except Exception`
        self._magpie_failed_batch = batch
        self.step._logger.error(f"❌ Batch {batch.seq_no} failed in step '{self.step.name}': {one_line(error)}; "
                                "stopping the pipeline (its rows are made again when the run is resumed)")
        self.step.unload()
        self._notify_unload()
        failure = exception_class(str(error), self.step, 2, error)
        failure._magpie_unloaded = True
        raise failure from error

    stop_instead._magpie_wrapped = impute
    return stop_instead


def _send_unless_failed(send: Any) -> Any:
    @functools.wraps(send)
    def send_unless_failed(self, batch) -> None:
        if getattr(self, "_magpie_failed_batch", None) is batch:
            return  # distilabel's `finally` would send it, emptied
        send(self, batch)

    send_unless_failed._magpie_wrapped = send
    return send_unless_failed


def install() -> None:
    """Patch distilabel's local pipeline and step wrapper (called once by `runtime.install`)."""
    from distilabel.pipeline import local, step_wrapper

    local.Pipeline.run = _guard_run(local.Pipeline.run, _watched_pool_class(local))
    local.Pipeline._error_callback = _record_error_callback(local.Pipeline._error_callback)
    wrapper = step_wrapper._StepWrapper
    wrapper._impute_step_outputs = _stop_instead(wrapper._impute_step_outputs, step_wrapper._StepWrapperException)
    wrapper._send_batch = _send_unless_failed(wrapper._send_batch)
