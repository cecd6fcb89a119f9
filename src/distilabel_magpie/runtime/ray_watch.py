"""`RayPipeline` (distilabel 1.5.3) never looks at a step's actor after starting it: an actor
that dies or a step that raises leaves the run waiting forever. Mended for our pipelines:

- `RayPipeline.run` is guarded like the local one (`guard.py`).
- `RayPipeline._run_step`: after distilabel starts the actor, the actor is looked up by the
  name distilabel gives it and one more call is queued on it (`__ray_call__`, which runs after
  the step's `run` has returned, since an actor runs one call at a time). That call answers the
  error the step's run ended with (`_StepWrapper.run` notes it in the actor), or fails with
  `RayActorError` when the actor died. Either ends the run with one line naming the step and
  replica; nothing of Ray itself is patched.
"""

from __future__ import annotations

import functools
import threading
import time
from typing import Any, Optional

from distilabel_magpie.errors import one_line
from distilabel_magpie.runtime.run_state import MendedRun, current

_ERROR = "_magpie_run_error"  # attribute of the _StepWrapper in the actor: how its run ended


def _run_error(actor_instance: Any) -> Optional[dict]:
    """Runs inside the actor (`__ray_call__`): the error the step's run ended with, if any."""
    return getattr(getattr(actor_instance, "_step_wrapper", None), _ERROR, None)


def _noting_errors(run: Any) -> Any:
    """`_StepWrapper.run`, noting the error it ends with (read by `_run_error`)."""
    @functools.wraps(run)
    def noting(self) -> str:
        try:
            return run(self)
        except Exception as e:
            from distilabel_magpie.runtime.guard import _mends_worker

            if _mends_worker(self):
                cause = getattr(e, "subprocess_exception", None) or e
                setattr(self, _ERROR, {"message": one_line(cause), "load": bool(getattr(e, "is_load_error", False)),
                                       "unloaded": bool(getattr(e, "_magpie_unloaded", False))})
            raise

    noting._magpie_wrapped = run
    return noting


def _watch_run_step(run_step: Any) -> Any:
    @functools.wraps(run_step)
    def watched(self, step, input_queue, replica) -> None:
        run_step(self, step, input_queue, replica)
        mended = current()
        if mended is None:
            return
        import ray

        actor = ray.get_actor(f"distilabel-{self.name}-{step.name}-{replica}")
        ref = actor.__ray_call__.remote(_run_error)
        with mended.lock:
            first = not mended.ray_runs
            mended.ray_runs.append((ref, step.name, f"step '{step.name}' (replica {replica})"))
        if first:
            mended.before_hard_exit.append(functools.partial(kill_actors, mended))
            threading.Thread(target=_watch_actors, args=(mended,), name="magpie-actor-watch", daemon=True).start()

    watched._magpie_wrapped = run_step
    return watched


def _watch_actors(mended: MendedRun) -> None:
    """Until the run ends: a step's actor that died, or whose run ended with an error, stops the
    run with one line."""
    import ray

    from distilabel_magpie.runtime.guard import _stop_after_death

    done: set = set()
    while current() is mended:
        with mended.lock:
            pending = [r for r in mended.ray_runs if r[0] not in done]
        if not pending:
            time.sleep(0.5)
            continue
        ready, _ = ray.wait([r[0] for r in pending], num_returns=1, timeout=0.5)
        for ref, step, label in pending:
            if ref not in ready:
                continue
            done.add(ref)
            try:
                error = ray.get(ref, timeout=5)
            except ray.exceptions.RayActorError as e:
                message = f"{label} died: its Ray actor {_describe(e)}"
                mended.fail(message)
                mended.pipeline._logger.error(f"❌ {message}; stopping the pipeline")
                threading.Thread(target=_stop_after_death, args=(mended, step), daemon=True).start()
                continue
            except Exception:  # noqa: BLE001 - the actor answered nothing readable; distilabel's flow decides
                continue
            if not error or error["load"]:
                continue  # finished, or a load failure distilabel saw through its load queue
            mended.fail(f"step '{step}' failed: {error['message']}")
            if error["unloaded"]:  # our failed-batch stop: the unload was notified already
                threading.Thread(target=mended.pipeline._stop, daemon=True).start()
            else:
                threading.Thread(target=_stop_after_death, args=(mended, step), daemon=True).start()


def _describe(error: BaseException) -> str:
    """Ray's multi-paragraph actor error as its first sentence and the actor's pid."""
    import re

    text = " ".join(str(error).split())
    first = text.split(". ")[0].rstrip(".")[:200] or type(error).__name__
    pid = re.search(r"\bpid: (\d+)", text)
    return f"is gone ({first}{f'; pid {pid.group(1)}' if pid else ''})"


def kill_actors(mended: MendedRun) -> None:
    """Before a hard exit: the run's step actors (best effort)."""
    try:
        import ray

        prefixes = {f"distilabel-{mended.pipeline.name}-{step}-" for _, step, _ in mended.ray_runs}
        for name in ray.util.list_named_actors(all_namespaces=False):
            if any(name.startswith(p) for p in prefixes):
                ray.kill(ray.get_actor(name))
    except Exception:  # noqa: BLE001 - best effort before a hard exit
        pass


def install() -> None:
    """Patch distilabel's Ray pipeline, where Ray is installed (called once by `runtime.install`)."""
    from distilabel.pipeline import step_wrapper

    from distilabel_magpie.runtime.guard import _guard_run

    wrapper = step_wrapper._StepWrapper
    wrapper.run = _noting_errors(wrapper.run)
    try:
        from distilabel.pipeline import ray as ray_pipeline
    except ImportError:
        return
    pipeline = ray_pipeline.RayPipeline
    pipeline.run = _guard_run(pipeline.run)
    pipeline._run_step = _watch_run_step(pipeline._run_step)
