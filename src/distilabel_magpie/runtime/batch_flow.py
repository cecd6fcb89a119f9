"""What distilabel 1.5.3's batch bookkeeping needs so that replicas and resumed runs give every
row exactly once. Each gap was seen here; each is mended in the function named after it.

- `_held_last_batch`: a replicated step's last batch (the one built last) can come back before
  batches other replicas are still working on. distilabel then takes the step as finished: a
  global step after it starts without those rows, and the other replicas never get their stop
  flag, so the run waits for them forever. Here the last-batch flag moves to the batch that
  really comes back last, and then every replica gets its stop flag.
- `_track_sent` / `_cache_in_flight`: a batch sent to a normal or global step is taken out of
  the cached buffers when it is sent; after a SIGKILL, a batch a step was working on is in no
  cache and its rows are never made. Here every batch sent to a non-generator step is
  remembered until its output comes back and saved with the cache as a batch to send again (a
  generator restarts from its last batch received anyway).
- `_atomic`: cache files are written in place; a kill during a write leaves a truncated JSON
  file the next run cannot read. Here they are written to a temporary name and renamed.
- `_chained_signature`: a step's cached outputs are looked up by its own settings only, so a
  step whose upstream changed (another model, other sampling) reused outputs made from the old
  upstream, e.g. a `FinalizeRows` or `SaveDataset` handing on the previous run's rows. Here a
  step's signature includes those of the steps before it.
- `_complete_reuse_only`: outputs of an unchanged step from another run are reused even when
  that run was killed halfway (the step is then taken as done with part of its rows). Here such
  reuse happens only when the cached outputs are complete; otherwise the run starts afresh.
- `_consumed_batches_dropped`: a resumed step's buffers are refilled from its predecessors'
  cached outputs from the batch it last read from, even when it read all of that batch (as it
  does whenever its input batch size is the predecessor's batch size, as in every pipeline
  here): an empty batch then heads the buffer with a sequence number below the one expected
  next, no batch is ever built again and the resumed run waits forever. And an output batch
  whose file was written just before the kill but which the batch manager had not recorded as
  received is loaded too, while it is also asked for (or made) again: the same rows twice, or
  again a wait forever. Here, after loading, only batches recorded as received and not yet read
  stay in the buffers.
- `_skip_finished_stages`: a run whose first load stages are all cached (a run killed in its
  last stage, started again with a setting of that stage changed, e.g. another output_dir)
  loads nothing in stage 0, so no batch ever arrives to move it to the next stage: the run
  waits forever. Here such stages are passed over before the first stage is loaded.
- `_quiet_stage_wait`: waiting for a stage to finish spins a core while holding the lock that
  stopping the run needs. Here it checks ten times a second and lets go of the lock in between.
  The one copy of a distilabel method here (there is nothing to wrap: the spin is the method);
  `COPIED_SOURCES` holds the hash of the 1.5.3 source it copies, and a test fails when it changes.

A changed configuration therefore never resumes into a mixed dataset: the signatures make it a
new run, and `FinalizeRows` refuses any row set that is not 0..num_rows-1, once each.
Every mend acts only inside a mended run (`run_state.current()`); otherwise it calls through.
"""

from __future__ import annotations

import functools
import hashlib
import os
import time
from pathlib import Path
from typing import Any

from distilabel_magpie.runtime.run_state import current


def _step(pipeline: Any, name: str) -> Any:
    from distilabel import constants

    return pipeline.dag.get_step(name)[constants.STEP_ATTR_NAME]


# -- batches in flight -------------------------------------------------------------------------

def _track_sent(send: Any) -> Any:
    @functools.wraps(send)
    def tracked(self, batch) -> None:
        mended = current()
        if mended is not None and self._batch_manager is not None and not _step(self, batch.step_name).is_generator:
            # a copy before the data may go to the filesystem (global steps), where the step deletes it
            mended.in_flight.setdefault(batch.step_name, {})[batch.seq_no] = batch.copy()
        return send(self, batch)

    return tracked


def _track_received(register: Any) -> Any:
    @functools.wraps(register)
    def tracked(self, batch) -> None:
        mended = current()
        if mended is not None:
            mended.in_flight.get(batch.step_name, {}).pop(batch.seq_no, None)
        return register(self, batch)

    return tracked


