"""Each runtime mend on a synthetic distilabel object: that it acts inside a mended run and calls
distilabel's own code outside one. (The end-to-end tests run them in real pipelines.)"""

from __future__ import annotations

import json
import os
import queue
import signal
import threading
import time
from types import SimpleNamespace

import pytest
from distilabel.pipeline import Pipeline
from distilabel.pipeline.batch import _Batch
from distilabel.pipeline.batch_manager import _BatchManager
from distilabel.pipeline.step_wrapper import _StepWrapper, _StepWrapperException
from distilabel.steps import LoadDataFromDicts, Step, StepInput

from distilabel_magpie import runtime
from distilabel_magpie.errors import PipelineFailed
from distilabel_magpie.runtime import batch_flow, guard, ray_watch, run_state

assert runtime.install(), "the mends must install on the pinned distilabel"


class Adds(Step):
    factor: int = 1

    @property
    def inputs(self):
        return ["a"]

    @property
    def outputs(self):
        return ["b"]

    def process(self, inputs: StepInput):
        yield [{**row, "b": row["a"] * self.factor} for row in inputs]


class Fails(Adds):
    def process(self, inputs: StepInput):
        raise RuntimeError("boom")
        yield  # a generator, as distilabel's steps are


def _pipeline(factor: int = 1) -> Pipeline:
    with Pipeline(name="synthetic") as pipeline:
        load = LoadDataFromDicts(name="load", data=[{"a": 1}, {"a": 2}])
        add = Adds(name="add", factor=factor)
        last = Adds(name="last")
        load >> add >> last
    return pipeline


@pytest.fixture
def mended():
    """A mended run in progress (what `Pipeline.run` of one of our pipelines starts)."""
    run = run_state.start(_pipeline())
    yield run
    run_state.end(run)


# -- failed batches ----------------------------------------------------------------------------

def _wrapper(step: Step) -> tuple[_StepWrapper, queue.Queue]:
    out = queue.Queue()
    step.load()
    return _StepWrapper(step=step, replica=0, input_queue=queue.Queue(), output_queue=out,
                        load_queue=queue.Queue()), out


def _one_batch(wrapper: _StepWrapper, step_name: str) -> None:
    batch = _Batch(seq_no=0, step_name=step_name, last_batch=True, data=[[{"a": 1}]])
    wrapper.input_queue.put(batch)
    wrapper._non_generator_process_loop()


def test_a_failed_batch_stops_a_mended_run_and_is_not_sent(mended):
    with Pipeline(name="p"):
        step = Fails(name="fails")
    wrapper, out = _wrapper(step)
    with pytest.raises(_StepWrapperException) as raised:
        _one_batch(wrapper, "fails")
    assert raised.value._magpie_unloaded and "boom" in str(raised.value)
    assert out.empty()  # never passed on as made
    assert wrapper.load_queue.get_nowait() == {"name": "fails", "status": "unloaded"}


def test_outside_a_mended_run_a_failed_batch_is_passed_on_as_distilabel_documents():
    with Pipeline(name="p"):
        step = Fails(name="fails")
    wrapper, out = _wrapper(step)
    _one_batch(wrapper, "fails")
    assert out.get_nowait().data == [[{"a": 1, "b": None}]]


def test_the_step_run_notes_its_error_for_the_ray_watch(mended):
    wrapper = SimpleNamespace(step=Adds(name="x"), _magpie_run_error=None)

    def run(self):
        raise _StepWrapperException("failed", self.step, 2, ValueError("no model"))

    with pytest.raises(_StepWrapperException):
        ray_watch._noting_errors(run)(wrapper)
    assert wrapper._magpie_run_error == {"message": "ValueError: no model", "load": False, "unloaded": False}
    actor = SimpleNamespace(_step_wrapper=wrapper)
    assert ray_watch._run_error(actor) == wrapper._magpie_run_error


# -- errors and parameters -----------------------------------------------------------------------

def test_the_error_callback_records_failures_but_not_offline_batch_stops(mended):
    from distilabel.exceptions import DistilabelOfflineBatchGenerationNotFinishedException

    seen = []
    callback = guard._record_error_callback(lambda self, e: seen.append(e))
    step = Adds(name="add")
    offline = _StepWrapperException("pending", step, 2, DistilabelOfflineBatchGenerationNotFinishedException(
        jobs_ids=["job-1"]))
    callback(None, offline)
    assert mended.failures == [] and seen == [offline]  # distilabel's graceful stop, untouched
    callback(None, _StepWrapperException("x", step, 2, RuntimeError("boom")))
    assert mended.failures == ["step 'add' failed: RuntimeError: boom"]


