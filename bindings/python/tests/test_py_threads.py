"""Closing, cancelling and dropping objects from another thread while they run: the C object
must outlive the run (freed when it returns), cancel must never reach a freed object. The run
is held inside its progress callback while the other thread acts, so every case happens at a
known point of the run, not by timing. scripts/test.sh also runs this file with the library
built under AddressSanitizer and ThreadSanitizer, which report a use after free or a data race
that a normal build may survive."""

import gc
import threading

import pytest

from olive_py_support import (assert_same_outputs, check_model_file, mlp_feeds, mlp_model,
                              require_libolive, write)

libolive = require_libolive()
Event = libolive.ProgressEvent


@pytest.fixture
def src(tmp_path):
    return write(mlp_model(), tmp_path / "src")


def workflow_config(src, tmp_path):
    return {"input_model": {"type": "ONNXModel", "model_path": str(src)},
            "passes": {"p": {"type": "OnnxPeepholeOptimizer"}},
            "output_dir": str(tmp_path / "out"), "cache_dir": str(tmp_path / "cache")}


class HeldRun:
    """Runs `run()` on a thread and holds it inside its first PASS_STARTED report until
    release(); keeps what run() returned or raised."""

    def __init__(self, target, run):
        self.started = threading.Event()
        self._release = threading.Event()
        self.result = self.error = None
        target.on_progress(self._progress)
        self._thread = threading.Thread(target=self._main, args=(run,))

    def _progress(self, event, *rest):
        if event == Event.PASS_STARTED and not self.started.is_set():
            self.started.set()
            assert self._release.wait(60), "the test never released the run"

    def _main(self, run):
        try:
            self.result = run()
        except BaseException as exc:  # handed to the test
            self.error = exc

    def start(self):
        self._thread.start()
        assert self.started.wait(60), "the run never reported a pass"
        return self

    def finish(self):
        self._release.set()
        self._thread.join(60)
        assert not self._thread.is_alive()
        return self


def test_workflow_close_while_it_runs(src, tmp_path):
    w = libolive.Workflow(workflow_config(src, tmp_path))
    held = HeldRun(w, w.run).start()
    w.close()  # freed the C workflow under the run before the fix
    assert w.closed
    held.finish()
    assert held.error is None, held.error
    assert [s["cache"] for s in held.result["steps"]] == ["run"]
    out = tmp_path / "out" / "model.onnx"
    check_model_file(out)
    assert_same_outputs(src, out, mlp_feeds())
    with pytest.raises(ValueError, match="closed"):
        w.run()
    w.cancel()  # after the free: nothing to cancel, no crash


def test_workflow_cancel_from_another_thread_after_close(src, tmp_path):
    w = libolive.Workflow(workflow_config(src, tmp_path))
    held = HeldRun(w, w.run).start()
    w.close()
    w.cancel()  # still reaches the running workflow
    held.finish()
    assert isinstance(held.error, libolive.Cancelled), held.error
    assert not (tmp_path / "out").exists()


def test_workflow_dropped_while_it_runs(src, tmp_path):
    w = libolive.Workflow(workflow_config(src, tmp_path))
    held = HeldRun(w, w.run).start()
    del w  # the run keeps the workflow alive; it is collected afterwards
    gc.collect()
    held.finish()
    assert held.error is None, held.error
    check_model_file(tmp_path / "out" / "model.onnx")


def test_engine_and_model_closed_while_the_engine_runs(src, tmp_path):
    engine = libolive.Engine()
    engine.add_pipeline("peephole")
    model = libolive.Model.load(src)
    held = HeldRun(engine, lambda: engine.run(model, tmp_path / "out")).start()
    engine.close()  # used to raise RuntimeError; now released when the run returns
    model.close()
    assert engine.closed and model.closed
    held.finish()
    assert held.error is None, held.error
    with held.result as result:
        assert result.node_count > 0
        assert result.inputs == ["x", "mask"]
    check_model_file(tmp_path / "out" / "model.onnx")
    assert_same_outputs(src, tmp_path / "out" / "model.onnx", mlp_feeds())
    with pytest.raises(ValueError, match="closed"):
        engine.run(libolive.Model.load(tmp_path / "out" / "model.onnx"), tmp_path / "out2")


def test_cancel_from_many_threads_while_the_engine_is_closed(src, tmp_path):
    engine = libolive.Engine()
    engine.add_pipeline("peephole")
    with libolive.Model.load(src) as model:
        held = HeldRun(engine, lambda: engine.run(model, tmp_path / "out")).start()
        stop = threading.Event()
        calls = []

        def hammer():
            n = 0
            while not stop.is_set():
                engine.cancel()  # reads the handle under the lock, before and after the free
                n += 1
            calls.append(n)

        threads = [threading.Thread(target=hammer) for _ in range(4)]
        for t in threads:
            t.start()
        engine.close()
        held.finish()
        stop.set()
        for t in threads:
            t.join(60)
    assert len(calls) == 4 and all(n > 0 for n in calls)
    assert isinstance(held.error, libolive.Cancelled), held.error
    assert not (tmp_path / "out").exists()


def test_pass_closed_while_the_engine_holds_it(src, tmp_path):
    p = libolive.Pass("peephole")
    engine = libolive.Engine()
    engine.add_pass(p)
    p.close()  # the engine keeps its own reference
    (borrowed,) = engine.passes
    with libolive.Model.load(src) as model:
        held = HeldRun(engine, lambda: engine.run(model, tmp_path / "out")).start()
        assert borrowed.name == "peephole"
        engine.close()
        with pytest.raises(ValueError, match="closed"):
            borrowed.name  # the engine it belongs to is closed
        held.finish()
    assert held.error is None, held.error
    held.result.close()
    check_model_file(tmp_path / "out" / "model.onnx")