def _cache_in_flight(cache: Any) -> Any:
    @functools.wraps(cache)
    def with_in_flight(self, path, steps_data_path) -> None:
        mended = current()
        if mended is None:
            return cache(self, path, steps_data_path)
        added = []
        for step_name, batches in mended.in_flight.items():
            step = self._steps.get(step_name)
            if step is None:
                continue
            queued = {b.seq_no for b in step.built_batches}  # a graceful stop put them back already
            for seq_no in sorted(batches):
                if seq_no not in queued:
                    step.built_batches.append(batches[seq_no])
                    added.append((step, batches[seq_no]))
        try:
            cache(self, path, steps_data_path)
        finally:
            for step, batch in added:
                step.built_batches.remove(batch)

    return with_in_flight


# -- replicated steps --------------------------------------------------------------------------

def _held_last_batch(process: Any) -> Any:
    @functools.wraps(process)
    def in_order(self, batch, send_last_batch_flag: bool = True) -> None:
        mended, name = current(), batch.step_name
        replicated = (mended is not None and self._batch_manager is not None and _step(self, name).is_normal
                      and self.dag.get_step_replica_count(name) > 1)
        if replicated:
            others = set(mended.in_flight.get(name, {})) - {batch.seq_no}
            if batch.last_batch and others:
                batch.last_batch = False  # not last yet: other replicas still work on earlier batches
                mended.held_last.add(name)
            elif name in mended.held_last and not others:
                batch.last_batch = True
                mended.held_last.discard(name)
        process(self, batch, send_last_batch_flag)
        if replicated and batch.last_batch and self._is_step_running(name):
            self._send_last_batch_flag_to_step(name)  # the replicas still waiting for input stop

    return in_order


def _skip_finished_stages(initialize: Any) -> Any:
    @functools.wraps(initialize)
    def skipping(self) -> bool:
        if current() is not None:
            _, last_steps = self._get_steps_load_stages()
            while self._current_stage + 1 < len(last_steps) and not self._steps_to_be_loaded_in_stage(
                    self._current_stage):
                self._logger.info(f"⏭️ Stage {self._current_stage}: every step's outputs are cached")
                self._stages_last_batch[self._current_stage] = sorted(last_steps[self._current_stage])
                self._current_stage += 1
        return initialize(self)

    return skipping


def _quiet_stage_wait(wait: Any) -> Any:
    from distilabel.pipeline.base import _STEP_UNLOADED_CODE

    @functools.wraps(wait)
    def quiet(self) -> None:
        if current() is None:
            return wait(self)
        stage = self._current_stage
        steps = self._steps_to_be_loaded_in_stage(stage)
        self._logger.info(f"⏳ Waiting for stage {stage} to finish...")
        while True:
            with self._stop_called_lock:
                if self._stop_called:
                    return
                if all(r == _STEP_UNLOADED_CODE for r in self._get_steps_load_status(steps).values()):
                    self._logger.info(f"✅ Stage {stage} has finished!")
                    return
            time.sleep(0.1)

    return quiet


# -- cache keys --------------------------------------------------------------------------------

def _chained_signature(signature: property) -> property:
    own = signature.fget

    def chained(self) -> str:
        mended = current()
        upstream = mended.upstream.get(self.name) if mended is not None else None
        if not upstream:
            return own(self)
        return hashlib.sha1(f"{own(self)}|{upstream}".encode()).hexdigest()

    chained._magpie_wrapped = own
    return property(chained)


def _link_upstream(method: Any) -> Any:
    """After the run's settings are set (and after the DAG is reloaded from the cache), note for
    each step the signatures of its predecessors, in topological order so that each of those is
    chained already (kept in the mended run by step name: steps lose their pipeline when they run)."""
    @functools.wraps(method)
    def linked(self, *args, **kwargs) -> Any:
        result = method(self, *args, **kwargs)
        mended = current()
        if mended is None:
            return result
        import networkx as nx

        mended.upstream.clear()
        for name in nx.topological_sort(self.dag.G):
            mended.upstream[name] = "|".join(_step(self, p).signature
                                             for p in sorted(self.dag.get_step_predecessors(name)))
        return result

    linked._magpie_wrapped = method
    return linked