def test_a_failed_steps_traceback_goes_to_a_file_not_the_console(mended, tmp_path, caplog):
    """distilabel logs the subprocess traceback at ERROR under a "global step" headline: in our
    runs it goes to traceback.txt beside pipeline.log, and the headline is the cause in one line."""
    import logging
    from types import SimpleNamespace

    def distilabels_callback(self, e):  # what distilabel's _error_callback logs for a failed normal step
        self._logger.error("An error occurred in global step 'add'")
        self._logger.error(f"Subprocess traceback:\n\n{e.formatted_traceback}")

    pipeline = SimpleNamespace(_logger=logging.getLogger("distilabel.pipeline.test"),
                               _cache_location={"log_file": tmp_path / "pipeline.log"})
    error = _StepWrapperException("x", Adds(name="add"), 2, RuntimeError("boom"))
    error.formatted_traceback = "Traceback (most recent call last):\n  ...\nRuntimeError: boom"
    with caplog.at_level(logging.INFO, logger="distilabel.pipeline.test"):
        guard._record_error_callback(distilabels_callback)(pipeline, error)
    assert [r.getMessage() for r in caplog.records if r.name == "distilabel.pipeline.test"] == [
        f"❌ Step 'add' failed: RuntimeError: boom (traceback in {tmp_path / 'traceback.txt'})"]
    assert "RuntimeError: boom" in (tmp_path / "traceback.txt").read_text()
    assert mended.failures == ["step 'add' failed: RuntimeError: boom"]


def test_unknown_parameters_are_refused_with_a_suggestion():
    pipeline = _pipeline()
    with pytest.raises(PipelineFailed, match=r"unknown runtime parameter 'add.input_bach_size'; did you mean "
                                             r"'add.input_batch_size'\?"):
        guard.check_parameters(pipeline, {"add": {"input_bach_size": 2}})
    with pytest.raises(PipelineFailed, match="names step 'nope'"):
        guard.check_parameters(pipeline, {"nope": {"x": 1}})
    with pytest.raises(PipelineFailed, match="add.input_batch_size must be at least 1, got 0"):
        guard.check_parameters(pipeline, {"add": {"input_batch_size": 0}})


# -- dead workers --------------------------------------------------------------------------------

def _sleep() -> None:
    time.sleep(60)


def test_a_killed_pool_worker_is_reported_with_its_step_and_stops_the_run(monkeypatch):
    from distilabel.pipeline import local

    stopped = threading.Event()
    pipeline = SimpleNamespace(name="synthetic", _logger=SimpleNamespace(error=lambda m: None),
                               _steps_load_status_lock=threading.Lock(), _steps_load_status={"add": 1},
                               _stop=stopped.set)
    run = run_state.start(pipeline)
    monkeypatch.setattr(guard, "GRACE_SECONDS", 600.0)
    pool = guard._watched_pool_class(local)(1)
    try:
        pool.apply_async(_Task("add").run)
        pid = _worker_pid(pool)
        os.kill(pid, signal.SIGKILL)
        assert stopped.wait(30), "the pipeline was not stopped"
        assert run.failures == [f"step 'add' (replica 0) died: its worker process (pid {pid}) was killed by SIGKILL "
                                "(killed from outside, often by the kernel's out-of-memory killer)"]
        from distilabel.pipeline.base import _STEP_UNLOADED_CODE

        assert pipeline._steps_load_status["add"] == _STEP_UNLOADED_CODE  # distilabel stops waiting for it
    finally:
        run_state.end(run)
        pool.terminate()


class _Task:
    """Stands for a `_StepWrapper`: the pool reads the step and replica of a bound `run`."""

    def __init__(self, step: str) -> None:
        self.step, self.replica = SimpleNamespace(name=step), 0

    def run(self) -> None:
        _sleep()