def _complete_reuse_only(from_dag: Any) -> Any:
    """`_BatchManager.from_dag` (a classmethod's function), reusing other runs' step outputs only
    when they are complete: batches 0..last, the last one flagged as such."""
    @functools.wraps(from_dag)
    def checked(cls, dag, use_cache: bool = False, steps_data_path=None):
        if current() is not None and use_cache and steps_data_path is not None:
            from distilabel import constants

            for name in dag:
                step = dag.get_step(name)[constants.STEP_ATTR_NAME]
                if not _outputs_complete(Path(steps_data_path) / f"{name}_{step.signature}"):
                    use_cache = False
                    break
        return from_dag(cls, dag, use_cache, steps_data_path)

    return checked


def _consumed_batches_dropped(load_from_cache: Any) -> Any:
    """`_BatchManager.load_from_cache` (a classmethod's function), without the batches each step
    had already read all of."""
    @functools.wraps(load_from_cache)
    def dropped(cls, dag, batch_manager_path, steps_data_path):
        manager = load_from_cache(cls, dag, batch_manager_path, steps_data_path)
        if current() is None:
            return manager
        received = {name: set(seq_nos) for name, seq_nos in manager._received_batch_seq_nos.items()}
        for step in manager._steps.values():
            for predecessor, batches in step.data.items():
                expected = step.next_expected_seq_no.get(predecessor, (0, 0))[0]
                step.data[predecessor] = [b for b in batches
                                          if b.seq_no >= expected and b.seq_no in received.get(predecessor, ())]
        return manager

    return dropped


def _outputs_complete(folder: Path) -> bool:
    """No cached outputs there, or all of them (a run killed halfway leaves a part)."""
    if not folder.is_dir():
        return True
    seq_nos = sorted(int(p.stem.split("_")[-1]) for p in folder.glob("batch_*.json"))
    if not seq_nos:
        return True
    if seq_nos != list(range(len(seq_nos))):
        return False
    import json

    try:
        return bool(json.loads((folder / f"batch_{seq_nos[-1]}.json").read_text()).get("last_batch"))
    except (OSError, ValueError):
        return False


# -- cache files -------------------------------------------------------------------------------

def _atomic(write: Any) -> Any:
    @functools.wraps(write)
    def atomic(filename, data) -> None:
        if current() is None:
            return write(filename, data)
        filename = Path(filename)
        tmp = filename.with_name(f".{filename.name}.{os.getpid()}.tmp")
        write(tmp, data)
        os.replace(tmp, filename)

    return atomic


# -- installation ------------------------------------------------------------------------------

# sha256 of the distilabel 1.5.3 source of each method copied here rather than wrapped.
COPIED_SOURCES = {
    "distilabel.pipeline.base.BasePipeline._wait_current_stage_to_finish":
        "a9a6edd3026fc61464d0da2fc9208767af1f032a0bf98047de2d15495153cd65",
}


def install() -> None:
    """Patch distilabel's batch bookkeeping (called once by `runtime.install`)."""
    from distilabel.pipeline import base, batch_manager
    from distilabel.steps import base as steps_base
    from distilabel.utils import serialization

    for name in ("write_json", "write_yaml"):
        setattr(serialization, name, _atomic(getattr(serialization, name)))
    steps_base._Step.signature = _chained_signature(steps_base._Step.signature)
    manager = batch_manager._BatchManager
    manager.cache = _cache_in_flight(manager.cache)
    manager.from_dag = classmethod(_complete_reuse_only(manager.from_dag.__func__))
    manager.load_from_cache = classmethod(_consumed_batches_dropped(manager.load_from_cache.__func__))
    pipeline = base.BasePipeline
    pipeline._send_batch_to_step = _track_sent(pipeline._send_batch_to_step)
    pipeline._register_batch = _track_received(pipeline._register_batch)
    pipeline._process_batch = _held_last_batch(pipeline._process_batch)
    pipeline._wait_current_stage_to_finish = _quiet_stage_wait(pipeline._wait_current_stage_to_finish)
    pipeline._initialize_pipeline_execution = _skip_finished_stages(pipeline._initialize_pipeline_execution)
    pipeline._set_runtime_parameters = _link_upstream(pipeline._set_runtime_parameters)
    pipeline._refresh_pipeline_from_cache = _link_upstream(pipeline._refresh_pipeline_from_cache)