def _worker_pid(pool, timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        labels = [p for p in os.listdir(pool._labels)]
        if labels:
            return int(labels[0])
        time.sleep(0.1)
    raise AssertionError("the worker never started the task")


# -- batch bookkeeping ---------------------------------------------------------------------------

def test_chained_signatures_follow_the_upstream_only_in_a_mended_run():
    base, changed = _pipeline(factor=1), _pipeline(factor=2)
    own = [base.dag.get_step("last")["step"].signature, changed.dag.get_step("last")["step"].signature]
    assert own[0] == own[1]  # distilabel: `last` itself did not change
    chained = []
    for pipeline in (base, changed):
        run = run_state.start(pipeline)
        try:
            pipeline._set_runtime_parameters({})
            chained.append(pipeline.dag.get_step("last")["step"].signature)
        finally:
            run_state.end(run)
    assert chained[0] != chained[1]  # its upstream did
    assert base.dag.get_step("last")["step"].signature == own[0]  # outside the run: distilabel's own


def test_batches_in_flight_are_cached_to_be_sent_again(mended, tmp_path):
    pipeline = mended.pipeline
    manager = _BatchManager.from_dag(pipeline.dag)
    pipeline._batch_manager = manager
    batch = _Batch(seq_no=0, step_name="add", last_batch=False, data=[[{"a": 1}]])
    batch_flow._track_sent(lambda self, b: None)(pipeline, batch)
    assert 0 in mended.in_flight["add"]
    manager.cache(tmp_path / "manager.yaml", tmp_path / "steps")
    cached = list((tmp_path / "batch_manager_steps" / "add" / "built_batches").glob("batch_0_*.json"))
    assert len(cached) == 1 and json.loads(cached[0].read_text())["data"] == [[{"a": 1}]]
    assert manager._steps["add"].built_batches == []  # the live manager is left as it was
    batch_flow._track_received(lambda self, b: None)(pipeline, batch)
    assert mended.in_flight["add"] == {}


def test_a_replicated_steps_last_batch_waits_for_the_other_replicas(mended):
    sent_flags, processed = [], []
    fake = SimpleNamespace(_batch_manager=object(), dag=SimpleNamespace(get_step_replica_count=lambda n: 2),
                           _is_step_running=lambda n: True, _send_last_batch_flag_to_step=sent_flags.append)
    fake.dag.get_step = lambda name: {"step": SimpleNamespace(is_normal=True)}
    mended.in_flight["add"] = {0: "batch 0", 1: "batch 1"}
    process = batch_flow._held_last_batch(lambda self, b, flag=True: processed.append((b.seq_no, b.last_batch)))
    del mended.in_flight["add"][1]
    process(fake, SimpleNamespace(step_name="add", seq_no=1, last_batch=True))  # back before batch 0
    del mended.in_flight["add"][0]
    process(fake, SimpleNamespace(step_name="add", seq_no=0, last_batch=False))
    assert processed == [(1, False), (0, True)] and sent_flags == ["add"]


def test_only_complete_cached_outputs_are_reused(tmp_path):
    folder = tmp_path / "step_sig"
    assert batch_flow._outputs_complete(folder)  # nothing cached
    folder.mkdir()
    (folder / "batch_0.json").write_text(json.dumps({"last_batch": False}))
    assert not batch_flow._outputs_complete(folder)  # killed before the last batch
    (folder / "batch_2.json").write_text(json.dumps({"last_batch": True}))
    assert not batch_flow._outputs_complete(folder)  # a gap
    (folder / "batch_1.json").write_text(json.dumps({"last_batch": False}))
    assert batch_flow._outputs_complete(folder)


def test_cache_files_are_replaced_whole_in_a_mended_run(mended, tmp_path):
    target = tmp_path / "cache.json"
    target.write_text("old")

    def dies_halfway(filename, data):
        with open(filename, "w") as f:
            f.write("{\"trunc")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        batch_flow._atomic(dies_halfway)(target, {})
    assert target.read_text() == "old"


def test_the_stage_wait_lets_go_of_the_lock_and_ends_on_stop(mended):
    from distilabel.pipeline.base import _STEP_UNLOADED_CODE

    statuses = {"add": 1}
    fake = SimpleNamespace(_current_stage=0, _stop_called=False, _stop_called_lock=threading.Lock(),
                           _logger=SimpleNamespace(info=lambda m: None),
                           _steps_to_be_loaded_in_stage=lambda stage: ["add"],
                           _get_steps_load_status=lambda steps: dict(statuses))
    wait = batch_flow._quiet_stage_wait(lambda self: pytest.fail("distilabel's spin must not run"))
    waiter = threading.Thread(target=wait, args=(fake,))
    waiter.start()
    time.sleep(0.3)
    assert fake._stop_called_lock.acquire(timeout=1)  # free while it waits
    statuses["add"] = _STEP_UNLOADED_CODE
    fake._stop_called_lock.release()
    waiter.join(5)
    assert not waiter.is_alive()


def test_cached_first_stages_are_passed_over(mended):
    fake = SimpleNamespace(_current_stage=0, _stages_last_batch=[[], [], []], _logger=SimpleNamespace(info=print),
                           _get_steps_load_stages=lambda: ([["a", "b"], ["c"], ["d"]], [["b"], ["c"], ["d"]]),
                           _steps_to_be_loaded_in_stage=lambda stage: [[], [], ["d"]][stage])
    initialize = batch_flow._skip_finished_stages(lambda self: self._current_stage)
    assert initialize(fake) == 2 and fake._stages_last_batch == [["b"], ["c"], []]
    run_state.end(mended)
    fake._current_stage = 0
    assert initialize(fake) == 0  # outside a mended run: distilabel's own start


def test_a_resumed_step_keeps_only_batches_received_and_not_yet_read(mended):
    manager = _BatchManager.from_dag(mended.pipeline.dag)
    step = manager._steps["add"]
    step.data["load"] = [_Batch(seq_no=n, step_name="load", last_batch=n == 2, data=[[{"a": n}]]) for n in range(3)]
    step.next_expected_seq_no["load"] = (1, 1)  # batch 0 was read all
    manager._received_batch_seq_nos["load"] = [0, 1]  # batch 2's file was written, never recorded
    loaded = batch_flow._consumed_batches_dropped(lambda cls, dag, a, b: manager)(None, None, None, None)
    assert [b.seq_no for b in loaded._steps["add"].data["load"]] == [1]
